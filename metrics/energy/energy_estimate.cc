// cube/metrics/energy/energy_estimate.cc: the byte-weighted LRU stack (Fenwick tree over access
// times), the Horowitz and Han tier tables and the `energy_estimate` metric. An estimate only.

#include "metrics/energy/energy_estimate.h"

#include <algorithm>

namespace cube {

ByteLruStack::ByteLruStack(std::size_t initial_slots)
    : initial_slots_(std::max<std::size_t>(1, initial_slots)),
      tree_(initial_slots_ + 1, 0),
      slots_(initial_slots_) {}

void ByteLruStack::fenwick_add(std::size_t slot, std::int64_t delta) {
  for (std::size_t i = slot + 1; i < tree_.size(); i += i & (~i + 1)) tree_[i] += delta;
}

std::int64_t ByteLruStack::fenwick_prefix(std::size_t end) const {
  std::int64_t sum = 0;
  for (std::size_t i = end; i > 0; i -= i & (~i + 1)) sum += tree_[i];
  return sum;
}

void ByteLruStack::compact() {
  // Each element owns only its latest slot; renumbering the owned slots in time order keeps
  // every depth, and doubling the room makes compactions O(1) amortised per access.
  std::vector<Slot> owned;
  for (std::size_t s = 0; s < next_; ++s)
    if (slots_[s].buffer != kNoOwner) owned.push_back(slots_[s]);
  const std::size_t size = std::max(initial_slots_, 2 * owned.size());
  slots_.assign(size, Slot{});
  tree_.assign(size + 1, 0);
  for (std::size_t k = 0; k < owned.size(); ++k) {
    slots_[k] = owned[k];
    last_[owned[k].buffer][owned[k].index] = k + 1;
    tree_[k + 1] = owned[k].bytes;
  }
  // Linear-time Fenwick build: each node passes its complete sum on to its parent.
  for (std::size_t i = 1; i < tree_.size(); ++i) {
    const std::size_t parent = i + (i & (~i + 1));
    if (parent < tree_.size()) tree_[parent] += tree_[i];
  }
  next_ = owned.size();
}

std::optional<std::uint64_t> ByteLruStack::access(BufferId buffer, std::uint64_t index,
                                                  std::uint32_t bytes) {
  if (next_ == slots_.size()) compact();
  if (buffer >= last_.size()) last_.resize(static_cast<std::size_t>(buffer) + 1);
  std::vector<std::uint64_t>& last = last_[buffer];
  if (index >= last.size()) last.resize(static_cast<std::size_t>(index) + 1, 0);

  std::optional<std::uint64_t> depth;
  if (last[index] != 0) {
    const std::size_t previous = static_cast<std::size_t>(last[index] - 1);
    // Bytes owned by slots after the previous access: the distinct elements touched since.
    const std::int64_t since = fenwick_prefix(next_) - fenwick_prefix(previous + 1);
    depth = static_cast<std::uint64_t>(since) + bytes;
    fenwick_add(previous, -static_cast<std::int64_t>(bytes));
    slots_[previous] = Slot{};
  } else {
    ++distinct_;
  }
  slots_[next_] = Slot{buffer, index, bytes};
  fenwick_add(next_, bytes);
  last[index] = next_ + 1;
  ++next_;
  return depth;
}

std::vector<EnergyTier> energy_table(const std::string& table) {
  // Word energies over word bytes: Horowitz's figures are per 64-bit access, Han's per 32-bit.
  if (table == "horowitz")
    return {{"cache_8kb", 8192, 10.0 / 8},
            {"cache_32kb", 32768, 20.0 / 8},
            {"cache_1mb", 1048576, 100.0 / 8},
            {"dram", std::nullopt, 1300.0 / 8}};
  if (table == "han")
    return {{"register_file", 256, 1.0 / 4},
            {"sram", 8192, 5.0 / 4},
            {"dram", std::nullopt, 640.0 / 4}};
  if (table == "zen5")
    return {{"l1_48kib", 49152, 20.0 / 8},
            {"l2_1mib", 1048576, 100.0 / 8},
            {"l3_share_4mib", 4194304, 200.0 / 8},
            {"dram", std::nullopt, 1300.0 / 8}};
  throw ConfigError("energy_estimate: unknown table '" + table +
                    "'; valid choices: horowitz, han, zen5");
}

EnergyEstimator::EnergyEstimator(std::vector<EnergyTier> tiers, std::size_t initial_slots)
    : tiers_(std::move(tiers)), stack_(initial_slots), tier_bytes_(tiers_.size(), 0) {
  CUBE_CHECK(!tiers_.empty() && !tiers_.back().capacity_bytes,
             "energy tiers must end with a tier without capacity");
}

std::size_t EnergyEstimator::access(BufferId buffer, std::uint64_t index, std::uint32_t bytes) {
  std::optional<std::uint64_t> depth = stack_.access(buffer, index, bytes);
  std::size_t tier = tiers_.size() - 1;  // a first touch is a compulsory miss: DRAM
  if (depth) {
    tier = 0;
    while (tiers_[tier].capacity_bytes && *depth > *tiers_[tier].capacity_bytes) ++tier;
  }
  tier_bytes_[tier] += bytes;
  return tier;
}

double EnergyEstimator::picojoules() const {
  double total = 0;
  for (std::size_t i = 0; i < tiers_.size(); ++i)
    total += static_cast<double>(tier_bytes_[i]) * tiers_[i].pj_per_byte;
  return total;
}

EnergyEstimateMetric::EnergyEstimateMetric(const EnergyEstimateConfig& config)
    : tiers_(energy_table(config.table)),
      line_bytes_(static_cast<std::uint64_t>(config.line_bytes)),
      estimator_(tiers_) {
  if ((line_bytes_ & (line_bytes_ - 1)) != 0)
    throw ConfigError("energy_estimate: line_bytes " + std::to_string(line_bytes_) +
                      " is not 0 or a power of two (64 is a cache line)");
}

void EnergyEstimateMetric::begin(const BufferTable& buffers) {
  estimator_ = EnergyEstimator(tiers_);
  by_buffer_.clear();
  buffers_ = &buffers;
  traced_ = true;
}

void EnergyEstimateMetric::consume(std::span<const TraceEvent> events) {
  for (const TraceEvent& e : events) {
    if (e.kind != EventKind::kRead && e.kind != EventKind::kWrite) continue;
    const BufferInfo& buffer = (*buffers_)[e.buffer];
    const std::uint32_t bytes = buffer.element_bytes;
    const std::uint64_t first = e.offset;
    if (by_buffer_.size() <= e.buffer) by_buffer_.resize(e.buffer + 1);
    std::vector<std::uint64_t>& mine = by_buffer_[e.buffer];
    if (mine.empty()) mine.assign(tiers_.size(), 0);
    if (line_bytes_ == 0) {
      for (std::uint64_t i = first; i < first + e.count; ++i)
        mine[estimator_.access(e.buffer, i, bytes)] += bytes;
      continue;
    }
    if (e.count == 0) continue;
    // Lines live in one address space across buffers: key them all under buffer 0. A line
    // shared by two buffers is charged to the buffer whose event touched it.
    const std::uint64_t begin = buffer.base_address + first * bytes;
    const std::uint64_t end = begin + e.count * bytes;
    for (std::uint64_t line = begin / line_bytes_; line <= (end - 1) / line_bytes_; ++line)
      mine[estimator_.access(0, line, static_cast<std::uint32_t>(line_bytes_))] += line_bytes_;
  }
}

std::vector<MetricValue> EnergyEstimateMetric::finish(const RunOutcome& /*outcome*/) {
  std::optional<double> value;
  if (traced_) value = estimator_.picojoules();
  return {MetricValue{"energy_estimate.pj", value}};
}

CUBE_REGISTER(Metric, EnergyEstimateMetric, EnergyEstimateConfig, "energy_estimate",
              "ESTIMATED memory-access energy in pJ: each element access priced by its LRU byte "
              "depth against a 45 nm energy table (Horowitz ISSCC 2014 or Han et al. 2015)");

}  // namespace cube
