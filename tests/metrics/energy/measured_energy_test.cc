// Tests of the `energy` metric: it reports the runner's measurement, and says why when there is
// none.
#include "metrics/energy/measured_energy.h"

#include <gtest/gtest.h>

#include "core/spec.h"

namespace cube {
namespace {

TEST(MeasuredEnergyMetric, AsksForEnergyNotTraceAndIsNoisy) {
  auto metric = instantiate<Metric>(parse_spec("energy"), "metric");
  EXPECT_EQ(metric->spec(), "energy");
  EXPECT_TRUE(metric->needs_energy());
  EXPECT_FALSE(metric->needs_trace());
  EXPECT_FALSE(metric->deterministic());
  EXPECT_EQ(metric->value_names(), std::vector<std::string>{"energy_joules"});
}

TEST(MeasuredEnergyMetric, ReportsTheMeasuredJoules) {
  RunOutcome outcome;
  outcome.energy_joules = 12.5;
  auto values = MeasuredEnergyMetric(NoParams{}).finish(outcome);
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].value, std::optional<double>(12.5));
  EXPECT_TRUE(values[0].why_absent.empty());
}

TEST(MeasuredEnergyMetric, AbsentEnergyIsNotApplicableWithTheReason) {
  RunOutcome outcome;
  outcome.energy_unavailable = "no readable energy counter: rapl: no zone";
  auto values = MeasuredEnergyMetric(NoParams{}).finish(outcome);
  EXPECT_FALSE(values[0].value);
  EXPECT_EQ(values[0].why_absent, outcome.energy_unavailable);
  outcome.energy_unavailable.clear();
  EXPECT_EQ(MeasuredEnergyMetric(NoParams{}).finish(outcome)[0].why_absent,
            "energy was not measured");
}

}  // namespace
}  // namespace cube
