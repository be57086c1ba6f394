// cube/solvers/gpt/gemm_peak.cc: times gemm_nt on a large square-ish shape for MFU (gemm_peak.h).
#include "solvers/gpt/gemm_peak.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/rng.h"
#include "solvers/gpt/gemm.h"

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

}  // namespace cube::gpt
