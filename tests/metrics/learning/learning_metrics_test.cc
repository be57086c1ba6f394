// Tests of metrics/learning: loss, throughput, flops and mfu copy the documented measures
// of RunOutcome::measures, report n/a (nullopt) for absent or non-finite ones, and declare which
// of them are deterministic.

#include "metrics/learning/learning_metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/spec.h"

namespace cube {
namespace {

std::vector<MetricValue> run(const std::string& name, const RunOutcome& outcome) {
  std::unique_ptr<Metric> metric = instantiate<Metric>(parse_spec(name), "metric");
  return metric->finish(outcome);
}

struct Expected {
  const char* metric;
  std::vector<std::string> values;
  bool deterministic;
};

const std::vector<Expected> kMetrics = {
    {"loss", {"train_loss", "val_loss", "best_val_loss"}, true},
    {"throughput", {"tokens_per_second"}, false},
    {"flops", {"flops_per_iteration"}, true},
    {"mfu", {"gflops_per_second", "mfu"}, false},
};

TEST(LearningMetricsTest, RegisteredWithoutParametersOrTraceWithTheDocumentedValues) {
  for (const Expected& e : kMetrics) {
    SCOPED_TRACE(e.metric);
    auto metric = instantiate<Metric>(parse_spec(e.metric), "metric");
    EXPECT_EQ(metric->spec(), e.metric);
    EXPECT_FALSE(metric->needs_trace());
    EXPECT_EQ(metric->value_names(), e.values);
    EXPECT_EQ(metric->deterministic(), e.deterministic);
  }
}

TEST(LearningMetricsTest, CopiesEachMeasureByName) {
  RunOutcome outcome;
  outcome.measures = {{"train_loss", 1.7512},
                      {"val_loss", 1.8861},
                      {"best_val_loss", 1.8803},
                      {"tokens_per_second", 31415.5},
                      {"flops_per_iteration", 3.8e9},
                      {"gflops_per_second", 155.25},
                      {"mfu", 0.41},
                      {"unrelated", 7.0}};
  for (const Expected& e : kMetrics) {
    SCOPED_TRACE(e.metric);
    std::vector<MetricValue> values = run(e.metric, outcome);
    ASSERT_EQ(values.size(), e.values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(values[i].name, e.values[i]);
      ASSERT_TRUE(values[i].value.has_value());
      EXPECT_EQ(*values[i].value, outcome.measures.at(e.values[i]));  // copied, not recomputed
    }
  }
}

TEST(LearningMetricsTest, MissingMeasuresAreNotApplicableNeverZero) {
  RunOutcome outcome;  // an exact solver: no training measures
  outcome.accuracy = 1.0;
  outcome.solve_seconds = 2.5;
  for (const Expected& e : kMetrics)
    for (const MetricValue& v : run(e.metric, outcome)) EXPECT_FALSE(v.value) << v.name;

  // Some present, some absent: each value stands alone.
  outcome.measures = {{"val_loss", 2.0}, {"mfu", 0.0}};
  std::vector<MetricValue> loss = run("loss", outcome);
  EXPECT_FALSE(loss[0].value);
  EXPECT_EQ(loss[1].value, std::optional<double>(2.0));
  EXPECT_FALSE(loss[2].value);
  std::vector<MetricValue> mfu = run("mfu", outcome);
  EXPECT_FALSE(mfu[0].value);
  EXPECT_EQ(mfu[1].value, std::optional<double>(0.0));  // a measured 0 stays 0
}

TEST(LearningMetricsTest, NonFiniteMeasuresAreNotApplicable) {
  RunOutcome outcome;
  outcome.measures = {{"train_loss", std::numeric_limits<double>::quiet_NaN()},
                      {"val_loss", std::numeric_limits<double>::infinity()},
                      {"best_val_loss", 3.5}};
  std::vector<MetricValue> loss = run("loss", outcome);
  EXPECT_FALSE(loss[0].value);
  EXPECT_FALSE(loss[1].value);
  EXPECT_EQ(loss[2].value, std::optional<double>(3.5));
}

}  // namespace
}  // namespace cube
