// cube/core/outcome.h: what a finished solve tells the metrics, besides the trace.
//
// The runner fills a RunOutcome from the solver's result and the problem's evaluation; metrics
// read it in Metric::finish(). It is vocabulary shared by all three axes and holds no code.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cube {

// One point of a learning curve: series "train_loss" or "val_loss", at a training step.
struct CurvePoint {
  std::string series;
  std::int64_t step = 0;
  double value = 0;
  bool operator==(const CurvePoint&) const = default;
};

struct RunOutcome {
  std::optional<double> accuracy;      // fraction of held-out samples classified right, [0, 1]
  double solve_seconds = 0;            // wall time of the untraced solve alone (no data gen)
  std::optional<std::int64_t> epochs;  // passes over the training set, for iterative solvers
  std::uint64_t trace_events = 0;      // events recorded by the traced solve (0 if untraced)
  // Named scalars the solver measured itself (e.g. "val_loss", "tokens_per_second"); metrics
  // pick the ones they report. Units are part of the name's documentation in the solver header.
  std::map<std::string, double> measures;
  std::vector<CurvePoint> curve;  // learning curve, in step order per series
  // Energy of the untraced solve from the machine's counters (core/energy_meter.h), in joules,
  // measured by the runner around the solve when a metric asks for it (Metric::needs_energy).
  // nullopt when not measured; energy_unavailable then says why ("no readable counter: ...").
  std::optional<double> energy_joules;
  std::string energy_unavailable;
};

// Per-solve context handed to solvers: the seed and a cooperative deadline.
class RunContext {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RunContext(std::uint64_t seed, std::optional<Clock::time_point> deadline = {})
      : seed_(seed), deadline_(deadline) {}

  std::uint64_t seed() const { return seed_; }
  // Iterative solvers poll this between steps and return SolveStatus::kTimedOut when true.
  bool out_of_time() const { return deadline_ && Clock::now() >= *deadline_; }

 private:
  std::uint64_t seed_;
  std::optional<Clock::time_point> deadline_;
};

}  // namespace cube
