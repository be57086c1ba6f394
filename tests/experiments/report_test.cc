// Tests of experiments/report: per-cell aggregation (mean, median, range, mixed statuses) and rows.

#include "experiments/report.h"

#include <gtest/gtest.h>

namespace cube {
namespace {

ResultRow row(const std::string& problem, const std::string& solver, std::uint64_t seed,
              std::int64_t repeat, const std::string& metric, std::optional<double> value,
              const std::string& status = "ok", const std::string& message = "") {
  ResultRow r;
  r.problem = problem;
  r.solver = solver;
  r.cell = problem + "/" + solver;
  r.seed = seed;
  r.repeat = repeat;
  r.metric = metric;
  r.value = value;
  r.status = status;
  r.message = message;
  r.deterministic = metric != "wall_time";
  return r;
}

std::vector<ResultRow> sample() {
  return {
      // p1/s1: three seeds, the third failed.
      row("p1", "s1", 1, 0, "accuracy", 1.0),
      row("p1", "s1", 1, 0, "wall_time", 0.5),
      row("p1", "s1", 1, 0, "epochs", 10),
      row("p1", "s1", 2, 0, "accuracy", 0.5),
      row("p1", "s1", 2, 0, "wall_time", 0.125),
      row("p1", "s1", 2, 0, "epochs", 21),
      row("p1", "s1", 3, 0, "accuracy", std::nullopt, "error", "boom"),
      row("p1", "s1", 3, 0, "wall_time", std::nullopt, "error", "boom"),
      row("p1", "s1", 3, 0, "epochs", std::nullopt, "error", "boom"),
      // p1/s2: one seed, three repetitions; no epochs metric.
      row("p1", "s2", 7, 0, "accuracy", 0.1),
      row("p1", "s2", 7, 0, "wall_time", 4),
      row("p1", "s2", 7, 1, "accuracy", 0.1),
      row("p1", "s2", 7, 1, "wall_time", 1),
      row("p1", "s2", 7, 2, "accuracy", 0.1),
      row("p1", "s2", 7, 2, "wall_time", 2),
      // p2/s1: unsupported everywhere.
      row("p2", "s1", 1, 0, "accuracy", std::nullopt, "unsupported", "s1 cannot solve p2"),
      row("p2", "s1", 2, 0, "accuracy", std::nullopt, "unsupported", "s1 cannot solve p2"),
  };
}

TEST(ReportTest, SummaryHasOneRowPerCellAndOneColumnPerMetric) {
  Table t = summary_table(sample());
  EXPECT_EQ(t.title, "results: 3 cells, 8 jobs");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"problem", "solver", "runs", "status", "accuracy",
                                                 "wall_time", "wall_time range", "epochs"}));
  ASSERT_EQ(t.rows.size(), 3u);

  // Deterministic metrics: mean over jobs with a value; noisy: median and [min, max].
  EXPECT_EQ(t.rows[0], (std::vector<Value>{std::string("p1"), std::string("s1"), std::int64_t{3},
                                           std::string("2 ok, 1 error"), 0.75, 0.3125,
                                           std::string("[0.125, 0.5]"), 15.5}));
  // Three 0.1s average to exactly 0.1; an odd count's median is the middle value.
  EXPECT_EQ(t.rows[1],
            (std::vector<Value>{std::string("p1"), std::string("s2"), std::int64_t{3},
                                std::string("ok"), 0.1, 2.0, std::string("[1, 4]"), Value()}));
  EXPECT_EQ(t.rows[2],
            (std::vector<Value>{std::string("p2"), std::string("s1"), std::int64_t{2},
                                std::string("unsupported"), Value(), Value(), Value(), Value()}));
  EXPECT_EQ(t.notes, (std::vector<std::string>{"p1/s1 seed 3: error: boom",
                                               "p2/s1 seed 1: unsupported: s1 cannot solve p2",
                                               "p2/s1 seed 2: unsupported: s1 cannot solve p2"}));
}

TEST(ReportTest, StatusCountsPutOkFirstThenBySeverity) {
  std::vector<ResultRow> rows = {
      row("p", "s", 1, 0, "accuracy", 1.0, "error", "x"),
      row("p", "s", 2, 0, "accuracy", 1.0, "max_iterations"),
      row("p", "s", 3, 0, "accuracy", 1.0),
      row("p", "s", 4, 0, "accuracy", 1.0, "timeout"),
      row("p", "s", 5, 0, "accuracy", 1.0, "max_iterations"),
      // A job's status is its worst row's: this job counts once, as an error.
      row("p", "s", 6, 0, "accuracy", 1.0),
      row("p", "s", 6, 0, "epochs", 3.0, "error", "y"),
  };
  Table t = summary_table(rows);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][2], Value(std::int64_t{6}));
  EXPECT_EQ(t.rows[0][3], Value(std::string("1 ok, 2 max_iterations, 1 timeout, 2 error")));
}

TEST(ReportTest, EvenCountMedianAveragesTheMiddleTwo) {
  EXPECT_EQ(median({4.0, 1.0, 3.0, 2.0}), 2.5);
  EXPECT_EQ(median({5.0}), 5.0);
}

TEST(ReportTest, FailureNotesStopAtTwentyWithACount) {
  std::vector<ResultRow> rows;
  for (std::uint64_t seed = 0; seed < 25; ++seed)
    rows.push_back(row("p", "s", seed, 0, "accuracy", std::nullopt, "timeout"));
  Table t = summary_table(rows);
  ASSERT_EQ(t.notes.size(), 21u);
  EXPECT_EQ(t.notes[0], "p/s seed 0: timeout");
  EXPECT_EQ(t.notes[20], "... and 5 more jobs not ok (`cube results` lists every row)");
}

TEST(ReportTest, RowsTableShortensTheCommitAndMarksDirtyTrees) {
  StoredRow r;
  static_cast<ResultRow&>(r) = row("p", "s", 9, 1, "ard", std::nullopt, "error", "bad");
  r.git_commit = "0123456789abcdef0123456789abcdef01234567";
  r.git_dirty = true;
  r.build_type = "Release";
  r.machine = "CPU (family 25, model 1), 2 CPUs, avx2+fma";
  StoredRow big = r;
  big.seed = 18446744073709551615ull;
  big.value = 2.5;
  big.git_dirty = false;
  Table t = rows_table({r, big});
  EXPECT_EQ(t.columns,
            (std::vector<std::string>{"commit", "build", "machine", "cell", "seed", "repeat",
                                      "metric", "value", "status", "message"}));
  EXPECT_EQ(t.rows[0], (std::vector<Value>{std::string("0123456789ab+dirty"),
                                           std::string("Release"), r.machine, std::string("p/s"),
                                           std::int64_t{9}, std::int64_t{1}, std::string("ard"),
                                           Value(), std::string("error"), std::string("bad")}));
  EXPECT_EQ(t.rows[1][0], Value(std::string("0123456789ab")));
  EXPECT_EQ(t.rows[1][4], Value(std::string("18446744073709551615")));  // beyond int64
  EXPECT_EQ(t.rows[1][7], Value(2.5));
}

}  // namespace
}  // namespace cube
