// gpt_reference_dump: writes what tests/reference/gpt_reference.py compares against PyTorch.
//
// Usage: gpt_reference_dump DIR [STEPS]
// Builds the exam model (n_layer 4, n_head 4, n_embd 128, block_size 64, vocab 65, no bias, no
// dropout) from seed 1337, then for STEPS (default 20) random batches of 12 x 64 tokens runs the
// exam's training step: forward, backward, global-norm clip at 1.0, AdamW (betas 0.9/0.99, eps
// 1e-8, decay 0.1 on 2-D tensors) at nanoGPT's lr schedule (lr 1e-3, min 1e-4, warmup 100, decay
// 2000). Files in DIR: meta.json (config, tensor table, per-step loss, lr and gradient norm),
// params0.f32 (initial parameters), tokens.i32 (STEPS x 2 x B x T: inputs then targets per step),
// logits0.f32 (B*T x V of step 0), grads0.f32 (step 0's gradients before clipping), params1.f32
// (after step 0's update) and params_final.f32 (after the last step). Floats are little-endian
// float32.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/trace.h"
#include "models/gpt/gpt_model.h"
#include "models/optim/optimizers.h"

namespace {

template <class T>
void write_raw(const std::string& file, std::span<const T> data) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size_bytes()));
  if (!out) throw std::runtime_error("cannot write " + file);
}

// Doubles printed with 17 significant digits, so the reader gets the exact value.
std::string exact(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

std::string json_list(const std::vector<double>& values) {
  std::string s = "[";
  for (std::size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + exact(values[i]);
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cube;
  using namespace cube::gpt;
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: gpt_reference_dump DIR [STEPS]\n";
    return 2;
  }
  const std::string dir = argv[1];
  const int steps = argc == 3 ? std::stoi(argv[2]) : 20;
  constexpr int kB = 12, kT = 64;
  constexpr double kLr = 1e-3, kMinLr = 1e-4, kClip = 1.0;
  constexpr std::int64_t kWarmup = 100, kDecayIters = 2000;
  const GptConfig config;  // the exam's shape: its defaults
  GptModel model(config, kB, 1337);
  const AdamWConfig adamw_config;  // betas 0.9/0.99, eps 1e-8, weight decay 0.1
  AdamW adamw(adamw_config, model.tensors(), model.num_parameters());
  write_raw(dir + "/params0.f32", std::span<const float>(model.params()));

  Rng rng(7);
  std::vector<std::int32_t> tokens;
  std::vector<double> losses, lrs, norms;
  NullTracer off;
  for (int step = 0; step < steps; ++step) {
    std::vector<std::int32_t> x(kB * kT), y(kB * kT);
    for (auto& t : x) t = static_cast<std::int32_t>(rng.below(config.vocab_size));
    for (auto& t : y) t = static_cast<std::int32_t>(rng.below(config.vocab_size));
    tokens.insert(tokens.end(), x.begin(), x.end());
    tokens.insert(tokens.end(), y.begin(), y.end());
    model.set_batch(std::span<const std::int32_t>(x), std::span<const std::int32_t>(y), kB, kT);
    losses.push_back(model.forward(off, /*training=*/true, static_cast<std::uint64_t>(step)));
    model.backward(off);
    if (step == 0) {
      write_raw(dir + "/logits0.f32", model.logits());
      write_raw(dir + "/grads0.f32", std::span<const float>(model.grads()));
    }
    const double lr = nanogpt_lr(step, kLr, kMinLr, kWarmup, kDecayIters);
    lrs.push_back(lr);
    norms.push_back(clip_grad_norm(model.grads(), kClip));
    adamw.begin_step();
    adamw.update(ParamRange{0, model.num_parameters()}, model.params(), model.grads(),
                 static_cast<float>(lr));
    if (step == 0) write_raw(dir + "/params1.f32", std::span<const float>(model.params()));
  }
  write_raw(dir + "/tokens.i32", std::span<const std::int32_t>(tokens));
  write_raw(dir + "/params_final.f32", std::span<const float>(model.params()));

  std::ofstream meta(dir + "/meta.json");
  meta << "{\n  \"vocab_size\": " << config.vocab_size << ", \"block_size\": " << config.block_size
       << ", \"n_layer\": " << config.n_layer << ", \"n_head\": " << config.n_head
       << ", \"n_embd\": " << config.n_embd << ",\n  \"batch_size\": " << kB
       << ", \"seq_len\": " << kT << ", \"steps\": " << steps << ", \"grad_clip\": " << kClip
       << ",\n  \"beta1\": " << exact(adamw_config.beta1)
       << ", \"beta2\": " << exact(adamw_config.beta2) << ", \"eps\": " << exact(adamw_config.eps)
       << ", \"weight_decay\": " << exact(adamw_config.weight_decay)
       << ",\n  \"loss\": " << json_list(losses) << ",\n  \"lr\": " << json_list(lrs)
       << ",\n  \"grad_norm\": " << json_list(norms) << ",\n  \"tensors\": [\n";
  const auto& tensors = model.tensors();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const ParamTensor& t = tensors[i];
    meta << "    {\"name\": \"" << t.name << "\", \"offset\": " << t.offset
         << ", \"rows\": " << t.rows << ", \"cols\": " << t.cols
         << ", \"decay\": " << (t.decay ? "true" : "false") << "}"
         << (i + 1 < tensors.size() ? ",\n" : "\n");
  }
  meta << "  ]\n}\n";
  if (!meta) throw std::runtime_error("cannot write " + dir + "/meta.json");
  return 0;
}
