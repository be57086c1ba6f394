// cube/metrics/mem_tracker/mem_tracker.h: ARD and clock-DMC, the buffer-level clock metrics.
//
// What: the reference MemTracker of SutroYaro (src/sparse_parity/tracker.py at 03d0e0691c52,
// specified with test vectors in metrics.md §2). A global clock counts elements ("floats")
// touched; every write and every read of n elements advances it by n. A read's distance is
//   d = clock at the read - clock at the buffer's last write   (-1 if never written),
// so a buffer is never "refreshed" by being read, and d counts repeats: it is not an LRU stack
// distance. Over the valid reads (d >= 0):
//   weighted_ard = Σ n·d / Σ n      (0 when there is no valid read or Σ n = 0)
//   dmc          = Σ n·sqrt(d)      (real square root; absent when there is no valid read)
// dmc approximates the data movement complexity of Ding et al., "DMC4ML: Data Movement
// Complexity for Machine Learning" (arXiv:2312.14441), where an access at stack distance d costs
// sqrt(d): here every element of a buffer is given the buffer's clock distance. Reads of
// never-written buffers advance the clock but are left out of both sums (a known gaming route,
// metrics.md §2.2).
//
// Charges: reads only, n·sqrt(d) each; writes cost nothing but advance the clock.
//
// Granularity: buffer-level. A trace event (buffer b, count c) is one access of c elements of
// b: a write is write(b, c), a read is read(b, c); offsets are ignored; kFree and kOpEnd events
// are ignored. The numbers therefore depend on how finely the solver traces (metrics.md §2.2:
// coverage decides the number); compare them only across solvers traced alike.
//
// Exactness: Σ n·d and Σ n are exact integers and dmc is summed in event order in IEEE double,
// as the reference does, so the results match it bit for bit while Σ n·d < 2^53 (all vectors
// of metrics.md §2.3 do) and to a few ulps beyond that.
//
// Cost: O(1) amortised time per event (state is a vector indexed by BufferId, grown as buffers
// appear); O(number of buffers) memory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/trace.h"
#include "metrics/metric.h"

namespace cube {

// The totals of a MemTracker run (the reference's summary(), without per_buffer).
struct MemTrackerSummary {
  std::uint64_t total_floats = 0;  // final clock: every write and read, valid or not, repeats too
  std::uint64_t reads = 0;         // valid reads (d >= 0)
  std::uint64_t writes = 0;        // write calls
  std::uint64_t floats_read = 0;   // Σ n over valid reads
  double weighted_ard = 0;         // Σ n·d / Σ n over valid reads; 0 if none or Σ n = 0
  std::optional<double> dmc;       // Σ n·sqrt(d) over valid reads; absent if none
};

// Unweighted distance statistics of the valid reads of one buffer (the reference's per_buffer).
struct BufferReadStats {
  std::uint64_t reads = 0;
  std::int64_t min_distance = 0;
  std::int64_t max_distance = 0;
  double mean_distance = 0;  // Σ d / reads
};

// The clock engine, driven directly (tests) or through the `ard` / `clock_dmc` metrics.
class MemTracker {
 public:
  static constexpr std::int64_t kNeverWritten = -1;

  // Records that `n` elements of `b` are written now, then advances the clock by n.
  void write(BufferId b, std::uint64_t n);
  // Records a read of `n` elements of `b` and advances the clock by n. Returns its distance
  // (clock minus the time of b's last write), or kNeverWritten.
  std::int64_t read(BufferId b, std::uint64_t n);
  // A read with the size omitted: n = the size of b's last write, or 0 if b was never written.
  std::int64_t read(BufferId b);

  std::uint64_t clock() const { return clock_; }
  MemTrackerSummary summary() const;
  // Statistics of b's valid reads; nullopt when b has none.
  std::optional<BufferReadStats> buffer_stats(BufferId b) const;

  // Back to the state of a fresh tracker.
  void reset();

 private:
  __extension__ using UInt128 = unsigned __int128;  // exact Σ n·d, as Python's integers

  struct BufferState {
    bool written = false;
    std::uint64_t last_write_time = 0;
    std::uint64_t last_write_size = 0;
    std::uint64_t reads = 0;  // valid reads
    std::int64_t min_distance = 0;
    std::int64_t max_distance = 0;
    UInt128 distance_sum = 0;
  };
  BufferState& state(BufferId b) {
    if (b >= buffers_.size()) buffers_.resize(static_cast<std::size_t>(b) + 1);
    return buffers_[b];
  }

  std::vector<BufferState> buffers_;  // by BufferId
  std::uint64_t clock_ = 0;
  std::uint64_t reads_ = 0;
  std::uint64_t writes_ = 0;
  std::uint64_t floats_read_ = 0;
  UInt128 weighted_distance_sum_ = 0;  // Σ n·d
  double dmc_ = 0;                     // Σ n·sqrt(d), in event order
};

// A trace metric that feeds every read and write event to a MemTracker. No parameters.
// begin() resets the tracker, so one instance can price several traces in turn.
class MemTrackerMetric : public Metric {
 public:
  bool needs_trace() const override { return true; }
  void begin(const BufferTable& buffers) override;
  void consume(std::span<const TraceEvent> events) override;

  const MemTracker& tracker() const { return tracker_; }

 protected:
  // False until a trace has begun: finish() then reports nullopt (the run was not traced).
  bool traced() const { return traced_; }

 private:
  MemTracker tracker_;
  bool traced_ = false;
};

// `ard`: value "ard" = weighted_ard (floats), 0 when the trace has no valid read (as the
// reference reports it).
class ArdMetric : public MemTrackerMetric {
 public:
  explicit ArdMetric(NoParams) {}
  std::vector<std::string> value_names() const override { return {"ard"}; }
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;
};

// `clock_dmc`: value "clock_dmc" = dmc (floats·sqrt(floats)), nullopt when no valid read.
class ClockDmcMetric : public MemTrackerMetric {
 public:
  explicit ClockDmcMetric(NoParams) {}
  std::vector<std::string> value_names() const override { return {"clock_dmc"}; }
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;
};

}  // namespace cube
