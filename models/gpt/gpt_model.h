// cube/models/gpt/gpt_model.h: a nanoGPT-style GPT (Karpathy, nanoGPT `model.py`; kernels in the
// style of llm.c `train_gpt2.c`) in float32 with a hand-written backward pass, for CPU training.
//
// Model (pre-LayerNorm transformer, lm_head tied to the token embedding):
//   x0 = drop(wte[tok] + wpe[t]);  for each block l:
//     x = x + drop(proj(attn(ln1(x))));  x = x + drop(fcproj(gelu(fc(ln2(x)))));
//   logits = lnf(x) · wteᵀ;  loss = mean over the scored (b,t) of -log softmax(logits)[target]
//   (every target is scored unless set_batch marks some unscored, as makemore's padding).
// attn: causal multi-head self-attention, softmax(q kᵀ / sqrt(hs)) with attention dropout on the
// probabilities, hs = n_embd / n_head. LayerNorm: eps 1e-5, biased variance (PyTorch).
// GELU: the exact erf form 0.5 x (1 + erf(x / sqrt 2)) as nanoGPT's nn.GELU(), evaluated with
// Abramowitz & Stegun 7.1.26 (|erf error| <= 1.5e-7, below float resolution near 1) and a
// polynomial exp (relative error ~2e-7); the attention and loss softmax use the same exp.
// Dropout (p = config.dropout, only when training): inverted dropout, keep with probability 1-p,
// mask bit = hash(dropout_key, site, element) from a counter-based generator, so backward
// recomputes the mask and the same key gives the same mask on any thread count.
//
// Parameters live in ONE contiguous float32 buffer, in this order (sizes with C = n_embd,
// V = vocab_size, Tm = block_size; biases have size 0 when bias = false, as nanoGPT bias=False):
//   wte V*C, wpe Tm*C, then per block l: ln1_w C, ln1_b C, attn_w 3C*C, attn_b 3C,
//   attn_proj_w C*C, attn_proj_b C, ln2_w C, ln2_b C, fc_w 4C*C, fc_b 4C, fc_proj_w C*4C,
//   fc_proj_b C; then lnf_w C, lnf_b C. Matrices are row-major (out_features x in_features).
// So block l is one contiguous range (block_range(l)); gradients use the same layout.
// Init (nanoGPT _init_weights): Linear and Embedding weights ~ N(0, 0.02), attn_proj_w and
// fc_proj_w ~ N(0, 0.02 / sqrt(2 n_layer)), biases 0, LayerNorm weights 1; drawn from
// cube::Rng(seed) in buffer order (tensor by tensor, element by element).
//
// Work: forward ~ 2 N_mat BT + 2 L B H T^2 hs * 2 flops (N_mat = matrix parameters; attention
// skips most of the zero upper triangle, in 24-row strips), backward twice that. Memory: parameters
// and gradients 4 N bytes each (and S - 1 more gradient copies with S batch shards); activations
// (act_elements()) for max_batch x block_size (S copies of ceil(max_batch / S) sequences),
// allocated once at construction; no allocation in forward or backward (the GEMM pack buffer and
// attention scratch are thread-local and grow once). Threads: OpenMP over rows, columns or (batch,
// head); every reduction has a fixed order, so the loss and gradients are bitwise identical for any
// thread count on one machine (gemm.h says why builds with and without oneDNN, and AVX and portable
// paths, differ in their last bits).
//
// Trace (when the tracer is enabled): buffers "gpt.params", "gpt.grads", "gpt.acts" (all forward
// activations in one buffer: embedding sum; per block ln1, its mean and rstd, qkv, attention
// probabilities, attention output, projection, residual, ln2 (+ stats), fc, gelu, fc_proj,
// residual; then lnf (+ stats), logits, probs, losses), "gpt.dacts" (backward scratch),
// "gpt.tokens", "gpt.targets" (4-byte ids), "gpt.pack" (the GEMM's packed B panels). Every
// linear-layer product (qkv, attention projection, fc, fc_proj, lm_head; forward, input gradient
// and weight gradient) reports the accesses of cube's blocked kernel in its loop order at
// cache-line granularity (models/gemm/gemm_trace.h: packing of B, then per 12-row micro-kernel
// call the 16-float runs of A, the packed-B lines and the C tile), as one thread runs it.
// Attention reports, per (batch, head), its products the same way (the head's operands packed in
// "gpt.pack", each causal strip's products), the causal softmax row by row (forward: read of
// j <= t, write of the row; backward: the same over the probabilities and the head's d
// probabilities in "gpt.att_scratch"). The other kernels report, per tile of kTraceRows = 64
// rows of their (B*T)-row operands, the read of the input rows, the read of every parameter
// tensor they use (whole tensor per tile), the write of the output rows, then op_end().
//
// GELU's slope: a float32 training forward (training = true) overwrites each block's fc output
// with gelu'(fc) = Phi + x phi, computed from the exponential and erf the GELU itself takes
// (traced: one more write of those rows), so that the backward multiplies by it instead of
// computing exp and erf again; fc is read by nothing else. An evaluation forward leaves fc as it
// is, and a backward after it recomputes the slope from fc: the same bits either way.
//
// Mixed precision (config.bf16; Micikevicius et al., "Mixed Precision Training", ICLR 2018, with
// bfloat16 as in Kalamkar et al. 2019): the parameters, gradients and optimizer state stay
// float32 (the master copy). The products' weights are rounded into a bfloat16 copy by
// round_weights() (a trainer calls it right after each update; forward() calls it when params()
// was handed out since), and every linear-layer product, forward and backward, reads that copy:
// bfloat16 operands with float32 sums (gemm_bf16.h): forward
// out = in·Wᵀ, dX = dY·W, dW = dYᵀ·X. Stored in bfloat16 only: ln1, ln2, lnf (LayerNorm
// normalises in float32, then rounds), qkv and fch (products rounded once), the attention
// probabilities and output (each head computed in float32 on a working copy of its q, k, v, as
// the float32 model computes it, then rounded), the GELU output (computed in float32 from the
// rounded fch), and the backward's activation gradients d ln, d atty, d qkv and d fch (outputs of
// the dX products and of attention's backward; GELU's backward in float32 on them). Float32:
// the residual stream and its gradient, LayerNorm statistics, the projections' outputs, logits,
// probabilities and losses. Needs bias = false (bfloat16 outputs are never accumulated into).
// Traced with the bfloat16 tensors in 2-byte buffers ("gpt.params16", "gpt.acts16",
// "gpt.dacts16"), the products as trace_gemm_bf16 reports them ("gpt.pack16", "gpt.apack16"), and
// each head's float32 working copy in "gpt.head" (copied in and out row by row). Numbers differ
// from float32's after about the third digit; they are bitwise identical for any thread count.
//
// Attention recomputation (config.recompute_attention): each head's probabilities stay in its
// working copy and are recomputed by the backward (the same float32 computation from the same q,
// k: the same bits), so the T x T matrices are never stored.
//
// Fusion (config.fuse), three changes of where values live:
//  * the backward's d atty and d qkv reuse the region of d fch, dead by then (less scratch to
//    keep in cache);
//  * without dropout the attention and MLP output projections add straight into the residual
//    stream (out starts as x, plus the bias; the product accumulates into it), so their outputs
//    are never written;
//  * in bf16 mode the MLP's GELU is applied while the products that read its output pack their
//    operand (the fc_proj forward's A and its weight gradient's B, MixedStrided::map), so the
//    GELU output is never stored (float32's products, oneDNN's sgemm, have no such hook: there
//    GELU stays a kernel).
// Batch shards (config.batch_shards = S > 1; data parallelism inside one step, as PyTorch DDP
// splits a batch over devices): the batch is cut into S shards of whole sequences (shard s holds
// sequences [B s / S, B (s+1) / S); fewer shards when B < S), each with its own activations,
// scratch and gradients. Untraced with S to 2S - 1 OpenMP threads, the shards run side by side, one
// thread each, so every kernel runs on one core's data with no barrier between the threads until
// the gradients are summed (grads = shard 0 + shard 1 + ..., in that order; forward_backward; a
// forward() and a backward() called apart join once more in between); otherwise they run one
// after the other, each with every thread. The forward is the same computation row by row, dropout
// masks included: logits and loss are bitwise those of S = 1 where a product gives a row the same
// bits whatever the call's row count (cube's kernels; oneDNN's AVX-512 sgemm), and within float32
// rounding on oneDNN's AVX2 sgemm, whose blocking follows the call's shape. The gradients sum over
// the batch in another order (per shard, then across shards), so they differ from S = 1's in the
// last bits, and are bitwise identical for any thread count at a given S. A BlockHook runs after
// the whole backward, block L-1 first, once the sums are done. Traced, the shards run one after the
// other; shard s's events fall on its copy of "gpt.acts", "gpt.dacts" (and the bfloat16 ones), its
// rows of "gpt.tokens" and "gpt.targets", and shards 1, 2, ... write their gradients to
// "gpt.shard_grads"; the sum then reads every shard's gradients and writes "gpt.grads", one op per
// 4096 floats. S = 1 traces exactly as before.
//
// In bf16 mode the forward keeps the unfused bits (the loss is identical); with attention
// recomputed, the backward reads the float32 probabilities instead of their bfloat16 copies, so
// gradients move by bfloat16 rounding. In float32 fuse's residual add may round differently
// (oneDNN adds C in its own order); recomputed attention keeps every float32 bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/gemm/gemm.h"

namespace cube::gpt {

struct GptConfig {
  int vocab_size = 65;
  int block_size = 64;  // maximum sequence length T
  int n_layer = 4;
  int n_head = 4;
  int n_embd = 128;
  bool bias = false;
  float dropout = 0.0f;
  bool bf16 = false;  // mixed precision (see the header comment)
  bool fuse = false;  // fused residual adds, and in bf16 mode GELU (see the header comment)
  bool recompute_attention = false;  // probabilities recomputed by the backward, never stored
  int batch_shards = 1;  // the batch computed as this many shards of whole sequences (see above)
};

// One named parameter tensor: elements [offset, offset + size) of the parameter buffer.
struct ParamTensor {
  std::string name;  // e.g. "wte", "h.2.fc_w", "lnf_w"
  std::size_t offset = 0;
  std::size_t size = 0;
  int rows = 0;        // out_features (or rows of an embedding); 1 for vectors
  int cols = 0;        // in_features
  int layer = -1;      // block index, -1 for wte, wpe, lnf
  bool decay = false;  // 2-D tensor: weight decay applies (nanoGPT: dim >= 2)
};

// A contiguous element range of the parameter (and gradient) buffer.
struct ParamRange {
  std::size_t offset = 0;
  std::size_t size = 0;
};

// Wall-clock seconds per kernel kind, accumulated by forward() and backward() while attached to a
// model with set_profile() (a timing aid for bench/; hooks are not counted).
struct KernelProfile {
  enum Kind {
    kEmbedding,
    kLayerNorm,
    kQkv,        // the qkv Linear
    kAttention,  // softmax(q kᵀ) v, causal
    kAttnProj,   // the attention output Linear
    kResidual,   // residual adds and dropout
    kFc,         // the MLP's first Linear
    kGelu,
    kFcProj,  // the MLP's output Linear
    kLmHead,  // logits = lnf · wteᵀ
    kLoss,    // softmax and cross-entropy
    kKinds
  };
  static const char* name(int kind);
  double forward[kKinds] = {};
  double backward[kKinds] = {};
};

// Called by backward() right after block `layer`'s backward is complete: its gradients
// (block_range(layer)) are final and the block's parameters are no longer read by this backward.
using BlockHook = std::function<void(int layer)>;

// The dropout mask factor (0 or 1/(1-p)) of element `index` of dropout site `site` for
// dropout_key `key`, as forward() applies it: keep when the top 32 bits of a splitmix64 hash of
// (key, site, index) are >= p * 2^32. Sites: 0 the embedding sum (index row*C + c, row = b*T+t);
// 1+3l block l's attention probabilities (index ((b*n_head + h)*T + t)*T + j); 2+3l the
// attention output projection and 3+3l the MLP output (index row*C + c).
float dropout_factor(std::uint64_t key, std::uint64_t site, std::uint64_t index, float p);

namespace detail {
// Test hook: attention's causal softmax (row t of the T x T scores p becomes
// softmax(scale * p[t, 0..t]), zero above the diagonal) on the given path: AVX-512 or AVX2
// intrinsics, or the portable loops (the compiler's vectorization of them); false when the CPU
// lacks the path's ISA. All give the same bits; the model uses the widest path cpuid allows.
bool causal_softmax(float* p, int T, float scale, GemmPath path);
}  // namespace detail

class GptModel {
 public:
  static constexpr int kTraceRows = 64;

  // Throws ConfigError on non-positive sizes, n_embd % n_head != 0 or dropout outside [0, 1).
  GptModel(const GptConfig& config, int max_batch, std::uint64_t seed);

  const GptConfig& config() const { return config_; }
  int max_batch() const { return max_batch_; }
  std::size_t num_parameters() const { return params_.size(); }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  const ParamTensor& tensor(const std::string& name) const;  // throws Error when absent
  ParamRange block_range(int layer) const;
  ParamRange embedding_range() const;  // wte and wpe
  ParamRange final_range() const;      // lnf_w, lnf_b
  // Writable parameters. In bf16 mode this marks the bfloat16 weight copy stale: the next forward
  // rounds it again unless round_weights() runs first.
  std::span<float> params() {
    weights16_stale_ = true;
    return params_;
  }
  std::span<const float> params() const { return params_; }
  std::span<float> grads() { return grads_; }
  std::span<const float> grads() const { return grads_; }

  // Copies a batch of token ids (row-major B x T) into the model. targets may be empty (no loss).
  // A target equal to `unscored` (when given) is not scored: it adds nothing to the loss or the
  // gradient, and the mean runs over the scored targets only (PyTorch's ignore_index; makemore
  // pads its names this way).
  // Preconditions: 1 <= B <= max_batch, 1 <= T <= block_size, ids < vocab_size.
  template <class Token>
  void set_batch(std::span<const Token> inputs, std::span<const Token> targets, int B, int T,
                 std::optional<Token> unscored = std::nullopt) {
    check_batch(inputs.size(), targets.size(), B, T);
    for (std::size_t i = 0; i < inputs.size(); ++i)
      inputs_[i] = static_cast<std::int32_t>(inputs[i]);
    scored_ = 0;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const bool scored = !(unscored && targets[i] == *unscored);
      targets_[i] = scored ? static_cast<std::int32_t>(targets[i]) : kUnscored;
      scored_ += scored;
    }
    has_targets_ = !targets.empty();
    check_ids();
  }

  // Targets of the batch set last that are scored (0 without targets): the loss's denominator.
  int scored_targets() const { return scored_; }

  // Forward over the batch set last. training = true applies dropout with `dropout_key`
  // (different keys, different masks). Returns the mean cross-entropy loss over the scored
  // targets (NaN without targets, 0 when none is scored). Logits (B*T x V, row-major) stay readable
  // through logits().
  template <class Tracer>
  float forward(Tracer& tracer, bool training = false, std::uint64_t dropout_key = 0);

  // Backward of the last forward (which must have had targets): grads() = d loss / d params,
  // overwritten (not accumulated). hook (may be empty) runs after each block, l = L-1 .. 0.
  template <class Tracer>
  void backward(Tracer& tracer, const BlockHook& hook = {});

  // A training step's passes: forward(tracer, true, dropout_key), then backward(tracer, hook), with
  // the same numbers and the same trace. When the shards run side by side (untraced, S to 2S - 1
  // threads) each thread runs its shard's forward and then its backward with no barrier between
  // them. Returns the loss. Precondition: the batch has targets.
  template <class Tracer>
  float forward_backward(Tracer& tracer, std::uint64_t dropout_key, const BlockHook& hook = {});

  std::span<const float> logits() const;

  // bf16 mode: rounds the products' weights (wte and each block's four matrices) that lie in
  // `range` (default: all) into their bfloat16 copy now and marks the copy fresh (traced: per
  // tensor, the read of the weight and the write of its copy, one op); nothing in float32 mode.
  // A trainer calls it right after updating each range, while the new weights are in cache, so
  // that forward reads the 2-byte copy only; after writing through params() it must cover every
  // range it wrote.
  template <class Tracer>
  void round_weights(Tracer& tracer, ParamRange range = {0, static_cast<std::size_t>(-1)});
  // Attaches a profile (nullptr detaches). Timing costs two clock reads per kernel.
  void set_profile(KernelProfile* profile) { profile_ = profile; }
  int batch() const { return B_; }
  int seq_len() const { return T_; }
  std::size_t act_elements() const { return acts_.size(); }
  // Bytes of stored activations: the float32 ones and, in bf16 mode, the bfloat16 ones.
  std::size_t act_bytes() const { return acts_.size() * 4 + acts16_.size() * 2; }

 private:
  // Offsets of the activations in acts_ (float32) or, in bf16 mode, in acts16_ for ln1, ln2, fch,
  // fch_gelu and lnf.
  struct LayerActs {
    std::size_t ln1, ln1_mean, ln1_rstd, qkv, att, atty, attproj, res2, ln2, ln2_mean, ln2_rstd,
        fch, fch_gelu, fcproj, res3;
  };
  struct LayerParams {
    std::size_t ln1_w, ln1_b, attn_w, attn_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, fcproj_w,
        fcproj_b;
  };

  void allocate_activations();  // the constructor's second half
  void check_batch(std::size_t n_inputs, std::size_t n_targets, int B, int T);
  void check_ids() const;

  // The passes, layer by layer (gpt_model.cc; Pass is its traced-kernel state, GptPass), run
  // over each shard of the batch by run_shards.
  template <class Tracer>
  auto declare_model_buffers(Tracer& tracer) const;
  template <class Pass, class Tracer, class BufferIds, class Drop>
  Pass begin_pass(Tracer& tracer, const BufferIds& ids, const Drop& drop, int shard, int shards,
                  KernelProfile* profile);
  template <class Tracer, class Drop, class Body>
  void run_shards(Tracer& tracer, const Drop& drop, Body&& body);
  template <class Tracer>
  void sum_shard_grads(Tracer& tracer, int shards);
  // Whether run_shards runs the shards side by side, one thread each (untraced).
  bool shards_side_by_side() const;
  // forward() and backward() in parts, so that forward_backward can run a shard's two passes in
  // one region: checks and the bf16 weight copy; one shard's passes; the loss; the shards' sum.
  template <class Tracer>
  void begin_forward(Tracer& tracer, bool training, std::uint64_t dropout_key);
  template <class Pass>
  void forward_shard(Pass& pass);
  template <class Pass>
  void backward_shard(Pass& pass, const BlockHook& hook);
  float mean_loss() const;
  template <class Tracer>
  void end_backward(Tracer& tracer, const BlockHook& hook);
  // Shards of the current batch (at most one per sequence) and the first sequence of shard s.
  int active_shards() const { return B_ < config_.batch_shards ? B_ : config_.batch_shards; }
  int shard_begin(int s, int shards) const { return B_ * s / shards; }
  template <class Pass>
  void embed_forward(Pass& pass);
  template <class Pass>
  void block_forward(Pass& pass, int l);
  template <class Pass>
  void head_forward(Pass& pass);
  template <class Pass>
  void head_backward(Pass& pass);
  template <class Pass>
  void block_backward(Pass& pass, int l);
  template <class Pass>
  void embed_backward(Pass& pass);

  GptConfig config_;
  int max_batch_ = 0;
  std::vector<ParamTensor> tensors_;
  std::vector<LayerParams> lp_;
  std::size_t wte_ = 0, wpe_ = 0, lnf_w_ = 0, lnf_b_ = 0;
  std::vector<float> params_, grads_;
  std::vector<LayerActs> la_;
  std::size_t encoded_ = 0, lnf_ = 0, lnf_mean_ = 0, lnf_rstd_ = 0, logits_ = 0, probs_ = 0,
              losses_ = 0;
  // Shard s's activations start at s * act_stride_ in acts_ (and s * act16_stride_ in acts16_),
  // its backward scratch at s * dact_stride_ (dact16_stride_); each is laid out for
  // ceil(max_batch / batch_shards) sequences.
  std::vector<float> acts_;
  std::size_t act_stride_ = 0, act16_stride_ = 0, dact_stride_ = 0, dact16_stride_ = 0;
  std::vector<float> shard_grads_;              // gradients of shards 1, 2, ... (grads_: shard 0)
  mutable std::vector<float> gathered_logits_;  // logits() of a batch computed in shards
  std::vector<std::uint16_t> acts16_;           // bf16 mode: the bfloat16 activations
  std::vector<std::uint16_t> params16_;         // bf16 mode: the bfloat16 copy of params_
  std::vector<ParamRange> product_weights_;     // bf16 mode: the tensors params16_ holds
  bool weights16_stale_ = true;                 // params_ may have changed since round_weights()
  // Backward scratch ("gpt.dacts"): running residual gradient and per-kernel temporaries.
  std::size_t d_res_ = 0, d_tmp_ = 0, d_ln_ = 0, d_atty_ = 0, d_qkv_ = 0, d_big_ = 0, d_logits_ = 0;
  std::vector<float> dacts_;
  std::vector<std::uint16_t> dacts16_;           // bf16 mode: d_ln_, d_atty_, d_qkv_, d_big_
  static constexpr std::int32_t kUnscored = -1;  // a target that set_batch marked unscored
  std::vector<std::int32_t> inputs_, targets_;
  bool has_targets_ = false;
  int scored_ = 0;  // see scored_targets()
  int B_ = 0, T_ = 0;
  bool training_ = false;
  // The last forward (a float32 training one) overwrote each block's fch with gelu'(fch), the
  // backward's only use of it ("GELU's slope" above).
  bool gelu_slope_stored_ = false;
  std::uint64_t dropout_key_ = 0;
  bool forward_done_ = false;
  KernelProfile* profile_ = nullptr;
};

}  // namespace cube::gpt
