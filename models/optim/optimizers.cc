// cube/models/optim/optimizers.cc: AdamW, SGD with momentum and Lion over ranges of the GPT
// parameter buffer, gradient clipping and the nanoGPT schedule (see optimizers.h).
#include "models/optim/optimizers.h"

#include <immintrin.h>
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
    double s = 0.0;
    for (std::size_t i = b; i < e; ++i) s += static_cast<double>(grads[i]) * grads[i];
    partial[c] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

double clip_grad_norm(std::span<float> grads, double max_norm) {
  const double norm = grad_norm(grads);
  if (norm > max_norm) {
    const auto scale = static_cast<float>(max_norm / (norm + 1e-6));
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
                Tracer& tracer) {
  check_range(range, n_params_, params.size(), grads.size());
  if (t_ < 1) throw Error("gpt optimizer: update before begin_step");
  const float b1 = config_.beta1, b2 = config_.beta2, eps = config_.eps;
  const float bc1 = 1.0f - std::pow(b1, static_cast<float>(t_));
  const float bc2 = 1.0f - std::pow(b2, static_cast<float>(t_));
  float* p = params.data();
  const float* g = grads.data();
  float* m = m_.data();
  float* v = v_.data();
  for_each_piece(segments_, range, [&](std::size_t begin, std::size_t count, bool decay) {
    const float shrink = decay ? 1.0f - lr * config_.weight_decay : 1.0f;
    const auto b = static_cast<std::int64_t>(begin), e = static_cast<std::int64_t>(begin + count);
    const std::int64_t quads = (e - b) / 4;
    // SSE intrinsics because GCC does not vectorize sqrtf under math-errno; every operation is
    // the same IEEE single-precision one as in the scalar tail, so the bits do not depend on it.
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (count > 16384)
    for (std::int64_t q = 0; q < quads; ++q) {
      const std::int64_t i = b + 4 * q;
      const __m128 gi = _mm_loadu_ps(g + i);
      const __m128 mi = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(b1), _mm_loadu_ps(m + i)),
                                   _mm_mul_ps(_mm_set1_ps(1.0f - b1), gi));
      const __m128 vi = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(b2), _mm_loadu_ps(v + i)),
                                   _mm_mul_ps(_mm_set1_ps(1.0f - b2), _mm_mul_ps(gi, gi)));
      _mm_storeu_ps(m + i, mi);
      _mm_storeu_ps(v + i, vi);
      const __m128 mhat = _mm_div_ps(mi, _mm_set1_ps(bc1));
      const __m128 vhat = _mm_div_ps(vi, _mm_set1_ps(bc2));
      const __m128 step = _mm_div_ps(mhat, _mm_add_ps(_mm_sqrt_ps(vhat), _mm_set1_ps(eps)));
      _mm_storeu_ps(p + i, _mm_sub_ps(_mm_mul_ps(_mm_loadu_ps(p + i), _mm_set1_ps(shrink)),
                                      _mm_mul_ps(_mm_set1_ps(lr), step)));
    }
    for (std::int64_t i = b + 4 * quads; i < e; ++i) {
      m[i] = b1 * m[i] + (1.0f - b1) * g[i];
      v[i] = b2 * v[i] + (1.0f - b2) * (g[i] * g[i]);
      const float mhat = m[i] / bc1;
      const float vhat = v[i] / bc2;
      p[i] = p[i] * shrink - lr * (mhat / (std::sqrt(vhat) + eps));
    }
  });
  trace_update(tracer, range, n_params_, {"opt.m", "opt.v"});
}

SgdMomentum::SgdMomentum(const SgdConfig& config, const std::vector<ParamTensor>& tensors,
                         std::size_t n_params)
    : TracedOptimizer(tensors, n_params), config_(config), u_(n_params, 0.0f) {}

template <class Tracer>
void SgdMomentum::run(ParamRange range, std::span<float> params, std::span<const float> grads,
                      float lr, Tracer& tracer) {
  check_range(range, n_params_, params.size(), grads.size());
  if (t_ < 1) throw Error("gpt optimizer: update before begin_step");
  const float mu = config_.momentum;
  float* p = params.data();
  const float* g = grads.data();
  float* u = u_.data();
  for_each_piece(segments_, range, [&](std::size_t begin, std::size_t count, bool decay) {
    const float wd = decay ? config_.weight_decay : 0.0f;
    const auto b = static_cast<std::int64_t>(begin), e = static_cast<std::int64_t>(begin + count);
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (count > 16384)
    for (std::int64_t i = b; i < e; ++i) {
      u[i] = mu * u[i] + (g[i] + wd * p[i]);
      p[i] -= lr * u[i];
    }
  });
  trace_update(tracer, range, n_params_, {"opt.m"});
}

Lion::Lion(const LionConfig& config, const std::vector<ParamTensor>& tensors, std::size_t n_params)
    : TracedOptimizer(tensors, n_params), config_(config), m_(n_params, 0.0f) {}

template <class Tracer>
void Lion::run(ParamRange range, std::span<float> params, std::span<const float> grads, float lr,
               Tracer& tracer) {
  check_range(range, n_params_, params.size(), grads.size());
  if (t_ < 1) throw Error("gpt optimizer: update before begin_step");
  const float b1 = config_.beta1, b2 = config_.beta2;
  float* p = params.data();
  const float* g = grads.data();
  float* m = m_.data();
  for_each_piece(segments_, range, [&](std::size_t begin, std::size_t count, bool decay) {
    const float shrink = decay ? 1.0f - lr * config_.weight_decay : 1.0f;
    const auto b = static_cast<std::int64_t>(begin), e = static_cast<std::int64_t>(begin + count);
#pragma omp parallel for num_threads(omp_get_max_threads()) schedule(static) if (count > 16384)
    for (std::int64_t i = b; i < e; ++i) {
      const float c = b1 * m[i] + (1.0f - b1) * g[i];
      const float s = c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : 0.0f);
      p[i] = p[i] * shrink - lr * s;
      m[i] = b2 * m[i] + (1.0f - b2) * g[i];
    }
  });
  trace_update(tracer, range, n_params_, {"opt.m"});
}

template void AdamW::run<NullTracer>(ParamRange, std::span<float>, std::span<const float>, float,
                                     NullTracer&);
template void AdamW::run<RecordingTracer>(ParamRange, std::span<float>, std::span<const float>,
                                          float, RecordingTracer&);
template void SgdMomentum::run<NullTracer>(ParamRange, std::span<float>, std::span<const float>,
                                           float, NullTracer&);
template void SgdMomentum::run<RecordingTracer>(ParamRange, std::span<float>,
                                                std::span<const float>, float, RecordingTracer&);
template void Lion::run<NullTracer>(ParamRange, std::span<float>, std::span<const float>, float,
                                    NullTracer&);
template void Lion::run<RecordingTracer>(ParamRange, std::span<float>, std::span<const float>,
                                         float, RecordingTracer&);

}  // namespace cube::gpt
