// cube/core/combinatorics.h: small combinatorial helpers shared by problems and solvers.
#pragma once

#include <numeric>
#include <vector>

namespace cube {

// All k-subsets of {0, ..., n-1} in lexicographic order (Python's itertools.combinations).
// Precondition: 0 <= k <= n. O(C(n, k) k) time and memory.
inline std::vector<std::vector<int>> k_subsets(int n, int k) {
  std::vector<std::vector<int>> all;
  std::vector<int> c(static_cast<std::size_t>(k));
  std::iota(c.begin(), c.end(), 0);
  while (true) {
    all.push_back(c);
    int i = k - 1;
    while (i >= 0 && c[static_cast<std::size_t>(i)] == n - k + i) --i;
    if (i < 0) return all;
    ++c[static_cast<std::size_t>(i)];
    for (int j = i + 1; j < k; ++j)
      c[static_cast<std::size_t>(j)] = c[static_cast<std::size_t>(j - 1)] + 1;
  }
}

}  // namespace cube
