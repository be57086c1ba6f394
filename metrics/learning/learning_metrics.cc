// cube/metrics/learning/learning_metrics.cc: loss, throughput, flops and mfu, copied from
// the measures a training solver reports. Not here: measuring anything, or pricing the trace.

#include "metrics/learning/learning_metrics.h"

#include <cmath>

namespace cube {

std::vector<MetricValue> MeasureMetric::finish(const RunOutcome& outcome) {
  std::vector<MetricValue> values;
  values.reserve(names_.size());
  for (const std::string& name : names_) {
    MetricValue value{name, std::nullopt};
    auto it = outcome.measures.find(name);
    // A non-finite measure (a diverged loss) cannot be stored or diffed as a number: n/a.
    if (it != outcome.measures.end() && std::isfinite(it->second)) value.value = it->second;
    values.push_back(std::move(value));
  }
  return values;
}

CUBE_REGISTER(Metric, LossMetric, NoParams, "loss",
              "train, val and best val cross-entropy of a training run, nats per char");
CUBE_REGISTER(Metric, ThroughputMetric, NoParams, "throughput",
              "training tokens per second of wall time (noisy)");
CUBE_REGISTER(Metric, FlopsMetric, NoParams, "flops",
              "floating-point operations per training iteration, by the solver's formula");
CUBE_REGISTER(Metric, MfuMetric, NoParams, "mfu",
              "achieved GFLOP/s and its fraction of the machine's float32 FMA ceiling (noisy)");

}  // namespace cube
