// cube/models/gpt/sample.cc: autoregressive sampling from a checkpoint (sample.h).

#include "models/gpt/sample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/trace.h"

namespace cube::gpt {

std::string sample_text(const Checkpoint& ck, const SampleOptions& options) {
  if (options.tokens < 0) throw ConfigError(SourceLocation{"--tokens"}, "must be >= 0");
  if (!(options.temperature > 0)) throw ConfigError(SourceLocation{"--temperature"}, "must be > 0");
  const GptConfig& config = ck.config;
  const int V = config.vocab_size;
  CUBE_CHECK(static_cast<int>(ck.vocab.size()) == V, "checkpoint vocabulary size");
  GptModel model(config, 1, 0);
  CUBE_CHECK(ck.params.size() == model.num_parameters(), "checkpoint parameter count");
  std::copy(ck.params.begin(), ck.params.end(), model.params().begin());

  std::vector<std::uint8_t> context;
  std::string prompt = options.prompt;
  if (prompt.empty()) prompt.assign(1, ck.vocab.find('\n') != std::string::npos ? '\n' : '.');
  for (char c : prompt) {
    const auto id = ck.vocab.find(c);
    if (id == std::string::npos)
      throw ConfigError(SourceLocation{"--prompt"},
                        std::string("the char '") + c + "' is not in the model's vocabulary");
    context.push_back(static_cast<std::uint8_t>(id));
  }

  Rng rng(options.seed);
  NullTracer off;
  std::string out;
  std::vector<float> probs(static_cast<std::size_t>(V));
  for (std::int64_t n = 0; n < options.tokens; ++n) {
    const int T = std::min<int>(static_cast<int>(context.size()), config.block_size);
    std::span<const std::uint8_t> window(context.data() + context.size() - T,
                                         static_cast<std::size_t>(T));
    model.set_batch(window, std::span<const std::uint8_t>(), 1, T);
    model.forward(off, /*training=*/false);
    const float* logits = model.logits().data() + static_cast<std::size_t>(T - 1) * V;
    // Temperature, then top-k by threshold (ties at the k-th value are kept), then softmax.
    std::vector<float> scaled(logits, logits + V);
    for (float& x : scaled) x = static_cast<float>(x / options.temperature);
    if (options.top_k > 0 && options.top_k < V) {
      std::vector<float> sorted = scaled;
      std::nth_element(sorted.begin(), sorted.begin() + (options.top_k - 1), sorted.end(),
                       std::greater<float>());
      const float kth = sorted[static_cast<std::size_t>(options.top_k - 1)];
      for (float& x : scaled)
        if (x < kth) x = -INFINITY;
    }
    const float max = *std::max_element(scaled.begin(), scaled.end());
    double total = 0;
    for (int v = 0; v < V; ++v) total += probs[v] = std::exp(scaled[v] - max);
    double u = rng.uniform() * total;
    int next = V - 1;
    for (int v = 0; v < V; ++v) {
      u -= probs[v];
      if (u < 0) {
        next = v;
        break;
      }
    }
    context.push_back(static_cast<std::uint8_t>(next));
    out += ck.vocab[static_cast<std::size_t>(next)];
  }
  return out;
}

}  // namespace cube::gpt
