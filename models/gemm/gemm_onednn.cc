// cube/models/gemm/gemm_onednn.cc: gemm.h's products through oneDNN's sgemm, in blocks fixed by
// the shape so that the thread count never changes the bits.
#include "models/gemm/gemm_onednn.h"

#include <omp.h>

#include <algorithm>

#ifdef CUBE_HAVE_ONEDNN
#include <dlfcn.h>
#include <dnnl.h>
#endif

namespace cube::gpt::detail {

#ifdef CUBE_HAVE_ONEDNN

namespace {

// A strided operand as BLAS sees it (row-major): 'N' with leading dimension rs when its columns
// are contiguous, 'T' with leading dimension cs when its rows are.
struct BlasOperand {
  char trans;
  dnnl_dim_t ld;
};

bool as_blas(ConstStrided m, int rows, int cols, BlasOperand& out) {
  if (m.cs == 1 && (rows == 1 || m.rs >= cols)) {
    out = {'N', std::max<dnnl_dim_t>(m.rs, cols)};
    return true;
  }
  if (m.rs == 1 && (cols == 1 || m.cs >= rows)) {
    out = {'T', std::max<dnnl_dim_t>(m.cs, rows)};
    return true;
  }
  return false;
}

// oneDNN's sgemm, from the library opened on first use (nullptr when it cannot be opened: cube's
// kernels run then). The prototype comes from dnnl.h, so a changed signature fails to compile.
using SgemmFunction = decltype(&dnnl_sgemm);

SgemmFunction sgemm() {
  static const SgemmFunction function = []() -> SgemmFunction {
    void* library = dlopen(CUBE_ONEDNN_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) return nullptr;
    return reinterpret_cast<SgemmFunction>(dlsym(library, "dnnl_sgemm"));
  }();
  return function;
}

// Blocks along the longer side of C: a power of two near side / 128, 2 to 16 (768 -> 4,
// 512 -> 4, 128 -> 2), each a multiple of 16 wide; a function of the shape only. On the exam's
// products with 2 threads, 4 blocks of 192 rows ran within 5 % of oneDNN's own threading, 9-10 %
// slower on lm_head and the 128 x 128 weight gradient (docs/performance.md).
int block_count(int side) {
  if (side < 32) return 1;
  int blocks = 2;
  while (blocks < 16 && side / (2 * blocks) >= 128) blocks *= 2;
  return blocks;
}

}  // namespace

bool onednn_built_in() { return sgemm() != nullptr; }

bool onednn_gemm(int M, int N, int K, ConstStrided a, ConstStrided b, float* c, std::ptrdiff_t ldc,
                 bool accumulate) {
  BlasOperand oa{}, ob{};
  if (!as_blas(a, M, K, oa) || !as_blas(b, K, N, ob) || ldc < N) return false;
  const bool split_rows = M >= N;
  const int side = split_rows ? M : N;
  const int blocks = block_count(side);
  const int width = ((side + blocks - 1) / blocks + 15) / 16 * 16;
  const float beta = accumulate ? 1.0f : 0.0f;
  const SgemmFunction call_sgemm = sgemm();
  if (call_sgemm == nullptr) return false;
  auto run_block = [&](int blk) {
    const int d0 = blk * width, d1 = std::min(side, d0 + width);
    if (d0 >= d1) return;
    if (split_rows) {
      const float* ab = a.data + static_cast<std::ptrdiff_t>(d0) * a.rs;
      call_sgemm(oa.trans, ob.trans, d1 - d0, N, K, 1.0f, ab, oa.ld, b.data, ob.ld, beta,
                 c + d0 * ldc, ldc);
    } else {
      const float* bb = b.data + static_cast<std::ptrdiff_t>(d0) * b.cs;
      call_sgemm(oa.trans, ob.trans, M, d1 - d0, K, 1.0f, a.data, oa.ld, bb, ob.ld, beta, c + d0,
                 ldc);
    }
  };
  const int threads = std::min(blocks, omp_get_max_threads());
  // oneDNN reads the calling task's thread count: setting it to 1 inside each task makes every
  // block one single-threaded call, whether the team is of one thread or of many.
#pragma omp parallel num_threads(threads)
  {
    omp_set_num_threads(1);
#pragma omp for schedule(static)
    for (int blk = 0; blk < blocks; ++blk) run_block(blk);
  }
  return true;
}

#else

bool onednn_built_in() { return false; }

bool onednn_gemm(int, int, int, ConstStrided, ConstStrided, float*, std::ptrdiff_t, bool) {
  return false;
}

#endif

}  // namespace cube::gpt::detail
