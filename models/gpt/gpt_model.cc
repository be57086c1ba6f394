// cube/models/gpt/gpt_model.cc: forward and backward kernels of the GPT model (gpt_model.h),
// templated over the tracer. Not a training loop: optimizers.h and the char_lm solvers drive it.
#include "models/gpt/gpt_model.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/rng.h"
#include "core/trace.h"
#include "models/gemm/gemm.h"
#include "models/gemm/gemm_bf16.h"
#include "models/gemm/gemm_trace.h"

namespace cube::gpt {
namespace {

constexpr float kLnEps = 1e-5f;

// Whether the kernels of the current forward/backward open OpenMP regions: below ~16K
// activation elements a region costs more than it saves (and far more on a loaded machine).
// Set at the start of forward and backward; results do not depend on it.
thread_local bool g_parallel = true;
bool worth_parallel(int BT, int C) { return static_cast<std::int64_t>(BT) * C >= 16384; }

// exp(x) for x <= 0 (every use here: softmax z - max, -x^2 terms), after Cephes expf: Cody-Waite
// reduction to r in [-ln2/2, ln2/2], degree-6 polynomial, 2^n by the exponent bits. Written
// without float compares or float-to-int conversions (GCC will not vectorize those under
// trapping math): x is clamped at -87 by an unsigned compare of its bits (for x <= 0 a larger
// magnitude is a larger unsigned pattern) and n is read from the mantissa of x*log2(e) + 1.5*2^23.
// exp_approx is scalar, for the loops the compiler vectorizes itself; exp_approx_lanes does the
// same on every lane of a GCC vector of floats (__m256, __m512), for the intrinsics kernels. Both
// run their float arithmetic through exp_polynomial, so every lane has exp_approx's bits (this file
// is built without contraction into fused multiply-adds).

// x (clamped) becomes p with exp(x) = p * 2^n, for a float or a vector of floats V; shifted is
// x*log2(e) + 1.5*2^23. In place, like exp_approx_lanes below.
template <class V>
[[gnu::always_inline]] inline void exp_polynomial(V& x, const V& shifted) {
  const V n = shifted - 12582912.0f;  // x*log2(e) rounded to the nearest integer
  const V r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  V p = V{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  x = p * (r * r) + r + 1.0f;
}

[[gnu::always_inline]] inline float exp_approx(float x) {
  const std::uint32_t limit = std::bit_cast<std::uint32_t>(-87.0f);
  x = std::bit_cast<float>(std::min(std::bit_cast<std::uint32_t>(x), limit));
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const std::int32_t ni = std::bit_cast<std::int32_t>(shifted) - 0x4B400000;
  exp_polynomial(x, shifted);
  return x * std::bit_cast<float>((ni + 127) << 23);
}

// x = exp_approx(x) lane by lane; generic vector code that compiles to the ISA of the kernel it is
// inlined into (in place, not by value: GCC warns about the ABI of AVX vectors passed to a
// function built without AVX).
template <int Bytes>
struct IntLanes {
  typedef std::int32_t Signed __attribute__((vector_size(Bytes)));
  typedef std::uint32_t Unsigned __attribute__((vector_size(Bytes)));
};
template <class V>
[[gnu::always_inline]] inline void exp_approx_lanes(V& x) {
  using Signed = typename IntLanes<sizeof(V)>::Signed;
  using Unsigned = typename IntLanes<sizeof(V)>::Unsigned;
  const Unsigned limit = Unsigned{} + std::bit_cast<std::uint32_t>(-87.0f);
  const Unsigned bits = (Unsigned)x;
  x = (V)(limit < bits ? limit : bits);
  const V shifted = x * 1.44269504088896341f + 12582912.0f;
  const Signed ni = (Signed)shifted - 0x4B400000;
  exp_polynomial(x, shifted);
  x = x * (V)((ni + 127) << 23);
}

// Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7, given gauss = exp_approx(-x * x): GELU's slope
// needs that exponential for the density too, and computes it once (gelu_at).
[[gnu::always_inline]] inline float erf_with_gauss(float x, float gauss) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * gauss;
  return std::copysign(y, x);
}

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// GELU at x, value = x Phi(x), and its slope gelu'(x) = Phi(x) + x phi(x), from one exponential
// and one erf (z = x / sqrt 2; phi(x) = exp(-z^2) / sqrt(2 pi), the exponential erf(z) takes).
// Every GELU kernel computes through it, so the forward's values, the slope a training forward
// keeps and the slope a backward recomputes have the same bits by construction.
struct GeluAt {
  float value, slope;
};
[[gnu::always_inline]] inline GeluAt gelu_at(float x) {
  const float z = x * kInvSqrt2;
  const float gauss = exp_approx(-z * z);
  const float erf = erf_with_gauss(z, gauss);
  return {0.5f * x * (1.0f + erf), 0.5f * (1.0f + erf) + x * (kInvSqrt2Pi * gauss)};
}

// Sum of term(0), ..., term(n - 1) with 8 interleaved partial sums (a fixed order that the
// compiler can keep in one vector register). The terms are computed as they are added: a kernel
// that sums an expression need not store it first.
template <class Term>
[[gnu::always_inline]] inline float sum8_of(int n, Term&& term) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += term(i + k);
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += term(i);
  return s;
}
// Sum of n floats, in sum8_of's order.
[[gnu::always_inline]] inline float sum8(const float* x, int n) {
  return sum8_of(n, [x](int i) { return x[i]; });
}

// --- dropout masks from a counter-based hash (splitmix64 finalizer) --------------------------

inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct Dropout {
  bool active = false;
  std::uint32_t threshold = 0;  // keep when the 32-bit hash >= threshold
  float scale = 1.0f;           // 1 / (1 - p)
  std::uint64_t key = 0;
  // Where the pass's rows sit in the batch (a shard's first row is not row 0): the element index
  // of its first row in the row sites (row0 * C) and of its first head in the attention sites
  // (b0 * n_head * T * T). Zero for a pass over the whole batch.
  std::uint64_t row_base = 0, head_base = 0;

  // The stream of one site (embedding, a block's attention probabilities, ...).
  std::uint64_t site_key(std::uint64_t site) const {
    return mix64(key ^ (site * 0x632be59bd9b4e019ULL));
  }
  static float factor(std::uint64_t site_key, std::uint64_t i, std::uint32_t threshold,
                      float scale) {
    const auto h = static_cast<std::uint32_t>(mix64(site_key + i) >> 32);
    return h >= threshold ? scale : 0.0f;
  }
};

std::uint32_t dropout_threshold(float p) {
  return static_cast<std::uint32_t>(std::min(4294967295.0, static_cast<double>(p) * 4294967296.0));
}

// Site ids: 0 embedding; per block 1 + 3l attention probabilities, 2 + 3l attention output,
// 3 + 3l MLP output.
inline std::uint64_t site_att(int l) { return 1 + 3 * static_cast<std::uint64_t>(l); }
inline std::uint64_t site_attout(int l) { return 2 + 3 * static_cast<std::uint64_t>(l); }
inline std::uint64_t site_mlpout(int l) { return 3 + 3 * static_cast<std::uint64_t>(l); }

// In place: x[i] *= mask factor of element i of the site.
void apply_dropout(float* x, std::size_t n, const Dropout& d, std::uint64_t site) {
  const std::uint64_t sk = d.site_key(site);
  const auto nn = static_cast<std::int64_t>(n);
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (std::int64_t i = 0; i < nn; ++i) {
    x[i] *= Dropout::factor(sk, d.row_base + i, d.threshold, d.scale);
  }
}

// --- tracing ------------------------------------------------------------------------------

struct Ids {
  BufferId params = 0, grads = 0, acts = 0, dacts = 0, tokens = 0, targets = 0, pack = 0,
           att_scratch = 0;
  // bf16 mode only: the bfloat16 copy of the weights, the bfloat16 activations, and the packed
  // pairs of the products' B and A operands.
  BufferId params16 = 0, acts16 = 0, pack16 = 0, apack16 = 0;
  // bf16 mode only: the bfloat16 backward scratch, one head's float32 working copy.
  BufferId dacts16 = 0, head = 0;
  // batch_shards > 1 only: the gradients of shards 1, 2, ... before they are summed.
  BufferId shard_grads = 0;
};

// The tracer of one shard's pass (batch_shards > 1). A shard's activations, backward scratch,
// tokens and targets lie at an offset in the model's buffers, and its gradients in
// "gpt.shard_grads"; every event of the pass moves there, so the kernels trace as they do for
// the whole batch. With no moves (a single-shard pass) it forwards every event unchanged.
template <class Inner>
struct ShardTracer {
  static constexpr bool kEnabled = Inner::kEnabled;
  struct Move {
    BufferId from = 0, to = 0;
    std::uint64_t shift = 0;
  };
  Inner& inner;
  std::array<Move, 8> moves{};
  int n_moves = 0;

  void move(BufferId from, BufferId to, std::uint64_t shift) {
    if (from == to && shift == 0) return;
    moves[static_cast<std::size_t>(n_moves++)] = {from, to, shift};
  }
  BufferId buffer(std::string_view name, std::uint32_t element_bytes, std::uint64_t elements) {
    return inner.buffer(name, element_bytes, elements);
  }
  void read(BufferId b, std::uint64_t offset, std::uint64_t count) {
    const Move m = where(b);
    inner.read(m.to, offset + m.shift, count);
  }
  void write(BufferId b, std::uint64_t offset, std::uint64_t count) {
    const Move m = where(b);
    inner.write(m.to, offset + m.shift, count);
  }
  void free(BufferId b) { inner.free(where(b).to); }
  void op_end() { inner.op_end(); }

 private:
  Move where(BufferId b) const {
    for (int i = 0; i < n_moves; ++i) {
      if (moves[static_cast<std::size_t>(i)].from == b) return moves[static_cast<std::size_t>(i)];
    }
    return {b, b, 0};
  }
};

// An activation tensor: its offset in acts (float32) or, when half, in acts16 (bfloat16).
struct Act {
  std::size_t off = 0;
  bool half = false;
  bool gelu = false;  // read as GELU(x) (fused into the product's packing; bf16 fuse mode)
};

// The micro-kernel height the traced products report: the AVX-512 kernel's 12 rows on every
// machine, so that a trace does not depend on where it was recorded.
constexpr int kTracedKernelRows = 12;

// An element offset as the signed type of TracedMatrix.
std::int64_t sdiff(std::size_t offset) { return static_cast<std::int64_t>(offset); }

// Calls f(r0, r1) then op_end() for each tile of kTraceRows rows of [0, M).
template <class Tracer, class F>
void per_tile(Tracer& tr, int M, F&& f) {
  if constexpr (Tracer::kEnabled) {
    for (int r0 = 0; r0 < M; r0 += GptModel::kTraceRows) {
      f(r0, std::min(M, r0 + GptModel::kTraceRows));
      tr.op_end();
    }
  }
}

// --- kernels ------------------------------------------------------------------------------

// out[M,N] = in[M,K] · W[N,K]ᵀ + b (b may be null).
void matmul_forward(const float* in, const float* w, const float* b, float* out, int M, int N,
                    int K) {
  if (b != nullptr) {
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
    for (int i = 0; i < M; ++i) std::copy(b, b + N, out + static_cast<std::ptrdiff_t>(i) * N);
  }
  gemm_nt(M, N, K, in, w, out, b != nullptr);
}

// Column sums of d[M,N] into db (overwritten); each thread owns a column range, rows in order.
void column_sums(const float* d, float* db, int M, int N) {
#pragma omp parallel num_threads(omp_get_max_threads()) if (g_parallel)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int c0 = N * id / nt, c1 = N * (id + 1) / nt;
    std::fill(db + c0, db + c1, 0.0f);
    for (int i = 0; i < M; ++i) {
      const float* row = d + static_cast<std::ptrdiff_t>(i) * N;
      for (int c = c0; c < c1; ++c) db[c] += row[c];
    }
  }
}

// The row kernels below are compiled three times, for AVX-512F, AVX2 and the baseline ISA, and
// the loader picks the widest the CPU has (GCC target_clones): the build has no -march. This file
// is compiled without FMA contraction (-ffp-contract=off, models/CMakeLists.txt) and its
// reductions run in fixed lanes (sum8), so every clone gives the same bits.
#define CUBE_GPT_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
// LayerNorm's rows (C = 128 floats) measured slower in 512-bit registers (gpt_bench
// GptStepBreakdown: forward 0.26 -> 0.53 ms); they keep AVX2.
#define CUBE_GPT_AVX2_CLONES __attribute__((target_clones("avx2", "default")))

CUBE_GPT_AVX2_CLONES void layernorm_forward_row(const float* xi, float* oi, float* mean,
                                                float* rstd, const float* w, const float* b,
                                                int C) {
  const float m = sum8(xi, C) / static_cast<float>(C);
  const float var =
      sum8_of(C, [&](int c) { return (xi[c] - m) * (xi[c] - m); }) / static_cast<float>(C);
  const float s = 1.0f / std::sqrt(var + kLnEps);
  for (int c = 0; c < C; ++c) {
    const float n = (xi[c] - m) * s;
    oi[c] = b != nullptr ? n * w[c] + b[c] : n * w[c];
  }
  *mean = m;
  *rstd = s;
}

void layernorm_forward(const float* x, float* out, float* mean, float* rstd, const float* w,
                       const float* b, int M, int C) {
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (int i = 0; i < M; ++i) {
    layernorm_forward_row(x + static_cast<std::ptrdiff_t>(i) * C,
                          out + static_cast<std::ptrdiff_t>(i) * C, mean + i, rstd + i, w, b, C);
  }
}

float* thread_scratch(std::size_t n) {
  thread_local std::vector<float> storage;
  if (storage.size() < n) storage.resize(n);
  return storage.data();
}

// LayerNorm with a bfloat16 output: each row normalised in float32 (layernorm_forward_row), then
// rounded.
void layernorm_forward_bf16(const float* x, Bf16* out, float* mean, float* rstd, const float* w,
                            const float* b, int M, int C) {
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (int i = 0; i < M; ++i) {
    float* row = thread_scratch(static_cast<std::size_t>(C));
    const std::ptrdiff_t o = static_cast<std::ptrdiff_t>(i) * C;
    layernorm_forward_row(x + o, row, mean + i, rstd + i, w, b, C);
    to_bf16(row, out + o, static_cast<std::size_t>(C));
  }
}

// dx_i += LN backward of row i. The two means are summed as their terms are computed: writing
// the terms to a scratch row (a cold one per input row) and reading them back took about 40 % of
// the backward's LayerNorm time on a Zen 3 (docs/performance.md).
CUBE_GPT_AVX2_CLONES void layernorm_backward_row(float* dxi, const float* di, const float* xi,
                                                 const float* w, float m, float s, int C) {
  const float dnorm_mean = sum8_of(C, [&](int c) { return di[c] * w[c]; }) / static_cast<float>(C);
  const float dnorm_norm_mean =
      sum8_of(C, [&](int c) { return di[c] * w[c] * ((xi[c] - m) * s); }) / static_cast<float>(C);
  for (int c = 0; c < C; ++c) {
    const float norm = (xi[c] - m) * s;
    dxi[c] += (di[c] * w[c] - dnorm_mean - norm * dnorm_norm_mean) * s;
  }
}

// Columns [c0, c1) of dw (and db) summed over the M rows in order.
CUBE_GPT_AVX2_CLONES void layernorm_param_grads(float* dw, float* db, const float* dout,
                                                const float* x, const float* mean,
                                                const float* rstd, int M, int C, int c0, int c1) {
  std::fill(dw + c0, dw + c1, 0.0f);
  if (db != nullptr) std::fill(db + c0, db + c1, 0.0f);
  for (int i = 0; i < M; ++i) {
    const float* xi = x + static_cast<std::ptrdiff_t>(i) * C;
    const float* di = dout + static_cast<std::ptrdiff_t>(i) * C;
    const float m = mean[i], s = rstd[i];
    for (int c = c0; c < c1; ++c) dw[c] += di[c] * ((xi[c] - m) * s);
    if (db != nullptr) {
      for (int c = c0; c < c1; ++c) db[c] += di[c];
    }
  }
}

// dx += LN backward; dw (and db when non-null) overwritten.
void layernorm_backward(float* dx, float* dw, float* db, const float* dout, const float* x,
                        const float* w, const float* mean, const float* rstd, int M, int C) {
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (int i = 0; i < M; ++i) {
    const std::ptrdiff_t o = static_cast<std::ptrdiff_t>(i) * C;
    layernorm_backward_row(dx + o, dout + o, x + o, w, mean[i], rstd[i], C);
  }
#pragma omp parallel num_threads(omp_get_max_threads()) if (g_parallel)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    layernorm_param_grads(dw, db, dout, x, mean, rstd, M, C, C * id / nt, C * (id + 1) / nt);
  }
}

// layernorm_backward with a bfloat16 dout: each row of dout widened to float32 as it is used.
CUBE_GPT_AVX2_CLONES void layernorm_param_grads_bf16(float* dw, float* db, const Bf16* dout,
                                                     const float* x, const float* mean,
                                                     const float* rstd, int M, int C, int c0,
                                                     int c1) {
  std::fill(dw + c0, dw + c1, 0.0f);
  if (db != nullptr) std::fill(db + c0, db + c1, 0.0f);
  for (int i = 0; i < M; ++i) {
    const float* xi = x + static_cast<std::ptrdiff_t>(i) * C;
    const Bf16* di = dout + static_cast<std::ptrdiff_t>(i) * C;
    const float m = mean[i], s = rstd[i];
    for (int c = c0; c < c1; ++c) dw[c] += from_bf16(di[c]) * ((xi[c] - m) * s);
    if (db != nullptr) {
      for (int c = c0; c < c1; ++c) db[c] += from_bf16(di[c]);
    }
  }
}

void layernorm_backward_bf16(float* dx, float* dw, float* db, const Bf16* dout, const float* x,
                             const float* w, const float* mean, const float* rstd, int M, int C) {
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (int i = 0; i < M; ++i) {
    const std::ptrdiff_t o = static_cast<std::ptrdiff_t>(i) * C;
    float* row = thread_scratch(static_cast<std::size_t>(C));
    from_bf16(dout + o, row, static_cast<std::size_t>(C));
    layernorm_backward_row(dx + o, row, x + o, w, mean[i], rstd[i], C);
  }
#pragma omp parallel num_threads(omp_get_max_threads()) if (g_parallel)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    layernorm_param_grads_bf16(dw, db, dout, x, mean, rstd, M, C, C * id / nt, C * (id + 1) / nt);
  }
}

// GELU over a contiguous chunk: out = x Phi(x).
CUBE_GPT_SIMD_CLONES void gelu_forward_chunk(const float* x, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = gelu_at(x[i]).value;
}
// x = GELU(x) in place, each element as gelu_forward_chunk computes it: the map that fuses GELU
// into a bfloat16 product's packing (MixedStrided::map).
CUBE_GPT_SIMD_CLONES void gelu_in_place(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = gelu_at(x[i]).value;
}
// d *= gelu'(x).
CUBE_GPT_SIMD_CLONES void gelu_backward_chunk(float* d, const float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) d[i] *= gelu_at(x[i]).slope;
}
// A training forward's GELU: out = GELU(x), and x overwritten by gelu'(x), so that the backward
// is one multiply (gelu_slope_backward_chunk).
CUBE_GPT_SIMD_CLONES void gelu_forward_keep_slope_chunk(float* x, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const GeluAt g = gelu_at(x[i]);
    out[i] = g.value;
    x[i] = g.slope;
  }
}
// d *= slope.
CUBE_GPT_SIMD_CLONES void gelu_slope_backward_chunk(float* d, const float* slope, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) d[i] *= slope[i];
}

constexpr std::int64_t kChunk = 4096;

// chunk(begin, count) over [0, n) in pieces of kChunk elements, in one OpenMP region.
template <class Chunk>
void for_each_chunk(std::size_t n, Chunk&& chunk) {
  const auto nn = static_cast<std::int64_t>(n);
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (std::int64_t b = 0; b < nn; b += kChunk) chunk(b, std::min(kChunk, nn - b));
}

void gelu_forward(const float* x, float* out, std::size_t n) {
  for_each_chunk(
      n, [&](std::int64_t b, std::int64_t len) { gelu_forward_chunk(x + b, out + b, len); });
}

void gelu_backward(float* d, const float* x, std::size_t n) {
  for_each_chunk(n,
                 [&](std::int64_t b, std::int64_t len) { gelu_backward_chunk(d + b, x + b, len); });
}

void gelu_forward_keep_slope(float* x, float* out, std::size_t n) {
  for_each_chunk(n, [&](std::int64_t b, std::int64_t len) {
    gelu_forward_keep_slope_chunk(x + b, out + b, len);
  });
}

void gelu_slope_backward(float* d, const float* slope, std::size_t n) {
  for_each_chunk(n, [&](std::int64_t b, std::int64_t len) {
    gelu_slope_backward_chunk(d + b, slope + b, len);
  });
}

// The bf16 mode's GELU: bfloat16 x, computed in float32 per chunk, output rounded.
void gelu_forward_bf16(const Bf16* x, Bf16* out, std::size_t n) {
  for_each_chunk(n, [&](std::int64_t b, std::int64_t count) {
    const auto len = static_cast<std::size_t>(count);
    float* xf = thread_scratch(2 * static_cast<std::size_t>(kChunk));
    float* yf = xf + kChunk;
    from_bf16(x + b, xf, len);
    gelu_forward_chunk(xf, yf, count);
    to_bf16(yf, out + b, len);
  });
}

// d *= gelu'(x), d and x bfloat16 (computed in float32 per chunk, d rounded again).
void gelu_backward_bf16(Bf16* d, const Bf16* x, std::size_t n) {
  for_each_chunk(n, [&](std::int64_t b, std::int64_t count) {
    const auto len = static_cast<std::size_t>(count);
    float* xf = thread_scratch(2 * static_cast<std::size_t>(kChunk));
    float* df = xf + kChunk;
    from_bf16(x + b, xf, len);
    from_bf16(d + b, df, len);
    gelu_backward_chunk(df, xf, count);
    to_bf16(df, d + b, len);
  });
}

// Row t of the T x T scores p becomes softmax(scale * p[t, 0..t]), zero above the diagonal.
CUBE_GPT_SIMD_CLONES void causal_softmax_portable(float* p, int T, float scale) {
  for (int t = 0; t < T; ++t) {
    float* row = p + static_cast<std::ptrdiff_t>(t) * T;
    float mx = -std::numeric_limits<float>::infinity();
    for (int j = 0; j <= t; ++j) mx = std::max(mx, row[j] * scale);
    // Exponentials first (a vectorizable loop), then the sum in sum8's fixed order.
    for (int j = 0; j <= t; ++j) row[j] = exp_approx(row[j] * scale - mx);
    const float inv = 1.0f / sum8(row, t + 1);
    for (int j = 0; j <= t; ++j) row[j] *= inv;
    for (int j = t + 1; j < T; ++j) row[j] = 0.0f;
  }
}

// GCC 12 warns that the unmasked AVX-512 intrinsics' internal "undefined" source may be used
// uninitialized (its headers build them from _mm512_undefined_*); a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// causal_softmax_portable's bits in 16-lane masked steps: its compiled loops run the rows'
// ragged ends (t + 1 is rarely a multiple of 16) one float at a time, half of the softmax's time
// at T = 64. The max is exact in any order; the exponentials are exp_approx_lanes; the sum is sum8.
__attribute__((target("avx512f"))) void causal_softmax_avx512(float* p, int T, float scale) {
  const __m512 vscale = _mm512_set1_ps(scale);
  auto lanes = [](int count) {
    return static_cast<__mmask16>(count >= 16 ? 0xFFFF : (1u << std::max(count, 0)) - 1u);
  };
  for (int t = 0; t < T; ++t) {
    float* row = p + static_cast<std::ptrdiff_t>(t) * T;
    const int n = t + 1;
    __m512 vmx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int j = 0; j < n; j += 16) {
      const __mmask16 m = lanes(n - j);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), vscale);
      vmx = _mm512_mask_max_ps(vmx, m, v, vmx);  // max(v, mx): std::max(mx, v) lane by lane
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmx));
    for (int j = 0; j < n; j += 16) {
      const __mmask16 m = lanes(n - j);
      __m512 z = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), vscale), mx);
      exp_approx_lanes(z);
      _mm512_mask_storeu_ps(row + j, m, z);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / sum8(row, n));
    for (int j = 0; j < T; j += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(lanes(n - j), row + j);
      _mm512_mask_storeu_ps(row + j, lanes(T - j), _mm512_maskz_mul_ps(lanes(n - j), v, inv));
    }
  }
}

#pragma GCC diagnostic pop

// All ones in the lanes k < count (lane holds 0, 1, ..., 7).
__attribute__((target("avx2"))) inline __m256 first_lanes(int count, __m256i lane) {
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane));
}

// causal_softmax_portable's bits in whole 8-lane steps: the compiled loops run each row's ragged
// end one float at a time. The lanes past the diagonal are computed on whatever the row holds
// there and then replaced (-inf in the max, +0 in the row) by blends and masks, not by masked
// loads and stores, which Zen cores run slowly (the masked AVX2 version of 5ed28f4 was slower
// than the portable loops). A row's last T % 8 floats, if any, run one at a time.
__attribute__((target("avx2"))) void causal_softmax_avx2(float* p, int T, float scale) {
  const __m256 vscale = _mm256_set1_ps(scale);
  const __m256 neg_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int whole = T / 8 * 8;  // columns in whole vectors
  for (int t = 0; t < T; ++t) {
    float* row = p + static_cast<std::ptrdiff_t>(t) * T;
    const int n = t + 1;
    const int covered = std::min(whole, (n + 7) / 8 * 8);  // vectors holding scored columns
    __m256 vmx = neg_inf;
    for (int j = 0; j < covered; j += 8) {
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(row + j), vscale);
      vmx =
          _mm256_max_ps(_mm256_blendv_ps(neg_inf, v, first_lanes(n - j, lane)), vmx);  // max(v, mx)
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmx), _mm256_extractf128_ps(vmx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float mx = _mm_cvtss_f32(m4);
    for (int j = whole; j < n; ++j) mx = std::max(mx, row[j] * scale);
    const __m256 vm = _mm256_set1_ps(mx);
    for (int j = 0; j < covered; j += 8) {
      __m256 z = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(row + j), vscale), vm);
      exp_approx_lanes(z);
      _mm256_storeu_ps(row + j, _mm256_and_ps(z, first_lanes(n - j, lane)));
    }
    for (int j = whole; j < n; ++j) row[j] = exp_approx(row[j] * scale - mx);
    const float inv = 1.0f / sum8(row, n);
    const __m256 vinv = _mm256_set1_ps(inv);
    for (int j = 0; j < covered; j += 8) {
      _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), vinv));
    }
    for (int j = covered; j < whole; j += 8) _mm256_storeu_ps(row + j, _mm256_setzero_ps());
    for (int j = whole; j < T; ++j) row[j] = j < n ? row[j] * inv : 0.0f;
  }
}

}  // namespace

namespace detail {
bool causal_softmax(float* p, int T, float scale, GemmPath path) {
  switch (path) {
    case GemmPath::kPortable:
      causal_softmax_portable(p, T, scale);
      return true;
    case GemmPath::kAvx2:
      if (!__builtin_cpu_supports("avx2")) return false;
      causal_softmax_avx2(p, T, scale);
      return true;
    case GemmPath::kAvx512:
      if (!__builtin_cpu_supports("avx512f")) return false;
      causal_softmax_avx512(p, T, scale);
      return true;
  }
  return false;
}
}  // namespace detail

namespace {

// The widest path cpuid allows (gemm.h's choice: AVX-512F, else AVX2 with FMA, else portable).
void causal_softmax(float* p, int T, float scale) {
  static const GemmPath path = best_gemm_path();
  detail::causal_softmax(p, T, scale, path);
}

// dp (d probabilities, read on and below the diagonal) becomes d scores: row t of
// p * (dp - <p, dp>) * scale, zero above the diagonal.
CUBE_GPT_SIMD_CLONES void causal_softmax_backward(const float* p, float* dp, int T, float scale) {
  for (int t = 0; t < T; ++t) {
    const float* pr = p + static_cast<std::ptrdiff_t>(t) * T;
    float* dr = dp + static_cast<std::ptrdiff_t>(t) * T;
    float dot = 0.0f;
    for (int j = 0; j <= t; ++j) dot += pr[j] * dr[j];
    for (int j = 0; j <= t; ++j) dr[j] = pr[j] * (dr[j] - dot) * scale;
    for (int j = t + 1; j < T; ++j) dr[j] = 0.0f;
  }
}

// The attention products run in strips of kCausalStrip query rows (a multiple of the GEMM's 6-row
// micro-kernel): a strip of rows [i0, i1) reads keys j < i1 only, which skips most of the zero
// upper triangle (for T = 64, 28 % of the work of each product). The skipped terms are exact
// zeros, so the results are bitwise those of the full products.
constexpr int kCausalStrip = 24;

// One head's causal attention: q, k, v rows of hs floats at row stride ld; p (T x T) the softmax
// probabilities (zero above the diagonal); y rows at stride ldy. base: the head's first element
// index in its dropout site.
// p = causal softmax(scale · Q Kᵀ), with Kᵀ packed in kt: per strip S = Q Kᵀ on the keys j < i1.
void attention_head_probs(const float* q, std::ptrdiff_t ld, const PackedB& kt, float* p, int T,
                          int hs, float scale) {
  for (int i0 = 0; i0 < T; i0 += kCausalStrip) {
    const int i1 = std::min(T, i0 + kCausalStrip);
    gemm_packed(i1 - i0, i1, hs, {q + i0 * ld, ld, 1}, kt, 0, p + i0 * T, T, false);
  }
  causal_softmax(p, T, scale);
}

// The probabilities of one head recomputed (recompute_attention's backward): the bits the forward
// computed them with.
void attention_head_recompute(const float* q, const float* k, std::ptrdiff_t ld, float* p, int T,
                              int hs, float scale) {
  thread_local PackedB kt;
  kt.pack(hs, T, {k, 1, ld});
  attention_head_probs(q, ld, kt, p, T, hs, scale);
}

void attention_head_forward(const float* q, const float* k, const float* v, std::ptrdiff_t ld,
                            float* p, float* y, std::ptrdiff_t ldy, int T, int hs, float scale,
                            const Dropout& drop, std::uint64_t sk, std::uint64_t base) {
  thread_local PackedB kt, vp;  // Kᵀ and V of this head, packed once for all strips
  kt.pack(hs, T, {k, 1, ld});
  vp.pack(T, hs, {v, ld, 1});
  attention_head_probs(q, ld, kt, p, T, hs, scale);
  const float* pd = p;
  if (drop.active) {
    float* s = thread_scratch(static_cast<std::size_t>(T) * T);
    for (int i = 0; i < T * T; ++i) {
      s[i] = p[i] * Dropout::factor(sk, base + i, drop.threshold, drop.scale);
    }
    pd = s;
  }
  for (int i0 = 0; i0 < T; i0 += kCausalStrip) {  // Y = P V over j < i1
    const int i1 = std::min(T, i0 + kCausalStrip);
    gemm_packed(i1 - i0, hs, i1, {pd + i0 * T, T, 1}, vp, 0, y + i0 * ldy, ldy, false);
  }
}

// Its backward: dq, dk, dv (rows at stride ldd, overwritten) from dy (rows at stride lddy), the
// stored probabilities p and q, k, v.
void attention_head_backward(const float* q, const float* k, const float* v, std::ptrdiff_t ld,
                             const float* p, const float* dy, std::ptrdiff_t lddy, float* dq,
                             float* dk, float* dv, std::ptrdiff_t ldd, int T, int hs, float scale,
                             const Dropout& drop, std::uint64_t sk, std::uint64_t base) {
  float* scratch = thread_scratch(2 * static_cast<std::size_t>(T) * T);
  float* dp = scratch;
  const float* pd = p;
  if (drop.active) {
    float* s = scratch + static_cast<std::ptrdiff_t>(T) * T;
    for (int i = 0; i < T * T; ++i) {
      s[i] = p[i] * Dropout::factor(sk, base + i, drop.threshold, drop.scale);
    }
    pd = s;
  }
  // Row strips as in the forward: dPd = dY Vᵀ on keys j < i1 (the rest of dp is never read),
  // dV = Pdᵀ dY over queries i >= j0 (Pd is zero above the diagonal). Each B operand of the
  // head is packed once for all strips.
  thread_local PackedB vt, dyp, kp, qp;
  vt.pack(hs, T, {v, 1, ld});
  dyp.pack(T, hs, {dy, lddy, 1});
  kp.pack(T, hs, {k, ld, 1});
  qp.pack(T, hs, {q, ld, 1});
  for (int i0 = 0; i0 < T; i0 += kCausalStrip) {
    const int i1 = std::min(T, i0 + kCausalStrip);
    gemm_packed(i1 - i0, i1, hs, {dy + i0 * lddy, lddy, 1}, vt, 0, dp + i0 * T, T, false);
    gemm_packed(i1 - i0, hs, T - i0, {pd + i0 * T + i0, 1, T}, dyp, i0, dv + i0 * ldd, ldd, false);
  }
  if (drop.active) {
    for (int i = 0; i < T * T; ++i)
      dp[i] *= Dropout::factor(sk, base + i, drop.threshold, drop.scale);
  }
  causal_softmax_backward(p, dp, T, scale);
  for (int i0 = 0; i0 < T; i0 += kCausalStrip) {  // dQ = dS K and dK = dSᵀ Q, as above
    const int i1 = std::min(T, i0 + kCausalStrip);
    gemm_packed(i1 - i0, hs, i1, {dp + i0 * T, T, 1}, kp, 0, dq + i0 * ldd, ldd, false);
    gemm_packed(i1 - i0, hs, T - i0, {dp + i0 * T + i0, 1, T}, qp, i0, dk + i0 * ldd, ldd, false);
  }
}

// Floats of one head's working copy in bf16 mode: [q | k | v] rows (3 hs), then P (T x T), then
// y or dy rows (hs), then [dq | dk | dv] rows (3 hs). (Recomputed float32 attention uses its P
// part.)
std::size_t head_copy_floats(int T, int hs) {
  return static_cast<std::size_t>(T) * (7 * static_cast<std::size_t>(hs) + T);
}
float* head_copy(std::size_t n) {
  thread_local std::vector<float> storage;  // apart from thread_scratch, which the heads use
  if (storage.size() < n) storage.resize(n);
  return storage.data();
}

// Causal attention of one layer. qkv: (B*T, 3C) rows [q | k | v]; att: (B, NH, T, T) softmax
// probabilities (zero above the diagonal), or null (recompute_attention: each head's stay in its
// working copy); y: (B*T, C).
void attention_forward(const float* qkv, float* att, float* y, int B, int T, int C, int NH,
                       const Dropout& drop, std::uint64_t site) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const std::uint64_t sk = drop.site_key(site);
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (int bh = 0; bh < B * NH; ++bh) {
    const int b = bh / NH, h = bh % NH;
    const float* q = qkv + static_cast<std::ptrdiff_t>(b) * T * 3 * C + h * hs;
    float* p = att != nullptr ? att + static_cast<std::ptrdiff_t>(bh) * T * T
                              : head_copy(static_cast<std::size_t>(T) * T);
    attention_head_forward(q, q + C, q + 2 * C, 3 * C, p,
                           y + static_cast<std::ptrdiff_t>(b) * T * C + h * hs, C, T, hs, scale,
                           drop, sk, drop.head_base + static_cast<std::uint64_t>(bh) * T * T);
  }
}

// dqkv (overwritten) from dy (B*T, C), the stored probabilities (or, att null, recomputed) and qkv.
void attention_backward(float* dqkv, const float* dy, const float* qkv, const float* att, int B,
                        int T, int C, int NH, const Dropout& drop, std::uint64_t site) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const std::uint64_t sk = drop.site_key(site);
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (int bh = 0; bh < B * NH; ++bh) {
    const int b = bh / NH, h = bh % NH;
    const std::ptrdiff_t row0 = static_cast<std::ptrdiff_t>(b) * T;
    const float* q = qkv + row0 * 3 * C + h * hs;
    float* dq = dqkv + row0 * 3 * C + h * hs;
    const float* p = att + static_cast<std::ptrdiff_t>(bh) * T * T;
    if (att == nullptr) {
      float* recomputed = head_copy(static_cast<std::size_t>(T) * T);
      attention_head_recompute(q, q + C, 3 * C, recomputed, T, hs, scale);
      p = recomputed;
    }
    attention_head_backward(q, q + C, q + 2 * C, 3 * C, p, dy + row0 * C + h * hs, C, dq, dq + C,
                            dq + 2 * C, 3 * C, T, hs, scale, drop, sk,
                            drop.head_base + static_cast<std::uint64_t>(bh) * T * T);
  }
}

// Rows [row0, row0 + T) of the head's [q | k | v] slices of a bfloat16 (B*T, 3C) tensor, as
// T rows of 3 hs floats.
void copy_head_in(const Bf16* qkv, std::ptrdiff_t row0, int T, int C, int hs, int h, float* out) {
  for (int t = 0; t < T; ++t) {
    const Bf16* row = qkv + (row0 + t) * 3 * C + h * hs;
    for (int part = 0; part < 3; ++part) {
      from_bf16(row + part * C, out + static_cast<std::ptrdiff_t>(t) * 3 * hs + part * hs,
                static_cast<std::size_t>(hs));
    }
  }
}

// Calls f(bh, row0, h, copy) for every (batch, head) bh over the OpenMP threads: row0 the
// batch's first row, h the head, copy the thread's working copy (head_copy_floats) with the
// head's q, k, v already in it (copy_head_in).
template <class F>
void for_each_head_copy(const Bf16* qkv, int B, int T, int C, int NH, F&& f) {
  const int hs = C / NH;
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (int bh = 0; bh < B * NH; ++bh) {
    const int b = bh / NH, h = bh % NH;
    const std::ptrdiff_t row0 = static_cast<std::ptrdiff_t>(b) * T;
    float* copy = head_copy(head_copy_floats(T, hs));
    copy_head_in(qkv, row0, T, C, hs, h, copy);
    f(bh, row0, h, copy);
  }
}

// bf16 mode's attention: the same per-head computation in float32 on a working copy of the
// head's bfloat16 q, k, v; the probabilities and y stored rounded.
void attention_forward_bf16(const Bf16* qkv, Bf16* att, Bf16* y, int B, int T, int C, int NH,
                            const Dropout& drop, std::uint64_t site) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const std::uint64_t sk = drop.site_key(site);
  for_each_head_copy(qkv, B, T, C, NH, [&](int bh, std::ptrdiff_t row0, int h, float* hq) {
    float* pf = hq + static_cast<std::ptrdiff_t>(T) * 3 * hs;
    float* yf = pf + static_cast<std::ptrdiff_t>(T) * T;
    attention_head_forward(hq, hq + hs, hq + 2 * hs, 3 * hs, pf, yf, hs, T, hs, scale, drop, sk,
                           drop.head_base + static_cast<std::uint64_t>(bh) * T * T);
    if (att != nullptr) {  // null: recomputed in the backward
      to_bf16(pf, att + static_cast<std::ptrdiff_t>(bh) * T * T, static_cast<std::size_t>(T) * T);
    }
    for (int t = 0; t < T; ++t) {
      to_bf16(yf + static_cast<std::ptrdiff_t>(t) * hs, y + (row0 + t) * C + h * hs,
              static_cast<std::size_t>(hs));
    }
  });
}

// Its backward: bfloat16 dqkv (overwritten) from bfloat16 dy, probabilities and qkv.
void attention_backward_bf16(Bf16* dqkv, const Bf16* dy, const Bf16* qkv, const Bf16* att, int B,
                             int T, int C, int NH, const Dropout& drop, std::uint64_t site) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const std::uint64_t sk = drop.site_key(site);
  for_each_head_copy(qkv, B, T, C, NH, [&](int bh, std::ptrdiff_t row0, int h, float* hq) {
    float* pf = hq + static_cast<std::ptrdiff_t>(T) * 3 * hs;
    float* dyf = pf + static_cast<std::ptrdiff_t>(T) * T;
    float* dqf = dyf + static_cast<std::ptrdiff_t>(T) * hs;
    if (att != nullptr) {
      from_bf16(att + static_cast<std::ptrdiff_t>(bh) * T * T, pf, static_cast<std::size_t>(T) * T);
    } else {
      attention_head_recompute(hq, hq + hs, 3 * hs, pf, T, hs, scale);
    }
    for (int t = 0; t < T; ++t) {
      from_bf16(dy + (row0 + t) * C + h * hs, dyf + static_cast<std::ptrdiff_t>(t) * hs,
                static_cast<std::size_t>(hs));
    }
    attention_head_backward(hq, hq + hs, hq + 2 * hs, 3 * hs, pf, dyf, hs, dqf, dqf + hs,
                            dqf + 2 * hs, 3 * hs, T, hs, scale, drop, sk,
                            drop.head_base + static_cast<std::uint64_t>(bh) * T * T);
    for (int t = 0; t < T; ++t) {
      Bf16* row = dqkv + (row0 + t) * 3 * C + h * hs;
      for (int part = 0; part < 3; ++part) {
        to_bf16(dqf + static_cast<std::ptrdiff_t>(t) * 3 * hs + part * hs, row + part * C,
                static_cast<std::size_t>(hs));
      }
    }
  });
}

}  // namespace

float dropout_factor(std::uint64_t key, std::uint64_t site, std::uint64_t index, float p) {
  Dropout d;
  d.key = key;
  d.threshold = dropout_threshold(p);
  d.scale = 1.0f / (1.0f - p);
  return Dropout::factor(d.site_key(site), index, d.threshold, d.scale);
}

const char* KernelProfile::name(int kind) {
  static const char* const names[kKinds] = {"embedding", "layernorm", "qkv", "attention",
                                            "attn_proj", "residual",  "fc",  "gelu",
                                            "fc_proj",   "lm_head",   "loss"};
  return kind >= 0 && kind < kKinds ? names[kind] : "?";
}

namespace {

// Adds the time since construction to a profile slot at scope exit (nothing when slot is null).
class ScopedKernelTimer {
 public:
  explicit ScopedKernelTimer(double* slot) : slot_(slot) {
    if (slot_ != nullptr) start_ = std::chrono::steady_clock::now();
  }
  ~ScopedKernelTimer() {
    if (slot_ != nullptr) {
      *slot_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
  }
  ScopedKernelTimer(const ScopedKernelTimer&) = delete;
  ScopedKernelTimer& operator=(const ScopedKernelTimer&) = delete;

 private:
  double* slot_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

// --- construction --------------------------------------------------------------------------

GptModel::GptModel(const GptConfig& config, int max_batch, std::uint64_t seed)
    : config_(config), max_batch_(max_batch) {
  const GptConfig& c = config_;
  if (c.vocab_size < 1 || c.block_size < 1 || c.n_layer < 1 || c.n_head < 1 || c.n_embd < 1 ||
      max_batch < 1) {
    throw ConfigError(
        "gpt: vocab_size, block_size, n_layer, n_head, n_embd and batch must be >= 1");
  }
  if (c.n_embd % c.n_head != 0) throw ConfigError("gpt: n_embd must be a multiple of n_head");
  if (!(c.dropout >= 0.0f && c.dropout < 1.0f)) throw ConfigError("gpt: dropout must be in [0, 1)");
  if (c.bf16 && c.bias) throw ConfigError("gpt: bf16 mixed precision needs bias = false");
  if (c.batch_shards < 1) throw ConfigError("gpt: batch_shards must be >= 1");
  const std::size_t C = c.n_embd, V = c.vocab_size;
  const std::size_t nb = c.bias ? 1 : 0;
  std::size_t next = 0;
  auto add = [&](std::string name, int rows, int cols, int layer) {
    ParamTensor t;
    t.name = std::move(name);
    t.offset = next;
    t.rows = rows;
    t.cols = cols;
    t.size = static_cast<std::size_t>(rows) * cols;
    t.layer = layer;
    t.decay = rows > 1 && cols > 1;
    next += t.size;
    tensors_.push_back(t);
    return t.offset;
  };
  const int Ci = c.n_embd;
  const int bias_len = static_cast<int>(nb);
  wte_ = add("wte", c.vocab_size, Ci, -1);
  wpe_ = add("wpe", c.block_size, Ci, -1);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    LayerParams lp;
    lp.ln1_w = add(p + "ln1_w", 1, Ci, l);
    lp.ln1_b = add(p + "ln1_b", bias_len, Ci, l);
    lp.attn_w = add(p + "attn_w", 3 * Ci, Ci, l);
    lp.attn_b = add(p + "attn_b", bias_len, 3 * Ci, l);
    lp.proj_w = add(p + "attn_proj_w", Ci, Ci, l);
    lp.proj_b = add(p + "attn_proj_b", bias_len, Ci, l);
    lp.ln2_w = add(p + "ln2_w", 1, Ci, l);
    lp.ln2_b = add(p + "ln2_b", bias_len, Ci, l);
    lp.fc_w = add(p + "fc_w", 4 * Ci, Ci, l);
    lp.fc_b = add(p + "fc_b", bias_len, 4 * Ci, l);
    lp.fcproj_w = add(p + "fc_proj_w", Ci, 4 * Ci, l);
    lp.fcproj_b = add(p + "fc_proj_b", bias_len, Ci, l);
    lp_.push_back(lp);
  }
  lnf_w_ = add("lnf_w", 1, Ci, -1);
  lnf_b_ = add("lnf_b", bias_len, Ci, -1);
  if (!c.bias) {
    std::erase_if(tensors_, [](const ParamTensor& t) { return t.size == 0; });
  }
  params_.assign(next, 0.0f);
  grads_.assign(next, 0.0f);
  if (c.bf16) {
    params16_.assign(next, 0);
    product_weights_.push_back({wte_, static_cast<std::size_t>(V) * C});
    for (const LayerParams& lp : lp_) {
      product_weights_.push_back({lp.attn_w, 3 * C * C});
      product_weights_.push_back({lp.proj_w, C * C});
      product_weights_.push_back({lp.fc_w, 4 * C * C});
      product_weights_.push_back({lp.fcproj_w, 4 * C * C});
    }
  }

  Rng rng(seed);
  const double proj_std = 0.02 / std::sqrt(2.0 * c.n_layer);
  for (const ParamTensor& t : tensors_) {
    float* p = params_.data() + t.offset;
    const bool is_ln_weight =
        t.name.ends_with("ln1_w") || t.name.ends_with("ln2_w") || t.name == "lnf_w";
    if (is_ln_weight) {
      std::fill(p, p + t.size, 1.0f);
    } else if (t.rows > 1) {  // a weight matrix or embedding (biases are 1 x n)
      const bool residual = t.name.ends_with("attn_proj_w") || t.name.ends_with("fc_proj_w");
      const double sd = residual ? proj_std : 0.02;
      for (std::size_t i = 0; i < t.size; ++i) p[i] = static_cast<float>(sd * rng.normal());
    }
  }

  allocate_activations();
  NullTracer untraced;
  round_weights(untraced);  // bf16: the first forward's weight copy
}

// Activations and backward scratch, dense for max_batch x block_size (float32 in acts_ and
// dacts_, the bf16 mode's bfloat16 ones in acts16_ and dacts16_).
void GptModel::allocate_activations() {
  const GptConfig& c = config_;
  const std::size_t C = c.n_embd, V = c.vocab_size, Tm = c.block_size;
  // Each shard's activations and scratch are laid out for its most rows (the whole batch when
  // batch_shards = 1); the shards' copies follow each other (act_stride_ and the like apart).
  const std::size_t shards = static_cast<std::size_t>(c.batch_shards);
  const std::size_t shard_batch = (max_batch_ + c.batch_shards - 1) / c.batch_shards;
  const std::size_t BT = shard_batch * Tm;
  const std::size_t NH = c.n_head;
  std::size_t next = 0;
  auto act = [&](std::size_t n) {
    const std::size_t o = next;
    next += n;
    return o;
  };
  std::size_t next16 = 0;
  // The activations that bf16 mode stores in bfloat16 (acts16_).
  auto act_h = [&](std::size_t n) {
    if (!c.bf16) return act(n);
    const std::size_t o = next16;
    next16 += n;
    return o;
  };
  encoded_ = act(BT * C);
  for (int l = 0; l < c.n_layer; ++l) {
    LayerActs a;
    a.ln1 = act_h(BT * C);
    a.ln1_mean = act(BT);
    a.ln1_rstd = act(BT);
    a.qkv = act_h(BT * 3 * C);
    a.att = c.recompute_attention ? 0 : act_h(shard_batch * NH * Tm * Tm);
    a.atty = act_h(BT * C);
    a.attproj = act(BT * C);
    a.res2 = act(BT * C);
    a.ln2 = act_h(BT * C);
    a.ln2_mean = act(BT);
    a.ln2_rstd = act(BT);
    a.fch = act_h(BT * 4 * C);
    a.fch_gelu = c.fuse && c.bf16 ? 0 : act_h(BT * 4 * C);  // fused: never stored
    a.fcproj = act(BT * C);
    a.res3 = act(BT * C);
    la_.push_back(a);
  }
  lnf_ = act_h(BT * C);
  lnf_mean_ = act(BT);
  lnf_rstd_ = act(BT);
  logits_ = act(BT * V);
  probs_ = act(BT * V);
  losses_ = act(BT);
  act_stride_ = next;
  act16_stride_ = next16;
  acts_.assign(shards * next, 0.0f);
  acts16_.assign(shards * next16, 0);

  next = 0;
  next16 = 0;
  d_res_ = act(BT * C);
  d_tmp_ = act(BT * C);
  d_ln_ = act_h(BT * C);
  if (c.fuse) {
    // Planned by liveness: d fch (d_big_) is dead once the fc backward has read it, before
    // d atty and d qkv are written, so those two share its region (side by side: attention's
    // backward reads d atty while it writes d qkv).
    d_big_ = act_h(BT * 4 * C);
    d_qkv_ = d_big_;
    d_atty_ = d_big_ + BT * 3 * C;
  } else {
    d_atty_ = act_h(BT * C);
    d_qkv_ = act_h(BT * 3 * C);
    d_big_ = act_h(BT * 4 * C);
  }
  d_logits_ = act(BT * V);
  dact_stride_ = next;
  dact16_stride_ = next16;
  dacts_.assign(shards * next, 0.0f);
  dacts16_.assign(shards * next16, 0);
  shard_grads_.assign((shards - 1) * params_.size(), 0.0f);
  inputs_.assign(static_cast<std::size_t>(max_batch_) * Tm, 0);
  targets_.assign(static_cast<std::size_t>(max_batch_) * Tm, 0);
}

const ParamTensor& GptModel::tensor(const std::string& name) const {
  for (const ParamTensor& t : tensors_) {
    if (t.name == name) return t;
  }
  throw Error("gpt: no parameter tensor named " + name);
}

ParamRange GptModel::block_range(int layer) const {
  if (layer < 0 || layer >= config_.n_layer) throw Error("gpt: block index out of range");
  const std::size_t begin = lp_[layer].ln1_w;
  const std::size_t end = layer + 1 < config_.n_layer ? lp_[layer + 1].ln1_w : lnf_w_;
  return {begin, end - begin};
}

ParamRange GptModel::embedding_range() const { return {0, lp_[0].ln1_w}; }

ParamRange GptModel::final_range() const { return {lnf_w_, params_.size() - lnf_w_}; }

std::span<const float> GptModel::logits() const {
  const int n = active_shards();
  const std::size_t row = config_.vocab_size;
  if (n == 1) return {acts_.data() + logits_, static_cast<std::size_t>(B_) * T_ * row};
  // The shards' logits, gathered in batch order.
  gathered_logits_.resize(static_cast<std::size_t>(B_) * T_ * row);
  for (int s = 0; s < n; ++s) {
    const int b0 = shard_begin(s, n), b1 = shard_begin(s + 1, n);
    const float* src = acts_.data() + s * act_stride_ + logits_;
    std::copy(src, src + static_cast<std::size_t>(b1 - b0) * T_ * row,
              gathered_logits_.data() + static_cast<std::size_t>(b0) * T_ * row);
  }
  return gathered_logits_;
}

void GptModel::check_batch(std::size_t n_inputs, std::size_t n_targets, int B, int T) {
  if (B < 1 || B > max_batch_ || T < 1 || T > config_.block_size) {
    throw ConfigError("gpt: batch " + std::to_string(B) + " x " + std::to_string(T) +
                      " exceeds the model's " + std::to_string(max_batch_) + " x " +
                      std::to_string(config_.block_size));
  }
  const auto n = static_cast<std::size_t>(B) * T;
  if (n_inputs != n || (n_targets != 0 && n_targets != n)) {
    throw ConfigError("gpt: inputs and targets must hold B*T ids");
  }
  B_ = B;
  T_ = T;
  forward_done_ = false;
}

void GptModel::check_ids() const {
  const std::size_t n = static_cast<std::size_t>(B_) * T_;
  for (std::size_t i = 0; i < n; ++i) {
    if (inputs_[i] < 0 || inputs_[i] >= config_.vocab_size ||
        (has_targets_ && targets_[i] != kUnscored &&
         (targets_[i] < 0 || targets_[i] >= config_.vocab_size))) {
      throw ConfigError("gpt: token id outside [0, vocab_size)");
    }
  }
}

// --- forward -------------------------------------------------------------------------------

namespace {

// np parameters, na activations, nd backward scratch, nt tokens, npack floats of GEMM packing,
// nscratch floats of one head's attention scratch (d probabilities); in bf16 mode (na16 > 0) also
// np bfloat16 weights, na16 bfloat16 activations, the bf16 products' pack buffers (2 npack and
// napack16 bfloat16), nd16 bfloat16 backward scratch and nhead floats of a head's working copy.
template <class Tracer>
Ids declare_buffers(Tracer& tr, std::size_t np, std::size_t na, std::size_t nd, std::size_t nt,
                    std::size_t npack, std::size_t nscratch, std::size_t na16, std::size_t napack16,
                    std::size_t nd16, std::size_t nhead) {
  Ids ids;
  if constexpr (Tracer::kEnabled) {
    if (na16 > 0) {
      ids.params16 = tr.buffer("gpt.params16", 2, np);
      ids.acts16 = tr.buffer("gpt.acts16", 2, na16);
      ids.pack16 = tr.buffer("gpt.pack16", 2, 2 * npack);
      ids.apack16 = tr.buffer("gpt.apack16", 2, napack16);
      ids.dacts16 = tr.buffer("gpt.dacts16", 2, nd16);
    }
    if (nhead > 0) ids.head = tr.buffer("gpt.head", 4, nhead);
    ids.params = tr.buffer("gpt.params", 4, np);
    ids.grads = tr.buffer("gpt.grads", 4, np);
    ids.acts = tr.buffer("gpt.acts", 4, na);
    ids.dacts = tr.buffer("gpt.dacts", 4, nd);
    ids.tokens = tr.buffer("gpt.tokens", 4, nt);
    ids.targets = tr.buffer("gpt.targets", 4, nt);
    ids.pack = tr.buffer("gpt.pack", 4, npack);
    ids.att_scratch = tr.buffer("gpt.att_scratch", 4, nscratch);
  }
  return ids;
}

// Floats of the packed B of the largest product of a pass: panels of 16 columns x depth, with
// columns up to max(V, 4C) and depth up to max(B*T, 4C) (the weight gradients sum over B*T).
std::size_t pack_elements(int BT, int C, int V) {
  const std::size_t cols = static_cast<std::size_t>((std::max(V, 4 * C) + 15) / 16) * 16;
  return cols * static_cast<std::size_t>(std::max(BT, 4 * C));
}

// The dropout of one pass: active in training with p > 0, keyed by the pass's key.
Dropout pass_dropout(float p, bool training, std::uint64_t key) {
  Dropout drop;
  drop.active = training && p > 0.0f;
  drop.threshold = dropout_threshold(p);
  drop.scale = 1.0f / (1.0f - p);
  drop.key = key;
  return drop;
}

// Rows [r0, r1) of a (rows x width) activation at `base`, as one read or write of a trace op.
template <class Tracer>
void trace_activation_rows(Tracer& tr, BufferId buf, std::size_t base, int width, int r0, int r1,
                           bool write) {
  if constexpr (Tracer::kEnabled) {
    const std::size_t off = base + static_cast<std::size_t>(r0) * width;
    const std::size_t n = static_cast<std::size_t>(r1 - r0) * width;
    write ? tr.write(buf, off, n) : tr.read(buf, off, n);
  }
}

// The state one pass over the batch shares (tracer, buffers, sizes, dropout, profile) and the
// traced kernels both passes use on it, addressed by offsets into params (P), grads (G), acts
// (A) and dacts (D). Each kernel traces one op per row tile.
template <class Tracer>
struct GptPass {
  Tracer& tr;
  Ids id;
  int B, T, C, V, NH, BT;
  bool bias;
  const float* P;
  float* A;
  float* G;
  float* D;
  Bf16* P16;       // bf16 mode: the rounded weights (else null)
  Bf16* A16;       // bf16 mode: the bfloat16 activations (else null)
  Bf16* D16;       // bf16 mode: the bfloat16 backward scratch (else null)
  bool recompute;  // attention probabilities recomputed by the backward, not stored
  Dropout drop;
  KernelProfile* profile;
  std::size_t d_res, d_tmp;     // the running residual gradient and its scratch (backward)
  const std::int32_t* inputs;   // the pass's B*T token ids
  const std::int32_t* targets;  // and targets (kUnscored where not scored)

  static constexpr std::size_t kNoBias = static_cast<std::size_t>(-1);
  static constexpr bool kTraced = Tracer::kEnabled;

  void rows(BufferId buf, std::size_t base, int width, int r0, int r1, bool write) {
    trace_activation_rows(tr, buf, base, width, r0, r1, write);
  }
  void param(std::size_t off, std::size_t n) {
    if constexpr (Tracer::kEnabled) {
      if (n > 0) tr.read(id.params, off, n);
    }
  }
  void tensor(BufferId buf, std::size_t off, std::size_t n, bool write) {
    if constexpr (Tracer::kEnabled) {
      if (n > 0) write ? tr.write(buf, off, n) : tr.read(buf, off, n);
    }
  }
  double* fslot(int kind) { return profile != nullptr ? &profile->forward[kind] : nullptr; }
  double* bslot(int kind) { return profile != nullptr ? &profile->backward[kind] : nullptr; }

  // One head's causal strips of rows [i0, i1) as attention_forward and attention_backward cut
  // them (kCausalStrip rows each).
  template <class F>
  void causal_strips(F&& f) const {
    for (int i0 = 0; i0 < T; i0 += kCausalStrip) f(i0, std::min(T, i0 + kCausalStrip));
  }
  // Element offset of packed operand `slot` (0-3) of one head in gpt.pack: each slot holds an
  // operand of at most T x T floats in 16-column panels.
  std::uint64_t head_pack(int slot) const {
    const std::uint64_t panel_cols = static_cast<std::uint64_t>((T + 15) / 16) * 16;
    return static_cast<std::uint64_t>(slot) * panel_cols * static_cast<std::uint64_t>(T);
  }
  // Rows [t, ...) of one head's T x T matrix at `base` of `buf`: read the first `n`, as an op.
  void softmax_row(BufferId buf, std::int64_t base, int t, int n) {
    tr.read(buf, static_cast<std::uint64_t>(base + static_cast<std::int64_t>(t) * T),
            static_cast<std::uint64_t>(n));
  }

  // Where one head's attention operands live in the trace: q, k, v rows (stride ld) in qkv_buf,
  // the probabilities (T x T, stride T) in p_buf, y or dy rows (stride ldy) in y_buf, and in the
  // backward dq, dk, dv rows (stride ldd) in d_buf.
  struct HeadLoc {
    BufferId qkv_buf = 0;
    std::int64_t q = 0, k = 0, v = 0, ld = 0;
    BufferId p_buf = 0;
    std::int64_t p = 0;
    BufferId y_buf = 0;
    std::int64_t y = 0, ldy = 0;
    BufferId d_buf = 0;
    std::int64_t dq = 0, dk = 0, dv = 0, ldd = 0;
  };
  // Head bh in the float32 layout: qkv, att and y (dy) in acts (dacts), dqkv in dacts.
  HeadLoc f32_head(int bh, std::size_t qkv, std::size_t att, BufferId y_buf, std::size_t y,
                   std::size_t d_qkv) const {
    const int hs = C / NH, b = bh / NH, h = bh % NH;
    const std::int64_t row0 = static_cast<std::int64_t>(b) * T;
    HeadLoc L;
    L.qkv_buf = id.acts;
    L.q = sdiff(qkv) + row0 * 3 * C + h * hs;
    L.k = L.q + C;
    L.v = L.q + 2 * C;
    L.ld = 3 * C;
    L.p_buf = id.acts;
    L.p = sdiff(att) + static_cast<std::int64_t>(bh) * T * T;
    L.y_buf = y_buf;
    L.y = sdiff(y) + row0 * C + h * hs;
    L.ldy = C;
    L.d_buf = id.dacts;
    L.dq = sdiff(d_qkv) + row0 * 3 * C + h * hs;
    L.dk = L.dq + C;
    L.dv = L.dq + 2 * C;
    L.ldd = 3 * C;
    return L;
  }
  // Recomputed float32 attention: the head's probabilities in the working copy (gpt.head from 0).
  HeadLoc recomputed_probs(HeadLoc L) const {
    if (recompute) {
      L.p_buf = id.head;
      L.p = 0;
    }
    return L;
  }
  // Per strip S = Q Kᵀ on the keys j < i1 (Kᵀ already packed in head_pack(0)), then the causal
  // softmax row by row (reads j <= t, writes the row): the probabilities of one head.
  void trace_scores_and_softmax(const HeadLoc& L) {
    const int hs = C / NH;
    causal_strips([&](int i0, int i1) {
      trace_row_range(tr, 0, i1 - i0, i1, hs, {L.qkv_buf, L.q + i0 * L.ld, L.ld, 1}, id.pack,
                      head_pack(0), static_cast<std::uint64_t>(hs) * kTraceNr,
                      {L.p_buf, L.p + i0 * T, T, 1}, false, kTracedKernelRows);
    });
    for (int t = 0; t < T; ++t) {
      softmax_row(L.p_buf, L.p, t, t + 1);
      tr.write(L.p_buf, static_cast<std::uint64_t>(L.p + static_cast<std::int64_t>(t) * T),
               static_cast<std::uint64_t>(T));
      tr.op_end();
    }
  }
  // The probabilities recomputed for the backward (attention_head_recompute): Kᵀ packed, then
  // the scores and softmax as the forward computes them.
  void trace_recompute_probs(const HeadLoc& L) {
    trace_pack_b(tr, C / NH, T, {L.qkv_buf, L.k, 1, L.ld}, id.pack, head_pack(0));
    trace_scores_and_softmax(L);
  }
  // The working copy of bf16 mode (attention_forward_bf16): [q | k | v] rows, P, y (dy) rows and
  // [dq | dk | dv] rows in gpt.head.
  HeadLoc copy_head() const {
    const int hs = C / NH;
    HeadLoc L;
    L.qkv_buf = L.p_buf = L.y_buf = L.d_buf = id.head;
    L.q = 0;
    L.k = hs;
    L.v = 2 * hs;
    L.ld = 3 * hs;
    L.p = static_cast<std::int64_t>(T) * 3 * hs;
    L.y = L.p + static_cast<std::int64_t>(T) * T;
    L.ldy = hs;
    L.dq = L.y + static_cast<std::int64_t>(T) * hs;
    L.dk = L.dq + hs;
    L.dv = L.dq + 2 * hs;
    L.ldd = 3 * hs;
    return L;
  }

  // One head as attention_head_forward runs it: Kᵀ and V packed, per strip S = Q Kᵀ on the keys
  // j < i1, the causal softmax row by row (reads j <= t, writes the row), per strip Y = P V.
  // With dropout, the masked copy of P (thread scratch) is not traced.
  void trace_head_forward(const HeadLoc& L) {
    const int hs = C / NH;
    trace_pack_b(tr, hs, T, {L.qkv_buf, L.k, 1, L.ld}, id.pack, head_pack(0));
    trace_pack_b(tr, T, hs, {L.qkv_buf, L.v, L.ld, 1}, id.pack, head_pack(1));
    trace_scores_and_softmax(L);
    causal_strips([&](int i0, int i1) {
      trace_row_range(tr, 0, i1 - i0, hs, i1, {L.p_buf, L.p + i0 * T, T, 1}, id.pack, head_pack(1),
                      static_cast<std::uint64_t>(T) * kTraceNr,
                      {L.y_buf, L.y + i0 * L.ldy, L.ldy, 1}, false, kTracedKernelRows);
    });
  }

  // Its backward as attention_head_backward runs it: Vᵀ, dY, K and Q packed; per strip dP =
  // dY Vᵀ (into the head's scratch) and dV = Pᵀ dY; the softmax backward row by row; per strip
  // dQ = dS K and dK = dSᵀ Q.
  void trace_head_backward(const HeadLoc& L) {
    const int hs = C / NH;
    const std::uint64_t depth_stride = static_cast<std::uint64_t>(T) * kTraceNr;
    trace_pack_b(tr, hs, T, {L.qkv_buf, L.v, 1, L.ld}, id.pack, head_pack(0));
    trace_pack_b(tr, T, hs, {L.y_buf, L.y, L.ldy, 1}, id.pack, head_pack(1));
    trace_pack_b(tr, T, hs, {L.qkv_buf, L.k, L.ld, 1}, id.pack, head_pack(2));
    trace_pack_b(tr, T, hs, {L.qkv_buf, L.q, L.ld, 1}, id.pack, head_pack(3));
    causal_strips([&](int i0, int i1) {
      trace_row_range(tr, 0, i1 - i0, i1, hs, {L.y_buf, L.y + i0 * L.ldy, L.ldy, 1}, id.pack,
                      head_pack(0), static_cast<std::uint64_t>(hs) * kTraceNr,
                      {id.att_scratch, static_cast<std::int64_t>(i0) * T, T, 1}, false,
                      kTracedKernelRows);
      trace_row_range(tr, 0, i1 - i0, hs, T - i0, {L.p_buf, L.p + i0 * T + i0, 1, T}, id.pack,
                      head_pack(1) + static_cast<std::uint64_t>(i0) * kTraceNr, depth_stride,
                      {L.d_buf, L.dv + i0 * L.ldd, L.ldd, 1}, false, kTracedKernelRows);
    });
    for (int t = 0; t < T; ++t) {
      softmax_row(L.p_buf, L.p, t, t + 1);
      softmax_row(id.att_scratch, 0, t, t + 1);
      tr.write(id.att_scratch, static_cast<std::uint64_t>(t) * T, static_cast<std::uint64_t>(T));
      tr.op_end();
    }
    causal_strips([&](int i0, int i1) {
      trace_row_range(tr, 0, i1 - i0, hs, i1,
                      {id.att_scratch, static_cast<std::int64_t>(i0) * T, T, 1}, id.pack,
                      head_pack(2), depth_stride, {L.d_buf, L.dq + i0 * L.ldd, L.ldd, 1}, false,
                      kTracedKernelRows);
      trace_row_range(tr, 0, i1 - i0, hs, T - i0,
                      {id.att_scratch, static_cast<std::int64_t>(i0) * T + i0, 1, T}, id.pack,
                      head_pack(3) + static_cast<std::uint64_t>(i0) * kTraceNr, depth_stride,
                      {L.d_buf, L.dk + i0 * L.ldd, L.ldd, 1}, false, kTracedKernelRows);
    });
  }

  // bf16 mode: row t of head (b, h) of a bfloat16 (B*T, width) tensor at `base` of `buf`,
  // columns [h*hs + part*C ...) for parts 0..parts-1, read (or written) hs each.
  void head_rows16(BufferId buf, std::size_t base, int width, int bh, int t, int parts,
                   bool write) {
    const int hs = C / NH, b = bh / NH, h = bh % NH;
    const std::uint64_t row = base + (static_cast<std::uint64_t>(b) * T + t) * width;
    for (int part = 0; part < parts; ++part) {
      const std::uint64_t off = row + static_cast<std::uint64_t>(h) * hs + part * C;
      write ? tr.write(buf, off, hs) : tr.read(buf, off, hs);
    }
  }
  // The copy of head bh's q, k, v rows into gpt.head (copy_head_in), one op per row.
  void trace_copy_head_in(std::size_t qkv, int bh) {
    const int hs = C / NH;
    for (int t = 0; t < T; ++t) {
      head_rows16(id.acts16, qkv, 3 * C, bh, t, 3, false);
      tr.write(id.head, static_cast<std::uint64_t>(t) * 3 * hs, 3 * static_cast<std::uint64_t>(hs));
      tr.op_end();
    }
  }

  // Attention of one layer, per (batch, head), as attention_forward (float32: operands in acts)
  // or attention_forward_bf16 runs it (the head's q, k, v copied into gpt.head row by row, the
  // head computed there, then P and y rounded into acts16 row by row).
  void trace_attention_forward(std::size_t qkv, std::size_t att, std::size_t atty) {
    if constexpr (kTraced) {
      const int hs = C / NH;
      for (int bh = 0; bh < B * NH; ++bh) {
        if (A16 == nullptr) {
          trace_head_forward(recomputed_probs(f32_head(bh, qkv, att, id.acts, atty, 0)));
          continue;
        }
        const HeadLoc L = copy_head();
        trace_copy_head_in(qkv, bh);
        trace_head_forward(L);
        const std::uint64_t p16 = att + static_cast<std::uint64_t>(bh) * T * T;
        for (int t = 0; t < T; ++t) {
          if (!recompute) {  // recomputed: P is not stored
            tr.read(id.head, static_cast<std::uint64_t>(L.p) + static_cast<std::uint64_t>(t) * T,
                    T);
            tr.write(id.acts16, p16 + static_cast<std::uint64_t>(t) * T, T);
          }
          tr.read(id.head, static_cast<std::uint64_t>(L.y) + static_cast<std::uint64_t>(t) * hs,
                  hs);
          head_rows16(id.acts16, atty, C, bh, t, 1, true);
          tr.op_end();
        }
      }
    }
  }

  // Its backward, as attention_backward or attention_backward_bf16 runs it (the copies in:
  // q, k, v, P and dy; the head; the rounded dq, dk, dv out, row by row).
  void trace_attention_backward(std::size_t d_qkv, std::size_t d_atty, std::size_t qkv,
                                std::size_t att) {
    if constexpr (kTraced) {
      const int hs = C / NH;
      for (int bh = 0; bh < B * NH; ++bh) {
        if (A16 == nullptr) {
          const HeadLoc L = recomputed_probs(f32_head(bh, qkv, att, id.dacts, d_atty, d_qkv));
          if (recompute) trace_recompute_probs(L);
          trace_head_backward(L);
          continue;
        }
        const HeadLoc L = copy_head();
        trace_copy_head_in(qkv, bh);
        if (recompute) trace_recompute_probs(L);
        const std::uint64_t p16 = att + static_cast<std::uint64_t>(bh) * T * T;
        for (int t = 0; t < T; ++t) {
          if (!recompute) {
            tr.read(id.acts16, p16 + static_cast<std::uint64_t>(t) * T, T);
            tr.write(id.head, static_cast<std::uint64_t>(L.p) + static_cast<std::uint64_t>(t) * T,
                     T);
          }
          head_rows16(id.dacts16, d_atty, C, bh, t, 1, false);
          tr.write(id.head, static_cast<std::uint64_t>(L.y) + static_cast<std::uint64_t>(t) * hs,
                   hs);
          tr.op_end();
        }
        trace_head_backward(L);
        for (int t = 0; t < T; ++t) {
          tr.read(id.head,
                  static_cast<std::uint64_t>(L.dq) + static_cast<std::uint64_t>(t) * 3 * hs,
                  3 * static_cast<std::uint64_t>(hs));
          head_rows16(id.dacts16, d_qkv, 3 * C, bh, t, 3, true);
          tr.op_end();
        }
      }
    }
  }

  // The product C (+)= A·B as cube's kernel runs it (gemm_trace.h), operands in traced buffers.
  void traced_gemm(int M, int N, int K, TracedMatrix a, TracedMatrix b, TracedMatrix c,
                   bool accumulate) {
    if constexpr (kTraced) trace_gemm(tr, M, N, K, a, b, c, id.pack, accumulate, kTracedKernelRows);
  }
  // The bf16 mode's product as gemm_bf16 runs it (trace_gemm_bf16).
  void traced_gemm_bf16(int M, int N, int K, TracedMatrix a, bool a_half, TracedMatrix b,
                        TracedMatrix c, bool c_half, bool accumulate = false) {
    if constexpr (kTraced)
      trace_gemm_bf16(tr, M, N, K, a, a_half, b, c, c_half, id.pack16, id.apack16, accumulate);
  }
  // fuse mode without dropout: out = x (+ b) + in · Wᵀ in one product: out starts as the
  // residual x (plus the bias) and the product adds into it. In bf16 mode these are the bits of
  // matmul then residual; in float32 the sum may round differently (oneDNN's sgemm adds C in its
  // own order).
  void matmul_residual(int kind, Act in, std::size_t w, std::size_t b, std::size_t x,
                       std::size_t out, int N, int K) {
    const bool has_bias = bias && b != kNoBias;
    {
      ScopedKernelTimer timer(fslot(KernelProfile::kResidual));
      const float* xp = A + x;
      const float* bp = has_bias ? P + b : nullptr;
      float* op = A + out;
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
      for (int i = 0; i < BT; ++i) {
        const std::ptrdiff_t o = static_cast<std::ptrdiff_t>(i) * N;
        for (int c = 0; c < N; ++c) op[o + c] = bp != nullptr ? xp[o + c] + bp[c] : xp[o + c];
      }
      per_tile(tr, BT, [&](int r0, int r1) {
        rows(id.acts, x, N, r0, r1, false);
        if (has_bias) param(b, N);
        rows(id.acts, out, N, r0, r1, true);
      });
    }
    ScopedKernelTimer timer(fslot(kind));
    if (P16 != nullptr) {
      gemm_bf16(BT, N, K, operand(in, K), MixedStrided::b16(P16 + w, 1, K),
                MixedOutput::f32(A + out, N), true);
      traced_gemm_bf16(BT, N, K, traced(in, K), in.half && !in.gelu, {id.params16, sdiff(w), 1, K},
                       {id.acts, sdiff(out), N, 1}, false, true);
      return;
    }
    gemm_nt(BT, N, K, A + in.off, P + w, A + out, true);
    traced_gemm(BT, N, K, {id.acts, sdiff(in.off), K, 1}, {id.params, sdiff(w), 1, K},
                {id.acts, sdiff(out), N, 1}, true);
  }
  // An activation as a product operand (rows of `width` elements) and as a traced matrix.
  MixedStrided operand(Act x, int width) const {
    const MixedStrided m =
        x.half ? MixedStrided::b16(A16 + x.off, width, 1) : MixedStrided::f32(A + x.off, width, 1);
    return x.gelu ? m.mapped(gelu_in_place) : m;
  }
  TracedMatrix traced(Act x, int width) const {
    return {x.half ? id.acts16 : id.acts, sdiff(x.off), width, 1};
  }
  BufferId act_buffer(Act x) const { return x.half ? id.acts16 : id.acts; }

  // out = in · Wᵀ + b over BT rows (N outputs, K inputs); b = kNoBias for none. In bf16 mode the
  // product reads the rounded weights and writes a bfloat16 out when out.half.
  void matmul(int kind, Act in, std::size_t w, std::size_t b, Act out, int N, int K) {
    ScopedKernelTimer timer(fslot(kind));
    const bool has_bias = bias && b != kNoBias;
    if (P16 != nullptr) {
      const MixedOutput c =
          out.half ? MixedOutput::b16(A16 + out.off, N) : MixedOutput::f32(A + out.off, N);
      gemm_bf16(BT, N, K, operand(in, K), MixedStrided::b16(P16 + w, 1, K), c, false);
      traced_gemm_bf16(BT, N, K, traced(in, K), in.half && !in.gelu, {id.params16, sdiff(w), 1, K},
                       traced(out, N), out.half);
      return;
    }
    matmul_forward(A + in.off, P + w, has_bias ? P + b : nullptr, A + out.off, BT, N, K);
    if (has_bias) {
      per_tile(tr, BT, [&](int r0, int r1) {  // the bias copied into every row of out
        param(b, N);
        rows(id.acts, out.off, N, r0, r1, true);
      });
    }
    traced_gemm(BT, N, K, {id.acts, sdiff(in.off), K, 1}, {id.params, sdiff(w), 1, K},
                {id.acts, sdiff(out.off), N, 1}, has_bias);
  }
  void layernorm(std::size_t in, Act out, std::size_t mean, std::size_t rstd, std::size_t w,
                 std::size_t b) {
    ScopedKernelTimer timer(fslot(KernelProfile::kLayerNorm));
    if (out.half) {
      layernorm_forward_bf16(A + in, A16 + out.off, A + mean, A + rstd, P + w,
                             bias ? P + b : nullptr, BT, C);
    } else {
      layernorm_forward(A + in, A + out.off, A + mean, A + rstd, P + w, bias ? P + b : nullptr, BT,
                        C);
    }
    per_tile(tr, BT, [&](int r0, int r1) {
      rows(id.acts, in, C, r0, r1, false);
      param(w, C);
      if (bias) param(b, C);
      rows(act_buffer(out), out.off, C, r0, r1, true);
      rows(id.acts, mean, 1, r0, r1, true);
      rows(id.acts, rstd, 1, r0, r1, true);
    });
  }
  // out = x + drop(y), elementwise over BT x C.
  void residual(std::size_t x, std::size_t y, std::size_t out, std::uint64_t site) {
    ScopedKernelTimer timer(fslot(KernelProfile::kResidual));
    const float* xp = A + x;
    const float* yp = A + y;
    float* op = A + out;
    const std::int64_t n = static_cast<std::int64_t>(BT) * C;
    if (drop.active) {
      const std::uint64_t sk = drop.site_key(site);
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
      for (std::int64_t i = 0; i < n; ++i) {
        op[i] = xp[i] + yp[i] * Dropout::factor(sk, drop.row_base + i, drop.threshold, drop.scale);
      }
    } else {
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
      for (std::int64_t i = 0; i < n; ++i) op[i] = xp[i] + yp[i];
    }
    per_tile(tr, BT, [&](int r0, int r1) {
      rows(id.acts, x, C, r0, r1, false);
      rows(id.acts, y, C, r0, r1, false);
      rows(id.acts, out, C, r0, r1, true);
    });
  }

  // A backward-scratch tensor (an Act whose offset is in dacts, or in dacts16 when half).
  BufferId grad_buffer(Act g) const { return g.half ? id.dacts16 : id.dacts; }

  // Backward of out = in · Wᵀ + b given d_out: dW, db overwritten; d_in overwritten (d_out and
  // d_in are backward scratch; bfloat16 when half, as in is an activation).
  void matmul_back(int kind, Act d_out, Act in, std::size_t w, std::size_t b, Act d_in, int N,
                   int K) {
    ScopedKernelTimer timer(bslot(kind));
    const bool has_bias = bias && b != kNoBias;
    if (P16 != nullptr) {  // bias is off in bf16 mode
      const MixedStrided dy_t = d_out.half ? MixedStrided::b16(D16 + d_out.off, 1, N)
                                           : MixedStrided::f32(D + d_out.off, 1, N);
      const MixedStrided dy = d_out.half ? MixedStrided::b16(D16 + d_out.off, N, 1)
                                         : MixedStrided::f32(D + d_out.off, N, 1);
      gemm_bf16(N, K, BT, dy_t, operand(in, K), MixedOutput::f32(G + w, K), false);
      gemm_bf16(BT, K, N, dy, MixedStrided::b16(P16 + w, K, 1),
                d_in.half ? MixedOutput::b16(D16 + d_in.off, K) : MixedOutput::f32(D + d_in.off, K),
                false);
      traced_gemm_bf16(N, K, BT, {grad_buffer(d_out), sdiff(d_out.off), 1, N}, d_out.half,
                       traced(in, K), {id.grads, sdiff(w), K, 1}, false);  // B: always packed
      traced_gemm_bf16(BT, K, N, {grad_buffer(d_out), sdiff(d_out.off), N, 1}, d_out.half,
                       {id.params16, sdiff(w), K, 1}, {grad_buffer(d_in), sdiff(d_in.off), K, 1},
                       d_in.half);
      return;
    }
    matmul_back_f32(d_out.off, in.off, w, has_bias ? b : kNoBias, d_in.off, N, K);
  }
  void matmul_back_f32(std::size_t d_out, std::size_t in, std::size_t w, std::size_t b,
                       std::size_t d_in, int N, int K) {
    const bool has_bias = b != kNoBias;
    gemm_tn(N, K, BT, D + d_out, A + in, G + w, false);
    if (has_bias) column_sums(D + d_out, G + b, BT, N);
    gemm_nn(BT, K, N, D + d_out, P + w, D + d_in, false);
    // dW = d_outᵀ · in, then db (column sums of d_out), then d_in = d_out · W.
    traced_gemm(N, K, BT, {id.dacts, sdiff(d_out), 1, N}, {id.acts, sdiff(in), K, 1},
                {id.grads, sdiff(w), K, 1}, false);
    if (has_bias) {
      per_tile(tr, BT, [&](int r0, int r1) {
        rows(id.dacts, d_out, N, r0, r1, false);
        tensor(id.grads, b, N, false);
        tensor(id.grads, b, N, true);
      });
    }
    traced_gemm(BT, K, N, {id.dacts, sdiff(d_out), N, 1}, {id.params, sdiff(w), K, 1},
                {id.dacts, sdiff(d_in), K, 1}, false);
  }
  void layernorm_back(Act d_out, std::size_t in, std::size_t mean, std::size_t rstd, std::size_t w,
                      std::size_t b) {
    ScopedKernelTimer timer(bslot(KernelProfile::kLayerNorm));
    if (d_out.half) {
      layernorm_backward_bf16(D + d_res, G + w, bias ? G + b : nullptr, D16 + d_out.off, A + in,
                              P + w, A + mean, A + rstd, BT, C);
    } else {
      layernorm_backward(D + d_res, G + w, bias ? G + b : nullptr, D + d_out.off, A + in, P + w,
                         A + mean, A + rstd, BT, C);
    }
    per_tile(tr, BT, [&](int r0, int r1) {
      rows(grad_buffer(d_out), d_out.off, C, r0, r1, false);
      rows(id.acts, in, C, r0, r1, false);
      rows(id.acts, mean, 1, r0, r1, false);
      rows(id.acts, rstd, 1, r0, r1, false);
      tensor(id.params, w, C, false);
      rows(id.dacts, d_res, C, r0, r1, false);
      rows(id.dacts, d_res, C, r0, r1, true);
      tensor(id.grads, w, C, true);
      if (bias) tensor(id.grads, b, C, true);
    });
  }
  // d_tmp = drop_backward(d_res) when dropout is active; returns the buffer holding d(branch).
  std::size_t branch_grad(std::uint64_t site) {
    if (!drop.active) return d_res;
    ScopedKernelTimer timer(bslot(KernelProfile::kResidual));
    const std::uint64_t sk = drop.site_key(site);
    const std::int64_t n = static_cast<std::int64_t>(BT) * C;
    const float* src = D + d_res;
    float* dst = D + d_tmp;
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
    for (std::int64_t i = 0; i < n; ++i) {
      dst[i] = src[i] * Dropout::factor(sk, drop.row_base + i, drop.threshold, drop.scale);
    }
    per_tile(tr, BT, [&](int r0, int r1) {
      rows(id.dacts, d_res, C, r0, r1, false);
      rows(id.dacts, d_tmp, C, r0, r1, true);
    });
    return d_tmp;
  }
};

}  // namespace

template <class Tracer>
auto GptModel::declare_model_buffers(Tracer& tr) const {
  const int BTm = max_batch_ * config_.block_size;
  // The bf16 products' packed A: a row block holds up to 24 KiB of pairs, 2 bfloat16 each.
  const std::size_t apack16 =
      config_.bf16
          ? 24 * 1024 / 2 + 24 * static_cast<std::size_t>(std::max(BTm, 4 * config_.n_embd))
          : 0;
  Ids id =
      declare_buffers(tr, params_.size(), acts_.size(), dacts_.size(), inputs_.size(),
                      pack_elements(BTm, config_.n_embd, config_.vocab_size),
                      static_cast<std::size_t>(config_.block_size) * config_.block_size,
                      acts16_.size(), apack16, dacts16_.size(),
                      config_.bf16 || config_.recompute_attention
                          ? head_copy_floats(config_.block_size, config_.n_embd / config_.n_head)
                          : 0);
  if constexpr (Tracer::kEnabled) {
    if (!shard_grads_.empty())
      id.shard_grads = tr.buffer("gpt.shard_grads", 4, shard_grads_.size());
  }
  return id;
}

template <class Pass, class Tracer, class BufferIds, class Drop>
Pass GptModel::begin_pass(Tracer& tr, const BufferIds& id, const Drop& whole_batch_drop, int shard,
                          int shards, KernelProfile* profile) {
  const int b0 = shard_begin(shard, shards), B = shard_begin(shard + 1, shards) - b0;
  const auto s = static_cast<std::size_t>(shard);
  const std::size_t row0 = static_cast<std::size_t>(b0) * T_;
  Dropout drop = whole_batch_drop;
  drop.row_base = row0 * config_.n_embd;
  drop.head_base = static_cast<std::uint64_t>(b0) * config_.n_head * T_ * T_;
  g_parallel = worth_parallel(B * T_, config_.n_embd);
  float* grads = shard == 0 ? grads_.data() : shard_grads_.data() + (s - 1) * params_.size();
  return Pass{tr,
              id,
              B,
              T_,
              config_.n_embd,
              config_.vocab_size,
              config_.n_head,
              B * T_,
              config_.bias,
              params_.data(),
              acts_.data() + s * act_stride_,
              grads,
              dacts_.data() + s * dact_stride_,
              config_.bf16 ? params16_.data() : nullptr,
              config_.bf16 ? acts16_.data() + s * act16_stride_ : nullptr,
              config_.bf16 ? dacts16_.data() + s * dact16_stride_ : nullptr,
              config_.recompute_attention,
              drop,
              profile,
              d_res_,
              d_tmp_,
              inputs_.data() + row0,
              targets_.data() + row0};
}

// Runs body(pass) for every shard of the batch. Untraced, with between `shards` and 2 x `shards`
// - 1 threads, the shards run side by side, one thread each (every kernel of a shard on its
// thread); otherwise one after the other, each with all the threads. Either way a shard computes
// the same bits. Traced, shard s's events move to its copies of the buffers (ShardTracer).
template <class Tracer, class Drop, class Body>
void GptModel::run_shards(Tracer& tr, const Drop& drop, Body&& body) {
  const auto id = declare_model_buffers(tr);
  const int n = active_shards();
  auto run = [&](int shard, KernelProfile* profile) {
    ShardTracer<Tracer> moved{tr};
    if constexpr (Tracer::kEnabled) {
      const auto s = static_cast<std::uint64_t>(shard);
      const std::uint64_t row0 = static_cast<std::uint64_t>(shard_begin(shard, n)) * T_;
      moved.move(id.acts, id.acts, s * act_stride_);
      moved.move(id.dacts, id.dacts, s * dact_stride_);
      if (config_.bf16) {
        moved.move(id.acts16, id.acts16, s * act16_stride_);
        moved.move(id.dacts16, id.dacts16, s * dact16_stride_);
      }
      moved.move(id.tokens, id.tokens, row0);
      moved.move(id.targets, id.targets, row0);
      if (shard > 0) moved.move(id.grads, id.shard_grads, (s - 1) * params_.size());
    }
    auto pass = begin_pass<GptPass<ShardTracer<Tracer>>>(moved, id, drop, shard, n, profile);
    body(pass);
  };
  if constexpr (!Tracer::kEnabled) {
    if (shards_side_by_side()) {
      // The profile, when attached, times shard 0's kernels: the wall time of each kernel kind.
#pragma omp parallel num_threads(n)
      {
        omp_set_num_threads(1);
        for (int s = omp_get_thread_num(); s < n; s += omp_get_num_threads()) {
          run(s, s == 0 ? profile_ : nullptr);
        }
      }
      return;
    }
  }
  for (int s = 0; s < n; ++s) run(s, profile_);
}

// grads = the sum of the shards' gradients, in shard order (traced per 4096-float chunk: the
// reads of every shard's chunk, the write of the sum).
template <class Tracer>
void GptModel::sum_shard_grads(Tracer& tr, int shards) {
  const auto np = static_cast<std::int64_t>(params_.size());
  float* g = grads_.data();
  const float* rest = shard_grads_.data();
  constexpr std::int64_t kChunkFloats = 4096;
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static)
  for (std::int64_t c0 = 0; c0 < np; c0 += kChunkFloats) {
    const std::int64_t c1 = std::min(np, c0 + kChunkFloats);
    for (int s = 1; s < shards; ++s) {
      const float* gs = rest + (s - 1) * np;
      for (std::int64_t i = c0; i < c1; ++i) g[i] += gs[i];
    }
  }
  if constexpr (Tracer::kEnabled) {
    const auto id = declare_model_buffers(tr);
    for (std::int64_t c0 = 0; c0 < np; c0 += kChunkFloats) {
      const auto n = static_cast<std::uint64_t>(std::min(kChunkFloats, np - c0));
      const auto off = static_cast<std::uint64_t>(c0);
      tr.read(id.grads, off, n);
      for (int s = 1; s < shards; ++s) {
        tr.read(id.shard_grads, static_cast<std::uint64_t>(s - 1) * params_.size() + off, n);
      }
      tr.write(id.grads, off, n);
      tr.op_end();
    }
  }
}

// x0 = drop(wte[token] + wpe[position]).
template <class Pass>
void GptModel::embed_forward(Pass& pass) {
  const int T = pass.T, C = pass.C, V = pass.V, BT = pass.BT;
  const float* P = pass.P;
  float* A = pass.A;
  const Dropout& drop = pass.drop;
  // Embedding.
  {
    ScopedKernelTimer timer(pass.fslot(KernelProfile::kEmbedding));
    float* x0 = A + encoded_;
    const float* wte = P + wte_;
    const float* wpe = P + wpe_;
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
    for (int i = 0; i < BT; ++i) {
      const float* te = wte + static_cast<std::ptrdiff_t>(pass.inputs[i]) * C;
      const float* pe = wpe + static_cast<std::ptrdiff_t>(i % T) * C;
      float* o = x0 + static_cast<std::ptrdiff_t>(i) * C;
      for (int c = 0; c < C; ++c) o[c] = te[c] + pe[c];
    }
    if (drop.active) apply_dropout(x0, static_cast<std::size_t>(BT) * C, drop, 0);
    per_tile(pass.tr, BT, [&](int r0, int r1) {
      if constexpr (Pass::kTraced) {
        pass.tr.read(pass.id.tokens, r0, r1 - r0);
        pass.param(wte_, static_cast<std::size_t>(V) * C);
        pass.param(wpe_, static_cast<std::size_t>(T) * C);
      }
      pass.rows(pass.id.acts, encoded_, C, r0, r1, true);
    });
  }
}

// One block: x + attn(ln1(x)), then + mlp(ln2(.)), each branch through dropout.
template <class Pass>
void GptModel::block_forward(Pass& pass, int l) {
  const int B = pass.B, T = pass.T, C = pass.C, NH = pass.NH, BT = pass.BT;
  float* A = pass.A;
  const Dropout& drop = pass.drop;
  const LayerActs& a = la_[l];
  const LayerParams& p = lp_[l];
  const bool h = config_.bf16;
  const std::size_t xin = l == 0 ? encoded_ : la_[l - 1].res3;
  pass.layernorm(xin, {a.ln1, h}, a.ln1_mean, a.ln1_rstd, p.ln1_w, p.ln1_b);
  pass.matmul(KernelProfile::kQkv, {a.ln1, h}, p.attn_w, p.attn_b, {a.qkv, h}, 3 * C, C);
  {
    ScopedKernelTimer timer(pass.fslot(KernelProfile::kAttention));
    if (h) {
      attention_forward_bf16(pass.A16 + a.qkv,
                             config_.recompute_attention ? nullptr : pass.A16 + a.att,
                             pass.A16 + a.atty, B, T, C, NH, drop, site_att(l));
    } else {
      attention_forward(A + a.qkv, config_.recompute_attention ? nullptr : A + a.att, A + a.atty, B,
                        T, C, NH, drop, site_att(l));
    }
  }
  pass.trace_attention_forward(a.qkv, a.att, a.atty);
  const bool fuse_residual = config_.fuse && !drop.active;
  if (fuse_residual) {
    pass.matmul_residual(KernelProfile::kAttnProj, {a.atty, h}, p.proj_w, p.proj_b, xin, a.res2, C,
                         C);
  } else {
    pass.matmul(KernelProfile::kAttnProj, {a.atty, h}, p.proj_w, p.proj_b, {a.attproj}, C, C);
    pass.residual(xin, a.attproj, a.res2, site_attout(l));
  }
  pass.layernorm(a.res2, {a.ln2, h}, a.ln2_mean, a.ln2_rstd, p.ln2_w, p.ln2_b);
  pass.matmul(KernelProfile::kFc, {a.ln2, h}, p.fc_w, p.fc_b, {a.fch, h}, 4 * C, C);
  // The MLP's hidden activation as its output product reads it: GELU(fch), fused into that
  // product's packing, or stored by the GELU kernel.
  Act hidden{a.fch_gelu, h};
  if (config_.fuse && h) {
    hidden = {a.fch, h, true};
  } else {
    {
      ScopedKernelTimer timer(pass.fslot(KernelProfile::kGelu));
      const std::size_t n = static_cast<std::size_t>(BT) * 4 * C;
      if (h) {
        gelu_forward_bf16(pass.A16 + a.fch, pass.A16 + a.fch_gelu, n);
      } else if (gelu_slope_stored_) {
        gelu_forward_keep_slope(A + a.fch, A + a.fch_gelu, n);
      } else {
        gelu_forward(A + a.fch, A + a.fch_gelu, n);
      }
    }
    const BufferId mlp_acts = h ? pass.id.acts16 : pass.id.acts;
    per_tile(pass.tr, BT, [&](int r0, int r1) {
      pass.rows(mlp_acts, a.fch, 4 * C, r0, r1, false);
      pass.rows(mlp_acts, a.fch_gelu, 4 * C, r0, r1, true);
      if (gelu_slope_stored_) pass.rows(mlp_acts, a.fch, 4 * C, r0, r1, true);
    });
  }
  if (fuse_residual) {
    pass.matmul_residual(KernelProfile::kFcProj, hidden, p.fcproj_w, p.fcproj_b, a.res2, a.res3, C,
                         4 * C);
  } else {
    pass.matmul(KernelProfile::kFcProj, hidden, p.fcproj_w, p.fcproj_b, {a.fcproj}, C, 4 * C);
    pass.residual(a.res2, a.fcproj, a.res3, site_mlpout(l));
  }
}

// The final LayerNorm, the tied lm_head, the softmax and each row's cross-entropy (forward sums
// them over the shards).
template <class Pass>
void GptModel::head_forward(Pass& pass) {
  const int C = pass.C, V = pass.V, BT = pass.BT;
  float* A = pass.A;
  const std::size_t xlast = la_[config_.n_layer - 1].res3;
  pass.layernorm(xlast, {lnf_, config_.bf16}, lnf_mean_, lnf_rstd_, lnf_w_, lnf_b_);
  // lm_head, tied: logits = lnf · wteᵀ.
  pass.matmul(KernelProfile::kLmHead, {lnf_, config_.bf16}, wte_, Pass::kNoBias, {logits_}, V, C);

  // Softmax and cross-entropy.
  float* logits = A + logits_;
  float* probs = A + probs_;
  float* losses = A + losses_;
  const bool targets = has_targets_;
  ScopedKernelTimer loss_timer(pass.fslot(KernelProfile::kLoss));
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
  for (int i = 0; i < BT; ++i) {
    const float* z = logits + static_cast<std::ptrdiff_t>(i) * V;
    float* pr = probs + static_cast<std::ptrdiff_t>(i) * V;
    float mx = z[0];
    for (int v = 1; v < V; ++v) mx = std::max(mx, z[v]);
    for (int v = 0; v < V; ++v) pr[v] = exp_approx(z[v] - mx);
    const float sum = sum8(pr, V);
    const float inv = 1.0f / sum;
    for (int v = 0; v < V; ++v) pr[v] *= inv;
    if (targets) {
      const std::int32_t target = pass.targets[i];
      losses[i] = target == kUnscored ? 0.0f : (mx - z[target]) + std::log(sum);
    }
  }
  per_tile(pass.tr, BT, [&](int r0, int r1) {
    pass.rows(pass.id.acts, logits_, V, r0, r1, false);
    if constexpr (Pass::kTraced) {
      if (targets) pass.tr.read(pass.id.targets, r0, r1 - r0);
    }
    pass.rows(pass.id.acts, probs_, V, r0, r1, true);
    if (targets) pass.rows(pass.id.acts, losses_, 1, r0, r1, true);
  });
}

bool GptModel::shards_side_by_side() const {
  const int n = active_shards(), threads = omp_get_max_threads();
  return n > 1 && threads >= n && threads < 2 * n;
}

template <class Pass>
void GptModel::forward_shard(Pass& pass) {
  embed_forward(pass);
  for (int l = 0; l < config_.n_layer; ++l) block_forward(pass, l);
  head_forward(pass);
}

template <class Tracer>
void GptModel::begin_forward(Tracer& tr, bool training, std::uint64_t dropout_key) {
  if (B_ == 0) throw Error("gpt: forward before set_batch");
  training_ = training;
  dropout_key_ = dropout_key;
  gelu_slope_stored_ = training && !config_.bf16;
  if (weights16_stale_) round_weights(tr);
}

float GptModel::mean_loss() const {
  if (!has_targets_) return std::numeric_limits<float>::quiet_NaN();
  // The mean over the scored targets, summed row by row in batch order whatever the shards.
  double total = 0.0;
  const int n = active_shards();
  for (int s = 0; s < n; ++s) {
    const float* losses = acts_.data() + static_cast<std::size_t>(s) * act_stride_ + losses_;
    const int rows = (shard_begin(s + 1, n) - shard_begin(s, n)) * T_;
    for (int i = 0; i < rows; ++i) total += losses[i];
  }
  return scored_ > 0 ? static_cast<float>(total / scored_) : 0.0f;
}

template <class Tracer>
float GptModel::forward(Tracer& tr, bool training, std::uint64_t dropout_key) {
  begin_forward(tr, training, dropout_key);
  run_shards(tr, pass_dropout(config_.dropout, training, dropout_key),
             [&](auto& pass) { forward_shard(pass); });
  forward_done_ = true;
  return mean_loss();
}

// --- backward ------------------------------------------------------------------------------

// The loss, the lm_head and the final LayerNorm, back to d res of the last block.
template <class Pass>
void GptModel::head_backward(Pass& pass) {
  const int C = pass.C, V = pass.V, BT = pass.BT;
  float* A = pass.A;
  float* D = pass.D;
  // Cross-entropy and softmax: d logits = (probs - onehot) / (scored targets), 0 on the rows
  // of unscored targets.
  {
    ScopedKernelTimer timer(pass.bslot(KernelProfile::kLoss));
    const float* probs = A + probs_;
    float* dl = D + d_logits_;
    const int scored = scored_targets();
    const float inv = scored > 0 ? 1.0f / static_cast<float>(scored) : 0.0f;
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (g_parallel)
    for (int i = 0; i < BT; ++i) {
      const float* pr = probs + static_cast<std::ptrdiff_t>(i) * V;
      float* d = dl + static_cast<std::ptrdiff_t>(i) * V;
      if (pass.targets[i] == kUnscored) {
        std::fill(d, d + V, 0.0f);
        continue;
      }
      for (int v = 0; v < V; ++v) d[v] = pr[v] * inv;
      d[pass.targets[i]] -= inv;
    }
    per_tile(pass.tr, BT, [&](int r0, int r1) {
      pass.rows(pass.id.acts, probs_, V, r0, r1, false);
      if constexpr (Pass::kTraced) pass.tr.read(pass.id.targets, r0, r1 - r0);
      pass.rows(pass.id.dacts, d_logits_, V, r0, r1, true);
    });
  }
  // lm_head: d wte = d logitsᵀ · lnf (overwrites; the embedding adds later), d lnf.
  const bool h = config_.bf16;
  const std::size_t xlast = la_[config_.n_layer - 1].res3;
  pass.matmul_back(KernelProfile::kLmHead, {d_logits_}, {lnf_, h}, wte_, Pass::kNoBias, {d_ln_, h},
                   V, C);
  std::fill(D + d_res_, D + d_res_ + static_cast<std::size_t>(BT) * C, 0.0f);
  pass.layernorm_back({d_ln_, h}, xlast, lnf_mean_, lnf_rstd_, lnf_w_, lnf_b_);
}

// One block backward (the MLP branch, then attention), d res carried in dacts.
template <class Pass>
void GptModel::block_backward(Pass& pass, int l) {
  const int B = pass.B, T = pass.T, C = pass.C, NH = pass.NH, BT = pass.BT;
  float* A = pass.A;
  float* D = pass.D;
  const Dropout& drop = pass.drop;
  const LayerActs& a = la_[l];
  const LayerParams& p = lp_[l];
  const std::size_t xin = l == 0 ? encoded_ : la_[l - 1].res3;
  const bool h = config_.bf16;
  // MLP branch: d fcproj = drop_back(d res3).
  const std::size_t d_mlp = pass.branch_grad(site_mlpout(l));
  const Act hidden = config_.fuse && h ? Act{a.fch, h, true} : Act{a.fch_gelu, h};
  pass.matmul_back(KernelProfile::kFcProj, {d_mlp}, hidden, p.fcproj_w, p.fcproj_b, {d_big_, h}, C,
                   4 * C);
  {
    ScopedKernelTimer timer(pass.bslot(KernelProfile::kGelu));
    const std::size_t n = static_cast<std::size_t>(BT) * 4 * C;
    if (h) {
      gelu_backward_bf16(pass.D16 + d_big_, pass.A16 + a.fch, n);
    } else if (gelu_slope_stored_) {
      gelu_slope_backward(D + d_big_, A + a.fch, n);
    } else {
      gelu_backward(D + d_big_, A + a.fch, n);
    }
  }
  per_tile(pass.tr, BT, [&](int r0, int r1) {
    pass.rows(h ? pass.id.acts16 : pass.id.acts, a.fch, 4 * C, r0, r1, false);
    const BufferId d_buf = h ? pass.id.dacts16 : pass.id.dacts;
    pass.rows(d_buf, d_big_, 4 * C, r0, r1, false);
    pass.rows(d_buf, d_big_, 4 * C, r0, r1, true);
  });
  pass.matmul_back(KernelProfile::kFc, {d_big_, h}, {a.ln2, h}, p.fc_w, p.fc_b, {d_ln_, h}, 4 * C,
                   C);
  pass.layernorm_back({d_ln_, h}, a.res2, a.ln2_mean, a.ln2_rstd, p.ln2_w, p.ln2_b);
  // Attention branch.
  const std::size_t d_att = pass.branch_grad(site_attout(l));
  pass.matmul_back(KernelProfile::kAttnProj, {d_att}, {a.atty, h}, p.proj_w, p.proj_b, {d_atty_, h},
                   C, C);
  {
    ScopedKernelTimer timer(pass.bslot(KernelProfile::kAttention));
    if (h) {
      attention_backward_bf16(pass.D16 + d_qkv_, pass.D16 + d_atty_, pass.A16 + a.qkv,
                              config_.recompute_attention ? nullptr : pass.A16 + a.att, B, T, C, NH,
                              drop, site_att(l));
    } else {
      attention_backward(D + d_qkv_, D + d_atty_, A + a.qkv,
                         config_.recompute_attention ? nullptr : A + a.att, B, T, C, NH, drop,
                         site_att(l));
    }
  }
  pass.trace_attention_backward(d_qkv_, d_atty_, a.qkv, a.att);
  pass.matmul_back(KernelProfile::kQkv, {d_qkv_, h}, {a.ln1, h}, p.attn_w, p.attn_b, {d_ln_, h},
                   3 * C, C);
  pass.layernorm_back({d_ln_, h}, xin, a.ln1_mean, a.ln1_rstd, p.ln1_w, p.ln1_b);
}

// d wte[tok] += d x0 (the lm_head wrote its part first), d wpe[t] = sum over the batch.
template <class Pass>
void GptModel::embed_backward(Pass& pass) {
  const int T = pass.T, C = pass.C, V = pass.V, BT = pass.BT;
  float* G = pass.G;
  float* D = pass.D;
  // Embedding: d x0 = drop_back(d res); d wte[tok] += , d wpe[t] = sum over the batch.
  {
    const std::size_t dx = pass.branch_grad(0);
    ScopedKernelTimer timer(pass.bslot(KernelProfile::kEmbedding));
    const float* d = D + dx;
    float* gwte = G + wte_;
    float* gwpe = G + wpe_;
    const std::int32_t* tok = pass.inputs;
    // One thread, rows in order: with two (each a half of every row) it took 0.19 ms per step
    // against 0.03 (gpt_bench GptStepBreakdown), for the same sums.
    std::fill(gwpe, gwpe + static_cast<std::ptrdiff_t>(config_.block_size) * C, 0.0f);
    for (int i = 0; i < BT; ++i) {
      const float* di = d + static_cast<std::ptrdiff_t>(i) * C;
      float* we = gwte + static_cast<std::ptrdiff_t>(tok[i]) * C;
      float* pe = gwpe + static_cast<std::ptrdiff_t>(i % T) * C;
      for (int c = 0; c < C; ++c) {
        we[c] += di[c];
        pe[c] += di[c];
      }
    }
    per_tile(pass.tr, BT, [&](int r0, int r1) {
      if constexpr (Pass::kTraced) pass.tr.read(pass.id.tokens, r0, r1 - r0);
      pass.rows(pass.id.dacts, dx, C, r0, r1, false);
      pass.tensor(pass.id.grads, wte_, static_cast<std::size_t>(V) * C, false);
      pass.tensor(pass.id.grads, wte_, static_cast<std::size_t>(V) * C, true);
      pass.tensor(pass.id.grads, wpe_, static_cast<std::size_t>(T) * C, true);
    });
  }
}

// The shard's backward; with one shard the hook runs after each block, while its gradients are
// recent.
template <class Pass>
void GptModel::backward_shard(Pass& pass, const BlockHook& hook) {
  const bool hook_here = hook && active_shards() == 1;
  head_backward(pass);
  for (int l = config_.n_layer - 1; l >= 0; --l) {
    block_backward(pass, l);
    if (hook_here) hook(l);
  }
  embed_backward(pass);
}

// With shards, each block's gradients are final only once every shard's are summed: the sum, then
// the hook for every block.
template <class Tracer>
void GptModel::end_backward(Tracer& tr, const BlockHook& hook) {
  const int n = active_shards();
  if (n == 1) return;
  sum_shard_grads(tr, n);
  if (hook) {
    for (int l = config_.n_layer - 1; l >= 0; --l) hook(l);
  }
}

template <class Tracer>
void GptModel::backward(Tracer& tr, const BlockHook& hook) {
  if (!forward_done_ || !has_targets_) throw Error("gpt: backward needs a forward with targets");
  run_shards(tr, pass_dropout(config_.dropout, training_, dropout_key_),
             [&](auto& pass) { backward_shard(pass, hook); });
  end_backward(tr, hook);
}

template <class Tracer>
float GptModel::forward_backward(Tracer& tr, std::uint64_t dropout_key, const BlockHook& hook) {
  if (!has_targets_) throw Error("gpt: forward_backward needs a batch with targets");
  if (Tracer::kEnabled || !shards_side_by_side()) {
    const float loss = forward(tr, /*training=*/true, dropout_key);
    backward(tr, hook);
    return loss;
  }
  // Side by side, a thread's backward starts as soon as its own shard's forward is done: the join
  // between forward and backward, and its wait for the slower shard, are gone.
  begin_forward(tr, /*training=*/true, dropout_key);
  run_shards(tr, pass_dropout(config_.dropout, true, dropout_key), [&](auto& pass) {
    forward_shard(pass);
    backward_shard(pass, hook);
  });
  forward_done_ = true;
  const float loss = mean_loss();
  end_backward(tr, hook);
  return loss;
}

template <class Tracer>
void GptModel::round_weights(Tracer& tr, ParamRange range) {
  if (!config_.bf16) return;
  BufferId params = 0, params16 = 0;
  if constexpr (Tracer::kEnabled) {
    params = tr.buffer("gpt.params", 4, params_.size());
    params16 = tr.buffer("gpt.params16", 2, params16_.size());
  }
  for (const ParamRange& r : product_weights_) {
    if (r.offset < range.offset || r.offset - range.offset >= range.size) continue;
    to_bf16(params_.data() + r.offset, params16_.data() + r.offset, r.size);
    if constexpr (Tracer::kEnabled) {
      tr.read(params, r.offset, r.size);
      tr.write(params16, r.offset, r.size);
      tr.op_end();
    }
  }
  weights16_stale_ = false;
}

template float GptModel::forward<NullTracer>(NullTracer&, bool, std::uint64_t);
template void GptModel::round_weights<NullTracer>(NullTracer&, ParamRange);
template void GptModel::round_weights<RecordingTracer>(RecordingTracer&, ParamRange);
template float GptModel::forward<RecordingTracer>(RecordingTracer&, bool, std::uint64_t);
template void GptModel::backward<NullTracer>(NullTracer&, const BlockHook&);
template void GptModel::backward<RecordingTracer>(RecordingTracer&, const BlockHook&);
template float GptModel::forward_backward<NullTracer>(NullTracer&, std::uint64_t, const BlockHook&);
template float GptModel::forward_backward<RecordingTracer>(RecordingTracer&, std::uint64_t,
                                                           const BlockHook&);

}  // namespace cube::gpt
