// cube/metrics/lru/lru_dmd.cc: the element and buffer write-recency LRU engines and the
// `lru_dmd` / `buffer_lru_dmd` metrics. Not here: the stack itself (stack_distance), ByteDMD.

#include "metrics/lru/lru_dmd.h"

#include <algorithm>
#include <cmath>

namespace cube {

namespace {
// How many elements ahead of the current one a bulk event prefetches hash slots.
constexpr std::uint64_t kPrefetchAhead = 16;
}  // namespace

void ElementLruDmd::reserve(BufferId b, std::uint64_t elements) {
  CUBE_CHECK(b < (1u << 30), "lru_dmd: buffer id out of range");
  if (b >= extent_.size()) {
    extent_.resize(static_cast<std::size_t>(b) + 1, 0);
    base_.resize(static_cast<std::size_t>(b) + 1, 0);
  }
  CUBE_CHECK(extent_[b] == 0, "lru_dmd: buffer " << b << " reserved twice");
  base_[b] = stack_.dense_ids();
  extent_[b] = elements;
  stack_.use_dense_ids(base_[b] + elements);
}

void ElementLruDmd::write(BufferId b, std::uint64_t offset, std::uint64_t count) {
  CUBE_CHECK(b < (1u << 30) && offset + count <= (std::uint64_t{1} << 33),
             "lru_dmd: element id out of range");
  ++write_calls_;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (i + kPrefetchAhead < count) stack_.prefetch(id(b, offset + i + kPrefetchAhead));
    stack_.move_to_top(id(b, offset + i));
  }
}

void ElementLruDmd::read(BufferId b, std::uint64_t offset, std::uint64_t count,
                         std::vector<std::uint64_t>* distances) {
  CUBE_CHECK(b < (1u << 30) && offset + count <= (std::uint64_t{1} << 33),
             "lru_dmd: element id out of range");
  ++read_calls_;
  element_reads_ += count;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (i + kPrefetchAhead < count) stack_.prefetch(id(b, offset + i + kPrefetchAhead));
    std::uint64_t d;
    if (auto depth = stack_.depth(id(b, offset + i))) {
      d = *depth;
    } else {
      // Never written: priced one below the bottom and left out of the stack (§3.1).
      d = stack_.size() + 1;
      ++cold_reads_;
    }
    // One sqrt per element, added in order, as the reference list tracker does.
    dmd_ += std::sqrt(static_cast<double>(d));
    if (distances) distances->push_back(d);
  }
}

std::uint64_t BufferLruDmd::read(BufferId b, std::uint64_t count) {
  const std::uint64_t d = stack_.depth(b).value_or(stack_.size() + 1);
  dmd_ += static_cast<double>(count) * std::sqrt(static_cast<double>(d));
  return d;
}

void LruDmdMetric::begin(const BufferTable& buffers) {
  engine_.reset();
  buffers_ = &buffers;
  reserved_buffers_ = 0;
  traced_ = true;
}

void LruDmdMetric::consume(std::span<const TraceEvent> events) {
  // Buffers declared since the last chunk get dense ids for their declared size.
  for (; reserved_buffers_ < buffers_->size(); ++reserved_buffers_) {
    const auto b = static_cast<BufferId>(reserved_buffers_);
    // Past 2^26 elements (512 MiB of stamps) a buffer's tail is hashed instead.
    engine_.reserve(b, std::min<std::uint64_t>((*buffers_)[b].elements, std::uint64_t{1} << 26));
  }
  // Two-stage prefetch across events: the stack cell of the event kAhead ahead, then the time
  // line of the event kAhead / 2 ahead (whose cell has arrived by then).
  constexpr std::size_t kAhead = 16;
  const std::size_t n = events.size();
  for (std::size_t j = 0; j < n; ++j) {
    if (j + kAhead < n) engine_.prefetch(events[j + kAhead].buffer, events[j + kAhead].offset);
    if (j + kAhead / 2 < n)
      engine_.prefetch_depth(events[j + kAhead / 2].buffer, events[j + kAhead / 2].offset);
    const TraceEvent& e = events[j];
    if (e.kind == EventKind::kWrite) engine_.write(e.buffer, e.offset, e.count);
    if (e.kind == EventKind::kRead) engine_.read(e.buffer, e.offset, e.count);
  }
}

std::vector<MetricValue> LruDmdMetric::finish(const RunOutcome& /*outcome*/) {
  if (!traced_) return {{"lru_dmd", {}}, {"lru_stack_size", {}}, {"lru_cold_reads", {}}};
  return {{"lru_dmd", engine_.dmd()},
          {"lru_stack_size", static_cast<double>(engine_.stack_size())},
          {"lru_cold_reads", static_cast<double>(engine_.cold_reads())}};
}

void BufferLruDmdMetric::begin(const BufferTable& /*buffers*/) {
  engine_.reset();
  traced_ = true;
}

void BufferLruDmdMetric::consume(std::span<const TraceEvent> events) {
  for (const TraceEvent& e : events) {
    if (e.kind == EventKind::kWrite) engine_.write(e.buffer);
    if (e.kind == EventKind::kRead) engine_.read(e.buffer, e.count);
  }
}

std::vector<MetricValue> BufferLruDmdMetric::finish(const RunOutcome& /*outcome*/) {
  std::optional<double> value;
  if (traced_) value = engine_.dmd();
  return {{"buffer_lru_dmd", value}};
}

CUBE_REGISTER(Metric, LruDmdMetric, NoParams, "lru_dmd",
              "element LRU DMD: sum of sqrt(depth in the write-recency stack) over element reads "
              "(metrics.md §3)");
CUBE_REGISTER(Metric, BufferLruDmdMetric, NoParams, "buffer_lru_dmd",
              "buffer LRU DMD: sum of size*sqrt(buffer depth in the write-recency stack) over "
              "reads (metrics.md §3b)");

}  // namespace cube
