// cube/metrics/pebble/pebble.h: `pebble_energy`, the pebble-game energy of a traced run (pJ).
//
// What: SutroYaro's exp_pebble_game.compute_energy_for_ordering (03d0e0691c52), specified with
// test vectors in metrics.md §5, applied to a trace. Tensors are buffers and the ordering is
// the trace's order of operations. Each tensor x has a size s(x) = its buffer's element count
// (BufferInfo::elements) and is always priced whole, at one tier. A live set maps tensors to
// their last-access step, in insertion order. At step t (operations numbered 1, 2, ...):
//   1. Each read of x, in trace order: sort the live set by last access descending, ties by
//      insertion order (oldest first); cum = Σ s(y) over the tensors before x;
//      tier = register if cum + s(x) <= 64, L1 if <= 64 + 16,384, L2 if <= 16,448 + 65,536,
//      else HBM; charge count × pJ(tier); then last-access[x] = t (so the next read of the same
//      operation already sees x in front).
//   2. Each write of w: last-access[w] = t (a tensor not live is appended to the insertion
//      order; a live one keeps its place); charge count × pJ(tier by s(w) alone): register if
//      s(w) <= 64, L1 if <= 16,384, L2 if <= 65,536, else HBM.
//   3. Garbage collection: every live tensor that no later operation reads dies, unless it was
//      written in this operation or is an initial tensor.
// pJ per element: register 5, L1 20, L2 100, HBM 640. uJ = pJ / 10^6. These tiers mix two
// tables (anchors.md §4.2): 20 and 100 are Horowitz's 64-bit 32 KB and 1 MB cache reads
// (ISSCC 2014, 45 nm), 640 is Han et al.'s 32-bit DRAM access (arXiv:1506.02626), and 5 is
// Han's 32-bit SRAM figure (Han's register file is 1 pJ). They are the reference's constants,
// not a physical claim.
//
// Quirks reproduced (metrics.md §5.2): read tiers are cumulative but write tiers go by the
// size alone (different thresholds); an operation's outputs get the same step as the inputs it
// just read and ties go to the oldest insertion, so a just-written tensor can be priced behind
// older ones; a whole tensor sits in one tier; a duplicated input is priced twice; initial
// tensors never die. The reference prices a read of a tensor that is not live at HBM; with
// initial tensors defined as below such a read cannot occur.
//
// Mapping a trace onto the game:
//   Operations: if the trace has kOpEnd events, an operation is the events between two of them
//     (events after the last one form a final operation): its reads are the inputs, in order,
//     and its writes the outputs, priced after all its reads. A trace without any kOpEnd has
//     one operation per read or write event (core/trace.h). Empty operations are skipped.
//   Initial tensors: the buffers whose first priced access is a read. They are live at step 0
//     in BufferId (declaration) order: with text traces that is the order of first appearance.
//   Counts: an event charges its own count; its tier is set by whole buffer sizes. A read of
//     part of a buffer is thus priced at the tier of the whole tensor.
//   kFree is ignored: liveness comes from the game's own rule 3. Element byte sizes are
//     ignored: sizes and capacities count elements (floats in the reference).
//
// Exactness: every charge is an integer number of pJ; totals are exact 64-bit integers.
//
// Cost: O(R·L + O·L) time, where R is the number of reads, O of operations, L the largest live
// set; O(E) memory: the metric holds the whole trace (16 bytes per event), since rule 3 needs
// the future reads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/trace.h"
#include "metrics/metric.h"

namespace cube {

enum class PebbleTier : std::uint8_t { kRegister = 0, kL1 = 1, kL2 = 2, kHbm = 3 };

struct PebbleConstants {
  static constexpr std::uint64_t kRegisterElements = 64;
  static constexpr std::uint64_t kL1Elements = 16384;  // 64 KB of float32
  static constexpr std::uint64_t kL2Elements = 65536;  // 256 KB of float32
  static constexpr std::array<std::uint64_t, 4> kPicojoules = {5, 20, 100, 640};  // by tier
};

// One priced access of the game, for inspection.
struct PebbleAccess {
  std::size_t op = 0;  // 1-based step
  BufferId buffer = 0;
  bool write = false;
  PebbleTier tier = PebbleTier::kRegister;
  std::uint64_t picojoules = 0;
};

struct PebbleResult {
  std::array<std::uint64_t, 4> tier_picojoules = {};  // by PebbleTier, reads and writes
  std::size_t operations = 0;                         // non-empty operations priced
  std::vector<PebbleAccess> accesses;                 // in pricing order (when requested)

  std::uint64_t total_picojoules() const {
    return tier_picojoules[0] + tier_picojoules[1] + tier_picojoules[2] + tier_picojoules[3];
  }
};

// Plays the pebble game on `events` over the buffers of `buffers` (the mapping above).
// Fills PebbleResult::accesses when `keep_accesses`. Throws Error if an event names an
// undeclared buffer.
PebbleResult play_pebble_game(const BufferTable& buffers, std::span<const TraceEvent> events,
                              bool keep_accesses = false);

// `pebble_energy`: a trace metric, no parameters. Values, in order, in pJ (nullopt when the run
// was not traced): pebble_energy.pj (the total), pebble_energy.register_pj,
// pebble_energy.l1_pj, pebble_energy.l2_pj, pebble_energy.hbm_pj (reads and writes charged at
// each tier). begin() starts a new trace, so one instance can price several traces in turn.
class PebbleEnergyMetric : public Metric {
 public:
  explicit PebbleEnergyMetric(NoParams) {}
  bool needs_trace() const override { return true; }
  std::vector<std::string> value_names() const override;
  void begin(const BufferTable& buffers) override;
  void consume(std::span<const TraceEvent> events) override;
  void end() override;
  std::vector<MetricValue> finish(const RunOutcome& outcome) override;

 private:
  const BufferTable* buffers_ = nullptr;
  std::vector<TraceEvent> events_;
  std::optional<PebbleResult> result_;
};

}  // namespace cube
