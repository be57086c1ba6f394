// Tests of the MLP engine's update rules (sign_sgd, perlayer, grokfast), the n-curriculum, sgd's
// BCE loss and float32 precision: each against a slow per-sample reference written from
// sparse-parity.md (§1.5, §2.1 #6/#14/#15, §2.5), the harness cell, determinism and tracing.

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <numeric>
#include <string>

#include "core/rng.h"
#include "core/spec.h"
#include "solvers/sgd/curriculum.h"
#include "solvers/sgd/grokfast.h"
#include "solvers/sgd/perlayer.h"
#include "solvers/sgd/sgd.h"
#include "solvers/sgd/sign_sgd.h"

namespace cube {
namespace {

struct Trained {
  SolveResult result;
  SgdParameters params;
};

// Trains any solver of the folder through its registered name.
Trained train(const std::string& spec, const BinaryDataset& d, std::uint64_t seed,
              RecordingTracer* tracer = nullptr) {
  auto s = instantiate<Solver>(parse_spec(spec), "solver");
  Trained run;
  if (auto* x = dynamic_cast<SgdSolver*>(s.get()))
    run.result = x->train(d, RunContext(seed), tracer, &run.params);
  else if (auto* x = dynamic_cast<SignSgdSolver*>(s.get()))
    run.result = x->train(d, RunContext(seed), tracer, &run.params);
  else if (auto* x = dynamic_cast<PerLayerSolver*>(s.get()))
    run.result = x->train(d, RunContext(seed), tracer, &run.params);
  else if (auto* x = dynamic_cast<GrokfastSolver*>(s.get()))
    run.result = x->train(d, RunContext(seed), tracer, &run.params);
  else if (auto* x = dynamic_cast<CurriculumSolver*>(s.get()))
    run.result = x->train(d, RunContext(seed), tracer, &run.params);
  else
    ADD_FAILURE() << spec << " is not an MLP solver of solvers/sgd";
  return run;
}

MlpOptions options_of(const std::string& spec) {
  auto s = instantiate<Solver>(parse_spec(spec), "solver");
  if (auto* x = dynamic_cast<SgdSolver*>(s.get())) return x->config().options();
  if (auto* x = dynamic_cast<SignSgdSolver*>(s.get())) return x->config().options();
  if (auto* x = dynamic_cast<PerLayerSolver*>(s.get())) return x->config().options();
  if (auto* x = dynamic_cast<GrokfastSolver*>(s.get())) return x->config().options();
  return dynamic_cast<CurriculumSolver*>(s.get())->config().options();
}

double sgn(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }

// The slow obvious reference: one sample and one coefficient at a time, every rule written out
// from the spec. No curriculum (n_start is ignored).
Trained reference(const MlpOptions& c, const BinaryDataset& d, std::uint64_t seed) {
  const int n = static_cast<int>(d.n_bits), h = static_cast<int>(c.hidden);
  const int n_train = static_cast<int>(d.n_train), n_test = static_cast<int>(d.n_test);
  const bool bit = d.label_kind == LabelKind::kBit;
  const bool bce = c.loss == MlpLoss::kBce;
  const double bias_wd = c.decay_biases ? c.wd : 0.0;
  Rng rng(stream_seed(seed, rng_role("sgd.init")));
  std::vector<double> w1(h * n), b1(h, 0.0), w2(h);
  double b2 = 0;
  for (auto& w : w1) w = rng.normal() * std::sqrt(2.0 / n);
  for (auto& w : w2) w = rng.normal() * std::sqrt(2.0 / h);
  std::vector<double> e1(h * n, 0.0), eb1(h, 0.0), e2(h, 0.0);
  double eb2 = 0;
  auto pre = [&](const std::int8_t* x, int j) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += x[i] * w1[j * n + i];
    return s + b1[j];
  };
  auto f = [&](const std::int8_t* x) {
    double s = 0;
    for (int j = 0; j < h; ++j) s += std::max(pre(x, j), 0.0) * w2[j];
    return s + b2;
  };
  // One parameter's step from its summed gradient g over a batch of bs samples.
  auto step = [&](double& p, double g, double& e, double decay, int bs) {
    switch (c.rule) {
      case MlpRule::kSgd:
      case MlpRule::kPerLayer:
        p -= c.lr * (g / bs + decay * p);
        break;
      case MlpRule::kSign:
        p -= c.lr * (sgn(g) + decay * p);
        break;
      case MlpRule::kGrokfast:
        e = c.alpha * e + (1 - c.alpha) * (g / bs);
        p -= c.lr * (g / bs + c.lambda * e + decay * p);
        break;
    }
  };
  Trained run;
  run.result.test_predictions.assign(n_test, 0);
  run.result.status = SolveStatus::kMaxIterations;
  run.result.epochs = c.max_epochs;
  std::vector<int> idx(n_train);
  for (int epoch = 1; epoch <= c.max_epochs; ++epoch) {
    std::iota(idx.begin(), idx.end(), 0);
    rng.shuffle(idx.begin(), idx.end());
    for (int start = 0; start < n_train; start += static_cast<int>(c.batch)) {
      const int bs = std::min(static_cast<int>(c.batch), n_train - start);
      // Contributors at the old parameters: (sample, dLoss/df, pre-activations).
      struct Contributor {
        const std::int8_t* x;
        double d;
        std::vector<double> a;
      };
      std::vector<Contributor> cs;
      for (int r = start; r < start + bs; ++r) {
        const std::int8_t* x = d.train_row(idx[r]);
        const double t = bit ? 2.0 * d.y_train[idx[r]] - 1 : d.y_train[idx[r]];
        const double out = f(x);
        Contributor k{x, 0.0, {}};
        if (bce) {
          k.d = 1 / (1 + std::exp(-out)) - (t > 0 ? 1.0 : 0.0);
        } else {
          if (t * out >= 1.0) continue;
          k.d = -t;
        }
        for (int j = 0; j < h; ++j) k.a.push_back(pre(x, j));
        cs.push_back(std::move(k));
      }
      if (cs.empty()) continue;
      std::vector<double> dw2(h, 0.0);
      double db2 = 0;
      for (const auto& k : cs) {
        db2 += k.d;
        for (int j = 0; j < h; ++j) dw2[j] += k.d * std::max(k.a[j], 0.0);
      }
      // Gradients through the current w2, factored out of the sum over contributors: the sum of
      // d x [a > 0] is then exact, so an exactly zero gradient is zero for the sign rule too
      // (summing the terms d w2 x one by one leaves rounding residue instead).
      auto layer1 = [&] {
        std::vector<double> dw1(h * n, 0.0), db1(h, 0.0);
        for (const auto& k : cs)
          for (int j = 0; j < h; ++j) {
            const double dh = k.a[j] > 0 ? k.d : 0.0;
            db1[j] += dh;
            for (int i = 0; i < n; ++i) dw1[j * n + i] += dh * k.x[i];
          }
        for (int j = 0; j < h; ++j) {
          db1[j] *= w2[j];
          for (int i = 0; i < n; ++i) dw1[j * n + i] *= w2[j];
        }
        for (int e = 0; e < h * n; ++e) step(w1[e], dw1[e], e1[e], c.wd, bs);
        for (int j = 0; j < h; ++j) step(b1[j], db1[j], eb1[j], bias_wd, bs);
      };
      auto layer2 = [&] {
        for (int j = 0; j < h; ++j) step(w2[j], dw2[j], e2[j], c.wd, bs);
        step(b2, db2, eb2, bias_wd, bs);
      };
      if (c.rule == MlpRule::kPerLayer) {
        layer2();
        layer1();
      } else {
        layer1();
        layer2();
      }
    }
    int correct = 0;
    for (int t = 0; t < n_test; ++t) {
      const double out = f(d.test_row(t));
      const std::int8_t pred = bit ? (out > 0 ? 1 : 0) : (out > 0 ? 1 : out < 0 ? -1 : 0);
      run.result.test_predictions[t] = pred;
      correct += pred == d.y_test[t];
    }
    if (correct == n_test) {
      run.result.status = SolveStatus::kSolved;
      run.result.epochs = epoch;
      break;
    }
  }
  run.params = SgdParameters{h, n, w1, b1, w2, b2};
  return run;
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double rel,
                  const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], rel * std::max({std::abs(a[i]), std::abs(b[i]), 1e-3}))
        << what << "[" << i << "]";
}

void expect_matches_reference(const std::string& problem, const std::string& solver,
                              std::uint64_t seed, double rel) {
  SCOPED_TRACE(problem + " " + solver);
  auto p = make_problem(problem, seed);
  Trained fast = train(solver, *p->binary_dataset(), seed);
  Trained slow = reference(options_of(solver), *p->binary_dataset(), seed);
  EXPECT_EQ(fast.result.status, slow.result.status) << fast.result.message;
  EXPECT_EQ(fast.result.epochs, slow.result.epochs);
  EXPECT_EQ(fast.result.test_predictions, slow.result.test_predictions);
  expect_close(fast.params.w1, slow.params.w1, rel, "W1");
  expect_close(fast.params.b1, slow.params.b1, rel, "b1");
  expect_close(fast.params.w2, slow.params.w2, rel, "W2");
  expect_close({fast.params.b2}, {slow.params.b2}, rel, "b2");
}

TEST(MlpVariantsTest, RulesEqualThePerSampleReference) {
  const char* small = "sparse_parity(n=8,k=2,n_train=200,n_test=50)";  // 200 = 12*16 + 8
  const char* tiny = "sparse_parity(n=6,k=2,n_train=30,n_test=20)";
  for (const char* s :
       {"sign_sgd(hidden=2,batch=200,max_epochs=1)", "sign_sgd(hidden=16,batch=16,max_epochs=15)",
        "perlayer(hidden=16,batch=16,max_epochs=15)", "grokfast(hidden=16,batch=16,max_epochs=15)",
        "grokfast(hidden=12,batch=7,alpha=0.9,lambda=0.5,wd=0,max_epochs=6)",
        "sgd(hidden=16,batch=16,loss=bce,max_epochs=15)"})
    expect_matches_reference(small, s, 3, 1e-9);
  for (const char* s : {"sign_sgd(hidden=5,batch=1,lr=0.05,max_epochs=5)",
                        "perlayer(hidden=4,batch=1,lr=0.05,max_epochs=5)",
                        "sgd(hidden=4,batch=64,loss=bce,lr=0.3,max_epochs=5)"})
    expect_matches_reference(tiny, s, 5, 1e-9);
}

TEST(MlpVariantsTest, BceOnBitLabelsEqualsTheReference) {
  // sparse_and gives kBit labels; skip quietly if the problem family is not registered.
  if (!Registry<Problem>::instance().find("sparse_and")) GTEST_SKIP() << "no sparse_and";
  expect_matches_reference("sparse_and(n=8,k=2,n_train=200,n_test=50)",
                           "sgd(hidden=16,batch=16,loss=bce,max_epochs=10)", 3, 1e-9);
}

// float32 against the float64 reference: a few epochs on a small network stay within 1e-4
// relative (float32 rounds at 6e-8 per operation; the training is chaotic over many epochs, so
// longer runs are compared by outcome only, in HarnessCell).
TEST(MlpVariantsTest, Float32IsWithinToleranceOfTheFloat64Reference) {
  for (const char* s : {"sgd(hidden=16,batch=16,max_epochs=3,precision=float32)",
                        "perlayer(hidden=16,batch=16,max_epochs=3,precision=float32)",
                        "grokfast(hidden=16,batch=16,max_epochs=3,precision=float32)"})
    expect_matches_reference("sparse_parity(n=8,k=3,n_train=200,n_test=50)", s, 3, 1e-4);
}

TEST(MlpVariantsTest, CurriculumWithoutWideningIsSgd) {
  auto p = make_problem("sparse_parity(n=10,k=3,n_train=300,n_test=100)", 4);
  Trained a = train("curriculum(n_start=10,hidden=32,max_epochs=30)", *p->binary_dataset(), 4);
  Trained b = train("sgd(hidden=32,max_epochs=30)", *p->binary_dataset(), 4);
  EXPECT_EQ(a.result.status, b.result.status);
  EXPECT_EQ(a.result.epochs, b.result.epochs);
  EXPECT_EQ(a.params.w1, b.params.w1);  // bitwise
  EXPECT_EQ(a.params.w2, b.params.w2);
}

TEST(MlpVariantsTest, CurriculumWidensAndKeepsOldColumns) {
  // Phase 1 on 4 of 8 bits for exactly 2 epochs (target 1.01 is never met, so phase_epochs
  // ends it), then the 4 new columns start small: |w| of the new columns << old ones.
  auto p = make_problem("sparse_parity(n=8,k=2,n_train=100,n_test=40)", 9);
  Trained r = train(
      "curriculum(n_start=4,n_step=4,phase_target=1,phase_epochs=2,hidden=16,"
      "max_epochs=2)",
      *p->binary_dataset(), 9);
  EXPECT_EQ(r.result.status, SolveStatus::kMaxIterations);
  ASSERT_EQ(r.result.measures.count("curriculum_widen_to_8_epoch"), 1u);
  EXPECT_EQ(r.result.measures.at("curriculum_widen_to_8_epoch"), 2.0);
  double old_abs = 0, new_abs = 0;
  for (int j = 0; j < 16; ++j)
    for (int c = 0; c < 8; ++c) (c < 4 ? old_abs : new_abs) += std::abs(r.params.w1[j * 8 + c]);
  EXPECT_GT(new_abs, 0.0);
  EXPECT_LT(new_abs, 0.5 * old_abs);
  // The first phase is plain sgd on the first 4 bits: the same as sgd on a 4-bit copy.
  BinaryDataset narrow = *p->binary_dataset();
  narrow.n_bits = 4;
  narrow.x_train.clear();
  narrow.x_test.clear();
  for (std::int64_t i = 0; i < narrow.n_train; ++i)
    for (int c = 0; c < 4; ++c) narrow.x_train.push_back(p->binary_dataset()->train_row(i)[c]);
  for (std::int64_t i = 0; i < narrow.n_test; ++i)
    for (int c = 0; c < 4; ++c) narrow.x_test.push_back(p->binary_dataset()->test_row(i)[c]);
  Trained four = train("sgd(hidden=16,max_epochs=2)", narrow, 9);
  for (int j = 0; j < 16; ++j)
    for (int c = 0; c < 4; ++c) EXPECT_EQ(r.params.w1[j * 8 + c], four.params.w1[j * 4 + c]);
  EXPECT_EQ(r.params.w2, four.params.w2);
}

// The harness cell n=20/k=3, seed 42: the variants whose published method solves it do.
TEST(MlpVariantsTest, HarnessCellSeed42) {
  auto p = make_problem("sparse_parity(n=20,k=3,n_train=1000,n_test=200)", 42);
  for (const char* spec : {"sign_sgd", "perlayer", "grokfast(alpha=0.95,lambda=1)",
                           "sgd(precision=float32)", "sgd(lr=0.5,precision=float32)"}) {
    auto s = instantiate<Solver>(parse_spec(spec), "solver");
    SolveResult r = s->solve(*p, RunContext(42), nullptr);
    EXPECT_EQ(r.status, SolveStatus::kSolved) << spec << ": " << r.message;
    EXPECT_EQ(p->accuracy(r.test_predictions), 1.0) << spec;
    EXPECT_EQ(r.curve.size(), static_cast<std::size_t>(r.epochs.value_or(0))) << spec;
    std::cout << "[ mlp     ] n20k3 seed 42 " << spec << ": 100 % at epoch " << *r.epochs << "\n";
  }
  // GrokFast(0.98, 2) solved only 80 % of seeds in the source (§2.1 #16); whatever it does on
  // this seed, the reported accuracy is the last epoch's.
  auto g = instantiate<Solver>(parse_spec("grokfast"), "solver");
  SolveResult r = g->solve(*p, RunContext(42), nullptr);
  ASSERT_FALSE(r.curve.empty());
  EXPECT_EQ(p->accuracy(r.test_predictions), r.curve.back().value);
  std::cout << "[ mlp     ] n20k3 seed 42 grokfast: " << to_string(r.status) << " at epoch "
            << *r.epochs << ", test accuracy " << r.curve.back().value << "\n";
}

// The curriculum as published needs the secret inside the first n_start bits (§6.6): take the
// first seed >= 42 whose secret lies in bits 0..9 of an n=20/k=3 harness cell.
TEST(MlpVariantsTest, CurriculumSolvesWhenTheSecretIsInTheFirstBits) {
  std::uint64_t seed = 42;
  std::unique_ptr<Problem> p;
  for (;; ++seed) {
    p = make_problem("sparse_parity(n=20,k=3,n_train=1000,n_test=200)", seed);
    const std::vector<int> secret = *p->secret();
    if (secret.back() < 10) break;
  }
  auto s = instantiate<Solver>(parse_spec("curriculum"), "solver");
  SolveResult r = s->solve(*p, RunContext(seed), nullptr);
  EXPECT_EQ(r.status, SolveStatus::kSolved) << r.message;
  EXPECT_EQ(p->accuracy(r.test_predictions), 1.0);
  ASSERT_EQ(r.measures.count("curriculum_widen_to_20_epoch"), 1u);
  EXPECT_LT(r.measures.at("curriculum_widen_to_20_epoch"), 100.0);  // phase 1 met 95 %
  std::cout << "[ mlp     ] n20k3 seed " << seed << " curriculum 10 -> 20: widened at epoch "
            << r.measures.at("curriculum_widen_to_20_epoch") << ", 100 % at epoch " << *r.epochs
            << "\n";
}

TEST(MlpVariantsTest, DeterministicAndTracingChangesNotOneBit) {
  auto p = make_problem("sparse_parity(n=12,k=3,n_train=300,n_test=100)", 7);
  for (const char* spec : {"sign_sgd(hidden=24,max_epochs=6)", "perlayer(hidden=24,max_epochs=6)",
                           "grokfast(hidden=24,max_epochs=6)",
                           "curriculum(hidden=24,n_start=6,n_step=3,"
                           "phase_epochs=2,max_epochs=8)",
                           "sgd(hidden=24,loss=bce,max_epochs=6,precision=float32)"}) {
    SCOPED_TRACE(spec);
    const BinaryDataset& d = *p->binary_dataset();
    Trained plain = train(spec, d, 7), again = train(spec, d, 7);
    EXPECT_EQ(again.params.w1, plain.params.w1);
    EXPECT_EQ(again.result.curve, plain.result.curve);
    RecordingTracer tracer;
    TraceCollector collector;
    tracer.add_sink(&collector);
    Trained traced = train(spec, d, 7, &tracer);
    tracer.finish();
    EXPECT_EQ(traced.result.status, plain.result.status);
    EXPECT_EQ(traced.result.epochs, plain.result.epochs);
    EXPECT_EQ(traced.result.test_predictions, plain.result.test_predictions);
    EXPECT_EQ(traced.result.measures, plain.result.measures);
    EXPECT_EQ(traced.params.w1, plain.params.w1);
    EXPECT_EQ(traced.params.b1, plain.params.b1);
    EXPECT_EQ(traced.params.w2, plain.params.w2);
    EXPECT_EQ(traced.params.b2, plain.params.b2);
    const Trace& trace = collector.trace();
    for (const TraceEvent& e : trace.events) {
      if (e.kind == EventKind::kOpEnd) continue;
      ASSERT_LT(e.buffer, trace.buffers.size());
      EXPECT_LE(std::uint64_t{e.offset} + e.count, trace.buffers[e.buffer].elements);
    }
    EXPECT_EQ(trace.buffers.find("eW1") != nullptr, std::string(spec).starts_with("grokfast"));
    Trained other = train(spec, d, 8);
    EXPECT_NE(other.params.w1, plain.params.w1);
  }
}

// The contract's check on every binary problem family registered (defaults, n=12): supported
// where the labels are kSign or kBit, deterministic, and tracing changes nothing.
TEST(MlpVariantsTest, EveryFamilyDefaultsDeterministicAndTraced) {
  for (const std::string family :
       {"sparse_parity", "sparse_and", "majority", "threshold", "noisy_parity", "sparse_sum"}) {
    if (!Registry<Problem>::instance().find(family)) continue;
    auto p = make_problem(family + "(n=12,k=3,n_train=200,n_test=50)", 3);
    for (const char* spec : {"sgd", "sign_sgd", "perlayer", "grokfast", "curriculum"}) {
      SCOPED_TRACE(family + " x " + spec);
      auto s = instantiate<Solver>(parse_spec(spec), "solver");
      const LabelKind kind = p->binary_dataset()->label_kind;
      EXPECT_EQ(s->supports(*p), kind == LabelKind::kSign || kind == LabelKind::kBit);
      if (!s->supports(*p)) continue;
      SolveResult a = s->solve(*p, RunContext(3), nullptr);
      SolveResult b = s->solve(*p, RunContext(3), nullptr);
      RecordingTracer tracer;
      TraceCollector collector;
      tracer.add_sink(&collector);
      SolveResult c = s->solve(*p, RunContext(3), &tracer);
      tracer.finish();
      EXPECT_EQ(a.test_predictions, b.test_predictions);
      EXPECT_EQ(a.test_predictions, c.test_predictions);
      EXPECT_EQ(a.epochs, c.epochs);
      EXPECT_EQ(a.status, c.status);
      EXPECT_EQ(a.curve, c.curve);
      EXPECT_GT(collector.trace().events.size(), 0u);
    }
  }
}

TEST(MlpVariantsTest, ConfigsValidate) {
  EXPECT_EQ(instantiate<Solver>(parse_spec("sign_sgd"), "solver")->spec(),
            "sign_sgd(batch=32,hidden=200,lr=0.01,max_epochs=200,precision=float64,wd=0.01)");
  EXPECT_EQ(instantiate<Solver>(parse_spec("grokfast"), "solver")->spec(),
            "grokfast(alpha=0.98,batch=32,hidden=200,lambda=2,lr=0.1,max_epochs=200,"
            "precision=float64,wd=0.01)");
  EXPECT_THROW(instantiate<Solver>(parse_spec("grokfast(alpha=1)"), "solver"), ConfigError);
  EXPECT_THROW(instantiate<Solver>(parse_spec("sgd(loss=mse)"), "solver"), ConfigError);
  EXPECT_THROW(instantiate<Solver>(parse_spec("perlayer(precision=half)"), "solver"), ConfigError);
  EXPECT_THROW(instantiate<Solver>(parse_spec("curriculum(n_start=0)"), "solver"), ConfigError);
}

}  // namespace
}  // namespace cube
