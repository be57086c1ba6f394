// cube/models/gemm/gemm_peak.cc: times gemm_nt on a large square-ish shape for MFU (gemm_peak.h).
#include "models/gemm/gemm_peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/rng.h"
#include "models/gemm/gemm.h"

namespace cube::gpt {

double measure_gemm_peak_gflops(int threads) {
  constexpr int M = 1536, N = 512, K = 512;
  std::vector<float> in(static_cast<std::size_t>(M) * K), w(static_cast<std::size_t>(N) * K),
      out(static_cast<std::size_t>(M) * N);
  Rng rng(1);
  for (float& x : in) x = static_cast<float>(rng.uniform() - 0.5);
  for (float& x : w) x = static_cast<float>(rng.uniform() - 0.5);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(std::max(1, threads));
  double best = 1e30;
  for (int rep = 0; rep < 40; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    gemm_nt(M, N, K, in.data(), w.data(), out.data(), false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  omp_set_num_threads(saved);
  return 2.0 * M * N * K / best * 1e-9;
}

namespace {

// Returns a value that depends on every chain so that the loop is not removed.
__attribute__((target("avx2,fma"))) float fma_chains(long iterations) {
  // Distinct starting values: equal chains could be merged by the compiler into one.
  __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f),
         a3 = _mm256_set1_ps(1.3f), a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f),
         a6 = _mm256_set1_ps(1.6f), a7 = _mm256_set1_ps(1.7f), a8 = _mm256_set1_ps(1.8f),
         a9 = _mm256_set1_ps(1.9f), a10 = _mm256_set1_ps(2.0f), a11 = _mm256_set1_ps(2.1f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c);
    a1 = _mm256_fmadd_ps(a1, m, c);
    a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c);
    a4 = _mm256_fmadd_ps(a4, m, c);
    a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c);
    a7 = _mm256_fmadd_ps(a7, m, c);
    a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c);
    a10 = _mm256_fmadd_ps(a10, m, c);
    a11 = _mm256_fmadd_ps(a11, m, c);
  }
  const __m256 s =
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                  _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
                    _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  return lanes[0];
}

// The same twelve chains 16 wide: a core with two 512-bit FMA pipes (Zen 5, Sapphire Rapids)
// retires twice the flops of the 8-wide loop; one with a single or split pipe (Zen 4) about the
// same, which is why the loop is measured and not assumed.
__attribute__((target("avx512f"))) float fma_chains_512(long iterations) {
  __m512 a0 = _mm512_set1_ps(1.0f), a1 = _mm512_set1_ps(1.1f), a2 = _mm512_set1_ps(1.2f),
         a3 = _mm512_set1_ps(1.3f), a4 = _mm512_set1_ps(1.4f), a5 = _mm512_set1_ps(1.5f),
         a6 = _mm512_set1_ps(1.6f), a7 = _mm512_set1_ps(1.7f), a8 = _mm512_set1_ps(1.8f),
         a9 = _mm512_set1_ps(1.9f), a10 = _mm512_set1_ps(2.0f), a11 = _mm512_set1_ps(2.1f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i) {
    a0 = _mm512_fmadd_ps(a0, m, c);
    a1 = _mm512_fmadd_ps(a1, m, c);
    a2 = _mm512_fmadd_ps(a2, m, c);
    a3 = _mm512_fmadd_ps(a3, m, c);
    a4 = _mm512_fmadd_ps(a4, m, c);
    a5 = _mm512_fmadd_ps(a5, m, c);
    a6 = _mm512_fmadd_ps(a6, m, c);
    a7 = _mm512_fmadd_ps(a7, m, c);
    a8 = _mm512_fmadd_ps(a8, m, c);
    a9 = _mm512_fmadd_ps(a9, m, c);
    a10 = _mm512_fmadd_ps(a10, m, c);
    a11 = _mm512_fmadd_ps(a11, m, c);
  }
  const __m512 s =
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                  _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
                    _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  return lanes[0];
}

}  // namespace

double measure_fma_peak_gflops(int threads) {
  return measure_fma_peak_gflops(threads, best_gemm_path());
}

double measure_fma_peak_gflops(int threads, GemmPath isa) {
  if (isa == GemmPath::kPortable) return 0.0;
  const int lanes = isa == GemmPath::kAvx512 ? 16 : 8;
  constexpr long kIterations = 5'000'000;
  const int n = std::max(1, threads);
  double best = 1e30;
  float sink = 0.0f;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(n) reduction(+ : sink)
    sink += isa == GemmPath::kAvx512 ? fma_chains_512(kIterations) : fma_chains(kIterations);
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (sink == 0.0f) return 0.0;  // never: each chain tends to 0.1, the sum to 1.2 per thread
  return 12.0 * lanes * 2 * kIterations * n / best * 1e-9;
}

}  // namespace cube::gpt
