// The GEMM trace (models/gemm/gemm_trace.h) priced by the metrics: the tier model of this machine
// (energy_estimate, table zen5, 64-byte lines) must see tiling move the traffic by the amount a
// cache analysis of the two loop orders predicts, and the element-level proxies (lru_dmd,
// bytedmd) must move the same way.
//
// The product: C = A·B, all 128 x 128 row-major floats (64 KiB each, line aligned: the buffers
// are declared A, B, C, pack, each a multiple of 64 bytes). L1 of the model is 48 KiB, L2 1 MiB.
//   Untiled i, j, p: B's lines of one 16-column group (128 lines, 8 KiB) are reused across the
//   group's 16 columns within L1; between row i-1 and row i every other group (56 KiB) passes,
//   so from row 1 on each row reads all of B (64 KiB) from L2: 127 x 64 KiB.
//   Tiled (48-row blocks, 16-column packed panels of 8 KiB, 12-row micro-kernels): within a
//   block the A rows (24 KiB) and the current panel stay in L1, but every block reads each
//   packed panel after the whole packed B (64 KiB) passed: the first block after the packing of
//   all panels, the others after the previous block. So 3 blocks (48 + 48 + 32 rows) x 64 KiB
//   from L2.
//   Compulsory misses (DRAM) are the first touch of every line: A, B and C, plus the pack buffer
//   when tiled. The footprint (256 KiB) fits L2, so no access reaches the L3 tier.

#include "models/gemm/gemm_trace.h"

#include <gtest/gtest.h>

#include <map>

#include "core/outcome.h"
#include "core/trace.h"
#include "metrics/bytedmd/bytedmd.h"
#include "metrics/energy/energy_estimate.h"
#include "metrics/lru/lru_dmd.h"

namespace cube {
namespace {

constexpr int kN = 128;
constexpr std::uint64_t kMatrixBytes = kN * kN * 4;

Trace record_product(bool tiled) {
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  const BufferId a = tracer.buffer("A", 4, kN * kN);
  const BufferId b = tracer.buffer("B", 4, kN * kN);
  const BufferId c = tracer.buffer("C", 4, kN * kN);
  const BufferId pack = tracer.buffer("pack", 4, kN * kN);  // 8 panels x 128 x 16
  const gpt::TracedMatrix ma{a, 0, kN, 1}, mb{b, 0, kN, 1}, mc{c, 0, kN, 1};
  if (tiled) {
    gpt::trace_gemm(tracer, kN, kN, kN, ma, mb, mc, pack, false, 12);
  } else {
    gpt::trace_gemm_naive(tracer, kN, kN, kN, ma, mb, mc);
  }
  tracer.finish();
  return std::move(collector.trace());
}

// Bytes served per tier of the zen5 table at 64-byte lines.
std::map<std::string, std::uint64_t> tier_bytes(const Trace& trace) {
  EnergyEstimateMetric metric(EnergyEstimateConfig{"zen5", 64});
  trace.replay(metric);
  std::map<std::string, std::uint64_t> out;
  for (std::size_t i = 0; i < metric.estimator().tiers().size(); ++i)
    out[metric.estimator().tiers()[i].name] = metric.estimator().tier_bytes()[i];
  return out;
}

double value(Metric& metric, const Trace& trace, const std::string& name) {
  trace.replay(metric);
  for (const MetricValue& v : metric.finish(RunOutcome{}))
    if (v.name == name) return v.value.value();
  ADD_FAILURE() << "no value " << name;
  return 0;
}

// Elements read (or written) per buffer name.
std::map<std::string, std::uint64_t> elements_by_buffer(const Trace& trace, EventKind kind) {
  std::map<std::string, std::uint64_t> out;
  for (const TraceEvent& e : trace.events) {
    if (e.kind == kind) out[trace.buffers[e.buffer].name] += e.count;
  }
  return out;
}

class GemmTraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    naive_ = new Trace(record_product(false));
    tiled_ = new Trace(record_product(true));
  }
  static void TearDownTestSuite() {
    delete naive_;
    delete tiled_;
  }
  static Trace* naive_;
  static Trace* tiled_;
};
Trace* GemmTraceTest::naive_ = nullptr;
Trace* GemmTraceTest::tiled_ = nullptr;

TEST_F(GemmTraceTest, UntiledReadsAllOfBFromL2OnEveryRowAfterTheFirst) {
  const auto bytes = tier_bytes(*naive_);
  EXPECT_EQ(bytes.at("dram"), 3 * kMatrixBytes);  // first touches of A, B, C
  EXPECT_EQ(bytes.at("l3_share_4mib"), 0u);
  const double expected_l2 = 127.0 * kMatrixBytes;
  EXPECT_NEAR(static_cast<double>(bytes.at("l2_1mib")), expected_l2, 0.02 * expected_l2);
}

TEST_F(GemmTraceTest, TiledReadsThePackedBFromL2OncePerRowBlock) {
  const auto bytes = tier_bytes(*tiled_);
  EXPECT_EQ(bytes.at("dram"), 4 * kMatrixBytes);  // A, B, C and the pack buffer
  EXPECT_EQ(bytes.at("l3_share_4mib"), 0u);
  const double expected_l2 = 3.0 * kMatrixBytes;  // every block of ceil(128 / 48)
  EXPECT_NEAR(static_cast<double>(bytes.at("l2_1mib")), expected_l2, 0.1 * expected_l2);
}

TEST_F(GemmTraceTest, TilingLowersTheEnergyEstimateAndTheElementProxies) {
  EnergyEstimateMetric naive_pj(EnergyEstimateConfig{"zen5", 64});
  EnergyEstimateMetric tiled_pj(EnergyEstimateConfig{"zen5", 64});
  const double naive_energy = value(naive_pj, *naive_, "energy_estimate.pj");
  const double tiled_energy = value(tiled_pj, *tiled_, "energy_estimate.pj");
  EXPECT_GT(naive_energy, 5 * tiled_energy) << naive_energy << " vs " << tiled_energy;

  LruDmdMetric naive_lru{NoParams{}}, tiled_lru{NoParams{}};
  EXPECT_GT(value(naive_lru, *naive_, "lru_dmd"), 4 * value(tiled_lru, *tiled_, "lru_dmd"));
  ByteDmdMetric naive_bytedmd(ByteDmdConfig{4}), tiled_bytedmd(ByteDmdConfig{4});
  EXPECT_GT(value(naive_bytedmd, *naive_, "bytedmd"), 4 * value(tiled_bytedmd, *tiled_, "bytedmd"));
}

TEST_F(GemmTraceTest, TheTiledTraceReadsEachOperandAsTheKernelDoes) {
  // Per micro-kernel call: 8 groups of 16 p, each 12 A runs and one packed-B event, then 12 C
  // writes; calls: 11 per 16-column panel and 128-row block structure (48 + 48 + 32 rows: 4 +
  // 4 + 3), 8 panels. Packing: 8 panels x 128 rows x (one B read + one write).
  auto reads = elements_by_buffer(*tiled_, EventKind::kRead);
  auto writes = elements_by_buffer(*tiled_, EventKind::kWrite);
  EXPECT_EQ(reads["B"], static_cast<std::uint64_t>(kN) * kN);      // packed once
  EXPECT_EQ(writes["pack"], static_cast<std::uint64_t>(kN) * kN);  // 128 x 16 per panel
  EXPECT_EQ(reads["A"], 8u * kN * kN);                             // once per panel
  EXPECT_EQ(reads["pack"], 11u * 8u * kN * 16u);                   // once per kernel call
  EXPECT_EQ(writes["C"], static_cast<std::uint64_t>(kN) * kN);     // no K slice: once
}

// The same product in the bf16 process's GEMM (trace_gemm_bf16): A and B bfloat16 (32 KiB each),
// C float32, B packed into bfloat16 pairs (32 KiB). The first touches (DRAM) are the bytes the
// operands hold: 32 + 32 + 64 + 32 KiB = 160 KiB (and 3 KiB of the packed last A panel) against the
// float32 product's 256 KiB (0.625x: C stays float32). The tier model and ByteDMD (declared sizes)
// must fall by at least that much, since every reused line also holds twice the elements.
Trace record_bf16_product() {
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  const BufferId a = tracer.buffer("A", 2, kN * kN);
  const BufferId b = tracer.buffer("B", 2, kN * kN);
  const BufferId c = tracer.buffer("C", 4, kN * kN);
  const BufferId pack = tracer.buffer("pack", 2, kN * kN);
  const BufferId apack = tracer.buffer("apack", 2, 12 * kN * 8);
  gpt::trace_gemm_bf16(tracer, kN, kN, kN, {a, 0, kN, 1}, true, {b, 0, kN, 1}, {c, 0, kN, 1}, false,
                       pack, apack, false);
  tracer.finish();
  return std::move(collector.trace());
}

TEST_F(GemmTraceTest, Bfloat16OperandsHalveTheirTrafficAndLowerEveryProxy) {
  const Trace half = record_bf16_product();
  const auto bytes = tier_bytes(half);
  EXPECT_EQ(bytes.at("dram"), 2.5 * kMatrixBytes + 12 * kN * 2);  // + the packed 8-row panel
  EXPECT_EQ(bytes.at("l3_share_4mib"), 0u);
  EnergyEstimateMetric f32_pj(EnergyEstimateConfig{"zen5", 64}),
      b16_pj(EnergyEstimateConfig{"zen5", 64});
  const double f32_energy = value(f32_pj, *tiled_, "energy_estimate.pj");
  const double b16_energy = value(b16_pj, half, "energy_estimate.pj");
  EXPECT_LT(b16_energy, 0.7 * f32_energy) << b16_energy << " vs " << f32_energy;
  ByteDmdMetric f32_bytedmd(ByteDmdConfig{0}), b16_bytedmd(ByteDmdConfig{0});
  const double f32_cost = value(f32_bytedmd, *tiled_, "bytedmd");
  const double b16_cost = value(b16_bytedmd, half, "bytedmd");
  EXPECT_LT(b16_cost, 0.6 * f32_cost) << b16_cost << " vs " << f32_cost;
  // What the kernel reads: B once into the pack (32 pairs per line), A in place except the last
  // 8-row panel (packed once, then read from apack as 12 rows per call), the pack per call.
  auto reads = elements_by_buffer(half, EventKind::kRead);
  auto writes = elements_by_buffer(half, EventKind::kWrite);
  EXPECT_EQ(reads["B"], static_cast<std::uint64_t>(kN) * kN);
  EXPECT_EQ(writes["pack"], static_cast<std::uint64_t>(kN) * kN);
  EXPECT_EQ(reads["A"], 8u * 120 * kN + 8u * kN);  // 10 full panels per B panel, + the packing
  EXPECT_EQ(reads["apack"], 8u * 12 * kN);
  EXPECT_EQ(writes["C"], static_cast<std::uint64_t>(kN) * kN);
}

}  // namespace
}  // namespace cube
