// Tests of the Mann-Whitney U test against scipy.stats.mannwhitneyu and a brute-force null
// distribution.
#include "experiments/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"

namespace cube {
namespace {

// p-values printed by scipy 1.10.1 (Debian python3-scipy): scipy.stats.mannwhitneyu(x, y,
// alternative="two-sided"), default method "auto".
TEST(MannWhitneyTest, MatchesScipy) {
  struct Case {
    std::vector<double> x, y;
    double u, p;  // u = max(U1, U2); scipy prints U1
    bool exact;
  };
  const std::vector<Case> cases = {
      {{1, 2, 3, 4}, {5, 6, 7, 8}, 16, 0.02857142857142857, true},
      {{1.5, 3.25, 7.0}, {2.0, 4.5, 5.0, 8.0, 9.5}, 11, 0.39285714285714285, true},
      {{3, 4}, {1, 2}, 4, 0.3333333333333333, true},
      {{1, 2, 2, 3, 4}, {2, 3, 3, 5, 6}, 19, 0.19882894401644247, false},
      {{0.11, 0.52, 0.33, 0.94, 0.25, 0.66, 0.71, 0.18, 0.49, 0.8},
       {0.55, 0.62, 0.97, 0.73, 0.84, 0.99, 0.58, 0.91, 0.77, 0.68, 0.87, 0.95},
       98,
       0.013410537144510933,
       false},
      {{1, 3, 5, 7, 9, 11, 13, 15}, {2, 4, 6, 8, 10, 12, 14, 16, 18}, 44, 0.4807075277663513, true},
      {{1, 1, 1}, {1, 1}, 3, 1.0, false},
  };
  for (const Case& c : cases) {
    const MannWhitney r = mann_whitney_u(c.x, c.y);
    EXPECT_EQ(r.u, c.u);
    EXPECT_NEAR(r.p_value, c.p, 1e-12 * c.p) << c.x.size() << " vs " << c.y.size();
    EXPECT_EQ(r.exact, c.exact);
  }
  EXPECT_EQ(mann_whitney_u({}, {1.0, 2.0}).p_value, 1.0);
}

// The exact path against the slow obvious reference: every way to choose which n1 of the
// n1 + n2 ranks belong to x, counting those whose U is at least the observed one.
TEST(MannWhitneyTest, ExactPathEqualsEnumerationOfAllOrderings) {
  Rng rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    const int n1 = 1 + static_cast<int>(rng.below(6)), n2 = 1 + static_cast<int>(rng.below(7));
    std::vector<double> x, y;
    for (int i = 0; i < n1; ++i) x.push_back(rng.uniform());
    for (int i = 0; i < n2; ++i) y.push_back(rng.uniform() + 0.3 * (trial % 3));
    const MannWhitney r = mann_whitney_u(x, y);
    ASSERT_TRUE(r.exact);
    const int n = n1 + n2;
    std::size_t at_least = 0, total = 0;
    for (unsigned mask = 0; mask < (1u << n); ++mask) {
      if (__builtin_popcount(mask) != n1) continue;
      ++total;
      double rank_sum = 0;  // ranks 1..n, the members of the mask are x's
      for (int k = 0; k < n; ++k)
        if (mask & (1u << k)) rank_sum += k + 1;
      const double u1 = rank_sum - n1 * (n1 + 1) / 2.0;
      if (std::max(u1, n1 * n2 - u1) >= r.u) ++at_least;
    }
    // max(U1, U2) >= U covers both tails: P = 2 P(U' >= U) when U > n1 n2 / 2.
    const double enumerated = static_cast<double>(at_least) / static_cast<double>(total);
    const double expected = r.u * 2 == n1 * n2 ? 1.0 : std::min(1.0, enumerated);
    EXPECT_NEAR(r.p_value, expected, 1e-12) << n1 << " vs " << n2;
  }
}

}  // namespace
}  // namespace cube
