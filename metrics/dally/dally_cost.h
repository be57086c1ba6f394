// cube/metrics/dally/dally_cost.h: the simplified Dally explicit-address cost (metrics.md §7).
//
// Memory cells are numbered 1, 2, 3, ... in a spiral around the core; cell a sits at Manhattan
// distance ceil(sqrt(a)). Every element read costs ceil(sqrt(cell)); writes are free.
//   dally = sum over element reads of csqrt(cell),  csqrt(a) = isqrt(a - 1) + 1 for a >= 1.
// Layout policy: cells are handed out in buffer declaration order, one cell per element,
// starting at 1: cell(b, i) = 1 + sum_{b' < b} elements(b') + i. The Dally IR interpreter declares
// a single buffer "mem" whose element i is cell i + 1, so an IR program's trace is priced exactly
// as the scorers price the program (exit reads included, since the interpreter emits them).
// Granularity: element level (a read of count n is n cell reads). kFree and kOpEnd are ignored.
// Values: "dally" (the cost, an exact integer) and "dally_reads" (element reads priced).
// O(count) per event with O(1) per element. Citation: Dally, "On the model of computation",
// CACM 65(9), 2022; cybertronai/simplified-dally-model.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "metrics/metric.h"

namespace cube {

// ceil(sqrt(a)) for a >= 1, exactly (integer square root, no floating point at the boundary).
std::uint64_t ceil_sqrt(std::uint64_t a);

// Number of element reads at each distance ceil(sqrt(cell)) over a whole trace, cells numbered
// as the metric numbers them (the histogram of dally-ir.md §5; its sum of distance x reads is
// the `dally` cost). O(events + rings touched).
std::map<std::uint64_t, std::uint64_t> dally_distance_histogram(const Trace& trace);

class DallyCostMetric : public Metric {
 public:
  explicit DallyCostMetric(NoParams) {}
  bool needs_trace() const override { return true; }
  std::vector<std::string> value_names() const override { return {"dally", "dally_reads"}; }
  void begin(const BufferTable& buffers) override;
  void consume(std::span<const TraceEvent> events) override;
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;

  // Reads per distance so far.
  const std::map<std::uint64_t, std::uint64_t>& histogram() const { return histogram_; }

 private:
  // First cell of buffer b, computed as buffers appear (the table may grow during a run).
  std::uint64_t first_cell(BufferId b);

  const BufferTable* buffers_ = nullptr;
  std::vector<std::uint64_t> first_cells_;
  std::uint64_t next_cell_ = 1;
  std::uint64_t cost_ = 0;
  std::uint64_t reads_ = 0;
  std::map<std::uint64_t, std::uint64_t> histogram_;
  bool traced_ = false;
};

}  // namespace cube
