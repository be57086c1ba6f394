// cube/experiments/stats.h: the two-sample test `cube diff` judges noisy metrics with.
//
// Mann-Whitney U (Wilcoxon rank-sum), two-sided, as scipy.stats.mannwhitneyu(x, y,
// alternative="two-sided") computes it with its default method="auto" (scipy 1.7+), which is what
// Google Benchmark's tools/compare.py reports as its U-test p-value:
//   U1 = R1 - n1 (n1 + 1) / 2 with R1 the rank sum of x (ties get mid-ranks), U = max(U1, n1 n2 -
//   U1); exact: p = 2 P(U' >= U) under the null distribution of U' (every ordering of the n1 + n2
//     values equally likely), used when there are no ties and at least one sample has at most 8
//     values;
//   else normal: z = (U - n1 n2 / 2 - 0.5) / sigma, sigma² = n1 n2 / 12 ((n + 1) - sum(t³ - t) /
//     (n (n - 1))) over tie groups of size t, p = 2 (1 - Phi(z)); p = 1 when sigma = 0.
// p is clipped to [0, 1]; an empty sample gives p = 1. Mann & Whitney, Ann. Math. Stat. 18, 1947.
// Cost: O(n log n) for the ranks, O(n1² n2) for the exact null distribution (n1, n2 <= 8 there).
// The smallest p a sample pair can reach: 2 / C(n1 + n2, n1), so 4 values a side are needed for
// p < 0.05 (0.029), 3 give 0.1 at best.
#pragma once

#include <vector>

namespace cube {

struct MannWhitney {
  double u = 0;        // max(U1, U2)
  double p_value = 1;  // two-sided
  bool exact = false;  // exact null distribution (else the normal approximation)
};

MannWhitney mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace cube
