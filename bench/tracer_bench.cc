// The cost of tracing that nobody asked for: (a) a kernel written plainly vs the same kernel
// templated on NullTracer (must be equal), (b) gf2 and sgd solves with no tracer, with a
// RecordingTracer without sinks, and with a RecordingTracer feeding a counting sink.

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "core/spec.h"
#include "core/trace.h"
#include "problems/problem.h"
#include "solvers/solver.h"

namespace cube {
namespace {

constexpr std::size_t kElements = 4096;

// One x and one y for every kernel variant, so that all of them see the same addresses (y sits
// 64 bytes past a 4 KiB multiple from x, avoiding 4K-aliasing stalls that would differ by heap
// placement and swamp the comparison).
struct KernelData {
  std::vector<double> storage = std::vector<double>(2 * kElements + 8, 1.0);
  double* x() { return storage.data(); }
  double* y() { return storage.data() + kElements + 8; }
};
KernelData& kernel_data() {
  static KernelData data;
  return data;
}

// y <- a x + y, element by element.
[[gnu::noinline]] void axpy_plain(double a, const double* x, double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// The same kernel, traced per element (the finest granularity a solver can choose).
template <class Tracer>
[[gnu::noinline]] void axpy_traced(Tracer& t, BufferId xb, BufferId yb, double a, const double* x,
                                   double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    y[i] += a * x[i];
    t.read(xb, i, 1);
    t.read(yb, i, 1);
    t.write(yb, i, 1);
    t.op_end();
  }
}

void BM_KernelPlain(benchmark::State& state) {
  double* x = kernel_data().x();
  double* y = kernel_data().y();
  for (auto _ : state) {
    axpy_plain(1e-9, x, y, kElements);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kElements));
}
BENCHMARK(BM_KernelPlain);

void BM_KernelNullTracer(benchmark::State& state) {
  double* x = kernel_data().x();
  double* y = kernel_data().y();
  NullTracer t;
  const BufferId xb = t.buffer("x", 8, kElements), yb = t.buffer("y", 8, kElements);
  for (auto _ : state) {
    axpy_traced(t, xb, yb, 1e-9, x, y, kElements);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kElements));
}
BENCHMARK(BM_KernelNullTracer);

// For scale: the same kernel recording its 4 events per element (no sink).
void BM_KernelRecordingTracer(benchmark::State& state) {
  double* x = kernel_data().x();
  double* y = kernel_data().y();
  RecordingTracer t;
  const BufferId xb = t.buffer("x", 8, kElements), yb = t.buffer("y", 8, kElements);
  for (auto _ : state) {
    axpy_traced(t, xb, yb, 1e-9, x, y, kElements);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kElements));
}
BENCHMARK(BM_KernelRecordingTracer);

// A sink that only counts, the cheapest possible consumer.
class CountingSink : public TraceSink {
 public:
  void consume(std::span<const TraceEvent> events) override { count_ += events.size(); }
  std::uint64_t count() const { return count_; }

 private:
  std::uint64_t count_ = 0;
};

enum Mode { kOff = 0, kNoSink = 1, kCountingSink = 2 };

void solve_with(benchmark::State& state, const std::string& problem_spec,
                const std::string& solver_spec) {
  const auto mode = static_cast<Mode>(state.range(0));
  auto p = instantiate<Problem>(parse_spec(problem_spec), "problem");
  p->generate(42);
  auto solver = instantiate<Solver>(parse_spec(solver_spec), "solver");
  std::uint64_t events = 0;
  for (auto _ : state) {
    if (mode == kOff) {
      SolveResult r = solver->solve(*p, RunContext(42), nullptr);
      benchmark::DoNotOptimize(r.test_predictions.data());
      continue;
    }
    RecordingTracer tracer;
    CountingSink sink;
    if (mode == kCountingSink) tracer.add_sink(&sink);
    SolveResult r = solver->solve(*p, RunContext(42), &tracer);
    tracer.finish();
    benchmark::DoNotOptimize(r.test_predictions.data());
    events = tracer.events_recorded();
  }
  state.counters["events"] = static_cast<double>(events);
  // Events recorded per second of traced solve (the solve's own work included).
  if (mode != kOff)
    state.counters["events_per_s"] =
        benchmark::Counter(static_cast<double>(events) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate);
  state.SetLabel(mode == kOff      ? "tracer=nullptr"
                 : mode == kNoSink ? "recording, no sink"
                                   : "recording, counting sink");
}

void BM_Gf2Tracing(benchmark::State& state) { solve_with(state, "sparse_parity(n=20,k=3)", "gf2"); }
BENCHMARK(BM_Gf2Tracing)
    ->Arg(kOff)
    ->Arg(kNoSink)
    ->Arg(kCountingSink)
    ->Unit(benchmark::kMicrosecond);

void BM_Gf2TracingN100(benchmark::State& state) {
  solve_with(state, "sparse_parity(n=100,k=5)", "gf2");
}
BENCHMARK(BM_Gf2TracingN100)
    ->Arg(kOff)
    ->Arg(kNoSink)
    ->Arg(kCountingSink)
    ->Unit(benchmark::kMicrosecond);

void BM_SgdTracing(benchmark::State& state) {
  solve_with(state, "sparse_parity(n=20,k=3,n_train=1000,n_test=200)", "sgd");
}
BENCHMARK(BM_SgdTracing)
    ->Arg(kOff)
    ->Arg(kNoSink)
    ->Arg(kCountingSink)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cube

BENCHMARK_MAIN();
