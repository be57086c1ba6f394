// cube/models/gpt/checkpoint.h: GPT training checkpoints (save, resume, `cube sample`).
//
// File format (floats in this machine's byte order): the 8 bytes "CUBEGPT1", then one header
// line of space-separated "key value" pairs (config, vocabulary in hex, iteration, optimizer
// step, tensor sizes, curve, best val loss) ending in '\n', then the raw float32 parameters and
// each optimizer state tensor, in the sizes the header gives. Written to "<file>.tmp" and renamed,
// so a killed run never leaves a torn checkpoint. Cost: O(parameters) time and I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/outcome.h"
#include "models/gpt/gpt_model.h"

namespace cube::gpt {

struct Checkpoint {
  GptConfig config;
  std::string vocab;           // the corpus vocabulary: vocab[id] is the char of token id
  std::int64_t iteration = 0;  // training iterations done
  std::vector<float> params;
  std::vector<std::vector<float>> optimizer_state;  // AdamW: m, v; SGD, Lion: one tensor
  std::int64_t optimizer_step = 0;
  std::vector<CurvePoint> curve;
  std::optional<double> best_val_loss;
};

// Throws ConfigError naming the file when it cannot be written.
void save_checkpoint(const Checkpoint& checkpoint, const std::string& file);
// Throws ConfigError naming the file and what is wrong (missing, not a checkpoint, truncated).
Checkpoint load_checkpoint(const std::string& file);
bool checkpoint_exists(const std::string& file);

}  // namespace cube::gpt
