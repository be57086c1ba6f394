// cube/models/gemm/gemm_peak.h: the machine's float32 GEMM throughput as the GPT model reaches
// it, the denominator of model FLOPs utilisation (MFU).
#pragma once

namespace cube::gpt {

// Best-of-repeats GFLOP/s (2*M*N*K / seconds) of gemm_nt (out = in · Wᵀ, the Linear layout of
// gemm.h) on 1536 x 512 -> 512 float matrices, with `threads` OpenMP threads (>= 1); the thread
// count in force before the call is restored. Takes about 0.3 s. Not deterministic (a timing).
double measure_gemm_peak_gflops(int threads);

// The float32 arithmetic ceiling under the GEMM: best-of-repeats GFLOP/s of twelve independent
// chains of 8-wide fused multiply-adds (2 flops per lane) in registers on each of `threads`
// OpenMP threads, i.e. cores x 2 FMA pipes x 16 flops x clock on a Zen 3 or Skylake core. No
// memory traffic; 0 when the CPU lacks AVX2+FMA. Takes about 0.2 s. Not deterministic.
double measure_fma_peak_gflops(int threads);

}  // namespace cube::gpt
