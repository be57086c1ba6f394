// cube/models/gemm/gemm.cc: packed-panel float32 GEMM with a 12x16 AVX-512 micro-kernel, a 6x16
// AVX2+FMA one and a portable fallback, and the switch to the oneDNN backend (gemm_onednn.cc) for
// parallel products (see gemm.h). Not a general BLAS: no alpha/beta, no complex, no transposed C.
#include "models/gemm/gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "models/gemm/gemm_onednn.h"

namespace cube::gpt {
namespace {

constexpr int kMaxMr = 12;     // most rows of C per micro-kernel call (the AVX-512 kernel's)
constexpr int kNr = 16;        // columns of C per micro-kernel call (one zmm, two ymm registers)
constexpr int kRowBlock = 48;  // rows per block (whole micro-kernel rows of 6 and of 12): the
                               // B panel stays in L1 across them
constexpr int kKc = 256;       // depth of one K slice

using Kernel = void (*)(int K, const float* a, std::ptrdiff_t rs, std::ptrdiff_t cs,
                        const float* bp, float* c, std::ptrdiff_t ldc, int nc, bool accumulate);

// Writes the MR x 16 tile `acc` (row-major, 16 per row) to C, keeping nc < 16 columns at the
// right edge; adds to C when accumulating.
template <int MR>
inline void store_tile(const float* acc, float* c, std::ptrdiff_t ldc, int nc, bool accumulate) {
  for (int r = 0; r < MR; ++r) {
    float* row = c + r * ldc;
    if (accumulate) {
      for (int j = 0; j < nc; ++j) row[j] += acc[r * kNr + j];
    } else {
      for (int j = 0; j < nc; ++j) row[j] = acc[r * kNr + j];
    }
  }
}

// Twelve named accumulators rather than arrays: GCC keeps arrays of __m256 on the stack.
#define CUBE_GPT_ROW(r)                                 \
  if constexpr (MR > r) {                               \
    const __m256 av = _mm256_broadcast_ss(ap + r * rs); \
    lo##r = _mm256_fmadd_ps(av, b0, lo##r);             \
    hi##r = _mm256_fmadd_ps(av, b1, hi##r);             \
  }
#define CUBE_GPT_SAVE(r)                        \
  if constexpr (MR > r) {                       \
    _mm256_store_ps(tile + r * kNr, lo##r);     \
    _mm256_store_ps(tile + r * kNr + 8, hi##r); \
  }
#define CUBE_GPT_STORE(r)                                     \
  if constexpr (MR > r) {                                     \
    float* row = c + r * ldc;                                 \
    if (accumulate) {                                         \
      lo##r = _mm256_add_ps(_mm256_loadu_ps(row), lo##r);     \
      hi##r = _mm256_add_ps(_mm256_loadu_ps(row + 8), hi##r); \
    }                                                         \
    _mm256_storeu_ps(row, lo##r);                             \
    _mm256_storeu_ps(row + 8, hi##r);                         \
  }

template <int MR>
__attribute__((target("avx2,fma"))) void kernel_avx2(int K, const float* a, std::ptrdiff_t rs,
                                                     std::ptrdiff_t cs, const float* bp, float* c,
                                                     std::ptrdiff_t ldc, int nc, bool accumulate) {
  __m256 lo0 = _mm256_setzero_ps(), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0;
  __m256 lo3 = lo0, hi3 = lo0, lo4 = lo0, hi4 = lo0, lo5 = lo0, hi5 = lo0;
  for (int p = 0; p < K; ++p) {
    const __m256 b0 = _mm256_load_ps(bp + p * kNr);
    const __m256 b1 = _mm256_load_ps(bp + p * kNr + 8);
    const float* ap = a + p * cs;
    CUBE_GPT_ROW(0)
    CUBE_GPT_ROW(1)
    CUBE_GPT_ROW(2)
    CUBE_GPT_ROW(3)
    CUBE_GPT_ROW(4)
    CUBE_GPT_ROW(5)
  }
  if (nc == kNr) {
    CUBE_GPT_STORE(0)
    CUBE_GPT_STORE(1)
    CUBE_GPT_STORE(2)
    CUBE_GPT_STORE(3)
    CUBE_GPT_STORE(4)
    CUBE_GPT_STORE(5)
    return;
  }
  alignas(32) float tile[MR * kNr];
  CUBE_GPT_SAVE(0)
  CUBE_GPT_SAVE(1)
  CUBE_GPT_SAVE(2)
  CUBE_GPT_SAVE(3)
  CUBE_GPT_SAVE(4)
  CUBE_GPT_SAVE(5)
  store_tile<MR>(tile, c, ldc, nc, accumulate);
}
#undef CUBE_GPT_ROW
#undef CUBE_GPT_SAVE
#undef CUBE_GPT_STORE

// Twelve rows of one 16-float zmm accumulator each: with the broadcast of A from memory, twelve
// independent FMA chains keep both 512-bit pipes busy. The per-element arithmetic (a fused
// multiply-add per p, in order, from 0) is the AVX2 kernel's, so both give the same bits.
#define CUBE_GPT_ROW(r) \
  if constexpr (MR > r) acc##r = _mm512_fmadd_ps(_mm512_set1_ps(ap[r * rs]), b, acc##r);
#define CUBE_GPT_STORE(r)                                                             \
  if constexpr (MR > r) {                                                             \
    float* row = c + r * ldc;                                                         \
    if (accumulate) acc##r = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, row), acc##r); \
    _mm512_mask_storeu_ps(row, mask, acc##r);                                         \
  }

template <int MR>
__attribute__((target("avx512f"))) void kernel_avx512(int K, const float* a, std::ptrdiff_t rs,
                                                      std::ptrdiff_t cs, const float* bp, float* c,
                                                      std::ptrdiff_t ldc, int nc, bool accumulate) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0, acc4 = acc0,
         acc5 = acc0, acc6 = acc0, acc7 = acc0, acc8 = acc0, acc9 = acc0, acc10 = acc0,
         acc11 = acc0;
  for (int p = 0; p < K; ++p) {
    const __m512 b = _mm512_load_ps(bp + p * kNr);
    const float* ap = a + p * cs;
    CUBE_GPT_ROW(0)
    CUBE_GPT_ROW(1)
    CUBE_GPT_ROW(2)
    CUBE_GPT_ROW(3)
    CUBE_GPT_ROW(4)
    CUBE_GPT_ROW(5)
    CUBE_GPT_ROW(6)
    CUBE_GPT_ROW(7)
    CUBE_GPT_ROW(8)
    CUBE_GPT_ROW(9)
    CUBE_GPT_ROW(10)
    CUBE_GPT_ROW(11)
  }
  const __mmask16 mask = static_cast<__mmask16>((1u << nc) - 1u);
  CUBE_GPT_STORE(0)
  CUBE_GPT_STORE(1)
  CUBE_GPT_STORE(2)
  CUBE_GPT_STORE(3)
  CUBE_GPT_STORE(4)
  CUBE_GPT_STORE(5)
  CUBE_GPT_STORE(6)
  CUBE_GPT_STORE(7)
  CUBE_GPT_STORE(8)
  CUBE_GPT_STORE(9)
  CUBE_GPT_STORE(10)
  CUBE_GPT_STORE(11)
}
#undef CUBE_GPT_ROW
#undef CUBE_GPT_STORE

template <int MR>
void kernel_portable(int K, const float* a, std::ptrdiff_t rs, std::ptrdiff_t cs, const float* bp,
                     float* c, std::ptrdiff_t ldc, int nc, bool accumulate) {
  alignas(32) float acc[MR * kNr] = {};
  for (int p = 0; p < K; ++p) {
    const float* b = bp + p * kNr;
    for (int r = 0; r < MR; ++r) {
      const float av = a[r * rs + p * cs];
      for (int j = 0; j < kNr; ++j) acc[r * kNr + j] += av * b[j];
    }
  }
  store_tile<MR>(acc, c, ldc, nc, accumulate);
}

struct Kernels {
  Kernel by_rows[kMaxMr + 1];  // by_rows[mr]: the kernel for an mr x 16 tile, mr <= rows
  int rows;                    // rows of a full micro-kernel call
  GemmPath path;
};

Kernels kernels_for(GemmPath path) {
  switch (path) {
    case GemmPath::kAvx512:
      return {{nullptr, kernel_avx512<1>, kernel_avx512<2>, kernel_avx512<3>, kernel_avx512<4>,
               kernel_avx512<5>, kernel_avx512<6>, kernel_avx512<7>, kernel_avx512<8>,
               kernel_avx512<9>, kernel_avx512<10>, kernel_avx512<11>, kernel_avx512<12>},
              12,
              path};
    case GemmPath::kAvx2:
      return {{nullptr, kernel_avx2<1>, kernel_avx2<2>, kernel_avx2<3>, kernel_avx2<4>,
               kernel_avx2<5>, kernel_avx2<6>},
              6,
              path};
    case GemmPath::kPortable:
      break;
  }
  return {{nullptr, kernel_portable<1>, kernel_portable<2>, kernel_portable<3>, kernel_portable<4>,
           kernel_portable<5>, kernel_portable<6>},
          6,
          GemmPath::kPortable};
}

Kernels& kernels() {
  static Kernels k = kernels_for(best_gemm_path());
  return k;
}

// Handles the products with nothing to sum: an empty C, or K <= 0 (C = 0 unless accumulating).
// True when the product is done.
bool empty_product(int M, int N, int K, float* c, std::ptrdiff_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return true;
  if (K > 0) return false;
  if (!accumulate) {
    for (int i = 0; i < M; ++i) std::fill(c + i * ldc, c + i * ldc + N, 0.0f);
  }
  return true;
}

GemmBackend& backend() {
  static GemmBackend b = default_gemm_backend();
  return b;
}

// Packs panels [jp0, jp1) of B (K x N), each K x 16 and zero padded on the right, into `packed`
// (which holds all ceil(N/16) panels).
void pack_b(int jp0, int jp1, int N, int K, ConstStrided b, float* packed) {
  for (int jp = jp0; jp < jp1; ++jp) {
    const int j0 = jp * kNr;
    const int nc = std::min(kNr, N - j0);
    float* dst = packed + static_cast<std::ptrdiff_t>(jp) * K * kNr;
    for (int p = 0; p < K; ++p) {
      const float* src = b.data + p * b.rs + j0 * b.cs;
      float* d = dst + p * kNr;
      if (b.cs == 1) {
        for (int j = 0; j < nc; ++j) d[j] = src[j];
      } else {
        for (int j = 0; j < nc; ++j) d[j] = src[j * b.cs];
      }
      for (int j = nc; j < kNr; ++j) d[j] = 0.0f;
    }
  }
}

// 64-byte aligned scratch for the packed B, grown on demand, one per calling thread (the threads
// of a parallel product share the caller's).
float* pack_buffer(std::size_t n) {
  thread_local std::vector<float> storage;
  if (storage.size() < n + 16) storage.resize(n + 16);
  auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
  return reinterpret_cast<float*>((addr + 63) & ~static_cast<std::uintptr_t>(63));
}

// Rows [i0, i1) of C against every packed panel, in blocks of kRowBlock rows. K is cut into
// slices of kKc so that a 16-column B slice (16 KB) stays in L1; each slice after the first adds
// its partial sums into C, so every element of C sums over p in increasing order.
// Panel jp of `packed` starts at packed + jp * panel_stride (K * 16 when B was packed for this
// product alone; more when the product reads a row range of a larger packed B).
void row_range(int i0, int i1, int N, int K, ConstStrided a, const float* packed,
               std::ptrdiff_t panel_stride, float* c, std::ptrdiff_t ldc, bool accumulate) {
  const Kernels& k = kernels();
  const int panels = (N + kNr - 1) / kNr;
  const int rows = k.rows;
  for (int r0 = i0; r0 < i1; r0 += kRowBlock) {
    const int r1 = std::min(i1, r0 + kRowBlock);
    for (int p0 = 0; p0 < K; p0 += kKc) {
      const int kc = std::min(kKc, K - p0);
      const bool acc = accumulate || p0 > 0;
      for (int jp = 0; jp < panels; ++jp) {
        const int j0 = jp * kNr;
        const int nc = std::min(kNr, N - j0);
        const float* panel = packed + jp * panel_stride + static_cast<std::ptrdiff_t>(p0) * kNr;
        for (int i = r0; i < r1; i += rows) {
          const int mr = std::min(rows, r1 - i);
          k.by_rows[mr](kc, a.data + i * a.rs + p0 * a.cs, a.rs, a.cs, panel, c + i * ldc + j0, ldc,
                        nc, acc);
        }
      }
    }
  }
}

}  // namespace

GemmPath best_gemm_path() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return GemmPath::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GemmPath::kAvx2;
  return GemmPath::kPortable;
}

GemmPath gemm_path() { return kernels().path; }

void set_gemm_path(GemmPath path) {
  const GemmPath best = best_gemm_path();
  const bool supported = path == GemmPath::kPortable ||
                         (path == GemmPath::kAvx2 && best != GemmPath::kPortable) ||
                         (path == GemmPath::kAvx512 && best == GemmPath::kAvx512);
  CUBE_CHECK(supported, "gemm: this CPU cannot run the " << to_string(path) << " path");
  kernels() = kernels_for(path);
}

const char* to_string(GemmPath path) {
  switch (path) {
    case GemmPath::kAvx512:
      return "avx512";
    case GemmPath::kAvx2:
      return "avx2";
    case GemmPath::kPortable:
      break;
  }
  return "portable";
}

bool onednn_available() { return detail::onednn_built_in(); }

GemmBackend default_gemm_backend() {
  return onednn_available() ? GemmBackend::kOneDnn : GemmBackend::kCube;
}

GemmBackend gemm_backend() { return backend(); }

void set_gemm_backend(GemmBackend b) {
  CUBE_CHECK(b == GemmBackend::kCube || onednn_available(),
             "gemm: cube was built without oneDNN (install libdnnl-dev and reconfigure)");
  backend() = b;
}

const char* to_string(GemmBackend b) { return b == GemmBackend::kOneDnn ? "onednn" : "cube"; }

bool gemm_uses_avx2() { return kernels().path != GemmPath::kPortable; }

void gemm(int M, int N, int K, ConstStrided a, ConstStrided b, float* c, std::ptrdiff_t ldc,
          bool accumulate, bool parallel) {
  if (empty_product(M, N, K, c, ldc, accumulate)) return;
  if (parallel && backend() == GemmBackend::kOneDnn &&
      detail::onednn_gemm(M, N, K, a, b, c, ldc, accumulate)) {
    return;
  }
  const int panels = (N + kNr - 1) / kNr;
  float* packed = pack_buffer(static_cast<std::size_t>(panels) * K * kNr);
  const int rows = kernels().rows;
  const int micro_rows = (M + rows - 1) / rows;
  // Small products run serially: an OpenMP region costs microseconds.
  const bool big = static_cast<double>(M) * N * K >= 2097152.0;
  if (!(parallel && big && micro_rows > 1 && omp_get_max_threads() > 1)) {
    pack_b(0, panels, N, K, b, packed);
    row_range(0, M, N, K, a, packed, static_cast<std::ptrdiff_t>(K) * kNr, c, ldc, accumulate);
    return;
  }
  // Each thread packs its share of the B panels, then computes an equal share of the rows of C
  // (in whole micro-kernel rows). The split changes which thread computes an element, never the
  // order of its sum.
#pragma omp parallel num_threads(omp_get_max_threads())
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    pack_b(panels * id / nt, panels * (id + 1) / nt, N, K, b, packed);
#pragma omp barrier
    const int i0 = rows * (micro_rows * id / nt);
    const int i1 = std::min(M, rows * (micro_rows * (id + 1) / nt));
    if (i0 < i1) {
      row_range(i0, i1, N, K, a, packed, static_cast<std::ptrdiff_t>(K) * kNr, c, ldc, accumulate);
    }
  }
}

void PackedB::pack(int K, int N, ConstStrided b) {
  K_ = std::max(K, 0);
  N_ = std::max(N, 0);
  const int panels = (N_ + kNr - 1) / kNr;
  const std::size_t n = static_cast<std::size_t>(panels) * K_ * kNr;
  if (storage_.size() < n + 16) storage_.resize(n + 16);
  const auto addr = reinterpret_cast<std::uintptr_t>(storage_.data());
  panels_ = reinterpret_cast<float*>((addr + 63) & ~static_cast<std::uintptr_t>(63));
  if (K_ > 0) pack_b(0, panels, N_, K_, b, panels_);
}

void gemm_packed(int M, int N, int K, ConstStrided a, const PackedB& b, int p0, float* c,
                 std::ptrdiff_t ldc, bool accumulate) {
  CUBE_CHECK(p0 >= 0 && K >= 0 && p0 + K <= b.depth() && N <= b.cols(),
             "gemm_packed: rows [" << p0 << ", " << p0 + K << ") x " << N
                                   << " columns outside the packed " << b.depth() << " x "
                                   << b.cols());
  if (empty_product(M, N, K, c, ldc, accumulate)) return;
  row_range(0, M, N, K, a, b.panels_ + static_cast<std::ptrdiff_t>(p0) * kNr,
            static_cast<std::ptrdiff_t>(b.depth()) * kNr, c, ldc, accumulate);
}

}  // namespace cube::gpt
