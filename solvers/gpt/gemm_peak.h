// cube/solvers/gpt/gemm_peak.h: the machine's float32 GEMM throughput as the GPT model reaches
// it, the denominator of model FLOPs utilisation (MFU).
#pragma once

namespace cube::gpt {

// Best-of-repeats GFLOP/s (2*M*N*K / seconds) of gemm_nt (out = in · Wᵀ, the Linear layout of
// gemm.h) on 1536 x 512 -> 512 float matrices, with `threads` OpenMP threads (>= 1); the thread
// count in force before the call is restored. Takes about 0.3 s. Not deterministic (a timing).
double measure_gemm_peak_gflops(int threads);

}  // namespace cube::gpt
