// Tests of the MLP net of models/mlp against slow obvious references: the forward pass (direct
// and through the sign-pattern table) against plain double sums, the gradient sums against
// their definition, the update rules against their formulas, and the He init and widening.
#include "models/mlp/mlp_net.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace cube::mlp {
namespace {

struct Inputs {
  std::vector<std::int8_t> x;  // rows x n, +-1
  std::vector<double> X;       // the same in double
  std::vector<std::uint8_t> patterns;
};

Inputs random_inputs(std::int64_t rows, std::int64_t n, std::uint64_t seed) {
  Rng rng(seed);
  Inputs in;
  for (std::int64_t i = 0; i < rows * n; ++i) in.x.push_back(rng.below(2) ? 1 : -1);
  in.X.assign(in.x.begin(), in.x.end());
  in.patterns = sign_patterns(in.x, rows, n);
  return in;
}

MlpNet<double> random_net(std::int64_t n, std::int64_t na, std::int64_t h, std::uint64_t seed) {
  Rng rng(seed);
  MlpNet<double> net = MlpNet<double>::he_init(n, na, h, rng);
  for (double& b : net.b1) b = rng.normal() * 0.1;
  net.b2 = 0.25;
  return net;
}

// a_j = sum_{c < na} W1[j][c] x_c + b1_j, f = sum_j relu(a_j) W2_j + b2.
double slow_forward(const MlpNet<double>& net, const double* x, std::vector<double>* a) {
  a->assign(static_cast<std::size_t>(net.h), 0.0);
  double f = net.b2;
  for (std::int64_t j = 0; j < net.h; ++j) {
    double s = net.b1[j];
    for (std::int64_t c = 0; c < net.na; ++c) s += net.w1t[c * net.h + j] * x[c];
    (*a)[j] = s;
    f += std::max(s, 0.0) * net.w2[j];
  }
  return f;
}

TEST(MlpNetTest, SignPatternsSetBitBWhereInputIsPlusOne) {
  const std::vector<std::int8_t> x = {1, -1, -1, 1, -1, 1};  // one row, n = 6
  const std::vector<std::uint8_t> p = sign_patterns(x, 1, 6);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], 0b1001);
  EXPECT_EQ(p[1], 0b1110);  // x4 = -1, x5 = +1, inputs 6 and 7 past n count as +1
}

TEST(MlpNetTest, ForwardDirectAndTabledMatchTheSlowSums) {
  for (std::int64_t n : {5, 20, 37}) {
    for (std::int64_t h : {3, 16, 45}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " h=" + std::to_string(h));
      const std::int64_t rows = 12;
      const Inputs in = random_inputs(rows, n, 7);
      const MlpNet<double> net = random_net(n, n - 2, h, 11);
      MlpKernels<double> kernels(n, h);
      // 12 rows go through the table, 5 rows read W1 directly.
      for (std::int64_t count : {rows, std::int64_t{5}}) {
        std::vector<double> a(static_cast<std::size_t>(count * h)), out(count);
        kernels.forward(net, in.X.data(), in.patterns.data(), nullptr, count, a.data(), out.data());
        for (std::int64_t r = 0; r < count; ++r) {
          std::vector<double> slow_a;
          const double f = slow_forward(net, in.X.data() + r * n, &slow_a);
          EXPECT_NEAR(out[r], f, 1e-12 * (1 + std::abs(f)));
          for (std::int64_t j = 0; j < h; ++j)
            EXPECT_NEAR(a[r * h + j], slow_a[j], 1e-12 * (1 + std::abs(slow_a[j])));
        }
      }
    }
  }
}

TEST(MlpNetTest, ForwardGivesTheSameBitsThroughTheTableAsDirectly) {
  const std::int64_t n = 23, h = 40, rows = 9;
  const Inputs in = random_inputs(rows, n, 3);
  const MlpNet<double> net = random_net(n, n, h, 5);
  MlpKernels<double> kernels(n, h);
  std::vector<double> a_table(rows * h), out_table(rows), a_direct(h), out_direct(1);
  kernels.forward(net, in.X.data(), in.patterns.data(), nullptr, rows, a_table.data(),
                  out_table.data());
  ASSERT_TRUE(MlpKernels<double>::uses_table(rows));
  for (std::int32_t r = 0; r < rows; ++r) {
    ASSERT_FALSE(MlpKernels<double>::uses_table(1));
    kernels.forward(net, in.X.data(), in.patterns.data(), &r, 1, a_direct.data(),
                    out_direct.data());
    EXPECT_EQ(out_direct[0], out_table[r]) << "row " << r;
    for (std::int64_t j = 0; j < h; ++j) EXPECT_EQ(a_direct[j], a_table[r * h + j]);
  }
}

TEST(MlpNetTest, GradientSumsFollowTheirDefinition) {
  const std::int64_t n = 13, h = 21, V = 6;
  const Inputs in = random_inputs(V, n, 9);
  const MlpNet<double> net = random_net(n, n, h, 4);
  MlpKernels<double> kernels(n, h);
  std::vector<double> a(V * h), out(V), d(V);
  kernels.forward(net, in.X.data(), in.patterns.data(), nullptr, V, a.data(), out.data());
  std::vector<const double*> xs, as;
  for (std::int64_t v = 0; v < V; ++v) {
    d[v] = v % 2 ? 1.0 : -0.5 * static_cast<double>(v);
    xs.push_back(in.X.data() + v * n);
    as.push_back(a.data() + v * h);
  }
  std::vector<double> mask(V * h), gw2(h), gb1(h), gw1(n * h);
  kernels.gradient_sums(V, d.data(), xs.data(), as.data(), n, mask.data(), gw2.data(), gb1.data(),
                        gw1.data());
  for (std::int64_t j = 0; j < h; ++j) {
    double w2 = 0, b1 = 0;
    for (std::int64_t v = 0; v < V; ++v) {
      w2 += d[v] * std::max(a[v * h + j], 0.0);
      b1 += a[v * h + j] > 0 ? d[v] : 0.0;
    }
    EXPECT_NEAR(gw2[j], w2, 1e-12);
    EXPECT_NEAR(gb1[j], b1, 1e-12);
    for (std::int64_t c = 0; c < n; ++c) {
      double w1 = 0;
      for (std::int64_t v = 0; v < V; ++v) w1 += a[v * h + j] > 0 ? d[v] * xs[v][c] : 0.0;
      EXPECT_NEAR(gw1[c * h + j], w1, 1e-12) << "c=" << c << " j=" << j;
    }
  }
}

TEST(MlpNetTest, UpdateRulesFollowTheirFormulas) {
  const double lr = 0.1, batch = 4, decay = 0.01, alpha = 0.9, lambda = 2;
  const std::vector<double> g = {2.0, -1.0, 0.0};
  const std::vector<double> scale = {0.5, 2.0, 3.0};
  std::vector<double> p = {1.0, -2.0, 0.5};
  std::vector<double> p0 = p;
  update(SgdStep<double>{lr, batch}, p.data(), g.data(), scale.data(), decay,
         static_cast<double*>(nullptr), 3);
  for (int j = 0; j < 3; ++j)
    EXPECT_DOUBLE_EQ(p[j], p0[j] - lr * (scale[j] * g[j] / batch + decay * p0[j]));
  p = p0;
  update(SignStep<double>{lr}, p.data(), g.data(), static_cast<const double*>(nullptr), decay,
         static_cast<double*>(nullptr), 3);
  EXPECT_DOUBLE_EQ(p[0], p0[0] - lr * (1 + decay * p0[0]));
  EXPECT_DOUBLE_EQ(p[1], p0[1] - lr * (-1 + decay * p0[1]));
  EXPECT_DOUBLE_EQ(p[2], p0[2] - lr * (0 + decay * p0[2]));  // sign(0) = 0
  p = p0;
  std::vector<double> e = {0.0, 1.0, -1.0};
  const std::vector<double> e0 = e;
  update(GrokfastStep<double>{lr, batch, alpha, lambda}, p.data(), g.data(),
         static_cast<const double*>(nullptr), decay, e.data(), 3);
  for (int j = 0; j < 3; ++j) {
    const double mean = g[j] / batch;
    const double ej = alpha * e0[j] + (1 - alpha) * mean;
    EXPECT_DOUBLE_EQ(e[j], ej);
    EXPECT_DOUBLE_EQ(p[j], p0[j] - lr * (mean + lambda * ej + decay * p0[j]));
  }
}

TEST(MlpNetTest, HeInitDrawsRowMajorAndWideningKeepsOldColumns) {
  Rng rng(21), replay(21);
  MlpNet<double> net = MlpNet<double>::he_init(6, 4, 3, rng);
  for (std::int64_t j = 0; j < 3; ++j)
    for (std::int64_t c = 0; c < 4; ++c)
      EXPECT_EQ(net.w1t[c * 3 + j], replay.normal() * std::sqrt(2.0 / 4));
  for (std::int64_t j = 0; j < 3; ++j) EXPECT_EQ(net.w2[j], replay.normal() * std::sqrt(2.0 / 3));
  for (std::int64_t j = 0; j < 3; ++j)
    for (std::int64_t c = 4; c < 6; ++c) EXPECT_EQ(net.w1t[c * 3 + j], 0.0);
  const std::vector<double> before = net.w1t;
  net.widen(6, 0.5, rng);
  EXPECT_EQ(net.na, 6);
  for (std::int64_t j = 0; j < 3; ++j) {
    for (std::int64_t c = 0; c < 4; ++c) EXPECT_EQ(net.w1t[c * 3 + j], before[c * 3 + j]);
    for (std::int64_t c = 4; c < 6; ++c) EXPECT_EQ(net.w1t[c * 3 + j], replay.normal() * 0.5);
  }
  EXPECT_TRUE(net.finite());
  net.b2 = std::nan("");
  EXPECT_FALSE(net.finite());
}

}  // namespace
}  // namespace cube::mlp
