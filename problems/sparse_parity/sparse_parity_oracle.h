// cube/problems/sparse_parity/sparse_parity_oracle.h: sparse parity in the membership-query model.
//
// What: the hidden set S (|S| = k) of sparse_parity, but no training samples: a solver asks the
// QueryOracle (problems/oracle/query_oracle.h) for y = prod_{i in S} x_i on inputs x of its
// choice, and each query is counted (sparse-parity.md §1.4: KM "uses membership queries"; §6.5:
// the oracle model is a different problem from i.i.d. learning and is kept apart).
// binary_dataset() is nullptr, so no i.i.d. solver supports this problem and no query-model
// result lands in an i.i.d. cell.
//
// Generator: S and the test rows are exactly those of sparse_parity with n_train = 0 (the
// documented generator of sparse_parity.h, test rows drawn right after S), so S equals
// sparse_parity's S for the same seed, n and k.
//
// Scoring: accuracy() is the fraction of the n_test held-out rows whose prediction equals the
// clean parity label (a prediction 0 is wrong); scores_predictions() is true. The number of
// queries a solve used is the solver's measure "queries" (QueryOracle::queries() difference).
//
// Cost: O(n + n_test (n + k)) time, n_test (n + 1) bytes; a query is O(k).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "problems/oracle/query_oracle.h"
#include "problems/problem.h"

namespace cube {

struct SparseParityOracleConfig {
  std::int64_t n = 20;        // input bits
  std::int64_t k = 3;         // secret size, 1 <= k <= n
  std::int64_t n_test = 200;  // held-out samples

  template <class V>
  void visit(V& v) {
    v("n", n, "number of input bits").at_least(1);
    v("k", k, "number of secret (relevant) bits, at most n").at_least(1);
    v("n_test", n_test, "held-out test samples").at_least(1);
  }
};

class SparseParityOracle : public Problem {
 public:
  // Throws ConfigError("problem.k: ...") when k > n.
  explicit SparseParityOracle(SparseParityOracleConfig config);

  // Draws S and the test rows from `seed`; a new oracle with its query count at 0.
  void generate(std::uint64_t seed) override;

  // Non-null after generate(); nullptr before.
  const QueryOracle* query_oracle() const override { return generated_ ? &oracle_ : nullptr; }

  std::optional<std::vector<int>> secret() const override;
  bool scores_predictions() const override { return true; }
  // Fraction of test rows predicted right. Precondition: one prediction per test row.
  double accuracy(std::span<const std::int8_t> test_predictions) const override;

 private:
  SparseParityOracleConfig config_;
  QueryOracle oracle_;
  std::vector<int> secret_;
  bool generated_ = false;
};

}  // namespace cube
