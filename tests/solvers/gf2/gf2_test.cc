// Tests of the gf2 solver: secret recovery on many seeds, rank-deficient and inconsistent
// systems built by hand, agreement with a brute-force search over all subsets, and the trace.

#include "solvers/gf2/gf2.h"

#include <gtest/gtest.h>

#include <string>

#include "core/spec.h"
#include "problems/sparse_parity/sparse_parity.h"

namespace cube {
namespace {

SolveResult solve(const Problem& p, RecordingTracer* tracer = nullptr) {
  auto solver = instantiate<Solver>(parse_spec("gf2"), "solver");
  return solver->solve(p, RunContext(0), tracer);
}

// A dataset from bit rows (bit 1 = x of -1) labelled by the parity over `secret`.
BinaryDataset from_bits(int n, const std::vector<std::vector<int>>& rows,
                        const std::vector<int>& secret) {
  BinaryDataset d;
  d.n_bits = n;
  d.n_train = static_cast<std::int64_t>(rows.size());
  d.n_test = 4;
  for (const auto& bits : rows) {
    int parity = 0;
    for (int j = 0; j < n; ++j) d.x_train.push_back(bits[j] ? -1 : 1);
    for (int i : secret) parity ^= bits[i];
    d.y_train.push_back(parity ? -1 : 1);
  }
  for (int t = 0; t < d.n_test; ++t)
    for (int j = 0; j < n; ++j) d.x_test.push_back(((t >> (j % 3)) & 1) ? -1 : 1);
  d.y_test.assign(4, 1);
  return d;
}

// Every event names a declared buffer and stays inside it.
void expect_events_in_bounds(const Trace& trace) {
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kOpEnd) continue;
    ASSERT_LT(e.buffer, trace.buffers.size());
    if (e.kind == EventKind::kFree) continue;
    EXPECT_GT(e.count, 0u) << trace.buffers[e.buffer].name;
    EXPECT_LE(std::uint64_t{e.offset} + e.count, trace.buffers[e.buffer].elements)
        << trace.buffers[e.buffer].name;
  }
}

std::int64_t count_events(const Trace& trace, const char* buffer, EventKind kind) {
  const BufferInfo* info = trace.buffers.find(buffer);
  if (!info) return -1;
  BufferId id = 0;
  while (trace.buffers[id].name != buffer) ++id;
  std::int64_t count = 0;
  for (const TraceEvent& e : trace.events) count += e.buffer == id && e.kind == kind;
  return count;
}

TEST(Gf2Test, RegistersWithoutParameters) {
  auto solver = instantiate<Solver>(parse_spec("gf2"), "solver");
  EXPECT_EQ(solver->spec(), "gf2");
  EXPECT_TRUE(solver->supports(*make_problem("sparse_parity(n=4,k=2)", 1)));
  struct NoData : Problem {
    void generate(std::uint64_t) override {}
  } no_data;
  EXPECT_FALSE(solver->supports(no_data));
  EXPECT_FALSE(solver->supports(*make_problem("dally_matmul", 1)));  // a Dally task, no samples
}

TEST(Gf2Test, RecoversTheSecretOnAHundredSeeds) {
  for (const char* spec : {"sparse_parity(n=20,k=3)", "sparse_parity(n=100,k=5)"}) {
    for (std::uint64_t seed = 1; seed <= 100; ++seed) {
      SCOPED_TRACE(std::string(spec) + " seed " + std::to_string(seed));
      auto p = make_problem(spec, seed);
      SolveResult r = solve(*p);
      EXPECT_EQ(r.status, SolveStatus::kSolved) << r.message;
      EXPECT_EQ(r.secret, p->secret());
      EXPECT_EQ(p->accuracy(r.test_predictions), 1.0);
      EXPECT_FALSE(r.epochs.has_value());
    }
  }
}

TEST(Gf2Test, RankDeficientWhenTheTrainingSetRunsOut) {
  // Two rows in three unknowns: column 2 is free and set to 0.
  BinaryDataset d = from_bits(3, {{1, 0, 0}, {0, 1, 0}}, {0, 2});
  SolveResult r = Gf2Solver::solve_dataset(d, nullptr);
  EXPECT_EQ(r.status, SolveStatus::kMaxIterations);
  EXPECT_NE(r.message.find("rank 2 < n = 3"), std::string::npos) << r.message;
  EXPECT_EQ(r.secret, std::vector<int>({0}));
  // Predictions are the parity of x_0 on the test rows: bit 0 of t is set for t = 1, 3.
  EXPECT_EQ(r.test_predictions, std::vector<std::int8_t>({1, -1, 1, -1}));
}

TEST(Gf2Test, AddsRowsBeyondNPlusOneUntilFullRank) {
  // The first n+1 = 4 rows have rank 2; the fifth completes the basis; the sixth is not read.
  BinaryDataset d =
      from_bits(3, {{1, 0, 0}, {1, 0, 0}, {0, 1, 0}, {1, 1, 0}, {1, 1, 1}, {0, 0, 1}}, {0, 2});
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  SolveResult r = Gf2Solver::solve_dataset(d, &tracer);
  tracer.finish();
  EXPECT_EQ(r.status, SolveStatus::kSolved) << r.message;
  EXPECT_EQ(r.secret, std::vector<int>({0, 2}));
  EXPECT_EQ(count_events(collector.trace(), "y_train", EventKind::kRead), 5);
  // Row operations (rows counted from 0): row 1 reduces by pivot 0, rows 3 and 4 by pivots 0
  // and 1, so A is written 5 times by packing and 5 times by row operations.
  EXPECT_EQ(count_events(collector.trace(), "A", EventKind::kWrite), 10);
  EXPECT_EQ(count_events(collector.trace(), "pivot", EventKind::kWrite), 3);
}

TEST(Gf2Test, InconsistentRowsAreReported) {
  BinaryDataset d = from_bits(2, {{1, 0}, {0, 1}, {1, 1}}, {0});
  d.y_train[2] = static_cast<std::int8_t>(-d.y_train[2]);  // no parity fits all three rows
  SolveResult r = Gf2Solver::solve_dataset(d, nullptr);
  EXPECT_EQ(r.status, SolveStatus::kMaxIterations);
  EXPECT_NE(r.message.find("inconsistent"), std::string::npos) << r.message;
  EXPECT_EQ(r.secret, std::vector<int>({0}));  // the solution of the first two rows
}

// The slow obvious reference: every subset of {0..n-1} that fits all training rows.
std::vector<std::vector<int>> consistent_subsets(const BinaryDataset& d) {
  std::vector<std::vector<int>> out;
  const int n = static_cast<int>(d.n_bits);
  for (std::uint32_t mask = 0; mask < (1u << n); ++mask) {
    bool fits = true;
    for (std::int64_t r = 0; r < d.n_train && fits; ++r) {
      int product = 1;
      for (int i = 0; i < n; ++i)
        if (mask >> i & 1) product *= d.train_row(r)[i];
      fits = product == d.y_train[r];
    }
    if (!fits) continue;
    std::vector<int> subset;
    for (int i = 0; i < n; ++i)
      if (mask >> i & 1) subset.push_back(i);
    out.push_back(subset);
  }
  return out;
}

TEST(Gf2Test, AgreesWithBruteForceOverAllSubsets) {
  int unique = 0, ambiguous = 0;
  for (int k = 1; k <= 4; ++k) {
    for (int n_train : {6, 9, 11, 14, 40}) {
      for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        SCOPED_TRACE("k=" + std::to_string(k) + " n_train=" + std::to_string(n_train) +
                     " seed=" + std::to_string(seed));
        auto p = make_problem("sparse_parity(n=10,k=" + std::to_string(k) +
                                  ",n_train=" + std::to_string(n_train) + ",n_test=30)",
                              seed * 7919 + static_cast<std::uint64_t>(k));
        const BinaryDataset& d = *p->binary_dataset();
        std::vector<std::vector<int>> fits = consistent_subsets(d);
        ASSERT_FALSE(fits.empty());
        EXPECT_NE(std::find(fits.begin(), fits.end(), *p->secret()), fits.end());
        SolveResult r = solve(*p);
        ASSERT_TRUE(r.secret.has_value());
        EXPECT_NE(std::find(fits.begin(), fits.end(), *r.secret), fits.end());
        if (fits.size() == 1) {
          ++unique;
          EXPECT_EQ(r.status, SolveStatus::kSolved) << r.message;
          EXPECT_EQ(*r.secret, fits[0]);
        } else {
          ++ambiguous;
          EXPECT_EQ(r.status, SolveStatus::kMaxIterations);
        }
        for (std::int64_t t = 0; t < d.n_test; ++t) {
          int product = 1;
          for (int i : *r.secret) product *= d.test_row(t)[i];
          EXPECT_EQ(r.test_predictions[t], product);
        }
      }
    }
  }
  EXPECT_GT(unique, 50);  // both regimes are exercised
  EXPECT_GT(ambiguous, 20);
}

TEST(Gf2Test, TracingChangesNothingAndNamesItsBuffers) {
  for (const char* spec : {"sparse_parity(n=20,k=3)", "sparse_parity(n=100,k=5)",
                           "sparse_parity(n=130,k=4,n_train=300)"}) {
    SCOPED_TRACE(spec);
    auto p = make_problem(spec, 42);
    SolveResult plain = solve(*p);
    SolveResult again = solve(*p);
    EXPECT_EQ(plain.test_predictions, again.test_predictions);
    EXPECT_EQ(plain.secret, again.secret);
    std::vector<TraceEvent> first_events;
    for (int run = 0; run < 2; ++run) {
      RecordingTracer tracer;
      TraceCollector collector;
      tracer.add_sink(&collector);
      SolveResult traced = solve(*p, &tracer);
      tracer.finish();
      EXPECT_EQ(traced.status, plain.status);
      EXPECT_EQ(traced.message, plain.message);
      EXPECT_EQ(traced.secret, plain.secret);
      EXPECT_EQ(traced.test_predictions, plain.test_predictions);
      const Trace& trace = collector.trace();
      EXPECT_GT(trace.events.size(), 0u);
      EXPECT_EQ(tracer.events_recorded(), trace.events.size());
      for (const char* name :
           {"x_train", "y_train", "A", "pivot", "s", "secret", "x_test", "predictions"})
        EXPECT_NE(trace.buffers.find(name), nullptr) << name;
      expect_events_in_bounds(trace);
      const std::int64_t n = p->binary_dataset()->n_bits;
      EXPECT_EQ(count_events(trace, "predictions", EventKind::kWrite), p->binary_dataset()->n_test);
      EXPECT_EQ(count_events(trace, "pivot", EventKind::kWrite), n);  // full rank
      EXPECT_EQ(count_events(trace, "y_train", EventKind::kRead), n + 1);
      if (run == 0)
        first_events = trace.events;
      else
        EXPECT_EQ(trace.events, first_events);
    }
  }
}

}  // namespace
}  // namespace cube
