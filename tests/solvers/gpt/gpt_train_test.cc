// Tests of the GPT training solvers (gpt_train.h) on a tiny model over the names corpus: the loss
// falls, runs are deterministic, tracing changes no number, a resumed run reproduces the
// uninterrupted one, checkpoints sample text, and bad settings are configuration errors.

#include "solvers/gpt/gpt_train.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/rng.h"
#include "core/spec.h"
#include "models/gpt/checkpoint.h"
#include "models/gpt/gpt_model.h"
#include "models/gpt/sample.h"
#include "problems/char_lm/char_lm.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

const char* kProblem =
    "char_lm(dataset=names,block_size=16,batch_size=8,eval_interval=20,eval_iters=4)";
const char* kTiny =
    "n_layer=2,n_head=2,n_embd=16,max_iters=60,warmup_iters=5,lr_decay_iters=60,"
    "lr=0.01,min_lr=0.001,threads=1,progress=false";

const char* kLineProblem =
    "char_lm(dataset=names,block_size=16,batch_size=8,eval_interval=20,eval_iters=4,"
    "examples=line)";

std::unique_ptr<Problem> problem(const char* spec = kProblem) {
  auto p = instantiate<Problem>(parse_spec(spec), "problem");
  p->generate(1);
  return p;
}

SolveResult train(const std::string& solver, const std::string& extra = "",
                  RecordingTracer* tracer = nullptr, std::uint64_t seed = 7,
                  const char* problem_spec = kProblem) {
  auto p = problem(problem_spec);
  // `extra` overrides the tiny defaults key by key.
  Spec spec = parse_spec(solver + "(" + kTiny + ")");
  if (!extra.empty())
    for (auto& [key, value] : parse_spec("x(" + extra + ")").params) spec.params[key] = value;
  auto s = instantiate<Solver>(spec, "solver");
  EXPECT_TRUE(s->supports(*p));
  return s->solve(*p, RunContext(seed), tracer);
}

double value_at(const SolveResult& r, const std::string& series, std::int64_t step) {
  for (const auto& point : r.curve)
    if (point.series == series && point.step == step) return point.value;
  ADD_FAILURE() << "no " << series << " at step " << step;
  return 0;
}

TEST(GptTrainTest, EverySolverDrivesTheLossDownAndReportsItsMeasures) {
  for (const char* solver : {"adamw", "perlayer_adamw", "sgd_momentum", "lion"}) {
    SCOPED_TRACE(solver);
    SolveResult r = train(solver);
    EXPECT_EQ(r.status, SolveStatus::kSolved) << r.message;
    // ln 27 = 3.30 nats at the start; a unigram model of names gets about 2.9.
    EXPECT_NEAR(value_at(r, "train_loss", 0), std::log(27.0), 0.15);
    EXPECT_LT(value_at(r, "train_loss", 60), 2.95);
    EXPECT_LT(r.measures.at("val_loss"), value_at(r, "val_loss", 0) - 0.3);
    EXPECT_LE(r.measures.at("best_val_loss"), r.measures.at("val_loss"));
    EXPECT_EQ(r.measures.at("iterations"), 60);
    EXPECT_GT(r.measures.at("tokens_per_second"), 0);
    EXPECT_GT(r.measures.at("mfu"), 0);
    EXPECT_EQ(r.curve.size(), 8u);  // train and val at steps 0, 20, 40, 60
    EXPECT_TRUE(r.test_predictions.empty());
  }
}

// makemore's protocol: the val loss is every val name once from its start token, per scored
// token. At step 0 it must equal that sum computed name by name on a model built from the same
// init stream (the trainer's initialization: core/rng.h stream_seed), and training lowers it.
TEST(GptTrainTest, LineExamplesScoreEveryValNameExactly) {
  SolveResult r = train("adamw", "", nullptr, 7, kLineProblem);
  EXPECT_EQ(r.status, SolveStatus::kSolved) << r.message;
  auto p = problem(kLineProblem);
  const CharCorpus& corpus = *p->char_corpus();
  gpt::GptConfig g;
  g.vocab_size = 27;
  g.block_size = 16;
  g.n_layer = 2;
  g.n_head = 2;
  g.n_embd = 16;
  gpt::GptModel model(g, 8, stream_seed(7, rng_role("gpt.init")));
  NullTracer off;
  double sum = 0, tokens = 0;
  for (std::int64_t k = 0; k < corpus.num_lines(Split::kVal); ++k) {
    std::vector<std::uint8_t> x(16), y(16);
    corpus.line_example(Split::kVal, k, 16, x.data(), y.data());
    const auto scored = static_cast<double>(16 - std::count(y.begin(), y.end(), 255));
    model.set_batch(std::span<const std::uint8_t>(x), std::span<const std::uint8_t>(y), 1, 16,
                    std::optional<std::uint8_t>(CharCorpus::kNoTarget));
    sum += model.forward(off) * scored;
    tokens += scored;
  }
  EXPECT_NEAR(value_at(r, "val_loss", 0), sum / tokens, 1e-5);
  EXPECT_NEAR(value_at(r, "val_loss", 0), std::log(27.0), 0.15);
  EXPECT_LT(r.measures.at("val_loss"), value_at(r, "val_loss", 0) - 0.3);
}

TEST(GptTrainTest, FlopsFollowNanoGptsFormula) {
  SolveResult r = train("adamw", "max_iters=1");
  // N = wte 27*16 + 2 blocks * (ln1 16 + attn 3*16*16 + proj 16*16 + ln2 16 + fc 4*16*16 +
  // fcproj 16*4*16) + lnf 16 (bias = false: LayerNorms have weights only); wpe excluded.
  // Per token 6N + 12 L C T; times T B.
  const double n = 27 * 16 + 2 * (16 + 768 + 256 + 16 + 1024 + 1024) + 16;
  EXPECT_EQ(r.measures.at("flops_per_iteration"), (6 * n + 12.0 * 2 * 16 * 16) * 16 * 8);
}

TEST(GptTrainTest, SameSeedSameCurveBitForBitAndTracingChangesNothing) {
  SolveResult a = train("adamw");
  SolveResult b = train("adamw");
  EXPECT_EQ(a.curve, b.curve);
  RecordingTracer tracer;
  SolveResult traced = train("adamw", "trace_every=30", &tracer);
  tracer.finish();
  EXPECT_EQ(a.curve, traced.curve);
  EXPECT_EQ(traced.measures.at("traced_steps"), 2);  // iterations 0 and 30
  EXPECT_GT(tracer.events_recorded(), 1000u);
  SolveResult other_seed = train("adamw", "", nullptr, 8);
  EXPECT_NE(a.curve, other_seed.curve);
}

// batch_shards: a run is the same for any thread count (1: shards one after the other, 2: side
// by side, 3: one after the other on all threads) and with tracing; its curve tracks the
// whole-batch run's (gradients summed in another order) without being it.
TEST(GptTrainTest, BatchShardsGiveOneCurveAtEveryThreadCountAndTrackTheWholeBatch) {
  const SolveResult one = train("adamw", "batch_shards=2,threads=1");
  for (const char* threads : {"2", "3"}) {
    EXPECT_EQ(one.curve, train("adamw", std::string("batch_shards=2,threads=") + threads).curve)
        << threads << " threads";
  }
  RecordingTracer tracer;
  const SolveResult traced = train("adamw", "batch_shards=2,threads=2,trace_every=30", &tracer);
  tracer.finish();
  EXPECT_EQ(one.curve, traced.curve);
  EXPECT_NE(tracer.buffers().find("gpt.shard_grads"), nullptr);
  const SolveResult whole = train("adamw");
  EXPECT_NE(one.curve, whole.curve);
  // The same init: the first evaluation is the same forward (bitwise with cube's kernels and
  // oneDNN's AVX-512 sgemm; oneDNN's AVX2 sgemm rounds a row by the call's shape).
  EXPECT_NEAR(value_at(one, "val_loss", 0), value_at(whole, "val_loss", 0), 1e-6);
  EXPECT_NEAR(value_at(one, "val_loss", 60), value_at(whole, "val_loss", 60), 1e-3);
}

TEST(GptTrainTest, PerLayerUpdatesDifferFromGlobalAdamW) {
  // Block l is updated once its own backward is done, and no later step of that backward reads
  // its parameters, so without clipping per-layer AdamW is the same math as AdamW, bit for bit.
  // The per-block clip is where the two differ.
  SolveResult global = train("adamw", "grad_clip=0");
  SolveResult perlayer = train("perlayer_adamw", "grad_clip=0");
  EXPECT_EQ(global.curve, perlayer.curve);
  SolveResult clipped = train("perlayer_adamw", "grad_clip=0.1");
  SolveResult clipped_global = train("adamw", "grad_clip=0.1");
  EXPECT_NE(clipped.curve, clipped_global.curve);
}

TEST(GptTrainTest, ResumingFromACheckpointReproducesTheUninterruptedRun) {
  const fs::path dir = fs::temp_directory_path() / "cube_gpt_train_test";
  fs::create_directories(dir);
  const std::string file = (dir / "run.ckpt").string();
  fs::remove(file);
  SolveResult whole = train("adamw");
  // A first run that stops at 40 iterations leaves a checkpoint at step 40 ...
  SolveResult first = train("adamw", "max_iters=40,checkpoint=" + file);
  ASSERT_TRUE(gpt::checkpoint_exists(file));
  EXPECT_EQ(gpt::load_checkpoint(file).iteration, 40);
  // ... and a resumed run to 60 gives exactly the curve of the uninterrupted run.
  SolveResult resumed = train("adamw", "checkpoint=" + file + ",resume=true");
  EXPECT_EQ(resumed.curve, whole.curve);
  EXPECT_EQ(resumed.measures.at("val_loss"), whole.measures.at("val_loss"));

  gpt::SampleOptions options;
  options.tokens = 200;
  const std::string text = gpt::sample_text(gpt::load_checkpoint(file), options);
  EXPECT_EQ(text.size(), 200u);
  for (char c : text) EXPECT_TRUE(c == '.' || (c >= 'a' && c <= 'z')) << int(c);
  options.prompt = "Q";
  EXPECT_THROW(gpt::sample_text(gpt::load_checkpoint(file), options), ConfigError);
  fs::remove_all(dir);
}

TEST(GptTrainTest, BadSettingsAreConfigurationErrors) {
  EXPECT_THROW(train("adamw", "n_head=3"), ConfigError);  // 3 does not divide 16
  EXPECT_THROW(instantiate<Solver>(parse_spec("adamw(dropout=1)"), "solver"), ConfigError);
  EXPECT_THROW(instantiate<Solver>(parse_spec("adamw(batch_shards=0)"), "solver"), ConfigError);
  EXPECT_THROW(instantiate<Solver>(parse_spec("sgd_momentum(beta1=0.9)"), "solver"),
               ConfigError);  // SGD declares momentum, not betas
  EXPECT_THROW(gpt::load_checkpoint("/nonexistent/x.ckpt"), ConfigError);
}

}  // namespace
}  // namespace cube
