// cube/metrics/cache/cache.cc: the CacheTracker engine (buffer-granular LRU cache beside a
// MemTracker) and the `cache` metric. Not here: energy figures (pebble_energy, energy_estimate).

#include "metrics/cache/cache.h"

namespace cube {

void CacheTracker::evict_until(std::uint64_t need) {
  while (used_ + need > capacity_ && !lru_.empty()) {
    const CacheEntry& lru = lru_.front();
    used_ -= lru.size;
    buffers_[lru.buffer].cached = false;
    lru_.pop_front();
  }
}

void CacheTracker::insert(BufferId b, std::uint64_t n) {
  BufferState& s = state(b);
  s.entry = lru_.insert(lru_.end(), CacheEntry{b, n});
  s.cached = true;
  used_ += n;
}

void CacheTracker::write(BufferId b, std::uint64_t n) {
  tracker_.write(b, n);
  BufferState& s = state(b);
  s.last_write_size = n;
  if (s.cached) {
    // The reference resizes in place without evicting, so used may exceed the capacity.
    used_ = used_ - s.entry->size + n;
    s.entry->size = n;
    lru_.splice(lru_.end(), lru_, s.entry);
  } else if (n <= capacity_) {
    evict_until(n);
    insert(b, n);
  }
}

CacheRead CacheTracker::read(BufferId b, std::uint64_t n) {
  BufferState& s = state(b);
  CacheRead out;
  out.distance = tracker_.read(b, n);
  if (s.cached) {
    // A hit by buffer alone: the reference ignores the read's size here.
    out.hit = true;
    ++hits_;
    lru_.splice(lru_.end(), lru_, s.entry);
    return out;
  }
  ++misses_;
  if (out.distance != MemTracker::kNeverWritten) {
    miss_floats_ += n;
    miss_distance_sum_ += static_cast<UInt128>(n) * static_cast<std::uint64_t>(out.distance);
  }
  // Cached even when never written (metrics.md §4.2).
  if (n <= capacity_) {
    evict_until(n);
    insert(b, n);
  }
  return out;
}

CacheRead CacheTracker::read(BufferId b) { return read(b, state(b).last_write_size); }

std::vector<CacheEntry> CacheTracker::contents() const { return {lru_.begin(), lru_.end()}; }

CacheSummary CacheTracker::summary() const {
  CacheSummary out;
  out.hits = hits_;
  out.misses = misses_;
  out.total_miss_floats = miss_floats_;
  if (hits_ + misses_ > 0)
    out.hit_rate = static_cast<double>(hits_) / static_cast<double>(hits_ + misses_);
  if (miss_floats_ > 0)
    out.effective_ard = static_cast<double>(miss_distance_sum_) / static_cast<double>(miss_floats_);
  return out;
}

void CacheTracker::reset() { *this = CacheTracker(capacity_); }

CacheMetric::CacheMetric(const CacheConfig& config)
    : tracker_(static_cast<std::uint64_t>(config.capacity)) {}

std::vector<std::string> CacheMetric::value_names() const {
  return {"cache.hits", "cache.misses", "cache.hit_rate", "cache.effective_ard"};
}

void CacheMetric::begin(const BufferTable& /*buffers*/) {
  tracker_.reset();
  traced_ = true;
}

void CacheMetric::consume(std::span<const TraceEvent> events) {
  feed_buffer_events(tracker_, events);
}

std::vector<MetricValue> CacheMetric::finish(const RunOutcome& /*outcome*/) {
  std::vector<std::string> names = value_names();
  std::vector<std::optional<double>> values(names.size());
  if (traced_) {
    CacheSummary s = tracker_.summary();
    values = {static_cast<double>(s.hits), static_cast<double>(s.misses), s.hit_rate,
              s.effective_ard};
  }
  std::vector<MetricValue> out;
  for (std::size_t i = 0; i < names.size(); ++i) out.push_back({names[i], values[i]});
  return out;
}

CUBE_REGISTER(Metric, CacheMetric, CacheConfig, "cache",
              "buffer-granular LRU cache of `capacity` elements beside the MemTracker clock: "
              "hits, misses, hit rate, effective ARD of misses (metrics.md §4)");

}  // namespace cube
