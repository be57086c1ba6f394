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

TEST(DiffTest, ComparesDeterministicExactlyAndNoisyByRange) {
  Table t = diff_table(old_side(), new_side());
  EXPECT_EQ(t.title, "metric diff old -> new");
  EXPECT_EQ(render(t, Format::kCsv),
            "cell,seed,metric,old,new,change,spread,verdict\n"
            "p/s,1,accuracy,1,1,0,,same\n"
            "p/s,1,ard,,7,n/a,,only in new\n"
            "p/s,1,epochs,10,10,0,,same\n"
            "p/s,2,accuracy,0.5,0.75,+50.00%,,changed\n"
            "p/s,2,epochs,10,12,+20.00%,,changed\n"
            "p/s,all,wall_time,1.375,1.5,+9.09%,\"[1, 2] -> [1.125, 2.25] (n=4)\",~ within noise\n"
            "p/t,1,accuracy,1,1,0,,same\n"
            "p/t,2,accuracy,1,1,0,,same\n"
            "p/t,all,joules,11,5.5,-50.00%,\"[10, 12] -> [5, 6] (n=2)\",lower\n"
            "p/t,all,wall_time,1.25,3,+140.00%,\"[1, 1.5] -> [2, 4] (n=2)\",slower\n"
            "p/v,1,accuracy,1,,n/a,,status ok -> error\n");
  EXPECT_EQ(t.notes, (std::vector<std::string>{
                         "11 rows: 2 changed, 1 lower, 1 only in new, 4 same, 1 slower, "
                         "1 status ok -> error, 1 ~ within noise",
                         "only in old: p/z", "only in new: p/w"}));
}

TEST(DiffTest, FasterWhenTheNewRangeIsBelowTheOld) {
  DiffSide a{"a", "a", {row("c/d", 1, 0, "wall_time", 3.0), row("c/d", 2, 0, "wall_time", 4.0)}};
  DiffSide b{"b", "b", {row("c/d", 1, 0, "wall_time", 1.0), row("c/d", 2, 0, "wall_time", 2.0)}};
  Table t = diff_table(a, b);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].back(), Value(std::string("faster")));
  EXPECT_EQ(t.rows[0][5], Value(std::string("-57.14%")));
}

TEST(DiffTest, IdenticalSidesAreAllSame) {
  Table t = diff_table(old_side(), [] {
    DiffSide same = old_side();
    same.label = "again";
    return same;
  }());
  for (const auto& r : t.rows) {
    std::string verdict = std::get<std::string>(r.back());
    EXPECT_TRUE(verdict == "same" || verdict == "~ within noise") << verdict;
  }
  EXPECT_EQ(t.notes.front(), "11 rows: 8 same, 3 ~ within noise");
}

TEST(DiffTest, EmptySideGivesANoteAndNoRows) {
  DiffSide empty{"new", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", {}};
  Table t = diff_table(old_side(), empty);
  EXPECT_TRUE(t.rows.empty());
  EXPECT_EQ(t.notes, (std::vector<std::string>{"no rows stored for new (bbbbbbbbbbbb)"}));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"cell", "seed", "metric", "old", "new", "change",
                                                 "spread", "verdict"}));
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
  // n = 1 cannot show noise: the table says so.
  EXPECT_NE(t.notes.back().find("fewer than 2 values"), std::string::npos);
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
