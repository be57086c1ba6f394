// cube/problems/sparse_parity/sparse_family.h: the relatives of sparse parity (sparse-parity.md
// §1.2): sparse sum, sparse AND, majority, threshold and noisy parity.
//
// What: every member draws its hidden set S (|S| = k) and its inputs x in {-1,+1}^n exactly as
// sparse_parity does (sparse_parity.h; the same seed gives the same S, x_train and x_test), and
// labels each row with its own rule of s = sum_{i in S} x_i:
//
//   name          label kind  label                                    P(y = "positive")
//   sparse_sum    kInteger    y = s in {-k, -k+2, ..., k}              (binomial)
//   sparse_and    kBit        y = prod_{i in S} (x_i + 1)/2 in {0, 1}  2^-k
//   majority      kSign       y = +1 if s >= 0 else -1 (tie -> +1)     1/2 + P(s = 0)/2
//   threshold     kSign       y = +1 if s >= t else -1                 P(s >= t)
//   noisy_parity  kSign       y = prod_{i in S} x_i, each TRAINING label flipped i.i.d. with
//                             probability p; test labels are clean     1/2
//
// threshold's t defaults to k - 1 (the group's default; with k = 3 it means "all three bits are
// +1", P = 1/8): the parameter's default is the sentinel kThresholdKMinusOne = -1000000, which
// the constructor replaces by k - 1. Any other t must lie in [-k, k] (t = -k is always true,
// t = 0 is majority, t = k is AND-like).
//
// noisy_parity draws its flips after the test rows, from the same continuing stream: for each
// training row r in order, flip = (rng.uniform() < p). With p = 0 it equals sparse_parity.
//
// Accuracy: Problem::accuracy, i.e. the fraction of test predictions equal to the label; for
// kSign a prediction 0 is wrong; for kInteger the solver returns the rounded prediction.
//
// Recoverability (secret_recoverable()): every bit of S can change the label of some input when
// the rule is not constant, so S is identifiable from the distribution for sparse_sum,
// sparse_and, majority, noisy_parity (p < 1/2: chi_S correlates with y at 1 - 2p, every other
// character at 0) and threshold with -k < t <= k; threshold with t = -k labels every input +1,
// and S is not recoverable.
//
// Cost: as sparse_parity, O((n_train + n_test) (n + k)) time and (n_train + n_test) (n + 1) bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/rng.h"
#include "problems/problem.h"
#include "problems/sparse_parity/sparse_parity.h"

namespace cube {

// The label of one row under each member's rule (the obvious definitions above).
std::int8_t sparse_sum_label(const std::int8_t* row, const std::vector<int>& secret);
std::int8_t sparse_and_label(const std::int8_t* row, const std::vector<int>& secret);
std::int8_t threshold_label(const std::int8_t* row, const std::vector<int>& secret,
                            std::int64_t t);  // majority is t = 0

// Common base: draws S and x with the sparse_parity generator, labels rows with label(), then
// lets a member post-process the training labels from the continuing stream.
class SparseFamilyProblem : public Problem {
 public:
  void generate(std::uint64_t seed) override;
  const BinaryDataset* binary_dataset() const override { return &data_; }
  // S, sorted ascending; std::nullopt before generate().
  std::optional<std::vector<int>> secret() const override;

 protected:
  // Throws ConfigError("problem.k: ...") when k > n.
  SparseFamilyProblem(SparseParityConfig base, LabelKind kind);
  virtual std::int8_t label(const std::int8_t* row) const = 0;
  // Called after all labels are set; `rng` continues the generator's stream.
  virtual void after_labels(Rng& /*rng*/) {}

  SparseParityConfig base_;
  BinaryDataset data_;
  std::vector<int> secret_;
  bool generated_ = false;
};

class SparseSum : public SparseFamilyProblem {
 public:
  // Throws ConfigError("problem.k: ...") when k > 127 (labels are int8).
  explicit SparseSum(SparseParityConfig config);

 protected:
  std::int8_t label(const std::int8_t* row) const override {
    return sparse_sum_label(row, secret_);
  }
};

class SparseAnd : public SparseFamilyProblem {
 public:
  explicit SparseAnd(SparseParityConfig config) : SparseFamilyProblem(config, LabelKind::kBit) {}

 protected:
  std::int8_t label(const std::int8_t* row) const override {
    return sparse_and_label(row, secret_);
  }
};

class Majority : public SparseFamilyProblem {
 public:
  explicit Majority(SparseParityConfig config) : SparseFamilyProblem(config, LabelKind::kSign) {}

 protected:
  std::int8_t label(const std::int8_t* row) const override {
    return threshold_label(row, secret_, 0);
  }
};

// The sentinel default of threshold's t: replaced by k - 1.
inline constexpr std::int64_t kThresholdKMinusOne = -1000000;

struct ThresholdConfig {
  SparseParityConfig base;
  std::int64_t t = kThresholdKMinusOne;

  template <class V>
  void visit(V& v) {
    base.visit(v);
    v("t", t, "label is +1 iff the sum of the secret bits is >= t; -1000000 (default) means k-1");
  }
};

class Threshold : public SparseFamilyProblem {
 public:
  // Throws ConfigError("problem.t: ...") when t (other than the sentinel) is outside [-k, k].
  explicit Threshold(ThresholdConfig config);
  // The threshold in use (k - 1 for the sentinel).
  std::int64_t t() const { return t_; }
  bool secret_recoverable() const override { return generated_ && t_ > -base_.k; }

 protected:
  std::int8_t label(const std::int8_t* row) const override {
    return threshold_label(row, secret_, t_);
  }

 private:
  std::int64_t t_;
};

struct NoisyParityConfig {
  SparseParityConfig base;
  double p = 0.1;

  template <class V>
  void visit(V& v) {
    base.visit(v);
    v("p", p, "probability that a training label is flipped (test labels are clean)")
        .at_least(0.0)
        .less_than(0.5);
  }
};

class NoisyParity : public SparseFamilyProblem {
 public:
  explicit NoisyParity(NoisyParityConfig config)
      : SparseFamilyProblem(config.base, LabelKind::kSign), p_(config.p) {}
  // Training rows whose label was flipped, ascending (empty before generate()).
  const std::vector<std::int64_t>& flipped_rows() const { return flipped_; }

 protected:
  std::int8_t label(const std::int8_t* row) const override { return parity_label(row, secret_); }
  void after_labels(Rng& rng) override;

 private:
  double p_;
  std::vector<std::int64_t> flipped_;
};

}  // namespace cube
