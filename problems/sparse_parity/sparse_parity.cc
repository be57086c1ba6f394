// cube/problems/sparse_parity/sparse_parity.cc: the sparse-parity generator documented in the
// header (secret by partial Fisher-Yates, rows from 64-bit words of one cube::Rng stream).

#include "problems/sparse_parity/sparse_parity.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/rng.h"

namespace cube {
namespace {

// Fills `rows` rows of x (n columns each) and their labels from the running stream.
void draw_rows(Rng& rng, std::int64_t rows, std::int64_t n, const std::vector<int>& secret,
               std::vector<std::int8_t>& x, std::vector<std::int8_t>& y) {
  x.assign(static_cast<std::size_t>(rows * n), 0);
  y.assign(static_cast<std::size_t>(rows), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int8_t* row = x.data() + r * n;
    for (std::int64_t w = 0; w * 64 < n; ++w) {
      std::uint64_t word = rng.next();
      const std::int64_t bits = std::min<std::int64_t>(64, n - w * 64);
      for (std::int64_t b = 0; b < bits; ++b)
        row[w * 64 + b] = ((word >> b) & 1) ? std::int8_t{-1} : std::int8_t{1};
    }
    std::int8_t label = 1;
    for (int i : secret) label = static_cast<std::int8_t>(label * row[i]);
    y[static_cast<std::size_t>(r)] = label;
  }
}

}  // namespace

SparseParity::SparseParity(SparseParityConfig config) : config_(config) {
  if (config_.k > config_.n)
    throw ConfigError("problem.k: " + std::to_string(config_.k) +
                      " secret bits cannot be drawn from n = " + std::to_string(config_.n) +
                      " input bits; k must be at most n");
}

void SparseParity::generate(std::uint64_t seed) {
  const std::int64_t n = config_.n;
  const std::int64_t k = config_.k;
  Rng rng(seed);

  std::vector<int> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  for (std::int64_t i = 0; i < k; ++i) {
    const auto j = i + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - i)));
    std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
  }
  secret_.assign(perm.begin(), perm.begin() + k);
  std::sort(secret_.begin(), secret_.end());

  data_.n_bits = n;
  data_.n_train = config_.n_train;
  data_.n_test = config_.n_test;
  draw_rows(rng, config_.n_train, n, secret_, data_.x_train, data_.y_train);
  draw_rows(rng, config_.n_test, n, secret_, data_.x_test, data_.y_test);
  generated_ = true;
}

std::optional<std::vector<int>> SparseParity::secret() const {
  if (!generated_) return std::nullopt;
  return secret_;
}

CUBE_REGISTER(Problem, SparseParity, SparseParityConfig, "sparse_parity",
              "y = product of k secret bits of x in {-1,+1}^n (i.i.d. uniform bits)");

}  // namespace cube
