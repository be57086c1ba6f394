// cube/metrics/dally/dally_cost.cc: ceil(sqrt(cell)) per element read, cells in declaration order.

#include "metrics/dally/dally_cost.h"

#include <algorithm>
#include <cmath>

namespace cube {

std::uint64_t ceil_sqrt(std::uint64_t a) {
  if (a <= 1) return a;
  // isqrt(a - 1) + 1, with the floating estimate corrected to the exact integer root.
  std::uint64_t m = a - 1;
  auto r = std::min<std::uint64_t>(static_cast<std::uint64_t>(std::sqrt(static_cast<double>(m))),
                                   0xffffffffULL);  // isqrt of a 64-bit number fits in 32 bits
  while (r * r > m) --r;
  while (r < 0xffffffffULL && (r + 1) * (r + 1) <= m) ++r;
  return r + 1;
}

void DallyCostMetric::begin(const BufferTable& buffers) {
  buffers_ = &buffers;
  first_cells_.clear();
  next_cell_ = 1;
  cost_ = 0;
  reads_ = 0;
  histogram_.clear();
  traced_ = true;
}

std::uint64_t DallyCostMetric::first_cell(BufferId b) {
  while (first_cells_.size() <= b) {
    first_cells_.push_back(next_cell_);
    next_cell_ += (*buffers_)[static_cast<BufferId>(first_cells_.size() - 1)].elements;
  }
  return first_cells_[b];
}

void DallyCostMetric::consume(std::span<const TraceEvent> events) {
  for (const TraceEvent& e : events) {
    if (e.kind != EventKind::kRead) continue;
    std::uint64_t cell = first_cell(e.buffer) + e.offset;
    // Consecutive cells share a ring: add ring by ring instead of element by element.
    std::uint64_t left = e.count;
    while (left > 0) {
      std::uint64_t ring = ceil_sqrt(cell);
      std::uint64_t ring_end = ring * ring;  // last cell of this ring
      std::uint64_t n = std::min(left, ring_end - cell + 1);
      cost_ += ring * n;
      histogram_[ring] += n;
      cell += n;
      left -= n;
    }
    reads_ += e.count;
  }
}

std::vector<MetricValue> DallyCostMetric::finish(const RunOutcome&) {
  if (!traced_) return {{"dally", std::nullopt}, {"dally_reads", std::nullopt}};
  return {{"dally", static_cast<double>(cost_)}, {"dally_reads", static_cast<double>(reads_)}};
}

std::map<std::uint64_t, std::uint64_t> dally_distance_histogram(const Trace& trace) {
  DallyCostMetric metric{NoParams{}};
  trace.replay(metric);
  return metric.histogram();
}

CUBE_REGISTER(Metric, DallyCostMetric, NoParams, "dally",
              "explicit-address cost: ceil(sqrt(cell)) per element read, cells in declaration "
              "order (metrics.md §7)");

}  // namespace cube
