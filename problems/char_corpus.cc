// cube/problems/char_corpus.cc: the CharCorpus samplers and codec (char_corpus.h). Not here:
// reading data files or building a corpus (problems/char_lm/).

#include "problems/char_corpus.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace cube {

void CharCorpus::sample_batch(Split split, Rng& rng, std::int64_t batch, std::int64_t block,
                              std::uint8_t* x, std::uint8_t* y) const {
  const std::vector<std::uint8_t>& s = tokens(split);
  const auto n = static_cast<std::int64_t>(s.size());
  CUBE_CHECK(batch >= 1 && block >= 1 && block < n,
             "sample_batch: batch " << batch << ", block " << block << " on a split of " << n
                                    << " tokens (need 1 <= block < tokens)");
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto i = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - block)));
    std::memcpy(x + b * block, s.data() + i, static_cast<std::size_t>(block));
    std::memcpy(y + b * block, s.data() + i + 1, static_cast<std::size_t>(block));
  }
}

std::int64_t CharCorpus::longest_line() const {
  std::int64_t longest = 0;
  for (const auto* l : {&train_lines, &val_lines}) {
    for (std::size_t k = 0; k + 1 < l->size(); ++k)
      longest = std::max<std::int64_t>(longest, (*l)[k + 1] - (*l)[k] - 1);
  }
  return longest;
}

void CharCorpus::line_example(Split split, std::int64_t k, std::int64_t block, std::uint8_t* x,
                              std::uint8_t* y) const {
  const std::vector<std::uint32_t>& l = lines(split);
  CUBE_CHECK(k >= 0 && k < num_lines(split),
             "line_example: line " << k << " of a split of " << num_lines(split) << " lines");
  const std::uint8_t* s = tokens(split).data() + l[k];  // the separator, the letters, a separator
  const std::int64_t n = l[k + 1] - l[k] - 1;
  CUBE_CHECK(n < block, "line_example: a line of " << n << " chars does not fit block " << block
                                                   << " with its start token");
  const auto sep = static_cast<std::uint8_t>(separator);
  std::memcpy(x, s, static_cast<std::size_t>(n + 1));
  std::memcpy(y, s + 1, static_cast<std::size_t>(n + 1));
  std::fill(x + n + 1, x + block, sep);
  std::fill(y + n + 1, y + block, kNoTarget);
}

void CharCorpus::sample_lines(Split split, Rng& rng, std::int64_t batch, std::int64_t block,
                              std::uint8_t* x, std::uint8_t* y) const {
  const std::int64_t n = num_lines(split);
  CUBE_CHECK(batch >= 1 && n >= 1, "sample_lines: batch " << batch << " of " << n << " lines");
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto k = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
    line_example(split, k, block, x + b * block, y + b * block);
  }
}

std::vector<std::uint8_t> CharCorpus::encode(std::string_view text) const {
  for (std::size_t i = 0; i < text.size(); ++i)
    if (id_of[static_cast<unsigned char>(text[i])] < 0)
      throw ConfigError("char_lm: character code " +
                        std::to_string(static_cast<unsigned char>(text[i])) + " at position " +
                        std::to_string(i) + " is not in the " + dataset + " vocabulary");
  std::vector<std::uint8_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i)
    ids[i] = static_cast<std::uint8_t>(id_of[static_cast<unsigned char>(text[i])]);
  return ids;
}

std::string CharCorpus::decode(std::span<const std::uint8_t> ids) const {
  std::string out(ids.size(), '\0');
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CUBE_CHECK(ids[i] < vocab.size(),
               "decode: id " << int{ids[i]} << " outside a vocabulary of " << vocab.size());
    out[i] = vocab[ids[i]];
  }
  return out;
}

}  // namespace cube
