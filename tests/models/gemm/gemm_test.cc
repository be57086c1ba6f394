// Tests of the GPT GEMM kernel against a naive product, and of the peak measurements.
#include "models/gemm/gemm.h"

#include <gtest/gtest.h>
#include <omp.h>

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
// The backends this build has: cube's kernels, and oneDNN when built in.
std::vector<GemmBackend> built_backends() {
  std::vector<GemmBackend> backends{GemmBackend::kCube};
  if (onednn_available()) backends.push_back(GemmBackend::kOneDnn);
  return backends;
}

TEST(Gemm, MatchesNaiveProductForStridesTailsAndAccumulation) {
  struct Shape {
    int M, N, K;
  };
  for (GemmBackend backend : built_backends()) {
    SCOPED_TRACE(to_string(backend));
    set_gemm_backend(backend);
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
  set_gemm_backend(default_gemm_backend());
}

// oneDNN's own threading splits K on weight-gradient shapes at 8 or more threads; cube's blocks
// depend on the shape only, so every thread count gives the bits of one thread. The shapes are the
// exam model's products (M = B*T = 768, C = 128) and the names model's (512 x 64), in the three
// layouts the model uses (in·Wᵀ, D·W, Aᵀ·D), overwriting and accumulating.
TEST(Gemm, OneDnnBackendGivesTheSameBitsAtEveryThreadCount) {
  if (!onednn_available()) GTEST_SKIP() << "built without oneDNN";
  struct Shape {
    int M, N, K, layout;  // 0: A·Bᵀ, 1: A·B, 2: Aᵀ·B
  };
  set_gemm_backend(GemmBackend::kOneDnn);
  const int saved_threads = omp_get_max_threads();
  for (Shape s : {Shape{768, 384, 128, 0}, Shape{768, 128, 512, 0}, Shape{768, 65, 128, 0},
                  Shape{768, 128, 512, 1}, Shape{128, 512, 768, 2}, Shape{128, 128, 768, 2},
                  Shape{65, 128, 768, 2}, Shape{128, 128, 3072, 2}, Shape{64, 256, 512, 2},
                  Shape{512, 256, 64, 0}, Shape{5, 7, 9, 1}}) {
    const std::vector<float> a = random_vector(static_cast<std::size_t>(s.M) * s.K, 6);
    const std::vector<float> b = random_vector(static_cast<std::size_t>(s.K) * s.N, 7);
    const std::vector<float> c0 = random_vector(static_cast<std::size_t>(s.M) * s.N, 8);
    const ConstStrided sa =
        s.layout == 2 ? ConstStrided{a.data(), 1, s.M} : ConstStrided{a.data(), s.K, 1};
    const ConstStrided sb =
        s.layout == 0 ? ConstStrided{b.data(), 1, s.K} : ConstStrided{b.data(), s.N, 1};
    for (bool accumulate : {false, true}) {
      std::vector<float> one_thread;
      for (int threads : {1, 2, 3, 8, 16}) {
        omp_set_num_threads(threads);
        std::vector<float> c = c0;
        gemm(s.M, s.N, s.K, sa, sb, c.data(), s.N, accumulate, true);
        if (threads == 1) {
          one_thread = c;
          continue;
        }
        for (std::size_t i = 0; i < c.size(); ++i) {
          ASSERT_EQ(c[i], one_thread[i]) << s.M << "x" << s.N << "x" << s.K << " layout "
                                         << s.layout << ", " << threads << " threads, at " << i;
        }
      }
    }
  }
  omp_set_num_threads(saved_threads);
  set_gemm_backend(default_gemm_backend());
}

// A product over a row range of a B packed once gives the bits of gemm on that range alone,
// for B given row-major and transposed, on every row offset and column count the attention strips
// use (and tails of the 16-column panels), overwriting and accumulating.
TEST(Gemm, PackedBRowRangesGiveTheBitsOfUnpackedProducts) {
  const int K = 64, N = 37, M = 24;
  const std::vector<float> b = random_vector(static_cast<std::size_t>(K) * N, 11);
  const std::vector<float> a = random_vector(static_cast<std::size_t>(M) * K, 12);
  for (bool transposed : {false, true}) {
    // transposed: B(p, j) read from a N x K array, as attention reads Kᵀ from the rows of K.
    const ConstStrided sb =
        transposed ? ConstStrided{b.data(), 1, K} : ConstStrided{b.data(), N, 1};
    PackedB packed;
    packed.pack(K, N, sb);
    for (int p0 : {0, 5, 24, 48}) {
      for (int n : {N, 16, 9}) {
        for (bool accumulate : {false, true}) {
          const int k = K - p0;
          const ConstStrided rows{sb.data + p0 * sb.rs, sb.rs, sb.cs};
          std::vector<float> expected = random_vector(static_cast<std::size_t>(M) * n, 13);
          std::vector<float> got = expected;
          gemm(M, n, k, {a.data(), K, 1}, rows, expected.data(), n, accumulate, false);
          gemm_packed(M, n, k, {a.data(), K, 1}, packed, p0, got.data(), n, accumulate);
          ASSERT_EQ(got, expected) << "p0 " << p0 << ", " << n << " columns";
        }
      }
    }
  }
  PackedB packed;
  packed.pack(K, N, {b.data(), N, 1});
  std::vector<float> c(static_cast<std::size_t>(M) * (N + 1));
  EXPECT_THROW(gemm_packed(M, N, 8, {a.data(), K, 1}, packed, K - 4, c.data(), N, false), Error);
  EXPECT_THROW(gemm_packed(M, N + 1, 8, {a.data(), K, 1}, packed, 0, c.data(), N + 1, false),
               Error);
}

TEST(Gemm, BackendsNotBuiltInAreRefused) {
  EXPECT_NO_THROW(set_gemm_backend(GemmBackend::kCube));
  EXPECT_EQ(gemm_backend(), GemmBackend::kCube);
  if (onednn_available()) {
    EXPECT_EQ(default_gemm_backend(), GemmBackend::kOneDnn);
  } else {
    EXPECT_EQ(default_gemm_backend(), GemmBackend::kCube);
    EXPECT_THROW(set_gemm_backend(GemmBackend::kOneDnn), Error);
  }
  set_gemm_backend(default_gemm_backend());
  EXPECT_EQ(gemm_backend(), default_gemm_backend());
}

// The AVX-512 kernel (12 x 16 tiles) and the AVX2 one (6 x 16) compute every element by the same
// fused multiply-adds in the same order: the same bits on every shape, in one process, with 1 and
// 2 threads. Runs the comparison only where the CPU has AVX-512.
TEST(Gemm, Avx512AndAvx2PathsGiveTheSameBits) {
  if (best_gemm_path() != GemmPath::kAvx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  set_gemm_backend(GemmBackend::kCube);
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
  set_gemm_backend(default_gemm_backend());
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
