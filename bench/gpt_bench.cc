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
#include "models/gemm/gemm_bf16.h"
#include "models/gemm/gemm_peak.h"
#include "models/gpt/gpt_model.h"
#include "models/optim/optimizers.h"

namespace {

using cube::NullTracer;
using cube::Rng;
using namespace cube::gpt;

constexpr int kBatch = 12;

GptConfig cpu_config(bool bf16 = false, bool fuse = false, bool recompute = false, int shards = 1) {
  return GptConfig{65, 64, 4, 4, 128, false, 0.0f, bf16, fuse, recompute, shards};
}

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
  explicit Setup(bool bf16 = false, bool fuse = false, bool recompute = false, int shards = 1)
      : model(cpu_config(bf16, fuse, recompute, shards), kBatch, 1337) {}
  GptModel model;
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
  // As the trainer: the clip's factor from the norm, applied by AdamW as it reads the gradients.
  void update() {
    const float clip = clip_factor(grad_norm(model.grads()), 1.0);
    opt.begin_step();
    opt.update({0, model.num_parameters()}, model.params(), model.grads(),
               static_cast<float>(nanogpt_lr(it++, 1e-3, 1e-4, 100, 2000)), clip, tracer);
    model.round_weights(tracer);  // as the trainer does (bf16: the next forward's weight copy)
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

// Whole iteration: forward + backward (forward_backward, as the trainer runs them; apart = true:
// forward() then backward()) + clip + AdamW.
void train_steps(benchmark::State& state, int threads, bool bf16 = false, bool fuse = false,
                 bool recompute = false, int shards = 1, bool apart = false) {
  omp_set_num_threads(threads);
  Setup s(bf16, fuse, recompute, shards);
  s.next_batch();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    if (apart) {
      s.model.forward(s.tracer, true, s.it);
      s.model.backward(s.tracer);
    } else {
      s.model.forward_backward(s.tracer, s.it);
    }
    s.update();
    benchmark::ClobberMemory();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  set_rate_counters(state, s.model, threads, seconds);
}
void GptTrainStep(benchmark::State& state) { train_steps(state, static_cast<int>(state.range(0))); }
BENCHMARK(GptTrainStep)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The step with the batch in shards (batch_shards, gpt_model.h), side by side with the whole
// batch: shards 2 on 2 threads runs each half of the batch on its own core, one thread each, and
// sums the two gradients (clip and AdamW as in GptTrainStep). Args: threads, shards, apart (1:
// forward() and backward() called apart, so the shards' threads join between them; 0:
// forward_backward, the trainer's call).
void GptTrainStepOnShards(benchmark::State& state) {
  train_steps(state, static_cast<int>(state.range(0)), false, false, false,
              static_cast<int>(state.range(1)), state.range(2) == 1);
}
BENCHMARK(GptTrainStepOnShards)
    ->Args({2, 1, 0})
    ->Args({2, 2, 0})
    ->Args({2, 2, 1})
    ->Args({1, 2, 0})
    ->ArgNames({"threads", "shards", "apart"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The GEMM engines this CPU and build run: cube's kernels on the AVX2 and AVX-512 paths (same
// bits, gemm.h) and oneDNN's sgemm (the default where built in); and, for GemmOnEngine only, the
// bfloat16 product of the mixed-precision process (gemm_bf16.h, on the path cpuid picks).
// Arg value -> engine.
enum Engine { kCubeAvx2 = 1, kCubeAvx512 = 2, kOneDnn = 3, kBf16 = 4 };

// Switches gemm.h to `engine`; false (with the reason in `why`) when it cannot run here.
bool use_engine(int engine, const char** why) {
  if (engine == kCubeAvx512 && best_gemm_path() != GemmPath::kAvx512) {
    *why = "no AVX-512 on this CPU";
    return false;
  }
  if (engine == kOneDnn && !onednn_available()) {
    *why = "built without oneDNN";
    return false;
  }
  set_gemm_backend(engine == kOneDnn ? GemmBackend::kOneDnn : GemmBackend::kCube);
  set_gemm_path(engine == kCubeAvx2 ? GemmPath::kAvx2 : best_gemm_path());
  return true;
}

void restore_default_engine() {
  set_gemm_backend(default_gemm_backend());
  set_gemm_path(best_gemm_path());
}

const char* engine_name(int engine) {
  if (engine == kBf16) return to_string(bf16_path());
  return engine == kOneDnn ? "onednn" : engine == kCubeAvx512 ? "cube_avx512" : "cube_avx2";
}

// The training step on each GEMM engine, side by side in one process. Arg: engine; 2 threads.
void GptTrainStepOnEngine(benchmark::State& state) {
  const char* why = "";
  if (!use_engine(static_cast<int>(state.range(0)), &why)) {
    state.SkipWithError(why);
    return;
  }
  state.SetLabel(engine_name(static_cast<int>(state.range(0))));
  train_steps(state, static_cast<int>(state.range(1)));
  restore_default_engine();
}
BENCHMARK(GptTrainStepOnEngine)
    ->ArgsProduct({{kCubeAvx2, kCubeAvx512, kOneDnn}, {2}})
    ->ArgNames({"engine", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// One product of the exam model's step (B*T = 768 rows, C = 128) on an engine, 2 threads, in the
// layout the model computes it: forward out = in·Wᵀ (nt), input gradient dX = dY·W (nn), weight
// gradient dW = dYᵀ·X (tn). Args: engine, product (index into kProducts); GFLOP/s.
struct Product {
  const char* name;
  char layout;  // 'f' nt, 'x' nn, 'w' tn
  int M, N, K;
};
constexpr Product kProducts[] = {
    {"qkv", 'f', 768, 384, 128},        {"fc", 'f', 768, 512, 128},
    {"fc_proj", 'f', 768, 128, 512},    {"attn_proj", 'f', 768, 128, 128},
    {"lm_head", 'f', 768, 65, 128},     {"fc_proj_dX", 'x', 768, 512, 128},
    {"qkv_dX", 'x', 768, 128, 384},     {"fc_dX", 'x', 768, 128, 512},
    {"qkv_dW", 'w', 384, 128, 768},     {"fc_dW", 'w', 512, 128, 768},
    {"fc_proj_dW", 'w', 128, 512, 768}, {"attn_proj_dW", 'w', 128, 128, 768},
};

// The product as the bf16 process computes it (GptModel with precision bf16): activations and
// weights in bfloat16, the gradients dY in float32 (rounded as they are packed), C float32.
void bf16_product(const Product& p, const std::vector<float>& a, const std::vector<Bf16>& a16,
                  const std::vector<Bf16>& b16, std::vector<float>& out) {
  const MixedOutput c = MixedOutput::f32(out.data(), p.N);
  if (p.layout == 'f') {
    gemm_bf16(p.M, p.N, p.K, MixedStrided::b16(a16.data(), p.K, 1),
              MixedStrided::b16(b16.data(), 1, p.K), c, false);
  } else if (p.layout == 'x') {
    gemm_bf16(p.M, p.N, p.K, MixedStrided::f32(a.data(), p.K, 1),
              MixedStrided::b16(b16.data(), p.N, 1), c, false);
  } else {
    gemm_bf16(p.M, p.N, p.K, MixedStrided::f32(a.data(), 1, p.M),
              MixedStrided::b16(b16.data(), p.N, 1), c, false);
  }
}

void GemmOnEngine(benchmark::State& state) {
  const int engine = static_cast<int>(state.range(0));
  const Product& p = kProducts[state.range(1)];
  const char* why = "";
  if (engine != kBf16 && !use_engine(engine, &why)) {
    state.SkipWithError(why);
    return;
  }
  state.SetLabel(std::string(p.name) + " " + engine_name(engine));
  omp_set_num_threads(2);
  Rng rng(7);
  std::vector<float> a(static_cast<std::size_t>(p.M) * p.K), b(static_cast<std::size_t>(p.N) * p.K),
      out(static_cast<std::size_t>(p.M) * p.N);
  for (float& v : a) v = static_cast<float>(rng.uniform() - 0.5);
  for (float& v : b) v = static_cast<float>(rng.uniform() - 0.5);
  std::vector<Bf16> a16(a.size()), b16(b.size());
  to_bf16(a.data(), a16.data(), a.size());
  to_bf16(b.data(), b16.data(), b.size());
  for (auto _ : state) {
    if (engine == kBf16) {
      bf16_product(p, a, a16, b16, out);
      benchmark::ClobberMemory();
      continue;
    }
    if (p.layout == 'f') gemm_nt(p.M, p.N, p.K, a.data(), b.data(), out.data(), false);
    if (p.layout == 'x') gemm_nn(p.M, p.N, p.K, a.data(), b.data(), out.data(), false);
    if (p.layout == 'w') gemm_tn(p.M, p.N, p.K, a.data(), b.data(), out.data(), false);
    benchmark::ClobberMemory();
  }
  restore_default_engine();
  state.counters["GFLOPs"] =
      benchmark::Counter(2.0 * p.M * p.N * p.K * static_cast<double>(state.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(GemmOnEngine)
    ->ArgsProduct({{kCubeAvx2, kCubeAvx512, kOneDnn, kBf16},
                   benchmark::CreateDenseRange(0, std::size(kProducts) - 1, 1)})
    ->ArgNames({"engine", "product"})
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
// Args: threads, then precision 0/1, fuse 0/1 and recompute 0/1 as GptTrainStepOnPrecision, then
// batch_shards (with 2 shards on 2 threads the profile times shard 0's kernels, which run beside
// shard 1's: each kind's wall time in the step). ms_per_iter and the rates (set_rate_counters):
// the whole step, clip and AdamW in.
void GptStepBreakdown(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  omp_set_num_threads(threads);
  Setup s(state.range(1) == 1, state.range(2) == 1, state.range(3) == 1,
          static_cast<int>(state.range(4)));
  s.next_batch();
  KernelProfile profile;
  s.model.set_profile(&profile);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    s.model.forward_backward(s.tracer, s.it);
    s.update();
  }
  const double n = static_cast<double>(state.iterations());
  set_rate_counters(state, s.model, threads,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  for (int k = 0; k < KernelProfile::kKinds; ++k) {
    state.counters[std::string("f_") + KernelProfile::name(k)] = profile.forward[k] / n * 1e3;
    state.counters[std::string("b_") + KernelProfile::name(k)] = profile.backward[k] / n * 1e3;
  }
}
BENCHMARK(GptStepBreakdown)
    ->Args({1, 0, 0, 0, 1})
    ->Args({2, 0, 0, 0, 1})
    ->Args({2, 0, 0, 0, 2})
    ->Args({2, 1, 0, 0, 1})
    ->Args({2, 1, 1, 0, 1})
    ->Args({2, 1, 1, 1, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The training step of each process side by side, 2 threads (precision 0: float32 on the default
// GEMM engine, 1: bf16 mixed precision; fuse 0/1; recompute 0/1: recompute_attention;
// gpt_model.h). ms_per_iter is the figure; GFLOPs and MFU keep the float32 FMA ceiling as their
// denominator.
void GptTrainStepOnPrecision(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1, fuse = state.range(1) == 1;
  const bool recompute = state.range(2) == 1;
  state.SetLabel(std::string(bf16 ? "bf16" : "fp32") + (fuse ? " fused" : "") +
                 (recompute ? " recomputed" : ""));
  train_steps(state, 2, bf16, fuse, recompute);
}
BENCHMARK(GptTrainStepOnPrecision)
    ->ArgsProduct({{0, 1}, {0, 1}, {0, 1}})
    ->ArgNames({"precision", "fuse", "recompute"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

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
