// cube/metrics/outcome/outcome_metrics.cc: accuracy, wall_time and epochs, copied from the
// RunOutcome the runner fills. Not here: anything that prices the trace.

#include "metrics/outcome/outcome_metrics.h"

namespace cube {

std::vector<MetricValue> AccuracyMetric::finish(const RunOutcome& outcome) {
  return {MetricValue{"accuracy", outcome.accuracy}};
}

std::vector<MetricValue> WallTimeMetric::finish(const RunOutcome& outcome) {
  return {MetricValue{"wall_time", outcome.solve_seconds}};
}

std::vector<MetricValue> EpochsMetric::finish(const RunOutcome& outcome) {
  std::optional<double> value;
  if (outcome.epochs) value = static_cast<double>(*outcome.epochs);
  return {MetricValue{"epochs", value}};
}

CUBE_REGISTER(Metric, AccuracyMetric, NoParams, "accuracy",
              "fraction of held-out samples classified right, in [0, 1]");
CUBE_REGISTER(Metric, WallTimeMetric, NoParams, "wall_time",
              "seconds of the untraced solve alone (noisy: diffed by medians and ranges)");
CUBE_REGISTER(Metric, EpochsMetric, NoParams, "epochs",
              "passes over the training set (n/a for solvers without epochs)");

}  // namespace cube
