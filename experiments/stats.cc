// cube/experiments/stats.cc: the Mann-Whitney U test of stats.h.
#include "experiments/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace cube {
namespace {

// Mid-ranks (1-based) of x followed by y; *tie_term = sum over tie groups of t³ - t.
std::vector<double> mid_ranks(const std::vector<double>& x, const std::vector<double>& y,
                              double* tie_term) {
  std::vector<std::pair<double, std::size_t>> all;
  for (std::size_t i = 0; i < x.size(); ++i) all.emplace_back(x[i], i);
  for (std::size_t i = 0; i < y.size(); ++i) all.emplace_back(y[i], x.size() + i);
  std::sort(all.begin(), all.end());
  std::vector<double> ranks(all.size());
  *tie_term = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k) ranks[all[k].second] = rank;
    const double t = static_cast<double>(j - i);
    *tie_term += t * t * t - t;
    i = j;
  }
  return ranks;
}

// P(U' >= u) for U' the U statistic of samples of sizes m and n under the null hypothesis:
// counts[k] = orderings with U' = k, from c(m, n, k) = c(m - 1, n, k - n) + c(m, n - 1, k).
double exact_upper_tail(int m, int n, int u) {
  // table[i][j] holds the counts for sizes (i, j), each a vector over k = 0 .. i*j.
  std::vector<std::vector<std::vector<double>>> table(m + 1,
                                                      std::vector<std::vector<double>>(n + 1));
  for (int i = 0; i <= m; ++i) {
    for (int j = 0; j <= n; ++j) {
      std::vector<double>& c = table[i][j];
      c.assign(static_cast<std::size_t>(i * j + 1), 0.0);
      if (i == 0 || j == 0) {
        c[0] = 1.0;
        continue;
      }
      const std::vector<double>& fewer_x = table[i - 1][j];  // the largest value is from y ...
      const std::vector<double>& fewer_y = table[i][j - 1];
      for (std::size_t k = 0; k < fewer_y.size(); ++k) c[k] += fewer_y[k];
      // ... or from x, which then exceeds all j values of y.
      for (std::size_t k = 0; k < fewer_x.size(); ++k) c[k + j] += fewer_x[k];
    }
  }
  const std::vector<double>& counts = table[m][n];
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  double tail = 0;
  for (std::size_t k = static_cast<std::size_t>(std::max(u, 0)); k < counts.size(); ++k)
    tail += counts[k];
  return tail / total;
}

}  // namespace

MannWhitney mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y) {
  MannWhitney out;
  if (x.empty() || y.empty()) return out;
  const double n1 = static_cast<double>(x.size()), n2 = static_cast<double>(y.size());
  double tie_term = 0;
  const std::vector<double> ranks = mid_ranks(x, y, &tie_term);
  const double r1 = std::accumulate(ranks.begin(), ranks.begin() + x.size(), 0.0);
  const double u1 = r1 - n1 * (n1 + 1) / 2;
  out.u = std::max(u1, n1 * n2 - u1);
  const bool both_large = x.size() > 8 && y.size() > 8;
  out.exact = !both_large && tie_term == 0;
  double p;
  if (out.exact) {
    p = 2 * exact_upper_tail(static_cast<int>(x.size()), static_cast<int>(y.size()),
                             static_cast<int>(std::lround(out.u)));
  } else {
    const double n = n1 + n2;
    const double sigma = std::sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))));
    if (sigma == 0) return out;
    const double z = (out.u - n1 * n2 / 2 - 0.5) / sigma;
    p = std::erfc(z / std::sqrt(2.0));  // 2 (1 - Phi(z))
  }
  out.p_value = std::clamp(p, 0.0, 1.0);
  return out;
}

}  // namespace cube
