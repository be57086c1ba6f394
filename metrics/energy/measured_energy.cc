// cube/metrics/energy/measured_energy.cc: the `energy` metric (measured_energy.h). Not here:
// reading counters (core/energy_meter.cc) or timing the solve (experiments/runner.cc).

#include "metrics/energy/measured_energy.h"

#include <cmath>

namespace cube {

std::vector<MetricValue> MeasuredEnergyMetric::finish(const RunOutcome& outcome) {
  MetricValue value{"energy_joules", std::nullopt};
  if (outcome.energy_joules && std::isfinite(*outcome.energy_joules))
    value.value = *outcome.energy_joules;
  else
    value.why_absent = outcome.energy_unavailable.empty() ? "energy was not measured"
                                                          : outcome.energy_unavailable;
  return {value};
}

CUBE_REGISTER(Metric, MeasuredEnergyMetric, NoParams, "energy",
              "joules of the solve from the machine's energy counters (any solver; n/a with the "
              "reason where there are none; noisy)");

}  // namespace cube
