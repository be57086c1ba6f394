// cube/models/gpt/checkpoint.cc: reading and writing the checkpoint format of checkpoint.h.

#include "models/gpt/checkpoint.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cube::gpt {
namespace {

constexpr char kMagic[8] = {'C', 'U', 'B', 'E', 'G', 'P', 'T', '1'};

// The header is a flat "key value" list on one line, values without spaces; the vocabulary is
// written as hex so that any byte (newline, space) survives.
std::string to_hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string from_hex(const std::string& s, const std::string& file) {
  if (s.size() % 2) throw ConfigError(SourceLocation{file}, "corrupt checkpoint vocabulary");
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2)
    out += static_cast<char>(std::stoi(s.substr(i, 2), nullptr, 16));
  return out;
}

void write_floats(std::ostream& out, const std::vector<float>& v) {
  out.write(reinterpret_cast<const char*>(v.data()),
            static_cast<std::streamsize>(v.size() * sizeof(float)));
}

void read_floats(std::istream& in, std::vector<float>& v, std::size_t n, const std::string& file) {
  v.resize(n);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (static_cast<std::size_t>(in.gcount()) != n * sizeof(float))
    throw ConfigError(SourceLocation{file}, "truncated checkpoint");
}

}  // namespace

bool checkpoint_exists(const std::string& file) {
  std::error_code ec;
  return std::filesystem::is_regular_file(file, ec);
}

void save_checkpoint(const Checkpoint& ck, const std::string& file) {
  const std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw ConfigError(SourceLocation{file},
                        std::string("cannot write the checkpoint: ") + std::strerror(errno));
    out.write(kMagic, sizeof kMagic);
    std::ostringstream h;
    h.precision(17);
    const GptConfig& c = ck.config;
    h << "vocab_size " << c.vocab_size << " block_size " << c.block_size << " n_layer " << c.n_layer
      << " n_head " << c.n_head << " n_embd " << c.n_embd << " bias " << c.bias << " dropout "
      << c.dropout << " vocab " << to_hex(ck.vocab) << " iteration " << ck.iteration
      << " optimizer_step " << ck.optimizer_step << " params " << ck.params.size() << " states "
      << ck.optimizer_state.size();
    for (const auto& s : ck.optimizer_state) h << " " << s.size();
    h << " best_val " << (ck.best_val_loss ? *ck.best_val_loss : -1.0) << " has_best "
      << ck.best_val_loss.has_value() << " curve " << ck.curve.size();
    for (const auto& p : ck.curve) h << " " << p.series << " " << p.step << " " << p.value;
    out << h.str() << "\n";
    write_floats(out, ck.params);
    for (const auto& s : ck.optimizer_state) write_floats(out, s);
    if (!out) throw ConfigError(SourceLocation{file}, "cannot write the checkpoint (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) throw ConfigError(SourceLocation{file}, "cannot rename the checkpoint: " + ec.message());
}

Checkpoint load_checkpoint(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw ConfigError(SourceLocation{file},
                      std::string("cannot read the checkpoint: ") + std::strerror(errno));
  char magic[sizeof kMagic] = {};
  in.read(magic, sizeof magic);
  if (in.gcount() != sizeof magic || std::memcmp(magic, kMagic, sizeof magic) != 0)
    throw ConfigError(SourceLocation{file}, "not a cube GPT checkpoint (no CUBEGPT1 header)");
  std::string line;
  std::getline(in, line);
  std::istringstream h(line);
  Checkpoint ck;
  auto expect = [&](const char* key) {
    std::string word;
    if (!(h >> word) || word != key)
      throw ConfigError(SourceLocation{file},
                        std::string("corrupt checkpoint header: expected '") + key + "'");
  };
  auto number = [&](auto& value, const char* key) {
    expect(key);
    if (!(h >> value))
      throw ConfigError(SourceLocation{file},
                        std::string("corrupt checkpoint header: bad value of '") + key + "'");
  };
  GptConfig& c = ck.config;
  number(c.vocab_size, "vocab_size");
  number(c.block_size, "block_size");
  number(c.n_layer, "n_layer");
  number(c.n_head, "n_head");
  number(c.n_embd, "n_embd");
  number(c.bias, "bias");
  number(c.dropout, "dropout");
  std::string vocab_hex;
  number(vocab_hex, "vocab");
  ck.vocab = from_hex(vocab_hex, file);
  number(ck.iteration, "iteration");
  number(ck.optimizer_step, "optimizer_step");
  std::size_t n_params = 0, n_states = 0;
  number(n_params, "params");
  number(n_states, "states");
  std::vector<std::size_t> state_sizes(n_states);
  for (auto& s : state_sizes)
    if (!(h >> s)) throw ConfigError(SourceLocation{file}, "corrupt checkpoint header: states");
  double best = 0;
  bool has_best = false;
  std::size_t n_curve = 0;
  number(best, "best_val");
  number(has_best, "has_best");
  if (has_best) ck.best_val_loss = best;
  number(n_curve, "curve");
  ck.curve.resize(n_curve);
  for (auto& p : ck.curve)
    if (!(h >> p.series >> p.step >> p.value))
      throw ConfigError(SourceLocation{file}, "corrupt checkpoint header: curve");
  read_floats(in, ck.params, n_params, file);
  ck.optimizer_state.resize(n_states);
  for (std::size_t i = 0; i < n_states; ++i)
    read_floats(in, ck.optimizer_state[i], state_sizes[i], file);
  return ck;
}

}  // namespace cube::gpt
