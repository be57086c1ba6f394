// cube/metrics/cache/cache.h: `cache`, the buffer-granular LRU cache model (CacheTracker).
//
// What: the reference CacheTracker of SutroYaro (src/sparse_parity/cache_tracker.py at
// 03d0e0691c52, specified with test vectors in metrics.md §4): MemTracker (§2, all its numbers
// unchanged) plus an LRU cache of capacity C elements that holds whole buffers. The cache is an
// ordered map buffer -> size (LRU first) with used = Σ sizes;
//   evict_until(need): while used + need > C and the cache is non-empty, drop the LRU entry.
//   write(b, n): MemTracker write; if b is cached, its size becomes n and it moves to MRU with
//                no eviction (used may then exceed C); else if n <= C, evict_until(n) and insert
//                b at MRU; else (n > C) b is not cached.
//   read(b, n):  if b is cached: a hit, b moves to MRU (the hit test is by buffer only; n is
//                ignored). Else a miss with MemTracker clock distance d; if n <= C,
//                evict_until(n) and insert (b, n) at MRU, even when b was never written.
//                Writes are neither hits nor misses. A read's size is the event's count.
// Summary:
//   hit_rate      = hits / (hits + misses)              (0 when there is no read)
//   effective_ard = Σ n·d / Σ n over misses with d >= 0 (0 when there is none or Σ n = 0)
// Charges: a hit costs nothing, a miss "costs its full reuse distance", which only enters
// effective_ard. There is no energy figure: the pJ tiers of the sandbox live in pebble_energy
// and energy_estimate.
//
// Quirks reproduced (metrics.md §4.2): a buffer larger than C never enters the cache and always
// misses; a read of a never-written buffer counts as a miss in hit_rate, is left out of
// effective_ard, and is cached; a write to a cached buffer can push used above C.
//
// Granularity: buffer-level, as MemTracker: an event (buffer b, count c) is one access of c
// elements of b; offsets are ignored; kFree and kOpEnd are ignored. Sizes and C count elements
// whatever their byte size (the reference counts float32s: 8,192 elements = 32 KB, its L1).
//
// Exactness: counts and Σ n·d are exact integers; the two ratios are one IEEE division each.
//
// Cost: O(1) time per event (a list plus a vector indexed by BufferId; each eviction is paid for
// by the insertion before it); O(number of buffers) memory.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <vector>

#include "core/trace.h"
#include "metrics/mem_tracker/mem_tracker.h"
#include "metrics/metric.h"

namespace cube {

// The result of one CacheTracker read: hit or miss, and its MemTracker clock distance
// (MemTracker::kNeverWritten = -1 for a never-written buffer).
struct CacheRead {
  bool hit = false;
  std::int64_t distance = 0;
};

// Counters of a CacheTracker run (the reference's summary(), MemTracker part aside).
struct CacheSummary {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;             // every miss, never-written buffers included
  double hit_rate = 0;                  // hits / (hits + misses); 0 if no read
  double effective_ard = 0;             // Σ n·d / Σ n over misses with d >= 0; 0 if none
  std::uint64_t total_miss_floats = 0;  // Σ n over misses with d >= 0 (elements)
};

// One cache entry: a buffer and the size (elements) it occupies.
struct CacheEntry {
  BufferId buffer = 0;
  std::uint64_t size = 0;
  friend bool operator==(const CacheEntry&, const CacheEntry&) = default;
};

// The engine, driven directly (tests) or through the `cache` metric.
class CacheTracker {
 public:
  // `capacity`: C in elements. Any value is allowed (0 caches nothing but zero-size buffers).
  explicit CacheTracker(std::uint64_t capacity) : capacity_(capacity) {}

  void write(BufferId b, std::uint64_t n);
  CacheRead read(BufferId b, std::uint64_t n);
  // A read with the size omitted: n = the size of b's last write, or 0 if never written.
  CacheRead read(BufferId b);

  std::uint64_t capacity() const { return capacity_; }
  // Σ sizes of the cached entries; may exceed capacity() after a write to a cached buffer.
  std::uint64_t used() const { return used_; }
  // The cached entries, LRU first.
  std::vector<CacheEntry> contents() const;
  CacheSummary summary() const;
  // The MemTracker beside the cache: ard, clock-DMC and the clock, unchanged by the cache.
  const MemTracker& mem_tracker() const { return tracker_; }

  // Back to an empty cache and a fresh MemTracker, keeping the capacity.
  void reset();

 private:
  __extension__ using UInt128 = unsigned __int128;  // exact Σ n·d
  using Lru = std::list<CacheEntry>;

  struct BufferState {
    bool cached = false;
    Lru::iterator entry;
    std::uint64_t last_write_size = 0;
  };
  BufferState& state(BufferId b) {
    if (b >= buffers_.size()) buffers_.resize(static_cast<std::size_t>(b) + 1);
    return buffers_[b];
  }
  void evict_until(std::uint64_t need);
  void insert(BufferId b, std::uint64_t n);

  std::uint64_t capacity_;
  MemTracker tracker_;
  Lru lru_;  // front = LRU, back = MRU
  std::vector<BufferState> buffers_;
  std::uint64_t used_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t miss_floats_ = 0;
  UInt128 miss_distance_sum_ = 0;  // Σ n·d over misses with d >= 0
};

struct CacheConfig {
  std::int64_t capacity = 8192;
  template <class V>
  void visit(V& v) {
    v("capacity", capacity,
      "cache capacity in elements (float32 in the reference: 8192 = 32 KB L1, 65536 = 256 KB "
      "L2)")
        .at_least(0);
  }
};

// `cache(capacity=C)`: a trace metric. Values, in order (nullopt when the run was not traced):
//   cache.hits           number of hit reads
//   cache.misses         number of miss reads, never-written buffers included
//   cache.hit_rate       hits / (hits + misses), 0 when there is no read (as the reference)
//   cache.effective_ard  Σ n·d / Σ n over misses with a valid clock distance, in elements;
//                        0 when there is none (as the reference)
// begin() resets the engine, so one instance can price several traces in turn.
class CacheMetric : public Metric {
 public:
  explicit CacheMetric(const CacheConfig& config);
  bool needs_trace() const override { return true; }
  std::vector<std::string> value_names() const override;
  void begin(const BufferTable& buffers) override;
  void consume(std::span<const TraceEvent> events) override;
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;

  const CacheTracker& tracker() const { return tracker_; }

 private:
  CacheTracker tracker_;
  bool traced_ = false;
};

}  // namespace cube
