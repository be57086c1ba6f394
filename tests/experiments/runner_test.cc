// Tests of experiments/runner: one job's rows, statuses, and value names that collide.

#include "experiments/runner.h"

#include <gtest/gtest.h>

#include <set>

namespace cube {
namespace {

TEST(RunnerTest, OneJobGivesOneRowPerValueInOrder) {
  Job job{"sparse_parity(n=12,k=3,n_train=200,n_test=50)", "gf2", {"accuracy", "ard", "epochs"}, 4};
  auto rows = run_job(job, 0, RunOptions{});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].metric, "accuracy");
  EXPECT_EQ(*rows[0].value, 1.0);
  EXPECT_EQ(rows[1].metric, "ard");
  EXPECT_TRUE(rows[1].value.has_value());
  EXPECT_EQ(rows[2].metric, "epochs");
  EXPECT_FALSE(rows[2].value.has_value());  // gf2 has no epochs: n/a, not 0
  for (const auto& row : rows) {
    EXPECT_EQ(row.status, "ok");
    EXPECT_EQ(row.cell, job.cell());
    EXPECT_EQ(row.seed, 4u);
  }
}

TEST(RunnerTest, CollidingValueNamesAreQualifiedByTheMetricSpec) {
  Job job{"sparse_parity(n=12,k=3,n_train=200,n_test=50)", "gf2",
          {"cache(capacity=8192)", "cache(capacity=16)", "ard"}, 4};
  auto rows = run_job(job, 0, RunOptions{});
  std::set<std::string> names;
  for (const auto& row : rows) {
    EXPECT_EQ(row.status, "ok") << row.message;
    names.insert(row.metric);
  }
  EXPECT_EQ(names.size(), rows.size());
  EXPECT_TRUE(names.count("cache(capacity=8192):cache.hits"));
  EXPECT_TRUE(names.count("cache(capacity=16):cache.hits"));
  EXPECT_TRUE(names.count("ard"));
}

TEST(RunnerTest, ExceptionsBecomeErrorRows) {
  Job job{"sparse_parity(n=12,k=3)", "gf2", {"accuracy", "nope"}, 1};
  auto rows = run_job(job, 0, RunOptions{});
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.status, "error");
    EXPECT_NE(row.message.find("unknown metric 'nope'"), std::string::npos) << row.message;
    EXPECT_TRUE(is_failure(row.status));
  }
}

}  // namespace
}  // namespace cube
