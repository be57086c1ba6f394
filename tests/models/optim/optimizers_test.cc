// Tests of the optimizers, gradient clipping and the nanoGPT learning-rate schedule against
// their formulas evaluated in double.
#include "models/optim/optimizers.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/rng.h"
#include "tests/models/random_vector.h"

namespace cube::gpt {
namespace {

using test::random_vector;

// A two-tensor layout: a 2 x 3 matrix (decayed) and a 3-vector (not decayed).
std::vector<ParamTensor> two_tensors() {
  return {ParamTensor{"w", 0, 6, 2, 3, 0, true}, ParamTensor{"b", 6, 3, 1, 3, 0, false}};
}

TEST(Optimizers, AdamWMatchesFormulaAndDecaysMatricesOnly) {
  const auto tensors = two_tensors();
  AdamWConfig cfg{0.9f, 0.99f, 1e-8f, 0.1f};
  AdamW opt(cfg, tensors, 9);
  std::vector<float> p = random_vector(9, 4);
  std::vector<double> pd(p.begin(), p.end()), m(9, 0), v(9, 0);
  const double lr = 1e-2;
  for (int t = 1; t <= 5; ++t) {
    const std::vector<float> g = random_vector(9, 10 + t);
    opt.begin_step();
    opt.update({0, 9}, p, g, static_cast<float>(lr));
    for (int i = 0; i < 9; ++i) {
      const double wd = i < 6 ? 0.1 : 0.0;
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.99 * v[i] + 0.01 * double(g[i]) * g[i];
      const double mhat = m[i] / (1 - std::pow(0.9, t)), vhat = v[i] / (1 - std::pow(0.99, t));
      pd[i] = pd[i] * (1 - lr * wd) - lr * mhat / (std::sqrt(vhat) + 1e-8);
    }
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(p[i], pd[i], 1e-5) << i;
  EXPECT_EQ(opt.step(), 5);
}

TEST(Optimizers, RangeUpdatesEqualWholeUpdate) {
  const auto tensors = two_tensors();
  AdamW whole({}, tensors, 9), parts({}, tensors, 9);
  std::vector<float> a = random_vector(9, 4), b = a;
  const std::vector<float> g = random_vector(9, 5);
  whole.begin_step();
  whole.update({0, 9}, a, g, 1e-2f);
  parts.begin_step();
  parts.update({4, 5}, b, g, 1e-2f);  // crosses the tensor boundary at 6
  parts.update({0, 4}, b, g, 1e-2f);
  EXPECT_EQ(a, b);
  EXPECT_THROW(parts.update({5, 5}, b, g, 1e-2f), Error);
}

TEST(Optimizers, SgdMomentumMatchesFormula) {
  const auto tensors = two_tensors();
  SgdMomentum opt({0.9f, 0.01f}, tensors, 9);
  std::vector<float> p = random_vector(9, 6);
  std::vector<double> pd(p.begin(), p.end()), u(9, 0);
  for (int t = 1; t <= 4; ++t) {
    const std::vector<float> g = random_vector(9, 20 + t);
    opt.begin_step();
    opt.update({0, 9}, p, g, 0.1f);
    for (int i = 0; i < 9; ++i) {
      u[i] = 0.9 * u[i] + g[i] + (i < 6 ? 0.01 * pd[i] : 0.0);
      pd[i] -= 0.1 * u[i];
    }
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(p[i], pd[i], 1e-5) << i;
}

TEST(Optimizers, LionMatchesFormula) {
  const auto tensors = two_tensors();
  Lion opt({0.9f, 0.99f, 0.1f}, tensors, 9);
  std::vector<float> p = random_vector(9, 7);
  std::vector<double> pd(p.begin(), p.end()), m(9, 0);
  for (int t = 1; t <= 4; ++t) {
    const std::vector<float> g = random_vector(9, 30 + t);
    opt.begin_step();
    opt.update({0, 9}, p, g, 1e-3f);
    for (int i = 0; i < 9; ++i) {
      const double c = 0.9 * m[i] + 0.1 * g[i];
      const double sign = c > 0 ? 1.0 : (c < 0 ? -1.0 : 0.0);
      pd[i] = pd[i] * (1 - 1e-3 * (i < 6 ? 0.1 : 0.0)) - 1e-3 * sign;
      m[i] = 0.99 * m[i] + 0.01 * g[i];
    }
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(p[i], pd[i], 1e-6) << i;
}

// Restoring the state buffers and the step counter continues a run bit for bit (checkpoints).
TEST(Optimizers, StateAndStepRestoreContinuesExactly) {
  const auto tensors = two_tensors();
  AdamW a({}, tensors, 9);
  std::vector<float> pa = random_vector(9, 4);
  for (int t = 0; t < 3; ++t) {
    a.begin_step();
    a.update({0, 9}, pa, random_vector(9, 50 + t), 1e-2f);
  }
  AdamW b({}, tensors, 9);
  ASSERT_EQ(b.state().size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) {
    std::copy(a.state()[k].begin(), a.state()[k].end(), b.state()[k].begin());
  }
  b.set_step(a.step());
  std::vector<float> pb = pa;
  const std::vector<float> g = random_vector(9, 60);
  a.begin_step();
  a.update({0, 9}, pa, g, 1e-2f);
  b.begin_step();
  b.update({0, 9}, pb, g, 1e-2f);
  EXPECT_EQ(pa, pb);
  EXPECT_EQ(SgdMomentum({}, tensors, 9).state().size(), 1u);
  EXPECT_EQ(Lion({}, tensors, 9).state().size(), 1u);
}

TEST(Optimizers, UpdateBeforeBeginStepThrows) {
  const auto tensors = two_tensors();
  AdamW opt({}, tensors, 9);
  std::vector<float> p(9, 1.0f), g(9, 1.0f);
  EXPECT_THROW(opt.update({0, 9}, p, g, 1e-3f), Error);
  EXPECT_THROW(AdamW({}, tensors, 10), Error);
}

// The clip's factor handed to update() gives the bits of clip_grad_norm's scaling followed by an
// unscaled update, for every rule, and leaves the gradients as they were.
TEST(Optimizers, GradScaleInTheUpdateEqualsClippingTheGradientsFirst) {
  const std::vector<ParamTensor> tensors = {ParamTensor{"w", 0, 50001, 7, 7143, 0, true},
                                            ParamTensor{"b", 50001, 37, 1, 37, 0, false}};
  const std::size_t n = 50038;
  std::vector<float> g = random_vector(n, 40);
  for (float& x : g) x *= 0.05f;  // norm ~ 6.5: clipped to 1
  const float factor = clip_factor(grad_norm(g), 1.0);
  ASSERT_LT(factor, 1.0f);
  EXPECT_EQ(clip_factor(0.5, 1.0), 1.0f);
  std::vector<float> clipped = g;
  EXPECT_EQ(clip_grad_norm(clipped, 1.0), grad_norm(g));
  auto check = [&](Optimizer& scaled, Optimizer& first, const char* rule) {
    SCOPED_TRACE(rule);
    std::vector<float> pa = random_vector(n, 41), pb = pa;
    const std::vector<float> g_before = g;
    for (int t = 0; t < 2; ++t) {
      NullTracer null;
      scaled.begin_step();
      scaled.update({0, n}, pa, g, 1e-2f, factor, null);
      first.begin_step();
      first.update({0, n}, pb, clipped, 1e-2f);
    }
    EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), n * sizeof(float)));
    EXPECT_EQ(g, g_before);
  };
  AdamW a({}, tensors, n), b({}, tensors, n);
  check(a, b, "adamw");
  SgdMomentum sa({0.9f, 0.1f}, tensors, n), sb({0.9f, 0.1f}, tensors, n);
  check(sa, sb, "sgd");
  Lion la({}, tensors, n), lb({}, tensors, n);
  check(la, lb, "lion");
}

TEST(Optimizers, ClipGradNormScalesToMaxNorm) {
  std::vector<float> g = {3.0f, 4.0f, 0.0f, 0.0f};
  EXPECT_DOUBLE_EQ(grad_norm(g), 5.0);
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 1.0), 5.0);
  EXPECT_NEAR(g[0], 3.0 / (5.0 + 1e-6), 1e-7);
  EXPECT_NEAR(g[1], 4.0 / (5.0 + 1e-6), 1e-7);
  std::vector<float> small = {0.3f, 0.4f};
  EXPECT_NEAR(clip_grad_norm(small, 1.0), 0.5, 1e-7);
  EXPECT_EQ(small[0], 0.3f);  // under the threshold: untouched
  std::vector<float> big = random_vector(100003, 9);
  double ref = 0;
  for (float x : big) ref += double(x) * x;
  EXPECT_NEAR(grad_norm(big), std::sqrt(ref), 1e-9 * std::sqrt(ref));
}

// grad_norm (the clone cpuid picks) against the same sums written out element by element: 64 chunks
// of n*c/64 .. n*(c+1)/64, each in 8 partial sums by i mod 8 from the chunk start, lanes added
// 0..7, chunks added 0..63. Bitwise, with 1 and 2 threads.
TEST(Optimizers, GradNormEqualsItsOrderWrittenOutBitwise) {
  for (std::size_t n : {std::size_t{9}, std::size_t{100003}, std::size_t{804096}}) {
    const std::vector<float> g = random_vector(n, 21);
    double total = 0.0;
    for (std::size_t c = 0; c < 64; ++c) {
      const std::size_t b = n * c / 64, e = n * (c + 1) / 64;
      double lane[8] = {};
      for (std::size_t i = b; i < e; ++i) lane[(i - b) % 8] += double(g[i]) * double(g[i]);
      double chunk = 0.0;
      for (double x : lane) chunk += x;
      total += chunk;
    }
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      EXPECT_EQ(grad_norm(g), std::sqrt(total)) << n << " elements, " << threads << " threads";
    }
  }
}

// Three AdamW steps on a three-tensor layout, every element against AdamW's formula in float.
void adamw_against_scalar_formula() {
  const std::vector<ParamTensor> tensors = {ParamTensor{"w", 0, 50001, 7, 7143, 0, true},
                                            ParamTensor{"b", 50001, 37, 1, 37, 0, false},
                                            ParamTensor{"u", 50038, 20011, 1, 20011, 0, true}};
  const std::size_t n = 70049;
  const AdamWConfig cfg{0.9f, 0.99f, 1e-8f, 0.1f};
  AdamW opt(cfg, tensors, n);
  std::vector<float> p = random_vector(n, 4), ps = p, m(n, 0.0f), v(n, 0.0f);
  for (int t = 1; t <= 3; ++t) {
    const std::vector<float> g = random_vector(n, 30 + t);
    const float lr = 1e-3f * static_cast<float>(t);
    opt.begin_step();
    opt.update({0, n}, p, g, lr);
    const float bc1 = 1.0f - std::pow(cfg.beta1, static_cast<float>(t));
    const float bc2 = 1.0f - std::pow(cfg.beta2, static_cast<float>(t));
    for (std::size_t i = 0; i < n; ++i) {
      const bool decay = i < 50001 || i >= 50038;
      const float shrink = decay ? 1.0f - lr * cfg.weight_decay : 1.0f;
      m[i] = cfg.beta1 * m[i] + (1.0f - cfg.beta1) * g[i];
      v[i] = cfg.beta2 * v[i] + (1.0f - cfg.beta2) * (g[i] * g[i]);
      const float mhat = m[i] / bc1;
      const float vhat = v[i] / bc2;
      ps[i] = ps[i] * shrink - lr * (mhat / (std::sqrt(vhat) + cfg.eps));
    }
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], ps[i]) << "step " << t << " at " << i;
  }
}

// AdamW's vectorized block (the clone cpuid picks: AVX-512, AVX2 or SSE) against the scalar
// formula in float, operation by operation, bitwise, with 1 and 2 threads: odd tensor sizes put
// elements in every tail, the large one spans several parallel blocks, the 37-element one sits
// between two blocks of the region.
TEST(Optimizers, AdamWVectorPathsGiveTheScalarFormulasBits) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    adamw_against_scalar_formula();
  }
}

TEST(Optimizers, NanoGptScheduleWarmupCosineFloor) {
  const double lr = 1e-3, min_lr = 1e-4;
  EXPECT_DOUBLE_EQ(nanogpt_lr(0, lr, min_lr, 100, 2000), lr * 1 / 101);
  EXPECT_DOUBLE_EQ(nanogpt_lr(99, lr, min_lr, 100, 2000), lr * 100 / 101);
  EXPECT_DOUBLE_EQ(nanogpt_lr(100, lr, min_lr, 100, 2000), lr);
  EXPECT_NEAR(nanogpt_lr(1050, lr, min_lr, 100, 2000), (lr + min_lr) / 2, 1e-15);
  EXPECT_NEAR(nanogpt_lr(2000, lr, min_lr, 100, 2000), min_lr, 1e-15);
  EXPECT_DOUBLE_EQ(nanogpt_lr(2001, lr, min_lr, 100, 2000), min_lr);
}

}  // namespace
}  // namespace cube::gpt
