// tests/solvers/secret_dataset.h: the small datasets the solver tests build themselves, without
// a problem module: a secret S of k of n bits by a partial Fisher-Yates, uniform +-1 entries,
// and labels by a rule over S. The draws (S first, then one rng.next() per entry, train rows
// before test rows) are part of each test's fixed data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "core/rng.h"
#include "problems/problem.h"

namespace cube {

// kSum: the sum over S (integer labels); kMajority: sign of the sum, a tie maps to +1;
// kThreshold: +1 when the sum is at least k - 1; kParity: the product over S.
enum class SecretRule { kSum, kMajority, kThreshold, kParity };

struct SecretDataset {
  BinaryDataset data;
  std::vector<int> secret;  // S, ascending
};

inline SecretDataset make_secret_dataset(SecretRule rule, int n, int k, std::int64_t n_train,
                                         std::int64_t n_test, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<int> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  for (int i = 0; i < k; ++i)
    std::swap(perm[static_cast<std::size_t>(i)],
              perm[static_cast<std::size_t>(
                  i + static_cast<int>(rng.below(static_cast<std::uint64_t>(n - i))))]);
  SecretDataset out;
  out.secret.assign(perm.begin(), perm.begin() + k);
  std::sort(out.secret.begin(), out.secret.end());
  BinaryDataset& d = out.data;
  d.label_kind = rule == SecretRule::kSum ? LabelKind::kInteger : LabelKind::kSign;
  d.n_bits = n;
  d.n_train = n_train;
  d.n_test = n_test;
  auto fill = [&](std::int64_t rows, std::vector<std::int8_t>& x, std::vector<std::int8_t>& y) {
    for (std::int64_t r = 0; r < rows; ++r) {
      for (int i = 0; i < n; ++i) x.push_back((rng.next() & 1) ? -1 : 1);
      int sum = 0, product = 1;
      for (int i : out.secret) {
        sum += x[static_cast<std::size_t>(r * n + i)];
        product *= x[static_cast<std::size_t>(r * n + i)];
      }
      int label = product;
      if (rule == SecretRule::kSum) label = sum;
      if (rule == SecretRule::kMajority) label = sum >= 0 ? 1 : -1;
      if (rule == SecretRule::kThreshold) label = sum >= k - 1 ? 1 : -1;
      y.push_back(static_cast<std::int8_t>(label));
    }
  };
  fill(n_train, d.x_train, d.y_train);
  fill(n_test, d.x_test, d.y_test);
  return out;
}

inline SecretDataset make_parity(int n, int k, std::int64_t n_train, std::int64_t n_test,
                                 std::uint64_t seed) {
  return make_secret_dataset(SecretRule::kParity, n, k, n_train, n_test, seed);
}

}  // namespace cube
