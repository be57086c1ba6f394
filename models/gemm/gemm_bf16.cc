// cube/models/gemm/gemm_bf16.cc: gemm_bf16.h's packing, micro-kernels and conversions.
#include "models/gemm/gemm_bf16.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/error.h"

// GCC 12's AVX-512 intrinsics start some results from an undefined register
// (_mm256_undefined_si256), which -Wmaybe-uninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace cube::gpt {
namespace {

constexpr int kMr = 12;          // rows per micro-kernel call
constexpr int kNr = 16;          // columns per B panel (one zmm of float32 sums)
constexpr int kPackedRows = 16;  // row stride of an A micro panel packed pair-major

// The pair of element rows p and p+1 (p+1 = K counts as 0) as one 32-bit word, low half first.
inline std::uint32_t pair_of(float even, float odd) {
  return static_cast<std::uint32_t>(to_bf16(even)) |
         (static_cast<std::uint32_t>(to_bf16(odd)) << 16);
}

// Scalar packing of the pairs of a (K x n) view m, n <= 16: dst[q * qstride + j] for q < K2, j < n
// (j in [n, fill) zeroed).
void pack_pairs_scalar(int K, int n, int fill, MixedStrided m, std::uint32_t* dst,
                       std::ptrdiff_t qstride) {
  const int K2 = (K + 1) / 2;
  for (int q = 0; q < K2; ++q) {
    std::uint32_t* d = dst + q * qstride;
    for (int j = 0; j < n; ++j) {
      const float even = m.at(2 * q, j);
      const float odd = 2 * q + 1 < K ? m.at(2 * q + 1, j) : 0.0f;
      d[j] = pair_of(even, odd);
    }
    for (int j = n; j < fill; ++j) d[j] = 0;
  }
}

// Scalar packing of rows [i0, i0 + n) of A (M x K) row by row: dst[r * K2 + q], rows n..11 zero.
void pack_rows_scalar(int K, int n, MixedStrided a, std::uint32_t* dst) {
  const int K2 = (K + 1) / 2;
  for (int r = 0; r < kMr; ++r) {
    for (int q = 0; q < K2; ++q) {
      if (r >= n) {
        dst[r * K2 + q] = 0;
        continue;
      }
      const float even = a.at(r, 2 * q);
      const float odd = 2 * q + 1 < K ? a.at(r, 2 * q + 1) : 0.0f;
      dst[r * K2 + q] = pair_of(even, odd);
    }
  }
}

// --- AVX-512 BF16 path --------------------------------------------------------------------

#define CUBE_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// to_bf16 of 16 floats in the low 16 bits of each lane (integer rounding: the scalar's bits).
CUBE_BF16_TARGET inline __m512i round_to_bf16_lanes(__m512 x) {
  const __m512i bits = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i abs = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(abs, _mm512_set1_epi32(0x7f800000));
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
  return _mm512_mask_blend_epi32(nan, rounded, quiet);
}

// 16 elements of a row (contiguous, up to n of them; the rest 0) as bf16 bits in 32-bit lanes.
CUBE_BF16_TARGET inline __m512i load_row16(const MixedStrided& m, std::ptrdiff_t offset, int n) {
  const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1u);
  __m512 values;
  if (m.bf16) {
    const Bf16* p = static_cast<const Bf16*>(m.data) + offset;
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, p));
    if (m.map == nullptr) return h;
    values = _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
  } else {
    values = _mm512_maskz_loadu_ps(mask, static_cast<const float*>(m.data) + offset);
  }
  if (m.map != nullptr) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, values);
    m.map(lanes, static_cast<std::size_t>(n));
    values = _mm512_maskz_load_ps(mask, lanes);
  }
  return round_to_bf16_lanes(values);
}

// Pairs of a (K x n) view whose columns are contiguous (cs == 1): per q, rows 2q and 2q+1
// interleaved; dst[q * qstride + j], lanes n..15 zero (qstride 16: whole zmm stores).
CUBE_BF16_TARGET void pack_pairs_rows(int K, int n, MixedStrided m, std::uint32_t* dst,
                                      std::ptrdiff_t qstride) {
  const int K2 = (K + 1) / 2;
  for (int q = 0; q < K2; ++q) {
    const __m512i even = load_row16(m, 2 * q * m.rs, n);
    const __m512i odd =
        2 * q + 1 < K ? load_row16(m, (2 * q + 1) * m.rs, n) : _mm512_setzero_si512();
    const __m512i pair = _mm512_or_si512(even, _mm512_slli_epi32(odd, 16));
    if (qstride == kNr) {
      _mm512_store_si512(dst + q * qstride, pair);
    } else {
      _mm512_mask_storeu_epi32(dst + q * qstride, static_cast<__mmask16>((1u << n) - 1u), pair);
    }
  }
}

// Pairs of a (K x n) view whose rows are contiguous (rs == 1): element pairs (2q, 2q+1) of each
// column j are adjacent; gathered 16 columns at a time. Odd K: the last pair is packed by scalar
// code (a 32-bit gather would read past the last element).
CUBE_BF16_TARGET void pack_pairs_columns(int K, int n, MixedStrided m, std::uint32_t* dst,
                                         std::ptrdiff_t qstride) {
  const int full = K / 2;
  const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1u);
  const __m512i cols =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(m.cs)));
  for (int q = 0; q < full; ++q) {
    const __m512i idx = _mm512_add_epi32(cols, _mm512_set1_epi32(2 * q));
    __m512i pair;
    if (m.bf16) {
      pair = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, idx, m.data, 2);
    } else {
      const auto* f = static_cast<const float*>(m.data);
      const __m512 even = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, idx, f, 4);
      const __m512 odd = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, idx, f + 1, 4);
      pair = _mm512_or_si512(round_to_bf16_lanes(even),
                             _mm512_slli_epi32(round_to_bf16_lanes(odd), 16));
    }
    _mm512_mask_storeu_epi32(dst + q * qstride, qstride == kNr ? 0xffff : mask, pair);
  }
  if (K % 2 == 1) {
    std::uint32_t* d = dst + full * qstride;
    for (int j = 0; j < n; ++j) d[j] = pair_of(m.at(K - 1, j), 0.0f);
    for (int j = n; j < (qstride == kNr ? kNr : n); ++j) d[j] = 0;
  }
}

// Rows of A with contiguous columns converted row by row: dst[r * K2 + q], rows n..11 zero.
CUBE_BF16_TARGET void pack_rows_avx512(int K, int n, MixedStrided a, std::uint32_t* dst) {
  const int K2 = (K + 1) / 2;
  for (int r = 0; r < kMr; ++r) {
    std::uint32_t* d = dst + r * K2;
    if (r >= n) {
      std::fill(d, d + K2, 0u);
      continue;
    }
    // 32 elements (16 pairs) per step: element p -> half (p % 2) of word p / 2.
    for (int p0 = 0; p0 < K; p0 += 32) {
      const int left = std::min(32, K - p0);
      const int words = (left + 1) / 2;
      const __m512i lo = load_row16(a, r * a.rs + p0, std::min(16, left));
      const __m512i hi =
          left > 16 ? load_row16(a, r * a.rs + p0 + 16, left - 16) : _mm512_setzero_si512();
      // Words: the 32 halves in order, i.e. lanes of lo then hi packed to 16 bits.
      const __m256i lo16 = _mm512_cvtepi32_epi16(lo);
      const __m256i hi16 = _mm512_cvtepi32_epi16(hi);
      const __m512i packed = _mm512_inserti64x4(_mm512_castsi256_si512(lo16), hi16, 1);
      _mm512_mask_storeu_epi32(d + p0 / 2, static_cast<__mmask16>((1u << words) - 1u), packed);
    }
  }
}

// C tile of mr x nc (mr <= 12, nc <= 16) += or = the sums over K2 pairs of the A pairs
// (a[r * ars + q * aqs]) and the packed B panel (bp[q * 16 + j]). from_c (float32 C only): the
// sums start from C's values, which hold the sums of the depth before (a K slice's continuation:
// the same additions in the same order as one unsliced call).
CUBE_BF16_TARGET void kernel_avx512bf16(int K2, const std::uint32_t* a, std::ptrdiff_t ars,
                                        std::ptrdiff_t aqs, const std::uint32_t* bp, MixedOutput c,
                                        std::ptrdiff_t c_offset, int mr, int nc, bool accumulate,
                                        bool from_c) {
  const __mmask16 mask = static_cast<__mmask16>((1u << nc) - 1u);
  __m512 acc[kMr];
#pragma GCC unroll 12
  for (int r = 0; r < kMr; ++r) {
    acc[r] = from_c && r < mr ? _mm512_maskz_loadu_ps(
                                    mask, static_cast<const float*>(c.data) + c_offset + r * c.ldc)
                              : _mm512_setzero_ps();
  }
  for (int q = 0; q < K2; ++q) {
    const __m512bh b = (__m512bh)_mm512_load_si512(bp + q * kNr);
    const std::uint32_t* aq = a + q * aqs;
#pragma GCC unroll 12
    for (int r = 0; r < kMr; ++r) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(static_cast<int>(aq[r * ars]));
      acc[r] = _mm512_dpbf16_ps(acc[r], ar, b);
    }
  }
  for (int r = 0; r < mr; ++r) {
    const std::ptrdiff_t o = c_offset + r * c.ldc;
    if (c.bf16) {
      const __m256i h = _mm512_cvtepi32_epi16(round_to_bf16_lanes(acc[r]));
      _mm256_mask_storeu_epi16(static_cast<Bf16*>(c.data) + o, mask, h);
    } else {
      float* row = static_cast<float*>(c.data) + o;
      __m512 v = acc[r];
      if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, row), v);
      _mm512_mask_storeu_ps(row, mask, v);
    }
  }
}

CUBE_BF16_TARGET void to_bf16_avx512(const float* x, Bf16* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtepi32_epi16(round_to_bf16_lanes(_mm512_loadu_ps(x + i))));
  }
  for (; i < n; ++i) out[i] = to_bf16(x[i]);
}

CUBE_BF16_TARGET void from_bf16_avx512(const Bf16* h, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i w =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i)));
    _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
  for (; i < n; ++i) out[i] = from_bf16(h[i]);
}

#undef CUBE_BF16_TARGET

// --- portable path ---------------------------------------------------------------------------

void kernel_portable(int K2, const std::uint32_t* a, std::ptrdiff_t ars, std::ptrdiff_t aqs,
                     const std::uint32_t* bp, MixedOutput c, std::ptrdiff_t c_offset, int mr,
                     int nc, bool accumulate, bool from_c) {
  float acc[kMr][kNr] = {};
  if (from_c) {
    for (int r = 0; r < mr; ++r) {
      for (int j = 0; j < nc; ++j)
        acc[r][j] = static_cast<const float*>(c.data)[c_offset + r * c.ldc + j];
    }
  }
  for (int q = 0; q < K2; ++q) {
    const std::uint32_t* bq = bp + q * kNr;
    for (int r = 0; r < mr; ++r) {
      const std::uint32_t ap = a[r * ars + q * aqs];
      const float a_even = from_bf16(static_cast<Bf16>(ap)),
                  a_odd = from_bf16(static_cast<Bf16>(ap >> 16));
      for (int j = 0; j < nc; ++j) {
        const float b_even = from_bf16(static_cast<Bf16>(bq[j]));
        const float b_odd = from_bf16(static_cast<Bf16>(bq[j] >> 16));
        acc[r][j] = acc[r][j] + a_odd * b_odd;  // exact products: only the adds round
        acc[r][j] = acc[r][j] + a_even * b_even;
      }
    }
  }
  for (int r = 0; r < mr; ++r) {
    const std::ptrdiff_t o = c_offset + r * c.ldc;
    for (int j = 0; j < nc; ++j) {
      if (c.bf16) {
        static_cast<Bf16*>(c.data)[o + j] = to_bf16(acc[r][j]);
      } else {
        float* v = static_cast<float*>(c.data) + o + j;
        *v = accumulate ? *v + acc[r][j] : acc[r][j];
      }
    }
  }
}

Bf16Path& current_path() {
  static Bf16Path path = best_bf16_path();
  return path;
}

// 64-byte aligned uint32 scratch, one per thread, grown on demand.
std::uint32_t* aligned_scratch(std::vector<std::uint32_t>& storage, std::size_t n) {
  if (storage.size() < n + 16) storage.resize(n + 16);
  const auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
  return reinterpret_cast<std::uint32_t*>((addr + 63) & ~static_cast<std::uintptr_t>(63));
}

// Packs panels [jp0, jp1) of B (K x N) into `packed` (panel jp at jp * K2 * 16).
// A mapped operand's block of rows x cols elements (from element (0, 0) of m) widened to float32
// into out (row stride ld), then mapped in one call: the map runs over whole blocks, not 16
// lanes at a time. Returns the unmapped float32 view of the block.
MixedStrided widen_and_map(MixedStrided m, int rows, int cols, float* out, std::ptrdiff_t ld) {
  for (int r = 0; r < rows; ++r) {
    float* row = out + r * ld;
    const std::ptrdiff_t first = static_cast<std::ptrdiff_t>(r) * m.rs;
    if (m.cs == 1 && m.bf16) {
      from_bf16(static_cast<const Bf16*>(m.data) + first, row, static_cast<std::size_t>(cols));
    } else if (m.cs == 1) {
      std::copy_n(static_cast<const float*>(m.data) + first, cols, row);
    } else {
      MixedStrided raw = m;
      raw.map = nullptr;
      for (int c = 0; c < cols; ++c) row[c] = raw.at(r, c);
    }
    std::fill(row + cols, row + ld, 0.0f);
  }
  m.map(out, static_cast<std::size_t>(rows) * ld);
  for (int r = 0; r < rows; ++r) std::fill(out + r * ld + cols, out + (r + 1) * ld, 0.0f);
  return MixedStrided::f32(out, ld, 1);
}

float* map_scratch(std::size_t n) {
  thread_local std::vector<float> storage;
  if (storage.size() < n) storage.resize(n);
  return storage.data();
}

void pack_b_panels(int jp0, int jp1, int N, int K, MixedStrided b, std::uint32_t* packed,
                   bool simd) {
  const int K2 = (K + 1) / 2;
  for (int jp = jp0; jp < jp1; ++jp) {
    const int j0 = jp * kNr;
    const int nc = std::min(kNr, N - j0);
    MixedStrided panel = b;
    const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(j0) * b.cs;
    panel.data = b.bf16 ? static_cast<const void*>(static_cast<const Bf16*>(b.data) + off)
                        : static_cast<const void*>(static_cast<const float*>(b.data) + off);
    std::uint32_t* dst = packed + static_cast<std::ptrdiff_t>(jp) * K2 * kNr;
    if (simd && b.map != nullptr) {
      float* block = map_scratch(static_cast<std::size_t>(K) * kNr);
      pack_pairs_rows(K, nc, widen_and_map(panel, K, nc, block, kNr), dst, kNr);
    } else if (simd && b.cs == 1) {
      pack_pairs_rows(K, nc, panel, dst, kNr);
    } else if (simd && b.rs == 1 && b.map == nullptr && std::abs(b.cs) < (1 << 26)) {
      pack_pairs_columns(K, nc, panel, dst, kNr);
    } else {
      pack_pairs_scalar(K, nc, kNr, panel, dst, kNr);
    }
  }
}

// The A pairs of micro panel rows [i, i + mr): read in place when possible, else packed into
// `scratch`. Returns the pointer and sets the row and pair strides (in 32-bit words).
const std::uint32_t* a_panel(int K, int i, int mr, MixedStrided a, std::uint32_t* scratch,
                             bool simd, std::ptrdiff_t& ars, std::ptrdiff_t& aqs) {
  const int K2 = (K + 1) / 2;
  const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(i) * a.rs;
  MixedStrided rows = a;
  rows.data = a.bf16 ? static_cast<const void*>(static_cast<const Bf16*>(a.data) + off)
                     : static_cast<const void*>(static_cast<const float*>(a.data) + off);
  const bool word_aligned = (reinterpret_cast<std::uintptr_t>(rows.data) & 3u) == 0;
  if (a.bf16 && a.map == nullptr && a.cs == 1 && K % 2 == 0 && a.rs % 2 == 0 && mr == kMr &&
      word_aligned) {
    ars = a.rs / 2;
    aqs = 1;
    return static_cast<const std::uint32_t*>(rows.data);
  }
  if (simd && a.rs == 1 && std::abs(a.cs) < (1 << 26)) {
    // Aᵀ's rows are contiguous: pair-major, the panel's rows as the 16 lanes (12 used).
    MixedStrided at{rows.data, a.bf16, a.cs, 1, a.map};
    pack_pairs_rows(K, mr, at, scratch, kPackedRows);
    ars = 1;
    aqs = kPackedRows;
    return scratch;
  }
  if (simd && a.map != nullptr && a.cs == 1) {
    float* block = map_scratch(static_cast<std::size_t>(mr) * K);
    pack_rows_avx512(K, mr, widen_and_map(rows, mr, K, block, K), scratch);
  } else if (simd && a.cs == 1) {
    pack_rows_avx512(K, mr, rows, scratch);
  } else {
    pack_rows_scalar(K, mr, rows, scratch);
  }
  ars = K2;
  aqs = 1;
  return scratch;
}

// A row block keeps its micro panels' A pairs in L1; a K slice (float32 C, not accumulating) is
// 8 KiB of a B panel and 6-8 KiB of an A panel.
constexpr auto kRowBlockBytes = static_cast<std::size_t>(kBf16RowBlockBytes);
constexpr int kSlicePairs = kBf16SlicePairs;

// The view of A from column p0 on.
MixedStrided from_column(MixedStrided a, int p0) {
  const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(p0) * a.cs;
  a.data = a.bf16 ? static_cast<const void*>(static_cast<const Bf16*>(a.data) + off)
                  : static_cast<const void*>(static_cast<const float*>(a.data) + off);
  return a;
}

// Rows of C in micro panels [mp0, mp1) against every packed B panel, in row blocks of as many
// micro panels as fit kRowBlockBytes, and (sliced) in K slices of kSlicePairs pairs: per block
// and slice the block's A panels are prepared, then each B panel's slice is loaded from L2 once
// and reused from L1 by the block's panels. Slices after the first continue C's sums.
void panel_range(int mp0, int mp1, int M, int N, int K, MixedStrided a, const std::uint32_t* packed,
                 MixedOutput c, bool accumulate, bool sliced, bool simd) {
  thread_local std::vector<std::uint32_t> a_storage;
  const int K2 = (K + 1) / 2;
  const int slice = sliced ? kSlicePairs : K2;
  const std::size_t panel_words = static_cast<std::size_t>(slice) * std::max(kMr, kPackedRows);
  // A micro panel packed pair-major (a column-contiguous A) takes 16 lanes per pair row, else 12.
  const int lanes = simd && a.rs == 1 && a.cs != 1 ? kPackedRows : kMr;
  const int block = std::max<int>(
      1, static_cast<int>(kRowBlockBytes / (static_cast<std::size_t>(slice) * lanes * 4)));
  std::uint32_t* scratch = aligned_scratch(a_storage, panel_words * block);
  const int panels = (N + kNr - 1) / kNr;
  struct APanel {
    const std::uint32_t* pairs;
    std::ptrdiff_t ars, aqs;
    int i, mr;
  };
  std::vector<APanel> held(block);
  for (int mb = mp0; mb < mp1; mb += block) {
    const int nb = std::min(block, mp1 - mb);
    for (int q0 = 0; q0 < K2; q0 += slice) {
      const int q1 = std::min(K2, q0 + slice);
      const int depth = std::min(K, 2 * q1) - 2 * q0;  // elements of this slice
      const MixedStrided a_slice = from_column(a, 2 * q0);
      for (int k = 0; k < nb; ++k) {
        APanel& h = held[k];
        h.i = (mb + k) * kMr;
        h.mr = std::min(kMr, M - h.i);
        h.pairs = a_panel(depth, h.i, h.mr, a_slice, scratch + k * panel_words, simd, h.ars, h.aqs);
      }
      for (int jp = 0; jp < panels; ++jp) {
        const int j0 = jp * kNr;
        const int nc = std::min(kNr, N - j0);
        const std::uint32_t* bp = packed + static_cast<std::ptrdiff_t>(jp) * K2 * kNr +
                                  static_cast<std::ptrdiff_t>(q0) * kNr;
        for (int k = 0; k < nb; ++k) {
          const APanel& h = held[k];
          const std::ptrdiff_t co = static_cast<std::ptrdiff_t>(h.i) * c.ldc + j0;
          if (simd) {
            kernel_avx512bf16(q1 - q0, h.pairs, h.ars, h.aqs, bp, c, co, h.mr, nc, accumulate,
                              q0 > 0);
          } else {
            kernel_portable(q1 - q0, h.pairs, h.ars, h.aqs, bp, c, co, h.mr, nc, accumulate,
                            q0 > 0);
          }
        }
      }
    }
  }
}

}  // namespace

void to_bf16(const float* x, Bf16* out, std::size_t n) {
  if (current_path() == Bf16Path::kAvx512Bf16) return to_bf16_avx512(x, out, n);
  for (std::size_t i = 0; i < n; ++i) out[i] = to_bf16(x[i]);
}

void from_bf16(const Bf16* h, float* out, std::size_t n) {
  if (current_path() == Bf16Path::kAvx512Bf16) return from_bf16_avx512(h, out, n);
  for (std::size_t i = 0; i < n; ++i) out[i] = from_bf16(h[i]);
}

Bf16Path best_bf16_path() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    return Bf16Path::kAvx512Bf16;
  }
  return Bf16Path::kPortable;
}

Bf16Path bf16_path() { return current_path(); }

void set_bf16_path(Bf16Path path) {
  CUBE_CHECK(path == Bf16Path::kPortable || best_bf16_path() == Bf16Path::kAvx512Bf16,
             "gemm_bf16: this CPU cannot run the " << to_string(path) << " path");
  current_path() = path;
}

const char* to_string(Bf16Path path) {
  return path == Bf16Path::kAvx512Bf16 ? "avx512bf16" : "portable";
}

void gemm_bf16(int M, int N, int K, MixedStrided a, MixedStrided b, MixedOutput c, bool accumulate,
               bool parallel) {
  CUBE_CHECK(!(c.bf16 && accumulate), "gemm_bf16: a bfloat16 C cannot be accumulated into");
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (accumulate) return;
    for (int i = 0; i < M; ++i) {
      for (int j = 0; j < N; ++j) {
        if (c.bf16) {
          static_cast<Bf16*>(c.data)[i * c.ldc + j] = 0;
        } else {
          static_cast<float*>(c.data)[i * c.ldc + j] = 0.0f;
        }
      }
    }
    return;
  }
  thread_local std::vector<std::uint32_t> b_storage;
  const int K2 = (K + 1) / 2;
  const int panels = (N + kNr - 1) / kNr;
  std::uint32_t* packed = aligned_scratch(b_storage, static_cast<std::size_t>(panels) * K2 * kNr);
  const bool simd = current_path() == Bf16Path::kAvx512Bf16;
  // Deep products are cut into K slices, each continuing the float32 sums in C.
  const bool sliced = !c.bf16 && !accumulate && K2 > kSlicePairs;
  const int micro_panels = (M + kMr - 1) / kMr;
  const bool big = static_cast<double>(M) * N * K >= 2097152.0;
  if (!(parallel && big && micro_panels > 1 && omp_get_max_threads() > 1)) {
    pack_b_panels(0, panels, N, K, b, packed, simd);
    panel_range(0, micro_panels, M, N, K, a, packed, c, accumulate, sliced, simd);
    return;
  }
  // Each thread packs a share of B's panels, then computes a share of the micro panels. Every C
  // element is summed by one kernel call over the whole depth: the split never changes a bit.
#pragma omp parallel num_threads(omp_get_max_threads())
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    pack_b_panels(panels * id / nt, panels * (id + 1) / nt, N, K, b, packed, simd);
#pragma omp barrier
    panel_range(micro_panels * id / nt, micro_panels * (id + 1) / nt, M, N, K, a, packed, c,
                accumulate, sliced, simd);
  }
}

}  // namespace cube::gpt
