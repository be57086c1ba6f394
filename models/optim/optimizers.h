// cube/models/optim/optimizers.h: parameter-update rules for the GPT model (AdamW, SGD with
// momentum, Lion), the global gradient-norm clip and nanoGPT's learning-rate schedule.
//
// Every optimizer owns its state for the whole parameter buffer and updates any contiguous range
// of it (ParamRange), so a training loop may update the whole model after backward, or one
// block inside GptModel::backward's hook (perlayer_adamw). Weight decay applies only to the
// elements of tensors with decay = true (2-D tensors: matrices and embeddings, as nanoGPT's
// configure_optimizers), and decay is decoupled (p -= lr * wd * p) for AdamW and Lion, coupled
// L2 (g += wd * p) for SGD, as in PyTorch.
//   AdamW (Loshchilov & Hutter 2019; torch.optim.AdamW): m = b1 m + (1-b1) g;
//     v = b2 v + (1-b2) g^2; p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
//   SGD (torch.optim.SGD, dampening 0): u = mu u + g; p -= lr u.
//   Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", 2023):
//     p -= lr sign(b1 m + (1-b1) g); m = b2 m + (1-b2) g.
// Step counter t: begin_step() increments it once per training iteration (before the first
// update of the iteration), so every range of one iteration shares t.
// Cost: O(range) per update, elementwise, one OpenMP region over blocks of the range; AdamW and
// grad_norm on SSE, AVX2 or AVX-512 lanes (clones picked by cpuid). Bitwise identical for any
// thread count and any of those ISAs. Memory: AdamW 2 floats per parameter, SGD
// and Lion 1. Trace: buffers "opt.m" (and "opt.v" for AdamW), element granularity in chunks of
// kTraceChunk elements: per chunk, reads of params, grads and state, writes of state and params,
// then op_end(). The parameter buffers are the model's "gpt.params" and "gpt.grads".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/trace.h"
#include "models/gpt/gpt_model.h"

namespace cube::gpt {

// nanoGPT's get_lr: linear warmup lr*(it+1)/(warmup+1) for it < warmup, min_lr after
// decay_iters, cosine from lr to min_lr in between. it counts from 0.
double nanogpt_lr(std::int64_t it, double lr, double min_lr, std::int64_t warmup_iters,
                  std::int64_t decay_iters);

// Euclidean norm of grads, summed in double over 64 fixed chunks, each in 8 interleaved partial
// sums, all added in a fixed order (independent of the thread count and of the ISA path).
double grad_norm(std::span<const float> grads);
// torch.nn.utils.clip_grad_norm_'s factor for gradients of norm `norm`: max_norm / (norm + 1e-6)
// in float when norm > max_norm, else 1. Precondition: max_norm > 0.
float clip_factor(double norm, double max_norm);
// torch.nn.utils.clip_grad_norm_: grads *= clip_factor(grad_norm(grads), max_norm) (no pass when
// the factor is 1). Returns the norm before clipping. Precondition: max_norm > 0. A training loop
// can instead hand the factor to Optimizer::update, which applies it as it reads the gradients:
// the same bits, one pass over the gradients fewer.
double clip_grad_norm(std::span<float> grads, double max_norm);

class Optimizer {
 public:
  static constexpr std::size_t kTraceChunk = 4096;
  virtual ~Optimizer() = default;
  void begin_step() { ++t_; }
  std::int64_t step() const { return t_; }
  // For checkpoints: the step counter, and the state buffers (each n_params floats, in a fixed
  // order: AdamW m, v; SGD u; Lion m), writable so that a resumed run continues bit for bit.
  void set_step(std::int64_t t) { t_ = t; }
  virtual std::vector<std::span<float>> state() = 0;
  // params[range] updated from grad_scale x grads[range] with learning rate lr: each gradient is
  // multiplied by grad_scale (a clip_factor) as it is read, in float, so the update has the bits
  // of one made after grads *= grad_scale, and grads itself is left unscaled. Precondition:
  // begin_step() was called at least once; params and grads are the model's whole buffers.
  virtual void update(ParamRange range, std::span<float> params, std::span<const float> grads,
                      float lr, float grad_scale, NullTracer& tracer) = 0;
  virtual void update(ParamRange range, std::span<float> params, std::span<const float> grads,
                      float lr, float grad_scale, RecordingTracer& tracer) = 0;
  void update(ParamRange range, std::span<float> params, std::span<const float> grads, float lr) {
    NullTracer null;
    update(range, params, grads, lr, 1.0f, null);
  }

 protected:
  // Segments of the parameter buffer with one decay flag each, from the model's tensors.
  struct Segment {
    std::size_t offset, size;
    bool decay;
  };
  explicit Optimizer(const std::vector<ParamTensor>& tensors, std::size_t n_params);
  std::vector<Segment> segments_;
  std::size_t n_params_;
  std::int64_t t_ = 0;
};

// The two tracer overloads of update(), written once: each rule implements one template
// run<Tracer>(range, params, grads, lr, grad_scale, tracer) and befriends this base.
template <class Rule>
class TracedOptimizer : public Optimizer {
 public:
  void update(ParamRange range, std::span<float> params, std::span<const float> grads, float lr,
              float grad_scale, NullTracer& tracer) override {
    static_cast<Rule*>(this)->run(range, params, grads, lr, grad_scale, tracer);
  }
  void update(ParamRange range, std::span<float> params, std::span<const float> grads, float lr,
              float grad_scale, RecordingTracer& tracer) override {
    static_cast<Rule*>(this)->run(range, params, grads, lr, grad_scale, tracer);
  }
  using Optimizer::update;

 protected:
  using Optimizer::Optimizer;
};

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.99f;  // nanoGPT shakespeare_char config
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

class AdamW : public TracedOptimizer<AdamW> {
 public:
  AdamW(const AdamWConfig& config, const std::vector<ParamTensor>& tensors, std::size_t n_params);
  std::vector<std::span<float>> state() override { return {m_, v_}; }

 private:
  friend class TracedOptimizer;
  template <class Tracer>
  void run(ParamRange range, std::span<float> params, std::span<const float> grads, float lr,
           float grad_scale, Tracer& tracer);
  AdamWConfig config_;
  std::vector<float> m_, v_;
};

struct SgdConfig {
  float momentum = 0.9f;
  float weight_decay = 0.0f;
};

class SgdMomentum : public TracedOptimizer<SgdMomentum> {
 public:
  SgdMomentum(const SgdConfig& config, const std::vector<ParamTensor>& tensors,
              std::size_t n_params);
  std::vector<std::span<float>> state() override { return {u_}; }

 private:
  friend class TracedOptimizer;
  template <class Tracer>
  void run(ParamRange range, std::span<float> params, std::span<const float> grads, float lr,
           float grad_scale, Tracer& tracer);
  SgdConfig config_;
  std::vector<float> u_;
};

struct LionConfig {
  float beta1 = 0.9f;
  float beta2 = 0.99f;
  float weight_decay = 0.1f;
};

class Lion : public TracedOptimizer<Lion> {
 public:
  Lion(const LionConfig& config, const std::vector<ParamTensor>& tensors, std::size_t n_params);
  std::vector<std::span<float>> state() override { return {m_}; }

 private:
  friend class TracedOptimizer;
  template <class Tracer>
  void run(ParamRange range, std::span<float> params, std::span<const float> grads, float lr,
           float grad_scale, Tracer& tracer);
  LionConfig config_;
  std::vector<float> m_;
};

}  // namespace cube::gpt
