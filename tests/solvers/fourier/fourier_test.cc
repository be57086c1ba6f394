// Tests of fourier: the bit-packed searches against slow obvious references (double-precision
// coefficients over every k-subset) on random small cases, recovery on the sparse family,
// supports(), determinism and trace invariance.

#include "solvers/fourier/fourier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/combinatorics.h"
#include "core/rng.h"
#include "core/spec.h"

namespace cube {
namespace {

std::unique_ptr<Problem> problem(const std::string& spec) {
  return instantiate<Problem>(parse_spec(spec), "problem");
}

// A random dataset with arbitrary labels of the given kind (no rule behind them).
BinaryDataset random_data(Rng& rng, int n, int rows, int tests, LabelKind kind) {
  BinaryDataset d;
  d.label_kind = kind;
  d.n_bits = n;
  d.n_train = rows;
  d.n_test = tests;
  auto label = [&]() -> std::int8_t {
    if (kind == LabelKind::kBit) return rng.below(4) == 0 ? 1 : 0;
    if (kind == LabelKind::kInteger) return static_cast<std::int8_t>(rng.below(7)) - 3;
    return rng.below(2) ? 1 : -1;
  };
  for (int r = 0; r < rows * n; ++r) d.x_train.push_back(rng.below(2) ? 1 : -1);
  for (int r = 0; r < rows; ++r) d.y_train.push_back(label());
  for (int r = 0; r < tests * n; ++r) d.x_test.push_back(rng.below(2) ? 1 : -1);
  for (int r = 0; r < tests; ++r) d.y_test.push_back(label());
  return d;
}

// Slow parity reference: mean(y chi_T) in doubles for every T, first max |c_T|.
std::pair<std::vector<int>, double> slow_parity(const BinaryDataset& d, int k) {
  std::vector<int> best;
  double best_abs = -1, best_c = 0;
  for (const auto& t : k_subsets(static_cast<int>(d.n_bits), k)) {
    double c = 0;
    for (std::int64_t r = 0; r < d.n_train; ++r) {
      double chi = 1;
      for (int i : t) chi *= d.train_row(r)[i];
      c += d.y_train[r] * chi;
    }
    c /= static_cast<double>(d.n_train);
    if (std::abs(c) > best_abs + 1e-12) {
      best_abs = std::abs(c);
      best_c = c;
      best = t;
    }
  }
  return {best, best_c};
}

// Slow AND reference: exact-match rate for every T, first max.
std::vector<int> slow_and(const BinaryDataset& d, int k) {
  std::vector<int> best;
  int best_right = -1;
  for (const auto& t : k_subsets(static_cast<int>(d.n_bits), k)) {
    int right = 0;
    for (std::int64_t r = 0; r < d.n_train; ++r) {
      int all = 1;
      for (int i : t) all &= d.train_row(r)[i] == 1;
      right += all == d.y_train[r];
    }
    if (right > best_right) {
      best_right = right;
      best = t;
    }
  }
  return best;
}

// Slow first-order reference: top k of |mean(y x_i)|, ties by index; signs; best t for kSign.
struct Linear {
  std::vector<int> secret;
  std::vector<int> weights;
  int t = 0;
  int right = 0;
};
Linear slow_first_order(const BinaryDataset& d, int k) {
  std::vector<double> c(d.n_bits, 0);
  for (std::int64_t i = 0; i < d.n_bits; ++i)
    for (std::int64_t r = 0; r < d.n_train; ++r) c[i] += d.y_train[r] * d.train_row(r)[i];
  std::vector<bool> taken(d.n_bits, false);
  Linear out;
  for (int s = 0; s < k; ++s) {
    int arg = -1;
    for (int i = 0; i < d.n_bits; ++i)
      if (!taken[i] && (arg < 0 || std::abs(c[i]) > std::abs(c[arg]))) arg = i;
    taken[arg] = true;
  }
  for (int i = 0; i < d.n_bits; ++i)
    if (taken[i]) {
      out.secret.push_back(i);
      out.weights.push_back(c[i] >= 0 ? 1 : -1);
    }
  auto sum = [&](const std::int8_t* x) {
    int s = 0;
    for (std::size_t j = 0; j < out.secret.size(); ++j) s += out.weights[j] * x[out.secret[j]];
    return s;
  };
  out.right = -1;
  for (int t = -k; t <= k + 1; ++t) {
    int right = 0;
    for (std::int64_t r = 0; r < d.n_train; ++r)
      right += (sum(d.train_row(r)) >= t ? 1 : -1) == d.y_train[r];
    if (right > out.right) {
      out.right = right;
      out.t = t;
    }
  }
  return out;
}

TEST(FourierTest, MatchesSlowReferencesOnRandomCases) {
  Rng rng(2024);
  for (int trial = 0; trial < 120; ++trial) {
    const int n = 3 + static_cast<int>(rng.below(8));
    const int k = 1 + static_cast<int>(rng.below(std::min(n, 4)));
    const int rows = 1 + static_cast<int>(rng.below(150));  // spans 1, 2 and 3 words
    SCOPED_TRACE("trial " + std::to_string(trial) + " n=" + std::to_string(n) +
                 " k=" + std::to_string(k) + " rows=" + std::to_string(rows));
    RunContext ctx(1);
    {
      BinaryDataset d = random_data(rng, n, rows, 9, LabelKind::kSign);
      auto [secret, c] = slow_parity(d, k);
      SolveResult r = FourierSolver::solve_dataset(d, {k, "parity"}, ctx, nullptr);
      ASSERT_EQ(*r.secret, secret);
      for (std::int64_t t = 0; t < d.n_test; ++t) {
        int chi = c >= 0 ? 1 : -1;
        for (int i : secret) chi *= d.test_row(t)[i];
        EXPECT_EQ(r.test_predictions[t], chi);
      }
      EXPECT_NEAR(r.measures.at("train_accuracy"), (1 + std::abs(c)) / 2, 1e-12);
      // first_order on kSign: secret, t and predictions.
      Linear lin = slow_first_order(d, k);
      SolveResult f = FourierSolver::solve_dataset(d, {k, "first_order"}, ctx, nullptr);
      ASSERT_EQ(*f.secret, lin.secret);
      for (std::int64_t t = 0; t < d.n_test; ++t) {
        int s = 0;
        for (std::size_t j = 0; j < lin.secret.size(); ++j)
          s += lin.weights[j] * d.test_row(t)[lin.secret[j]];
        EXPECT_EQ(f.test_predictions[t], s >= lin.t ? 1 : -1);
      }
      EXPECT_NEAR(f.measures.at("train_accuracy"), lin.right / static_cast<double>(rows), 1e-12);
      // auto keeps first_order only when strictly better on the training set.
      SolveResult a = FourierSolver::solve_dataset(d, {k, "auto"}, ctx, nullptr);
      const bool linear_wins = lin.right > (rows + std::lround(std::abs(c) * rows)) / 2;
      EXPECT_EQ(a.test_predictions, linear_wins ? f.test_predictions : r.test_predictions);
    }
    {
      BinaryDataset d = random_data(rng, n, rows, 9, LabelKind::kBit);
      std::vector<int> secret = slow_and(d, k);
      SolveResult r = FourierSolver::solve_dataset(d, {k, "auto"}, ctx, nullptr);
      ASSERT_EQ(*r.secret, secret);
      for (std::int64_t t = 0; t < d.n_test; ++t) {
        int all = 1;
        for (int i : secret) all &= d.test_row(t)[i] == 1;
        EXPECT_EQ(r.test_predictions[t], all);
      }
    }
    {
      BinaryDataset d = random_data(rng, n, rows, 9, LabelKind::kInteger);
      Linear lin = slow_first_order(d, k);
      SolveResult r = FourierSolver::solve_dataset(d, {k, "auto"}, ctx, nullptr);
      ASSERT_EQ(*r.secret, lin.secret);
      for (std::int64_t t = 0; t < d.n_test; ++t) {
        int s = 0;
        for (std::size_t j = 0; j < lin.secret.size(); ++j)
          s += lin.weights[j] * d.test_row(t)[lin.secret[j]];
        EXPECT_EQ(r.test_predictions[t], s);
      }
    }
  }
}

TEST(FourierTest, RecoversEveryMemberOfTheFamily) {
  struct Case {
    std::string problem;
    int k;
  };
  for (const Case& c :
       {Case{"sparse_parity(n=20,k=3,n_train=500)", 3},
        Case{"sparse_parity(n=20,k=5,n_train=500)", 5},
        Case{"noisy_parity(n=20,k=3,n_train=500,p=0.1)", 3},
        Case{"sparse_sum(n=20,k=3,n_train=500)", 3}, Case{"sparse_and(n=20,k=3,n_train=500)", 3},
        Case{"majority(n=20,k=3,n_train=500)", 3}, Case{"majority(n=20,k=4,n_train=500)", 4},
        Case{"threshold(n=20,k=3,n_train=500)", 3},
        Case{"threshold(n=20,k=5,n_train=1000,t=1)", 5}}) {
    auto p = problem(c.problem);
    auto s = instantiate<Solver>(parse_spec("fourier(k=" + std::to_string(c.k) + ")"), "solver");
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      SCOPED_TRACE(c.problem + " seed " + std::to_string(seed));
      p->generate(seed);
      ASSERT_TRUE(s->supports(*p));
      SolveResult r = s->solve(*p, RunContext(seed), nullptr);
      EXPECT_EQ(r.status, SolveStatus::kSolved);
      EXPECT_EQ(r.secret, p->secret());
      EXPECT_DOUBLE_EQ(p->accuracy(r.test_predictions), 1.0);
    }
  }
}

TEST(FourierTest, StopsAtThePerfectSubsetButScoresAllOtherwise) {
  auto p = problem("sparse_parity(n=20,k=3,n_train=200)");
  p->generate(3);
  SolveResult r =
      FourierSolver::solve_dataset(*p->binary_dataset(), {3, "parity"}, RunContext(1), nullptr);
  // The lexicographic rank of S, plus one.
  std::int64_t rank = 0;
  for (const auto& t : k_subsets(20, 3)) {
    ++rank;
    if (t == *p->secret()) break;
  }
  EXPECT_EQ(r.measures.at("subsets"), rank);
  auto noisy = problem("noisy_parity(n=20,k=3,n_train=200)");
  noisy->generate(3);
  SolveResult all =
      FourierSolver::solve_dataset(*noisy->binary_dataset(), {3, "parity"}, RunContext(1), nullptr);
  EXPECT_EQ(all.measures.at("subsets"), 1140);  // C(20, 3)
}

TEST(FourierTest, SupportsByRuleAndLabelKind) {
  auto sign = problem("sparse_parity");
  auto bit = problem("sparse_and");
  auto integer = problem("sparse_sum");
  auto oracle = problem("sparse_parity_oracle");
  for (auto* p : {sign.get(), bit.get(), integer.get(), oracle.get()}) p->generate(1);
  auto make = [](const std::string& spec) {
    return instantiate<Solver>(parse_spec(spec), "solver");
  };
  EXPECT_TRUE(make("fourier")->supports(*sign));
  EXPECT_TRUE(make("fourier")->supports(*bit));
  EXPECT_TRUE(make("fourier")->supports(*integer));
  EXPECT_FALSE(make("fourier")->supports(*oracle));
  EXPECT_FALSE(make("fourier(k=21)")->supports(*sign));
  EXPECT_TRUE(make("fourier(rule=parity)")->supports(*sign));
  EXPECT_FALSE(make("fourier(rule=parity)")->supports(*bit));
  EXPECT_FALSE(make("fourier(rule=parity)")->supports(*integer));
  EXPECT_TRUE(make("fourier(rule=first_order)")->supports(*integer));
  EXPECT_FALSE(make("fourier(rule=first_order)")->supports(*bit));
  EXPECT_TRUE(make("fourier(rule=and)")->supports(*bit));
  EXPECT_FALSE(make("fourier(rule=and)")->supports(*sign));
  EXPECT_THROW(make("fourier(rule=cubic)"), ConfigError);
}

TEST(FourierTest, DeterministicAndTracingChangesNothing) {
  for (const char* spec :
       {"sparse_parity(n=16,k=3,n_train=100,n_test=20)",
        "sparse_and(n=16,k=3,n_train=100,n_test=20)", "threshold(n=16,k=3,n_train=100,n_test=20)",
        "sparse_sum(n=16,k=3,n_train=100,n_test=20)"}) {
    SCOPED_TRACE(spec);
    auto p = problem(spec);
    p->generate(4);
    auto s = instantiate<Solver>(parse_spec("fourier"), "solver");
    SolveResult a = s->solve(*p, RunContext(1), nullptr);
    RecordingTracer tracer;
    TraceCollector collector;
    tracer.add_sink(&collector);
    SolveResult b = s->solve(*p, RunContext(1), &tracer);
    tracer.finish();
    EXPECT_EQ(a.test_predictions, b.test_predictions);
    EXPECT_EQ(a.secret, b.secret);
    EXPECT_EQ(a.measures, b.measures);
    // Every event names a declared buffer and stays inside it.
    const Trace& t = collector.trace();
    ASSERT_GT(t.events.size(), 0u);
    for (const auto& e : t.events) {
      if (e.kind != EventKind::kRead && e.kind != EventKind::kWrite) continue;
      ASSERT_LT(e.buffer, t.buffers.size());
      EXPECT_LE(e.offset + e.count, t.buffers[e.buffer].elements) << t.buffers[e.buffer].name;
    }
  }
}

}  // namespace
}  // namespace cube
