// cube/solvers/gpt/gpt_train.h: the char_lm training solvers (nanoGPT's train.py loop in C++).
//
// What: trains a GptModel (gpt_model.h) on a char_lm problem's corpus and reports its loss curve.
// One iteration: draw batch_size windows of block_size tokens from the train split, forward with
// dropout, backward, clip the gradient's global norm to grad_clip (0 = off), set the learning
// rate lr(it) (nanoGPT get_lr: linear warmup over warmup_iters, cosine decay to min_lr at
// lr_decay_iters, min_lr after; constant lr when decay_lr = false), and update every parameter.
// Every eval_interval iterations and after the last one, the train and val losses are estimated
// as nanoGPT's estimate_loss: the mean over eval_iters random batches per split, no dropout.
// Solvers (registry names) differ in the update:
//   adamw           AdamW on the whole model after backward (nanoGPT defaults: lr 1e-3 -> 1e-4,
//                   warmup 100, betas 0.9/0.99, weight decay 0.1 on 2-D tensors, clip 1.0);
//   sgd_momentum    SGD with momentum 0.9 (`sgd` is the sparse-parity MLP solver's name);
//   lion            Lion (Chen et al. 2023), lr 1e-4 (Lion wants ~10x less than AdamW);
//   perlayer_adamw  AdamW applied to each block inside backward, right after that block's
//                   gradient is complete (GptModel's block hook), so the block's gradient is
//                   consumed while still in cache and could be reused at once; embeddings and
//                   the final LayerNorm are updated after backward. The global-norm clip needs
//                   every gradient before any update, so this solver clips each block's gradient
//                   by its own norm (each block's share is at most grad_clip): a different rule,
//                   which is the point of the experiment (sparse-parity.md §1.5 "per-layer").
// Randomness (core/rng.h streams of the job seed s): the model is initialised from
// stream_seed(s, "gpt.init") (its dropout masks keyed by that seed and the iteration), the batch
// of iteration it from stream_seed(s, "gpt.batch", it), the evaluation batches at iteration it
// from stream_seed(s, "gpt.eval_train" or "gpt.eval_val", it): a run resumed from a checkpoint
// draws exactly what an uninterrupted run draws.
// Measures (RunOutcome::measures, read by the `loss`, `throughput`, `flops`, `mfu` metrics):
//   train_loss, val_loss      the last evaluation (nats per char), best_val_loss the lowest val;
//   tokens_per_second         training tokens / seconds spent in training iterations (no evals);
//   flops_per_iteration       nanoGPT's estimate_mfu count: (6 N + 12 L C T) * T * B, N the
//                             parameters less the position embedding, L layers, C n_embd;
//   gflops_per_second, mfu    achieved rate and its fraction of the machine's float32 FMA
//                             ceiling (register-only FMA chains in the widest ISA, AVX-512 where
//                             present), measured once per process by measure_fma_peak_gflops with
//                             the same thread count; no mfu without AVX2 or AVX-512;
//   traced_steps              iterations traced (see Trace); iterations, seconds_in_eval.
// Energy is measured by the runner around the whole solve, not here (the `energy` metric).
// Curve (RunOutcome::curve): "train_loss" and "val_loss" at every evaluation step.
// Trace: when a tracer is given, iteration it is traced when it % trace_every == 0 (trace_every
// = 0: only iteration 0): its forward, backward and update events and, in bf16 mode, the
// rounding of the updated weights into their bfloat16 copy (gpt_model.h and optimizers.h state
// the granularity), so trace metrics price one or a few whole training steps. The gradient norm's
// pass over the gradients is not traced (the clip's factor is applied by the update as it reads
// them: no pass of its own).
// Process parameters: `precision` (fp32, or bf16: mixed precision on float32 master weights),
// `fuse` (fewer stored tensors) and `recompute_attention` (no T x T matrix stored) select
// GptModel's modes (gpt_model.h), each on its own; with bf16 the trainer rounds the weights into
// their bfloat16 copy right after each update.
// Tracing never changes a number of the run (the runner checks the curve bit for bit).
// Checkpoints: when `checkpoint` names a file, the model, optimizer state, iteration and curve
// are written there after every evaluation (atomically: write then rename); with resume = true
// and the file present, training continues from it and reproduces the uninterrupted run.
// Threads: `threads` OpenMP threads (0 = all cores); results are bitwise identical for any
// thread count (gpt_model.h). `batch_shards` is how the step is cut over them: S > 1 computes
// the batch as S shards of whole sequences, side by side when there are S to 2S - 1 threads, and
// sums their gradients in shard order (the same losses of a given model; gradients rounded by
// another order of the sum over the batch, so the run's numbers differ from S = 1's in the last
// bits, and are again the same for any thread count). With S > 1, perlayer_adamw's block updates
// run after the whole backward, once the shards' gradients are summed.
// Progress: on a terminal, one line per evaluation and a live iteration/loss/tokens/ETA line.
// Status: kSolved when max_iters are done, kDiverged on a non-finite loss, kTimedOut on the
// RunContext deadline (polled every iteration).
#pragma once

#include <cstdint>
#include <string>

#include "core/params.h"
#include "models/gpt/gpt_model.h"
#include "solvers/solver.h"

namespace cube::gpt {

enum class UpdateRule { kAdamW, kSgdMomentum, kLion, kPerLayerAdamW };

// Parameters shared by every GPT training solver; defaults are nanoGPT's shakespeare_char CPU
// configuration (n_layer 4, n_head 4, n_embd 128, 2000 iterations, eval every 250).
struct GptTrainConfig {
  std::int64_t n_layer = 4;
  std::int64_t n_head = 4;
  std::int64_t n_embd = 128;
  bool bias = false;
  double dropout = 0.0;
  std::string precision = "fp32";
  bool fuse = false;
  bool recompute_attention = false;
  std::int64_t max_iters = 2000;
  double lr = 1e-3;
  double min_lr = 1e-4;
  bool decay_lr = true;
  std::int64_t warmup_iters = 100;
  std::int64_t lr_decay_iters = 2000;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double momentum = 0.9;
  double grad_clip = 1.0;
  std::int64_t trace_every = 0;
  std::int64_t threads = 0;
  std::int64_t batch_shards = 1;
  std::string checkpoint;
  bool resume = false;
  bool progress = true;

  // Which hyperparameters the solver declares: betas for AdamW and Lion, momentum for SGD.
  UpdateRule rule = UpdateRule::kAdamW;

  template <class V>
  void visit(V& v) {
    v("n_layer", n_layer, "transformer blocks").at_least(1).at_most(64);
    v("n_head", n_head, "attention heads per block (must divide n_embd)").at_least(1);
    v("n_embd", n_embd, "embedding width").at_least(1).at_most(8192);
    v("bias", bias, "biases in Linear and LayerNorm layers (nanoGPT bias)");
    v("dropout", dropout, "dropout probability while training").at_least(0).less_than(1);
    v("precision", precision,
      "fp32, or bf16: bfloat16 products and activations with float32 master weights "
      "(gpt_model.h; needs bias: false)")
        .one_of({"fp32", "bf16"});
    v("fuse", fuse,
      "output projections added straight into the residual stream (no dropout), the backward's "
      "gradient scratch planned by liveness and, with bf16, GELU fused into the products that "
      "read it: fewer stored tensors (gpt_model.h)");
    v("recompute_attention", recompute_attention,
      "attention probabilities recomputed by the backward from q and k instead of stored: no "
      "T x T matrix kept between forward and backward (gpt_model.h)");
    v("max_iters", max_iters, "training iterations").at_least(1);
    v("lr", lr, "peak learning rate").greater_than(0);
    v("min_lr", min_lr, "learning rate at the end of the cosine decay").at_least(0);
    v("decay_lr", decay_lr, "warmup then cosine decay (false: constant lr)");
    v("warmup_iters", warmup_iters, "linear warmup iterations").at_least(0);
    v("lr_decay_iters", lr_decay_iters, "iteration where the cosine decay reaches min_lr")
        .at_least(1);
    v("weight_decay", weight_decay, "decay of 2-D tensors (decoupled for AdamW and Lion)")
        .at_least(0);
    if (rule != UpdateRule::kSgdMomentum) {
      v("beta1", beta1, "first-moment decay").at_least(0).less_than(1);
      v("beta2", beta2, "second-moment decay (Lion: momentum decay)").at_least(0).less_than(1);
    } else {
      v("momentum", momentum, "SGD momentum").at_least(0).less_than(1);
    }
    v("grad_clip", grad_clip, "clip the gradient norm to this (0 = off)").at_least(0);
    v("trace_every", trace_every,
      "when a trace is requested, trace iterations 0, K, 2K, ... (0: iteration 0 only)")
        .at_least(0);
    v("threads", threads, "OpenMP threads (0 = all cores)").at_least(0).at_most(1024);
    v("batch_shards", batch_shards,
      "the batch computed as this many shards of whole sequences, side by side (one thread "
      "each) with S to 2S - 1 threads, else one after the other, their gradients summed in "
      "shard order; only the order of the gradients' sums over the batch changes (gpt_model.h)")
        .at_least(1)
        .at_most(64);
    v("checkpoint", checkpoint, "file to save the model to after every evaluation ('' = none)");
    v("resume", resume, "continue from `checkpoint` when the file exists");
    v("progress", progress, "live progress line on a terminal");
  }
};

struct AdamwTrainConfig : GptTrainConfig {};
struct SgdMomentumTrainConfig : GptTrainConfig {
  SgdMomentumTrainConfig() {
    rule = UpdateRule::kSgdMomentum;
    lr = 0.3;
    min_lr = 0.03;
    weight_decay = 0.0;
  }
};
struct LionTrainConfig : GptTrainConfig {
  LionTrainConfig() {
    rule = UpdateRule::kLion;
    lr = 1e-4;
    min_lr = 1e-5;
    weight_decay = 1.0;  // Lion's paper: 3-10x AdamW's decay, as its lr is 3-10x smaller
  }
};
struct PerLayerAdamwTrainConfig : GptTrainConfig {
  PerLayerAdamwTrainConfig() { rule = UpdateRule::kPerLayerAdamW; }
};

class GptTrainSolver : public Solver {
 public:
  // Throws ConfigError ("solver.n_head: ...") when n_head does not divide n_embd, so that a
  // plan is rejected when it is loaded, not when the job starts.
  explicit GptTrainSolver(const GptTrainConfig& config);

  // char_lm problems (a CharCorpus).
  bool supports(const Problem& problem) const override;
  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  const GptTrainConfig& config() const { return config_; }

 private:
  GptTrainConfig config_;
};

class AdamwTrainSolver : public GptTrainSolver {
 public:
  explicit AdamwTrainSolver(const AdamwTrainConfig& c) : GptTrainSolver(c) {}
};
class SgdMomentumTrainSolver : public GptTrainSolver {
 public:
  explicit SgdMomentumTrainSolver(const SgdMomentumTrainConfig& c) : GptTrainSolver(c) {}
};
class LionTrainSolver : public GptTrainSolver {
 public:
  explicit LionTrainSolver(const LionTrainConfig& c) : GptTrainSolver(c) {}
};
class PerLayerAdamwTrainSolver : public GptTrainSolver {
 public:
  explicit PerLayerAdamwTrainSolver(const PerLayerAdamwTrainConfig& c) : GptTrainSolver(c) {}
};

}  // namespace cube::gpt
