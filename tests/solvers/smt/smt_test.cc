// Tests of the smt solver: secret recovery over many seeds and sizes, agreement with a
// brute-force lexicographic scan of every k-subset (secret, nodes and candidates), the
// verification of candidates, datasets it cannot solve, and its trace.

#include "solvers/smt/smt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/combinatorics.h"
#include "core/rng.h"
#include "core/spec.h"
#include "tests/solvers/secret_dataset.h"

namespace cube {
namespace {

bool tuple_matches(const BinaryDataset& d, const std::vector<int>& t, std::int64_t from,
                   std::int64_t to) {
  for (std::int64_t r = from; r < to; ++r) {
    int product = d.y_train[static_cast<std::size_t>(r)];
    for (int i : t) product *= d.train_row(r)[i];
    if (product != 1) return false;
  }
  return true;
}

// The slow obvious reference: every k-subset in lexicographic order; the first that matches the
// first m rows (and, with verify, every row) is the answer. Also counts what the search should
// report as nodes: the prefixes of length 1..k-1 (with room for the rest) lexicographically up
// to the answer's, plus every tuple up to the answer that matched the first m rows.
struct Reference {
  std::optional<std::vector<int>> secret;
  std::int64_t nodes = 0;
  std::int64_t rejected = 0;
};

Reference brute_force(const BinaryDataset& d, int k, std::int64_t samples, bool verify) {
  const int n = static_cast<int>(d.n_bits);
  const std::int64_t m = std::min(samples, d.n_train);
  Reference ref;
  std::vector<int> last;  // the last tuple considered
  for (const auto& t : k_subsets(n, k)) {
    last = t;
    if (!tuple_matches(d, t, 0, m)) continue;
    ++ref.nodes;
    if (!verify || tuple_matches(d, t, m, d.n_train)) {
      ref.secret = t;
      break;
    }
    ++ref.rejected;
  }
  for (int len = 1; len < k; ++len) {
    const std::vector<int> bound(last.begin(), last.begin() + len);
    for (const auto& p : k_subsets(n, len))
      if (p.back() <= n - (k - len + 1) && p <= bound) ++ref.nodes;
  }
  return ref;
}

SolveResult solve(const BinaryDataset& d, SmtConfig config, RecordingTracer* tracer = nullptr) {
  return SmtSolver::solve_dataset(d, config, RunContext(0), tracer);
}

double accuracy(const BinaryDataset& d, const std::vector<std::int8_t>& predictions) {
  std::int64_t right = 0;
  for (std::int64_t t = 0; t < d.n_test; ++t)
    right += predictions[static_cast<std::size_t>(t)] == d.y_test[static_cast<std::size_t>(t)];
  return static_cast<double>(right) / static_cast<double>(d.n_test);
}

TEST(SmtTest, RegistersWithDocumentedDefaults) {
  auto solver = instantiate<Solver>(parse_spec("smt"), "solver");
  EXPECT_EQ(solver->spec(), "smt(k=3,samples=20,verify=true)");
  EXPECT_THROW(instantiate<Solver>(parse_spec("smt(k=0)"), "solver"), ConfigError);
  EXPECT_THROW(instantiate<Solver>(parse_spec("smt(samples=0)"), "solver"), ConfigError);
}

TEST(SmtTest, SupportsOnlySignLabelledDatasetsWithEnoughBits) {
  struct Holder : Problem {
    BinaryDataset data;
    void generate(std::uint64_t) override {}
    const BinaryDataset* binary_dataset() const override { return &data; }
  } holder;
  struct NoData : Problem {
    void generate(std::uint64_t) override {}
  } no_data;
  SmtSolver solver(SmtConfig{});
  holder.data = make_parity(10, 3, 20, 5, 1).data;
  EXPECT_TRUE(solver.supports(holder));
  holder.data.label_kind = LabelKind::kInteger;
  EXPECT_FALSE(solver.supports(holder));
  holder.data.label_kind = LabelKind::kBit;
  EXPECT_FALSE(solver.supports(holder));
  holder.data = make_parity(2, 2, 20, 5, 1).data;
  EXPECT_FALSE(solver.supports(holder));  // n = 2 < k = 3
  EXPECT_FALSE(solver.supports(no_data));
}

TEST(SmtTest, RecoversTheSecretAcrossSeedsAndSizes) {
  struct Size {
    int n, k;
  };
  for (Size s : {Size{20, 3}, Size{50, 3}, Size{100, 3}, Size{20, 5}, Size{16, 1}, Size{12, 2},
                 Size{8, 8}}) {
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
      SCOPED_TRACE("n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
                   " seed=" + std::to_string(seed));
      const SecretDataset p = make_parity(s.n, s.k, 500, 100, seed);
      SmtConfig config;
      config.k = s.k;
      const SolveResult r = solve(p.data, config);
      ASSERT_EQ(r.status, SolveStatus::kSolved) << r.message;
      EXPECT_EQ(r.secret, p.secret);
      EXPECT_EQ(accuracy(p.data, r.test_predictions), 1.0);
      EXPECT_GE(r.measures.at("nodes"), static_cast<double>(s.k == 1 ? 1 : s.k));
      EXPECT_EQ(r.measures.at("samples_used"), 20.0);
    }
  }
}

TEST(SmtTest, AgreesWithBruteForceIncludingFalsePositives) {
  // Few rows make false positives common: the search must still return the lexicographically
  // first match, count the same nodes, and (with verify) reject the same candidates.
  int cases = 0, rejected_cases = 0;
  for (int n : {6, 9, 12}) {
    for (int k : {1, 2, 3, 4}) {
      for (std::int64_t samples : {3, 6, 10, 70}) {
        for (bool verify : {false, true}) {
          for (std::uint64_t seed = 1; seed <= 6; ++seed) {
            SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k) +
                         " samples=" + std::to_string(samples) +
                         " verify=" + std::to_string(verify) + " seed=" + std::to_string(seed));
            const SecretDataset p =
                make_parity(n, k, 80, 10, seed * 31 + static_cast<std::uint64_t>(n));
            const Reference ref = brute_force(p.data, k, samples, verify);
            SmtConfig config;
            config.k = k;
            config.samples = samples;
            config.verify = verify;
            const SolveResult r = solve(p.data, config);
            EXPECT_EQ(r.secret, ref.secret);
            EXPECT_EQ(r.status, ref.secret ? SolveStatus::kSolved : SolveStatus::kMaxIterations);
            EXPECT_EQ(r.measures.at("nodes"), static_cast<double>(ref.nodes));
            EXPECT_EQ(r.measures.at("rejected"), static_cast<double>(ref.rejected));
            ++cases;
            rejected_cases += ref.rejected > 0;
          }
        }
      }
    }
  }
  EXPECT_GT(rejected_cases, 10) << "the cases must exercise the verification";
  EXPECT_EQ(cases, 3 * 4 * 4 * 2 * 6);
}

TEST(SmtTest, RandomLabelsHaveNoAnswer) {
  SecretDataset p = make_parity(14, 3, 200, 20, 5);
  Rng rng(99);
  for (auto& y : p.data.y_train) y = (rng.next() & 1) ? -1 : 1;
  SmtConfig config;
  config.samples = 64;
  const SolveResult r = solve(p.data, config);
  EXPECT_EQ(r.status, SolveStatus::kMaxIterations);
  EXPECT_FALSE(r.secret.has_value());
  EXPECT_EQ(r.test_predictions, std::vector<std::int8_t>(20, 0));
  const Reference ref = brute_force(p.data, 3, 64, true);
  EXPECT_FALSE(ref.secret.has_value());
  // Every (k-1)-prefix with room scanned every column after it: C(14,3) compares in all.
  EXPECT_EQ(r.measures.at("column_compares"), 364.0);
}

TEST(SmtTest, MultiWordColumnsAndAllRows) {
  for (std::int64_t samples : {63, 64, 65, 130, 1000}) {
    const SecretDataset p = make_parity(40, 4, 300, 50, static_cast<std::uint64_t>(samples));
    SmtConfig config;
    config.k = 4;
    config.samples = samples;
    const SolveResult r = solve(p.data, config);
    EXPECT_EQ(r.secret, p.secret) << samples;
    EXPECT_EQ(r.measures.at("samples_used"),
              static_cast<double>(std::min<std::int64_t>(samples, 300)));
  }
}

TEST(SmtTest, TraceStaysInBoundsAndChangesNothing) {
  const SecretDataset p = make_parity(20, 3, 100, 30, 42);
  SmtConfig config;
  const SolveResult plain = solve(p.data, config);
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  const SolveResult traced = solve(p.data, config, &tracer);
  tracer.finish();
  EXPECT_EQ(traced.secret, plain.secret);
  EXPECT_EQ(traced.test_predictions, plain.test_predictions);
  EXPECT_EQ(traced.measures, plain.measures);
  const Trace& trace = collector.trace();
  std::int64_t op_ends = 0, x_reads = 0, cols_reads = 0;
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kOpEnd) {
      ++op_ends;
      continue;
    }
    ASSERT_LT(e.buffer, trace.buffers.size());
    EXPECT_GT(e.count, 0u);
    EXPECT_LE(std::uint64_t{e.offset} + e.count, trace.buffers[e.buffer].elements)
        << trace.buffers[e.buffer].name;
    const std::string& name = trace.buffers[e.buffer].name;
    x_reads += name == "x_train" && e.kind == EventKind::kRead;
    cols_reads += name == "cols" && e.kind == EventKind::kRead;
  }
  const double nodes = plain.measures.at("nodes");
  const double compares = plain.measures.at("column_compares");
  // Packing reads every used entry once; verification reads k entries per extra row (the
  // accepted candidate is the only one: no rejection at 20 rows here).
  ASSERT_EQ(plain.measures.at("rejected"), 0.0);
  EXPECT_EQ(x_reads, 20 * 20 + (100 - 20) * 3);
  // One cols read per prefix extension (nodes minus the one candidate) and per compare.
  EXPECT_EQ(cols_reads, static_cast<std::int64_t>(nodes - 1 + compares));
  // Ops: 20 columns + labels, extensions, compares, verified rows, secret, predictions.
  EXPECT_EQ(op_ends, static_cast<std::int64_t>(21 + (nodes - 1) + compares + 80 + 1 + 30));
}

}  // namespace
}  // namespace cube
