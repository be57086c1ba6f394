// Tests of the bandit solver: it finds S at n = 10 and 20 (k = 3) at episode C(n, k), matches a
// slow reference UCB1 written from the header's description on labels it cannot fit, samples
// arms when there are too many, is deterministic from the seed, and traces without effect.

#include "solvers/bandit/bandit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/combinatorics.h"
#include "core/rng.h"
#include "core/spec.h"
#include "tests/solvers/secret_dataset.h"

namespace cube {
namespace {

SolveResult solve(const BinaryDataset& d, const BanditConfig& config, std::uint64_t seed,
                  RecordingTracer* tracer = nullptr) {
  return BanditSolver::solve_dataset(d, config, RunContext(seed), tracer);
}

// The slow reference: UCB1 exactly as bandit.h describes it, with vectors of vectors and
// double means, for the all-arms case.
struct Reference {
  std::vector<int> secret;
  std::int64_t episodes = 0;
  double best_mean = 0;
  bool solved = false;
};

Reference reference_ucb(const BinaryDataset& d, const BanditConfig& c, std::uint64_t seed) {
  Rng rng(stream_seed(seed, rng_role("bandit.draws")));  // the documented stream
  const auto arms = k_subsets(static_cast<int>(d.n_bits), static_cast<int>(c.k));
  const std::size_t count = arms.size();
  const std::int64_t m = std::min(c.pull_samples, d.n_train);
  std::vector<int> perm(static_cast<std::size_t>(d.n_train));
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<std::int64_t> right_sum(count, 0);  // rows scored right over all pulls
  std::vector<std::int64_t> pulls(count, 0);
  auto mean = [&](std::size_t b) {
    return static_cast<double>(right_sum[b]) /
           (static_cast<double>(pulls[b]) * static_cast<double>(m));
  };
  Reference ref;
  for (std::int64_t e = 1; e <= c.episodes; ++e) {
    std::size_t a = static_cast<std::size_t>(e - 1);
    if (e > static_cast<std::int64_t>(count)) {
      double best = -1;
      for (std::size_t b = 0; b < count; ++b) {
        const double s = mean(b) + std::sqrt(2.0 * std::log(static_cast<double>(e - 1)) /
                                             static_cast<double>(pulls[b]));
        if (s > best) {
          best = s;
          a = b;
        }
      }
    }
    for (std::int64_t i = 0; i < m; ++i)
      std::swap(
          perm[static_cast<std::size_t>(i)],
          perm[static_cast<std::size_t>(i + static_cast<std::int64_t>(rng.below(
                                                static_cast<std::uint64_t>(d.n_train - i))))]);
    int right = 0;
    for (std::int64_t i = 0; i < m; ++i) {
      const int r = perm[static_cast<std::size_t>(i)];
      int product = 1;
      for (int j : arms[a]) product *= d.train_row(r)[j];
      right += product == d.y_train[static_cast<std::size_t>(r)];
    }
    right_sum[a] += right;
    ++pulls[a];
    ref.episodes = e;
    auto perfect = [&](std::size_t b) { return pulls[b] >= c.min_pulls && mean(b) == 1.0; };
    std::size_t found = count;
    if (e == static_cast<std::int64_t>(count)) {
      for (std::size_t b = 0; b < count && found == count; ++b)
        if (perfect(b)) found = b;
    } else if (e > static_cast<std::int64_t>(count) && perfect(a)) {
      found = a;
    }
    if (found < count) {
      ref.secret = arms[found];
      ref.best_mean = 1.0;
      ref.solved = true;
      return ref;
    }
  }
  std::size_t best = 0;
  for (std::size_t b = 1; b < count; ++b) {
    if (mean(b) > mean(best) || (mean(b) == mean(best) && pulls[b] > pulls[best])) best = b;
  }
  ref.secret = arms[best];
  ref.best_mean = mean(best);
  return ref;
}

TEST(BanditTest, RegistersWithDocumentedDefaults) {
  auto solver = instantiate<Solver>(parse_spec("bandit"), "solver");
  EXPECT_EQ(solver->spec(), "bandit(episodes=3000,k=3,max_arms=5000,min_pulls=1,pull_samples=50)");
  EXPECT_THROW(instantiate<Solver>(parse_spec("bandit(pull_samples=0)"), "solver"), ConfigError);
}

TEST(BanditTest, SupportsSignLabelsOnly) {
  struct Holder : Problem {
    BinaryDataset data;
    void generate(std::uint64_t) override {}
    const BinaryDataset* binary_dataset() const override { return &data; }
  } holder;
  BanditSolver solver(BanditConfig{});
  holder.data = make_parity(10, 3, 50, 5, 1).data;
  EXPECT_TRUE(solver.supports(holder));
  holder.data.label_kind = LabelKind::kInteger;
  EXPECT_FALSE(solver.supports(holder));
  holder.data = make_parity(2, 2, 50, 5, 1).data;
  EXPECT_FALSE(solver.supports(holder));
}

TEST(BanditTest, FindsTheSecretAtEpisodeCnk) {
  for (int n : {10, 20}) {
    const std::int64_t arms = n == 10 ? 120 : 1140;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE("n=" + std::to_string(n) + " seed=" + std::to_string(seed));
      const SecretDataset p = make_parity(n, 3, n == 10 ? 500 : 1000, 200, seed);
      const SolveResult r = solve(p.data, BanditConfig{}, seed);
      ASSERT_EQ(r.status, SolveStatus::kSolved) << r.message;
      EXPECT_EQ(r.secret, p.secret);
      EXPECT_EQ(r.measures.at("episodes"), static_cast<double>(arms));
      EXPECT_EQ(r.measures.at("arms"), static_cast<double>(arms));
      EXPECT_EQ(r.measures.at("best_mean"), 1.0);
      EXPECT_EQ(r.test_predictions, p.data.y_test);
    }
  }
}

TEST(BanditTest, MatchesTheSlowReference) {
  // Labels flipped at random: no perfect arm, so UCB1 runs its whole budget (or, with the true
  // labels and min_pulls 3, stops once S has 3 perfect pulls after the first round).
  for (bool noisy : {true, false}) {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      SCOPED_TRACE("noisy=" + std::to_string(noisy) + " seed=" + std::to_string(seed));
      SecretDataset p = make_parity(8, 2, 120, 30, seed);
      Rng flip(seed + 1000);
      if (noisy)
        for (auto& y : p.data.y_train)
          if (flip.below(4) == 0) y = static_cast<std::int8_t>(-y);
      BanditConfig config;
      config.k = 2;
      config.episodes = 400;
      config.pull_samples = 10;
      config.min_pulls = noisy ? 1 : 3;
      const Reference ref = reference_ucb(p.data, config, seed);
      const SolveResult r = solve(p.data, config, seed);
      EXPECT_EQ(r.status, ref.solved ? SolveStatus::kSolved : SolveStatus::kMaxIterations);
      EXPECT_EQ(r.secret, ref.secret);
      EXPECT_EQ(r.measures.at("episodes"), static_cast<double>(ref.episodes));
      EXPECT_NEAR(r.measures.at("best_mean"), ref.best_mean, 1e-12);
      if (!noisy) {
        EXPECT_TRUE(ref.solved);
        EXPECT_GT(ref.episodes, 28);  // past the first round of C(8,2) = 28
      }
    }
  }
}

TEST(BanditTest, SamplesArmsWhenThereAreTooMany) {
  const SecretDataset p = make_parity(40, 3, 500, 50, 3);
  BanditConfig config;
  config.max_arms = 9880;  // = C(40, 3): all arms
  config.episodes = 10000;
  SolveResult all = solve(p.data, config, 3);
  EXPECT_EQ(all.measures.at("arms"), 9880.0);
  EXPECT_EQ(all.secret, p.secret);
  // 300 sampled arms of 9880 hold S with probability 300/9880 ~ 3 %: the search succeeds
  // exactly when S was sampled, so rarely. Data and solver share the seed, as in the runner:
  // an unsalted solver stream would sample S as its first arm every time.
  config.max_arms = 300;
  config.episodes = 500;
  int solved = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const SecretDataset q = make_parity(40, 3, 500, 50, seed);
    const SolveResult sampled = solve(q.data, config, seed);
    EXPECT_EQ(sampled.measures.at("arms"), 300.0);
    if (sampled.status == SolveStatus::kSolved) {
      ++solved;
      EXPECT_EQ(sampled.secret, q.secret);
    } else {
      EXPECT_EQ(sampled.status, SolveStatus::kMaxIterations);
      EXPECT_NE(sampled.secret, q.secret);
      EXPECT_LT(sampled.measures.at("best_mean"), 1.0);
      EXPECT_EQ(sampled.measures.at("episodes"), 500.0);
    }
  }
  EXPECT_LE(solved, 6);
}

TEST(BanditTest, DeterministicAndTracingChangesNothing) {
  const SecretDataset p = make_parity(10, 3, 200, 40, 9);
  BanditConfig config;
  config.min_pulls = 2;
  const SolveResult a = solve(p.data, config, 5);
  const SolveResult b = solve(p.data, config, 5);
  EXPECT_EQ(a.secret, b.secret);
  EXPECT_EQ(a.measures, b.measures);
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  const SolveResult traced = solve(p.data, config, 5, &tracer);
  tracer.finish();
  EXPECT_EQ(traced.secret, a.secret);
  EXPECT_EQ(traced.measures, a.measures);
  EXPECT_EQ(traced.test_predictions, a.test_predictions);
  const Trace& trace = collector.trace();
  const std::int64_t episodes = static_cast<std::int64_t>(a.measures.at("episodes"));
  std::int64_t y_reads = 0, ucb_reads = 0;
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kOpEnd) continue;
    ASSERT_LT(e.buffer, trace.buffers.size());
    EXPECT_GT(e.count, 0u);
    EXPECT_LE(std::uint64_t{e.offset} + e.count, trace.buffers[e.buffer].elements);
    const std::string& name = trace.buffers[e.buffer].name;
    y_reads += name == "y_train";
    ucb_reads += name == "hits" && e.count == 120;
  }
  EXPECT_EQ(y_reads, episodes * 50);     // one label per scored row
  EXPECT_EQ(ucb_reads, episodes - 120);  // one whole-table read per UCB selection
}

}  // namespace
}  // namespace cube
