// Tests of km and km_min: recovery of S through the query oracle over many seeds, the documented
// query counts, determinism and trace invariance, element-level trace shape, and supports().

#include "solvers/km/km.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/spec.h"
#include "problems/oracle/query_oracle.h"

namespace cube {
namespace {

std::unique_ptr<Problem> problem(const std::string& spec) {
  return instantiate<Problem>(parse_spec(spec), "problem");
}
std::unique_ptr<Solver> solver(const std::string& spec) {
  return instantiate<Solver>(parse_spec(spec), "solver");
}

std::string oracle_spec(int n, int k) {
  return "sparse_parity_oracle(n=" + std::to_string(n) + ",k=" + std::to_string(k) + ",n_test=100)";
}

TEST(KmTest, RecoversTheSecretOnManySeeds) {
  for (auto [n, k] : {std::pair{20, 3}, std::pair{100, 5}}) {
    auto p = problem(oracle_spec(n, k));
    auto km = solver("km(k=" + std::to_string(k) + ")");
    auto km_min = solver("km_min(k=" + std::to_string(k) + ")");
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
      SCOPED_TRACE("n=" + std::to_string(n) + " seed=" + std::to_string(seed));
      p->generate(seed);
      ASSERT_TRUE(km->supports(*p));
      for (Solver* s : {km.get(), km_min.get()}) {
        SolveResult r = s->solve(*p, RunContext(seed), nullptr);
        EXPECT_EQ(r.status, SolveStatus::kSolved) << s->name() << ": " << r.message;
        EXPECT_EQ(r.secret, p->secret()) << s->name();
        EXPECT_DOUBLE_EQ(p->accuracy(r.test_predictions), 1.0) << s->name();
      }
    }
  }
}

TEST(KmTest, QueryCountsAreAsDocumented) {
  for (auto [n, k] : {std::pair{20, 3}, std::pair{50, 3}, std::pair{100, 5}}) {
    auto p = problem(oracle_spec(n, k));
    p->generate(42);
    for (auto [m, verify] : {std::pair{5, 100}, std::pair{1, 7}, std::pair{20, 100}}) {
      auto km = solver("km(k=" + std::to_string(k) + ",m=" + std::to_string(m) +
                       ",verify=" + std::to_string(verify) + ")");
      const std::int64_t before = p->query_oracle()->queries();
      SolveResult r = km->solve(*p, RunContext(3), nullptr);
      const double expected = 2.0 * n * m + verify;  // 2 n m + verify
      EXPECT_EQ(r.measures.at("queries"), expected);
      EXPECT_EQ(p->query_oracle()->queries() - before, static_cast<std::int64_t>(expected));
      EXPECT_EQ(r.measures.at("candidates"), k);  // parity: influence 1 on S, 0 off S
    }
    // km_min: two queries per bit scanned, up to the largest index of S.
    auto km_min = solver("km_min(k=" + std::to_string(k) + ")");
    SolveResult r = km_min->solve(*p, RunContext(3), nullptr);
    EXPECT_EQ(r.measures.at("queries"), 2.0 * (p->secret()->back() + 1));
  }
  // Harness figure: m = 5 at n = 20 gives 300 queries (sparse-parity.md §2.3 #46).
  auto p = problem(oracle_spec(20, 3));
  p->generate(1);
  EXPECT_EQ(solver("km")->solve(*p, RunContext(1), nullptr).measures.at("queries"), 300.0);
}

TEST(KmTest, DeterministicAndTracingChangesNothing) {
  auto p = problem(oracle_spec(30, 3));
  p->generate(8);
  for (const char* name : {"km", "km_min"}) {
    SCOPED_TRACE(name);
    auto s = solver(name);
    SolveResult a = s->solve(*p, RunContext(5), nullptr);
    RecordingTracer tracer;
    TraceCollector collector;
    tracer.add_sink(&collector);
    SolveResult b = s->solve(*p, RunContext(5), &tracer);
    tracer.finish();
    EXPECT_EQ(a.test_predictions, b.test_predictions);
    EXPECT_EQ(a.secret, b.secret);
    EXPECT_EQ(a.measures, b.measures);
    EXPECT_GT(collector.trace().events.size(), 0u);
  }
}

// km_min's trace at element level: per bit scanned, 5 operations (draw, flip, two queries,
// influence), then candidates, secret and one operation per test row.
TEST(KmTest, KmMinTraceHasTheDocumentedShape) {
  auto p = problem("sparse_parity_oracle(n=12,k=2,n_test=5)");
  p->generate(4);
  const int scanned = p->secret()->back() + 1;
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  solver("km_min(k=2)")->solve(*p, RunContext(1), &tracer);
  tracer.finish();
  const Trace& t = collector.trace();
  std::int64_t ops = 0, x_reads = 0, x_flip_writes = 0, influence_writes = 0;
  const BufferId x = t.buffers.find("x") - &t.buffers[0];
  for (const auto& e : t.events) {
    ops += e.kind == EventKind::kOpEnd;
    if (e.kind == EventKind::kRead && t.buffers[e.buffer].name == "x") {
      ++x_reads;
      EXPECT_EQ(e.count, 12u);
      EXPECT_EQ(e.buffer, x);
    }
    x_flip_writes += e.kind == EventKind::kWrite && t.buffers[e.buffer].name == "x_flip";
    if (e.kind == EventKind::kWrite && t.buffers[e.buffer].name == "influence") {
      ++influence_writes;
      EXPECT_EQ(e.count, 1u);
    }
  }
  EXPECT_EQ(ops, 5 * scanned + 2 + 5);
  EXPECT_EQ(x_reads, 2 * scanned);  // the flip copy and the first query
  EXPECT_EQ(x_flip_writes, scanned);
  EXPECT_EQ(influence_writes, scanned);
}

TEST(KmTest, UnsupportedOnIidProblems) {
  for (const char* name : {"km", "km_min"}) {
    auto s = solver(name);
    for (const char* prob : {"sparse_parity", "noisy_parity", "sparse_and"}) {
      auto p = problem(prob);
      p->generate(1);
      EXPECT_FALSE(s->supports(*p)) << name << " on " << prob;
    }
    auto small = problem("sparse_parity_oracle(n=4,k=3)");
    small->generate(1);
    EXPECT_TRUE(s->supports(*small));
    EXPECT_FALSE(solver(std::string(name) + "(k=5)")->supports(*small));  // k > n
  }
}

TEST(KmTest, ParameterBounds) {
  EXPECT_EQ(solver("km")->spec(), "km(k=3,m=5,verify=100)");
  EXPECT_EQ(solver("km_min")->spec(), "km_min(k=3)");
  EXPECT_THROW(solver("km(m=0)"), ConfigError);
  EXPECT_THROW(solver("km(verify=0)"), ConfigError);
  EXPECT_THROW(solver("km_min(k=0)"), ConfigError);
}

}  // namespace
}  // namespace cube
