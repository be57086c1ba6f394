// Tests of the Dally IR solvers: the generator solvers on the dally_* problems (every case
// passes, the traced run prices to the spec's D16, D17, D20-D22 costs), `ir_file` on good,
// wrong, faulting and malformed programs, supports() across the axes, and tracing changing
// nothing. The `dally` metric itself is exercised in tests/experiments/ir_score_test.cc.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/spec.h"
#include "problems/dally/dally_problems.h"
#include "models/dally_ir/baselines.h"
#include "solvers/dally_ir/ir_solvers.h"

namespace cube {
namespace {

std::unique_ptr<Problem> make_problem(const std::string& spec, std::uint64_t seed = 1) {
  auto problem = instantiate<Problem>(parse_spec(spec), "problem");
  problem->generate(seed);
  return problem;
}

std::unique_ptr<Solver> make_solver(const std::string& spec) {
  return instantiate<Solver>(parse_spec(spec), "solver");
}

// Slow pricing of a trace: Σ over read events of the smallest d with d² >= offset + 1.
std::uint64_t price(const Trace& trace) {
  std::uint64_t cost = 0;
  for (const TraceEvent& e : trace.events) {
    if (e.kind != EventKind::kRead) continue;
    std::uint64_t d = 0;
    while (d * d < e.offset + 1) ++d;
    cost += d * e.count;
  }
  return cost;
}

struct Solved {
  SolveResult plain, traced;
  std::uint64_t trace_cost = 0;
};

Solved solve_both(Solver& solver, const Problem& problem) {
  Solved s;
  RunContext ctx(1);
  s.plain = solver.solve(problem, ctx, nullptr);
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  s.traced = solver.solve(problem, ctx, &tracer);
  tracer.finish();
  s.trace_cost = price(collector.trace());
  EXPECT_EQ(s.plain.status, s.traced.status);
  EXPECT_EQ(s.plain.test_predictions, s.traced.test_predictions);
  EXPECT_EQ(s.plain.message, s.traced.message);
  return s;
}

void expect_solved_at(const std::string& problem_spec, const std::string& solver_spec,
                      std::uint64_t cost) {
  SCOPED_TRACE(problem_spec + " x " + solver_spec);
  auto problem = make_problem(problem_spec);
  auto solver = make_solver(solver_spec);
  ASSERT_TRUE(solver->supports(*problem));
  const Solved s = solve_both(*solver, *problem);
  EXPECT_EQ(s.plain.status, SolveStatus::kSolved) << s.plain.message;
  EXPECT_EQ(problem->accuracy(s.plain.test_predictions), 1.0);
  EXPECT_EQ(s.trace_cost, cost);
}

TEST(DallyGeneratorSolvers, MatmulD16D17) {
  expect_solved_at("dally_matmul(n=1)", "dally_naive_matmul", 5);
  expect_solved_at("dally_matmul(n=4)", "dally_naive_matmul", 1'316);
  expect_solved_at("dally_matmul(n=16)", "dally_naive_matmul", 340'704);
  expect_solved_at("dally_matmul(n=16)", "dally_tiled_matmul", 133'783);
  // A true matmul: random matrices pass too, at the same static cost.
  expect_solved_at("dally_matmul(n=4,instance=random)", "dally_naive_matmul", 1'316);
  expect_solved_at("dally_matmul(n=16,instance=random)", "dally_tiled_matmul", 133'783);
}

TEST(DallyGeneratorSolvers, SparseParityD22AndSymmetryD20D21) {
  expect_solved_at("dally_sparse_parity(size=small)", "dally_baseline_parity", 6'918);
  expect_solved_at("dally_sparse_parity(size=medium)", "dally_baseline_parity", 816'251);
  expect_solved_at("dally_sparse_parity(size=medium_approx50)", "dally_baseline_parity", 816'251);
  expect_solved_at("dally_symmetry(bits=6)", "dally_baseline_symmetry", 20);
  expect_solved_at("dally_symmetry(bits=8)", "dally_baseline_symmetry", 29);
}

TEST(DallySolvers, SupportsIsPrecise) {
  auto matmul4 = make_problem("dally_matmul(n=4)");
  auto matmul16 = make_problem("dally_matmul(n=16)");
  auto parity = make_problem("dally_sparse_parity");
  auto symmetry = make_problem("dally_symmetry");
  auto binary = make_problem("sparse_parity(n=8,k=2,n_train=10,n_test=5)");
  EXPECT_TRUE(make_solver("dally_naive_matmul")->supports(*matmul4));
  EXPECT_FALSE(make_solver("dally_naive_matmul")->supports(*parity));
  EXPECT_FALSE(make_solver("dally_tiled_matmul")->supports(*matmul4));
  EXPECT_TRUE(make_solver("dally_tiled_matmul")->supports(*matmul16));
  EXPECT_TRUE(make_solver("dally_baseline_parity")->supports(*parity));
  EXPECT_FALSE(make_solver("dally_baseline_parity")->supports(*symmetry));
  EXPECT_TRUE(make_solver("dally_baseline_symmetry")->supports(*symmetry));
  EXPECT_FALSE(make_solver("dally_baseline_symmetry")->supports(*matmul4));
  EXPECT_FALSE(make_solver("ir_file")->supports(*matmul4));  // no path
  EXPECT_TRUE(make_solver("ir_file(path=x.ir)")->supports(*matmul4));
  for (const char* name : {"dally_naive_matmul", "dally_tiled_matmul", "dally_baseline_parity",
                           "dally_baseline_symmetry", "ir_file(path=x.ir)"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(make_solver(name)->supports(*binary));
  }
}

// A temporary IR file, removed at scope exit.
class TempIr {
 public:
  explicit TempIr(const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("cube_dally_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
               "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".ir")) {
    std::ofstream(path_) << text;
  }
  ~TempIr() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(IrFileSolver, RunsTheFileOnEveryCase) {
  TempIr good("1,2;mul 3,1,2;3\n");
  auto problem = make_problem("dally_matmul(n=1)");
  auto solver = make_solver("ir_file(path=" + good.path() + ")");
  const Solved s = solve_both(*solver, *problem);
  EXPECT_EQ(s.plain.status, SolveStatus::kSolved);
  EXPECT_EQ(s.plain.test_predictions, std::vector<std::int8_t>{1});
  EXPECT_EQ(s.trace_cost, 5u);

  // dally-ir.md §4.5: `add` on the 1x1 instance fails correctness (1 + 3 != 3).
  TempIr wrong("1,2;add 3,1,2;3\n");
  const Solved w = solve_both(*make_solver("ir_file(path=" + wrong.path() + ")"), *problem);
  EXPECT_EQ(w.plain.status, SolveStatus::kMaxIterations);
  EXPECT_EQ(w.plain.test_predictions, std::vector<std::int8_t>{-1});
  EXPECT_NE(w.plain.message.find("case 1/1"), std::string::npos) << w.plain.message;
  EXPECT_NE(w.plain.message.find("is 4, expected 3"), std::string::npos) << w.plain.message;
  EXPECT_EQ(problem->accuracy(w.plain.test_predictions), 0.0);
}

TEST(IrFileSolver, PartialCorrectnessAndDataFaults) {
  // Only compares bits 0 and 5: right exactly when bits 1..4 are palindromic too.
  TempIr partial("1,2,3,4,5,6;cmp 1,1,6,eq;1\n");
  auto symmetry = make_problem("dally_symmetry(bits=6)");
  const Solved p = solve_both(*make_solver("ir_file(path=" + partial.path() + ")"), *symmetry);
  EXPECT_EQ(p.plain.status, SolveStatus::kMaxIterations);
  // Wrong when bits 0 == 5 and the middle is not a palindrome: 2 · (16 - 4) = 24 of 64.
  EXPECT_DOUBLE_EQ(symmetry->accuracy(p.plain.test_predictions), 40.0 / 64.0);
  EXPECT_EQ(p.trace_cost, 1u + 3u + 1u);

  // Division by bit 1, which is 0 in half the patterns: those cases fail, nothing throws.
  TempIr faulting("1,2,3,4,5,6;div 7,1,2;set 1,0;1\n");
  const Solved f = solve_both(*make_solver("ir_file(path=" + faulting.path() + ")"), *symmetry);
  EXPECT_EQ(f.plain.status, SolveStatus::kMaxIterations);
  EXPECT_NE(f.plain.message.find("division by zero"), std::string::npos) << f.plain.message;
  EXPECT_NE(f.plain.message.find("case 1/64"), std::string::npos) << f.plain.message;
}

TEST(IrFileSolver, ConfigErrorsAreLocated) {
  auto problem = make_problem("dally_matmul(n=1)");
  TempIr uninitialised("1,2\nmul 3,1,9\n3\n");
  try {
    make_solver("ir_file(path=" + uninitialised.path() + ")")
        ->solve(*problem, RunContext(1), nullptr);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().file, uninitialised.path());
    EXPECT_EQ(e.where().line, 2);
  }
  TempIr too_few("1;copy 2,1;2\n");
  EXPECT_THROW(
      make_solver("ir_file(path=" + too_few.path() + ")")->solve(*problem, RunContext(1), nullptr),
      ConfigError);
  EXPECT_THROW(make_solver("ir_file(path=/nonexistent/cube_missing.ir)")
                   ->solve(*problem, RunContext(1), nullptr),
               ConfigError);
  // v3-only ops are unknown under the matmul scorer's v0.
  TempIr v3_op("1,2;xor 3,1,2;3\n");
  EXPECT_THROW(
      make_solver("ir_file(path=" + v3_op.path() + ")")->solve(*problem, RunContext(1), nullptr),
      ConfigError);
}

}  // namespace
}  // namespace cube
