// bench/gpt_bench.cc: speed of one GPT training iteration (forward, backward, AdamW) on nanoGPT's
// CPU shakespeare_char configuration, with a per-kernel breakdown and model FLOP/s and MFU.
//
// Configuration: n_layer 4, n_head 4, n_embd 128, block 64, batch 12, vocab 65, bias off,
// dropout 0 (nanoGPT README's CPU command line). Random token batches, fixed seeds.
// FLOPs per iteration (nanoGPT `estimate_mfu`, after PaLM appendix B):
//   flops = tokens * (6 N + 12 L T C),  tokens = B T,  N = parameters without wpe (wte counted:
//   it is the lm_head), L layers, T block, C n_embd. For this configuration N = 795,904 and
//   flops = 768 * (4,775,424 + 393,216) = 3.97 GFLOP. (The kernels actually execute the full
//   T x T attention square and 2 extra small passes, within 1 % of this.)
// MFU = achieved FLOP/s / measure_fma_peak_gflops(threads) (gemm_peak.h: register-only FMA
// chains in the widest ISA the CPU has, AVX-512 where present), measured in the same process;
// peak_GFLOPs is that ceiling (Peak/gemm below: what cube's GEMM reaches on 1536 x 512 x 512).
// Counters: ms_per_iter (wall), GFLOPs (model FLOP/s, wall), MFU, and for GptStepBreakdown the
// per-iteration milliseconds of every kernel kind in forward (f_) and backward (b_).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/trace.h"
#include "models/gemm/gemm.h"
#include "models/gemm/gemm_peak.h"
#include "models/gpt/gpt_model.h"
#include "models/optim/optimizers.h"

namespace {

using cube::NullTracer;
using cube::Rng;
using namespace cube::gpt;

constexpr int kBatch = 12;

GptConfig cpu_config() { return GptConfig{65, 64, 4, 4, 128, false, 0.0f}; }

double flops_per_iteration(const GptModel& m) {
  const GptConfig& c = m.config();
  const double n = static_cast<double>(m.num_parameters() - m.tensor("wpe").size);
  const double tokens = static_cast<double>(kBatch) * c.block_size;
  return tokens * (6.0 * n + 12.0 * c.n_layer * c.block_size * c.n_embd);
}

double peak(int threads) {
  static std::map<int, double> cache;
  auto it = cache.find(threads);
  if (it == cache.end()) it = cache.emplace(threads, measure_fma_peak_gflops(threads)).first;
  return it->second;
}

struct Setup {
  GptModel model{cpu_config(), kBatch, 1337};
  AdamW opt{AdamWConfig{}, model.tensors(), model.num_parameters()};
  Rng rng{42};
  std::vector<std::uint8_t> x, y;
  NullTracer tracer;
  std::int64_t it = 0;

  void next_batch() {
    x.resize(kBatch * 64);
    y.resize(kBatch * 64);
    for (auto& v : x) v = static_cast<std::uint8_t>(rng.below(65));
    for (auto& v : y) v = static_cast<std::uint8_t>(rng.below(65));
    model.set_batch<std::uint8_t>(x, y, kBatch, 64);
  }
  void update() {
    clip_grad_norm(model.grads(), 1.0);
    opt.begin_step();
    opt.update({0, model.num_parameters()}, model.params(), model.grads(),
               static_cast<float>(nanogpt_lr(it++, 1e-3, 1e-4, 100, 2000)));
  }
};

// Wall-clock milliseconds per iteration, model GFLOP/s and MFU, from the loop's own clock.
void set_rate_counters(benchmark::State& state, const GptModel& m, int threads, double seconds) {
  const double per_iter = flops_per_iteration(m);
  const double s_per_iter = seconds / static_cast<double>(state.iterations());
  state.counters["ms_per_iter"] = s_per_iter * 1e3;
  state.counters["GFLOPs"] = per_iter / s_per_iter * 1e-9;
  state.counters["peak_GFLOPs"] = peak(threads);
  state.counters["MFU"] = per_iter / s_per_iter * 1e-9 / peak(threads);
  state.counters["GFLOP_per_iter"] = per_iter * 1e-9;
}

// Whole iteration: forward + backward + clip + AdamW.
void GptTrainStep(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  omp_set_num_threads(threads);
  Setup s;
  s.next_batch();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    s.model.forward(s.tracer, true, s.it);
    s.model.backward(s.tracer);
    s.update();
    benchmark::ClobberMemory();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  set_rate_counters(state, s.model, threads, seconds);
}
BENCHMARK(GptTrainStep)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The training step and the model's GEMM shapes on each fused GEMM path the CPU runs, side by
// side in one process (the paths give the same bits; gemm.h). Arg: threads; the path is the name.
void GptTrainStepOnPath(benchmark::State& state, GemmPath path) {
  if (path == GemmPath::kAvx512 && best_gemm_path() != GemmPath::kAvx512) {
    state.SkipWithError("no AVX-512 on this CPU");
    return;
  }
  set_gemm_path(path);
  GptTrainStep(state);
  set_gemm_path(best_gemm_path());
}
BENCHMARK_CAPTURE(GptTrainStepOnPath, avx2, GemmPath::kAvx2)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(GptTrainStepOnPath, avx512, GemmPath::kAvx512)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// One product of the exam model (M = B*T = 768 rows) on a path, 2 threads: GFLOP/s.
// Args: path (1 = AVX2, 2 = AVX-512), N, K.
void GemmOnPath(benchmark::State& state) {
  const GemmPath path = state.range(0) == 2 ? GemmPath::kAvx512 : GemmPath::kAvx2;
  if (path == GemmPath::kAvx512 && best_gemm_path() != GemmPath::kAvx512) {
    state.SkipWithError("no AVX-512 on this CPU");
    return;
  }
  const int M = 768, N = static_cast<int>(state.range(1)), K = static_cast<int>(state.range(2));
  omp_set_num_threads(2);
  set_gemm_path(path);
  Rng rng(7);
  std::vector<float> in(static_cast<std::size_t>(M) * K), w(static_cast<std::size_t>(N) * K),
      out(static_cast<std::size_t>(M) * N);
  for (float& v : in) v = static_cast<float>(rng.uniform() - 0.5);
  for (float& v : w) v = static_cast<float>(rng.uniform() - 0.5);
  for (auto _ : state) {
    gemm_nt(M, N, K, in.data(), w.data(), out.data(), false);
    benchmark::ClobberMemory();
  }
  set_gemm_path(best_gemm_path());
  state.counters["GFLOPs"] =
      benchmark::Counter(2.0 * M * N * K * static_cast<double>(state.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate);
}
// qkv (N = 3C, K = C), fc (4C, C), fc_proj (C, 4C), attn_proj (C, C), lm_head (65, C); C = 128.
BENCHMARK(GemmOnPath)
    ->ArgsProduct({{1, 2}, {384}, {128}})
    ->ArgsProduct({{1, 2}, {512}, {128}})
    ->ArgsProduct({{1, 2}, {128}, {512}})
    ->ArgsProduct({{1, 2}, {128}, {128}})
    ->ArgsProduct({{1, 2}, {65}, {128}})
    ->UseRealTime();

void GptForward(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Setup s;
  s.next_batch();
  for (auto _ : state) benchmark::DoNotOptimize(s.model.forward(s.tracer, true, 0));
}
BENCHMARK(GptForward)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void GptBackward(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Setup s;
  s.next_batch();
  s.model.forward(s.tracer, true, 0);
  for (auto _ : state) {
    s.model.backward(s.tracer);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(GptBackward)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void GptClipAndAdamW(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Setup s;
  s.next_batch();
  s.model.forward(s.tracer, true, 0);
  s.model.backward(s.tracer);
  for (auto _ : state) {
    s.update();
    benchmark::ClobberMemory();
  }
}
BENCHMARK(GptClipAndAdamW)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// Milliseconds per iteration of every kernel kind (KernelProfile), forward and backward.
void GptStepBreakdown(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  omp_set_num_threads(threads);
  Setup s;
  s.next_batch();
  KernelProfile profile;
  s.model.set_profile(&profile);
  for (auto _ : state) {
    s.model.forward(s.tracer, true, s.it);
    s.model.backward(s.tracer);
    s.update();
  }
  const double n = static_cast<double>(state.iterations());
  for (int k = 0; k < KernelProfile::kKinds; ++k) {
    state.counters[std::string("f_") + KernelProfile::name(k)] = profile.forward[k] / n * 1e3;
    state.counters[std::string("b_") + KernelProfile::name(k)] = profile.backward[k] / n * 1e3;
  }
}
BENCHMARK(GptStepBreakdown)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// cube's GEMM on a large product and, above it, the register-only FMA ceiling (the MFU
// denominator) in the widest ISA and in AVX2, side by side (gemm_peak.h).
void Peak(benchmark::State& state, double (*measure)(int threads)) {
  const int threads = static_cast<int>(state.range(0));
  double g = 0;
  for (auto _ : state) g = measure(threads);
  state.counters["GFLOPs"] = g;
}
BENCHMARK_CAPTURE(Peak, gemm, measure_gemm_peak_gflops)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Peak, fma_avx2,
                  [](int threads) { return measure_fma_peak_gflops(threads, GemmPath::kAvx2); })
    ->Arg(1)
    ->Arg(2)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Peak, fma_widest, [](int threads) { return measure_fma_peak_gflops(threads); })
    ->Arg(1)
    ->Arg(2)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
