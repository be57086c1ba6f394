// Tests of `cube ir score` (experiments/ir_score) and of the Dally cells end to end: the runner
// instantiates a dally_* problem and an IR solver and the `dally` metric prices the trace to the
// spec's D16 (n = 1, 4, 16), D17 and D22 costs, with accuracy 1.

#include "experiments/ir_score.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <variant>

#include "core/error.h"
#include "experiments/runner.h"
#include "models/dally_ir/baselines.h"

namespace cube {
namespace {

// A temporary IR file, removed at scope exit.
class TempIr {
 public:
  explicit TempIr(const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("cube_ir_score_" +
               std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
               std::to_string(counter_++) + ".ir")) {
    std::ofstream(path_) << text;
  }
  ~TempIr() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// The row as column -> value.
std::map<std::string, Value> row_of(const Table& table) {
  EXPECT_EQ(table.rows.size(), 1u);
  std::map<std::string, Value> row;
  for (std::size_t c = 0; c < table.columns.size(); ++c) row[table.columns[c]] = table.rows[0][c];
  return row;
}

TEST(IrScore, ScoresAProgramOnAProblem) {
  TempIr ir("1,2;mul 3,1,2;3\n");
  const Table table = ir_score(ir.path(), "dally_matmul", {"problem.n=1"}, 0);
  EXPECT_EQ(table.columns, (std::vector<std::string>{"problem", "correctness", "cost", "reads",
                                                     "cases", "passed"}));
  auto row = row_of(table);
  EXPECT_EQ(std::get<std::string>(row["problem"]), "dally_matmul(instance=public,n=1)");
  EXPECT_EQ(std::get<double>(row["correctness"]), 1.0);
  EXPECT_EQ(std::get<std::int64_t>(row["cost"]), 5);
  EXPECT_EQ(std::get<std::int64_t>(row["reads"]), 3);
  EXPECT_EQ(std::get<std::int64_t>(row["cases"]), 1);
  EXPECT_EQ(std::get<std::int64_t>(row["passed"]), 1);
  EXPECT_TRUE(table.notes.empty());
}

TEST(IrScore, BaselinesScoreTheSpecCosts) {
  TempIr naive(naive_matmul(16));
  auto row = row_of(ir_score(naive.path(), "dally_matmul", {"problem.n=16"}, 0));
  EXPECT_EQ(std::get<std::int64_t>(row["cost"]), 340'704);
  EXPECT_EQ(std::get<std::int64_t>(row["reads"]), 16'128);
  EXPECT_EQ(std::get<double>(row["correctness"]), 1.0);

  TempIr parity(sparse_parity_baseline(kParitySmall));
  row = row_of(ir_score(parity.path(), "dally_sparse_parity(size=small)", {}, 9));
  EXPECT_EQ(std::get<std::int64_t>(row["cost"]), 6'918);
  EXPECT_EQ(std::get<std::int64_t>(row["cases"]), 64);
  EXPECT_EQ(std::get<double>(row["correctness"]), 1.0);
}

TEST(IrScore, WrongProgramsScoreBelowOneWithANote) {
  TempIr ir("1,2;add 3,1,2;3\n");
  const Table table = ir_score(ir.path(), "dally_matmul(n=1)", {}, 0);
  auto row = row_of(table);
  EXPECT_EQ(std::get<double>(row["correctness"]), 0.0);
  EXPECT_EQ(std::get<std::int64_t>(row["cost"]), 5);
  ASSERT_EQ(table.notes.size(), 1u);
  EXPECT_NE(table.notes[0].find("case 1/1"), std::string::npos) << table.notes[0];
}

TEST(IrScore, ErrorsAreConfigErrorsWithLocations) {
  TempIr uninitialised("1,2,3,4,5,6\ncmp 1,1,6,eq\nand 1,9\n1\n");
  try {
    ir_score(uninitialised.path(), "dally_symmetry", {}, 0);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().file, uninitialised.path().string());
    EXPECT_EQ(e.where().line, 3);
  }
  TempIr syntax("1,2\nmul 3,1\n3\n");  // v0 short form needs `mul d,a`: 3 is never written
  EXPECT_THROW(ir_score(syntax.path(), "dally_matmul(n=1)", {}, 0), ConfigError);
  TempIr good("1,2;mul 3,1,2;3\n");
  EXPECT_THROW(ir_score(good.path(), "sparse_parity", {}, 0), ConfigError);  // not a Dally task
  EXPECT_THROW(ir_score(good.path(), "dally_matmul", {"n=1"}, 0), ConfigError);
  EXPECT_THROW(ir_score(good.path(), "dally_matmul", {"problem.size=1"}, 0), ConfigError);
  EXPECT_THROW(ir_score(good.path(), "dally_matmul", {"problem.n=2"}, 0), ConfigError);
  EXPECT_THROW(ir_score(good.path(), "dally_matmul", {}, 0), ConfigError);  // n=4: 32 inputs
  EXPECT_THROW(ir_score("/nonexistent/cube.ir", "dally_matmul(n=1)", {}, 0), ConfigError);
}

// One cell through the runner: rows "accuracy", "dally", "dally_reads".
void expect_cell(const std::string& problem, const std::string& solver, double cost, double reads) {
  SCOPED_TRACE(problem + " x " + solver);
  Job job{problem, solver, {"accuracy", "dally"}, 3};
  auto rows = run_job(job, 0, RunOptions{});
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) EXPECT_EQ(row.status, "ok") << row.message;
  EXPECT_EQ(rows[0].metric, "accuracy");
  EXPECT_EQ(rows[0].value, 1.0);
  EXPECT_EQ(rows[1].metric, "dally");
  EXPECT_EQ(rows[1].value, cost);
  EXPECT_EQ(rows[2].metric, "dally_reads");
  EXPECT_EQ(rows[2].value, reads);
}

TEST(DallyCells, RunnerAndDallyMetricGiveTheSpecVectors) {
  expect_cell("dally_matmul(n=1)", "dally_naive_matmul", 5, 3);                         // D16
  expect_cell("dally_matmul(n=4)", "dally_naive_matmul", 1'316, 240);                   // D16
  expect_cell("dally_matmul(n=16)", "dally_naive_matmul", 340'704, 16'128);             // D16
  expect_cell("dally_matmul(n=16)", "dally_tiled_matmul", 133'783, 18'688);             // D17
  expect_cell("dally_sparse_parity(size=small)", "dally_baseline_parity", 6'918, 634);  // D22
  expect_cell("dally_sparse_parity(size=medium)", "dally_baseline_parity", 816'251,
              32'976);                                                       // D22
  expect_cell("dally_symmetry(bits=8)", "dally_baseline_symmetry", 29, 15);  // D21
}

TEST(DallyCells, AFailingProgramIsAFailingCellNotAnError) {
  TempIr ir("1,2;add 3,1,2;3\n");
  Job job{
      "dally_matmul(n=1)", "ir_file(path=" + ir.path().string() + ")", {"accuracy", "dally"}, 3};
  auto rows = run_job(job, 0, RunOptions{});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].status, "max_iterations");
  EXPECT_EQ(rows[0].value, 0.0);
  EXPECT_EQ(rows[1].value, 5.0);
  EXPECT_NE(rows[0].message.find("case 1/1"), std::string::npos) << rows[0].message;
}

}  // namespace
}  // namespace cube
