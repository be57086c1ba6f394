// cube/metrics/energy/energy_estimate.h: `energy_estimate`, an ESTIMATE of the memory-access
// energy of a trace in pJ, from a published per-access energy table and an LRU cache model.
//
// What: every element access (reads and writes alike) is served by the smallest level of an
// idealised hierarchy of fully associative LRU caches that holds it, and costs that level's
// energy per byte. By the inclusion property of LRU (Mattson et al., IBM Systems Journal 9(2),
// 1970) an access hits a cache of B bytes iff its LRU stack depth in bytes is <= B, where
//   depth(access of element e) = Σ bytes of the distinct elements accessed since e's previous
//                                access, e included (reads and writes both move e to the top).
// So the tier of an access is the first tier (in the table's order) whose capacity >= depth; a
// first touch (no previous access: a compulsory miss) goes to the last tier, DRAM. Energy =
// Σ element_bytes × pJ-per-byte(tier), where pJ-per-byte is the table's figure for one word
// divided by the word's bytes (energy taken proportional to the bytes moved).
//
// Tables (parameter `table`):
//   horowitz (default): M. Horowitz, "Computing's energy problem (and what we can do about
//     it)", ISSCC 2014, 45 nm, 0.9 V, 64-bit accesses (anchors.md §4.2): 8 KB cache 10 pJ,
//     32 KB cache 20 pJ, 1 MB cache 100 pJ, DRAM 1.3 nJ (the low end of the 1.3-2.6 nJ range).
//     Tiers: depth <= 8 KB: 1.25 pJ/B; <= 32 KB: 2.5 pJ/B; <= 1 MB: 12.5 pJ/B; else 162.5 pJ/B.
//   han: S. Han et al., "Learning both Weights and Connections for Efficient Neural Networks",
//     NIPS 2015 (arXiv:1506.02626) Fig. 1, 32-bit accesses in 45 nm: register file 1 pJ, SRAM
//     cache 5 pJ, DRAM 640 pJ. Han gives no capacities; assumed here: register file 256 B (64
//     32-bit registers, the pebble game's register tier) and SRAM 8 KB (Horowitz's 8 KB cache
//     costs 10 pJ per 64 bits = Han's 5 pJ per 32 bits). Tiers: depth <= 256 B: 0.25 pJ/B;
//     <= 8 KB: 1.25 pJ/B; else 160 pJ/B.
//   zen5: the tiers of this project's machine (AMD Zen 5, per core: L1d 48 KiB, L2 1 MiB; the
//     L3 of a CCD is 32 MiB for 8 cores, so a core's share is 4 MiB), priced with Horowitz's
//     64-bit figures: L1 as his 32 KB cache (20 pJ), L2 as his 1 MB cache (100 pJ), the L3 share
//     by his sqrt(capacity) fit from 1 MB (100 pJ x sqrt(4) = 200 pJ, anchors.md §4.2), DRAM
//     1.3 nJ. Tiers: depth <= 48 KiB: 2.5 pJ/B; <= 1 MiB: 12.5 pJ/B; <= 4 MiB: 25 pJ/B; else
//     162.5 pJ/B. Use it with line_bytes = 64, as the caches move lines.
// The figures are 45 nm circuit energies for single accesses; no arithmetic, no associativity
// effects, no leakage. Use the value to compare traces, not as a measurement.
//
// Granularity (parameter `line_bytes`): 0 (default) is element-level: an event (buffer b, offset
// o, count c) is c accesses of the elements (b, o), (b, o+1), ..., (b, o+c-1) in that order, each
// of b's element size in bytes. line_bytes = L > 0 (a power of two) is line-level: the event's
// bytes [base(b) + o e, base(b) + (o + c) e) in the buffers' logical address space (BufferTable,
// e = b's element size) are the accesses of the lines they touch, in address order, each
// costing L bytes at its tier: depth = L x distinct lines since the line's previous access. A
// 16-float event is one 64-byte line when aligned, two otherwise; consecutive events on one line
// are separate accesses (at depth L).
// Text traces (core/trace_text.h) have offset 0 and 4-byte elements ("prefix identity",
// metrics.md §1). kFree and kOpEnd are ignored: a freed buffer stays in the stack until pushed
// out, as dead lines do in a cache.
//
// Exactness: depths are exact integers; the pJ-per-byte figures are binary fractions (k/4), so
// the estimate Σ bytes(tier) × pJ-per-byte(tier) is exact while each product is below 2^53.
//
// Cost: O(log W) amortised time per element access (a Fenwick tree over access times, compacted
// when full), W = the slots of that tree, at most twice the number of distinct elements plus the
// initial slots; O(distinct elements + W) memory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/trace.h"
#include "metrics/metric.h"

namespace cube {

// LRU stack depth in bytes of every element access: depth = Σ bytes of the distinct elements
// accessed since the previous access of the same element, itself included. Exact. An element is
// (buffer, index); its byte size is given with each access and must not change.
class ByteLruStack {
 public:
  // `initial_slots` (>= 1): time slots before the first compaction; tests use small values.
  explicit ByteLruStack(std::size_t initial_slots = std::size_t{1} << 16);

  // Records an access; returns the depth in bytes, or nullopt on the element's first access.
  std::optional<std::uint64_t> access(BufferId buffer, std::uint64_t index, std::uint32_t bytes);

  std::uint64_t distinct_elements() const { return distinct_; }

 private:
  static constexpr BufferId kNoOwner = ~BufferId{0};
  struct Slot {
    BufferId buffer = kNoOwner;
    std::uint64_t index = 0;
    std::uint32_t bytes = 0;
  };
  void fenwick_add(std::size_t slot, std::int64_t delta);
  std::int64_t fenwick_prefix(std::size_t end) const;  // Σ weights of slots [0, end)
  void compact();

  std::size_t initial_slots_;
  std::vector<std::int64_t> tree_;                // Fenwick tree of bytes by time slot
  std::vector<Slot> slots_;                       // owner of each time slot
  std::vector<std::vector<std::uint64_t>> last_;  // by buffer, element: 1 + slot, 0 = never
  std::size_t next_ = 0;                          // next free time slot
  std::uint64_t distinct_ = 0;
};

// One tier of an energy table: accesses with depth <= capacity_bytes (and above the previous
// tier's capacity) cost pj_per_byte per byte. The last tier has no capacity (DRAM).
struct EnergyTier {
  std::string name;
  std::optional<std::uint64_t> capacity_bytes;
  double pj_per_byte = 0;
};

// The tiers of `table` ("horowitz", "han" or "zen5"), as documented above. Throws ConfigError
// otherwise.
std::vector<EnergyTier> energy_table(const std::string& table);

// The estimator: a ByteLruStack and a tier table, driven per element access.
class EnergyEstimator {
 public:
  explicit EnergyEstimator(std::vector<EnergyTier> tiers,
                           std::size_t initial_slots = std::size_t{1} << 16);

  // Prices one element access; returns the index of its tier.
  std::size_t access(BufferId buffer, std::uint64_t index, std::uint32_t bytes);

  const std::vector<EnergyTier>& tiers() const { return tiers_; }
  // Bytes served by each tier, in table order.
  const std::vector<std::uint64_t>& tier_bytes() const { return tier_bytes_; }
  // Σ tier_bytes × pj_per_byte.
  double picojoules() const;

 private:
  std::vector<EnergyTier> tiers_;
  ByteLruStack stack_;
  std::vector<std::uint64_t> tier_bytes_;
};

struct EnergyEstimateConfig {
  std::string table = "horowitz";
  std::int64_t line_bytes = 0;
  template <class V>
  void visit(V& v) {
    v("table", table,
      "per-access energy table: horowitz (ISSCC 2014, 45 nm: 8 KB/32 KB/1 MB caches, DRAM), "
      "han (NIPS 2015, 45 nm: register file/SRAM/DRAM) or zen5 (this machine's L1 48 KiB, L2 "
      "1 MiB, L3 share 4 MiB, DRAM, at Horowitz's energies)")
        .one_of({"horowitz", "han", "zen5"});
    v("line_bytes", line_bytes,
      "0: every element is one access; L (a power of two, e.g. 64): accesses are the L-byte lines "
      "of the buffers' logical addresses an event touches")
        .at_least(0)
        .at_most(4096);
  }
};

// `energy_estimate(table=...)`: a trace metric with one value, energy_estimate.pj: the
// estimated memory-access energy of the trace in pJ (nullopt when the run was not traced).
// An estimate from a 45 nm table and an idealised LRU hierarchy, not a measurement.
// begin() resets the estimator, so one instance can price several traces in turn.
class EnergyEstimateMetric : public Metric {
 public:
  explicit EnergyEstimateMetric(const EnergyEstimateConfig& config);
  bool needs_trace() const override { return true; }
  std::vector<std::string> value_names() const override { return {"energy_estimate.pj"}; }
  void begin(const BufferTable& buffers) override;
  void consume(std::span<const TraceEvent> events) override;
  void end() override { buffers_ = nullptr; }
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;

  const EnergyEstimator& estimator() const { return estimator_; }
  // Bytes served per tier (table order) for the events of each buffer, indexed by BufferId (an
  // empty row for a buffer no event named); rows sum to estimator().tier_bytes().
  const std::vector<std::vector<std::uint64_t>>& tier_bytes_by_buffer() const { return by_buffer_; }

 private:
  std::vector<EnergyTier> tiers_;
  std::uint64_t line_bytes_ = 0;
  EnergyEstimator estimator_;
  std::vector<std::vector<std::uint64_t>> by_buffer_;
  const BufferTable* buffers_ = nullptr;
  bool traced_ = false;
};

}  // namespace cube
