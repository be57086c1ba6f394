// cube/metrics/mem_tracker/mem_tracker.cc: the MemTracker clock and the `ard` and `clock_dmc`
// metrics built on it. Not here: element-level or LRU distances (metrics.md §3).

#include "metrics/mem_tracker/mem_tracker.h"

#include <algorithm>
#include <cmath>

namespace cube {

void MemTracker::write(BufferId b, std::uint64_t n) {
  BufferState& s = state(b);
  s.written = true;
  s.last_write_time = clock_;
  s.last_write_size = n;
  ++writes_;
  clock_ += n;
}

std::int64_t MemTracker::read(BufferId b, std::uint64_t n) {
  BufferState& s = state(b);
  std::int64_t d = kNeverWritten;
  if (s.written) {
    d = static_cast<std::int64_t>(clock_ - s.last_write_time);
    ++reads_;
    floats_read_ += n;
    weighted_distance_sum_ += static_cast<UInt128>(n) * static_cast<std::uint64_t>(d);
    // The reference multiplies float(n) by sqrt(float(d)) and adds in event order; so do we.
    dmc_ += static_cast<double>(n) * std::sqrt(static_cast<double>(d));
    s.min_distance = s.reads == 0 ? d : std::min(s.min_distance, d);
    s.max_distance = s.reads == 0 ? d : std::max(s.max_distance, d);
    s.distance_sum += static_cast<std::uint64_t>(d);
    ++s.reads;
  }
  // Reads advance the clock whether or not they are valid (metrics.md §2.1).
  clock_ += n;
  return d;
}

std::int64_t MemTracker::read(BufferId b) { return read(b, state(b).last_write_size); }

MemTrackerSummary MemTracker::summary() const {
  MemTrackerSummary out;
  out.total_floats = clock_;
  out.reads = reads_;
  out.writes = writes_;
  out.floats_read = floats_read_;
  if (reads_ > 0) {
    if (floats_read_ > 0)
      out.weighted_ard =
          static_cast<double>(weighted_distance_sum_) / static_cast<double>(floats_read_);
    out.dmc = dmc_;
  }
  return out;
}

std::optional<BufferReadStats> MemTracker::buffer_stats(BufferId b) const {
  if (b >= buffers_.size() || buffers_[b].reads == 0) return std::nullopt;
  const BufferState& s = buffers_[b];
  BufferReadStats out;
  out.reads = s.reads;
  out.min_distance = s.min_distance;
  out.max_distance = s.max_distance;
  out.mean_distance = static_cast<double>(s.distance_sum) / static_cast<double>(s.reads);
  return out;
}

void MemTracker::reset() { *this = MemTracker(); }

void MemTrackerMetric::begin(const BufferTable& /*buffers*/) {
  tracker_.reset();
  traced_ = true;
}

void MemTrackerMetric::consume(std::span<const TraceEvent> events) {
  feed_buffer_events(tracker_, events);
}

std::vector<MetricValue> ArdMetric::finish(const RunOutcome& /*outcome*/) {
  std::optional<double> value;
  if (traced()) value = tracker().summary().weighted_ard;
  return {MetricValue{"ard", value}};
}

std::vector<MetricValue> ClockDmcMetric::finish(const RunOutcome& /*outcome*/) {
  std::optional<double> value;
  if (traced()) value = tracker().summary().dmc;
  return {MetricValue{"clock_dmc", value}};
}

CUBE_REGISTER(Metric, ArdMetric, NoParams, "ard",
              "weighted average reuse distance: buffer-level clock distance since last write "
              "(metrics.md §2)");
CUBE_REGISTER(Metric, ClockDmcMetric, NoParams, "clock_dmc",
              "clock-DMC: sum of size*sqrt(clock distance since last write) over reads "
              "(metrics.md §2)");

}  // namespace cube
