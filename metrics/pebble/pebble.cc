// cube/metrics/pebble/pebble.cc: the pebble game of metrics.md §5 played on a trace, and the
// `pebble_energy` metric. Not here: cache models with real capacities (cache, energy_estimate).

#include "metrics/pebble/pebble.h"

namespace cube {

namespace {

struct Op {
  std::vector<const TraceEvent*> reads;
  std::vector<const TraceEvent*> writes;
};

// Splits the trace into operations (see the header: kOpEnd boundaries, or one per event).
std::vector<Op> split_operations(std::span<const TraceEvent> events) {
  bool has_boundaries = false;
  for (const TraceEvent& e : events) has_boundaries |= e.kind == EventKind::kOpEnd;
  std::vector<Op> ops;
  Op current;
  auto close = [&]() {
    if (!current.reads.empty() || !current.writes.empty()) ops.push_back(std::move(current));
    current = Op{};
  };
  for (const TraceEvent& e : events) {
    switch (e.kind) {
      case EventKind::kRead:
        current.reads.push_back(&e);
        break;
      case EventKind::kWrite:
        current.writes.push_back(&e);
        break;
      case EventKind::kOpEnd:
        close();
        break;
      case EventKind::kFree:
        break;  // liveness is the game's own rule
    }
    if (!has_boundaries) close();
  }
  close();
  return ops;
}

PebbleTier read_tier(std::uint64_t end) {
  constexpr std::uint64_t kL1End =
      PebbleConstants::kRegisterElements + PebbleConstants::kL1Elements;
  constexpr std::uint64_t kL2End = kL1End + PebbleConstants::kL2Elements;
  if (end <= PebbleConstants::kRegisterElements) return PebbleTier::kRegister;
  if (end <= kL1End) return PebbleTier::kL1;
  if (end <= kL2End) return PebbleTier::kL2;
  return PebbleTier::kHbm;
}

PebbleTier write_tier(std::uint64_t size) {
  if (size <= PebbleConstants::kRegisterElements) return PebbleTier::kRegister;
  if (size <= PebbleConstants::kL1Elements) return PebbleTier::kL1;
  if (size <= PebbleConstants::kL2Elements) return PebbleTier::kL2;
  return PebbleTier::kHbm;
}

struct TensorState {
  bool initial = false;
  bool live = false;
  bool written_now = false;      // written in the operation being priced
  std::size_t time = 0;          // last-access step
  std::uint64_t sequence = 0;    // insertion order in the live set
  std::size_t last_read_op = 0;  // 1-based; 0 = never read
};

}  // namespace

PebbleResult play_pebble_game(const BufferTable& buffers, std::span<const TraceEvent> events,
                              bool keep_accesses) {
  for (const TraceEvent& e : events)
    CUBE_CHECK(e.kind == EventKind::kOpEnd || e.buffer < buffers.size(),
               "pebble: event names undeclared buffer " << e.buffer);
  std::vector<Op> ops = split_operations(events);
  std::vector<TensorState> tensors(buffers.size());

  // Initial tensors (first priced access is a read) and the last operation reading each tensor.
  std::vector<bool> seen(buffers.size(), false);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    for (const TraceEvent* r : ops[i].reads) {
      if (!seen[r->buffer]) tensors[r->buffer].initial = true;
      seen[r->buffer] = true;
      tensors[r->buffer].last_read_op = i + 1;
    }
    for (const TraceEvent* w : ops[i].writes) seen[w->buffer] = true;
  }

  std::vector<BufferId> live;
  std::uint64_t next_sequence = 0;
  for (BufferId b = 0; b < buffers.size(); ++b) {
    if (!tensors[b].initial) continue;
    tensors[b].live = true;
    tensors[b].time = 0;
    tensors[b].sequence = next_sequence++;
    live.push_back(b);
  }

  PebbleResult result;
  result.operations = ops.size();
  auto charge = [&](std::size_t t, const TraceEvent& e, bool write, PebbleTier tier) {
    std::uint64_t pj = e.count * PebbleConstants::kPicojoules[static_cast<int>(tier)];
    result.tier_picojoules[static_cast<int>(tier)] += pj;
    if (keep_accesses) result.accesses.push_back({t, e.buffer, write, tier, pj});
  };

  for (std::size_t i = 0; i < ops.size(); ++i) {
    const std::size_t t = i + 1;
    for (const TraceEvent* r : ops[i].reads) {
      TensorState& x = tensors[r->buffer];
      // Unreachable by the definition of initial tensors; the reference would price it at HBM.
      CUBE_CHECK(x.live, "pebble: read of a tensor that is not live");
      // cum = sizes of the tensors ahead of x in (time descending, insertion ascending) order.
      std::uint64_t cum = 0;
      for (BufferId y : live) {
        const TensorState& ys = tensors[y];
        if (y != r->buffer && (ys.time > x.time || (ys.time == x.time && ys.sequence < x.sequence)))
          cum += buffers[y].elements;
      }
      charge(t, *r, false, read_tier(cum + buffers[r->buffer].elements));
      x.time = t;
    }
    for (const TraceEvent* w : ops[i].writes) {
      TensorState& x = tensors[w->buffer];
      if (!x.live) {
        x.live = true;
        x.sequence = next_sequence++;
        live.push_back(w->buffer);
      }
      x.time = t;
      x.written_now = true;
      charge(t, *w, true, write_tier(buffers[w->buffer].elements));
    }
    // Garbage collection; `live` stays in insertion order.
    std::vector<BufferId> kept;
    kept.reserve(live.size());
    for (BufferId y : live) {
      TensorState& ys = tensors[y];
      if (ys.initial || ys.written_now || ys.last_read_op > t) {
        kept.push_back(y);
      } else {
        ys.live = false;
      }
    }
    for (const TraceEvent* w : ops[i].writes) tensors[w->buffer].written_now = false;
    live = std::move(kept);
  }
  return result;
}

std::vector<std::string> PebbleEnergyMetric::value_names() const {
  return {"pebble_energy.pj", "pebble_energy.register_pj", "pebble_energy.l1_pj",
          "pebble_energy.l2_pj", "pebble_energy.hbm_pj"};
}

void PebbleEnergyMetric::begin(const BufferTable& buffers) {
  buffers_ = &buffers;
  events_.clear();
  result_.reset();
}

void PebbleEnergyMetric::consume(std::span<const TraceEvent> events) {
  events_.insert(events_.end(), events.begin(), events.end());
}

void PebbleEnergyMetric::end() {
  // The table is only guaranteed valid until end(), so the game is played here.
  if (!buffers_) return;
  result_ = play_pebble_game(*buffers_, events_);
  buffers_ = nullptr;
  events_ = {};
}

std::vector<MetricValue> PebbleEnergyMetric::finish(const RunOutcome& /*outcome*/) {
  std::vector<std::string> names = value_names();
  std::vector<MetricValue> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::optional<double> value;
    if (result_)
      value = static_cast<double>(i == 0 ? result_->total_picojoules()
                                         : result_->tier_picojoules[i - 1]);
    out.push_back({names[i], value});
  }
  return out;
}

CUBE_REGISTER(Metric, PebbleEnergyMetric, NoParams, "pebble_energy",
              "pebble-game energy in pJ: whole buffers priced at register/L1/L2/HBM tiers "
              "(5/20/100/640 pJ per element) by recency-ordered cumulative size (metrics.md §5)");

}  // namespace cube
