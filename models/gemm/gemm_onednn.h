// cube/models/gemm/gemm_onednn.h: the oneDNN backend of gemm.h (internal to models/gemm).
#pragma once

#include <cstddef>

#include "models/gemm/gemm.h"

namespace cube::gpt::detail {

// True when built with oneDNN (CUBE_HAVE_ONEDNN) and its library opens (on the first call).
bool onednn_built_in();

// C (+)= A·B through oneDNN's sgemm when both operands are BLAS matrices (one of their strides is
// 1); returns false, computing nothing, otherwise (the caller then runs cube's kernels).
// C is cut along its longer side into blocks that depend on (M, N) only; each block is one
// single-threaded sgemm call, the blocks spread over the OpenMP threads: same bits at any thread
// count. Preconditions: M, N, K > 0; called outside parallel regions.
bool onednn_gemm(int M, int N, int K, ConstStrided a, ConstStrided b, float* c, std::ptrdiff_t ldc,
                 bool accumulate);

}  // namespace cube::gpt::detail
