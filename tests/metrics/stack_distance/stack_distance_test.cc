// Tests of metrics/stack_distance: the Fenwick LRU stack against the naive list on 10,000 random
// operation sequences (mixed id ranges, lengths long enough to force compaction and table
// growth), plus hand-worked depths.

#include "metrics/stack_distance/stack_distance.h"

#include <gtest/gtest.h>

#include <string>

#include "core/rng.h"

namespace cube {
namespace {

TEST(StackDistanceTest, HandWorkedDepths) {
  // Accesses a b c b d d a: the second a has stack distance 4 (anchors.md §2).
  StackDistance s;
  EXPECT_EQ(s.access(1), 0u);
  EXPECT_EQ(s.access(2), 0u);
  EXPECT_EQ(s.access(3), 0u);
  EXPECT_EQ(s.access(2), 2u);
  EXPECT_EQ(s.access(4), 0u);
  EXPECT_EQ(s.access(4), 1u);
  EXPECT_EQ(s.depth(1), 4u);
  EXPECT_EQ(s.access(1), 4u);
  EXPECT_EQ(s.size(), 4u);
  EXPECT_FALSE(s.depth(99).has_value());
  EXPECT_TRUE(s.erase(2));  // stack top->bottom: 1 4 3
  EXPECT_FALSE(s.erase(2));
  EXPECT_EQ(s.depth(3), 3u);
  EXPECT_EQ(s.depth(4), 2u);
  EXPECT_EQ(s.size(), 3u);
  s.clear();
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(s.contains(1));
}

TEST(StackDistanceTest, ArbitrarySixtyFourBitIds) {
  StackDistance s;
  const std::uint64_t ids[] = {0, 1ULL << 63, StackDistance::kReservedId - 1, 12345, 1ULL << 33};
  for (std::uint64_t id : ids) s.move_to_top(id);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(s.depth(ids[i]), 5 - i);
}

// Runs `ops` random operations over ids drawn from `range` values (spread over 64 bits or
// dense), checking every answer and the size against the naive list.
// With `dense_split` > 0, ids below it use the engine's direct array (use_dense_ids) and the
// rest its hash table, so both stores and compaction across them are checked.
void check_against_naive(Rng& rng, std::uint64_t range, int ops, bool dense,
                         std::uint64_t dense_split = 0) {
  StackDistance fast;
  if (dense_split) fast.use_dense_ids(dense_split);
  NaiveStackDistance slow;
  const std::uint64_t salt = rng.next();
  for (int i = 0; i < ops; ++i) {
    std::uint64_t id = rng.below(range);
    if (!dense) id = (id * 0x9E3779B97F4A7C15ULL) ^ salt;
    if (id == StackDistance::kReservedId) continue;
    const std::uint64_t op = rng.below(10);
    if (op < 4) {
      ASSERT_EQ(fast.access(id), slow.access(id)) << "op " << i;
    } else if (op < 6) {
      fast.move_to_top(id);
      slow.move_to_top(id);
    } else if (op < 8) {
      ASSERT_EQ(fast.depth(id), slow.depth(id)) << "op " << i;
    } else if (op < 9 || rng.below(4) == 0) {
      ASSERT_EQ(fast.erase(id), slow.erase(id)) << "op " << i;
    } else {
      ASSERT_EQ(fast.contains(id), slow.depth(id).has_value());
    }
    ASSERT_EQ(fast.size(), slow.size());
  }
}

TEST(StackDistanceTest, MatchesNaiveListOnTenThousandRandomTraces) {
  Rng rng(2024);
  const std::uint64_t ranges[] = {1, 2, 5, 30, 200, 1000, 5000};
  for (int trace = 0; trace < 10000; ++trace) {
    SCOPED_TRACE("trace " + std::to_string(trace));
    const std::uint64_t range = ranges[rng.below(7)];
    // Most traces are short; one in 40 runs past several compactions (4096 stamps each).
    const int ops = trace % 40 == 0 ? 10000 + static_cast<int>(rng.below(20000))
                                    : 1 + static_cast<int>(rng.below(300));
    // Even traces use small ids; every fourth of them keeps the lower half in the dense array.
    const bool dense = trace % 2 == 0;
    check_against_naive(rng, range, ops, dense, dense && trace % 4 == 0 ? range / 2 + 1 : 0);
    if (HasFatalFailure()) return;
  }
}

// Long runs of depth queries with no move between them (answered from the flat prefix counts once
// a run is long enough), broken by a few moves, erases and compactions, against the naive list.
TEST(StackDistanceTest, LongQueryRunsMatchTheNaiveList) {
  Rng rng(77);
  for (const std::uint64_t range : {100u, 3000u, 6000u}) {
    SCOPED_TRACE("range " + std::to_string(range));
    StackDistance fast;
    NaiveStackDistance slow;
    if (range == 3000) fast.use_dense_ids(range);
    for (std::uint64_t i = 0; i < range; ++i) {
      fast.move_to_top(i);
      slow.move_to_top(i);
    }
    for (int phase = 0; phase < 12; ++phase) {
      for (std::uint64_t q = 0, n = rng.below(3 * range); q < n; ++q) {
        const std::uint64_t id = rng.below(range + 5);
        ASSERT_EQ(fast.depth(id), slow.depth(id)) << "phase " << phase << ", query " << q;
      }
      for (std::uint64_t m = 0, n = 1 + rng.below(range / 2); m < n; ++m) {
        const std::uint64_t id = rng.below(range);
        if (rng.below(5) == 0) {
          ASSERT_EQ(fast.erase(id), slow.erase(id));
        } else {
          fast.move_to_top(id);
          slow.move_to_top(id);
        }
      }
    }
  }
}

TEST(StackDistanceTest, DeepStacksSurviveCompactionAndGrowth) {
  // 50,000 distinct ids, then re-accessed in insertion order: each is at the bottom.
  StackDistance s;
  const std::uint64_t n = 50000;
  for (std::uint64_t i = 0; i < n; ++i) s.move_to_top(i);
  for (std::uint64_t round = 0; round < 3; ++round)
    for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(s.access(i), n);
  for (std::uint64_t i = 0; i < n; i += 2) ASSERT_TRUE(s.erase(i));
  EXPECT_EQ(s.size(), n / 2);
  EXPECT_EQ(s.depth(1), n / 2);
  EXPECT_EQ(s.depth(n - 1), 1u);
}

}  // namespace
}  // namespace cube
