// cube/metrics/lru/lru_dmd.h: the write-recency LRU data movement distance metrics.
//
// What (metrics.md §3.1, the plain-list LRUStackTracker of sparse-parity-challenge 09df213b1fe3,
// which is the correct one; the SutroYaro splay version is buggy, §3.2): a stack S of elements
// ordered by write recency. Element identity is (buffer, offset + i) for the i-th element of an
// event (the text trace format uses offset 0, reproducing the reference's prefix identity, §1).
//   write of n elements: for i = 0..n-1 in order, move (b, offset+i) to the top (free of cost);
//   read  of n elements: for each, d = its 1-based depth in S, or |S| + 1 if never written (it
//                        is then NOT inserted, so it stays cold); dmd += sqrt(d). S is unchanged.
//   dmd = Σ sqrt(d) over element reads, in event order (real square root, IEEE double).
// This is the DMD of Ding et al., "DMC4ML" (arXiv:2312.14441) with distance measured since the
// last *write*, in distinct elements written since; reads move nothing (unlike ByteDMD, §6).
//
// Buffer variant (metrics.md §3b, SutroYaro exp_grokfast_curriculum_dmd BufferLRUTracker): the
// stack holds buffer ids; a write moves the buffer to the top; a read of n elements costs
// n·sqrt(d), d = the buffer's depth, or #buffers + 1 if never written (not inserted).
//
// Events: kWrite and kRead as above; kFree and kOpEnd are ignored (the model has no liveness and
// no operations). Sums are taken in event order as the reference does, so results match it bit
// for bit on the vectors of §3.3.
// Cost: O(log |S|) per element (StackDistance); memory O(declared elements + distinct elements
// written beyond a buffer's declared size). Elements within a buffer's declared size get dense
// stack ids (no hashing); the metric prefetches the stack cells of events a few ahead, so a
// trace of single-element events streams as fast as one long event.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/trace.h"
#include "metrics/metric.h"
#include "metrics/stack_distance/stack_distance.h"

namespace cube {

// The element-level engine of §3.1, driven directly (tests) or through `lru_dmd`.
class ElementLruDmd {
 public:
  // Moves elements offset..offset+count-1 of `b` to the top, in that order.
  void write(BufferId b, std::uint64_t offset, std::uint64_t count);
  // Prices a read of elements offset..offset+count-1 of `b`; appends each element's distance to
  // `distances` when given.
  void read(BufferId b, std::uint64_t offset, std::uint64_t count,
            std::vector<std::uint64_t>* distances = nullptr);

  // Gives elements [0, elements) of `b` dense stack ids (faster; 8 bytes each). Called once per
  // buffer, before its first access; elements past `elements` still work (hashed ids).
  void reserve(BufferId b, std::uint64_t elements);
  // Hints that element i of b is accessed soon: prefetch now, prefetch_depth a few events later.
  // Always inlined, as StackDistance's hints (a hint left as a call is deleted by GCC).
  [[gnu::always_inline]] void prefetch(BufferId b, std::uint64_t i) const {
    stack_.prefetch(id(b, i));
  }
  [[gnu::always_inline]] void prefetch_depth(BufferId b, std::uint64_t i) const {
    stack_.prefetch_depth(id(b, i));
  }

  double dmd() const { return dmd_; }                         // Σ sqrt(d)
  std::uint64_t stack_size() const { return stack_.size(); }  // distinct elements ever written
  std::uint64_t element_reads() const { return element_reads_; }
  std::uint64_t cold_reads() const { return cold_reads_; }  // element reads never written before
  std::uint64_t read_calls() const { return read_calls_; }
  std::uint64_t write_calls() const { return write_calls_; }
  void reset() { *this = ElementLruDmd(); }

  // The stack key of element i of buffer b: dense (base of b + i) within the reserved extent,
  // else a hashed key with the top bit set. Requires b < 2^30 and i < 2^33.
  std::uint64_t id(BufferId b, std::uint64_t i) const {
    if (b < extent_.size() && i < extent_[b]) return base_[b] + i;
    return kHashed | (static_cast<std::uint64_t>(b) << 33) | i;
  }

 private:
  static constexpr std::uint64_t kHashed = std::uint64_t{1} << 63;
  std::vector<std::uint64_t> base_;    // first dense id of each reserved buffer
  std::vector<std::uint64_t> extent_;  // reserved elements per buffer (0: none)
  StackDistance stack_;
  double dmd_ = 0;
  std::uint64_t element_reads_ = 0;
  std::uint64_t cold_reads_ = 0;
  std::uint64_t read_calls_ = 0;
  std::uint64_t write_calls_ = 0;
};

// The buffer-level engine of §3b.
class BufferLruDmd {
 public:
  void write(BufferId b) { stack_.move_to_top(b); }
  // Prices a read of `count` elements of b; returns the distance used.
  std::uint64_t read(BufferId b, std::uint64_t count);
  double dmd() const { return dmd_; }
  std::uint64_t buffers() const { return stack_.size(); }
  void reset() { *this = BufferLruDmd(); }

 private:
  StackDistance stack_;
  double dmd_ = 0;
};

// `lru_dmd`: values "lru_dmd" (Σ sqrt(d), elements·sqrt(elements)), "lru_stack_size"
// (distinct elements ever written) and "lru_cold_reads" (element reads of never-written
// elements, each priced sqrt(|S|+1)). All nullopt if the run was not traced. No parameters.
class LruDmdMetric : public Metric {
 public:
  explicit LruDmdMetric(NoParams) {}
  bool needs_trace() const override { return true; }
  std::vector<std::string> value_names() const override {
    return {"lru_dmd", "lru_stack_size", "lru_cold_reads"};
  }
  void begin(const BufferTable& buffers) override;
  void consume(std::span<const TraceEvent> events) override;
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;

 private:
  ElementLruDmd engine_;
  const BufferTable* buffers_ = nullptr;
  std::size_t reserved_buffers_ = 0;  // buffers of the table given dense ids so far
  bool traced_ = false;
};

// `buffer_lru_dmd`: value "buffer_lru_dmd" (Σ n·sqrt(d), d in buffers); nullopt if not traced.
class BufferLruDmdMetric : public Metric {
 public:
  explicit BufferLruDmdMetric(NoParams) {}
  bool needs_trace() const override { return true; }
  void begin(const BufferTable& buffers) override;
  void consume(std::span<const TraceEvent> events) override;
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;

 private:
  BufferLruDmd engine_;
  bool traced_ = false;
};

}  // namespace cube
