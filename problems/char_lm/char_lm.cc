// cube/problems/char_lm/char_lm.cc: the char_lm problem: data-file search, corpus building
// (vocabulary, splits) and the nanoGPT-style batch sampler. Not here: any model or training.

#include "problems/char_lm/char_lm.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace cube {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kNamesSplitSeed = 3407;  // makemore.py's default --seed
constexpr char kNamesSeparator = '.';

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Directory of the running executable, or nullopt when /proc is unavailable.
std::optional<fs::path> executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) return std::nullopt;
  return exe.parent_path();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("problem.data_dir: cannot open '" + path.string() + "'");
  std::string text;
  in.seekg(0, std::ios::end);
  text.resize(static_cast<std::size_t>(in.tellg()));
  in.seekg(0, std::ios::beg);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!in) throw ConfigError("problem.data_dir: cannot read '" + path.string() + "'");
  return text;
}

// Sorted distinct chars of `text` and the inverse table.
void set_vocab(CharCorpus& corpus, std::string_view text) {
  std::array<bool, 256> seen{};
  for (char c : text) seen[static_cast<unsigned char>(c)] = true;
  corpus.vocab.clear();
  corpus.id_of.fill(-1);
  for (int c = 0; c < 256; ++c)
    if (seen[static_cast<std::size_t>(c)]) {
      corpus.id_of[static_cast<std::size_t>(c)] = static_cast<std::int16_t>(corpus.vocab.size());
      corpus.vocab.push_back(static_cast<char>(c));
    }
}

// ".a.b.c." for names a, b, c.
std::string names_stream(const std::vector<std::string_view>& names) {
  std::string out(1, kNamesSeparator);
  for (std::string_view name : names) {
    out += name;
    out += kNamesSeparator;
  }
  return out;
}

}  // namespace

std::string char_lm_file_name(const std::string& dataset) {
  if (dataset == "shakespeare") return "tinyshakespeare.txt";
  if (dataset == "names") return "names.txt";
  throw ConfigError("problem.dataset: unknown data set '" + dataset +
                    "'; valid choices: shakespeare, names");
}

DataSearch find_data_file(const std::string& file_name, const std::string& data_dir,
                          const char* env, const std::vector<fs::path>& starts) {
  DataSearch search;
  auto try_dir = [&](const fs::path& dir) {
    fs::path candidate = dir / file_name;
    search.tried.push_back(candidate);
    if (is_file(candidate)) search.found = candidate;
    return search.found.has_value();
  };
  // An explicit directory is the only place looked at: silently falling back elsewhere would
  // train on data the user did not name.
  if (data_dir != "auto") {
    try_dir(data_dir);
    return search;
  }
  if (env != nullptr && *env != '\0') {
    try_dir(env);
    return search;
  }
  for (const fs::path& start : starts) {
    for (fs::path dir = start;; dir = dir.parent_path()) {
      if (try_dir(dir / "shared" / "data")) return search;
      if (dir == dir.parent_path() || dir.empty()) break;
    }
  }
  return search;
}

fs::path locate_data_file(const std::string& file_name, const std::string& data_dir) {
  std::vector<fs::path> starts;
  if (auto dir = executable_dir()) starts.push_back(*dir);
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (!ec) starts.push_back(cwd);
  DataSearch search = find_data_file(file_name, data_dir, std::getenv("CUBE_DATA_DIR"), starts);
  if (search.found) return *search.found;
  std::ostringstream message;
  message << "problem.data_dir: cannot find " << file_name << " (data_dir=" << data_dir;
  if (data_dir == "auto") {
    const char* env = std::getenv("CUBE_DATA_DIR");
    message << ", CUBE_DATA_DIR=" << (env ? env : "unset");
  }
  message << "); tried: " << join(search.tried)
          << ". Set data_dir=DIR or CUBE_DATA_DIR=DIR to the folder of ../shared/data/README.md";
  throw ConfigError(message.str());
}

CharCorpus build_char_corpus(const std::string& dataset, std::string_view text) {
  CharCorpus corpus;
  corpus.dataset = dataset;
  if (dataset == "shakespeare") {
    set_vocab(corpus, text);
    // prepare.py: n = len(data); train = data[:int(n*0.9)]; exact in integers for any n < 2^53.
    const std::size_t n_train = text.size() * 9 / 10;
    corpus.train = corpus.encode(text.substr(0, n_train));
    corpus.val = corpus.encode(text.substr(n_train));
  } else if (dataset == "names") {
    // makemore.py: words = [w.strip() for w in lines]; words = [w for w in words if w].
    std::vector<std::string_view> names;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(pos, end - pos);
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
        line.remove_prefix(1);
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
        line.remove_suffix(1);
      if (line.find(kNamesSeparator) != std::string_view::npos)
        throw ConfigError("char_lm: names line '" + std::string(line) + "' holds the separator '" +
                          kNamesSeparator + "'");
      if (!line.empty()) names.push_back(line);
      pos = end + 1;
    }
    Rng rng(kNamesSplitSeed);
    rng.shuffle(names.begin(), names.end());
    const std::size_t n_val = std::min<std::size_t>(1000, names.size() / 10);
    if (n_val == 0)
      throw ConfigError("char_lm: " + std::to_string(names.size()) +
                        " names leave no val split (min(1000, 10 %) = 0); at least 10 are needed");
    const std::vector<std::string_view> train_names(names.begin(), names.end() - n_val);
    const std::vector<std::string_view> val_names(names.end() - n_val, names.end());
    const std::string train_text = names_stream(train_names);
    const std::string val_text = names_stream(val_names);
    set_vocab(corpus, train_text + val_text);
    corpus.train = corpus.encode(train_text);
    corpus.val = corpus.encode(val_text);
    corpus.separator = corpus.id_of[static_cast<unsigned char>(kNamesSeparator)];
    for (auto [stream, lines] : {std::pair{&corpus.train, &corpus.train_lines},
                                 std::pair{&corpus.val, &corpus.val_lines}}) {
      for (std::size_t i = 0; i < stream->size(); ++i)
        if ((*stream)[i] == corpus.separator) lines->push_back(static_cast<std::uint32_t>(i));
    }
  } else {
    char_lm_file_name(dataset);  // throws the unknown-data-set error
  }
  if (corpus.train.empty() || corpus.val.empty())
    throw ConfigError("char_lm: the " + dataset + " text gives " +
                      std::to_string(corpus.train.size()) + " train and " +
                      std::to_string(corpus.val.size()) + " val tokens; both must be non-empty");
  if (corpus.vocab.size() >= CharCorpus::kNoTarget)
    throw ConfigError("char_lm: the " + dataset + " text has " +
                      std::to_string(corpus.vocab.size()) + " distinct chars; at most " +
                      std::to_string(CharCorpus::kNoTarget - 1) +
                      " fit the uint8 token ids beside the unscored-target marker");
  return corpus;
}

CharLm::CharLm(CharLmConfig config) : config_(std::move(config)) {
  if (config_.examples == "line" && config_.dataset != "names")
    throw ConfigError("problem.examples: 'line' needs a data set of lines (names); " +
                      config_.dataset + " is one text; valid choices here: window");
}

void CharLm::generate(std::uint64_t /*seed*/) {
  if (!loaded_) {
    const std::string file = char_lm_file_name(config_.dataset);
    corpus_ =
        build_char_corpus(config_.dataset, read_file(locate_data_file(file, config_.data_dir)));
    loaded_ = true;
  }
  corpus_.block_size = config_.block_size;
  corpus_.batch_size = config_.batch_size;
  corpus_.eval_interval = config_.eval_interval;
  corpus_.eval_iters = config_.eval_iters;
  corpus_.line_examples = config_.examples == "line";
  if (corpus_.line_examples) {
    const std::int64_t longest = corpus_.longest_line();
    if (config_.block_size <= longest)
      throw ConfigError("problem.block_size: " + std::to_string(config_.block_size) +
                        " cannot hold the longest name (" + std::to_string(longest) +
                        " chars) with its start token; examples: line needs block_size >= " +
                        std::to_string(longest + 1));
  }
  if (config_.block_size >= static_cast<std::int64_t>(corpus_.val.size()))
    throw ConfigError("problem.block_size: " + std::to_string(config_.block_size) +
                      " does not fit in the " + std::to_string(corpus_.val.size()) +
                      "-token val split of " + config_.dataset);
}

CUBE_REGISTER(Problem, CharLm, CharLmConfig, "char_lm",
              "character-level language modelling on tinyshakespeare or makemore's names");

}  // namespace cube
