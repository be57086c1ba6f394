// cube/problems/problem.h: the problem axis of the cube.
//
// A Problem is constructed from its parameters, then generate(seed) draws its data (all
// randomness comes from the seed; data generation is never timed). Solvers read the data through
// capability interfaces (BinaryDataset, ...) and return predictions; the problem scores them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/registry.h"

namespace cube {

// What the labels of a BinaryDataset are, and so what a right prediction is.
enum class LabelKind {
  kSign,     // y in {-1,+1}; a prediction of 0 ("no answer") is always wrong
  kBit,      // y in {0,1} (sparse AND)
  kInteger,  // y an integer in [-n, n] (sparse sum); right when equal to the rounded prediction
};

// Capability: supervised learning over x in {-1,+1}^n with small integer labels (kSign for
// parity-like rules). Matrices are row-major, one sample per row, n_bits columns.
struct BinaryDataset {
  LabelKind label_kind = LabelKind::kSign;
  std::int64_t n_bits = 0;
  std::int64_t n_train = 0;
  std::int64_t n_test = 0;
  std::vector<std::int8_t> x_train;  // n_train x n_bits, entries -1 or +1
  std::vector<std::int8_t> y_train;  // n_train labels (see label_kind)
  std::vector<std::int8_t> x_test;   // n_test x n_bits
  std::vector<std::int8_t> y_test;   // n_test

  const std::int8_t* train_row(std::int64_t i) const { return x_train.data() + i * n_bits; }
  const std::int8_t* test_row(std::int64_t i) const { return x_test.data() + i * n_bits; }
};

struct DallyTask;    // problems/dally/dally_problems.h: explicit-address IR tasks
struct QueryOracle;  // problems/oracle/query_oracle.h: membership queries (KM)
struct CharCorpus;   // problems/char_corpus.h: character language-model data (char_lm)

class Problem : public Module {
 public:
  // Draws data (and any hidden rule) from `seed`. Deterministic.
  virtual void generate(std::uint64_t seed) = 0;

  // Capabilities; nullptr when the problem does not offer one.
  virtual const BinaryDataset* binary_dataset() const { return nullptr; }
  virtual const DallyTask* dally_task() const { return nullptr; }
  virtual const QueryOracle* query_oracle() const { return nullptr; }
  virtual const CharCorpus* char_corpus() const { return nullptr; }

  // The hidden rule's relevant indices when the problem has one (tests only; solvers never call
  // it). Sorted ascending.
  virtual std::optional<std::vector<int>> secret() const { return std::nullopt; }

  // Whether the hidden rule can be recovered exactly from the data (true for noiseless parity;
  // problems say otherwise in their header). Reported, never used to score.
  virtual bool secret_recoverable() const { return secret().has_value(); }

  // Whether accuracy() applies (problems scored by a loss, such as char_lm, return false).
  virtual bool scores_predictions() const {
    return binary_dataset() != nullptr || dally_task() != nullptr || query_oracle() != nullptr;
  }

  // Fraction of test samples whose prediction equals the label (for kSign labels a prediction
  // of 0 is wrong). Precondition: predictions.size() == number of test samples.
  virtual double accuracy(std::span<const std::int8_t> test_predictions) const;
};

template <>
struct AxisName<Problem> {
  static constexpr const char* value = "problem";
};

using ProblemRegistry = Registry<Problem>;

// The registered problem a spec string names ("sparse_parity(n=20,k=3)"), generated for `seed`:
// step 1 of a job (experiments/runner.h) for tests, benches and tools. Throws ConfigError for an
// unknown name or a bad parameter.
std::unique_ptr<Problem> make_problem(const std::string& spec, std::uint64_t seed);

}  // namespace cube
