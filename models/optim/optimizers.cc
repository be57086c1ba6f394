// cube/models/optim/optimizers.cc: AdamW, SGD with momentum and Lion over ranges of the GPT
// parameter buffer, gradient clipping and the nanoGPT schedule (see optimizers.h).
#include "models/optim/optimizers.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace cube::gpt {
namespace {

// Calls f(begin, count, decay) for each piece of [range) with one decay flag.
template <class Segments, class F>
void for_each_piece(const Segments& segments, ParamRange range, F&& f) {
  const std::size_t lo = range.offset, hi = range.offset + range.size;
  for (const auto& s : segments) {
    const std::size_t b = std::max(lo, s.offset), e = std::min(hi, s.offset + s.size);
    if (b < e) f(b, e - b, s.decay);
  }
}

// Calls f(begin, count, decay) on blocks of at most 4096 elements that cover [range), each inside
// one piece, all in ONE OpenMP region (static schedule) when the range is worth threads. A region
// per tensor cost the exam's GPT step 12 forks and joins and ran the tensors under the threshold
// (the 128 x 128 projections, the embeddings, every LayerNorm: 10 % of its 804 K parameters) on
// one thread. An update is elementwise, so how [range) is cut never changes an element's bits.
template <class Segments, class F>
void for_each_block(const Segments& segments, ParamRange range, F&& f) {
  constexpr std::size_t kBlock = 4096;
  struct Block {
    std::size_t begin, count;
    bool decay;
  };
  std::vector<Block> blocks;
  blocks.reserve(range.size / kBlock + segments.size() + 1);
  for_each_piece(segments, range, [&](std::size_t begin, std::size_t count, bool decay) {
    for (std::size_t i = begin; i < begin + count; i += kBlock) {
      blocks.push_back({i, std::min(kBlock, begin + count - i), decay});
    }
  });
  const auto n = static_cast<std::int64_t>(blocks.size());
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (range.size > 16384)
  for (std::int64_t b = 0; b < n; ++b) f(blocks[b].begin, blocks[b].count, blocks[b].decay);
}

void check_range(ParamRange range, std::size_t n_params, std::size_t n_p, std::size_t n_g) {
  if (range.offset + range.size > n_params || n_p != n_params || n_g != n_params) {
    throw Error("gpt optimizer: range or buffers do not match the model");
  }
}

// Per chunk of kTraceChunk elements: reads of params, grads and the state buffers, writes of the
// state buffers and params.
template <class Tracer>
void trace_update(Tracer& tr, ParamRange range, std::size_t n_params,
                  std::initializer_list<const char*> state) {
  if constexpr (Tracer::kEnabled) {
    const BufferId p = tr.buffer("gpt.params", 4, n_params);
    const BufferId g = tr.buffer("gpt.grads", 4, n_params);
    BufferId ids[2] = {0, 0};
    std::size_t k = 0;
    for (const char* name : state) ids[k++] = tr.buffer(name, 4, n_params);
    for (std::size_t o = range.offset; o < range.offset + range.size; o += Optimizer::kTraceChunk) {
      const std::size_t n = std::min(Optimizer::kTraceChunk, range.offset + range.size - o);
      tr.read(p, o, n);
      tr.read(g, o, n);
      for (std::size_t i = 0; i < k; ++i) tr.read(ids[i], o, n);
      for (std::size_t i = 0; i < k; ++i) tr.write(ids[i], o, n);
      tr.write(p, o, n);
      tr.op_end();
    }
  }
}

struct AdamWConstants {
  float b1, b2, eps, bc1, bc2, lr;
  float grad_scale;  // the gradient read is grad_scale * g (the clip's factor, 1 without)
};

// One AdamW element, in the order every vector path below follows (IEEE single operations, no
// fused multiply-add: the file is compiled with -ffp-contract=off), so all paths give the same
// bits: g = grad_scale g; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g²; p = p shrink - lr (m /
// bc1) / (sqrt(v / bc2) + eps).
inline void adamw_element(const AdamWConstants& k, float shrink, float& p, float g_read, float& m,
                          float& v) {
  const float g = g_read * k.grad_scale;
  m = k.b1 * m + (1.0f - k.b1) * g;
  v = k.b2 * v + (1.0f - k.b2) * (g * g);
  const float mhat = m / k.bc1;
  const float vhat = v / k.bc2;
  p = p * shrink - k.lr * (mhat / (std::sqrt(vhat) + k.eps));
}

// AdamW over a block, compiled for AVX-512, AVX2 and plain x86-64 (SSE) and picked by cpuid at the
// first call. Each clone vectorizes adamw_element, sqrt and divisions included (the file is built
// with -fno-math-errno: sqrt of v >= 0 never sets errno, and errno is what kept GCC from
// vectorizing it), lane by lane in its order and without contraction, so every clone gives the
// scalar formula's bits.
__attribute__((target_clones("avx512f", "avx2", "default"))) void adamw_block(
    const AdamWConstants& k, float shrink, float* __restrict p, const float* __restrict g,
    float* __restrict m, float* __restrict v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) adamw_element(k, shrink, p[i], g[i], m[i], v[i]);
}

constexpr int kNormLanes = 8;

// grad_norm's chunk sums: the sum of squares of x[0, n) in double in kNormLanes interleaved
// partial sums (lane l takes i = l mod 8), added lane 0 to 7 at the end: eight independent add
// chains instead of one, the same bits on every ISA (each product and add is one IEEE double
// operation).

// The last n - full (< 8) squares into lanes 0.., then the lanes added 0 to 7.
double add_tail_and_lanes(double* lane, const float* x, std::size_t full, std::size_t n) {
  for (std::size_t i = full; i < n; ++i) {
    const double v = x[i];
    lane[i - full] += v * v;
  }
  double total = 0.0;
  for (int l = 0; l < kNormLanes; ++l) total += lane[l];
  return total;
}

// Compiled for AVX-512, AVX2 and plain x86-64 and picked by cpuid: each clone keeps the eight
// lanes as eight independent double chains (GCC vectorizes the inner loop across them), so every
// clone gives the same bits.
__attribute__((target_clones("avx512f", "avx2", "default"))) double sum_squares(const float* x,
                                                                                std::size_t n) {
  double lane[kNormLanes] = {};
  const std::size_t full = n / kNormLanes * kNormLanes;
  for (std::size_t i = 0; i < full; i += kNormLanes) {
    for (int l = 0; l < kNormLanes; ++l) {
      const double v = x[i + l];
      lane[l] += v * v;
    }
  }
  return add_tail_and_lanes(lane, x, full, n);
}

}  // namespace

double nanogpt_lr(std::int64_t it, double lr, double min_lr, std::int64_t warmup_iters,
                  std::int64_t decay_iters) {
  if (it < warmup_iters) {
    return lr * static_cast<double>(it + 1) / static_cast<double>(warmup_iters + 1);
  }
  if (it > decay_iters) return min_lr;
  const double ratio = static_cast<double>(it - warmup_iters) /
                       static_cast<double>(std::max<std::int64_t>(1, decay_iters - warmup_iters));
  const double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * ratio));
  return min_lr + coeff * (lr - min_lr);
}

double grad_norm(std::span<const float> grads) {
  constexpr std::size_t kChunks = 64;
  double partial[kChunks];
  const std::size_t n = grads.size();
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (n > 65536)
  for (std::size_t c = 0; c < kChunks; ++c) {
    const std::size_t b = n * c / kChunks, e = n * (c + 1) / kChunks;
    partial[c] = sum_squares(grads.data() + b, e - b);
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

float clip_factor(double norm, double max_norm) {
  return norm > max_norm ? static_cast<float>(max_norm / (norm + 1e-6)) : 1.0f;
}

double clip_grad_norm(std::span<float> grads, double max_norm) {
  const double norm = grad_norm(grads);
  if (norm > max_norm) {
    const float scale = clip_factor(norm, max_norm);
    const auto n = static_cast<std::int64_t>(grads.size());
    float* g = grads.data();
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (n > 65536)
    for (std::int64_t i = 0; i < n; ++i) g[i] *= scale;
  }
  return norm;
}

Optimizer::Optimizer(const std::vector<ParamTensor>& tensors, std::size_t n_params)
    : n_params_(n_params) {
  std::size_t covered = 0;
  for (const ParamTensor& t : tensors) {
    if (t.offset != covered) throw Error("gpt optimizer: tensors must tile the buffer in order");
    segments_.push_back({t.offset, t.size, t.decay});
    covered += t.size;
  }
  if (covered != n_params) throw Error("gpt optimizer: tensors do not cover the buffer");
}

AdamW::AdamW(const AdamWConfig& config, const std::vector<ParamTensor>& tensors,
             std::size_t n_params)
    : TracedOptimizer(tensors, n_params), config_(config), m_(n_params, 0.0f), v_(n_params, 0.0f) {}

template <class Tracer>
void AdamW::run(ParamRange range, std::span<float> params, std::span<const float> grads, float lr,
                float grad_scale, Tracer& tracer) {
  check_range(range, n_params_, params.size(), grads.size());
  if (t_ < 1) throw Error("gpt optimizer: update before begin_step");
  const float b1 = config_.beta1, b2 = config_.beta2, eps = config_.eps;
  const float bc1 = 1.0f - std::pow(b1, static_cast<float>(t_));
  const float bc2 = 1.0f - std::pow(b2, static_cast<float>(t_));
  float* p = params.data();
  const float* g = grads.data();
  float* m = m_.data();
  float* v = v_.data();
  const AdamWConstants k{b1, b2, eps, bc1, bc2, lr, grad_scale};
  const float decayed = 1.0f - lr * config_.weight_decay;
  for_each_block(segments_, range, [&](std::size_t i, std::size_t n, bool decay) {
    adamw_block(k, decay ? decayed : 1.0f, p + i, g + i, m + i, v + i, n);
  });
  trace_update(tracer, range, n_params_, {"opt.m", "opt.v"});
}

SgdMomentum::SgdMomentum(const SgdConfig& config, const std::vector<ParamTensor>& tensors,
                         std::size_t n_params)
    : TracedOptimizer(tensors, n_params), config_(config), u_(n_params, 0.0f) {}

template <class Tracer>
void SgdMomentum::run(ParamRange range, std::span<float> params, std::span<const float> grads,
                      float lr, float grad_scale, Tracer& tracer) {
  check_range(range, n_params_, params.size(), grads.size());
  if (t_ < 1) throw Error("gpt optimizer: update before begin_step");
  const float mu = config_.momentum;
  float* p = params.data();
  const float* g = grads.data();
  float* u = u_.data();
  for_each_block(segments_, range, [&](std::size_t begin, std::size_t count, bool decay) {
    const float wd = decay ? config_.weight_decay : 0.0f;
    for (std::size_t i = begin; i < begin + count; ++i) {
      u[i] = mu * u[i] + (g[i] * grad_scale + wd * p[i]);
      p[i] -= lr * u[i];
    }
  });
  trace_update(tracer, range, n_params_, {"opt.m"});
}

Lion::Lion(const LionConfig& config, const std::vector<ParamTensor>& tensors, std::size_t n_params)
    : TracedOptimizer(tensors, n_params), config_(config), m_(n_params, 0.0f) {}

template <class Tracer>
void Lion::run(ParamRange range, std::span<float> params, std::span<const float> grads, float lr,
               float grad_scale, Tracer& tracer) {
  check_range(range, n_params_, params.size(), grads.size());
  if (t_ < 1) throw Error("gpt optimizer: update before begin_step");
  const float b1 = config_.beta1, b2 = config_.beta2;
  float* p = params.data();
  const float* g = grads.data();
  float* m = m_.data();
  for_each_block(segments_, range, [&](std::size_t begin, std::size_t count, bool decay) {
    const float shrink = decay ? 1.0f - lr * config_.weight_decay : 1.0f;
    for (std::size_t i = begin; i < begin + count; ++i) {
      const float gi = g[i] * grad_scale;
      const float c = b1 * m[i] + (1.0f - b1) * gi;
      const float s = c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : 0.0f);
      p[i] = p[i] * shrink - lr * s;
      m[i] = b2 * m[i] + (1.0f - b2) * gi;
    }
  });
  trace_update(tracer, range, n_params_, {"opt.m"});
}

template void AdamW::run<NullTracer>(ParamRange, std::span<float>, std::span<const float>, float,
                                     float, NullTracer&);
template void AdamW::run<RecordingTracer>(ParamRange, std::span<float>, std::span<const float>,
                                          float, float, RecordingTracer&);
template void SgdMomentum::run<NullTracer>(ParamRange, std::span<float>, std::span<const float>,
                                           float, float, NullTracer&);
template void SgdMomentum::run<RecordingTracer>(ParamRange, std::span<float>,
                                                std::span<const float>, float, float,
                                                RecordingTracer&);
template void Lion::run<NullTracer>(ParamRange, std::span<float>, std::span<const float>, float,
                                    float, NullTracer&);
template void Lion::run<RecordingTracer>(ParamRange, std::span<float>, std::span<const float>,
                                         float, float, RecordingTracer&);

}  // namespace cube::gpt
