// cube/solvers/gpt/gpt_train.cc: the training loop of the char_lm solvers (gpt_train.h):
// batches, schedule, evaluation, optimizer dispatch, tracing of chosen steps, checkpoints and
// the progress line. The model and the update rules live in gpt_model.cc and optimizers.cc.

#include "solvers/gpt/gpt_train.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "core/memory_budget.h"
#include "core/rng.h"
#include "models/gemm/gemm_peak.h"
#include "models/gpt/checkpoint.h"
#include "models/optim/optimizers.h"
#include "problems/char_corpus.h"

namespace cube::gpt {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The random streams of a run (core/rng.h stream_seed): one per (seed, purpose, iteration), so a
// resumed run draws what an uninterrupted one draws without saving generator state.
constexpr std::uint64_t kModelInit = rng_role("gpt.init"), kTrainBatch = rng_role("gpt.batch"),
                        kEvalTrain = rng_role("gpt.eval_train"),
                        kEvalVal = rng_role("gpt.eval_val");

// The float32 FMA ceiling of this machine at `threads` (the widest vector ISA it has), measured
// once per process per thread count.
double fma_peak(int threads) {
  static std::mutex mutex;
  static std::map<int, double> peaks;
  std::lock_guard lock(mutex);
  auto it = peaks.find(threads);
  if (it == peaks.end()) it = peaks.emplace(threads, measure_fma_peak_gflops(threads)).first;
  return it->second;
}

std::unique_ptr<Optimizer> make_optimizer(const GptTrainConfig& c, const GptModel& model) {
  switch (c.rule) {
    case UpdateRule::kAdamW:
    case UpdateRule::kPerLayerAdamW: {
      AdamWConfig a;
      a.beta1 = static_cast<float>(c.beta1);
      a.beta2 = static_cast<float>(c.beta2);
      a.weight_decay = static_cast<float>(c.weight_decay);
      return std::make_unique<AdamW>(a, model.tensors(), model.num_parameters());
    }
    case UpdateRule::kSgdMomentum: {
      SgdConfig s;
      s.momentum = static_cast<float>(c.momentum);
      s.weight_decay = static_cast<float>(c.weight_decay);
      return std::make_unique<SgdMomentum>(s, model.tensors(), model.num_parameters());
    }
    case UpdateRule::kLion: {
      LionConfig l;
      l.beta1 = static_cast<float>(c.beta1);
      l.beta2 = static_cast<float>(c.beta2);
      l.weight_decay = static_cast<float>(c.weight_decay);
      return std::make_unique<Lion>(l, model.tensors(), model.num_parameters());
    }
  }
  throw Error("unknown update rule");
}

// The clip's factor for grads[range] by that range's own norm (perlayer_adamw's per-block rule; the
// whole buffer otherwise); 1 without clipping (max_norm <= 0).
float clip_factor_of(std::span<const float> grads, ParamRange range, double max_norm) {
  if (max_norm <= 0 || range.size == 0) return 1.0f;
  return clip_factor(grad_norm(grads.subspan(range.offset, range.size)), max_norm);
}

class Trainer {
 public:
  Trainer(const GptTrainConfig& config, const CharCorpus& corpus, const RunContext& ctx)
      : c_(config),
        corpus_(corpus),
        ctx_(ctx),
        B_(static_cast<int>(corpus.batch_size)),
        T_(static_cast<int>(corpus.block_size)),
        model_(model_config(config, corpus), B_, stream_seed(ctx.seed(), kModelInit)),
        optimizer_(make_optimizer(config, model_)),
        x_(static_cast<std::size_t>(B_) * T_),
        y_(x_.size()) {}

  // recorder: the tracer of the traced solve, nullptr when untraced.
  SolveResult run(RecordingTracer* recorder) {
    SolveResult result;
    std::int64_t start_it = 0;
    if (c_.resume && !c_.checkpoint.empty() && checkpoint_exists(c_.checkpoint)) {
      Checkpoint ck = load_checkpoint(c_.checkpoint);
      restore(ck);
      start_it = ck.iteration;
      result.curve = ck.curve;
      best_val_ = ck.best_val_loss;
    }
    const auto run_start = Clock::now();
    double train_seconds = 0, eval_seconds = 0;
    std::int64_t trained = 0, traced = 0;
    const bool tty = c_.progress && isatty(STDERR_FILENO);
    std::optional<double> last_train, last_val;
    NullTracer off;
    for (std::int64_t it = start_it;; ++it) {
      // A resumed run's first step was evaluated (and saved) by the run that wrote the file.
      const bool evaluated_before = it == start_it && start_it > 0;
      if ((it % corpus_.eval_interval == 0 || it == c_.max_iters) && !evaluated_before) {
        const auto eval_start = Clock::now();
        const double train_loss = estimate_loss(Split::kTrain, it);
        const double val_loss = estimate_loss(Split::kVal, it);
        eval_seconds += seconds_since(eval_start);
        result.curve.push_back({"train_loss", it, train_loss});
        result.curve.push_back({"val_loss", it, val_loss});
        last_train = train_loss;
        last_val = val_loss;
        if (std::isfinite(val_loss) && (!best_val_ || val_loss < *best_val_)) best_val_ = val_loss;
        if (!c_.checkpoint.empty() && it > start_it) save(it, result.curve);
        if (tty)
          std::fprintf(stderr, "\r\033[Kstep %lld: train loss %.4f, val loss %.4f\n",
                       static_cast<long long>(it), train_loss, val_loss);
        if (!std::isfinite(train_loss) || !std::isfinite(val_loss)) {
          result.status = SolveStatus::kDiverged;
          result.message = "non-finite loss at iteration " + std::to_string(it);
          break;
        }
      }
      if (it == c_.max_iters) break;
      if (ctx_.out_of_time()) {
        result.status = SolveStatus::kTimedOut;
        result.message = "deadline reached at iteration " + std::to_string(it);
        break;
      }
      const auto step_start = Clock::now();
      const bool trace_this =
          recorder != nullptr && (c_.trace_every == 0 ? it == start_it : it % c_.trace_every == 0);
      float loss = trace_this ? step(it, *recorder) : step(it, off);
      traced += trace_this;
      train_seconds += seconds_since(step_start);
      ++trained;
      if (!std::isfinite(loss)) {
        result.status = SolveStatus::kDiverged;
        result.message = "non-finite training loss at iteration " + std::to_string(it);
        break;
      }
      if (tty && (it % 10 == 0)) {
        const double tok_s = static_cast<double>(trained) * B_ * T_ / std::max(train_seconds, 1e-9);
        const double eta = train_seconds / static_cast<double>(trained) *
                           static_cast<double>(c_.max_iters - it - 1);
        std::fprintf(stderr, "\r\033[Kiter %lld/%lld  loss %.4f  %.0f tok/s  ETA %.0f s",
                     static_cast<long long>(it + 1), static_cast<long long>(c_.max_iters), loss,
                     tok_s, eta);
      }
    }
    if (tty) std::fprintf(stderr, "\r\033[K");

    const double flops = flops_per_iteration();
    const int threads = omp_get_max_threads();
    auto& m = result.measures;
    if (last_train) m["train_loss"] = *last_train;
    if (last_val) m["val_loss"] = *last_val;
    if (best_val_) m["best_val_loss"] = *best_val_;
    m["flops_per_iteration"] = flops;
    m["iterations"] = static_cast<double>(trained);
    m["seconds_in_eval"] = eval_seconds;
    m["seconds_total"] = seconds_since(run_start);
    m["traced_steps"] = static_cast<double>(traced);
    if (trained > 0 && train_seconds > 0) {
      m["tokens_per_second"] = static_cast<double>(trained) * B_ * T_ / train_seconds;
      const double gflops = flops * static_cast<double>(trained) / train_seconds / 1e9;
      m["gflops_per_second"] = gflops;
      const double peak = fma_peak(threads);
      if (peak > 0) m["mfu"] = gflops / peak;
    }
    return result;
  }

 private:
  static GptConfig model_config(const GptTrainConfig& c, const CharCorpus& corpus) {
    GptConfig g;
    g.vocab_size = static_cast<int>(corpus.vocab_size());
    g.block_size = static_cast<int>(corpus.block_size);
    g.n_layer = static_cast<int>(c.n_layer);
    g.n_head = static_cast<int>(c.n_head);
    g.n_embd = static_cast<int>(c.n_embd);
    g.bias = c.bias;
    g.dropout = static_cast<float>(c.dropout);
    g.bf16 = c.precision == "bf16";
    g.fuse = c.fuse;
    g.recompute_attention = c.recompute_attention;
    g.batch_shards = static_cast<int>(c.batch_shards);
    return g;
  }

  double learning_rate(std::int64_t it) const {
    if (!c_.decay_lr) return c_.lr;
    return nanogpt_lr(it, c_.lr, c_.min_lr, c_.warmup_iters, c_.lr_decay_iters);
  }

  template <class Tracer>
  float step(std::int64_t it, Tracer& tracer) {
    Rng rng(stream_seed(ctx_.seed(), kTrainBatch, static_cast<std::uint64_t>(it)));
    sample(Split::kTrain, rng);
    set_batch(B_);
    const auto lr = static_cast<float>(learning_rate(it));
    optimizer_->begin_step();
    // params() only once the forward is done: in bf16 mode it marks the weights' bfloat16 copy
    // stale, and each update below rounds its range into that copy right away, while the weights
    // are in cache (an update is elementwise: by range or whole, the same bits). The clip's factor
    // is applied by the update as it reads the gradients (no pass of its own).
    auto update = [&](ParamRange range, float clip) {
      optimizer_->update(range, model_.params(), model_.grads(), lr, clip, tracer);
      model_.round_weights(tracer, range);
    };
    const auto key = static_cast<std::uint64_t>(it);
    if (c_.rule == UpdateRule::kPerLayerAdamW) {
      const float loss = model_.forward_backward(tracer, key, [&](int layer) {
        const ParamRange block = model_.block_range(layer);
        update(block, clip_factor_of(model_.grads(), block, c_.grad_clip));
      });
      for (ParamRange rest : {model_.embedding_range(), model_.final_range()}) {
        update(rest, clip_factor_of(model_.grads(), rest, c_.grad_clip));
      }
      return loss;
    }
    const float loss = model_.forward_backward(tracer, key);
    const ParamRange all{0, model_.num_parameters()};
    const float clip = clip_factor_of(model_.grads(), all, c_.grad_clip);
    if (model_.config().bf16) {
      for (const ParamTensor& t : model_.tensors()) update({t.offset, t.size}, clip);
    } else {
      optimizer_->update(all, model_.params(), model_.grads(), lr, clip, tracer);
    }
    return loss;
  }

  void sample(Split split, Rng& rng) {
    if (corpus_.line_examples) {
      corpus_.sample_lines(split, rng, B_, T_, x_.data(), y_.data());
    } else {
      corpus_.sample_batch(split, rng, B_, T_, x_.data(), y_.data());
    }
  }

  void set_batch(int rows) {
    const auto n = static_cast<std::size_t>(rows) * T_;
    model_.set_batch(std::span<const std::uint8_t>(x_.data(), n),
                     std::span<const std::uint8_t>(y_.data(), n), rows, T_,
                     std::optional<std::uint8_t>(CharCorpus::kNoTarget));
  }

  // nanoGPT's estimate_loss: the mean loss of eval_iters random batches. With line examples the
  // val loss is instead exact, makemore's test loss: every val line once, averaged per scored
  // token.
  double estimate_loss(Split split, std::int64_t it) {
    NullTracer off;
    if (corpus_.line_examples && split == Split::kVal) {
      const std::int64_t lines = corpus_.num_lines(split);
      double sum = 0, scored = 0;
      for (std::int64_t k0 = 0; k0 < lines; k0 += B_) {
        const int rows = static_cast<int>(std::min<std::int64_t>(B_, lines - k0));
        for (int r = 0; r < rows; ++r)
          corpus_.line_example(split, k0 + r, T_, x_.data() + r * T_, y_.data() + r * T_);
        set_batch(rows);
        const auto count = static_cast<double>(model_.scored_targets());
        sum += static_cast<double>(model_.forward(off, /*training=*/false)) * count;
        scored += count;
      }
      return sum / scored;
    }
    Rng rng(stream_seed(ctx_.seed(), split == Split::kTrain ? kEvalTrain : kEvalVal,
                        static_cast<std::uint64_t>(it)));
    double sum = 0;
    for (std::int64_t k = 0; k < corpus_.eval_iters; ++k) {
      sample(split, rng);
      set_batch(B_);
      sum += model_.forward(off, /*training=*/false);
    }
    return sum / static_cast<double>(corpus_.eval_iters);
  }

  double flops_per_iteration() const {
    const GptConfig& g = model_.config();
    const double n = static_cast<double>(model_.num_parameters()) -
                     static_cast<double>(model_.tensor("wpe").size);
    const double per_token = 6 * n + 12.0 * g.n_layer * g.n_embd * T_;
    return per_token * T_ * B_;
  }

  void save(std::int64_t it, const std::vector<CurvePoint>& curve) {
    Checkpoint ck;
    ck.config = model_.config();
    ck.vocab = corpus_.vocab;
    ck.iteration = it;
    ck.params.assign(model_.params().begin(), model_.params().end());
    for (std::span<float> s : optimizer_->state())
      ck.optimizer_state.emplace_back(s.begin(), s.end());
    ck.optimizer_step = optimizer_->step();
    ck.curve = curve;
    ck.best_val_loss = best_val_;
    save_checkpoint(ck, c_.checkpoint);
  }

  void restore(const Checkpoint& ck) {
    const GptConfig& g = model_.config();
    const GptConfig& s = ck.config;
    if (s.vocab_size != g.vocab_size || s.block_size != g.block_size || s.n_layer != g.n_layer ||
        s.n_head != g.n_head || s.n_embd != g.n_embd || s.bias != g.bias ||
        ck.vocab != corpus_.vocab)
      throw ConfigError(SourceLocation{c_.checkpoint},
                        "the checkpoint's model or vocabulary differs from this cell's");
    CUBE_CHECK(ck.params.size() == model_.num_parameters(), "checkpoint parameter count");
    std::copy(ck.params.begin(), ck.params.end(), model_.params().begin());
    auto state = optimizer_->state();
    if (state.size() != ck.optimizer_state.size())
      throw ConfigError(SourceLocation{c_.checkpoint},
                        "the checkpoint was written by another optimizer");
    for (std::size_t i = 0; i < state.size(); ++i) {
      CUBE_CHECK(state[i].size() == ck.optimizer_state[i].size(), "checkpoint optimizer state");
      std::copy(ck.optimizer_state[i].begin(), ck.optimizer_state[i].end(), state[i].begin());
    }
    optimizer_->set_step(ck.optimizer_step);
  }

  const GptTrainConfig& c_;
  const CharCorpus& corpus_;
  const RunContext& ctx_;
  int B_, T_;
  GptModel model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<std::uint8_t> x_, y_;
  std::optional<double> best_val_;
};

// Sets the calling thread's OpenMP thread count for the scope of a solve.
class ThreadScope {
 public:
  explicit ThreadScope(std::int64_t threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(threads > 0 ? static_cast<int>(threads) : omp_get_num_procs());
  }
  ~ThreadScope() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

}  // namespace

GptTrainSolver::GptTrainSolver(const GptTrainConfig& config) : config_(config) {
  if (config_.n_embd % config_.n_head != 0)
    throw ConfigError("solver.n_head: " + std::to_string(config_.n_head) +
                      " does not divide n_embd = " + std::to_string(config_.n_embd));
  if (config_.precision == "bf16" && config_.bias)
    throw ConfigError(
        "solver.precision: bf16 needs bias: false (its products never accumulate "
        "a bias into a bfloat16 output)");
  // A lower bound: the blocks' float32 weights, gradients and one optimizer moment (AdamW
  // keeps two; embeddings and activations come on top).
  const double block_params = 12.0 * static_cast<double>(config_.n_layer) *
                              static_cast<double>(config_.n_embd) *
                              static_cast<double>(config_.n_embd);
  check_fits_in_memory(12.0 * block_params, "solver.n_embd", "training the model",
                       "12 bytes x 12 x n_layer x n_embd^2 = 12 x " +
                           std::to_string(static_cast<std::int64_t>(block_params)) +
                           " for weights, gradients and a moment");
}

bool GptTrainSolver::supports(const Problem& problem) const {
  return problem.char_corpus() != nullptr;
}

SolveResult GptTrainSolver::solve(const Problem& problem, const RunContext& ctx,
                                  RecordingTracer* tracer) {
  const CharCorpus* corpus = problem.char_corpus();
  CUBE_CHECK(corpus != nullptr, "gpt training needs a char_lm problem");
  ThreadScope threads(config_.threads);
  Trainer trainer(config_, *corpus, ctx);
  return trainer.run(tracer);
}

CUBE_REGISTER(Solver, AdamwTrainSolver, AdamwTrainConfig, "adamw",
              "GPT on char_lm, AdamW (nanoGPT train.py defaults)");
CUBE_REGISTER(Solver, SgdMomentumTrainSolver, SgdMomentumTrainConfig, "sgd_momentum",
              "GPT on char_lm, SGD with momentum");
CUBE_REGISTER(Solver, LionTrainSolver, LionTrainConfig, "lion", "GPT on char_lm, Lion");
CUBE_REGISTER(Solver, PerLayerAdamwTrainSolver, PerLayerAdamwTrainConfig, "perlayer_adamw",
              "GPT on char_lm, AdamW applied to each block right after its backward");

}  // namespace cube::gpt
