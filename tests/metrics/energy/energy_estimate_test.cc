// Tests of metrics/energy: hand-computed energy estimates (worked out in the comments) for both
// tables and every tier boundary, element sizes and offsets from a RecordingTracer, and the
// Fenwick ByteLruStack against a slow list-based LRU stack on random traces, compactions
// included.

#include "metrics/energy/energy_estimate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/rng.h"
#include "core/trace_text.h"

namespace cube {
namespace {

void expect_rel(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-9 * std::abs(expected)) << what;
}

double estimate(const std::string& spec, const Trace& trace, std::size_t chunk = 3) {
  std::unique_ptr<Metric> metric = instantiate<Metric>(parse_spec(spec), "metric");
  trace.replay(*metric, chunk);
  std::vector<MetricValue> values = metric->finish(RunOutcome{});
  EXPECT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].name, "energy_estimate.pj");
  EXPECT_TRUE(values[0].value.has_value());
  return values[0].value.value_or(-1);
}

// Per byte: horowitz 10/8 = 1.25, 20/8 = 2.5, 100/8 = 12.5, 1300/8 = 162.5 pJ;
//           han 1/4 = 0.25, 5/4 = 1.25, 640/4 = 160 pJ. Text traces use 4-byte elements, so
// one float costs horowitz 5 / 10 / 50 / 650 pJ and han 1 / 5 / 640 pJ.

TEST(EnergyEstimateTest, WriteThenReadHorowitz) {
  // W a 4: four first touches -> DRAM, 4 x 650 = 2600.
  // R a 4: a_i was last touched by the write; since then the other three elements were touched
  // once each, so every depth is 4 elements = 16 B <= 8 KB -> 4 x 5 = 20. Total 2620.
  EXPECT_EQ(estimate("energy_estimate", parse_text_trace("W a 4; R a 4")), 2620.0);
}

TEST(EnergyEstimateTest, RepeatedReadsCountDistinctBytes) {
  // W a 1; W b 1: 2 x 650 = 1300. R a 1: b touched since -> depth 8 B -> 5.
  // R a 1 again: nothing since -> depth 4 B -> 5. Total 1310.
  Trace t = parse_text_trace("W a 1; W b 1; R a 1; R a 1");
  EXPECT_EQ(estimate("energy_estimate(table=horowitz)", t), 1310.0);
  // han: 2 x 640 + 2 x 1 (depths 8 B and 4 B <= 256 B) = 1282.
  EXPECT_EQ(estimate("energy_estimate(table=han)", t), 1282.0);
}

TEST(EnergyEstimateTest, HorowitzTierBoundaries) {
  // W a n; R a n: n writes at 650, then n reads each at depth 4n bytes.
  struct Case {
    std::uint64_t n;
    double read_pj_per_float;
  };
  for (Case c : {Case{2048, 5},       // depth 8192 B = 8 KB: still the 8 KB cache
                 Case{2049, 10},      // 8196 B: the 32 KB cache
                 Case{8192, 10},      // 32768 B = 32 KB
                 Case{8193, 50},      // 32772 B: the 1 MB cache
                 Case{262144, 50},    // 1,048,576 B = 1 MB
                 Case{262145, 650}})  // 1,048,580 B: DRAM
  {
    SCOPED_TRACE(c.n);
    Trace t = parse_text_trace("W a " + std::to_string(c.n) + "; R a " + std::to_string(c.n));
    const double n = static_cast<double>(c.n);
    EXPECT_EQ(estimate("energy_estimate", t, 1), n * 650 + n * c.read_pj_per_float);
  }
  // e.g. n = 262144: 170,393,600 + 13,107,200 = 183,500,800 pJ.
  EXPECT_EQ(estimate("energy_estimate", parse_text_trace("W a 262144; R a 262144")), 183500800.0);
}

TEST(EnergyEstimateTest, HanTierBoundaries) {
  // W a 64; R a 64: 64 x 640 = 40960, reads at depth 256 B = the register file: 64 x 1 = 64.
  EXPECT_EQ(estimate("energy_estimate(table=han)", parse_text_trace("W a 64; R a 64")), 41024.0);
  // Then W b 1 (DRAM, 640) and R a 1: since a_0's last access (the first read) a_1..a_63, b_0
  // and a_0 itself: 65 floats = 260 B > 256 B -> SRAM, 5. Total 41024 + 640 + 5 = 41669.
  EXPECT_EQ(
      estimate("energy_estimate(table=han)", parse_text_trace("W a 64; R a 64; W b 1; R a 1")),
      41669.0);
  // W a 2049; R a 2049: depth 8196 B > 8 KB -> DRAM for the reads too: 2 x 2049 x 640.
  EXPECT_EQ(estimate("energy_estimate(table=han)", parse_text_trace("W a 2049; R a 2049")),
            2 * 2049 * 640.0);
}

TEST(EnergyEstimateTest, ElementBytesAndOffsetsFromARecordingTracer) {
  // d: 4 elements of 8 bytes. write(d, 0, 4): 4 first touches x 8 B x 162.5 = 5200.
  // read(d, 2, 1): d_2 last written before d_3: depth 16 B -> 8 x 1.25 = 10.
  // read(d, 2, 2): d_2 nothing since -> 8 B -> 10; d_3: d_2 since -> 16 B -> 10.
  // f: 1-byte elements. write(f, 5, 2): 2 x 1 x 162.5 = 325. read(f, 6, 1): depth 1 B -> 1.25.
  // Total 5200 + 30 + 325 + 1.25 = 5556.25.
  auto metric = instantiate<Metric>(parse_spec("energy_estimate"), "metric");
  RecordingTracer tracer;
  tracer.add_sink(metric.get());
  BufferId d = tracer.buffer("d", 8, 4);
  tracer.write(d, 0, 4);
  tracer.read(d, 2, 1);
  tracer.op_end();
  tracer.read(d, 2, 2);
  tracer.free(d);
  BufferId f = tracer.buffer("f", 1, 8);
  tracer.write(f, 5, 2);
  tracer.read(f, 6, 1);
  tracer.finish();
  EXPECT_EQ(metric->finish(RunOutcome{})[0].value, 5556.25);
  const auto& estimator = dynamic_cast<EnergyEstimateMetric&>(*metric).estimator();
  EXPECT_EQ(estimator.tier_bytes(), (std::vector<std::uint64_t>{25, 0, 0, 34}));
}

TEST(EnergyEstimateTest, MarkersAreIgnoredAndBeginResets) {
  auto metric = instantiate<Metric>(parse_spec("energy_estimate"), "metric");
  parse_text_trace("W z 100; R z 100").replay(*metric, 7);
  parse_text_trace("W a 1; OP; W b 1; F b; R a 1; OP; R a 1").replay(*metric, 1);
  EXPECT_EQ(metric->finish(RunOutcome{})[0].value, 1310.0);  // as RepeatedReadsCountDistinctBytes
}

TEST(EnergyEstimateTest, MetricShape) {
  auto metric = instantiate<Metric>(parse_spec("energy_estimate"), "metric");
  EXPECT_TRUE(metric->needs_trace());
  EXPECT_EQ(metric->spec(), "energy_estimate(line_bytes=0,table=horowitz)");
  EXPECT_EQ(metric->value_names(), std::vector<std::string>{"energy_estimate.pj"});
  std::vector<MetricValue> values = metric->finish(RunOutcome{});
  ASSERT_EQ(values.size(), 1u);
  EXPECT_FALSE(values[0].value.has_value());
  EXPECT_THROW(instantiate<Metric>(parse_spec("energy_estimate(table=dally)"), "metric"),
               ConfigError);
  EXPECT_THROW(energy_table("dally"), ConfigError);
  EXPECT_EQ(energy_table("horowitz").size(), 4u);
  EXPECT_EQ(energy_table("han").size(), 3u);
  EXPECT_EQ(energy_table("zen5").size(), 4u);
  EXPECT_THROW(instantiate<Metric>(parse_spec("energy_estimate(line_bytes=48)"), "metric"),
               ConfigError);
  EXPECT_THROW(instantiate<Metric>(parse_spec("energy_estimate(line_bytes=8192)"), "metric"),
               ConfigError);
}

TEST(EnergyEstimateTest, Zen5TiersAreThisMachinesCachesAtHorowitzEnergies) {
  const std::vector<EnergyTier> tiers = energy_table("zen5");
  EXPECT_EQ(tiers[0].capacity_bytes, 48u * 1024);
  EXPECT_EQ(tiers[1].capacity_bytes, 1024u * 1024);
  EXPECT_EQ(tiers[2].capacity_bytes, 4u * 1024 * 1024);
  EXPECT_FALSE(tiers[3].capacity_bytes.has_value());
  EXPECT_EQ(tiers[0].pj_per_byte, 2.5);    // 20 pJ per 64 bits (32 KB cache)
  EXPECT_EQ(tiers[1].pj_per_byte, 12.5);   // 100 pJ (1 MB cache)
  EXPECT_EQ(tiers[2].pj_per_byte, 25.0);   // 100 pJ x sqrt(4 MiB / 1 MiB)
  EXPECT_EQ(tiers[3].pj_per_byte, 162.5);  // 1.3 nJ DRAM
}

// The obvious LRU stack: a vector, most recent first, searched and summed linearly.
class SlowByteLru {
 public:
  std::optional<std::uint64_t> access(BufferId b, std::uint64_t index, std::uint32_t bytes) {
    std::optional<std::uint64_t> depth;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < stack_.size(); ++i) {
      sum += std::get<2>(stack_[i]);
      if (std::get<0>(stack_[i]) == b && std::get<1>(stack_[i]) == index) {
        depth = sum;
        stack_.erase(stack_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    stack_.insert(stack_.begin(), {b, index, bytes});
    return depth;
  }

 private:
  std::vector<std::tuple<BufferId, std::uint64_t, std::uint32_t>> stack_;
};

TEST(EnergyEstimateTest, ByteLruStackMatchesTheSlowStackOnRandomTraces) {
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    const std::size_t initial_slots = 1 + rng.below(16);  // forces many compactions
    ByteLruStack fast(initial_slots);
    SlowByteLru slow;
    const std::uint32_t element_bytes[] = {1, 2, 4, 8, 3};
    const std::uint64_t elements = 1 + rng.below(200);
    for (int i = 0; i < 3000; ++i) {
      BufferId b = static_cast<BufferId>(rng.below(5));
      std::uint64_t index = rng.below(elements);
      ASSERT_EQ(fast.access(b, index, element_bytes[b]), slow.access(b, index, element_bytes[b]))
          << "access " << i;
    }
  }
}

TEST(EnergyEstimateTest, EstimatorTiersMatchTheSlowStack) {
  // Small custom tiers so that random traces reach every one.
  const std::vector<EnergyTier> tiers = {
      {"t0", 16, 0.5}, {"t1", 64, 2.0}, {"t2", 200, 8.0}, {"t3", std::nullopt, 100.0}};
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    EnergyEstimator estimator(tiers, 4);
    SlowByteLru slow;
    std::vector<std::uint64_t> expected(4, 0);
    for (int i = 0; i < 2000; ++i) {
      BufferId b = static_cast<BufferId>(rng.below(3));
      std::uint32_t bytes = 1u << b;
      std::uint64_t index = rng.below(40);
      std::optional<std::uint64_t> depth = slow.access(b, index, bytes);
      std::size_t tier = !depth ? 3 : *depth <= 16 ? 0 : *depth <= 64 ? 1 : *depth <= 200 ? 2 : 3;
      expected[tier] += bytes;
      ASSERT_EQ(estimator.access(b, index, bytes), tier) << "access " << i;
    }
    EXPECT_EQ(estimator.tier_bytes(), expected);
    expect_rel(estimator.picojoules(),
               0.5 * static_cast<double>(expected[0]) + 2.0 * static_cast<double>(expected[1]) +
                   8.0 * static_cast<double>(expected[2]) +
                   100.0 * static_cast<double>(expected[3]),
               "pJ");
  }
}

// Line-level pricing against the slow stack over line keys: every event is mapped by hand to
// the 64-byte lines of its bytes in the logical address space (buffers laid out in declaration
// order, 4-byte and 2-byte elements, unaligned bases).
TEST(EnergyEstimateTest, LineLevelPricesTheLinesEachEventTouches) {
  const std::vector<EnergyTier> tiers = energy_table("zen5");
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    Trace trace;
    trace.buffers.declare("a", 4, 3001);  // 12,004 bytes: b starts mid-line
    trace.buffers.declare("b", 2, 50000);
    trace.buffers.declare("c", 4, 300000);
    SlowByteLru slow;
    std::vector<std::uint64_t> expected(tiers.size(), 0);
    for (int i = 0; i < 1500; ++i) {
      const BufferId b = static_cast<BufferId>(rng.below(3));
      const BufferInfo& info = trace.buffers[b];
      const std::uint64_t count = 1 + rng.below(40);
      const std::uint64_t offset = rng.below(info.elements - count);
      trace.events.push_back({b, static_cast<std::uint32_t>(offset),
                              static_cast<std::uint32_t>(count),
                              rng.below(2) ? EventKind::kRead : EventKind::kWrite});
      const std::uint64_t first = (info.base_address + offset * info.element_bytes) / 64;
      const std::uint64_t last =
          (info.base_address + (offset + count) * info.element_bytes - 1) / 64;
      for (std::uint64_t line = first; line <= last; ++line) {
        const std::optional<std::uint64_t> depth = slow.access(0, line, 64);
        std::size_t tier = tiers.size() - 1;
        if (depth) {
          tier = 0;
          while (tiers[tier].capacity_bytes && *depth > *tiers[tier].capacity_bytes) ++tier;
        }
        expected[tier] += 64;
      }
    }
    EnergyEstimateMetric metric(EnergyEstimateConfig{"zen5", 64});
    trace.replay(metric, 7);
    EXPECT_EQ(metric.estimator().tier_bytes(), expected);
    std::vector<std::uint64_t> summed(tiers.size(), 0);
    for (const auto& row : metric.tier_bytes_by_buffer())
      for (std::size_t t = 0; t < row.size(); ++t) summed[t] += row[t];
    EXPECT_EQ(summed, expected);
    EXPECT_EQ(metric.tier_bytes_by_buffer().size(), 3u);
  }
}

}  // namespace
}  // namespace cube
