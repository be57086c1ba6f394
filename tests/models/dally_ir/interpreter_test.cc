// Tests of the Dally IR interpreter: every test vector of metrics.md §7.3 and dally-ir.md §4.5
// that needs no external file, the scorers' generators (naive/tiled matmul, sparse-parity and
// symmetry baselines, models/dally_ir/baselines.h), located errors, v3 wrap-around and floor
// division against exhaustive arithmetic, the trace, and random programs against a slow reference
// interpreter.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/combinatorics.h"
#include "models/dally_ir/baselines.h"
#include "models/dally_ir/interpreter.h"

namespace cube {
namespace {

// Exact wide integers for the reference arithmetic (__extension__: a GCC/Clang type).
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;
using Values = std::vector<std::int64_t>;
using Histogram = std::map<std::uint64_t, std::uint64_t>;
constexpr DallyVersion kV0 = DallyVersion::kV0;
constexpr DallyVersion kV3 = DallyVersion::kV3;

DallyProgram parse(const std::string& ir, DallyVersion version) {
  return parse_dally_program(ir, "test.ir", version);
}

// Slow obvious csqrt: the smallest d with d*d >= addr.
std::uint64_t slow_distance(std::uint64_t addr) {
  std::uint64_t d = 0;
  while (static_cast<UInt128>(d) * d < addr) ++d;
  return d;
}

// Runs traced; checks that the trace prices to the static cost, has one op_end per instruction
// and per output, and that tracing does not change the outputs. Returns the traced run.
DallyRun run_checked(const DallyProgram& program, const Values& inputs) {
  const DallyRun plain = run_dally(program, inputs);
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  const DallyRun traced = run_dally(program, inputs, tracer);
  tracer.finish();
  EXPECT_EQ(plain.outputs, traced.outputs);
  EXPECT_EQ(plain.cost, traced.cost);
  const Trace& trace = collector.trace();
  std::uint64_t priced = 0, reads = 0, op_ends = 0;
  Histogram histogram;
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kOpEnd) ++op_ends;
    if (e.kind == EventKind::kRead || e.kind == EventKind::kWrite) {
      EXPECT_EQ(trace.buffers[e.buffer].name, "mem");
      EXPECT_EQ(e.count, 1u);
      EXPECT_LT(e.offset, program.max_address());
    }
    if (e.kind != EventKind::kRead) continue;
    const std::uint64_t d = dally_distance(std::uint64_t{e.offset} + 1);
    priced += d;
    ++reads;
    ++histogram[d];
  }
  EXPECT_EQ(priced, program.cost());
  EXPECT_EQ(reads, program.reads());
  EXPECT_EQ(histogram, program.distance_histogram());
  EXPECT_EQ(op_ends, program.instructions().size() + program.output_addresses().size());
  return traced;
}

// ---------------------------------------------------------------------------------------------
// Cost function.

TEST(DallyDistance, MatchesSpecExamplesAndSlowReference) {
  const std::pair<std::uint64_t, std::uint64_t> examples[] = {
      {1, 1}, {2, 2}, {4, 2}, {5, 3}, {9, 3}, {10, 4}, {16, 4}, {17, 5}, {1'000'000, 1000}};
  for (auto [addr, d] : examples) EXPECT_EQ(dally_distance(addr), d) << addr;
  for (std::uint64_t a = 1; a <= 100'000; ++a) ASSERT_EQ(dally_distance(a), slow_distance(a)) << a;
  // Around large squares, where a double square root alone would round wrongly.
  for (std::uint64_t k :
       {std::uint64_t{94'906'265}, std::uint64_t{3'037'000'499}, std::uint64_t{4'294'967'295}}) {
    const std::uint64_t sq = k * k;
    EXPECT_EQ(dally_distance(sq), k);
    EXPECT_EQ(dally_distance(sq + 1), k + 1);
    EXPECT_EQ(dally_distance(sq - 1), k);
  }
  EXPECT_EQ(dally_distance(~std::uint64_t{0}), std::uint64_t{1} << 32);
}

// ---------------------------------------------------------------------------------------------
// Test vectors.

struct Vector {
  const char* id;
  DallyVersion version;
  const char* ir;
  Values inputs;
  Values outputs;
  std::uint64_t cost;
};

// metrics.md §7.3, D1..D15.
const Vector kMetricsVectors[] = {
    {"D1", kV0, "1,2,3,4,5;mul 1,1,2;mul 2,3,4;add 1,1,2;add 1,5;1", {2, 3, 4, 5, 6}, {32}, 15},
    {"D2", kV0, "1,2;mul 3,1,2;3", {1, 3}, {3}, 5},
    {"D3", kV0, "10,20;copy 1,10;copy 2,20;mul 3,1,2;3", {6, 7}, {42}, 14},
    {"D4", kV0, "4,9;sub 4,9;mul 1,4,4;1,4", {10, 3}, {49, 7}, 12},
    {"D5", kV0, "1,2;add 100,1,2;mul 2,1,2;100,2,1", {3, 4}, {7, 12, 3}, 19},
    {"D6", kV0, "1,2,3,4;mul 5,1,3;mul 6,2,4;add 5,6;5", {1, 2, 3, 4}, {11}, 16},
    {"D7", kV3, "1,2;xor 3,1,2;not 4,3;and 5,3,4;or 4,5,1;4", {12, 10}, {12}, 15},
    {"D8", kV3, "5;set 1,7;mul 2,1,5;2", {3}, {21}, 6},
    {"D9",
     kV3,
     "1,2;sub 3,1,2;abs 3,3;cmp 4,1,2,gt;select 5,4,1,2;div 6,3,5;5,6",
     {-7, 2},
     {2, 4},
     24},
    {"D10", kV3, "1,2,3;select 4,1,2,3;4", {0, 9, 5}, {5}, 7},
    {"D11", kV3, "1,2;mul 3,1,2;add 4,1,2;3,4", {16, 16}, {0, 32}, 10},
    {"D12", kV3, "1,2;add 3,1,2;sub 4,2,1;3,4", {100, 100}, {-56, 0}, 10},
    {"D13", kV3, "1,2;div 3,1,2;3", {-7, 2}, {-4}, 5},
    {"D14", kV3, "1;set 2,255;add 3,1,2;2,3", {5}, {-1, 4}, 7},
    {"D15", kV3, "1,2;xor 1,2;1", {5, 3}, {6}, 4},
};

// dally-ir.md §4.5, the rows with a result (the error rows are in DallyErrors below).
const Vector kIrVectors[] = {
    {"mm1x1", kV0, "1,2;mul 3,1,2;3", {1, 3}, {3}, 5},
    {"readme",
     kV0,
     "1,2,3,4,5;mul 1,1,2;mul 2,3,4;add 1,1,2;add 1,5;1",
     {10, 20, 30, 40, 50},
     {1450},
     15},
    {"add-not-mul", kV0, "1,2;add 3,1,2;3", {1, 3}, {4}, 5},  // score_1x1 rejects it: 4 != 3
    {"xor", kV3, "1,2;xor 3,1,2;3", {1, 0}, {1}, 5},
    {"set-free", kV3, "1;set 2,1;set 3,0;2,3", {42}, {1, 0}, 4},
    {"short-form", kV3, "1,2;add 1,2;1", {5, 6}, {11}, 4},
    {"repeat-operand", kV3, "1,2;mul 3,2,2;3", {0, 3}, {9}, 6},
    {"dup-outputs", kV3, "1,2;2,2,2", {0, 3}, {3, 3, 3}, 6},
    {"outputs-are-inputs", kV3, "1,2;1,2", {4, 5}, {4, 5}, 3},
    {"add-wraps", kV3, "1,2;add 3,1,2;3", {127, 1}, {-128}, 5},
    {"mul-wraps", kV3, "1,2;mul 3,1,2;3", {16, 16}, {0}, 5},
    {"not", kV3, "1;not 2,1;2", {1}, {-2}, 3},
    {"floor-div", kV3, "1,2;div 3,1,2;3", {-7, 2}, {-4}, 5},
    {"abs-wraps", kV3, "1;abs 2,1;2", {-128}, {-128}, 3},
    {"set-200", kV3, "1;set 2,200;2", {0}, {-56}, 2},
    {"cmp-lt", kV3, "1,2;cmp 3,1,2,lt;3", {-1, 2}, {1}, 5},
    {"select-false", kV3, "1,2,3;select 4,1,2,3;4", {0, 7, 9}, {9}, 7},
    {"select-true", kV3, "1,2,3;select 4,1,2,3;4", {-1, 7, 9}, {7}, 7},
    {"trailing-comma-v3", kV3, "1,2,;xor 3,1,2;3", {1, 0}, {1}, 5},
};

void check_vector(const Vector& v) {
  SCOPED_TRACE(v.id);
  const DallyProgram program = parse(v.ir, v.version);
  EXPECT_EQ(program.cost(), v.cost);
  const DallyRun run = run_checked(program, v.inputs);
  EXPECT_EQ(run.outputs, v.outputs);
  EXPECT_EQ(run.cost, v.cost);
}

TEST(DallyVectors, MetricsSection7_3) {
  for (const Vector& v : kMetricsVectors) check_vector(v);
}

TEST(DallyVectors, DallyIrSection4_5) {
  for (const Vector& v : kIrVectors) check_vector(v);
}

TEST(DallyVectors, NewlinesAndSemicolonsAndWhitespaceAreEquivalent) {
  const DallyProgram a = parse("1,2,3,4,5\nmul 1,1,2\nmul 2,3,4\nadd 1,1,2\nadd 1,5\n1\n", kV0);
  const DallyProgram b =
      parse("  1, 2 ,3,4,5 ;\r\n\n mul 1, 1, 2;mul 2 ,3,4\t\n;; add 1,1,2 ;add 1 , 5;  1  ", kV0);
  const Values in = {2, 3, 4, 5, 6};
  EXPECT_EQ(run_dally(a, in).outputs, Values{32});
  EXPECT_EQ(run_dally(b, in).outputs, Values{32});
  EXPECT_EQ(a.cost(), 15u);
  EXPECT_EQ(b.cost(), 15u);
  // Python int() accepts a sign and digit-separating underscores.
  EXPECT_EQ(parse("+1,1_0;mul 3,+1,1_0;3", kV0).cost(), 1u + 4u + 2u);
}

TEST(DallyVectors, ShortFormReadsTheDestination) {
  const DallyProgram p = parse("4,9;sub 4,9;mul 1,4,4;1,4", kV0);
  ASSERT_EQ(p.instructions().size(), 2u);
  const DallyInstruction& sub = p.instructions()[0];
  EXPECT_EQ(sub.op, DallyOp::kSub);
  EXPECT_EQ(sub.dest, 4u);
  ASSERT_EQ(sub.n_sources, 2);
  EXPECT_EQ(sub.sources[0], 4u);
  EXPECT_EQ(sub.sources[1], 9u);
  EXPECT_EQ(p.instructions()[1].sources[0], 4u);
  EXPECT_EQ(p.instructions()[1].sources[1], 4u);
  EXPECT_EQ(p.reads(), 6u);
  EXPECT_EQ(p.max_address(), 9u);
}

// ---------------------------------------------------------------------------------------------
// The scorers' generators (models/dally_ir/baselines.h) against metrics.md §7.3 D16..D22 and
// dally-ir.md §3.2, §2.5, §4.5.

// The scorer's fixed instance: A[i][j] = i*n+j+1, B[i][j] = i+2j+3, inputs A then B row-major.
struct MatmulCase {
  Values inputs;
  Values expected;
};
MatmulCase matmul_case(int n) {
  MatmulCase c;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) c.inputs.push_back(i * n + j + 1);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) c.inputs.push_back(i + 2 * j + 3);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      std::int64_t sum = 0;
      for (int k = 0; k < n; ++k) sum += (i * n + k + 1) * (k + 2 * j + 3);
      c.expected.push_back(sum);
    }
  }
  return c;
}

TEST(DallyGenerators, NaiveMatmulD16) {
  const std::pair<int, std::uint64_t> costs[] = {
      {1, 5}, {2, 84}, {3, 429}, {4, 1316}, {16, 340'704}};
  for (auto [n, cost] : costs) {
    SCOPED_TRACE(n);
    const DallyProgram p = parse(naive_matmul(n), kV0);
    EXPECT_EQ(p.cost(), cost);
    EXPECT_EQ(p.reads(), static_cast<std::uint64_t>(4 * n * n * n - n * n));
    const MatmulCase c = matmul_case(n);
    EXPECT_EQ(run_checked(p, c.inputs).outputs, c.expected);
  }
  // dally-ir.md §4.5: baseline_4x4's access-distance histogram.
  const Histogram expected = {{1, 4}, {2, 12}, {3, 20}, {4, 28}, {5, 36}, {6, 44}, {7, 96}};
  EXPECT_EQ(parse(naive_matmul(4), kV0).distance_histogram(), expected);
  EXPECT_EQ(parse(naive_matmul(4), kV0).instructions().size(), 112u);
}

TEST(DallyGenerators, TiledMatmulD17) {
  const DallyProgram p = parse(tiled_matmul_16(), kV0);
  EXPECT_EQ(p.cost(), 133'783u);
  EXPECT_EQ(p.instructions().size(), 10'496u);
  const MatmulCase c = matmul_case(16);
  EXPECT_EQ(run_checked(p, c.inputs).outputs, c.expected);
}

TEST(DallyGenerators, OuterProduct4x4D18) {
  const DallyProgram p = parse(outer_product_4x4(), kV0);
  EXPECT_EQ(p.cost(), 800u);
  EXPECT_EQ(p.reads(), 272u);
  EXPECT_EQ(p.instructions().size(), 144u);
  const Histogram expected = {{1, 64}, {2, 80}, {3, 44}, {4, 28},
                              {5, 27}, {6, 11}, {7, 13}, {8, 5}};
  EXPECT_EQ(p.distance_histogram(), expected);
  const MatmulCase c = matmul_case(4);
  EXPECT_EQ(run_checked(p, c.inputs).outputs, c.expected);
}

TEST(DallyGenerators, SymmetryD20D21) {
  // D20 in its wire form, then the generator's form for six and eight bits.
  EXPECT_EQ(
      parse("1,2,3,4,5,6;cmp 1,1,6,eq;cmp 2,2,5,eq;cmp 3,3,4,eq;and 1,2;and 1,3;1", kV3).cost(),
      20u);
  for (auto [n, cost] : {std::pair{6, 20u}, std::pair{8, 29u}}) {
    SCOPED_TRACE(n);
    const DallyProgram p = parse(symmetry_baseline(n), kV3);
    EXPECT_EQ(p.cost(), cost);
    for (int code = 0; code < (1 << n); ++code) {
      Values bits;
      for (int i = 0; i < n; ++i) bits.push_back((code >> i) & 1);
      bool palindrome = true;
      for (int i = 0; i < n / 2; ++i) palindrome &= bits[i] == bits[n - 1 - i];
      ASSERT_EQ(run_dally(p, bits).outputs, Values{palindrome ? 1 : 0}) << code;
    }
    run_checked(p, Values(n, 1));
  }
}

constexpr ParitySpec kSmall = kParitySmall;
constexpr ParitySpec kMedium = kParityMedium;

// An identifiable instance (exactly one k-subset explains the training labels), as the
// scorer's generate() draws them but from our own RNG. Returns inputs and expected labels.
std::pair<Values, Values> parity_instance(const ParitySpec& s, std::mt19937_64& rng) {
  const auto cands = k_subsets(s.n, s.k);
  const auto& secret = cands[rng() % cands.size()];
  auto label = [&](const Values& x, int row, const std::vector<int>& subset) {
    std::int64_t p = 0;
    for (int c : subset) p ^= x[row * s.n + c];
    return p;
  };
  Values x_train, y_train;
  while (true) {
    x_train.clear();
    y_train.clear();
    for (int i = 0; i < s.m_train * s.n; ++i) x_train.push_back(static_cast<int>(rng() & 1));
    for (int i = 0; i < s.m_train; ++i) y_train.push_back(label(x_train, i, secret));
    int matches = 0;
    for (const auto& c : cands) {
      bool ok = true;
      for (int i = 0; i < s.m_train; ++i) ok &= label(x_train, i, c) == y_train[i];
      matches += ok;
    }
    if (matches == 1) break;
  }
  Values x_test, y_test;
  for (int i = 0; i < s.m_test * s.n; ++i) x_test.push_back(static_cast<int>(rng() & 1));
  for (int j = 0; j < s.m_test; ++j) y_test.push_back(label(x_test, j, secret));
  Values inputs = x_train;
  inputs.insert(inputs.end(), y_train.begin(), y_train.end());
  inputs.insert(inputs.end(), x_test.begin(), x_test.end());
  return {inputs, y_test};
}

TEST(DallyGenerators, SparseParityBaselinesD22) {
  const DallyProgram small = parse(sparse_parity_baseline(kSmall), kV3);
  EXPECT_EQ(small.cost(), 6'918u);
  EXPECT_EQ(small.instructions().size(), 302u);
  EXPECT_EQ(small.reads(), 634u);
  EXPECT_EQ(small.input_addresses().size(), 112u);
  const Histogram small_histogram = {{1, 2},   {2, 6},   {3, 10},  {4, 14}, {5, 18},
                                     {6, 22},  {7, 30},  {8, 30},  {9, 34}, {10, 38},
                                     {11, 42}, {12, 46}, {13, 342}};
  EXPECT_EQ(small.distance_histogram(), small_histogram);

  const DallyProgram medium = parse(sparse_parity_baseline(kMedium), kV3);
  EXPECT_EQ(medium.cost(), 816'251u);
  EXPECT_EQ(medium.instructions().size(), 16'457u);
  EXPECT_EQ(medium.reads(), 32'976u);
  EXPECT_EQ(medium.input_addresses().size(), 584u);
  EXPECT_EQ(medium.max_address(), 1212u);

  std::mt19937_64 rng(20260521);
  for (int t = 0; t < 64; ++t) {
    auto [inputs, expected] = parity_instance(kSmall, rng);
    ASSERT_EQ(run_dally(small, inputs).outputs, expected) << t;
  }
  for (int t = 0; t < 8; ++t) {
    auto [inputs, expected] = parity_instance(kMedium, rng);
    ASSERT_EQ(run_dally(medium, inputs).outputs, expected) << t;
  }
  auto [inputs, expected] = parity_instance(kMedium, rng);
  EXPECT_EQ(run_checked(medium, inputs).outputs, expected);
}

// ---------------------------------------------------------------------------------------------
// Errors, with locations.

// Parses and expects a ConfigError at (line, column) whose message contains `needle`.
void expect_parse_error(const std::string& ir, DallyVersion version, int line, int column,
                        const std::string& needle) {
  SCOPED_TRACE(ir);
  try {
    parse(ir, version);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().file, "test.ir");
    EXPECT_EQ(e.where().line, line) << e.what();
    EXPECT_EQ(e.where().column, column) << e.what();
    EXPECT_NE(e.message().find(needle), std::string::npos) << e.what();
  }
}

void expect_run_error(const DallyProgram& p, const Values& inputs, int line,
                      const std::string& needle) {
  try {
    run_dally(p, inputs);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().line, line) << e.what();
    EXPECT_NE(e.message().find(needle), std::string::npos) << e.what();
  }
}

TEST(DallyErrors, SpecRowsOfSection4_5) {
  expect_parse_error("1;set 2,256;2", kV3, 1, 3, "literal out of bounds");
  expect_parse_error("1;set 2,-129;2", kV3, 1, 3, "literal out of bounds");
  EXPECT_EQ(run_dally(parse("1;set 2,-128;2", kV3), Values{0}).outputs, Values{-128});
  expect_parse_error("1,2;xor 3,1,9;3", kV3, 1, 5, "uninitialized read: 9");
  expect_parse_error("1,2,;mul 3,1,2;3", kV0, 1, 1, "malformed input line");
  expect_parse_error("1,2;mul 3,1,2;3,", kV0, 1, 15, "malformed output line");
}

TEST(DallyErrors, UninitializedReadsAreLocated) {
  expect_parse_error("1,2\nadd 3,1,2\nmul 4,3,5\n4\n", kV0, 3, 1, "uninitialized addr 5");
  expect_parse_error("1,2\nadd 3,1,2\nmul 4,3,5\n4\n", kV3, 3, 1, "uninitialized read: 5");
  // The short form reads its destination.
  expect_parse_error("1,2\nadd 3,1\n3\n", kV0, 2, 1, "uninitialized addr 3");
  expect_parse_error("1,2\nadd 3,1\n3\n", kV3, 2, 1, "uninitialized read: 3");
  // Several statements on one line: the column tells them apart.
  expect_parse_error("1,2\nadd 3,1,2;  sub 4,9,1;4\n", kV3, 2, 13, "uninitialized read: 9");
  // select reads all three operands.
  expect_parse_error("1,2\nselect 3,1,2,7\n3\n", kV3, 2, 1, "uninitialized read: 7");
  // Address 0 is never initialised.
  expect_parse_error("1\ncopy 2,0\n2\n", kV3, 2, 1, "uninitialized read: 0");
}

TEST(DallyErrors, BadOutputs) {
  expect_parse_error("1,2\nadd 3,1,2\n3,4\n", kV0, 3, 1, "output addr 4 never written");
  expect_parse_error("1,2\nadd 3,1,2\n3,4\n", kV3, 3, 1, "output addr 4 never written");
  expect_parse_error("1,2\n3,0\n", kV3, 2, 1, "positive");
  expect_parse_error("1,2\n3,x\n", kV0, 2, 1, "malformed output line");
}

TEST(DallyErrors, UnknownOpsAndNoComments) {
  expect_parse_error("1,2\nset 3,1\n3\n", kV0, 2, 1, "unknown op: 'set'");
  expect_parse_error("1,2\nxor 3,1,2\n3\n", kV0, 2, 1, "unknown op: 'xor'");
  expect_parse_error("1,2\nmov 3,1\n3\n", kV0, 2, 1, "unknown op: 'mov'");
  expect_parse_error("1,2\nmov 3,1\n3\n", kV3, 2, 1, "unknown op: 'mov'");
  expect_parse_error("1,2\n# a comment\nadd 3,1,2\n3\n", kV3, 2, 1, "unknown op: '#'");
  expect_parse_error("1,2\n#comment\nadd 3,1,2\n3\n", kV3, 2, 1, "unknown op: '#comment'");
  expect_parse_error("1,2\n#comment\nadd 3,1,2\n3\n", kV0, 2, 1, "malformed instruction");
}

TEST(DallyErrors, MalformedLines) {
  expect_parse_error("", kV3, 0, 0, "at least an input line and an output line");
  expect_parse_error("1,2", kV0, 1, 0, "at least an input line and an output line");
  expect_parse_error("1,2\nadd\n1\n", kV0, 2, 1, "malformed instruction");
  expect_parse_error("1,2\nadd\n1\n", kV3, 2, 1, "needs 2 or 3 operands");
  expect_parse_error("1,2\nadd 3,x,1\n3\n", kV0, 2, 1, "malformed integer 'x'");
  expect_parse_error("1,2\nadd 3,x,1\n3\n", kV3, 2, 1, "invalid integer 'x'");
  expect_parse_error("1,2\ncopy 3,1,2\n3\n", kV0, 2, 1, "copy needs 2 operands");
  expect_parse_error("1,2\ncopy 3,1,2\n3\n", kV3, 2, 1, "needs 2 operands");
  expect_parse_error("1,2\nadd 3,1,2,1\n3\n", kV0, 2, 1, "needs 2 or 3 operands");
  expect_parse_error("1,2\ncmp 3,1,2,foo\n3\n", kV3, 2, 1, "invalid predicate 'foo'");
  expect_parse_error("1,2\ncmp 3,1,2\n3\n", kV3, 2, 1, "needs 4 operands");
  expect_parse_error("1,2\nselect 3,1,2\n3\n", kV3, 2, 1, "needs 4 operands");
  expect_parse_error("1,2\nadd 0,1,2\n1\n", kV0, 2, 1, "positive");
  expect_parse_error("1,2\nadd 0,1,2\n1\n", kV3, 2, 1, "invalid dest address 0");
  expect_parse_error("1,1\nadd 3,1,2\n3\n", kV0, 1, 1, "distinct");
  expect_parse_error("1,1\nadd 3,1,2\n3\n", kV3, 1, 1, "distinct");
  expect_parse_error("0,1\n1\n", kV3, 1, 1, "positive");
  expect_parse_error("1,2\nadd 3,1__0,2\n3\n", kV3, 2, 1, "invalid integer");
  // v0 tokenises every line before checking any instruction (matmul._parse, then _simulate):
  // the bad integer on line 3 wins over the uninitialised read on line 2. v3 goes line by line.
  expect_parse_error("1\nadd 2,1,5\nadd 3,1,x\n3\n", kV0, 3, 1, "malformed integer");
  expect_parse_error("1\nadd 2,1,5\nadd 3,1,x\n3\n", kV3, 2, 1, "uninitialized read: 5");
  // v3 skips empty operand fields (the scorer filters blank fields), v0 does not.
  EXPECT_EQ(parse("1,2\nadd 3,,1,2\n3\n", kV3).cost(), 5u);
  expect_parse_error("1,2\nadd 3,,1,2\n3\n", kV0, 2, 1, "malformed integer ''");
}

TEST(DallyErrors, AddressLimits) {
  const std::string max = "18446744073709551615";  // 2^64 - 1
  const std::string too_big = "18446744073709551616";
  const DallyProgram p = parse("1\ncopy " + max + ",1\n" + max + "\n", kV3);
  EXPECT_EQ(p.cost(), 1u + (std::uint64_t{1} << 32));
  EXPECT_EQ(p.max_address(), ~std::uint64_t{0});
  EXPECT_EQ(run_dally(p, Values{7}).outputs, Values{7});
  // Trace offsets are 32-bit: tracing such a program is refused, not silently truncated.
  RecordingTracer tracer;
  EXPECT_THROW(run_dally(p, Values{7}, tracer), ConfigError);
  expect_parse_error("1\ncopy " + too_big + ",1\n1\n", kV3, 2, 1, "invalid dest address");
  expect_parse_error(too_big + "\n1\n", kV3, 1, 1, "below 2^64");
  expect_parse_error(too_big + "\n1\n", kV0, 1, 1, "not supported");
}

TEST(DallyErrors, V3LineCap) {
  auto program = [](std::size_t lines, const char* op) {
    std::string s = "1\n";
    for (std::size_t i = 0; i + 2 < lines; ++i) s += std::string(op) + " 1,1\n";
    return s + "1\n";
  };
  // 99,998 complements of the input cell: an even number, so the input comes back.
  const DallyProgram ok = parse(program(kDallyV3MaxLines, "not"), kV3);
  EXPECT_EQ(ok.instructions().size(), kDallyV3MaxLines - 2);
  EXPECT_EQ(run_dally(ok, Values{5}).outputs, Values{5});
  expect_parse_error(program(kDallyV3MaxLines + 1, "not"), kV3, 100'001, 1, "100,000");
  // Blank lines do not count; v0 has no cap.
  EXPECT_NO_THROW(parse("\n\n" + program(kDallyV3MaxLines, "not"), kV3));
  EXPECT_EQ(parse(program(kDallyV3MaxLines + 1, "add"), kV0).instructions().size(),
            kDallyV3MaxLines - 1);
}

TEST(DallyErrors, RuntimeFaultsAreLocated) {
  const DallyProgram div = parse("1,2\ncopy 3,1\ndiv 4,3,2\n4\n", kV3);
  EXPECT_EQ(run_dally(div, Values{9, 2}).outputs, Values{4});
  expect_run_error(div, Values{9, 0}, 3, "division by zero");
  const DallyProgram mul = parse("1,2\nadd 3,1,2\nmul 4,3,3\n4\n", kV0);
  EXPECT_EQ(run_dally(mul, Values{1 << 20, 0}).outputs, Values{std::int64_t{1} << 40});
  expect_run_error(mul, Values{std::int64_t{1} << 32, 0}, 3, "overflows int64");
  expect_run_error(mul, Values{1}, 1, "IR declares 2 inputs; 1 provided");
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  expect_run_error(parse("1,2\nadd 3,1,2\n3\n", kV0), Values{max, 1}, 2, "overflows");
  expect_run_error(parse("1,2\nsub 3,1,2\n3\n", kV0), Values{-max, 2}, 2, "overflows");
}

// ---------------------------------------------------------------------------------------------
// v3 arithmetic: every pair of 8-bit operands against Python's semantics written out directly.

std::int64_t py_wrap(Int128 v) {
  Int128 r = v % 256;
  if (r < 0) r += 256;
  return static_cast<std::int64_t>(r >= 128 ? r - 256 : r);
}

TEST(DallyV3, ExhaustiveEightBitArithmetic) {
  const char* ops[] = {"add", "sub", "mul", "div", "and", "or", "xor"};
  std::vector<DallyProgram> programs;
  for (const char* op : ops) programs.push_back(parse(std::string("1,2;") + op + " 3,1,2;3", kV3));
  const DallyProgram unary = parse("1;not 2,1;abs 3,1;copy 4,1;2,3,4", kV3);
  for (int a = -128; a <= 127; ++a) {
    const Values u = run_dally(unary, Values{a}).outputs;
    ASSERT_EQ(u, (Values{py_wrap(-a - 1), py_wrap(a < 0 ? -a : a), a})) << a;
    for (int b = -128; b <= 127; ++b) {
      const std::int64_t expected[] = {
          py_wrap(a + b),
          py_wrap(a - b),
          py_wrap(a * b),
          b == 0 ? 0 : py_wrap(static_cast<std::int64_t>(std::floor(double(a) / double(b)))),
          py_wrap(a & b),
          py_wrap(a | b),
          py_wrap(a ^ b)};
      for (std::size_t k = 0; k < programs.size(); ++k) {
        if (k == 3 && b == 0) continue;
        ASSERT_EQ(run_dally(programs[k], Values{a, b}).outputs, Values{expected[k]})
            << ops[k] << " " << a << " " << b;
      }
    }
  }
}

TEST(DallyV3, FloorDivisionOnNegatives) {
  const DallyProgram p = parse("1,2;div 3,1,2;3", kV3);
  const std::tuple<int, int, int> cases[] = {{-7, 2, -4},     {7, -2, -4}, {-7, -2, 3}, {7, 2, 3},
                                             {-8, 2, -4},     {-1, 3, -1}, {1, -3, -1}, {0, -5, 0},
                                             {-128, -1, -128}};  // 128 wraps to -128
  for (auto [a, b, q] : cases) {
    EXPECT_EQ(run_dally(p, Values{a, b}).outputs, Values{q}) << a << " div " << b;
  }
}

TEST(DallyV3, InputsAreStoredUnwrappedAsTheScorerDoes) {
  // The scorer places inputs as given; only op results are wrapped. select copies unwrapped.
  EXPECT_EQ(run_dally(parse("1;1", kV3), Values{300}).outputs, Values{300});
  EXPECT_EQ(run_dally(parse("1;copy 2,1;2", kV3), Values{300}).outputs, Values{44});
  EXPECT_EQ(run_dally(parse("1,2;select 3,1,2,1;3", kV3), Values{1, 1000}).outputs, Values{1000});
  EXPECT_EQ(run_dally(parse("1,2;cmp 3,1,2,gt;3", kV3), Values{300, 100}).outputs, Values{1});
  const std::int64_t min = std::numeric_limits<std::int64_t>::min();
  // INT64_MIN // -1 = 2^63 and abs(INT64_MIN) = 2^63, both 0 mod 256.
  EXPECT_EQ(run_dally(parse("1,2;div 3,1,2;3", kV3), Values{min, -1}).outputs, Values{0});
  EXPECT_EQ(run_dally(parse("1;abs 2,1;2", kV3), Values{min}).outputs, Values{0});
  EXPECT_EQ(run_dally(parse("1,2;div 3,1,2;3", kV3), Values{-1001, 10}).outputs,
            Values{py_wrap(-101)});
}

// ---------------------------------------------------------------------------------------------
// The trace.

TEST(DallyTrace, EventsOfOneProgram) {
  const DallyProgram p = parse("4,9;sub 4,9;set 2,1;mul 1,4,4;1,4", kV3);
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  const DallyRun run = run_dally(p, Values{10, 3}, tracer);
  tracer.finish();
  EXPECT_EQ(run.outputs, (Values{49, 7}));
  const Trace& t = collector.trace();
  ASSERT_EQ(t.buffers.size(), 1u);
  EXPECT_EQ(t.buffers[0].name, "mem");
  EXPECT_EQ(t.buffers[0].element_bytes, 1u);
  EXPECT_EQ(t.buffers[0].elements, 9u);
  // Element i of "mem" is cell i + 1.
  const auto R = [](std::uint32_t a) { return TraceEvent{0, a - 1, 1, EventKind::kRead}; };
  const auto W = [](std::uint32_t a) { return TraceEvent{0, a - 1, 1, EventKind::kWrite}; };
  const TraceEvent E{0, 0, 0, EventKind::kOpEnd};
  const std::vector<TraceEvent> expected = {R(4), R(9), W(4), E,   // sub 4,9
                                            W(2), E,               // set 2,1
                                            R(4), R(4), W(1), E,   // mul 1,4,4
                                            R(1), E,    R(4), E};  // exit reads
  EXPECT_EQ(t.events, expected);
  EXPECT_EQ(parse("1;1", kV0).max_address(), 1u);
}

TEST(DallyTrace, V0BufferHoldsEightByteValues) {
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  run_dally(parse("1,2;mul 3,1,2;3", kV0), Values{1, 3}, tracer);
  tracer.finish();
  EXPECT_EQ(collector.trace().buffers[0].element_bytes, 8u);
  EXPECT_EQ(collector.trace().buffers[0].elements, 3u);
}

// ---------------------------------------------------------------------------------------------
// Random programs against a slow reference interpreter (map memory, Python semantics in
// Int128, csqrt by counting).

struct RefOp {
  std::string op;
  std::uint64_t dest = 0;
  std::vector<std::uint64_t> src;  // read order
  std::int64_t literal = 0;
  std::string pred;
};

struct RefProgram {
  std::vector<std::uint64_t> inputs, outputs;
  std::vector<RefOp> ops;
};

// Outputs and cost, or nullopt for a fault (division by zero, v0 value outside int64).
std::optional<std::pair<Values, std::uint64_t>> reference_run(const RefProgram& p,
                                                              const Values& inputs, bool v3) {
  std::map<std::uint64_t, Int128> mem;
  std::uint64_t cost = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) mem[p.inputs[i]] = inputs[i];
  const Int128 lo = std::numeric_limits<std::int64_t>::min();
  const Int128 hi = std::numeric_limits<std::int64_t>::max();
  for (const RefOp& op : p.ops) {
    std::vector<Int128> v;
    for (std::uint64_t a : op.src) {
      v.push_back(mem.at(a));
      cost += slow_distance(a);
    }
    Int128 r = 0;
    bool wrap = true;
    if (op.op == "add") r = v[0] + v[1];
    if (op.op == "sub") r = v[0] - v[1];
    if (op.op == "mul") r = v[0] * v[1];
    if (op.op == "and") r = v[0] & v[1];
    if (op.op == "or") r = v[0] | v[1];
    if (op.op == "xor") r = v[0] ^ v[1];
    if (op.op == "copy") r = v[0];
    if (op.op == "not") r = -v[0] - 1;
    if (op.op == "abs") r = v[0] < 0 ? -v[0] : v[0];
    if (op.op == "div") {
      if (v[1] == 0) return std::nullopt;
      r = v[0] / v[1];
      if (r * v[1] != v[0] && ((v[0] < 0) != (v[1] < 0))) --r;
    }
    if (op.op == "set") r = op.literal, wrap = false;
    if (op.op == "select") r = v[0] != 0 ? v[1] : v[2], wrap = false;
    if (op.op == "cmp") {
      wrap = false;
      const std::string& q = op.pred;
      r = q == "eq"   ? v[0] == v[1]
          : q == "ne" ? v[0] != v[1]
          : q == "lt" ? v[0] < v[1]
          : q == "le" ? v[0] <= v[1]
          : q == "gt" ? v[0] > v[1]
                      : v[0] >= v[1];
    }
    if (v3 && wrap) r = py_wrap(r);
    if (!v3 && (r < lo || r > hi)) return std::nullopt;
    mem[op.dest] = r;
  }
  Values out;
  for (std::uint64_t o : p.outputs) {
    out.push_back(static_cast<std::int64_t>(mem.at(o)));
    cost += slow_distance(o);
  }
  return std::make_pair(out, cost);
}

// A random valid program and its text, with varied spacing, separators and short forms.
std::pair<RefProgram, std::string> random_program(std::mt19937_64& rng, bool v3) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::uint64_t space = 2 + pick(60);
  std::vector<std::uint64_t> defined;
  RefProgram p;
  const std::size_t n_inputs = 1 + pick(std::min<std::size_t>(6, space));
  while (p.inputs.size() < n_inputs) {
    const std::uint64_t a = 1 + pick(space);
    if (std::find(p.inputs.begin(), p.inputs.end(), a) == p.inputs.end()) p.inputs.push_back(a);
  }
  defined = p.inputs;
  const std::vector<std::string> v0_ops = {"add", "sub", "mul", "copy"};
  const std::vector<std::string> v3_ops = {"add", "sub", "mul", "copy", "and", "or",    "xor",
                                           "not", "set", "div", "abs",  "cmp", "select"};
  const auto& ops = v3 ? v3_ops : v0_ops;
  const char* preds[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  const char* separators[] = {"\n", ";", " ; ", "\r\n", "\n\n"};
  std::ostringstream text;
  text << join_addresses(p.inputs);
  const std::size_t n_ops = pick(25);
  for (std::size_t i = 0; i < n_ops; ++i) {
    RefOp op;
    op.op = ops[pick(ops.size())];
    op.dest = 1 + pick(space);
    auto src = [&] { return defined[pick(defined.size())]; };
    const std::string sep = pick(3) == 0 ? ", " : ",";
    std::ostringstream line;
    const bool binary = op.op == "add" || op.op == "sub" || op.op == "mul" || op.op == "and" ||
                        op.op == "or" || op.op == "xor" || op.op == "div";
    const bool dest_defined = std::find(defined.begin(), defined.end(), op.dest) != defined.end();
    if (op.op == "set") {
      const std::int64_t k = static_cast<std::int64_t>(pick(384)) - 128;
      op.literal = py_wrap(k);
      line << "set " << op.dest << sep << k;
    } else if (binary && dest_defined && pick(2) == 0) {  // short form
      op.src = {op.dest, src()};
      line << op.op << " " << op.dest << sep << op.src[1];
    } else {
      const std::size_t n_src = binary ? 2 : op.op == "cmp" ? 2 : op.op == "select" ? 3 : 1;
      for (std::size_t k = 0; k < n_src; ++k) op.src.push_back(src());
      line << op.op << " " << op.dest;
      for (std::uint64_t a : op.src) line << sep << a;
      if (op.op == "cmp") {
        op.pred = preds[pick(6)];
        line << sep << op.pred;
      }
    }
    text << separators[pick(5)] << line.str();
    p.ops.push_back(op);
    if (!dest_defined) defined.push_back(op.dest);
  }
  const std::size_t n_outputs = 1 + pick(5);
  for (std::size_t i = 0; i < n_outputs; ++i) p.outputs.push_back(defined[pick(defined.size())]);
  text << separators[pick(5)] << join_addresses(p.outputs) << separators[pick(5)];
  return {p, text.str()};
}

TEST(DallyReference, RandomProgramsMatchSlowReference) {
  std::mt19937_64 rng(7);
  int faults = 0, runs = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const bool v3 = trial % 2 == 1;
    auto [ref, text] = random_program(rng, v3);
    SCOPED_TRACE(text);
    const DallyProgram program = parse(text, v3 ? kV3 : kV0);
    for (int rep = 0; rep < 3; ++rep) {
      Values inputs;
      for (std::size_t i = 0; i < ref.inputs.size(); ++i) {
        // Mostly 8-bit values; sometimes wider ones (v3 stores inputs unwrapped; v0 may
        // overflow int64 after a few multiplications, which both sides must report).
        const bool wide = rng() % 4 == 0;
        inputs.push_back(wide ? static_cast<std::int64_t>(rng() % 2'000'001) - 1'000'000
                              : static_cast<std::int64_t>(rng() % 256) - 128);
      }
      const auto expected = reference_run(ref, inputs, v3);
      if (!expected) {
        ++faults;
        EXPECT_THROW(run_dally(program, inputs), ConfigError);
        continue;
      }
      ++runs;
      const DallyRun run = rep == 0 ? run_checked(program, inputs) : run_dally(program, inputs);
      ASSERT_EQ(run.outputs, expected->first);
      ASSERT_EQ(run.cost, expected->second);
    }
  }
  // Both paths were exercised.
  EXPECT_GT(faults, 10);
  EXPECT_GT(runs, 5000);
}

}  // namespace
}  // namespace cube
