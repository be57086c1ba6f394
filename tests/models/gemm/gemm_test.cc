// Tests of the GPT GEMM kernel against a naive product, and of the peak measurements.
#include "models/gemm/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "models/gemm/gemm_peak.h"
#include "tests/models/random_vector.h"

namespace cube::gpt {
namespace {

using test::random_vector;

// Every shape class the model uses: tails in M (not a multiple of 6) and N (not of 16), K over
// one 256-deep slice, transposed and strided operands, accumulation, serial and parallel.
TEST(Gemm, MatchesNaiveProductForStridesTailsAndAccumulation) {
  struct Shape {
    int M, N, K;
  };
  for (Shape s : {Shape{1, 1, 1}, Shape{7, 17, 5}, Shape{65, 128, 768}, Shape{768, 65, 128},
                  Shape{96, 48, 300}, Shape{13, 33, 0}}) {
    for (int layout = 0; layout < 3; ++layout) {
      for (bool accumulate : {false, true}) {
        for (bool parallel : {false, true}) {
          const std::size_t lda = s.K + 3, ldb = s.N + 2;
          std::vector<float> a =
              random_vector(static_cast<std::size_t>(s.M + 1) * (s.K + 3) + 8, 1);
          std::vector<float> b =
              random_vector(static_cast<std::size_t>(s.K + 2) * (s.N + 2) + 8, 2);
          // layout 0: A row-major (lda), B row-major (ldb); 1: B given transposed (N x K);
          // 2: A given transposed (K x M).
          ConstStrided sa{a.data(), static_cast<std::ptrdiff_t>(lda), 1};
          ConstStrided sb{b.data(), static_cast<std::ptrdiff_t>(ldb), 1};
          if (layout == 1) sb = {b.data(), 1, s.K + 2};
          if (layout == 2) sa = {a.data(), 1, s.M + 1};
          const std::ptrdiff_t ldc = s.N + 1;
          std::vector<float> c = random_vector(static_cast<std::size_t>(s.M) * ldc, 3);
          const std::vector<float> c0 = c;
          gemm(s.M, s.N, s.K, sa, sb, c.data(), ldc, accumulate, parallel);
          double max_err = 0;
          for (int i = 0; i < s.M; ++i) {
            for (int j = 0; j < s.N; ++j) {
              double ref = accumulate ? c0[i * ldc + j] : 0.0;
              for (int p = 0; p < s.K; ++p) {
                ref += double(sa.data[i * sa.rs + p * sa.cs]) * sb.data[p * sb.rs + j * sb.cs];
              }
              max_err = std::max(max_err, std::fabs(ref - c[i * ldc + j]));
            }
            // The padding column of C is untouched.
            EXPECT_EQ(c[i * ldc + s.N], c0[i * ldc + s.N]);
          }
          // float32 sums of K products of |x| <= 1: error ~ K * 2^-24 * sqrt(K) at worst.
          EXPECT_LE(max_err, 1e-6 * (s.K + 1) + 1e-6)
              << s.M << "x" << s.N << "x" << s.K << " layout " << layout;
        }
      }
    }
  }
}

// The AVX-512 kernel (12 x 16 tiles) and the AVX2 one (6 x 16) compute every element by the same
// fused multiply-adds in the same order: the same bits on every shape, in one process, with 1 and
// 2 threads. Runs the comparison only where the CPU has AVX-512.
TEST(Gemm, Avx512AndAvx2PathsGiveTheSameBits) {
  if (best_gemm_path() != GemmPath::kAvx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  struct Shape {
    int M, N, K;
  };
  for (Shape s : {Shape{1, 1, 1}, Shape{13, 17, 5}, Shape{25, 31, 700}, Shape{768, 192, 64},
                  Shape{96, 48, 300}, Shape{11, 16, 257}}) {
    for (bool accumulate : {false, true}) {
      for (bool parallel : {false, true}) {
        const std::vector<float> a = random_vector(static_cast<std::size_t>(s.M) * s.K, 3);
        const std::vector<float> b = random_vector(static_cast<std::size_t>(s.K) * s.N, 4);
        const std::vector<float> c0 = random_vector(static_cast<std::size_t>(s.M) * s.N, 5);
        std::vector<std::vector<float>> out;
        for (GemmPath path : {GemmPath::kAvx2, GemmPath::kAvx512}) {
          set_gemm_path(path);
          ASSERT_EQ(gemm_path(), path);
          out.push_back(c0);
          gemm(s.M, s.N, s.K, {a.data(), s.K, 1}, {b.data(), s.N, 1}, out.back().data(), s.N,
               accumulate, parallel);
        }
        set_gemm_path(best_gemm_path());
        for (std::size_t i = 0; i < out[0].size(); ++i)
          ASSERT_EQ(out[0][i], out[1][i]) << s.M << "x" << s.N << "x" << s.K << " at " << i;
      }
    }
  }
}

TEST(Gemm, PathsTheCpuCannotRunAreRefused) {
  EXPECT_NO_THROW(set_gemm_path(GemmPath::kPortable));
  EXPECT_EQ(gemm_path(), GemmPath::kPortable);
  if (best_gemm_path() != GemmPath::kAvx512) {
    EXPECT_THROW(set_gemm_path(GemmPath::kAvx512), Error);
  }
  set_gemm_path(best_gemm_path());
  EXPECT_EQ(gemm_path(), best_gemm_path());
}

TEST(Gemm, PeakMeasurementsArePositive) {
  const double g = measure_gemm_peak_gflops(1);
  EXPECT_GT(g, 0.1);
  EXPECT_TRUE(std::isfinite(g));
  const double fma = measure_fma_peak_gflops(1);
  if (gemm_uses_avx2()) {
    EXPECT_GT(fma, 0.1);
    EXPECT_TRUE(std::isfinite(fma));
  } else {
    EXPECT_EQ(fma, 0.0);
  }
  EXPECT_EQ(measure_fma_peak_gflops(1, GemmPath::kPortable), 0.0);
}

// The GEMM and the FMA ceiling take the widest ISA cpuid reports, so that MFU is not measured
// against an AVX2 loop on an AVX-512 machine.
TEST(Gemm, FmaCeilingUsesTheWidestIsaTheCpuReports) {
  __builtin_cpu_init();
  const GemmPath isa = best_gemm_path();
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_EQ(isa, GemmPath::kAvx512);
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_EQ(isa, GemmPath::kAvx2);
  } else {
    EXPECT_EQ(isa, GemmPath::kPortable);
  }
  EXPECT_STREQ(to_string(GemmPath::kAvx512), "avx512");
  EXPECT_STREQ(to_string(GemmPath::kAvx2), "avx2");
  EXPECT_STREQ(to_string(GemmPath::kPortable), "portable");
}

}  // namespace
}  // namespace cube::gpt
