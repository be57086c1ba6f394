// cube/problems/char_lm/char_lm.h: character-level language modelling on a fixed text corpus.
//
// What: next-character prediction. A solver reads the CharCorpus capability (vocabulary, train
// and val token streams, batch sampler) and reports its losses as measures (nats per char); the
// problem has no accuracy (scores_predictions() is false). Data sets, from shared/data/
// (../shared/data/README.md, anchors.md §1.2-1.3):
//
//   shakespeare  tinyshakespeare.txt, 1,115,394 chars. As nanoGPT's data/shakespeare_char/
//                prepare.py: vocab = the sorted distinct chars of the whole text (65);
//                train = the first floor(0.9 n) = 1,003,854 chars, val = the remaining 111,540.
//   names        names.txt, one lower-case name per line (32,033 non-empty lines; the README's
//                "32,032" is off by one: makemore prints 32033). As makemore.py: the names are
//                shuffled once and the last min(1000, floor(0.1 n)) = 1,000 are the val (test)
//                set, the rest train. The shuffle is cube's: Rng(3407).shuffle over the names in
//                file order (3407 is makemore's default seed; torch.randperm is not emulated), so
//                the split is a property of the data set, the same for every run seed. Each split
//                is the stream ".name1.name2....nameK." ('.' = makemore's start/stop token 0), so
//                vocab = '.' + a..z (27) and '.' has id 0, as in makemore; the longest name is 15
//                chars, so makemore's block_size 16 holds the separator and a whole name.
//
// Both splits are token-id streams (uint8 ids into the vocab). Two kinds of training example
// (parameter `examples`):
//   window  nanoGPT's get_batch (the default): for each row b, i = rng.below(len - block)
//           (uniform on [0, len - block)), x[b] = s[i .. i+block), y[b] = s[i+1 .. i+block+1):
//           y is x shifted left by one. On names a window mixes the tail of one name with the
//           next, so many predictions have no context of their own.
//   line    makemore's CharDataset (names only): a row is one name c1..cn from its start token,
//           x = [sep, c1, .., cn, sep, ..], y = [c1, .., cn, sep, none, ..]: the model predicts
//           each letter and the end token, and the padding (y = CharCorpus::kNoTarget) is not
//           scored. Training rows are names drawn uniformly with replacement (makemore's
//           InfiniteDataLoader); the val loss is exact: every val name once, per scored token.
//           Needs block_size >= longest name + 1 (16 for names.txt).
//
// Data directory (parameter data_dir): a path, or "auto" (the default): then $CUBE_DATA_DIR when
// set, else the first "<d>/shared/data" holding the data file, for d the directory of the running
// executable and each of its ancestors, then the current directory and each of its ancestors.
// A missing file is a ConfigError listing every place tried.
//
// Cost: generate() reads the file once per object (about 1 MB; later calls reuse it; the corpus
// does not depend on the seed): O(file size) time and 1 byte per char. sample_batch is
// O(batch * block).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "problems/char_corpus.h"
#include "problems/problem.h"

namespace cube {

struct CharLmConfig {
  std::string dataset = "shakespeare";
  std::int64_t block_size = 64;  // nanoGPT's shakespeare_char CPU configuration (anchors.md §1.2)
  std::int64_t batch_size = 12;
  std::int64_t eval_interval = 250;
  std::int64_t eval_iters = 20;
  std::string examples = "window";
  std::string data_dir = "auto";

  template <class V>
  void visit(V& v) {
    v("dataset", dataset, "corpus: tinyshakespeare.txt or makemore's names.txt")
        .one_of({"shakespeare", "names"});
    v("block_size", block_size, "context length in chars (nanoGPT block_size)").at_least(1);
    v("batch_size", batch_size, "sequences per training batch").at_least(1);
    v("eval_interval", eval_interval, "training steps between loss evaluations").at_least(1);
    v("eval_iters", eval_iters, "batches averaged per split at each evaluation").at_least(1);
    v("examples", examples,
      "window: random block_size windows of the text (nanoGPT); line: one name per row from its "
      "start token, padding unscored, val loss over every val name (makemore; names only)")
        .one_of({"window", "line"});
    v("data_dir", data_dir,
      "directory holding the data files; auto: $CUBE_DATA_DIR, else shared/data/ found upward "
      "from the executable and the current directory");
  }
};

// The file a data set reads: "tinyshakespeare.txt" or "names.txt".
std::string char_lm_file_name(const std::string& dataset);

// Where a data file was looked for, in order, and where it was found (first hit).
struct DataSearch {
  std::optional<std::filesystem::path> found;
  std::vector<std::filesystem::path> tried;  // candidate files, in the order tried
};

// The search documented above, with its inputs explicit (for tests): `data_dir` as the
// parameter, `env` the value of $CUBE_DATA_DIR (nullptr when unset), `starts` the directories
// searched upward for shared/data/ when both are absent.
DataSearch find_data_file(const std::string& file_name, const std::string& data_dir,
                          const char* env, const std::vector<std::filesystem::path>& starts);

// find_data_file with the real environment, executable directory and current directory; throws
// ConfigError("problem.data_dir: ...") listing the places tried when the file is not found.
std::filesystem::path locate_data_file(const std::string& file_name, const std::string& data_dir);

// Builds the corpus of `dataset` from its file's text, as documented above (no I/O; tests use it
// on small texts). Throws ConfigError when the names text holds '.' or a split is empty.
CharCorpus build_char_corpus(const std::string& dataset, std::string_view text);

class CharLm : public Problem {
 public:
  explicit CharLm(CharLmConfig config);

  // Loads the corpus on the first call (ConfigError when the file is missing or block_size does
  // not fit in the val split); later calls keep it. The seed is unused: the corpus and its
  // split are fixed, the solver's sampling draws from RunContext::seed().
  void generate(std::uint64_t seed) override;

  // Always non-null; empty until generate() has run.
  const CharCorpus* char_corpus() const override { return &corpus_; }
  bool scores_predictions() const override { return false; }

  const CharLmConfig& config() const { return config_; }

 private:
  CharLmConfig config_;
  CharCorpus corpus_;
  bool loaded_ = false;
};

}  // namespace cube
