// cube/models/gemm/gemm_peak.h: the machine's float32 GEMM throughput as the GPT model reaches
// it, the denominator of model FLOPs utilisation (MFU).
#pragma once

#include "models/gemm/gemm.h"

namespace cube::gpt {

// Best-of-repeats GFLOP/s (2*M*N*K / seconds) of gemm_nt (out = in · Wᵀ, the Linear layout of
// gemm.h) on 1536 x 512 -> 512 float matrices, with `threads` OpenMP threads (>= 1); the thread
// count in force before the call is restored. Takes about 0.3 s. Not deterministic (a timing).
double measure_gemm_peak_gflops(int threads);

// The float32 arithmetic ceiling of the machine: best-of-repeats GFLOP/s of twelve independent
// chains of fused multiply-adds (2 flops per lane) in registers on each of `threads` OpenMP
// threads, in the widest ISA (best_gemm_path() of gemm.h: AVX-512F with 16 lanes, else AVX2+FMA
// with 8), or the one given (it must be supported), i.e. cores x FMA pipes x 2 x lanes x clock.
// No memory traffic; 0 for GemmPath::kPortable. Best of three runs of 5 million iterations each:
// about 25 ms on 2 Zen 5 cores, within 1 % of four times as many (it is part of every timed GPT
// run, which measures it once). Not deterministic (a timing).
double measure_fma_peak_gflops(int threads);
double measure_fma_peak_gflops(int threads, GemmPath isa);

}  // namespace cube::gpt
