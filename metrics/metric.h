// cube/metrics/metric.h: the metric axis of the cube.
//
// A Metric is a TraceSink: if needs_trace() is true the runner feeds it the events of a traced
// solve (begin, consume*, end), then calls finish() with the run's outcome. Metrics never
// include solver or problem code; the trace and RunOutcome are all they see.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/outcome.h"
#include "core/registry.h"
#include "core/trace.h"

namespace cube {

// One named value. std::nullopt means "not defined for this run" (stored as NULL, shown n/a),
// never a silent 0; `why_absent` may then say why (stored in the row's message).
struct MetricValue {
  MetricValue(std::string name, std::optional<double> value, std::string why_absent = "")
      : name(std::move(name)), value(value), why_absent(std::move(why_absent)) {}
  std::string name;
  std::optional<double> value;
  std::string why_absent;
};

class Metric : public Module, public TraceSink {
 public:
  // True if the metric prices the memory trace; the runner then records one.
  virtual bool needs_trace() const { return false; }
  // True if the metric reads RunOutcome::energy_joules; the runner then brackets the untraced
  // solve with the machine's energy counters (and costs nothing when no metric asks).
  virtual bool needs_energy() const { return false; }
  // False for noisy measurements (wall time): diffs compare them with their spread, not exactly.
  virtual bool deterministic() const { return true; }
  // The value names this metric reports, in order (a metric may report several).
  virtual std::vector<std::string> value_names() const { return {name()}; }

  void consume(std::span<const TraceEvent>) override {}

  // Final values, one per value_names() entry, in that order.
  virtual std::vector<MetricValue> finish(const RunOutcome& outcome) = 0;
};

// Feeds the reads and writes of `events` to a buffer-level model with write(BufferId, count) and
// read(BufferId, count) (MemTracker, CacheTracker, ...): each event is one access of `count`
// elements of its buffer; frees and operation boundaries are ignored, as in the reference
// trackers, which have neither.
template <class BufferModel>
void feed_buffer_events(BufferModel& model, std::span<const TraceEvent> events) {
  for (const TraceEvent& e : events) {
    if (e.kind == EventKind::kWrite)
      model.write(e.buffer, e.count);
    else if (e.kind == EventKind::kRead)
      model.read(e.buffer, e.count);
  }
}

template <>
struct AxisName<Metric> {
  static constexpr const char* value = "metric";
};

using MetricRegistry = Registry<Metric>;

}  // namespace cube
