// cube/metrics/stack_distance/stack_distance.cc: the Fenwick-over-time LRU stack engine
// (hash table, moves, compaction). Not here: what a metric charges for a depth.

#include "metrics/stack_distance/stack_distance.h"

#include <algorithm>
#include <bit>

#include "core/error.h"

// The counting is popcount-bound. Every x86-64 CPU since 2008 has POPCNT, but the default
// x86-64 target does not assume it and would call a slow library routine instead.
#if defined(__x86_64__) && !defined(__POPCNT__)
#pragma GCC target("popcnt")
#endif

namespace cube {

namespace {
inline std::uint64_t popcount(std::uint64_t x) {
  return static_cast<std::uint64_t>(__builtin_popcountll(x));
}
}  // namespace

std::size_t StackDistance::find(std::uint64_t id) const {
  for (std::size_t i = home(id);; i = (i + 1) & mask_) {
    if (slots_[i].id == id) return i;
    if (slots_[i].id == kReservedId) return kNotFound;
  }
}

std::optional<std::uint64_t> StackDistance::depth(std::uint64_t id) const {
  const std::uint64_t* time = time_of(id);
  if (!time) return std::nullopt;
  return depth_of_time(*time, /*query=*/true);
}

bool StackDistance::contains(std::uint64_t id) const { return time_of(id) != nullptr; }

void StackDistance::use_dense_ids(std::uint64_t n) {
  CUBE_CHECK(n >= dense_.size(), "StackDistance::use_dense_ids cannot shrink the dense range");
  dense_.resize(n, kAbsent);
}

std::uint64_t StackDistance::depth_of_time(std::uint64_t t, bool query) const {
  const std::uint64_t w = t >> 6, now_word = now_ >> 6;
  std::uint64_t n = popcount(bits_[w] >> (t & 63));  // marks at or after t in its word
  if (now_word - w <= kNearWords) {
    for (std::uint64_t i = w + 1; i <= now_word; ++i) n += popcount(bits_[i]);
    return n;
  }
  const std::uint64_t below_in_word = popcount(bits_[w]) - n;
  if (query && static_run_ != kPrefixBuilt && ++static_run_ > bits_.size() / 8 + 64) build_prefix();
  if (static_run_ == kPrefixBuilt) return live_ - prefix_[w] - below_in_word;
  // Words before w are complete (w < now_word), so the Fenwick tree holds all their marks.
  std::int64_t below = 0;
  for (std::uint64_t i = w; i > 0; i -= i & (~i + 1)) below += fenwick_[i];
  return live_ - static_cast<std::uint64_t>(below) - below_in_word;
}

void StackDistance::build_prefix() const {
  prefix_.resize(bits_.size());
  std::uint64_t running = 0;
  for (std::size_t w = 0; w < bits_.size(); ++w) {
    prefix_[w] = static_cast<std::uint32_t>(running);
    running += popcount(bits_[w]);
  }
  static_run_ = kPrefixBuilt;
}

void StackDistance::fenwick_add(std::uint64_t word, std::int64_t delta) {
  const std::uint64_t n = fenwick_.size() - 1;
  for (std::uint64_t i = word + 1; i <= n; i += i & (~i + 1))
    fenwick_[i] += static_cast<std::int32_t>(delta);
}

void StackDistance::clear_mark(std::uint64_t t) {
  drop_prefix();
  bits_[t >> 6] &= ~(std::uint64_t{1} << (t & 63));
  if ((t >> 6) < (now_ >> 6)) fenwick_add(t >> 6, -1);
}

StackDistance::StackDistance() {
  slots_.assign(16, Slot{kReservedId, 0});
  mask_ = slots_.size() - 1;
  group_shift_ = 64 - std::countr_zero(slots_.size() / 4);
  bits_.assign(kMinWords, 0);
  id_at_.assign(kMinWords * 64, 0);
  fenwick_.assign(kMinWords + 1, 0);
}

void StackDistance::clear() {
  std::fill(dense_.begin(), dense_.end(), kAbsent);
  std::fill(slots_.begin(), slots_.end(), Slot{kReservedId, 0});
  std::fill(bits_.begin(), bits_.end(), 0);
  std::fill(fenwick_.begin(), fenwick_.end(), 0);
  live_ = 0;
  hashed_ = 0;
  now_ = 0;
  drop_prefix();
}

std::uint64_t StackDistance::stamp(std::uint64_t id) {
  drop_prefix();
  const std::uint64_t t = now_;
  bits_[t >> 6] |= std::uint64_t{1} << (t & 63);
  id_at_[t] = id;
  ++now_;
  if ((now_ & 63) == 0) {
    // The word just filled is complete: from now on the Fenwick tree accounts for it.
    const std::uint64_t w = (now_ >> 6) - 1;
    fenwick_add(w, static_cast<std::int64_t>(popcount(bits_[w])));
    if (now_ == bits_.size() * 64) compact();
  }
  return t;
}

void StackDistance::move_to_top(std::uint64_t id) {
  if (std::uint64_t* time = time_of(id)) {
    clear_mark(*time);
    *time = now_;
  } else {
    insert_new(id, now_);
    ++live_;
  }
  stamp(id);
}

std::uint64_t StackDistance::access(std::uint64_t id) {
  std::uint64_t* time = time_of(id);
  if (!time) {
    insert_new(id, now_);
    ++live_;
    stamp(id);
    return 0;
  }
  const std::uint64_t t = *time;
  const std::uint64_t d = depth_of_time(t);
  clear_mark(t);
  *time = now_;
  stamp(id);
  return d;
}

bool StackDistance::erase(std::uint64_t id) {
  if (id < dense_.size()) {
    if (dense_[id] == kAbsent) return false;
    clear_mark(dense_[id]);
    dense_[id] = kAbsent;
    --live_;
    return true;
  }
  const std::size_t slot = find(id);
  if (slot == kNotFound) return false;
  clear_mark(slots_[slot].time);
  --live_;
  --hashed_;
  erase_slot(slot);
  return true;
}

void StackDistance::insert_new(std::uint64_t id, std::uint64_t time) {
  if (id < dense_.size()) {
    dense_[id] = time;
    return;
  }
  if ((hashed_ + 1) * 10 > slots_.size() * 7) grow_table();  // load factor <= 0.7
  ++hashed_;
  std::size_t i = home(id);
  while (slots_[i].id != kReservedId) i = (i + 1) & mask_;
  slots_[i] = Slot{id, time};
}

void StackDistance::grow_table() {
  std::vector<Slot> old(slots_.size() * 2, Slot{kReservedId, 0});
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  group_shift_ = 64 - std::countr_zero(slots_.size() / 4);
  for (const Slot& s : old) {
    if (s.id == kReservedId) continue;
    std::size_t i = home(s.id);
    while (slots_[i].id != kReservedId) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void StackDistance::erase_slot(std::size_t hole) {
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  std::size_t j = (hole + 1) & mask_;
  while (slots_[j].id != kReservedId) {
    const std::size_t h = home(slots_[j].id);
    if (((j - h) & mask_) >= ((j - hole) & mask_)) {
      slots_[hole] = slots_[j];
      hole = j;
    }
    j = (j + 1) & mask_;
  }
  slots_[hole].id = kReservedId;
}

void StackDistance::compact() {
  // Renumber the live marks 0..live-1 in time order: an id's new stamp is its mark's rank.
  const std::uint64_t n = live_;
  // Hashed ids: one sequential pass over the table, ranks from prefix popcounts.
  std::vector<std::uint64_t> rank_before(bits_.size());
  std::uint64_t running = 0;
  for (std::size_t w = 0; w < bits_.size(); ++w) {
    rank_before[w] = running;
    running += popcount(bits_[w]);
  }
  for (Slot& s : slots_) {
    if (s.id == kReservedId) continue;
    const std::uint64_t w = s.time >> 6;
    s.time = rank_before[w] + popcount(bits_[w] & ((std::uint64_t{1} << (s.time & 63)) - 1));
  }
  // Dense ids: through the time line and id_at_ (the id stamped at each time), so the cost is
  // O(live ids), however large the dense range. id_at_ is rebuilt for the new time line.
  // At least n + 64 free stamps after the live ones, so the next compaction is n moves away.
  const std::size_t words = std::max<std::size_t>(kMinWords, std::bit_ceil((2 * n + 64) / 64 + 1));
  std::vector<std::uint64_t> id_at(words * 64);
  std::uint64_t rank = 0;
  for (std::size_t w = 0; w < bits_.size(); ++w) {
    for (std::uint64_t marks = bits_[w]; marks != 0; marks &= marks - 1) {
      const std::uint64_t id = id_at_[w * 64 + static_cast<std::uint64_t>(std::countr_zero(marks))];
      if (id < dense_.size()) dense_[id] = rank;
      id_at[rank++] = id;
    }
  }
  CUBE_CHECK(rank == n, "StackDistance: " << rank << " marks for " << n << " live ids");
  id_at_.swap(id_at);
  bits_.assign(words, 0);
  for (std::uint64_t w = 0; w < n / 64; ++w) bits_[w] = ~std::uint64_t{0};
  if (n % 64) bits_[n / 64] = (std::uint64_t{1} << (n % 64)) - 1;
  now_ = n;
  // Linear-time Fenwick build over the complete words (all full); the partial word stays out.
  fenwick_.assign(words + 1, 0);
  for (std::size_t i = 1; i <= words; ++i) {
    if (i - 1 < n / 64) fenwick_[i] += 64;
    const std::size_t parent = i + (i & (~i + 1));
    if (parent <= words) fenwick_[parent] += fenwick_[i];
  }
}

}  // namespace cube
