// cube/metrics/bytedmd/bytedmd.cc: the ByteDMD evaluator, its two front ends (neutral program
// text, cube::Trace) and the `bytedmd` metric. Not here: the stack engine (stack_distance).

#include "metrics/bytedmd/bytedmd.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>

#include "metrics/stack_distance/stack_distance.h"

namespace cube {

namespace {

__extension__ using UInt128 = unsigned __int128;

std::uint64_t isqrt(std::uint64_t n) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  while (r > 0 && static_cast<UInt128>(r) * r > n) --r;
  while (static_cast<UInt128>(r + 1) * (r + 1) <= n) ++r;
  return r;
}

// S(N) = Σ_{j=1}^{N} ⌈√j⌉ in closed form (metrics.md §6.2).
std::uint64_t ceil_sqrt_prefix_sum(std::uint64_t n) {
  if (n == 0) return 0;
  const UInt128 m = isqrt(n - 1) + 1;
  const UInt128 inner = 6 * static_cast<UInt128>(n) + 3 * m - 2 * m * m - 1;
  return static_cast<std::uint64_t>(m * inner / 6);
}

// Instruction indices are below 2^32 - 2, so the two values above them can mark a value's last
// read as never and as after the program.
constexpr std::uint32_t kNeverRead = ~std::uint32_t{0};
constexpr std::uint32_t kLiveOut = ~std::uint32_t{0} - 1;
enum : std::uint8_t { kUnpushed = 0, kLive = 1, kDead = 2 };

}  // namespace

std::uint64_t bytedmd_read_cost(std::uint64_t depth, std::uint64_t bytes_per_element) {
  CUBE_CHECK(depth >= 1 && bytes_per_element >= 1, "bytedmd: depth and bytes must be >= 1");
  if (bytes_per_element == 1) return isqrt(depth - 1) + 1;
  return ceil_sqrt_prefix_sum(depth * bytes_per_element) -
         ceil_sqrt_prefix_sum((depth - 1) * bytes_per_element);
}

ByteDmdResult evaluate_bytedmd(const ByteDmdProgram& p, std::uint64_t bytes_per_element,
                               DepthRecord record) {
  const std::uint64_t n = p.values;
  auto name = [&](std::uint32_t v) {
    if (v >= p.name_ends.size()) return "value " + std::to_string(v);
    std::string quoted(1, '\'');
    quoted.append(p.name(v)).push_back('\'');
    return quoted;
  };
  CUBE_CHECK(p.instructions.size() < std::numeric_limits<std::uint32_t>::max(),
             "bytedmd: more than 2^32 - 2 instructions");
  // What the simulation keeps per value: 8 bytes in one record (one cache miss per value), and
  // its state in a byte array of its own (n bytes, which stay in cache).
  struct ValueInfo {
    std::uint32_t last = kNeverRead;  // index of the last instruction reading it, or kLiveOut
    std::uint32_t seen = 0;           // 1 + index of the instruction that last bumped it
  };
  std::vector<ValueInfo> info(n);
  std::vector<std::uint8_t> state(n, kUnpushed);
  constexpr std::size_t kAhead = 16;  // prefetch distance in operand reads
  const std::size_t total_reads = p.reads.size();
  // Liveness pass: last(v) = index of the last instruction reading v (§6.2).
  for (std::size_t k = 0; k < p.instructions.size(); ++k) {
    const auto& ins = p.instructions[k];
    CUBE_CHECK(std::uint64_t{ins.first_read} + ins.read_count <= total_reads &&
                   std::uint64_t{ins.first_output} + ins.output_count <= p.outputs.size(),
               "bytedmd: instruction " << k << " is out of range");
    for (std::uint64_t r = ins.first_read; r < ins.first_read + ins.read_count; ++r) {
      if (r + kAhead < total_reads && p.reads[r + kAhead] < n)
        __builtin_prefetch(&info[p.reads[r + kAhead]]);
      const std::uint32_t v = p.reads[r];
      CUBE_CHECK(v < n, "bytedmd: operand id out of range");
      info[v].last = static_cast<std::uint32_t>(k);
    }
  }
  for (std::uint32_t v : p.live_out) {
    CUBE_CHECK(v < n, "bytedmd: live-out id out of range");
    info[v].last = kLiveOut;
  }

  // Costs of small depths, computed once.
  std::vector<std::uint64_t> cost_table(4096);
  for (std::uint64_t d = 1; d < cost_table.size(); ++d)
    cost_table[d] = bytedmd_read_cost(d, bytes_per_element);
  auto cost_of = [&](std::uint64_t d) {
    if (d < cost_table.size()) return cost_table[d];
    return bytes_per_element == 1 ? isqrt(d - 1) + 1 : bytedmd_read_cost(d, bytes_per_element);
  };

  StackDistance stack;
  // Values are numbered 0..n-1: a direct array instead of hashing, up to 2^24 values (128 MiB);
  // longer programs keep the hash, whose size follows the (small) live set instead.
  if (n <= (std::uint64_t{1} << 24)) stack.use_dense_ids(n);
  ByteDmdResult out;
  auto note_depth = [&](std::uint64_t d) {
    out.max_depth = std::max(out.max_depth, d);
    if (record == DepthRecord::kEveryRead) {
      out.depths.push_back(d);
    } else if (record == DepthRecord::kByteDepthOctaves) {
      ++out.reads_by_byte_depth_octave[std::bit_width(d * bytes_per_element) - 1];
    }
  };
  auto push = [&](std::uint32_t v) {
    CUBE_CHECK(v < n && state[v] == kUnpushed, "bytedmd: " << name(v) << " is pushed twice");
    if (info[v].last == kNeverRead) {
      state[v] = kDead;  // never read, not live-out: removed the moment it is pushed
      return;
    }
    state[v] = kLive;
    stack.move_to_top(v);
  };

  for (std::uint32_t v : p.inputs) push(v);
  for (std::size_t k = 0; k < p.instructions.size(); ++k) {
    const auto& ins = p.instructions[k];
    const std::uint32_t* ops = p.reads.data() + ins.first_read;
    // A lone operand that stays live is one classic LRU access: depth, then move to the top.
    if (ins.read_count == 1 && state[ops[0]] == kLive &&
        info[ops[0]].last != static_cast<std::uint32_t>(k)) {
      const std::uint64_t ahead = ins.first_read + kAhead;
      if (ahead < total_reads) {
        stack.prefetch(p.reads[ahead]);
        __builtin_prefetch(&info[p.reads[ahead]]);
      }
      if (ins.first_read + kAhead / 2 < total_reads)
        stack.prefetch_depth(p.reads[ins.first_read + kAhead / 2]);
      const std::uint64_t d = stack.access(ops[0]);
      out.cost += cost_of(d);
      note_depth(d);
      ++out.reads;
      info[ops[0]].seen = static_cast<std::uint32_t>(k + 1);
    } else {
      // 1. Price every operand against the stack before the instruction.
      for (std::uint64_t r = 0; r < ins.read_count; ++r) {
        const std::uint64_t ahead = ins.first_read + r + kAhead;
        if (ahead < total_reads) {
          stack.prefetch(p.reads[ahead]);
          __builtin_prefetch(&info[p.reads[ahead]]);
        }
        const std::uint32_t v = ops[r];
        if (state[v] != kLive)
          throw Error("bytedmd: instruction " + std::to_string(k) + " reads " + name(v) +
                      ", which is not live");
        const std::uint64_t d = *stack.depth(v);
        out.cost += cost_of(d);
        note_depth(d);
      }
      out.reads += ins.read_count;
      // 2. Bump distinct operands in first-occurrence order; drop those read for the last time
      // (moving them first would change nothing, as they leave the stack at once).
      const auto stamp = static_cast<std::uint32_t>(k + 1);
      for (std::uint64_t r = 0; r < ins.read_count; ++r) {
        ValueInfo& vi = info[ops[r]];
        if (vi.seen == stamp) continue;
        vi.seen = stamp;
        if (vi.last == static_cast<std::uint32_t>(k)) {
          stack.erase(ops[r]);
          state[ops[r]] = kDead;
        } else {
          stack.move_to_top(ops[r]);
        }
      }
    }
    // 3. Push the outputs.
    for (std::uint64_t o = 0; o < ins.output_count; ++o) push(p.outputs[ins.first_output + o]);
  }
  return out;
}

namespace {

// Byte classes of the reader: part of a token, whitespace, or the end of a statement.
enum ByteClass : std::uint8_t { kWord, kSpace, kStatementEnd };
constexpr std::array<ByteClass, 256> kByteClass = [] {
  std::array<ByteClass, 256> table{};
  for (const char c : {' ', '\t', '\v', '\f', '\r'}) table[static_cast<unsigned char>(c)] = kSpace;
  table[static_cast<unsigned char>('\n')] = kStatementEnd;
  table[static_cast<unsigned char>(';')] = kStatementEnd;
  return table;
}();
ByteClass class_of(char c) { return kByteClass[static_cast<unsigned char>(c)]; }

std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
std::uint32_t load4(const char* p) {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// Equality of two names, short ones by overlapping fixed-size loads instead of a memcmp call.
bool same_name(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 16) {
    return load8(a.data()) == load8(b.data()) && load8(a.data() + n - 8) == load8(b.data() + n - 8);
  }
  if (n >= 4 && n < 8) {
    return load4(a.data()) == load4(b.data()) && load4(a.data() + n - 4) == load4(b.data() + n - 4);
  }
  return a == b;
}

// Name -> current value, open addressing with linear probing. A slot is 8 bytes: a 32-bit tag
// of the name's hash and the value; only a tag match compares the name itself (in the program's
// name arena, where recently defined names, most of a program's operands, sit in cache), so a
// new name's probe sequence never leaves the table. A name assigned again points its slot at the
// new value. Load factor at most 5/8: a 65k-value program's table is 1 MiB.
class NameTable {
 public:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};

  explicit NameTable(std::size_t expected) {
    std::size_t capacity = 16;
    while (capacity * 5 < expected * 8) capacity *= 2;
    slots_.assign(capacity, Slot{0, kNone});
  }

  // `h` is hash(name), computed ahead so that the slot could be prefetched.
  std::uint32_t find(std::string_view name, std::uint64_t h, const ByteDmdProgram& p) const {
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask(); slots_[i].value != kNone; i = (i + 1) & mask()) {
      if (slots_[i].tag == tag && same_name(p.name(slots_[i].value), name)) return slots_[i].value;
    }
    return kNone;
  }

  // Binds `name` (already appended to p's arena as value v) to v.
  void bind(std::string_view name, std::uint64_t h, std::uint32_t v, const ByteDmdProgram& p) {
    if (8 * (used_ + 1) > 5 * slots_.size()) grow(p);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    std::size_t i = h & mask();
    for (; slots_[i].value != kNone; i = (i + 1) & mask()) {
      if (slots_[i].tag == tag && same_name(p.name(slots_[i].value), name)) {
        slots_[i].value = v;
        return;
      }
    }
    slots_[i] = Slot{tag, v};
    ++used_;
  }

  // Always inlined: a prefetch left as a call is deleted by GCC (see StackDistance::prefetch).
  [[gnu::always_inline]] void prefetch(std::uint64_t h) const {
    __builtin_prefetch(&slots_[h & mask()]);
  }

  // Generated programs number their temporaries (t2049, t2050, ...): a last byte that is a digit
  // gives the low four index bits and the rest of the name is hashed, so names that differ only
  // in their last digit share one 128-byte block (a new name's probe misses cache once per ten, not
  // every time) while blocks scatter. The rest is read by fixed-size, overlapping loads (wyhash
  // style: no byte loop, no memcpy call). The tag, the high 32 bits, folds in the last byte.
  static std::uint64_t hash(std::string_view name) {
    const std::size_t n = name.size();
    if (n == 0) return 0;
    const char* d = name.data();
    const std::size_t body = n - 1;
    std::uint64_t a = 0, b = 0;
    if (body >= 8) {
      std::uint64_t h = 0;
      std::size_t i = 0;
      for (; i + 16 < body; i += 8) h = (h ^ load8(d + i)) * 0xbf58476d1ce4e5b9ULL;
      a = load8(d + i) ^ h;
      b = load8(d + body - 8);
    } else if (body >= 4) {
      a = load4(d);
      b = load4(d + body - 4);
    } else if (body > 0) {
      a = (std::uint64_t{static_cast<unsigned char>(d[0])} << 16) |
          (std::uint64_t{static_cast<unsigned char>(d[body / 2])} << 8) |
          static_cast<unsigned char>(d[body - 1]);
    }
    const __uint128_t m =
        static_cast<__uint128_t>(a ^ 0xa0761d6478bd642fULL ^ n) * (b ^ 0xe7037ed1a0b428dbULL);
    std::uint64_t h = static_cast<std::uint64_t>(m) ^ static_cast<std::uint64_t>(m >> 64);
    h *= 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
    const auto last = static_cast<std::uint64_t>(static_cast<unsigned char>(d[body]));
    if (last < '0' || last > '9') return h ^ (last * 0xff51afd7ed558ccdULL);  // no locality
    return ((h & ~std::uint64_t{15}) | (last - '0')) ^ (last << 32);
  }

 private:
  struct Slot {
    std::uint32_t tag;
    std::uint32_t value;
  };

  std::size_t mask() const { return slots_.size() - 1; }

  void grow(const ByteDmdProgram& p) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{0, kNone});
    for (const Slot& s : old) {
      if (s.value == kNone) continue;
      std::size_t i = hash(p.name(s.value)) & mask();
      while (slots_[i].value != kNone) i = (i + 1) & mask();
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

// How many '\n' and ';' bytes `text` holds: eight bytes per step (a zero-byte test on the word
// XORed with each delimiter), then the tail byte by byte.
std::size_t count_statement_ends(std::string_view text) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  // Exact per byte: (x & 0x7f..) + 0x7f.. never carries across bytes.
  const auto zero_bytes = [](std::uint64_t x) {
    return ~(((x & ~kHighs) + ~kHighs) | x | ~kHighs);
  };
  std::size_t n = 0, i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    const std::uint64_t word = load8(text.data() + i);
    // One high bit per matching byte: a multiply sums them into the top byte (no popcnt
    // instruction in the baseline x86-64 target).
    const std::uint64_t hits = zero_bytes(word ^ (kOnes * '\n')) | zero_bytes(word ^ (kOnes * ';'));
    n += static_cast<std::size_t>(((hits >> 7) * kOnes) >> 56);
  }
  for (; i < text.size(); ++i) n += text[i] == '\n' || text[i] == ';';
  return n;
}

// The statements of one program text, read into `p`: names resolve through the NameTable as they
// come (outputs are bound after the operands, so `x = add x y` reads the old x).
class ProgramReader {
 public:
  ProgramReader(ByteDmdProgram& p, std::size_t statements, const std::string& source)
      : p_(p), ids_(statements), source_(source) {}

  // One statement (`statement` is its text, for messages) on line `line`, split into words.
  void statement(std::string_view statement, int line, const std::vector<std::string_view>& words) {
    line_ = line;
    if (words[0] == "push") {
      for (std::size_t t = 1; t < words.size(); ++t) {
        p_.inputs.push_back(fresh(words[t], NameTable::hash(words[t])));
      }
      return;
    }
    if (words[0] == "return") {
      for (std::size_t t = 1; t < words.size(); ++t) {
        p_.live_out.push_back(lookup(words[t], NameTable::hash(words[t])));
      }
      return;
    }
    ByteDmdProgram::Instruction ins;
    ins.first_read = static_cast<std::uint32_t>(p_.reads.size());
    ins.first_output = static_cast<std::uint32_t>(p_.outputs.size());
    std::size_t operands_from = 1, outputs_end = 0;
    if (words[0] != "escape") {
      const auto eq = std::find(words.begin(), words.end(), "=");
      if (eq == words.end() || eq == words.begin() || eq + 1 == words.end())
        throw ConfigError(where(),
                          "expected 'push ...', 'escape x', 'return ...' or "
                          "'y1 [y2 ...] = OP x1 ...', found '" +
                              std::string(statement) + "'");
      outputs_end = static_cast<std::size_t>(eq - words.begin());
      operands_from = outputs_end + 2;  // skip OP
    } else if (words.size() < 2) {
      throw ConfigError(where(), "'escape' needs a value");
    }
    // Hash every name of the statement and prefetch its slot before the first lookup, so that
    // the table's cache misses overlap.
    hashes_.resize(words.size());
    for (std::size_t t = 0; t < words.size(); ++t) {
      if ((t < outputs_end || t >= operands_from) && words[t][0] != '#') {
        hashes_[t] = NameTable::hash(words[t]);
        ids_.prefetch(hashes_[t]);
      }
    }
    for (std::size_t t = operands_from; t < words.size(); ++t) {
      if (words[t][0] == '#') continue;  // untracked constant
      p_.reads.push_back(lookup(words[t], hashes_[t]));
    }
    for (std::size_t t = 0; t < outputs_end; ++t) {
      if (words[t][0] == '#')
        throw ConfigError(where(),
                          "an output cannot be a constant: '" + std::string(words[t]) + "'");
      p_.outputs.push_back(fresh(words[t], hashes_[t]));
    }
    ins.read_count = static_cast<std::uint32_t>(p_.reads.size() - ins.first_read);
    ins.output_count = static_cast<std::uint32_t>(p_.outputs.size() - ins.first_output);
    p_.instructions.push_back(ins);
  }

 private:
  // Built only for an error: a SourceLocation copies the source name.
  SourceLocation where() const { return SourceLocation{source_, line_}; }

  std::uint32_t fresh(std::string_view name, std::uint64_t h) {
    const auto v = static_cast<std::uint32_t>(p_.values++);
    p_.name_chars.append(name);
    p_.name_ends.push_back(static_cast<std::uint32_t>(p_.name_chars.size()));
    ids_.bind(name, h, v, p_);
    return v;
  }

  std::uint32_t lookup(std::string_view name, std::uint64_t h) const {
    const std::uint32_t v = ids_.find(name, h, p_);
    if (v == NameTable::kNone)
      throw ConfigError(where(), "unknown value '" + std::string(name) + "'");
    return v;
  }

  ByteDmdProgram& p_;
  NameTable ids_;
  const std::string& source_;
  int line_ = 0;
  std::vector<std::uint64_t> hashes_;  // of a statement's words, computed first to prefetch
};

}  // namespace

// One pass over the text with views into it: lines end at '\n', statements at ';' or the line's
// end, words at whitespace (byte classes by table); each statement goes to the ProgramReader.
// The stream-based reader this replaces spent 90 % of `cube trace replay` of a 1.9 MB program
// in iostreams.
ByteDmdProgram parse_bytedmd_program(std::string_view text, const std::string& source_name) {
  ByteDmdProgram p;
  // Sizes from one vectorised count: about one instruction, one output and two reads per
  // statement; growing the vectors instead moved 60 % of their bytes again.
  const std::size_t statements = count_statement_ends(text) + 1;
  ProgramReader reader(p, statements, source_name);
  // Reserved near what a typical program needs, not at upper bounds: on a huge-page heap an
  // unused tail still spans pages that the next vector then touches.
  p.name_chars.reserve(text.size() / 4);
  p.instructions.reserve(statements);
  p.outputs.reserve(statements);
  p.name_ends.reserve(statements + statements / 16);
  p.reads.reserve(2 * statements);
  std::vector<std::string_view> words;
  int line_number = 0;
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    ++line_number;
    std::size_t first = i;
    while (first < size && (text[first] == ' ' || text[first] == '\t' || text[first] == '\r')) {
      ++first;
    }
    if (first < size && text[first] == '#') {  // a comment line
      const void* newline = std::memchr(text.data() + first, '\n', size - first);
      i = newline == nullptr
              ? size
              : static_cast<std::size_t>(static_cast<const char*>(newline) - text.data()) + 1;
      continue;
    }
    bool line_done = false;
    while (!line_done) {
      const std::size_t statement_start = i;
      words.clear();
      while (i < size && class_of(text[i]) != kStatementEnd) {
        if (class_of(text[i]) == kSpace) {
          ++i;
          continue;
        }
        const std::size_t start = i;
        while (i < size && class_of(text[i]) == kWord) ++i;
        words.push_back(text.substr(start, i - start));
      }
      const std::string_view statement = text.substr(statement_start, i - statement_start);
      if (i >= size || text[i] == '\n') line_done = true;
      ++i;  // past the ';' or '\n'
      if (!words.empty()) reader.statement(statement, line_number, words);
    }
  }
  return p;
}

ByteDmdProgram read_bytedmd_program(std::istream& in, const std::string& source_name) {
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(SourceLocation{source_name}, "cannot read the program");
  return parse_bytedmd_program(text.view(), source_name);
}

std::uint32_t common_element_bytes(const BufferTable& buffers) {
  std::uint32_t g = 0;
  for (std::size_t b = 0; b < buffers.size(); ++b) {
    g = std::gcd(g, buffers[static_cast<BufferId>(b)].element_bytes);
  }
  return g == 0 ? 4 : g;
}

ByteDmdProgram program_from_trace(const BufferTable& buffers, std::span<const TraceEvent> events,
                                  std::uint32_t unit_bytes) {
  constexpr std::uint32_t kNoValue = ~std::uint32_t{0};
  ByteDmdProgram p;
  // Values per element of each buffer (1 without units).
  std::vector<std::uint64_t> per_element(buffers.size(), 1);
  if (unit_bytes > 0) {
    for (std::size_t b = 0; b < buffers.size(); ++b) {
      const std::uint32_t bytes = buffers[static_cast<BufferId>(b)].element_bytes;
      CUBE_CHECK(bytes % unit_bytes == 0,
                 "bytedmd: buffer " << buffers[static_cast<BufferId>(b)].name << " has " << bytes
                                    << "-byte elements, not a multiple of " << unit_bytes);
      per_element[b] = bytes / unit_bytes;
    }
  }
  auto units = [&](BufferId b) { return b < per_element.size() ? per_element[b] : 1; };
  const bool has_op_end = std::any_of(events.begin(), events.end(), [](const TraceEvent& e) {
    return e.kind == EventKind::kOpEnd;
  });
  std::vector<std::vector<std::uint32_t>> current;  // [buffer][element] -> live value id
  struct Input {
    BufferId buffer;
    std::uint64_t index;
    std::uint32_t value;
  };
  std::vector<Input> inputs;
  auto new_value = [&]() {
    CUBE_CHECK(p.values < kNoValue, "bytedmd: more than 2^32 - 1 values");
    return static_cast<std::uint32_t>(p.values++);
  };
  auto cell = [&](BufferId b, std::uint64_t last_index) -> std::vector<std::uint32_t>& {
    if (b >= current.size()) current.resize(static_cast<std::size_t>(b) + 1);
    auto& v = current[b];
    if (v.size() <= last_index)
      v.resize(std::max<std::size_t>(last_index + 1, v.size() * 2), kNoValue);
    return v;
  };
  ByteDmdProgram::Instruction ins;
  constexpr std::size_t kMaxEntries = std::numeric_limits<std::uint32_t>::max();
  p.reads.reserve(std::min(events.size(), kMaxEntries));
  // Without boundaries there is about one instruction per read event.
  if (!has_op_end) p.instructions.reserve(events.size());
  auto flush = [&]() {
    CUBE_CHECK(p.reads.size() < kMaxEntries && p.outputs.size() < kMaxEntries,
               "bytedmd: more than 2^32 - 1 operand reads or outputs");
    ins.read_count = static_cast<std::uint32_t>(p.reads.size() - ins.first_read);
    ins.output_count = static_cast<std::uint32_t>(p.outputs.size() - ins.first_output);
    if (ins.read_count + ins.output_count > 0) p.instructions.push_back(ins);
    ins.first_read = static_cast<std::uint32_t>(p.reads.size());
    ins.first_output = static_cast<std::uint32_t>(p.outputs.size());
  };
  for (const TraceEvent& e : events) {
    switch (e.kind) {
      case EventKind::kRead: {
        // A read after this operation's writes, or any read when the trace has no boundaries,
        // starts a new operation.
        if (!has_op_end || p.outputs.size() > ins.first_output) flush();
        if (e.count == 0) break;
        const std::uint64_t k = units(e.buffer);
        const std::uint64_t first = std::uint64_t{e.offset} * k;
        const std::uint64_t end = (std::uint64_t{e.offset} + e.count) * k;
        auto& values = cell(e.buffer, end - 1);
        for (std::uint64_t i = first; i < end; ++i) {
          if (values[i] == kNoValue) {
            values[i] = new_value();  // read before any write: an input
            inputs.push_back({e.buffer, i, values[i]});
          }
          p.reads.push_back(values[i]);
        }
        break;
      }
      case EventKind::kWrite: {
        if (e.count == 0) break;
        const std::uint64_t k = units(e.buffer);
        const std::uint64_t first = std::uint64_t{e.offset} * k;
        const std::uint64_t end = (std::uint64_t{e.offset} + e.count) * k;
        auto& values = cell(e.buffer, end - 1);
        for (std::uint64_t i = first; i < end; ++i) {
          values[i] = new_value();
          p.outputs.push_back(values[i]);
        }
        break;
      }
      case EventKind::kOpEnd:
        flush();
        break;
      case EventKind::kFree:
        break;  // liveness is taken from the reads themselves
    }
  }
  flush();
  // Eager initialisation: last buffer first, natural element order within a buffer (§6.1).
  std::sort(inputs.begin(), inputs.end(), [](const Input& a, const Input& b) {
    return a.buffer != b.buffer ? a.buffer > b.buffer : a.index < b.index;
  });
  p.inputs.reserve(inputs.size());
  for (const Input& in : inputs) p.inputs.push_back(in.value);
  return p;
}

void ByteDmdMetric::begin(const BufferTable& buffers) {
  buffers_ = &buffers;
  events_.clear();
  traced_ = true;
  evaluated_ = false;
  result_ = ByteDmdResult{};
}

void ByteDmdMetric::consume(std::span<const TraceEvent> events) {
  // ByteDMD needs every value's last read before it can price the first one: keep the trace.
  events_.insert(events_.end(), events.begin(), events.end());
}

void ByteDmdMetric::end() {
  if (!traced_ || evaluated_) return;
  // bytes_per_element 0: each buffer's declared size, in units of their common divisor.
  const std::uint32_t unit = config_.bytes_per_element == 0 ? common_element_bytes(*buffers_) : 0;
  result_ =
      evaluate_bytedmd(program_from_trace(*buffers_, events_, unit),
                       unit > 0 ? unit : static_cast<std::uint64_t>(config_.bytes_per_element));
  evaluated_ = true;
  std::vector<TraceEvent>().swap(events_);
}

std::vector<MetricValue> ByteDmdMetric::finish(const RunOutcome& /*outcome*/) {
  if (!traced_) return {{"bytedmd", {}}, {"bytedmd_reads", {}}};
  end();
  return {{"bytedmd", static_cast<double>(result_.cost)},
          {"bytedmd_reads", static_cast<double>(result_.reads)}};
}

CUBE_REGISTER(Metric, ByteDmdMetric, ByteDmdConfig, "bytedmd",
              "ByteDMD: ceil(sqrt(depth)) per byte read in a live-only LRU stack, operands of "
              "one operation priced together (metrics.md §6)");

}  // namespace cube
