// Tests of metrics/bytedmd: the closed-form byte cost against a brute-force sum, every vector of
// metrics.md §6.6 through the neutral program reader (B1-B20 with their traces, the matvec /
// vecmat / matmul tables and full traces), the trace front end and the `bytedmd` metric on
// hand-worked traces and on the vectors that can be written as traces, and the evaluator
// against a literal transliteration of §6.2 on random programs.

#include "metrics/bytedmd/bytedmd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/trace_text.h"

namespace cube {
namespace {

using Depths = std::vector<std::uint64_t>;

TEST(ByteDmdTest, ClosedFormCostMatchesBruteForce) {
  for (std::uint64_t b = 1; b <= 9; ++b) {
    for (std::uint64_t d = 1; d <= 400; ++d) {
      std::uint64_t brute = 0;
      for (std::uint64_t j = (d - 1) * b + 1; j <= d * b; ++j) {
        std::uint64_t c = 0;
        while (c * c < j) ++c;  // ⌈√j⌉
        brute += c;
      }
      ASSERT_EQ(bytedmd_read_cost(d, b), brute) << "d=" << d << " B=" << b;
    }
  }
  // Large depths stay exact: ⌈√(10^12)⌉ = 10^6, ⌈√(10^12 + 1)⌉ = 10^6 + 1.
  EXPECT_EQ(bytedmd_read_cost(1000000000000ULL, 1), 1000000u);
  EXPECT_EQ(bytedmd_read_cost(1000000000001ULL, 1), 1000001u);
}

struct Vector {
  std::string id;
  std::string program;
  Depths trace;
  std::uint64_t cost;
  std::map<std::uint64_t, std::uint64_t> other_costs;  // B -> cost
};

void check_program(const Vector& v) {
  SCOPED_TRACE(v.id);
  ByteDmdProgram p = parse_bytedmd_program(v.program, v.id);
  ByteDmdResult r = evaluate_bytedmd(p, 1, DepthRecord::kEveryRead);
  EXPECT_EQ(r.depths, v.trace);
  EXPECT_EQ(r.cost, v.cost);
  EXPECT_EQ(r.reads, v.trace.size());
  for (auto [b, cost] : v.other_costs) EXPECT_EQ(evaluate_bytedmd(p, b).cost, cost) << "B=" << b;
}

const std::vector<Vector>& small_vectors() {
  static const std::vector<Vector> vectors = {
      {"B1",
       "push c b a; t4 = add a b; t5 = add t4 c; return t5",
       {1, 2, 1, 2},
       6,
       {{2, 14}, {4, 38}}},
      {"B2", "push a; t2 = add a a; return t2", {1, 1}, 2, {{2, 6}}},
      {"B3",
       "push d c b a; t5 = add b c; t6 = add a d; t7 = gt t5 t6; return t7",
       {2, 3, 2, 3, 2, 1},
       11,
       {}},
      {"B4",
       "push b[0] b[1] a[0] a[1]; t5 = mul a[0] b[0]; t6 = mul a[1] b[1]; t7 = add t5 t6; "
       "return t7",
       {2, 4, 2, 3, 2, 1},
       11,
       {{4, 74}}},
      {"B5",
       "push b[0] b[1] a[0] a[1]; t5 = mul a[0] b[0]; t6 = add #0 t5; t7 = mul a[1] b[1]; "
       "t8 = add t6 t7; return t8",
       {2, 4, 1, 2, 3, 2, 1},
       12,
       {}},
      {"B6",
       "push x[0] x[1] A[0][0] A[0][1] A[1][0] A[1][1]; t7 = mul A[0][0] x[0]; "
       "t8 = mul A[0][1] x[1]; t9 = add t7 t8; t10 = mul A[1][0] x[0]; t11 = mul A[1][1] x[1]; "
       "t12 = add t10 t11; return t9 t12",
       {4, 6, 5, 6, 3, 1, 5, 3, 4, 3, 2, 1},
       26,
       {{2, 70}, {4, 183}}},
      {"B7", "push a; t2 = gt a #0; escape t2; t3 = mul a #2; return t3", {1, 1, 1}, 3, {}},
      {"B8", "push a; t2 = gt a #0; escape t2; return a", {1, 1}, 2, {}},
      {"B9",
       "push b a; t3 t4 = divmod a b; t5 = add t3 t4; t6 = add t5 a; return t6",
       {1, 2, 2, 1, 1, 2},
       9,
       {{2, 21}}},
      {"B10", "push c b a; t4 = mul a c; return t4", {1, 2}, 3, {}},
      {"B11",
       "push b a; t3 = mul a b; t4 = add t3 a; t5 = mul t4 b; return t5",
       {1, 2, 1, 3, 1, 2},
       9,
       {}},
      {"B12", "push a; t2 = mul a #10; t3 = sub #10 t2; return t3", {1, 1}, 2, {}},
      {"B13", "push b a; escape a; return a", {1}, 1, {}},
      {"B14", "push i xs[0] xs[1] xs[2]; escape i; return xs[1]", {2}, 2, {}},
      {"B15",
       "push c[0] c[1] c[2] c[3] x; t6 = mul c[3] x; t7 = add t6 c[2]; t8 = mul t7 x; "
       "t9 = add t8 c[1]; t10 = mul t9 x; t11 = add t10 c[0]; return t11",
       {2, 1, 1, 3, 1, 2, 1, 3, 1, 2, 1, 2},
       18,
       {{8, 318}}},
      {"B16", "push c b a; t4 = pow a b c; return t4", {1, 2, 3}, 5, {}},
      {"B17",
       "push c b a; t4 = lt a b; escape t4; t5 = sub a c; t6 = add a c; t7 = mul t5 t6; "
       "return t7",
       {1, 2, 1, 1, 2, 3, 2, 2, 1},
       14,
       {}},
      {"B18",
       R"(# GF(2) gf2_solve, rows = [[1,0,1,1],[0,1,1,0],[1,1,0,1]], n_bits = 3
push n_bits rows[0][0] rows[0][1] rows[0][2] rows[0][3] rows[1][0] rows[1][1] rows[1][2] rows[1][3] rows[2][0] rows[2][1] rows[2][2] rows[2][3]
escape n_bits
escape rows[0][0]
escape rows[1][0]
escape rows[2][0]
t14 = add n_bits #1
escape t14
t15 = xor rows[2][0] rows[0][0]
t16 = xor rows[2][1] rows[0][1]
t17 = xor rows[2][2] rows[0][2]
t18 = xor rows[2][3] rows[0][3]
escape rows[1][1]
escape rows[0][1]
escape t16
t19 = add n_bits #1
escape t19
t20 = xor t15 rows[1][0]
t21 = xor t16 rows[1][1]
t22 = xor t17 rows[1][2]
t23 = xor t18 rows[1][3]
escape t22
escape n_bits
t24 = eq rows[0][3] #1
escape t24
escape n_bits
t25 = eq rows[1][3] #1
escape t25
return
)",
       {13, 13, 10, 7, 4, 1, 2, 4, 6, 12, 7, 12, 7, 11, 11, 6, 5,
        7,  1,  7,  8, 2, 3, 4, 6, 3, 5,  2, 2,  3, 1,  1,  1, 1},
       87,
       {}},
      {"B19", "push b a; t3 = mul #3 b; return t3", {1}, 1, {}},
      {"B20", "push b a; t3 = floor a; t4 = mul t3 b; return t4", {1, 1, 2}, 4, {}},
  };
  return vectors;
}

TEST(ByteDmdTest, VectorsB1ToB20) {
  for (const Vector& v : small_vectors()) check_program(v);
  // B17 with args (9,7,2): the same trace with b in place of a.
  check_program({"B17b",
                 "push c b a; t4 = lt a b; escape t4; t5 = sub b c; t6 = add b c; "
                 "t7 = mul t5 t6; return t7",
                 {1, 2, 1, 1, 2, 3, 2, 2, 1},
                 14,
                 {}});
}

std::string grid(const std::string& name, int i, int j) {
  return name + "[" + std::to_string(i) + "][" + std::to_string(j) + "]";
}
// The next fresh temporary name: t0, t1, ...
std::string temp(int& counter) {
  std::ostringstream name;
  name << 't' << counter++;
  return name.str();
}
std::string vec(const std::string& name, int i) { return name + "[" + std::to_string(i) + "]"; }

// The neutral programs of metrics.md §6.6's matvec, vecmat and matmul pseudo-code.
std::string matvec_program(int n, bool vecmat) {
  std::ostringstream p;
  p << "push";
  for (int i = 0; i < n; ++i) p << ' ' << vec("x", i);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) p << ' ' << grid("A", i, j);
  p << '\n';
  int t = 0;
  std::string ret = "return";
  for (int o = 0; o < n; ++o) {
    auto product = [&](int k) {
      return vecmat ? "mul " + vec("x", k) + " " + grid("A", k, o)
                    : "mul " + grid("A", o, k) + " " + vec("x", k);
    };
    std::string s = temp(t);
    p << s << " = " << product(0) << '\n';
    for (int k = 1; k < n; ++k) {
      std::string u = temp(t), s2 = temp(t);
      p << u << " = " << product(k) << '\n' << s2 << " = add " << s << ' ' << u << '\n';
      s = s2;
    }
    ret += " " + s;
  }
  return p.str() + ret + "\n";
}

std::string matmul_program(int n) {
  std::ostringstream p;
  p << "push";
  for (const char* m : {"B", "A"})
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) p << ' ' << grid(m, i, j);
  p << '\n';
  int t = 0;
  std::string ret = "return";
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      std::string s = temp(t);
      p << s << " = mul " << grid("A", i, 0) << ' ' << grid("B", 0, j) << '\n';
      for (int k = 1; k < n; ++k) {
        std::string u = temp(t), s2 = temp(t);
        p << u << " = mul " << grid("A", i, k) << ' ' << grid("B", k, j) << '\n'
          << s2 << " = add " << s << ' ' << u << '\n';
        s = s2;
      }
      ret += " " + s;
    }
  }
  return p.str() + ret + "\n";
}

TEST(ByteDmdTest, MatvecVecmatMatmulTables) {
  struct Row {
    int n;
    std::uint64_t matvec, matvec4, vecmat, matmul, matmul4, matmul_reads, matmul_max_depth;
  };
  const Row rows[] = {{2, 26, 183, 25, 57, 419, 24, 9},
                      {3, 75, 540, 72, 258, 1917, 90, 20},
                      {4, 157, 1129, 150, 720, 5493, 224, 35},
                      {5, 270, 0, 258, 0, 0, 0, 0},
                      {6, 422, 0, 397, 0, 0, 0, 0},
                      {7, 615, 0, 572, 0, 0, 0, 0},
                      {8, 896, 6686, 832, 8867, 68158, 1920, 135},
                      {16, 5354, 40787, 4688, 109783, 871470, 15872, 527}};
  for (const Row& r : rows) {
    SCOPED_TRACE("n=" + std::to_string(r.n));
    ByteDmdProgram mv = parse_bytedmd_program(matvec_program(r.n, false));
    EXPECT_EQ(evaluate_bytedmd(mv, 1).cost, r.matvec);
    if (r.matvec4) {
      EXPECT_EQ(evaluate_bytedmd(mv, 4).cost, r.matvec4);
    }
    EXPECT_EQ(evaluate_bytedmd(parse_bytedmd_program(matvec_program(r.n, true)), 1).cost, r.vecmat);
    if (!r.matmul) continue;
    ByteDmdProgram mm = parse_bytedmd_program(matmul_program(r.n));
    ByteDmdResult res = evaluate_bytedmd(mm, 1);
    EXPECT_EQ(res.cost, r.matmul);
    EXPECT_EQ(res.reads, r.matmul_reads);
    EXPECT_EQ(res.max_depth, r.matmul_max_depth);
    EXPECT_EQ(evaluate_bytedmd(mm, 4).cost, r.matmul4);
  }
}

TEST(ByteDmdTest, MatvecAndVecmatFullTraces) {
  auto depths = [](const std::string& program) {
    return evaluate_bytedmd(parse_bytedmd_program(program), 1, DepthRecord::kEveryRead).depths;
  };
  EXPECT_EQ(depths(matvec_program(3, false)),
            (Depths{9, 12, 10, 12, 3, 1, 10, 11, 3, 1, 10, 4, 10, 5, 3,
                    1, 9,  5,  3,  1, 8, 4,  7,  4, 2, 1,  5, 3,  2, 1}));
  EXPECT_EQ(depths(matvec_program(3, true)),
            (Depths{12, 9, 12, 8, 3, 1, 11, 6, 3, 1, 4, 10, 5, 9, 3,
                    1,  5, 7,  3, 1, 4, 8,  4, 7, 2, 1, 3,  5, 2, 1}));
  EXPECT_EQ(depths(matvec_program(4, false)),
            (Depths{16, 20, 17, 20, 3,  1,  17, 19, 3, 1,  17, 18, 3, 1, 17, 5,  17, 6, 3,
                    1,  16, 6,  3,  1,  15, 6,  3,  1, 14, 5,  14, 6, 3, 1,  13, 6,  3, 1,
                    12, 6,  3,  1,  11, 5,  10, 5,  2, 1,  8,  4,  2, 1, 6,  3,  2,  1}));
}

TEST(ByteDmdTest, ReaderErrorsPointAtTheLine) {
  EXPECT_THROW(parse_bytedmd_program("push a\nt = add a b\n"), ConfigError);
  EXPECT_THROW(parse_bytedmd_program("push a\nfoo bar\n"), ConfigError);
  EXPECT_THROW(parse_bytedmd_program("push a\nreturn z\n"), ConfigError);
  EXPECT_THROW(parse_bytedmd_program("escape\n"), ConfigError);
  try {
    parse_bytedmd_program("push a\n# comment\nt = add a q\n", "prog.ir");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().line, 3);
    EXPECT_NE(std::string(e.what()).find("'q'"), std::string::npos);
  }
  // Reading a value that is already dead is a program error, not a cost.
  ByteDmdProgram p;
  p.values = 1;
  p.inputs = {0};
  p.instructions = {{0, 1, 0, 0}, {1, 1, 0, 0}};
  p.reads = {0, 0};
  EXPECT_EQ(evaluate_bytedmd(p, 1).cost, 2u);  // read twice: alive until the second read
  p.inputs.clear();
  EXPECT_THROW(evaluate_bytedmd(p, 1), Error);  // never pushed
}

// A neutral program as a cube trace: every value its own 1-element buffer, declared so that the
// last pushed input has buffer id 0 (pushed last, on top); each statement is its reads, its
// writes and an OP. Programs whose live-out values are never outranked by a later read give
// the same cost with and without the return set.
Trace program_as_trace(const std::string& program) {
  Trace t;
  std::vector<std::vector<std::string>> statements;
  std::istringstream lines(program);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream parts(line);
    for (std::string s; std::getline(parts, s, ';');) {
      std::istringstream fields(s);
      std::vector<std::string> tokens;
      for (std::string tok; fields >> tok;) tokens.push_back(tok);
      if (!tokens.empty()) statements.push_back(tokens);
    }
  }
  for (const auto& s : statements)
    if (s[0] == "push")
      for (std::size_t i = s.size() - 1; i >= 1; --i) t.buffers.declare(s[i], 4, 1);
  auto id = [&](const std::string& name) { return t.buffers.declare(name, 4, 1); };
  for (const auto& s : statements) {
    if (s[0] == "push" || s[0] == "return") continue;
    auto eq = std::find(s.begin(), s.end(), "=");
    const std::size_t from = s[0] == "escape" ? 1 : static_cast<std::size_t>(eq - s.begin()) + 2;
    for (std::size_t i = from; i < s.size(); ++i)
      if (s[i][0] != '#') t.events.push_back({id(s[i]), 0, 1, EventKind::kRead});
    if (s[0] != "escape")
      for (auto it = s.begin(); it != eq; ++it)
        t.events.push_back({id(*it), 0, 1, EventKind::kWrite});
    t.events.push_back({0, 0, 0, EventKind::kOpEnd});
  }
  return t;
}

std::vector<MetricValue> run_metric(const std::string& spec, const Trace& trace,
                                    std::size_t chunk) {
  std::unique_ptr<Metric> metric = instantiate<Metric>(parse_spec(spec), "metric");
  trace.replay(*metric, chunk);
  return metric->finish(RunOutcome{});
}

TEST(ByteDmdTest, VectorsThroughTheMetricOnTraces) {
  // B6, B14 and the matvec family keep a returned value under later reads: not expressible
  // without a return set, so they are checked through the program reader only.
  for (const Vector& v : small_vectors()) {
    if (v.id == "B6" || v.id == "B14") continue;
    SCOPED_TRACE(v.id);
    Trace trace = program_as_trace(v.program);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, RecordingTracer::kChunkEvents}) {
      std::vector<MetricValue> values = run_metric("bytedmd", trace, chunk);
      ASSERT_EQ(values.size(), 2u);
      EXPECT_EQ(values[0].name, "bytedmd");
      EXPECT_EQ(values[0].value, static_cast<double>(v.cost));
      EXPECT_EQ(values[1].value, static_cast<double>(v.trace.size()));
    }
    for (auto [b, cost] : v.other_costs)
      EXPECT_EQ(
          run_metric("bytedmd(bytes_per_element=" + std::to_string(b) + ")", trace, 2)[0].value,
          static_cast<double>(cost));
  }
}

ByteDmdResult eval_text(const std::string& text) {
  Trace t = parse_text_trace(text);
  return evaluate_bytedmd(program_from_trace(t.buffers, t.events), 1, DepthRecord::kEveryRead);
}

TEST(ByteDmdTest, TraceFrontEndHandWorked) {
  // No OP anywhere: each read event is its own operation. a, b written (b on top).
  // R a: depth 2, a bumped (a, b); R b: depth 2, last read, dropped; R a: depth 1.
  EXPECT_EQ(eval_text("W a 1; W b 1; R a 1; R b 1; R a 1").depths, (Depths{2, 2, 1}));
  // With a boundary the three reads are one operation priced together: a 2, b 1, a 2.
  EXPECT_EQ(eval_text("W a 1; W b 1; R a 1; R b 1; R a 1; OP").depths, (Depths{2, 1, 2}));
  // A read after a write starts a new operation even without OP: x = a + b; y = x + a.
  // Inputs a (buffer 0, on top), b. Op 1 reads a 1, b 2; b dies, a bumped; x pushed on top.
  // Op 2 reads x 1, a 2.
  ByteDmdResult r = eval_text("R a 1; R b 1; W x 1; R x 1; R a 1; W y 1; OP");
  EXPECT_EQ(r.depths, (Depths{1, 2, 1, 2}));
  EXPECT_EQ(r.cost, 1u + 2 + 1 + 2);
  // Inputs are pushed in element order: `R v 3` reads v0 v1 v2 at 3 2 1. The rewrite of v0, v1
  // kills their old values after that read, so only v2 stays; the new v0, v1 go on top of it.
  EXPECT_EQ(eval_text("R v 3; OP; W v 2; OP; R v 3; OP").depths, (Depths{3, 2, 1, 2, 1, 3}));
  // Element offsets: inputs u[5], u[6] in index order.
  Trace t;
  const BufferId u = t.buffers.declare("u", 4, 8);
  t.events = {{u, 6, 1, EventKind::kRead}, {u, 5, 1, EventKind::kRead}};
  EXPECT_EQ(
      evaluate_bytedmd(program_from_trace(t.buffers, t.events), 1, DepthRecord::kEveryRead).depths,
      (Depths{1, 1}));
  // kFree is ignored: liveness comes from the reads.
  EXPECT_EQ(eval_text("W a 2; F a; R a 2; OP").cost, eval_text("W a 2; R a 2; OP").cost);
}

// §6.2 literally: events PUSH / READ, a vector stack (bottom first), and after every event the
// deletion of every value whose last use is at or before it.
ByteDmdResult naive_evaluate(const ByteDmdProgram& p, std::uint64_t b) {
  struct Event {
    bool read;
    std::vector<std::uint32_t> values;
  };
  std::vector<Event> events;
  for (std::uint32_t v : p.inputs) events.push_back({false, {v}});
  for (const auto& ins : p.instructions) {
    if (ins.read_count)
      events.push_back({true, std::vector<std::uint32_t>(
                                  p.reads.begin() + static_cast<std::ptrdiff_t>(ins.first_read),
                                  p.reads.begin() + static_cast<std::ptrdiff_t>(ins.first_read +
                                                                                ins.read_count))});
    for (std::uint64_t o = 0; o < ins.output_count; ++o)
      events.push_back({false, {p.outputs[ins.first_output + o]}});
  }
  std::vector<std::int64_t> last(p.values, -1);
  for (std::size_t i = 0; i < events.size(); ++i)
    for (std::uint32_t v : events[i].values)
      if (events[i].read || last[v] < 0) last[v] = static_cast<std::int64_t>(i);
  for (std::uint32_t v : p.live_out) last[v] = static_cast<std::int64_t>(events.size());
  std::vector<std::uint32_t> stack;
  ByteDmdResult out;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!events[i].read) {
      stack.push_back(events[i].values[0]);
    } else {
      const std::size_t size = stack.size();
      for (std::uint32_t v : events[i].values) {
        const auto pos = std::find(stack.begin(), stack.end(), v) - stack.begin();
        const std::uint64_t d = size - static_cast<std::uint64_t>(pos);
        out.depths.push_back(d);
        out.cost += bytedmd_read_cost(d, b);
        ++out.reads;
      }
      std::vector<std::uint32_t> distinct;
      for (std::uint32_t v : events[i].values)
        if (std::find(distinct.begin(), distinct.end(), v) == distinct.end()) distinct.push_back(v);
      for (std::uint32_t v : distinct) {
        stack.erase(std::find(stack.begin(), stack.end(), v));
        stack.push_back(v);
      }
    }
    std::erase_if(stack, [&](std::uint32_t v) { return last[v] <= static_cast<std::int64_t>(i); });
  }
  return out;
}

// bytes_per_element=0 prices each buffer by its declared element size: a trace with a 4-byte
// buffer beside a 2-byte one costs exactly what the same trace costs when the 4-byte buffer is
// declared with 2-byte elements and every access covers twice as many (the literal byte-pair
// expansion); a trace of 4-byte buffers only costs what bytes_per_element=4 gives.
TEST(ByteDmdTest, DeclaredElementSizesPriceMixedBuffersByTheirBytes) {
  Rng rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    Trace mixed, halves, wide;
    const BufferId w = mixed.buffers.declare("w", 4, 16);
    const BufferId h = mixed.buffers.declare("h", 2, 16);
    const BufferId w2 = halves.buffers.declare("w", 2, 32);
    const BufferId h2 = halves.buffers.declare("h", 2, 16);
    const BufferId wa = wide.buffers.declare("w", 4, 16);
    const BufferId wb = wide.buffers.declare("h", 4, 16);
    for (int e = 0; e < 60; ++e) {
      const auto kind = rng.below(4) == 0   ? EventKind::kOpEnd
                        : rng.below(3) == 0 ? EventKind::kWrite
                                            : EventKind::kRead;
      if (kind == EventKind::kOpEnd) {
        for (Trace* t : {&mixed, &halves, &wide}) t->events.push_back({0, 0, 0, kind});
        continue;
      }
      const bool in_w = rng.below(2) == 0;
      const auto off = static_cast<std::uint32_t>(rng.below(12));
      const auto n = static_cast<std::uint32_t>(1 + rng.below(4));
      mixed.events.push_back({in_w ? w : h, off, n, kind});
      halves.events.push_back(in_w ? TraceEvent{w2, 2 * off, 2 * n, kind}
                                   : TraceEvent{h2, off, n, kind});
      wide.events.push_back({in_w ? wa : wb, off, n, kind});
    }
    SCOPED_TRACE(trial);
    const std::optional<double> declared =
        run_metric("bytedmd(bytes_per_element=0)", mixed, 5)[0].value;
    EXPECT_EQ(declared, run_metric("bytedmd(bytes_per_element=2)", halves, 5)[0].value);
    EXPECT_EQ(declared, run_metric("bytedmd(bytes_per_element=0)", halves, 5)[0].value);
    EXPECT_EQ(run_metric("bytedmd(bytes_per_element=0)", wide, 5)[0].value,
              run_metric("bytedmd(bytes_per_element=4)", wide, 5)[0].value);
  }
  EXPECT_EQ(common_element_bytes(BufferTable{}), 4u);
  Trace odd;
  odd.buffers.declare("a", 3, 4);
  odd.buffers.declare("b", 2, 4);
  EXPECT_EQ(common_element_bytes(odd.buffers), 1u);
  EXPECT_THROW(program_from_trace(odd.buffers, odd.events, 2), Error);
}

TEST(ByteDmdTest, MatchesLiteralSimulationOnRandomProgramsAndTraces) {
  for (std::uint64_t seed = 1; seed <= 400; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    ByteDmdProgram p;
    const std::uint64_t inputs = rng.below(30);
    std::vector<std::uint32_t> pushed;
    for (std::uint64_t i = 0; i < inputs; ++i) {
      p.inputs.push_back(static_cast<std::uint32_t>(p.values++));
      pushed.push_back(p.inputs.back());
    }
    const std::uint64_t instructions = rng.below(200);
    for (std::uint64_t k = 0; k < instructions; ++k) {
      ByteDmdProgram::Instruction ins{static_cast<std::uint32_t>(p.reads.size()), 0,
                                      static_cast<std::uint32_t>(p.outputs.size()), 0};
      const std::uint64_t reads = pushed.empty() ? 0 : rng.below(5);
      for (std::uint64_t r = 0; r < reads; ++r)
        p.reads.push_back(
            pushed[pushed.size() - 1 -
                   rng.below(std::min<std::size_t>(pushed.size(), 1 + rng.below(40)))]);
      const std::uint64_t outputs = rng.below(3);
      for (std::uint64_t o = 0; o < outputs; ++o) {
        p.outputs.push_back(static_cast<std::uint32_t>(p.values++));
        pushed.push_back(p.outputs.back());
      }
      ins.read_count = static_cast<std::uint32_t>(p.reads.size() - ins.first_read);
      ins.output_count = static_cast<std::uint32_t>(p.outputs.size() - ins.first_output);
      p.instructions.push_back(ins);
    }
    for (std::uint32_t v : pushed)
      if (rng.below(8) == 0) p.live_out.push_back(v);
    const std::uint64_t b = 1 + rng.below(4);
    ByteDmdResult fast = evaluate_bytedmd(p, b, DepthRecord::kEveryRead),
                  slow = naive_evaluate(p, b);
    ASSERT_EQ(fast.depths, slow.depths);
    EXPECT_EQ(fast.cost, slow.cost);
    // The reuse-distance octaves are the slow depths' byte depths, binned by their top bit.
    std::array<std::uint64_t, 64> octaves{};
    for (std::uint64_t d : slow.depths) ++octaves[std::bit_width(d * b) - 1];
    const ByteDmdResult binned = evaluate_bytedmd(p, b, DepthRecord::kByteDepthOctaves);
    EXPECT_EQ(binned.reads_by_byte_depth_octave, octaves);
    EXPECT_EQ(binned.cost, slow.cost);
    EXPECT_TRUE(binned.depths.empty());

    // A random element trace through the trace front end, both evaluators.
    std::ostringstream text;
    for (int e = 0, n = static_cast<int>(rng.below(150)); e < n; ++e) {
      std::string name(1, 'b');
      name += std::to_string(rng.below(4));
      const std::uint64_t kind = rng.below(7);
      if (kind < 3) text << "R " << name << ' ' << rng.below(6) << '\n';
      if (kind >= 3 && kind < 5) text << "W " << name << ' ' << rng.below(6) << '\n';
      if (kind == 5 && seed % 2) text << "OP\n";
      if (kind == 6) text << "F " << name << '\n';
    }
    Trace t = parse_text_trace(text.str());
    ByteDmdProgram tp = program_from_trace(t.buffers, t.events);
    ByteDmdResult tf = evaluate_bytedmd(tp, b, DepthRecord::kEveryRead), ts = naive_evaluate(tp, b);
    ASSERT_EQ(tf.depths, ts.depths);
    EXPECT_EQ(run_metric("bytedmd(bytes_per_element=" + std::to_string(b) + ")", t, 3)[0].value,
              static_cast<double>(ts.cost));
  }
}

// The slow obvious reader: getline per line, istringstream per statement, a std::map of names.
ByteDmdProgram reference_parse(const std::string& text) {
  ByteDmdProgram p;
  std::map<std::string, std::uint32_t> ids;
  const auto fresh = [&](const std::string& name) {
    const auto v = static_cast<std::uint32_t>(p.values++);
    p.name_chars += name;
    p.name_ends.push_back(static_cast<std::uint32_t>(p.name_chars.size()));
    ids[name] = v;
    return v;
  };
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream statements(line);
    std::string statement;
    while (std::getline(statements, statement, ';')) {
      std::istringstream words(statement);
      std::vector<std::string> t;
      for (std::string w; words >> w;) t.push_back(w);
      if (t.empty()) continue;
      if (t[0] == "push") {
        for (std::size_t i = 1; i < t.size(); ++i) p.inputs.push_back(fresh(t[i]));
        continue;
      }
      if (t[0] == "return") {
        for (std::size_t i = 1; i < t.size(); ++i) p.live_out.push_back(ids.at(t[i]));
        continue;
      }
      ByteDmdProgram::Instruction ins{static_cast<std::uint32_t>(p.reads.size()), 0,
                                      static_cast<std::uint32_t>(p.outputs.size()), 0};
      std::size_t from = 1, outs = 0;
      if (t[0] != "escape") {
        outs = static_cast<std::size_t>(std::find(t.begin(), t.end(), "=") - t.begin());
        from = outs + 2;
      }
      for (std::size_t i = from; i < t.size(); ++i) {
        if (t[i][0] != '#') p.reads.push_back(ids.at(t[i]));
      }
      for (std::size_t i = 0; i < outs; ++i) p.outputs.push_back(fresh(t[i]));
      ins.read_count = static_cast<std::uint32_t>(p.reads.size() - ins.first_read);
      ins.output_count = static_cast<std::uint32_t>(p.outputs.size() - ins.first_output);
      p.instructions.push_back(ins);
    }
  }
  return p;
}

// The one-pass reader (byte classes, block-hashed name table, prefetched slots) against the
// reference on random texts: numbered names differing only in the last digit, names of 1 to 40
// bytes, reassigned names, constants, comments, blank lines, tabs, CRs and ';' separators, and
// enough names to grow the table.
TEST(ByteDmdTest, ReaderMatchesTheReferenceOnRandomTexts) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    std::vector<std::string> live;
    const auto random_name = [&]() -> std::string {
      std::ostringstream name;
      switch (rng.below(5)) {
        case 0:
          name << 't' << rng.below(3000);
          break;
        case 1:
          name << "A[" << rng.below(40) << "][" << rng.below(40) << ']';
          break;
        case 2:
          name << std::string(1 + rng.below(40), static_cast<char>('a' + rng.below(3)));
          break;
        case 3:
          name << "v_" << rng.below(100) << "_x";
          break;
        default:
          name << static_cast<char>('a' + rng.below(26));
      }
      return name.str();
    };
    const auto spaces = [&]() -> std::string {
      static const char* kSpaces[] = {" ", "  ", "\t", " \t "};
      return kSpaces[rng.below(4)];
    };
    std::ostringstream text;
    text << "push";
    for (std::uint64_t i = 0, n = 1 + rng.below(50); i < n; ++i) {
      std::string name = random_name();
      if (std::find(live.begin(), live.end(), name) != live.end()) continue;
      live.push_back(name);
      text << spaces() << name;
    }
    text << "\n";
    bool line_start = true;  // comments only start lines
    for (std::uint64_t k = 0, n = rng.below(4000); k < n; ++k) {
      const std::uint64_t kind = rng.below(20);
      if (kind == 0 && line_start) {
        text << (rng.below(2) ? "# a comment; with = signs\n" : "  \t\r\n");
        continue;
      }
      std::string statement;
      if (kind == 1) {
        statement = "escape " + live[rng.below(live.size())];
      } else {
        const std::uint64_t outs = 1 + rng.below(2);
        std::vector<std::string> names;
        for (std::uint64_t o = 0; o < outs; ++o) names.push_back(random_name());
        std::string operands;
        for (std::uint64_t r = 0, reads = rng.below(4); r < reads; ++r) {
          operands += spaces() + (rng.below(6) == 0 ? "#" + std::to_string(rng.below(9))
                                                    : live[rng.below(live.size())]);
        }
        for (const std::string& name : names) statement += name + spaces();
        statement += "=" + spaces() + "op" + operands;
        for (const std::string& name : names) {
          if (std::find(live.begin(), live.end(), name) == live.end()) live.push_back(name);
        }
      }
      line_start = rng.below(4) != 0;
      text << statement;
      if (line_start) {
        text << (rng.below(8) == 0 ? "\r\n" : "\n");
      } else {
        text << ';' << spaces();
      }
    }
    text << "return " << live[rng.below(live.size())] << "\n";
    const ByteDmdProgram fast = parse_bytedmd_program(text.str()),
                         slow = reference_parse(text.str());
    ASSERT_EQ(fast.values, slow.values);
    EXPECT_EQ(fast.inputs, slow.inputs);
    EXPECT_EQ(fast.reads, slow.reads);
    EXPECT_EQ(fast.outputs, slow.outputs);
    EXPECT_EQ(fast.live_out, slow.live_out);
    EXPECT_EQ(fast.name_chars, slow.name_chars);
    EXPECT_EQ(fast.name_ends, slow.name_ends);
    ASSERT_EQ(fast.instructions.size(), slow.instructions.size());
    for (std::size_t i = 0; i < fast.instructions.size(); ++i) {
      EXPECT_EQ(fast.instructions[i].first_read, slow.instructions[i].first_read);
      EXPECT_EQ(fast.instructions[i].read_count, slow.instructions[i].read_count);
      EXPECT_EQ(fast.instructions[i].output_count, slow.instructions[i].output_count);
    }
  }
}

TEST(ByteDmdTest, MetricShape) {
  auto metric = instantiate<Metric>(parse_spec("bytedmd"), "metric");
  EXPECT_TRUE(metric->needs_trace());
  EXPECT_EQ(metric->value_names(), (std::vector<std::string>{"bytedmd", "bytedmd_reads"}));
  EXPECT_EQ(metric->spec(), "bytedmd(bytes_per_element=1)");
  for (const MetricValue& v : metric->finish(RunOutcome{})) EXPECT_FALSE(v.value.has_value());
  EXPECT_THROW(instantiate<Metric>(parse_spec("bytedmd(bytes_per_element=-1)"), "metric"),
               ConfigError);
  Trace empty;
  EXPECT_EQ(run_metric("bytedmd", empty, 4)[0].value, 0.0);
}

}  // namespace
}  // namespace cube
