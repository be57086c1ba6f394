// Tests of the Forward-Forward negative control: deterministic, tracing changes nothing, the
// reported accuracy is the problem's own score of the predictions, and the rule itself against a
// slow restatement on a tiny network. It is NOT expected to solve n=20/k=3 (sparse-parity.md
// §2.2 #28), and no test asks it to.

#include "solvers/local_rules/forward_forward.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <numeric>

#include "core/rng.h"
#include "core/spec.h"

namespace cube {
namespace {

ForwardForwardSolver make_solver(const std::string& spec) {
  auto s = instantiate<Solver>(parse_spec(spec), "solver");
  return *dynamic_cast<ForwardForwardSolver*>(s.get());
}

// A restatement of §2.2 #28 one sample at a time, written independently of the solver's loops.
ForwardForwardParameters reference(const BinaryDataset& d, int h1, int h2, double lr, double theta,
                                   int epochs, std::uint64_t seed) {
  const int n = static_cast<int>(d.n_bits), m = n + 1, n_train = static_cast<int>(d.n_train);
  Rng rng(stream_seed(seed, rng_role("forward_forward.init")));
  ForwardForwardParameters p;
  p.w1.resize(h1 * m);
  p.w2.resize(h2 * h1);
  p.b1.assign(h1, 0.0);
  p.b2.assign(h2, 0.0);
  for (auto& w : p.w1) w = rng.normal() * std::sqrt(2.0 / m);
  for (auto& w : p.w2) w = rng.normal() * std::sqrt(2.0 / h1);
  std::vector<int> idx(n_train);
  for (int e = 0; e < epochs; ++e) {
    std::iota(idx.begin(), idx.end(), 0);
    rng.shuffle(idx.begin(), idx.end());
    for (int i : idx) {
      for (int sgn : {+1, -1}) {
        std::vector<double> zin = {sgn * static_cast<double>(d.y_train[i])};
        for (int c = 0; c < n; ++c) zin.push_back(d.train_row(i)[c]);
        std::vector<double> a(h1), b(h2);
        double g1 = 0, norm = 0, g2 = 0;
        for (int j = 0; j < h1; ++j) {
          double s = 0;
          for (int c = 0; c < m; ++c) s += p.w1[j * m + c] * zin[c];
          a[j] = std::max(s + p.b1[j], 0.0);
          g1 += a[j] * a[j];
        }
        if (sgn > 0 ? g1 < theta : g1 > theta)
          for (int j = 0; j < h1; ++j)
            if (a[j] > 0) {
              for (int c = 0; c < m; ++c) p.w1[j * m + c] += sgn * lr * 2.0 * a[j] * zin[c];
              p.b1[j] += sgn * lr * 2.0 * a[j];
            }
        for (double v : a) norm += v * v;
        norm = std::max(std::sqrt(norm), 1e-12);
        for (double& v : a) v /= norm;
        for (int j = 0; j < h2; ++j) {
          double s = 0;
          for (int c = 0; c < h1; ++c) s += p.w2[j * h1 + c] * a[c];
          b[j] = std::max(s + p.b2[j], 0.0);
          g2 += b[j] * b[j];
        }
        if (sgn > 0 ? g2 < theta : g2 > theta)
          for (int j = 0; j < h2; ++j)
            if (b[j] > 0) {
              for (int c = 0; c < h1; ++c) p.w2[j * h1 + c] += sgn * lr * 2.0 * b[j] * a[c];
              p.b2[j] += sgn * lr * 2.0 * b[j];
            }
      }
    }
  }
  return p;
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], 1e-9 * std::max({std::abs(a[i]), std::abs(b[i]), 1e-3}))
        << what << "[" << i << "]";
}

TEST(ForwardForwardTest, RuleEqualsTheSlowRestatement) {
  auto p = make_problem("sparse_parity(n=6,k=2,n_train=40,n_test=20)", 3);
  ForwardForwardParameters fast;
  SolveResult r = make_solver("forward_forward(hidden1=8,hidden2=6,lr=0.05,max_epochs=3)")
                      .train(*p->binary_dataset(), RunContext(3), nullptr, &fast);
  const int epochs = static_cast<int>(r.epochs.value_or(0));
  ASSERT_GE(epochs, 1);
  ForwardForwardParameters slow = reference(*p->binary_dataset(), 8, 6, 0.05, 2.0, epochs, 3);
  expect_close(fast.w1, slow.w1, "W1");
  expect_close(fast.b1, slow.b1, "b1");
  expect_close(fast.w2, slow.w2, "W2");
  expect_close(fast.b2, slow.b2, "b2");
}

TEST(ForwardForwardTest, DeterministicTracedAndHonest) {
  auto p = make_problem("sparse_parity(n=20,k=3,n_train=200,n_test=100)", 42);
  ForwardForwardSolver solver = make_solver("forward_forward(hidden1=32,hidden2=32,max_epochs=3)");
  ForwardForwardParameters a, b, c;
  SolveResult first = solver.train(*p->binary_dataset(), RunContext(42), nullptr, &a);
  SolveResult again = solver.train(*p->binary_dataset(), RunContext(42), nullptr, &b);
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  SolveResult traced = solver.train(*p->binary_dataset(), RunContext(42), &tracer, &c);
  tracer.finish();
  EXPECT_EQ(first.status, again.status);
  EXPECT_EQ(first.curve, again.curve);
  EXPECT_EQ(first.test_predictions, again.test_predictions);
  EXPECT_EQ(a.w1, b.w1);
  EXPECT_EQ(a.w2, b.w2);
  EXPECT_EQ(traced.status, first.status);
  EXPECT_EQ(traced.epochs, first.epochs);
  EXPECT_EQ(traced.curve, first.curve);
  EXPECT_EQ(traced.test_predictions, first.test_predictions);
  EXPECT_EQ(c.w1, a.w1);
  EXPECT_EQ(c.b1, a.b1);
  EXPECT_EQ(c.w2, a.w2);
  EXPECT_EQ(c.b2, a.b2);
  const Trace& trace = collector.trace();
  EXPECT_GT(trace.events.size(), 0u);
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kOpEnd) continue;
    ASSERT_LT(e.buffer, trace.buffers.size());
    EXPECT_LE(std::uint64_t{e.offset} + e.count, trace.buffers[e.buffer].elements);
  }
  // Honest: the last test_accuracy point is the problem's own score of the predictions.
  ASSERT_FALSE(first.curve.empty());
  EXPECT_EQ(first.curve.back().series, "test_accuracy");
  EXPECT_EQ(first.curve.back().value, p->accuracy(first.test_predictions));
  if (first.status != SolveStatus::kSolved) {
    EXPECT_LT(p->accuracy(first.test_predictions), 1.0);
  }
  std::cout << "[ ff      ] n20k3 seed 42 (h 32/32, 3 epochs, ntr 200): " << to_string(first.status)
            << ", test accuracy " << p->accuracy(first.test_predictions) << "\n";
}

TEST(ForwardForwardTest, ConfigsValidate) {
  EXPECT_EQ(instantiate<Solver>(parse_spec("forward_forward"), "solver")->spec(),
            "forward_forward(hidden1=100,hidden2=100,lr=0.01,max_epochs=5,theta=2)");
  EXPECT_THROW(instantiate<Solver>(parse_spec("forward_forward(theta=0)"), "solver"), ConfigError);
}

}  // namespace
}  // namespace cube
