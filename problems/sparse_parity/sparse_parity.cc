// cube/problems/sparse_parity/sparse_parity.cc: the sparse-parity generator documented in the
// header (secret by partial Fisher-Yates, rows from 64-bit words of one cube::Rng stream).

#include "problems/sparse_parity/sparse_parity.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/memory_budget.h"
#include "core/rng.h"

namespace cube {
namespace {

// Fills `rows` rows of x (n columns each) from the running stream.
void draw_rows(Rng& rng, std::int64_t rows, std::int64_t n, std::vector<std::int8_t>& x) {
  x.assign(static_cast<std::size_t>(rows * n), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int8_t* row = x.data() + r * n;
    for (std::int64_t w = 0; w * 64 < n; ++w) {
      std::uint64_t word = rng.next();
      const std::int64_t bits = std::min<std::int64_t>(64, n - w * 64);
      for (std::int64_t b = 0; b < bits; ++b)
        row[w * 64 + b] = ((word >> b) & 1) ? std::int8_t{-1} : std::int8_t{1};
    }
  }
}

}  // namespace

Rng draw_sparse_inputs(std::uint64_t seed, std::int64_t n, std::int64_t k, std::int64_t n_train,
                       std::int64_t n_test, std::vector<int>& secret, BinaryDataset& data) {
  Rng rng(seed);
  std::vector<int> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  for (std::int64_t i = 0; i < k; ++i) {
    const auto j = i + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - i)));
    std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
  }
  secret.assign(perm.begin(), perm.begin() + k);
  std::sort(secret.begin(), secret.end());

  data.n_bits = n;
  data.n_train = n_train;
  data.n_test = n_test;
  draw_rows(rng, n_train, n, data.x_train);
  draw_rows(rng, n_test, n, data.x_test);
  data.y_train.assign(static_cast<std::size_t>(n_train), 0);
  data.y_test.assign(static_cast<std::size_t>(n_test), 0);
  return rng;
}

void check_sparse_shape(std::int64_t n, std::int64_t k, std::uint64_t n_rows,
                        const std::string& rows_formula) {
  if (k > n)
    throw ConfigError("problem.k: " + std::to_string(k) + " secret bits cannot be drawn from n = " +
                      std::to_string(n) + " input bits; k must be at most n");
  check_fits_in_memory(static_cast<double>(n_rows) * (static_cast<double>(n) + 1.0), "problem.n",
                       "the data set",
                       rows_formula + " x (n + 1) bytes = " + std::to_string(n_rows) + " x " +
                           std::to_string(static_cast<std::uint64_t>(n) + 1));
}

SparseParity::SparseParity(SparseParityConfig config) : config_(config) {
  check_sparse_shape(
      config_.n, config_.k,
      static_cast<std::uint64_t>(config_.n_train) + static_cast<std::uint64_t>(config_.n_test),
      "(n_train + n_test)");
}

void SparseParity::generate(std::uint64_t seed) {
  draw_sparse_inputs(seed, config_.n, config_.k, config_.n_train, config_.n_test, secret_, data_);
  for (std::int64_t r = 0; r < data_.n_train; ++r)
    data_.y_train[static_cast<std::size_t>(r)] = parity_label(data_.train_row(r), secret_);
  for (std::int64_t r = 0; r < data_.n_test; ++r)
    data_.y_test[static_cast<std::size_t>(r)] = parity_label(data_.test_row(r), secret_);
  generated_ = true;
}

std::optional<std::vector<int>> SparseParity::secret() const {
  if (!generated_) return std::nullopt;
  return secret_;
}

CUBE_REGISTER(Problem, SparseParity, SparseParityConfig, "sparse_parity",
              "y = product of k secret bits of x in {-1,+1}^n (i.i.d. uniform bits)");

}  // namespace cube
