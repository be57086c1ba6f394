// cube/problems/char_corpus.h: the CharCorpus capability, what a character language-model
// problem offers its solvers: the vocabulary, the train and val token streams, the training
// protocol's parameters and the two batch samplers (nanoGPT's random windows, makemore's one
// line per row). Shared vocabulary of the problem axis, like BinaryDataset in problem.h: solvers
// read it without linking any problem family. The problem that fills it is char_lm
// (problems/char_lm/char_lm.h), which documents the data sets and both kinds of example.
//
// Cost: sample_batch and sample_lines are O(batch * block); encode and decode O(length).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/rng.h"

namespace cube {

enum class Split { kTrain, kVal };

struct CharCorpus {
  std::string dataset;              // "shakespeare" or "names"
  std::string vocab;                // vocab[id] is the char of token id; sorted ascending, distinct
  std::vector<std::uint8_t> train;  // token ids of the train split, in text order
  std::vector<std::uint8_t> val;    // token ids of the val split
  std::int64_t separator = -1;      // id of the names start/stop token '.', -1 for shakespeare
  // Offsets of each line's leading separator in its split's stream (names; empty for
  // shakespeare): line k of a split is tokens[lines[k] + 1 .. lines[k + 1]) in the stream, which
  // ends with a separator after the last line.
  std::vector<std::uint32_t> train_lines, val_lines;
  bool line_examples = false;  // the problem's `examples: line`
  // The problem's training-protocol parameters, copied here for solvers (see CharLmConfig).
  std::int64_t block_size = 0;
  std::int64_t batch_size = 0;
  std::int64_t eval_interval = 0;
  std::int64_t eval_iters = 0;
  std::array<std::int16_t, 256> id_of{};  // id_of[unsigned char c] = token id, or -1

  // The target of a `line` example's padding: never a token id (build_char_corpus keeps the
  // vocabulary below 255 chars).
  static constexpr std::uint8_t kNoTarget = 255;

  std::int64_t vocab_size() const { return static_cast<std::int64_t>(vocab.size()); }
  const std::vector<std::uint8_t>& tokens(Split split) const {
    return split == Split::kTrain ? train : val;
  }
  const std::vector<std::uint32_t>& lines(Split split) const {
    return split == Split::kTrain ? train_lines : val_lines;
  }
  std::int64_t num_lines(Split split) const {
    return static_cast<std::int64_t>(lines(split).size()) - 1;
  }
  // Letters of the longest line (0 without lines).
  std::int64_t longest_line() const;

  // Fills x and y (each batch * block ids, row-major) with `batch` windows of `block` tokens of
  // `split` drawn as documented above, consuming exactly `batch` rng.below() calls.
  // Preconditions: batch >= 1, 1 <= block < tokens(split).size() (checked: cube::Error).
  void sample_batch(Split split, Rng& rng, std::int64_t batch, std::int64_t block, std::uint8_t* x,
                    std::uint8_t* y) const;

  // Writes line k of `split` as a `line` example (block ids each into x and y, as documented
  // above). Preconditions: 0 <= k < num_lines(split), block > the line's length (checked).
  void line_example(Split split, std::int64_t k, std::int64_t block, std::uint8_t* x,
                    std::uint8_t* y) const;
  // Fills x and y with `batch` line examples of lines drawn uniformly with replacement, consuming
  // exactly `batch` rng.below() calls. Preconditions: num_lines(split) >= 1.
  void sample_lines(Split split, Rng& rng, std::int64_t batch, std::int64_t block, std::uint8_t* x,
                    std::uint8_t* y) const;

  // Token ids of `text`; throws ConfigError naming the first char not in the vocabulary.
  std::vector<std::uint8_t> encode(std::string_view text) const;
  // The chars of `ids`; precondition: every id < vocab_size() (checked: cube::Error).
  std::string decode(std::span<const std::uint8_t> ids) const;
};

}  // namespace cube
