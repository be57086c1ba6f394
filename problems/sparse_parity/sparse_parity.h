// cube/problems/sparse_parity/sparse_parity.h: (n, k)-sparse parity over {-1,+1}^n.
//
// What: x in {-1,+1}^n with i.i.d. uniform bits, a hidden set S of k distinct indices, and the
// label y = prod_{i in S} x_i in {-1,+1}. Classes are balanced for every k >= 1. The task is to
// classify held-out samples or, equivalently, recover S (sparse-parity.md §1.1).
//
// The generator (exact; it is cube's own, numpy's RandomState is not emulated, §6.1):
//
//   rng = cube::Rng(seed)
//   perm = [0, 1, ..., n-1]
//   for i in 0 .. k-1:                       partial Fisher-Yates: k draws, n-i choices each
//     j = i + rng.below(n - i);  swap(perm[i], perm[j])
//   S = sort(perm[0 .. k-1])
//   for each of the n_train training rows, then each of the n_test test rows:
//     for w in 0 .. ceil(n/64)-1:            one 64-bit word per 64 columns, row by row
//       word = rng.next()
//       x[row][64w + b] = ((word >> b) & 1) ? -1 : +1   for b in 0 .. min(64, n - 64w) - 1
//     y[row] = prod_{i in S} x[row][i]
//
// Unused high bits of a row's last word are discarded, so rows never share a word. Train and
// test come from the same continuing stream, train first. Data generation is never timed.
//
// Cost: O(n + (n_train + n_test) * (n + k)) time, (n_train + n_test) * (n + 1) bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/rng.h"
#include "problems/problem.h"

namespace cube {

// The generator above without the labels, shared by the sparse family (sparse_family.h) and the
// query-oracle variant: sets `secret` to S and fills data.x_train (n_train rows) then data.x_test
// (n_test rows), with n_bits, n_train and n_test; y_train and y_test are sized but left 0. Returns
// the stream positioned after the last test row, for draws that follow (label noise).
// Preconditions: 1 <= k <= n, n_train >= 0, n_test >= 0.
Rng draw_sparse_inputs(std::uint64_t seed, std::int64_t n, std::int64_t k, std::int64_t n_train,
                       std::int64_t n_test, std::vector<int>& secret, BinaryDataset& data);

// prod_{i in secret} row[i] in {-1,+1}.
inline std::int8_t parity_label(const std::int8_t* row, const std::vector<int>& secret) {
  std::int8_t label = 1;
  for (int i : secret) label = static_cast<std::int8_t>(label * row[i]);
  return label;
}

struct SparseParityConfig {
  std::int64_t n = 20;          // input bits
  std::int64_t k = 3;           // secret size, 1 <= k <= n
  std::int64_t n_train = 1000;  // training samples
  std::int64_t n_test = 200;    // held-out samples

  template <class V>
  void visit(V& v) {
    v("n", n, "number of input bits").at_least(1);
    v("k", k, "number of secret (relevant) bits, at most n").at_least(1);
    v("n_train", n_train, "training samples").at_least(1);
    v("n_test", n_test, "held-out test samples").at_least(1);
  }
};

// Throws ConfigError("problem.k: ...") when k > n, and ("problem.n: ...") when the data set,
// (n_rows) x (n + 1) bytes, cannot fit in memory (core/memory_budget.h).
// n_rows is a sum of row counts, each below 2^63: unsigned, so the sum cannot overflow.
void check_sparse_shape(std::int64_t n, std::int64_t k, std::uint64_t n_rows,
                        const std::string& rows_formula);

class SparseParity : public Problem {
 public:
  // Throws as check_sparse_shape does.
  explicit SparseParity(SparseParityConfig config);

  // Draws S, the training rows and the test rows from `seed` as documented above.
  void generate(std::uint64_t seed) override;

  // Always non-null; empty until generate() has run.
  const BinaryDataset* binary_dataset() const override { return &data_; }

  // S, sorted ascending; std::nullopt before generate().
  std::optional<std::vector<int>> secret() const override;

  const SparseParityConfig& config() const { return config_; }

 private:
  SparseParityConfig config_;
  BinaryDataset data_;
  std::vector<int> secret_;
  bool generated_ = false;
};

}  // namespace cube
