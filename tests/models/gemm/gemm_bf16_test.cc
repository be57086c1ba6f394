// Tests of the bfloat16 GEMM against a slow reference that rounds the operands the same way and
// sums each pair in the documented order, and of the conversions.
#include "models/gemm/gemm_bf16.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"
#include "tests/models/random_vector.h"

namespace cube::gpt {
namespace {

using test::random_vector;

std::vector<Bf16Path> runnable_paths() {
  std::vector<Bf16Path> paths{Bf16Path::kPortable};
  if (best_bf16_path() == Bf16Path::kAvx512Bf16) paths.push_back(Bf16Path::kAvx512Bf16);
  return paths;
}

class PathGuard {
 public:
  explicit PathGuard(Bf16Path path) : saved_(bf16_path()) { set_bf16_path(path); }
  ~PathGuard() { set_bf16_path(saved_); }

 private:
  Bf16Path saved_;
};

// The conversion by its definition, through double: the nearest bfloat16, ties to even.
Bf16 to_bf16_by_definition(float x) {
  if (std::isnan(x)) return to_bf16(x);
  std::uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const std::uint32_t down = bits & 0xffff0000u;
  const std::uint32_t up = down + 0x10000u;
  float fd, fu;
  std::memcpy(&fd, &down, 4);
  std::memcpy(&fu, &up, 4);
  const double dd = std::fabs(static_cast<double>(x) - fd);
  const double du = std::fabs(static_cast<double>(fu) - x);
  if (std::isinf(fu) && !std::isinf(x)) {  // IEEE overflow: from half an ulp past the largest
    return static_cast<Bf16>((dd >= std::ldexp(1.0, 119) ? up : down) >> 16);
  }
  if (dd < du) return static_cast<Bf16>(down >> 16);
  if (du < dd) return static_cast<Bf16>(up >> 16);
  return static_cast<Bf16>(((down >> 16) & 1u) == 0 ? down >> 16 : up >> 16);
}

TEST(Bf16, ConversionRoundsToNearestEvenAndKeepsNan) {
  std::vector<float> xs = random_vector(4096, 7);
  for (float& x : xs) x *= 1000.0f;
  xs.push_back(0.0f);
  xs.push_back(-0.0f);
  xs.push_back(1.0f + 1.0f / 256.0f);  // a tie: rounds down to even
  xs.push_back(1.0f + 3.0f / 256.0f);  // a tie: rounds up to even
  xs.push_back(std::numeric_limits<float>::infinity());
  xs.push_back(std::numeric_limits<float>::max());  // rounds up to infinity
  xs.push_back(std::numeric_limits<float>::quiet_NaN());
  for (float x : xs) {
    SCOPED_TRACE(x);
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(from_bf16(to_bf16(x))));
    } else {
      EXPECT_EQ(to_bf16(x), to_bf16_by_definition(x));
    }
  }
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 1.0f / 256.0f)), 1.0f);
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 3.0f / 256.0f)), 1.0f + 4.0f / 256.0f);
  for (Bf16Path path : runnable_paths()) {
    PathGuard guard(path);
    std::vector<Bf16> bulk(xs.size());
    to_bf16(xs.data(), bulk.data(), xs.size());
    std::vector<float> back(xs.size());
    from_bf16(bulk.data(), back.data(), xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      EXPECT_EQ(bulk[i], to_bf16(xs[i])) << to_string(path) << " at " << i;
      if (!std::isnan(xs[i])) {
        EXPECT_EQ(back[i], from_bf16(to_bf16(xs[i])));
      }
    }
  }
}

// C[i,j] by the documented order: per pair q, + odd product, + even product, in float32.
float reference_element(int i, int j, int K, const MixedStrided& a, const MixedStrided& b) {
  float acc = 0.0f;
  auto r = [](float x) { return from_bf16(to_bf16(x)); };
  for (int q = 0; 2 * q < K; ++q) {
    const float ao = 2 * q + 1 < K ? r(a.at(i, 2 * q + 1)) : 0.0f;
    const float bo = 2 * q + 1 < K ? r(b.at(2 * q + 1, j)) : 0.0f;
    acc = acc + ao * bo;
    acc = acc + r(a.at(i, 2 * q)) * r(b.at(2 * q, j));
  }
  return acc;
}

struct Shape {
  int M, N, K;
};

// Every operand kind the model uses (float32 or bfloat16; rows contiguous, transposed, strided
// views), tails in M (not a multiple of 12), N (not of 16) and odd K, accumulation, bfloat16 C,
// serial and parallel: bit-equal to the reference on both paths (values well away from the
// subnormal range, where the paths are documented to differ).
TEST(GemmBf16, MatchesTheReferenceBitForBitOnEveryPath) {
  for (Bf16Path path : runnable_paths()) {
    PathGuard guard(path);
    for (Shape s : {Shape{1, 1, 1}, Shape{13, 17, 5}, Shape{25, 33, 64}, Shape{200, 65, 128},
                    Shape{50, 40, 768}, Shape{37, 130, 129}}) {
      for (int layout = 0; layout < 4; ++layout) {
        for (int kinds = 0; kinds < 4; ++kinds) {
          const bool a16 = kinds & 1, b16 = kinds & 2;
          SCOPED_TRACE(testing::Message()
                       << to_string(path) << " " << s.M << "x" << s.N << "x" << s.K << " layout "
                       << layout << " a16 " << a16 << " b16 " << b16);
          const std::ptrdiff_t lda = s.K + 2, ldat = s.M + 3, ldb = s.N + 4, ldbt = s.K + 1;
          std::vector<float> af =
              random_vector(static_cast<std::size_t>(s.M + 3) * (2 * s.K + 4), 1);
          std::vector<float> bf = random_vector(static_cast<std::size_t>(s.K + 2) * (s.N + 4), 2);
          std::vector<Bf16> ah(af.size()), bh(bf.size());
          to_bf16(af.data(), ah.data(), af.size());
          to_bf16(bf.data(), bh.data(), bf.size());
          auto view = [](bool half, const std::vector<float>& f, const std::vector<Bf16>& h,
                         std::ptrdiff_t rs, std::ptrdiff_t cs) {
            return half ? MixedStrided::b16(h.data(), rs, cs) : MixedStrided::f32(f.data(), rs, cs);
          };
          // layout 0: both row-major; 1: B transposed; 2: A transposed; 3: A with column stride 2.
          MixedStrided a = view(a16, af, ah, lda, 1);
          MixedStrided b = view(b16, bf, bh, ldb, 1);
          if (layout == 1) b = view(b16, bf, bh, 1, ldbt);
          if (layout == 2) a = view(a16, af, ah, 1, ldat);
          if (layout == 3) a = view(a16, af, ah, 2 * s.K + 4, 2);
          for (int mode = 0; mode < 3; ++mode) {  // 0 overwrite, 1 accumulate, 2 bfloat16 C
            for (bool parallel : {false, true}) {
              const std::ptrdiff_t ldc = s.N + 1;
              std::vector<float> c = random_vector(static_cast<std::size_t>(s.M) * ldc, 3);
              const std::vector<float> c0 = c;
              std::vector<Bf16> ch(c.size(), 0x7fc0);
              const MixedOutput out =
                  mode == 2 ? MixedOutput::b16(ch.data(), ldc) : MixedOutput::f32(c.data(), ldc);
              gemm_bf16(s.M, s.N, s.K, a, b, out, mode == 1, parallel);
              int wrong = 0;
              for (int i = 0; i < s.M && wrong < 3; ++i) {
                for (int j = 0; j < s.N && wrong < 3; ++j) {
                  const float ref = reference_element(i, j, s.K, a, b);
                  const std::size_t at = static_cast<std::size_t>(i) * ldc + j;
                  if (mode == 2) {
                    if (ch[at] != to_bf16(ref)) ++wrong;
                  } else {
                    const float want = mode == 1 ? c0[at] + ref : ref;
                    if (c[at] != want) {
                      ADD_FAILURE()
                          << "C(" << i << "," << j << ") = " << c[at] << ", want " << want;
                      ++wrong;
                    }
                  }
                }
              }
              EXPECT_EQ(wrong, 0) << "mode " << mode << " parallel " << parallel;
              // Columns past N are never written.
              if (mode != 2) {
                for (int i = 0; i < s.M; ++i) EXPECT_EQ(c[i * ldc + s.N], c0[i * ldc + s.N]);
              }
            }
          }
        }
      }
    }
  }
}

// A map on the operands (a fused prologue) gives the product of the mapped operands, rounded as
// packed, on every layout and path: the reference widens, maps, then rounds each element.
TEST(GemmBf16, MappedOperandsAreMappedThenRounded) {
  auto square_shift = [](float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) x[i] = x[i] * x[i] - 0.25f;
  };
  for (Bf16Path path : runnable_paths()) {
    PathGuard guard(path);
    for (Shape s : {Shape{13, 17, 5}, Shape{37, 40, 300}}) {
      for (int layout = 0; layout < 3; ++layout) {
        for (bool half : {false, true}) {
          SCOPED_TRACE(testing::Message() << to_string(path) << " " << s.M << "x" << s.N << "x"
                                          << s.K << " layout " << layout << " half " << half);
          std::vector<float> af = random_vector(static_cast<std::size_t>(s.M + 2) * (s.K + 2), 8);
          std::vector<float> bf = random_vector(static_cast<std::size_t>(s.K + 2) * (s.N + 2), 9);
          std::vector<Bf16> ah(af.size()), bh(bf.size());
          to_bf16(af.data(), ah.data(), af.size());
          to_bf16(bf.data(), bh.data(), bf.size());
          MixedStrided a = half ? MixedStrided::b16(ah.data(), s.K + 2, 1)
                                : MixedStrided::f32(af.data(), s.K + 2, 1);
          MixedStrided b = half ? MixedStrided::b16(bh.data(), s.N + 2, 1)
                                : MixedStrided::f32(bf.data(), s.N + 2, 1);
          if (layout == 1)
            b = half ? MixedStrided::b16(bh.data(), 1, s.K + 2)
                     : MixedStrided::f32(bf.data(), 1, s.K + 2);
          if (layout == 2)
            a = half ? MixedStrided::b16(ah.data(), 1, s.M + 2)
                     : MixedStrided::f32(af.data(), 1, s.M + 2);
          a = a.mapped(square_shift);
          b = b.mapped(square_shift);
          std::vector<float> c(static_cast<std::size_t>(s.M) * s.N);
          gemm_bf16(s.M, s.N, s.K, a, b, MixedOutput::f32(c.data(), s.N), false);
          int wrong = 0;
          for (int i = 0; i < s.M; ++i) {
            for (int j = 0; j < s.N; ++j) {
              wrong +=
                  c[static_cast<std::size_t>(i) * s.N + j] != reference_element(i, j, s.K, a, b);
            }
          }
          EXPECT_EQ(wrong, 0);
        }
      }
    }
  }
}

TEST(GemmBf16, SameBitsAtEveryThreadCount) {
  const int M = 768, N = 512, K = 128;
  const std::vector<float> a = random_vector(static_cast<std::size_t>(M) * K, 4);
  const std::vector<float> b = random_vector(static_cast<std::size_t>(N) * K, 5);
  std::vector<float> first;
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 3, 8}) {
    omp_set_num_threads(threads);
    std::vector<float> c(static_cast<std::size_t>(M) * N);
    gemm_bf16(M, N, K, MixedStrided::f32(a.data(), K, 1), MixedStrided::f32(b.data(), 1, K),
              MixedOutput::f32(c.data(), N), false, true);
    if (first.empty()) {
      first = c;
    } else {
      EXPECT_EQ(std::memcmp(first.data(), c.data(), c.size() * sizeof(float)), 0) << threads;
    }
  }
  omp_set_num_threads(saved);
}

TEST(GemmBf16, RefusesToAccumulateIntoBfloat16AndEmptyDepthClears) {
  std::vector<Bf16> c(4, 1);
  std::vector<float> a(4, 1.0f);
  EXPECT_THROW(gemm_bf16(2, 2, 2, MixedStrided::f32(a.data(), 2, 1),
                         MixedStrided::f32(a.data(), 2, 1), MixedOutput::b16(c.data(), 2), true),
               Error);
  std::vector<float> cf(4, 5.0f);
  gemm_bf16(2, 2, 0, MixedStrided::f32(a.data(), 2, 1), MixedStrided::f32(a.data(), 2, 1),
            MixedOutput::f32(cf.data(), 2), false);
  EXPECT_EQ(cf, std::vector<float>(4, 0.0f));
}

}  // namespace
}  // namespace cube::gpt
