// Throughput of the exact LRU stack engines (goal, anchors.md §2.3: >= 40 M accesses/s with 1e4
// distinct addresses, >= 20 M/s with 1e6): uniform random traces of 2e7 accesses over 1e4, 1e5
// and 1e6 distinct addresses, through (a) StackDistance::access (a Mattson LRU access: depth,
// then move to top), (b) the lru_dmd metric on single-element write and read events (half each),
// fed in tracer-sized chunks, (b') the same metric on one write of every element then
// single-element reads only (the issue-18 replay's trace, without the file and the process), and
// (c) the whole bytedmd metric path (trace -> program -> live-only evaluation) on single-element
// read events without operation boundaries; and (d) lru_dmd and bytedmd on the element trace of
// the naive n x n matmul program (the scorer's baseline, run by the Dally interpreter: one event
// per operand read, result write and exit read, with operation boundaries).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "core/rng.h"
#include "core/trace.h"
#include "metrics/bytedmd/bytedmd.h"
#include "metrics/lru/lru_dmd.h"
#include "metrics/stack_distance/stack_distance.h"
#include "models/dally_ir/baselines.h"
#include "models/dally_ir/interpreter.h"

namespace cube {
namespace {

constexpr std::size_t kAccesses = 20'000'000;
constexpr std::size_t kAhead = 16;  // prefetch distance, as the metrics use it

std::vector<std::uint64_t> uniform_ids(std::uint64_t distinct, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::uint64_t> ids(kAccesses);
  for (auto& id : ids) id = rng.below(distinct);
  return ids;
}

void BM_StackDistanceAccess(benchmark::State& state) {
  const auto ids = uniform_ids(static_cast<std::uint64_t>(state.range(0)), 1);
  for (auto _ : state) {
    StackDistance stack;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i + kAhead < ids.size()) stack.prefetch(ids[i + kAhead]);
      sum += stack.access(ids[i]);
    }
    benchmark::DoNotOptimize(sum);
  }
  state.counters["accesses/s"] = benchmark::Counter(
      static_cast<double>(kAccesses * state.iterations()), benchmark::Counter::kIsRate);
}

// The lru_dmd metric over `trace`, fed in chunks of the tracer's size as the runner does.
void run_lru_metric(benchmark::State& state, const Trace& trace) {
  for (auto _ : state) {
    LruDmdMetric metric(NoParams{});
    metric.begin(trace.buffers);
    for (std::size_t i = 0; i < trace.events.size(); i += RecordingTracer::kChunkEvents) {
      const std::size_t n = std::min(RecordingTracer::kChunkEvents, trace.events.size() - i);
      metric.consume(std::span<const TraceEvent>(trace.events.data() + i, n));
    }
    metric.end();
    benchmark::DoNotOptimize(metric.finish(RunOutcome{}));
  }
  state.counters["accesses/s"] = benchmark::Counter(
      static_cast<double>(kAccesses * state.iterations()), benchmark::Counter::kIsRate);
}

void BM_LruDmdMetric(benchmark::State& state) {
  // The metric path as the runner drives it: one buffer of `distinct` elements, single-element
  // events (even positions write, odd positions read) in chunks of the tracer's size.
  const auto distinct = static_cast<std::uint64_t>(state.range(0));
  const auto ids = uniform_ids(distinct, 2);
  Trace trace;
  const BufferId b = trace.buffers.declare("x", 4, distinct);
  trace.events.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i)
    trace.events.push_back(
        {b, static_cast<std::uint32_t>(ids[i]), 1, (i & 1) ? EventKind::kRead : EventKind::kWrite});
  run_lru_metric(state, trace);
}

void BM_LruDmdMetricReads(benchmark::State& state) {
  const auto distinct = static_cast<std::uint64_t>(state.range(0));
  const auto ids = uniform_ids(distinct, 4);
  Trace trace;
  const BufferId b = trace.buffers.declare("x", 4, distinct);
  trace.events.reserve(ids.size() + 1);
  trace.events.push_back({b, 0, static_cast<std::uint32_t>(distinct), EventKind::kWrite});
  for (std::uint64_t id : ids)
    trace.events.push_back({b, static_cast<std::uint32_t>(id), 1, EventKind::kRead});
  run_lru_metric(state, trace);
}

void BM_ByteDmdMetric(benchmark::State& state) {
  const auto ids = uniform_ids(static_cast<std::uint64_t>(state.range(0)), 3);
  Trace trace;
  const BufferId b = trace.buffers.declare("x", 4, static_cast<std::uint64_t>(state.range(0)));
  trace.events.reserve(ids.size());
  for (std::uint64_t id : ids)
    trace.events.push_back({b, static_cast<std::uint32_t>(id), 1, EventKind::kRead});
  for (auto _ : state) {
    ByteDmdResult r = evaluate_bytedmd(program_from_trace(trace.buffers, trace.events), 1);
    benchmark::DoNotOptimize(r.cost);
  }
  state.counters["accesses/s"] = benchmark::Counter(
      static_cast<double>(kAccesses * state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_StackDistanceAccess)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LruDmdMetric)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LruDmdMetricReads)
    ->Arg(10'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ByteDmdMetric)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cube

namespace cube {
namespace {

// The element trace of naive matmul n x n on the public-style instance A[i][j] = i n + j + 1,
// B[i][j] = i + 2j + 3 (dally-ir.md §3.1), built once per n.
const Trace& naive_matmul_trace(int n) {
  static std::map<int, Trace> traces;
  auto it = traces.find(n);
  if (it != traces.end()) return it->second;
  DallyProgram program = parse_dally_program(naive_matmul(n), "naive_matmul", DallyVersion::kV0);
  std::vector<std::int64_t> inputs;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) inputs.push_back(i * n + j + 1);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) inputs.push_back(i + 2 * j + 3);
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  run_dally(program, inputs, tracer);
  tracer.finish();
  return traces.emplace(n, std::move(collector.trace())).first->second;
}

void matmul_trace_through(benchmark::State& state, const char* metric_name) {
  const Trace& trace = naive_matmul_trace(static_cast<int>(state.range(0)));
  std::uint64_t accesses = 0;
  for (const TraceEvent& e : trace.events)
    if (e.kind == EventKind::kRead || e.kind == EventKind::kWrite) accesses += e.count;
  for (auto _ : state) {
    auto metric = instantiate<Metric>(parse_spec(metric_name), "metric");
    trace.replay(*metric);
    benchmark::DoNotOptimize(metric->finish(RunOutcome{}));
  }
  state.counters["accesses"] = static_cast<double>(accesses);
  state.counters["accesses/s"] =
      benchmark::Counter(static_cast<double>(accesses) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_NaiveMatmulLruDmd(benchmark::State& state) { matmul_trace_through(state, "lru_dmd"); }
void BM_NaiveMatmulByteDmd(benchmark::State& state) { matmul_trace_through(state, "bytedmd"); }
BENCHMARK(BM_NaiveMatmulLruDmd)->Arg(128)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NaiveMatmulByteDmd)->Arg(128)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cube

BENCHMARK_MAIN();
