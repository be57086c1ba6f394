// cube/models/dally_ir/interpreter.cc: the parser, validator and static pricer of Dally IR
// programs (v0 and v3). Execution is the run_dally template in the header; no registry entry.

#include "models/dally_ir/interpreter.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace cube {

const char* to_string(DallyVersion version) {
  switch (version) {
    case DallyVersion::kV0:
      return "v0";
    case DallyVersion::kV3:
      return "v3";
  }
  return "?";
}

const char* to_string(DallyPredicate predicate) {
  switch (predicate) {
    case DallyPredicate::kEq:
      return "eq";
    case DallyPredicate::kNe:
      return "ne";
    case DallyPredicate::kLt:
      return "lt";
    case DallyPredicate::kLe:
      return "le";
    case DallyPredicate::kGt:
      return "gt";
    case DallyPredicate::kGe:
      return "ge";
  }
  return "?";
}

const char* to_string(DallyOp op) {
  switch (op) {
    case DallyOp::kAdd:
      return "add";
    case DallyOp::kSub:
      return "sub";
    case DallyOp::kMul:
      return "mul";
    case DallyOp::kCopy:
      return "copy";
    case DallyOp::kAnd:
      return "and";
    case DallyOp::kOr:
      return "or";
    case DallyOp::kXor:
      return "xor";
    case DallyOp::kNot:
      return "not";
    case DallyOp::kSet:
      return "set";
    case DallyOp::kDiv:
      return "div";
    case DallyOp::kAbs:
      return "abs";
    case DallyOp::kCmp:
      return "cmp";
    case DallyOp::kSelect:
      return "select";
  }
  return "?";
}

std::uint64_t dally_distance(std::uint64_t addr) {
  CUBE_CHECK(addr >= 1, "address 0 is the ALU, not a cell");
  const std::uint64_t n = addr - 1;
  // The double estimate is within one of isqrt(n); the two loops make it exact without ever
  // forming r*r (which overflows at r = 2^32).
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  while (r > 0 && r > n / r) --r;
  while (r + 1 <= n / (r + 1)) ++r;
  return r + 1;
}

std::map<std::uint64_t, std::uint64_t> DallyProgram::distance_histogram() const {
  std::map<std::uint64_t, std::uint64_t> histogram;
  for (const DallyInstruction& in : instructions_) {
    for (int k = 0; k < in.n_sources; ++k) ++histogram[dally_distance(in.sources[k])];
  }
  for (std::uint64_t o : outputs_) ++histogram[dally_distance(o)];
  return histogram;
}

namespace dally_detail {

void throw_fault(const DallyProgram& program, const DallyInstruction& in,
                 const std::string& message) {
  std::ostringstream out;
  out << to_string(in.op) << " (" << to_string(program.version()) << "): " << message;
  throw ConfigError(program.location(in), out.str());
}

void check_run(const DallyProgram& program, std::size_t n_inputs, bool traced) {
  if (n_inputs != program.input_addresses().size()) {
    throw ConfigError(program.input_location(),
                      "IR declares " + std::to_string(program.input_addresses().size()) +
                          " inputs; " + std::to_string(n_inputs) + " provided");
  }
  if (traced && program.max_address() > std::numeric_limits<std::uint32_t>::max()) {
    throw ConfigError(SourceLocation{program.source(), 0, 0},
                      "cannot trace address " + std::to_string(program.max_address()) +
                          ": trace offsets are 32-bit (addresses up to 4294967295)");
  }
}

}  // namespace dally_detail

namespace {

// One non-blank statement: stripped text and where it starts.
struct Statement {
  std::string_view text;
  int line = 0;
  int column = 0;
};

// Python's str.strip() whitespace, ASCII part.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         (c >= '\x1c' && c <= '\x1f');
}

// `;` plus Python's str.splitlines() boundaries, ASCII part (\r\n is two boundaries with an
// empty statement between, which is dropped as blank anyway).
bool is_boundary(char c) {
  return c == ';' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\x1c' ||
         c == '\x1d' || c == '\x1e';
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view strip(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::vector<Statement> split_statements(std::string_view text) {
  std::vector<Statement> statements;
  int line = 1;
  std::size_t line_start = 0, start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && !is_boundary(text[i])) continue;
    std::string_view piece = text.substr(start, i - start);
    std::size_t b = 0;
    while (b < piece.size() && is_space(piece[b])) ++b;
    if (b < piece.size()) {
      statements.push_back({strip(piece), line, static_cast<int>(start + b - line_start + 1)});
    }
    if (i < text.size() && text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
    start = i + 1;
  }
  return statements;
}

// An integer as Python's int(text) reads it (ASCII): surrounding whitespace, optional sign,
// decimal digits with single underscores between digits. Magnitudes >= 2^64 set `overflow`.
struct PyInt {
  bool ok = false;
  bool negative = false;
  bool overflow = false;
  std::uint64_t magnitude = 0;

  // A cell address: 1 <= value < 2^64.
  bool is_address() const { return ok && !negative && !overflow && magnitude >= 1; }
  // value within [lo, hi] for small bounds.
  bool within(std::int64_t lo, std::int64_t hi) const {
    if (!ok || overflow || magnitude > (std::uint64_t{1} << 62)) return false;
    const auto v =
        negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
    return lo <= v && v <= hi;
  }
  std::int64_t small_value() const {
    return negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
  }
};

PyInt parse_int(std::string_view text) {
  const std::string_view s = strip(text);
  PyInt r;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) r.negative = s[i++] == '-';
  if (i >= s.size() || !is_digit(s[i])) return r;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      if (i + 1 >= s.size() || !is_digit(s[i + 1])) return r;
      continue;
    }
    if (!is_digit(c)) return r;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (r.magnitude > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      r.overflow = true;
    } else {
      r.magnitude = r.magnitude * 10 + d;
    }
  }
  if (r.magnitude == 0) r.negative = false;
  r.ok = true;
  return r;
}

// `text` split at commas, each field stripped; with skip_blank, blank fields are dropped.
std::vector<std::string_view> split_fields(std::string_view text, bool skip_blank) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') continue;
    std::string_view field = strip(text.substr(start, i - start));
    if (!skip_blank || !field.empty()) fields.push_back(field);
    start = i + 1;
  }
  return fields;
}

// Joins string-like parts. (Also sidesteps GCC 12's false -Wrestrict on `"x" + std::string`.)
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

std::string quoted(std::string_view s) { return concat("'", s, "'"); }

}  // namespace

namespace dally_detail {

class DallyParser {
 public:
  DallyParser(std::string_view text, const std::string& source, DallyVersion version)
      : text_(text), source_(source) {
    program_.version_ = version;
    program_.source_ = source;
  }

  DallyProgram parse() {
    statements_ = split_statements(text_);
    const bool v3 = program_.version_ == DallyVersion::kV3;
    if (v3 && statements_.size() > kDallyV3MaxLines) {
      fail(statements_[kDallyV3MaxLines],
           "IR exceeds the v3 maximum of 100,000 non-blank lines (header and output lines "
           "count)");
    }
    if (statements_.size() < 2) {
      const int line = statements_.empty() ? 0 : statements_.front().line;
      throw ConfigError(SourceLocation{source_, line, 0},
                        "IR needs at least an input line and an output line");
    }
    const Statement& in_line = statements_.front();
    const Statement& out_line = statements_.back();
    program_.input_line_ = in_line.line;
    program_.input_column_ = in_line.column;
    program_.output_line_ = out_line.line;
    program_.output_column_ = out_line.column;
    program_.inputs_ = address_line(in_line, "input line");
    program_.outputs_ = address_line(out_line, "output line");

    std::vector<std::vector<PyInt>> v0_operands;
    if (!v3) v0_operands = v0_tokenize();  // matmul._parse reads every line before simulating

    for (std::uint64_t a : program_.inputs_) {
      if (slot_.count(a))
        fail(in_line, "input addresses must be distinct (" + std::to_string(a) + " repeats)");
      define(a);
    }
    for (std::size_t s = 1; s + 1 < statements_.size(); ++s) {
      if (v3) {
        v3_instruction(statements_[s]);
      } else {
        v0_instruction(statements_[s], v0_operands[s - 1]);
      }
    }
    for (std::uint64_t o : program_.outputs_) {
      auto it = slot_.find(o);
      if (it == slot_.end()) {
        fail(out_line, "output addr " + std::to_string(o) + " never written");
      }
      program_.output_slots_.push_back(it->second);
      charge(out_line, o);
    }
    for (std::uint64_t a : program_.inputs_) program_.input_slots_.push_back(slot_.at(a));
    program_.slot_count_ = static_cast<std::uint32_t>(slot_.size());
    return std::move(program_);
  }

 private:
  [[noreturn]] void fail(const Statement& st, const std::string& message) const {
    throw ConfigError(SourceLocation{source_, st.line, st.column}, message);
  }

  void note_address(std::uint64_t a) {
    if (a > program_.max_address_) program_.max_address_ = a;
  }

  void define(std::uint64_t a) {
    note_address(a);
    if (slot_.count(a)) return;
    if (slot_.size() >= std::numeric_limits<std::uint32_t>::max()) {
      throw ConfigError(SourceLocation{source_, 0, 0}, "too many distinct addresses");
    }
    slot_.emplace(a, static_cast<std::uint32_t>(slot_.size()));
  }

  void charge(const Statement& st, std::uint64_t a) {
    if (__builtin_add_overflow(program_.cost_, dally_distance(a), &program_.cost_)) {
      fail(st, "cost overflows 2^64");
    }
    ++program_.reads_;
  }

  // The input or output line. v3 skips blank fields and rejects addresses outside
  // [1, 2^64); v0 rejects blank fields (int('') fails) and addresses < 1.
  std::vector<std::uint64_t> address_line(const Statement& st, const char* what) {
    const bool v3 = program_.version_ == DallyVersion::kV3;
    std::vector<std::uint64_t> addresses;
    for (std::string_view field : split_fields(st.text, v3)) {
      const PyInt value = parse_int(field);
      if (!value.ok) {
        fail(st, std::string("malformed ") + what + ": invalid integer " + quoted(field));
      }
      if (!value.is_address()) {
        if (!v3 && value.overflow && !value.negative) {
          fail(st, std::string(what) + ": address " + std::string(field) +
                       " >= 2^64 is not supported by this interpreter");
        }
        fail(st, std::string(v3 ? "malformed " : "") + what +
                     ": addresses must be positive integers" + (v3 ? " below 2^64" : "") +
                     "; got " + std::string(field));
      }
      note_address(value.magnitude);
      addresses.push_back(value.magnitude);
    }
    return addresses;
  }

  // v0 pass 1: `op rest`, rest split at every comma, every field an integer address >= 1.
  std::vector<std::vector<PyInt>> v0_tokenize() {
    std::vector<std::vector<PyInt>> all;
    for (std::size_t s = 1; s + 1 < statements_.size(); ++s) {
      const Statement& st = statements_[s];
      const std::size_t space = st.text.find(' ');
      if (space == std::string_view::npos || space + 1 == st.text.size()) {
        fail(st, "malformed instruction: " + quoted(st.text));
      }
      std::vector<PyInt> operands;
      for (std::string_view field : split_fields(st.text.substr(space + 1), false)) {
        const PyInt value = parse_int(field);
        if (!value.ok) fail(st, "malformed integer " + quoted(field) + " in " + quoted(st.text));
        if (!value.is_address()) {
          if (value.overflow && !value.negative) {
            fail(st, concat("address ", field, " >= 2^64 is not supported by this interpreter"));
          }
          fail(st, concat("`", st.text.substr(0, space),
                          "` operands: addresses must be positive integers; got ", field));
        }
        operands.push_back(value);
      }
      all.push_back(std::move(operands));
    }
    return all;
  }

  // Checks that `a` was defined before, charges the read and records it as source k.
  void read_source(const Statement& st, DallyInstruction& in, std::uint64_t a,
                   const std::string& uninitialized_message) {
    auto it = slot_.find(a);
    if (it == slot_.end()) fail(st, uninitialized_message);
    note_address(a);
    in.sources[in.n_sources] = a;
    in.source_slots[in.n_sources] = it->second;
    ++in.n_sources;
    charge(st, a);
  }

  void finish(DallyInstruction& in, const Statement& st) {
    in.line = st.line;
    in.column = st.column;
    define(in.dest);
    in.dest_slot = slot_.at(in.dest);
    program_.instructions_.push_back(in);
  }

  void v0_instruction(const Statement& st, const std::vector<PyInt>& operands) {
    const std::string_view head = st.text.substr(0, st.text.find(' '));
    DallyInstruction in;
    std::string listing;  // "d,a,b" for messages, as the scorer prints them
    for (const PyInt& v : operands) {
      if (!listing.empty()) listing += ',';
      listing += std::to_string(v.magnitude);
    }
    const auto uninitialized = [&](std::uint64_t a) {
      return std::string(head) + " " + listing + " reads uninitialized addr " + std::to_string(a);
    };
    if (head == "copy") {
      if (operands.size() != 2) fail(st, "copy needs 2 operands: copy " + listing);
      in.op = DallyOp::kCopy;
      in.dest = operands[0].magnitude;
      read_source(st, in, operands[1].magnitude, uninitialized(operands[1].magnitude));
      finish(in, st);
      return;
    }
    if (head == "add") {
      in.op = DallyOp::kAdd;
    } else if (head == "sub") {
      in.op = DallyOp::kSub;
    } else if (head == "mul") {
      in.op = DallyOp::kMul;
    } else {
      fail(st, "unknown op: " + quoted(head) + "  (v0 supports add/sub/mul/copy)");
    }
    if (operands.size() != 2 && operands.size() != 3) {
      fail(st, std::string(head) + " needs 2 or 3 operands; got " + listing);
    }
    in.dest = operands[0].magnitude;
    const std::uint64_t s1 = operands.size() == 3 ? operands[1].magnitude : in.dest;
    const std::uint64_t s2 = operands.back().magnitude;
    read_source(st, in, s1, uninitialized(s1));
    read_source(st, in, s2, uninitialized(s2));
    finish(in, st);
  }

  void v3_instruction(const Statement& st) {
    const std::size_t space = st.text.find(' ');
    const std::string_view head = st.text.substr(0, space);
    const std::vector<std::string_view> raw = space == std::string_view::npos
                                                  ? std::vector<std::string_view>{}
                                                  : split_fields(st.text.substr(space + 1), true);
    const std::string prefix = "malformed instruction " + quoted(st.text) + ": ";
    const auto integer = [&](std::size_t i) {
      const PyInt v = parse_int(raw[i]);
      if (!v.ok) fail(st, prefix + "invalid integer " + quoted(raw[i]));
      return v;
    };
    const auto arity = [&](std::size_t n) {
      if (raw.size() != n) fail(st, prefix + "needs " + std::to_string(n) + " operands");
    };

    DallyInstruction in;
    std::vector<std::pair<PyInt, std::string_view>> reads;
    PyInt dest;
    if (head == "set") {
      arity(2);
      dest = integer(0);
      const PyInt literal = integer(1);
      if (!literal.within(-128, 255)) fail(st, prefix + "literal out of bounds");
      in.op = DallyOp::kSet;
      in.literal = dally_detail::wrap8(static_cast<std::uint64_t>(literal.small_value()));
    } else if (head == "cmp") {
      arity(4);
      dest = integer(0);
      reads = {{integer(1), raw[1]}, {integer(2), raw[2]}};
      bool found = false;
      for (const DallyPredicate p : kDallyPredicates) {
        if (raw[3] == to_string(p)) {
          in.predicate = p;
          found = true;
        }
      }
      if (!found) fail(st, prefix + "invalid predicate " + quoted(raw[3]));
      in.op = DallyOp::kCmp;
    } else if (head == "select") {
      arity(4);
      dest = integer(0);
      reads = {{integer(1), raw[1]}, {integer(2), raw[2]}, {integer(3), raw[3]}};
      in.op = DallyOp::kSelect;
    } else if (head == "copy" || head == "not" || head == "abs") {
      arity(2);
      dest = integer(0);
      reads = {{integer(1), raw[1]}};
      in.op = head == "copy" ? DallyOp::kCopy : head == "not" ? DallyOp::kNot : DallyOp::kAbs;
    } else if (head == "add" || head == "sub" || head == "mul" || head == "div" || head == "and" ||
               head == "or" || head == "xor") {
      if (raw.size() != 2 && raw.size() != 3) fail(st, prefix + "needs 2 or 3 operands");
      dest = integer(0);
      if (raw.size() == 3) {
        reads = {{integer(1), raw[1]}, {integer(2), raw[2]}};
      } else {
        reads = {{dest, raw[0]}, {integer(1), raw[1]}};
      }
      static constexpr std::pair<std::string_view, DallyOp> kBinary[] = {
          {"add", DallyOp::kAdd}, {"sub", DallyOp::kSub}, {"mul", DallyOp::kMul},
          {"div", DallyOp::kDiv}, {"and", DallyOp::kAnd}, {"or", DallyOp::kOr},
          {"xor", DallyOp::kXor}};
      for (const auto& [name, op] : kBinary) {
        if (head == name) in.op = op;
      }
    } else {
      fail(st, prefix + "unknown op: " + quoted(head));
    }
    if (!dest.is_address()) {
      fail(st, prefix + "invalid dest address " + std::string(raw[0]));
    }
    in.dest = dest.magnitude;
    for (const auto& [value, token] : reads) {
      const std::string message = prefix + "uninitialized read: " + std::string(token);
      if (!value.is_address()) fail(st, message);  // never an input nor a destination
      read_source(st, in, value.magnitude, message);
    }
    finish(in, st);
  }

  std::string_view text_;
  const std::string& source_;
  std::vector<Statement> statements_;
  std::unordered_map<std::uint64_t, std::uint32_t> slot_;
  DallyProgram program_;
};

}  // namespace dally_detail

DallyProgram parse_dally_program(std::string_view text, const std::string& source,
                                 DallyVersion version) {
  return dally_detail::DallyParser(text, source, version).parse();
}

}  // namespace cube
