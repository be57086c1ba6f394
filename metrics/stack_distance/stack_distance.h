// cube/metrics/stack_distance/stack_distance.h: an exact LRU stack of 64-bit ids with
// O(log n) depth queries, shared by the element-LRU (metrics.md §3) and ByteDMD (§6) metrics.
//
// What: a stack S of distinct ids ordered by the time each was last moved to the top. The
// depth of an id is its 1-based position from the top:
//   depth(x) = #{ y in S : last_move(y) >= last_move(x) }.
// This is the Bennett & Kruskal (1975) counting scheme (anchors.md §2.1): every id in S has one
// mark at the time stamp of its last move; a depth is the number of marks at or after the id's
// own stamp. Marks live in a bitset over time stamps; a Fenwick tree over the bitset's 64-bit
// words counts them, so a query is one Fenwick prefix sum plus one popcount, and a move clears
// one bit, sets the bit at the current time and updates the Fenwick tree once (the word being
// filled is kept out of the tree until it is complete, so appending costs O(1)). A depth whose
// mark lies within a few words of the present is counted with popcounts alone. A long run of
// depth queries with no move between them (a write-recency LRU's reads) switches to a flat
// prefix count of the words, built once per run: one load per query instead of the tree's walk.
// When the time stamps run out, the live marks are renumbered 0..n-1 in order (compaction), so
// the time line stays within 4·n + 8192 stamps and memory is O(n), n = size(); compaction walks
// the live marks through an id-per-stamp array, so it costs O(n) even with a large dense range.
// Ids are kept in an open-addressing hash table (linear probing, backward-shift deletion);
// groups of 4 consecutive ids share one cache line, so reading a buffer's elements in order
// costs about one cache miss per 4 ids. When the caller knows its ids are dense (ByteDMD value
// numbers, element ids numbered by declared buffer sizes) it can call use_dense_ids(n): ids
// below n then keep their time stamp in a plain array (8 bytes per id, no hashing, no probing),
// which makes a random access one cache miss instead of two or three.
//
// Preconditions: ids are any 64-bit values except kReservedId.
// Complexity: depth, move_to_top, access and erase take O(log n) time (expected, hashing);
// compaction is O(n) and happens at most once per n moves, so O(1) amortised.
// Memory: 16-byte hash slots at load 0.35-0.7 (23-46 bytes per id), plus at most about 4 bits
// and one Fenwick counter per 64 stamps of time line per id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace cube {

class StackDistance {
 public:
  // The one id the table cannot hold (it marks empty slots).
  static constexpr std::uint64_t kReservedId = ~std::uint64_t{0};

  StackDistance();

  // 1-based position of `id` from the top, or nullopt if `id` is not in the stack. O(log n).
  std::optional<std::uint64_t> depth(std::uint64_t id) const;
  // Moves `id` to the top (depth 1), inserting it if absent. O(log n) amortised.
  void move_to_top(std::uint64_t id);
  // Depth of `id` before the move (0 if it was absent), then move_to_top(id): one classic
  // Mattson LRU access with one hash lookup.
  std::uint64_t access(std::uint64_t id);
  // Removes `id`; the ids above it slide down by one. Returns false if it was absent.
  bool erase(std::uint64_t id);
  bool contains(std::uint64_t id) const;
  // Number of ids in the stack.
  std::size_t size() const { return live_; }
  // Back to an empty stack (keeps allocations).
  void clear();
  // Ids in [0, n) are stored in a direct array from now on; n may grow across calls, never
  // shrink. Precondition: no id in [previous n, n) has been added. Memory: 8n bytes. Ids >= n
  // still go to the hash table.
  void use_dense_ids(std::uint64_t n);
  std::uint64_t dense_ids() const { return dense_.size(); }
  // Hint: `id` will be looked up soon (loads its slot into cache). No effect on state.
  // The hints are always inlined: GCC's analysis counts a prefetch as no side effect, so a hint
  // left as a call is a call to a "pure" void function, which it deletes (the lru_dmd metric's
  // hints were compiled out that way).
  [[gnu::always_inline]] void prefetch(std::uint64_t id) const {
    const void* cell = id < dense_.size() ? static_cast<const void*>(dense_.data() + id)
                                          : static_cast<const void*>(slots_.data() + home(id));
    __builtin_prefetch(cell);
  }
  // Second-stage hint, a few accesses after prefetch(id): loads the time-line word and Fenwick
  // leaf its depth query will touch (for dense ids, whose stamp is then in cache).
  [[gnu::always_inline]] void prefetch_depth(std::uint64_t id) const {
    if (id < dense_.size() && dense_[id] != kAbsent) {
      __builtin_prefetch(&bits_[dense_[id] >> 6]);
      if (static_run_ == kPrefixBuilt) {
        __builtin_prefetch(&prefix_[dense_[id] >> 6]);
      } else {
        __builtin_prefetch(&fenwick_[dense_[id] >> 6]);
      }
    }
  }

 private:
  struct Slot {
    std::uint64_t id;
    std::uint64_t time;
  };
  static constexpr std::size_t kNotFound = ~std::size_t{0};
  static constexpr std::uint64_t kAbsent = ~std::uint64_t{0};  // dense_ entry of an absent id
  static constexpr std::size_t kMinWords = 64;                 // smallest time line: 4096 stamps
  static constexpr std::uint64_t kNearWords = 4;

  std::size_t home(std::uint64_t id) const {
    // Fibonacci hashing of id / 4, keeping id % 4 as the position inside a 4-slot group.
    const std::uint64_t group = ((id >> 2) * 0x9E3779B97F4A7C15ULL) >> group_shift_;
    return static_cast<std::size_t>((group << 2) | (id & 3));
  }
  std::size_t find(std::uint64_t id) const;
  // The time stamp cell of `id`, or nullptr when it is not in the stack.
  std::uint64_t* time_of(std::uint64_t id) {
    if (id < dense_.size()) return dense_[id] == kAbsent ? nullptr : &dense_[id];
    const std::size_t slot = find(id);
    return slot == kNotFound ? nullptr : &slots_[slot].time;
  }
  const std::uint64_t* time_of(std::uint64_t id) const {
    return const_cast<StackDistance*>(this)->time_of(id);
  }
  // Number of marks at or after time t (t must hold a mark or lie before now_). `query` counts
  // the call into the current run of queries (depth() does; access(), which moves at once, not).
  std::uint64_t depth_of_time(std::uint64_t t, bool query = false) const;
  void fenwick_add(std::uint64_t word, std::int64_t delta);
  void clear_mark(std::uint64_t t);
  // A run of depth queries with no mark changed between them (the reads of a write-recency LRU)
  // answers from a flat prefix count of the time line once the run has asked for about
  // words / 8 + 64 depths: one load instead of the Fenwick tree's log2(words), and the O(words)
  // build is paid back by then. Any mark change drops it.
  void build_prefix() const;
  void drop_prefix() { static_run_ = 0; }
  // Sets the mark for time now_ (recording `id` there) and advances now_; returns the stamp.
  std::uint64_t stamp(std::uint64_t id);
  void compact();
  void grow_table();
  void insert_new(std::uint64_t id, std::uint64_t time);
  void erase_slot(std::size_t slot);

  std::vector<std::uint64_t> dense_;  // time stamp per dense id, kAbsent when not in the stack
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  int group_shift_ = 64;
  std::size_t live_ = 0;               // ids in the stack
  std::size_t hashed_ = 0;             // of which in the hash table
  std::vector<std::uint64_t> bits_;    // one bit per time stamp: set = a live id's last move
  std::vector<std::uint64_t> id_at_;   // the id stamped at each time (valid where the bit is set)
  std::vector<std::int32_t> fenwick_;  // 1-based, over popcounts of complete words
  std::uint64_t now_ = 0;              // next time stamp
  // Queries are const but may build the prefix counts: one stack serves one thread.
  static constexpr std::uint64_t kPrefixBuilt = ~std::uint64_t{0};
  mutable std::vector<std::uint32_t> prefix_;  // marks in words [0, w), once the run built it
  // Depth queries since the last mark change, or kPrefixBuilt when prefix_ holds the counts.
  mutable std::uint64_t static_run_ = 0;
};

// The obvious stack: a vector with the top at the back and a linear search. O(n) per
// operation; the oracle the tests hold StackDistance to.
class NaiveStackDistance {
 public:
  std::optional<std::uint64_t> depth(std::uint64_t id) const {
    for (std::size_t i = stack_.size(); i-- > 0;)
      if (stack_[i] == id) return stack_.size() - i;
    return std::nullopt;
  }
  void move_to_top(std::uint64_t id) {
    erase(id);
    stack_.push_back(id);
  }
  std::uint64_t access(std::uint64_t id) {
    const std::uint64_t d = depth(id).value_or(0);
    move_to_top(id);
    return d;
  }
  bool erase(std::uint64_t id) {
    for (std::size_t i = stack_.size(); i-- > 0;) {
      if (stack_[i] == id) {
        stack_.erase(stack_.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
    }
    return false;
  }
  std::size_t size() const { return stack_.size(); }

 private:
  std::vector<std::uint64_t> stack_;  // bottom first
};

}  // namespace cube
