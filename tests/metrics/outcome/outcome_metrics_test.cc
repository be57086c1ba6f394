// Tests of metrics/outcome: accuracy, wall_time and epochs read off the RunOutcome, with
// n/a (nullopt) where the outcome has no value, and wall_time marked non-deterministic.

#include "metrics/outcome/outcome_metrics.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cube {
namespace {

std::optional<double> value_of(const std::string& name, const RunOutcome& outcome) {
  std::unique_ptr<Metric> metric = instantiate<Metric>(parse_spec(name), "metric");
  std::vector<MetricValue> values = metric->finish(outcome);
  EXPECT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].name, name);
  return values[0].value;
}

TEST(OutcomeMetricsTest, RegisteredWithoutParametersAndWithoutTrace) {
  for (const char* name : {"accuracy", "wall_time", "epochs"}) {
    auto metric = instantiate<Metric>(parse_spec(name), "metric");
    EXPECT_EQ(metric->name(), name);
    EXPECT_EQ(metric->spec(), name);
    EXPECT_FALSE(metric->needs_trace()) << name;
    EXPECT_EQ(metric->value_names(), std::vector<std::string>{name});
    EXPECT_TRUE(MetricRegistry::instance().find(name)->schema.params.empty());
    EXPECT_FALSE(MetricRegistry::instance().find(name)->doc.empty());
  }
}

TEST(OutcomeMetricsTest, OnlyWallTimeIsNonDeterministic) {
  EXPECT_TRUE(instantiate<Metric>(parse_spec("accuracy"), "metric")->deterministic());
  EXPECT_TRUE(instantiate<Metric>(parse_spec("epochs"), "metric")->deterministic());
  EXPECT_FALSE(instantiate<Metric>(parse_spec("wall_time"), "metric")->deterministic());
}

TEST(OutcomeMetricsTest, ReportTheOutcomeFields) {
  RunOutcome outcome;
  outcome.accuracy = 0.955;
  outcome.solve_seconds = 0.089;
  outcome.epochs = 49;
  outcome.trace_events = 12345;
  EXPECT_EQ(value_of("accuracy", outcome), 0.955);
  EXPECT_EQ(value_of("wall_time", outcome), 0.089);
  EXPECT_EQ(value_of("epochs", outcome), 49.0);
}

TEST(OutcomeMetricsTest, AbsentFieldsAreNotApplicableNotZero) {
  RunOutcome outcome;  // no accuracy, no epochs (an exact solver)
  outcome.solve_seconds = 2.5e-4;
  EXPECT_EQ(value_of("accuracy", outcome), std::nullopt);
  EXPECT_EQ(value_of("epochs", outcome), std::nullopt);
  EXPECT_EQ(value_of("wall_time", outcome), 2.5e-4);
  outcome.epochs = 0;  // zero epochs is a value, distinct from n/a
  outcome.accuracy = 0.0;
  EXPECT_EQ(value_of("epochs", outcome), 0.0);
  EXPECT_EQ(value_of("accuracy", outcome), 0.0);
}

TEST(OutcomeMetricsTest, IgnoreTheTrace) {
  auto metric = instantiate<Metric>(parse_spec("epochs"), "metric");
  Trace trace;
  BufferId a = trace.buffers.declare("a", 4, 2);
  trace.events = {{a, 0, 2, EventKind::kWrite}, {a, 0, 2, EventKind::kRead}};
  trace.replay(*metric, 1);
  RunOutcome outcome;
  outcome.epochs = 7;
  EXPECT_EQ(metric->finish(outcome)[0].value, 7.0);
}

}  // namespace
}  // namespace cube
