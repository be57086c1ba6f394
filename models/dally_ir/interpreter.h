// cube/models/dally_ir/interpreter.h: parser, static pricer and interpreter of the explicit-
// address IR of the simplified Dally model (the sutro-problems scorers' `.ir` programs).
//
// What: a program is straight-line three-address code over numbered memory cells. The first
// line lists the input addresses, the last line the output addresses, every line in between is
// one instruction `op dest,src...`; `;` is a newline. No comments: `# x` is an unknown op
// (dally-ir.md §1.2). Two instruction sets, chosen explicitly (the text carries no version, and
// the same text means different things under each, e.g. `add` wraps only in v3):
//   kV0 = the matmul scorer: add, sub, mul (3-operand or short `op d,a` = `op d,d,a`), copy;
//         unbounded integers, held here as int64 with every overflow reported as an error.
//         Empty fields in the input/output lines are errors (a trailing comma fails).
//   kV3 = the sparse-parity / symmetry scorer: v0 plus and, or, xor, not, set, div, abs, cmp,
//         select on a signed 8-bit ALU. Every unary/binary result (copy included) is wrapped
//         to [-128, 127]; `set d,K` takes K in [-128, 255] and stores it wrapped; `div` is floor
//         division (-7 div 2 = -4), a zero divisor is an error; cmp gives 0/1; select copies
//         mem[t] or mem[f] unwrapped. Inputs are stored as given (not wrapped), as the scorer
//         does. Empty fields are skipped; at most 100,000 non-blank lines; addresses < 2^64.
//
// Lexing as the scorers' Python: statements are split at `;` and at the ASCII boundaries of
// str.splitlines(), stripped of ASCII whitespace, blank ones dropped; the mnemonic ends at the
// first space; integers are read as int() reads them (sign, `_` between digits).
//
// Cost (metrics.md §7, dally-ir.md §1.3): a read of address a costs csqrt(a) = ceil(sqrt(a)) =
// isqrt(a-1)+1. Total = sum over every source-operand read (binary ops 2, the short form reads
// d and a; copy/not/abs 1; cmp 2; select 3 whatever c is; set 0) + csqrt(o) per entry o of the
// output line (duplicates pay each time). Writes, arithmetic, set and input placement are free.
// The cost is static: computed exactly, in integers, at parse time.
//
// Errors: everything wrong with the text (malformed lines, bad integers, invalid addresses,
// unknown ops, wrong operand counts, duplicate inputs, reads of cells neither input nor written
// earlier, outputs never written, the v3 line cap, set literals out of range) throws ConfigError
// at parse time, located at SourceLocation{source, line, column} of the offending statement
// (line counts '\n' only; column is the statement's first character, so `;`-separated
// statements on one line are told apart). Faults that depend on the data (v3 division by zero,
// v0 int64 overflow) and a wrong number of inputs throw ConfigError from run_dally, located the
// same way. Error checking follows the scorers' order: v0 parses every line before checking
// any instruction's semantics (matmul._parse then _simulate), v3 checks line by line.
//
// Trace (run_dally with a tracer): one buffer "mem" of max_address() elements, element i holding
// cell i + 1 (cell 0 is the ALU and never addressed; 8-byte elements for v0's int64 values,
// 1-byte for v3), offset = address - 1, count 1. Per instruction: a read of each source operand in
// operand order (a repeated operand is read twice), then a write of dest, then op_end(); set writes
// only. At exit one read of each output address, each followed by op_end(). Inputs are in place at
// entry and are not written. So Σ over read events of csqrt(offset + 1) = cost(): the `dally`
// metric, which numbers cells from 1 in declaration order, prices the trace alone exactly as the
// scorers price the text. Tracing never changes results; a traced run of a program with an address
// above 2^32 - 1 (TraceEvent offsets are 32-bit) throws ConfigError before executing.
//
// Complexity: parse O(text length) expected (one hash lookup per operand), memory
// O(distinct addresses + L) for L statements; run O(L + outputs), allocation-free apart from
// the memory vector and the outputs.
// Reference: cybertronai/sutro-problems matmul/matmul.py (_parse, _simulate) and
// sparse-parity/sparse_parity.py, symmetry/symmetry.py (_compile_ir); spec dally-ir.md §1,
// metrics.md §7.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/trace.h"

namespace cube {

enum class DallyVersion : std::uint8_t {
  kV0,  // matmul scorer: add/sub/mul/copy, unbounded integers (int64 here, overflow = error)
  kV3,  // sparse-parity/symmetry scorer: v0..v3 ops on a signed 8-bit ALU
};
const char* to_string(DallyVersion version);

// The mnemonics; each version includes the earlier ones (v1: and/or/xor/not, v2: set,
// v3: div/abs/cmp/select). kV0 programs use only the first four.
enum class DallyOp : std::uint8_t {
  kAdd,
  kSub,
  kMul,
  kCopy,
  kAnd,
  kOr,
  kXor,
  kNot,
  kSet,
  kDiv,
  kAbs,
  kCmp,
  kSelect,
};
const char* to_string(DallyOp op);

enum class DallyPredicate : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
inline constexpr DallyPredicate kDallyPredicates[] = {DallyPredicate::kEq, DallyPredicate::kNe,
                                                      DallyPredicate::kLt, DallyPredicate::kLe,
                                                      DallyPredicate::kGt, DallyPredicate::kGe};
// The predicate word of `cmp` (eq, ne, lt, le, gt, ge).
const char* to_string(DallyPredicate predicate);

namespace dally_detail {
class DallyParser;
}  // namespace dally_detail

// One instruction, operands resolved. `sources` are the addresses read, in read order, with the
// short form expanded (`add d,a` has sources {d, a}); select's are {c, t, f}. `slot`s index the
// interpreter's dense memory (one slot per distinct address that is an input or a destination).
struct DallyInstruction {
  DallyOp op = DallyOp::kAdd;
  DallyPredicate predicate = DallyPredicate::kEq;  // cmp only
  std::uint8_t n_sources = 0;                      // 0 (set) .. 3 (select)
  std::uint64_t dest = 0;
  std::array<std::uint64_t, 3> sources{};
  std::uint32_t dest_slot = 0;
  std::array<std::uint32_t, 3> source_slots{};
  std::int64_t literal = 0;  // set only: the stored value, already wrapped to [-128, 127]
  int line = 0;              // where the statement starts (1-based)
  int column = 0;
};

// A parsed, validated and priced program. Immutable; cheap to run many times.
class DallyProgram {
 public:
  DallyVersion version() const { return version_; }
  const std::string& source() const { return source_; }
  const std::vector<std::uint64_t>& input_addresses() const { return inputs_; }
  const std::vector<std::uint64_t>& output_addresses() const { return outputs_; }
  const std::vector<DallyInstruction>& instructions() const { return instructions_; }

  // The static cost: Σ csqrt over every operand read and every exit read. Exact.
  std::uint64_t cost() const { return cost_; }
  // The number of priced reads (operand reads + one per output entry).
  std::uint64_t reads() const { return reads_; }
  // Reads per distance csqrt(addr), exit reads included (dally-ir.md §5's access-distance list
  // as a histogram): Σ d·count = cost(), Σ count = reads().
  std::map<std::uint64_t, std::uint64_t> distance_histogram() const;
  // Largest address named anywhere in the program (inputs, instructions, outputs).
  std::uint64_t max_address() const { return max_address_; }

  // Where statement-level diagnostics point: the input line, the output line.
  SourceLocation input_location() const { return {source_, input_line_, input_column_}; }
  SourceLocation output_location() const { return {source_, output_line_, output_column_}; }
  SourceLocation location(const DallyInstruction& in) const {
    return {source_, in.line, in.column};
  }

  // Internal layout used by run_dally: the slot of each input / output entry, and the number
  // of slots.
  const std::vector<std::uint32_t>& input_slots() const { return input_slots_; }
  const std::vector<std::uint32_t>& output_slots() const { return output_slots_; }
  std::uint32_t slot_count() const { return slot_count_; }

 private:
  friend class dally_detail::DallyParser;

  DallyVersion version_ = DallyVersion::kV0;
  std::string source_;
  std::vector<std::uint64_t> inputs_, outputs_;
  std::vector<std::uint32_t> input_slots_, output_slots_;
  std::vector<DallyInstruction> instructions_;
  std::uint32_t slot_count_ = 0;
  std::uint64_t cost_ = 0, reads_ = 0, max_address_ = 0;
  int input_line_ = 0, input_column_ = 0, output_line_ = 0, output_column_ = 0;
};

// Parses and validates `text` under `version`, and prices it. `source` names the text in
// diagnostics (a path, or e.g. "<inline>"). Throws ConfigError as described above.
DallyProgram parse_dally_program(std::string_view text, const std::string& source,
                                 DallyVersion version);

// The v3 line cap (non-blank lines, header and output lines included).
inline constexpr std::size_t kDallyV3MaxLines = 100'000;

// csqrt(addr) = ceil(sqrt(addr)) = isqrt(addr - 1) + 1, exact for every addr >= 1 (< 2^64).
std::uint64_t dally_distance(std::uint64_t addr);

// The result of one run: the output values in output-line order, and the static cost.
struct DallyRun {
  std::vector<std::int64_t> outputs;
  std::uint64_t cost = 0;   // == program.cost()
  std::uint64_t reads = 0;  // == program.reads()
};

namespace dally_detail {

[[noreturn]] void throw_fault(const DallyProgram& program, const DallyInstruction& in,
                              const std::string& message);
void check_run(const DallyProgram& program, std::size_t n_inputs, bool traced);

// Two's-complement reduction to signed 8 bits (Python: v &= 0xFF; v - 256 if v >= 128).
inline std::int64_t wrap8(std::uint64_t v) {
  return static_cast<std::int8_t>(static_cast<std::uint8_t>(v & 0xFFu));
}

// Python floor division a // b for b != 0, reduced to 8 bits. INT64_MIN // -1 = 2^63 is
// exact mod 256 (it is 0).
inline std::int64_t floor_div8(std::int64_t a, std::int64_t b) {
  if (b == -1) return wrap8(0 - static_cast<std::uint64_t>(a));
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return wrap8(static_cast<std::uint64_t>(q));
}

inline bool compare(DallyPredicate p, std::int64_t a, std::int64_t b) {
  switch (p) {
    case DallyPredicate::kEq:
      return a == b;
    case DallyPredicate::kNe:
      return a != b;
    case DallyPredicate::kLt:
      return a < b;
    case DallyPredicate::kLe:
      return a <= b;
    case DallyPredicate::kGt:
      return a > b;
    case DallyPredicate::kGe:
      return a >= b;
  }
  return false;
}

// v3 semantics on (possibly unwrapped) int64 values: the result mod 256 of Python's exact
// result equals the result mod 256 of the mod-2^64 computation for add/sub/mul/and/or/xor/not/
// abs, so uint64 arithmetic is exact here.
inline std::int64_t eval_v3(const DallyProgram& program, const DallyInstruction& in,
                            const std::int64_t* mem) {
  const auto u = [&](int i) { return static_cast<std::uint64_t>(mem[in.source_slots[i]]); };
  const auto s = [&](int i) { return mem[in.source_slots[i]]; };
  switch (in.op) {
    case DallyOp::kAdd:
      return wrap8(u(0) + u(1));
    case DallyOp::kSub:
      return wrap8(u(0) - u(1));
    case DallyOp::kMul:
      return wrap8(u(0) * u(1));
    case DallyOp::kCopy:
      return wrap8(u(0));
    case DallyOp::kAnd:
      return wrap8(u(0) & u(1));
    case DallyOp::kOr:
      return wrap8(u(0) | u(1));
    case DallyOp::kXor:
      return wrap8(u(0) ^ u(1));
    case DallyOp::kNot:
      return wrap8(~u(0));
    case DallyOp::kSet:
      return in.literal;
    case DallyOp::kDiv:
      if (s(1) == 0) throw_fault(program, in, "division by zero");
      return floor_div8(s(0), s(1));
    case DallyOp::kAbs:
      return wrap8(s(0) < 0 ? 0 - u(0) : u(0));
    case DallyOp::kCmp:
      return compare(in.predicate, s(0), s(1)) ? 1 : 0;
    case DallyOp::kSelect:
      return s(0) != 0 ? s(1) : s(2);
  }
  throw_fault(program, in, "internal: op outside v3");
}

// v0 semantics: exact integers; int64 overflow (unbounded in the scorer) is reported.
inline std::int64_t eval_v0(const DallyProgram& program, const DallyInstruction& in,
                            const std::int64_t* mem) {
  const std::int64_t a = mem[in.source_slots[0]];
  if (in.op == DallyOp::kCopy) return a;
  const std::int64_t b = mem[in.source_slots[1]];
  std::int64_t r = 0;
  bool overflow = false;
  switch (in.op) {
    case DallyOp::kAdd:
      overflow = __builtin_add_overflow(a, b, &r);
      break;
    case DallyOp::kSub:
      overflow = __builtin_sub_overflow(a, b, &r);
      break;
    case DallyOp::kMul:
      overflow = __builtin_mul_overflow(a, b, &r);
      break;
    default:
      throw_fault(program, in, "internal: op outside v0");
  }
  if (overflow) {
    throw_fault(program, in,
                "result overflows int64 (the v0 scorer's integers are unbounded; this "
                "interpreter holds int64)");
  }
  return r;
}

}  // namespace dally_detail

// Runs `program` on `inputs` (one value per input address, in input-line order), reporting
// every priced read and every write to `tracer` as described at the top of this file.
// Throws ConfigError for a wrong number of inputs and for data-dependent faults.
// Cost O(instructions + outputs).
template <class Tracer>
DallyRun run_dally(const DallyProgram& program, std::span<const std::int64_t> inputs,
                   Tracer& tracer) {
  dally_detail::check_run(program, inputs.size(), Tracer::kEnabled);
  std::vector<std::int64_t> mem(program.slot_count(), 0);
  for (std::size_t i = 0; i < inputs.size(); ++i) mem[program.input_slots()[i]] = inputs[i];

  const bool v3 = program.version() == DallyVersion::kV3;
  BufferId buffer = 0;
  if constexpr (Tracer::kEnabled) {
    buffer = tracer.buffer("mem", v3 ? 1 : 8, program.max_address());
  }
  for (const DallyInstruction& in : program.instructions()) {
    if constexpr (Tracer::kEnabled) {
      for (int k = 0; k < in.n_sources; ++k) tracer.read(buffer, in.sources[k] - 1, 1);
    }
    mem[in.dest_slot] = v3 ? dally_detail::eval_v3(program, in, mem.data())
                           : dally_detail::eval_v0(program, in, mem.data());
    if constexpr (Tracer::kEnabled) {
      tracer.write(buffer, in.dest - 1, 1);
      tracer.op_end();
    }
  }

  DallyRun run;
  run.outputs.reserve(program.output_slots().size());
  for (std::size_t i = 0; i < program.output_slots().size(); ++i) {
    if constexpr (Tracer::kEnabled) {
      tracer.read(buffer, program.output_addresses()[i] - 1, 1);
      tracer.op_end();
    }
    run.outputs.push_back(mem[program.output_slots()[i]]);
  }
  run.cost = program.cost();
  run.reads = program.reads();
  return run;
}

// The untraced run.
inline DallyRun run_dally(const DallyProgram& program, std::span<const std::int64_t> inputs) {
  NullTracer tracer;
  return run_dally(program, inputs, tracer);
}

}  // namespace cube
