// cube/models/gpt/sample.h: text generation from a trained GPT checkpoint (`cube sample`).
//
// What: nanoGPT's sample.py. Starting from `prompt` (default: the corpus separator or a newline),
// repeatedly run the model on the last block_size tokens, take the logits of the last position,
// divide by `temperature`, keep the `top_k` largest (0 = all), softmax, and draw the next token
// with cube::Rng(seed). Cost: tokens forward passes of at most block_size positions.
#pragma once

#include <cstdint>
#include <string>

#include "models/gpt/checkpoint.h"

namespace cube::gpt {

struct SampleOptions {
  std::int64_t tokens = 500;
  double temperature = 0.8;
  std::int64_t top_k = 200;
  std::uint64_t seed = 1337;
  std::string prompt;  // "" = a newline (shakespeare) or '.' (names), whichever is in the vocab
};

// The generated text (prompt excluded). Throws ConfigError when the prompt has a char outside
// the vocabulary or an option is out of range.
std::string sample_text(const Checkpoint& checkpoint, const SampleOptions& options);

}  // namespace cube::gpt
