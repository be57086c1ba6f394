// cube/models/dally_ir/value_program.h: straight-line Dally IR programs over values instead of
// addresses, and the allocator that places every value at an address and writes the IR text.
//
// What: a DallyValueProgram is SSA: every instruction defines one new value from earlier values
// (inputs, in the scorer's order, are the first values). Where a value lives is left open; the
// allocator chooses one address per value so that values whose lifetimes overlap never share a
// cell, aiming at the smallest static cost (dally-ir.md §1.3)
//   cost = Σ_v reads(v) · csqrt(addr(v)),   csqrt(a) = ceil(sqrt(a)),
// where reads(v) counts operand reads of v (a repeated operand twice) and its exit reads.
// Lifetime of v: from the instruction that writes it (inputs: before the first instruction) to
// its last read (outputs: the exit). An instruction reads its sources before it writes its
// destination, so a value may take the cell of a source that dies at that instruction (the
// records' "redirect" and "final-add fusion", dally-ir.md §3.4, fall out of this). Two values
// output at the end are both live at exit and get distinct cells; one value output twice is read
// twice from one cell.
//
// Allocation ("chain colouring", the DP-chain pass of sutro-problems' search_value_coloring.py):
// for address 1, 2, 3, ... in turn, give the address a set of pairwise disjoint, still unplaced
// lifetimes of maximum total reads (weighted interval scheduling). Since csqrt never decreases,
// the heavy, short-lived values land low and share cells; long-lived rarely read values (bulk
// inputs) land high. A heuristic: the exact problem is a weighted interval colouring with
// shell costs; tests compare it with an exhaustive optimum on small programs.
// Rendering drops a copy whose source and destination get the same address (it would only pay a
// read).
//
// Complexity: building O(1) per instruction; allocate O(V log V + A · V) for V values placed on
// A addresses (one O(V) dynamic programme per address over lifetimes sorted once by end);
// render O(program text).
// Reference: spec dally-ir.md §1-§3 (value-lifetime colouring, read-count placement).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "models/dally_ir/interpreter.h"

namespace cube {

using DallyValue = std::uint32_t;

struct DallyValueInstruction {
  DallyOp op = DallyOp::kAdd;
  DallyPredicate predicate = DallyPredicate::kEq;  // cmp only
  std::uint8_t n_sources = 0;
  std::array<DallyValue, 3> sources{};
  std::int64_t literal = 0;  // set only, as written in the text ([-128, 255])
  DallyValue dest = 0;
};

class DallyValueProgram {
 public:
  explicit DallyValueProgram(DallyVersion version) : version_(version) {}

  DallyVersion version() const { return version_; }

  // The next input value (inputs are numbered in the order they are declared, which must be
  // the scorer's input order). All inputs must be declared before the first instruction.
  DallyValue input();
  // dest = a op b (add sub mul and or xor div); a op predicate b (cmp).
  DallyValue binary(DallyOp op, DallyValue a, DallyValue b);
  DallyValue cmp(DallyPredicate predicate, DallyValue a, DallyValue b);
  // dest = op a (copy not abs).
  DallyValue unary(DallyOp op, DallyValue a);
  // dest = c != 0 ? t : f (reads all three).
  DallyValue select(DallyValue c, DallyValue t, DallyValue f);
  // dest = literal (free: no read); v3 only.
  DallyValue set(std::int64_t literal);
  // Appends `v` to the output line (a value may be output several times).
  void output(DallyValue v);

  std::size_t value_count() const { return value_count_; }
  std::size_t input_count() const { return input_count_; }
  const std::vector<DallyValueInstruction>& instructions() const { return instructions_; }
  const std::vector<DallyValue>& outputs() const { return outputs_; }

  // Removes every instruction whose value is never read nor output (repeatedly, so chains of
  // dead values go too). Inputs stay. Renumbers nothing.
  void remove_dead_code();

 private:
  DallyValue define(DallyValueInstruction in, int arity);

  DallyVersion version_;
  std::size_t value_count_ = 0, input_count_ = 0;
  std::vector<DallyValueInstruction> instructions_;
  std::vector<DallyValue> outputs_;
};

// addresses[v] = the cell of value v (>= 1); cost = the program's static cost (Σ reads·csqrt,
// before render drops self-copies).
struct DallyAllocation {
  std::vector<std::uint64_t> addresses;
  std::uint64_t cost = 0;
};

// Chain colouring as described above. Precondition: every value other than an input is
// defined by an instruction.
DallyAllocation allocate_addresses(const DallyValueProgram& program);

// Shell by shell for the first `exact_shells` shells (shell d = the 2d-1 addresses of cost d):
// the values of maximum total reads of which at most 2d-1 are ever live at once (exact, by
// min-cost flow, Arkin and Silverberg 1987), partitioned onto the shell's addresses; chain
// colouring after that. Each shell is optimal given the shells before it, so the first is never
// worse than chain colouring's; the total can be (greedy either way). Slower: O(d · (V + T) log T)
// per shell for T lifetime end points (16×16 matmul: ~50 ms against ~15 ms).
DallyAllocation allocate_addresses_by_shell(const DallyValueProgram& program, int exact_shells);

// A lower bound on the cost of any placement of `program` (the schedule fixed): with W the total
// reads and M_K the most reads that K addresses can serve (a min-cost flow with K tracks),
// cost >= W + Σ_{d >= 1} (W - M_{d²}), since every read above address d² pays at least d + 1.
// Cost O(K · (V + T) log T) for K up to the peak number of live values.
std::uint64_t placement_lower_bound(const DallyValueProgram& program);

// The explicit-address IR text of `program` under `allocation` (newline-separated, trailing
// newline), ready for parse_dally_program under program.version().
std::string render_dally_program(const DallyValueProgram& program,
                                 const DallyAllocation& allocation);

}  // namespace cube
