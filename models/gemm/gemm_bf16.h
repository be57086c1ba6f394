// cube/models/gemm/gemm_bf16.h: the bfloat16 matrix product of the GPT model's mixed-precision
// process (float32 accumulation of bfloat16 products), with an AVX-512 BF16 path (vdpbf16ps,
// chosen by cpuid) and a portable path; and the float32 <-> bfloat16 conversions around it.
//
// bfloat16 is the upper half of a float32 (8 exponent bits, 7 stored mantissa bits; Kalamkar et
// al., "A Study of BFLOAT16 for Deep Learning Training", 2019). to_bf16 rounds to nearest even
// (NaN stays a quiet NaN), as PyTorch's and oneDNN's conversions do.
//
// gemm_bf16 computes C[i,j] (+)= sum_q (a(i,2q) b(2q,j) + a(i,2q+1) b(2q+1,j)) for q < ceil(K/2),
// where a = bf16(A) and b = bf16(B) (operands given in float32 are rounded as they are packed;
// bfloat16 ones are used as they are; p >= K counts as 0). Each product of two bfloat16 is exact in
// float32; the sum runs in float32 over q in increasing order, one pair per step (vdpbf16ps adds
// the odd then the even product, flushing subnormals; the portable path adds the odd then the
// even product too, without the flush, so the two paths agree except on subnormal values).
// C is float32 or bfloat16 (rounded once at the end, never accumulated into).
//
// Kernel: B is packed into panels of 16 columns of K/2 bfloat16 pairs (one zmm per pair row); A
// is read in place when it is bfloat16 with contiguous rows, even K and no map, else packed per
// 12-row
// micro panel; a 12 x 16 register-blocked micro-kernel (12 vdpbf16ps per B load) sums in row
// blocks of up to 24 KiB of A pairs and, for a float32 C that is not accumulated into, K slices of
// 256 (each slice's sums continue from C's float32 values: the same additions in the same order
// as one pass). Every C element is computed by one thread in one order: the bits are the same for
// any thread count. Cost: 2*M*N*K flops (on Zen 5 about twice the float32 FMA rate);
// packing reads K*N elements of B (and M*K of A when packed).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cube::gpt {

// A bfloat16 value as its 16 bits.
using Bf16 = std::uint16_t;

// gemm_bf16's blocking (gemm_trace.h's trace_gemm_bf16 follows it): row blocks of as many 12-row
// micro panels as fit kBf16RowBlockBytes of A pairs (16 lanes per pair row for a panel packed
// pair-major, 12 otherwise); K slices of kBf16SlicePairs pairs.
inline constexpr int kBf16RowBlockBytes = 24 * 1024;
inline constexpr int kBf16SlicePairs = 128;

// Round to nearest even; NaN -> quiet NaN with the sign kept.
inline Bf16 to_bf16(float x) {
  const std::uint32_t bits = __builtin_bit_cast(std::uint32_t, x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<Bf16>((bits >> 16) | 0x40u);
  return static_cast<Bf16>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}
inline float from_bf16(Bf16 h) {
  return __builtin_bit_cast(float, static_cast<std::uint32_t>(h) << 16);
}
// n values at a time (vectorized on AVX-512 machines); same bits as the scalar forms.
void to_bf16(const float* x, Bf16* out, std::size_t n);
void from_bf16(const Bf16* h, float* out, std::size_t n);

// A strided operand of either element type: element (r, c) at data[r*rs + c*cs] (in elements).
// map (optional): an elementwise function applied in place to the operand's values, widened to
// float32, as they are packed (before rounding to bfloat16): a fused prologue, e.g. the GELU of a
// stored pre-activation, so that the mapped tensor is never written. It must map each value on
// its own (any chunking gives the same result).
struct MixedStrided {
  const void* data = nullptr;
  bool bf16 = false;
  std::ptrdiff_t rs = 0;
  std::ptrdiff_t cs = 1;
  void (*map)(float* values, std::size_t n) = nullptr;

  static MixedStrided f32(const float* d, std::ptrdiff_t rs, std::ptrdiff_t cs) {
    return {d, false, rs, cs, nullptr};
  }
  static MixedStrided b16(const Bf16* d, std::ptrdiff_t rs, std::ptrdiff_t cs) {
    return {d, true, rs, cs, nullptr};
  }
  MixedStrided mapped(void (*f)(float*, std::size_t)) const {
    MixedStrided m = *this;
    m.map = f;
    return m;
  }
  // Element (r, c) as packed: widened, then mapped.
  float at(std::ptrdiff_t r, std::ptrdiff_t c) const {
    const std::ptrdiff_t i = r * rs + c * cs;
    float v =
        bf16 ? from_bf16(static_cast<const Bf16*>(data)[i]) : static_cast<const float*>(data)[i];
    if (map != nullptr) map(&v, 1);
    return v;
  }
};

// The row-major C of gemm_bf16: float32, or bfloat16 (then accumulate must be false).
struct MixedOutput {
  void* data = nullptr;
  bool bf16 = false;
  std::ptrdiff_t ldc = 0;

  static MixedOutput f32(float* d, std::ptrdiff_t ldc) { return {d, false, ldc}; }
  static MixedOutput b16(Bf16* d, std::ptrdiff_t ldc) { return {d, true, ldc}; }
};

// C (+)= bf16(A) · bf16(B) as above. parallel=true spreads the 12-row micro panels of C over the
// OpenMP threads (call it outside parallel regions). Preconditions: M, N, K >= 0; C does not
// alias A or B; a bfloat16 C is not accumulated into (Error otherwise).
void gemm_bf16(int M, int N, int K, MixedStrided a, MixedStrided b, MixedOutput c, bool accumulate,
               bool parallel = true);

enum class Bf16Path { kPortable, kAvx512Bf16 };
// AVX-512 BF16 when cpuid reports avx512bf16 (and avx512bw/vl), else portable; the one in use.
Bf16Path best_bf16_path();
Bf16Path bf16_path();
// For tests and benches that compare the paths in one process (outside parallel regions).
// Throws Error when the CPU cannot run `path`.
void set_bf16_path(Bf16Path path);
const char* to_string(Bf16Path path);

}  // namespace cube::gpt
