// Tests of experiments/diff: exact comparison, noise ranges, status changes, one-sided cells.

#include "experiments/diff.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cube {
namespace {

StoredRow row(const std::string& cell, std::uint64_t seed, std::int64_t repeat,
              const std::string& metric, std::optional<double> value,
              const std::string& status = "ok") {
  StoredRow r;
  r.cell = cell;
  r.problem = cell.substr(0, cell.find('/'));
  r.solver = cell.substr(cell.find('/') + 1);
  r.seed = seed;
  r.repeat = repeat;
  r.metric = metric;
  r.value = value;
  r.status = status;
  r.deterministic = metric != "wall_time" && metric != "joules";
  r.git_commit = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  return r;
}

DiffSide old_side() {
  DiffSide a{"old", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {}};
  a.rows = {
      // p/s: two seeds, two repeats; deterministic metrics compare at repeat 0.
      row("p/s", 1, 0, "accuracy", 1.0),
      row("p/s", 1, 0, "epochs", 10),
      row("p/s", 1, 0, "wall_time", 1.0),
      row("p/s", 1, 1, "accuracy", 0.25),
      row("p/s", 1, 1, "epochs", 10),
      row("p/s", 1, 1, "wall_time", 2.0),
      row("p/s", 2, 0, "accuracy", 0.5),
      row("p/s", 2, 0, "epochs", 10),
      row("p/s", 2, 0, "wall_time", 1.25),
      row("p/s", 2, 1, "accuracy", 0.5),
      row("p/s", 2, 1, "epochs", 10),
      row("p/s", 2, 1, "wall_time", 1.5),
      // p/t: clearly slower wall time, lower joules.
      row("p/t", 1, 0, "accuracy", 1.0),
      row("p/t", 1, 0, "wall_time", 1.0),
      row("p/t", 1, 0, "joules", 10),
      row("p/t", 2, 0, "accuracy", 1.0),
      row("p/t", 2, 0, "wall_time", 1.5),
      row("p/t", 2, 0, "joules", 12),
      // p/v: ok -> error.
      row("p/v", 1, 0, "accuracy", 1.0),
      // p/z: only here.
      row("p/z", 1, 0, "accuracy", 1.0),
  };
  return a;
}

DiffSide new_side() {
  DiffSide b{"new", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", {}};
  b.rows = {
      row("p/s", 1, 0, "accuracy", 1.0),   row("p/s", 1, 0, "epochs", 10),
      row("p/s", 1, 0, "ard", 7),          row("p/s", 1, 0, "wall_time", 1.125),
      row("p/s", 1, 1, "accuracy", 0.9),   row("p/s", 1, 1, "epochs", 10),
      row("p/s", 1, 1, "wall_time", 2.25), row("p/s", 2, 0, "accuracy", 0.75),
      row("p/s", 2, 0, "epochs", 12),      row("p/s", 2, 0, "wall_time", 1.25),
      row("p/s", 2, 1, "accuracy", 0.75),  row("p/s", 2, 1, "epochs", 12),
      row("p/s", 2, 1, "wall_time", 1.75), row("p/t", 1, 0, "accuracy", 1.0),
      row("p/t", 1, 0, "wall_time", 2.0),  row("p/t", 1, 0, "joules", 5),
      row("p/t", 2, 0, "accuracy", 1.0),   row("p/t", 2, 0, "wall_time", 4.0),
      row("p/t", 2, 0, "joules", 6),       row("p/v", 1, 0, "accuracy", std::nullopt, "error"),
      row("p/w", 1, 0, "accuracy", 1.0),
  };
  for (auto& r : b.rows) r.git_commit = b.commit;
  return b;
}

// Noisy rows carry the U test's p-value (scipy.stats.mannwhitneyu prints 0.7715034091403082 for
// p/s's wall times); with 2 values a side p is at least 1/3, so even disjoint ranges are "~".
TEST(DiffTest, ComparesDeterministicExactlyAndNoisyByUTest) {
  Table t = diff_table(old_side(), new_side());
  EXPECT_EQ(t.title, "metric diff old -> new");
  EXPECT_EQ(
      render(t, Format::kCsv),
      "cell,seed,metric,old,new,change,spread,p,verdict\n"
      "p/s,1,accuracy,1,1,0,,,same\n"
      "p/s,1,ard,,7,n/a,,,only in new\n"
      "p/s,1,epochs,10,10,0,,,same\n"
      "p/s,2,accuracy,0.5,0.75,+50.00%,,,changed\n"
      "p/s,2,epochs,10,12,+20.00%,,,changed\n"
      "p/s,all,wall_time,1.375,1.5,+9.09%,\"[1, 2] -> [1.125, 2.25] (n=4)\",0.7715034091403082,~\n"
      "p/t,1,accuracy,1,1,0,,,same\n"
      "p/t,2,accuracy,1,1,0,,,same\n"
      "p/t,all,joules,11,5.5,-50.00%,\"[10, 12] -> [5, 6] (n=2)\",0.3333333333333333,~\n"
      "p/t,all,wall_time,1.25,3,+140.00%,\"[1, 1.5] -> [2, 4] (n=2)\",0.3333333333333333,~\n"
      "p/v,1,accuracy,1,,n/a,,,status ok -> error\n");
  EXPECT_EQ(t.notes,
            (std::vector<std::string>{
                "11 rows: 2 changed, 1 only in new, 4 same, 1 status ok -> error, 3 ~",
                "only in old: p/z", "only in new: p/w",
                "noisy metrics with fewer than 4 values on a side cannot reach p < 0.05 "
                "(the U test's smallest p is 0.1 for 3 against 3); add seeds or --repeat"}));
}

DiffSide wall_times(const std::string& label, const std::vector<double>& seconds) {
  DiffSide side{label, label, {}};
  for (std::size_t i = 0; i < seconds.size(); ++i)
    side.rows.push_back(row("c/d", 1, static_cast<std::int64_t>(i), "wall_time", seconds[i]));
  return side;
}

// Five repeats a side, disjoint: p = 2 / C(10, 5) = 0.0079 (scipy: 0.007936507936507936).
TEST(DiffTest, FasterOnlyWhenSignificantAndMovedBeyondTheThreshold) {
  const DiffSide slow = wall_times("a", {3, 3.5, 4, 4.5, 5});
  Table t = diff_table(slow, wall_times("b", {1, 1.5, 2, 2.5, 2.75}));
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][5], Value(std::string("-50.00%")));
  EXPECT_NEAR(std::get<double>(t.rows[0][7]), 0.007936507936507936, 1e-15);
  EXPECT_EQ(t.rows[0].back(), Value(std::string("faster")));
  EXPECT_EQ(diff_table(wall_times("b", {1, 1.5, 2, 2.5, 2.75}), slow).rows[0].back(),
            Value(std::string("slower")));
  // Significant (the same p) but the median moved 5 %: not more than the 5 % threshold.
  const DiffSide base = wall_times("a", {1.0, 1.01, 1.02, 1.03, 1.04});
  const DiffSide shifted = wall_times("b", {1.05, 1.06, 1.07, 1.08, 1.09});
  EXPECT_EQ(diff_table(base, shifted).rows[0].back(), Value(std::string("~")));
  EXPECT_EQ(diff_table(base, shifted, {0.05, 0.01}).rows[0].back(), Value(std::string("slower")));
  // A stricter alpha than p: "~".
  EXPECT_EQ(diff_table(slow, wall_times("b", {1, 1.5, 2, 2.5, 2.75}), {0.005, 0.05}).rows[0].back(),
            Value(std::string("~")));
}

// Wall times of two kinds of machine are not judged, however far apart: the row says "machines
// differ" and the notes name each side's machines. Rows of stores older than the machine field
// ("") are not counted as another machine.
TEST(DiffTest, WallTimesOfDifferentMachinesAreNotJudged) {
  const std::string zen3 = "AMD EPYC (family 25, model 1), 2 CPUs, avx2+fma";
  const std::string zen5 = "AMD EPYC (family 26, model 2), 2 CPUs, avx512f";
  auto on = [](DiffSide side, const std::string& machine) {
    for (StoredRow& r : side.rows) r.machine = machine;
    return side;
  };
  const DiffSide slow = wall_times("a", {3, 3.5, 4, 4.5, 5});
  const DiffSide fast = wall_times("b", {1, 1.5, 2, 2.5, 2.75});
  EXPECT_EQ(diff_table(on(slow, zen3), on(fast, zen3)).rows[0].back(),
            Value(std::string("faster")));
  EXPECT_EQ(diff_table(on(slow, zen3), on(fast, "")).rows[0].back(), Value(std::string("faster")));
  Table t = diff_table(on(slow, zen3), on(fast, zen5));
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].back(), Value(std::string("machines differ")));
  EXPECT_NEAR(std::get<double>(t.rows[0][7]), 0.007936507936507936, 1e-15);  // p still shown
  EXPECT_EQ(t.notes[0], "1 rows: 1 machines differ");
  EXPECT_EQ(t.notes[1], "a ran on " + zen3);
  EXPECT_EQ(t.notes[2], "b ran on " + zen5);
  EXPECT_NE(t.notes[3].find("not judged"), std::string::npos);
  // One side's repeats on two machines: not judged either.
  DiffSide mixed = on(fast, zen3);
  mixed.rows[0].machine = zen5;
  EXPECT_EQ(diff_table(on(slow, zen3), mixed).rows[0].back(),
            Value(std::string("machines differ")));
  // Deterministic metrics stay exact whatever the machines.
  DiffSide a{"a", "a", {row("c/d", 1, 0, "accuracy", 1.0)}};
  DiffSide b{"b", "b", {row("c/d", 1, 0, "accuracy", 1.0)}};
  EXPECT_EQ(diff_table(on(a, zen3), on(b, zen5)).rows[0].back(), Value(std::string("same")));
}

TEST(DiffTest, IdenticalSidesAreAllSame) {
  Table t = diff_table(old_side(), [] {
    DiffSide same = old_side();
    same.label = "again";
    return same;
  }());
  for (const auto& r : t.rows) {
    std::string verdict = std::get<std::string>(r.back());
    EXPECT_TRUE(verdict == "same" || verdict == "~") << verdict;
  }
  EXPECT_EQ(t.notes.front(), "11 rows: 8 same, 3 ~");
}

TEST(DiffTest, EmptySideGivesANoteAndNoRows) {
  DiffSide empty{"new", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", {}};
  Table t = diff_table(old_side(), empty);
  EXPECT_TRUE(t.rows.empty());
  EXPECT_EQ(t.notes, (std::vector<std::string>{"no rows stored for new (bbbbbbbbbbbb)"}));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"cell", "seed", "metric", "old", "new", "change",
                                                 "spread", "p", "verdict"}));
}

TEST(DiffTest, EqualLabelsAreDisambiguatedAndDirtyRowsAreLabelled) {
  DiffSide a{"HEAD", "c", {row("c/d", 1, 0, "wall_time", 3.0)}};
  DiffSide b = a;
  b.rows[0].git_dirty = true;
  Table t = diff_table(a, b);
  EXPECT_EQ(t.columns[3], "HEAD (old)");
  EXPECT_EQ(t.columns[4], "HEAD (new)");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][6], Value(std::string("[3, 3] -> [3, 3] (n=1)")));
  EXPECT_NE(std::find(t.notes.begin(), t.notes.end(),
                      "HEAD: rows from a dirty working tree at c (uncommitted edits)"),
            t.notes.end());
  // n = 1 cannot reach significance: the table says so.
  EXPECT_NE(t.notes.back().find("fewer than 4 values"), std::string::npos);
}

TEST(DiffTest, RelativeChangeFormats) {
  EXPECT_EQ(relative_change(2.0, 2.0), "0");
  EXPECT_EQ(relative_change(-2.0, -1.0), "+50.00%");
  EXPECT_EQ(relative_change(4.0, 3.0), "-25.00%");
  EXPECT_EQ(relative_change(1.0, 1.0 + 1e-12), "+1e-10%");
  EXPECT_EQ(relative_change(0.0, 1.0), "n/a");
  EXPECT_EQ(relative_change(std::nullopt, 1.0), "n/a");
  EXPECT_EQ(relative_change(std::nullopt, std::nullopt), "n/a");
}

}  // namespace
}  // namespace cube
