// cube/metrics/energy/measured_energy.h: `energy`, the joules a solve took, measured on the
// machine's own energy counters (RAPL, perf's power PMU, NVML; core/energy_meter.h).
//
// What: the runner brackets the untraced solve of every cell that asks for this metric (any
// solver, any problem) with an EnergyMeter window and hands the total over the counted domains
// (package + dram + gpu) to finish() as RunOutcome::energy_joules. The metric reports it as
// `energy_joules`, in joules; where nothing was measured the value is n/a and the row's message
// says why (no readable counter on this machine, a counter read failed, or the cell ran beside
// other jobs: package counters see every process, so the runner measures only with -j 1).
// Not deterministic (a physical measurement). No parameters; no trace. Cost: O(1).
// Compare with `energy_estimate` (energy_estimate.h), a model of memory-access energy priced
// on the trace.
#pragma once

#include <string>
#include <vector>

#include "metrics/metric.h"

namespace cube {

class MeasuredEnergyMetric : public Metric {
 public:
  explicit MeasuredEnergyMetric(NoParams) {}
  bool needs_energy() const override { return true; }
  bool deterministic() const override { return false; }
  std::vector<std::string> value_names() const override { return {"energy_joules"}; }
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;
};

}  // namespace cube
