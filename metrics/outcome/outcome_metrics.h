// cube/metrics/outcome/outcome_metrics.h: metrics read off the run's outcome, not its trace.
//
// Each has no parameters (cube::NoParams), needs no trace, and reports one value named after it:
//   accuracy   RunOutcome::accuracy: fraction of held-out samples right, in [0, 1];
//              nullopt when the problem has no accuracy
//   wall_time  RunOutcome::solve_seconds: seconds of the untraced solve alone (steady clock);
//              not deterministic, so diffs compare it by medians and ranges
//   epochs     RunOutcome::epochs as a double; nullopt when the solver has no epochs
// Granularity: none (they ignore the trace). Cost: O(1).
#pragma once

#include <string>
#include <vector>

#include "metrics/metric.h"

namespace cube {

class AccuracyMetric : public Metric {
 public:
  explicit AccuracyMetric(NoParams) {}
  std::vector<std::string> value_names() const override { return {"accuracy"}; }
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;
};

class WallTimeMetric : public Metric {
 public:
  explicit WallTimeMetric(NoParams) {}
  bool deterministic() const override { return false; }
  std::vector<std::string> value_names() const override { return {"wall_time"}; }
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;
};

class EpochsMetric : public Metric {
 public:
  explicit EpochsMetric(NoParams) {}
  std::vector<std::string> value_names() const override { return {"epochs"}; }
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;
};

}  // namespace cube
