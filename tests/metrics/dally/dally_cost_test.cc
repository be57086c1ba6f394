// Tests of the `dally` metric: exact integer square roots, the declaration-order layout, and
// hand-priced traces.

#include "metrics/dally/dally_cost.h"

#include <gtest/gtest.h>

#include "core/trace_text.h"

namespace cube {
namespace {

std::uint64_t slow_ceil_sqrt(std::uint64_t a) {
  std::uint64_t d = 0;
  while (d * d < a) ++d;
  return d;
}

TEST(DallyCostTest, CeilSqrtIsExact) {
  EXPECT_EQ(ceil_sqrt(1), 1u);  // metrics.md §7.1: 1->1, 2-4->2, 5-9->3, 10-16->4
  EXPECT_EQ(ceil_sqrt(2), 2u);
  EXPECT_EQ(ceil_sqrt(4), 2u);
  EXPECT_EQ(ceil_sqrt(5), 3u);
  EXPECT_EQ(ceil_sqrt(16), 4u);
  EXPECT_EQ(ceil_sqrt(17), 5u);
  for (std::uint64_t a = 1; a < 20000; ++a) ASSERT_EQ(ceil_sqrt(a), slow_ceil_sqrt(a)) << a;
  for (std::uint64_t r : {65535ULL, 65536ULL, 4294967295ULL, 3037000499ULL}) {
    EXPECT_EQ(ceil_sqrt(r * r), r);
    EXPECT_EQ(ceil_sqrt(r * r + 1), r + 1);
    EXPECT_EQ(ceil_sqrt(r * r - 1), r);
  }
}

std::vector<MetricValue> price(const Trace& trace) {
  auto metric = instantiate<Metric>(parse_spec("dally"), "metric");
  trace.replay(*metric, 3);
  return metric->finish(RunOutcome{});
}

TEST(DallyCostTest, CellsAreNumberedFromOneInDeclarationOrder) {
  // a occupies cells 1..4, b cells 5..7. Reading a[0..3] costs 1+2+2+2 = 7; b[1..2] (cells 6, 7)
  // costs 3+3 = 6; writes are free.
  Trace trace;
  BufferId a = trace.buffers.declare("a", 4, 4);
  BufferId b = trace.buffers.declare("b", 8, 3);
  trace.events = {{a, 0, 4, EventKind::kWrite},
                  {a, 0, 4, EventKind::kRead},
                  {b, 1, 2, EventKind::kRead},
                  {b, 0, 0, EventKind::kFree},
                  {0, 0, 0, EventKind::kOpEnd}};
  auto values = price(trace);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0].name, "dally");
  EXPECT_EQ(*values[0].value, 13.0);
  EXPECT_EQ(*values[1].value, 6.0);
}

TEST(DallyCostTest, LongReadsAreSummedRingByRing) {
  // One read of cells 1..100 = sum_{a=1}^{100} ceil(sqrt(a)) = sum_k k (2k - 1) for k = 1..10.
  Trace trace = parse_text_trace("W x 100; R x 100");
  std::uint64_t expected = 0;
  for (std::uint64_t a = 1; a <= 100; ++a) expected += slow_ceil_sqrt(a);
  EXPECT_EQ(expected, 715u);
  EXPECT_EQ(*price(trace)[0].value, 715.0);
}

TEST(DallyCostTest, HistogramCountsReadsPerDistance) {
  // Cells 1..10: distance 1 once, 2 three times, 3 five times, 4 once (cell 10).
  auto histogram = dally_distance_histogram(parse_text_trace("W x 10; R x 10; R x 1"));
  std::map<std::uint64_t, std::uint64_t> expected = {{1, 2}, {2, 3}, {3, 5}, {4, 1}};
  EXPECT_EQ(histogram, expected);
}

TEST(DallyCostTest, UntracedRunIsNotAvailable) {
  auto metric = instantiate<Metric>(parse_spec("dally"), "metric");
  EXPECT_FALSE(metric->finish(RunOutcome{})[0].value.has_value());
}

}  // namespace
}  // namespace cube
