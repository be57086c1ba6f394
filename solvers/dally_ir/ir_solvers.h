// cube/solvers/dally_ir/ir_solvers.h: solvers that answer a DallyTask (problems/dally/) with one
// straight-line IR program: a user's file (`ir_file`) or a scorer's baseline generator
// (`dally_naive_matmul`, `dally_tiled_matmul`, `dally_baseline_parity`,
// `dally_baseline_symmetry`).
//
// What: the program is parsed under the task's instruction set (isa "v0" -> DallyVersion::kV0,
// "v3" -> kV3) and run on every case. Result: one prediction per case, +1 when the case passes
// (DallyTask::passes), else -1; status kSolved when every case passes, else kMaxIterations with
// a message naming the first failing case (and its first wrong output). A data-dependent fault
// (v3 division by zero, v0 int64 overflow) fails that case, as the scorer's "execution failed".
// Trace: only case 0 is run with the tracer (the `dally` metric then prices exactly
// program.cost(), which is static, dally-ir.md §1.3: every case costs the same); the other
// cases run untraced, so a traced solve emits one buffer "mem" and O(instructions) events.
// Errors (ConfigError): IR syntax and static faults (located file:line:column, interpreter.h),
// an unreadable file, a program whose input count differs from the task's.
// Complexity: parse O(text) + run O(cases · (instructions + outputs)).
// Reference: spec dally-ir.md §1, metrics.md §7.
#pragma once

#include <cstdint>
#include <string>

#include "problems/dally/dally_problems.h"
#include "models/dally_ir/interpreter.h"
#include "solvers/solver.h"

namespace cube {

// "v0" -> kV0, "v3" -> kV3; anything else is an Error (a problem bug).
DallyVersion dally_version_of(const DallyTask& task);

// The outcome of one program on every case of a task.
struct DallyScore {
  std::size_t cases = 0;
  std::size_t passed = 0;
  double correctness = 0.0;           // passed / cases (0 when there are no cases)
  std::uint64_t cost = 0;             // program.cost(): Σ csqrt over priced reads
  std::uint64_t reads = 0;            // program.reads()
  std::vector<std::int8_t> per_case;  // +1 pass, -1 fail, one per case
  std::string first_failure;          // empty when every case passes
};

// Runs `program` on every case of `task`, case 0 through `tracer` when it is not null.
// Precondition: the program was parsed under dally_version_of(task). Throws ConfigError when the
// program's input count differs from a case's input count.
DallyScore score_dally_program(const DallyProgram& program, const DallyTask& task,
                               RecordingTracer* tracer);

// ir_file(path): the user's program.
struct IrFileConfig {
  std::string path;
  template <class V>
  void visit(V& v) {
    v("path", path, "IR program file (no path: the solver supports no problem)");
  }
};

class IrFileSolver : public Solver {
 public:
  explicit IrFileSolver(IrFileConfig config) : config_(std::move(config)) {}
  // A Dally problem and a non-empty path.
  bool supports(const Problem& problem) const override;
  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

 private:
  IrFileConfig config_;
};

// Base of the generator solvers (no parameters): program_text(task) is the baseline for that task.
class DallyGeneratorSolver : public Solver {
 public:
  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

 protected:
  virtual std::string program_text(const DallyTask& task) const = 0;
};

// naive_matmul(n) on dally_matmul (any n).
class DallyNaiveMatmulSolver : public DallyGeneratorSolver {
 public:
  explicit DallyNaiveMatmulSolver(NoParams) {}
  bool supports(const Problem& problem) const override;

 protected:
  std::string program_text(const DallyTask& task) const override;
};

// tiled_matmul_16() on dally_matmul(n=16) only.
class DallyTiledMatmulSolver : public DallyGeneratorSolver {
 public:
  explicit DallyTiledMatmulSolver(NoParams) {}
  bool supports(const Problem& problem) const override;

 protected:
  std::string program_text(const DallyTask& task) const override;
};

// sparse_parity_baseline(small or medium, from the task's size; medium for medium_approx50).
class DallyBaselineParitySolver : public DallyGeneratorSolver {
 public:
  explicit DallyBaselineParitySolver(NoParams) {}
  bool supports(const Problem& problem) const override;

 protected:
  std::string program_text(const DallyTask& task) const override;
};

// symmetry_baseline(bits) on dally_symmetry.
class DallyBaselineSymmetrySolver : public DallyGeneratorSolver {
 public:
  explicit DallyBaselineSymmetrySolver(NoParams) {}
  bool supports(const Problem& problem) const override;

 protected:
  std::string program_text(const DallyTask& task) const override;
};

}  // namespace cube
