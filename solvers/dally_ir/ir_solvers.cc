// cube/solvers/dally_ir/ir_solvers.cc: the IR-program solvers of ir_solvers.h (user file and
// baseline generators) and the shared case runner. Not here: the interpreter itself.

#include "solvers/dally_ir/ir_solvers.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "models/dally_ir/baselines.h"

namespace cube {
namespace {

const DallyTask* task_of(const Problem& problem, const char* family) {
  const DallyTask* task = problem.dally_task();
  if (task == nullptr || (family != nullptr && task->family != family)) return nullptr;
  return task;
}

SolveResult to_result(const DallyScore& score) {
  SolveResult result;
  result.test_predictions = score.per_case;
  if (score.passed == score.cases) {
    result.status = SolveStatus::kSolved;
    result.message =
        "all " + std::to_string(score.cases) + " cases pass; cost " + std::to_string(score.cost);
  } else {
    result.status = SolveStatus::kMaxIterations;
    result.message = score.first_failure;
  }
  return result;
}

// Why case `index` fails: the first wrong output, or the output count.
std::string describe_failure(const DallyTask& task, std::size_t index,
                             const std::vector<std::int64_t>& outputs) {
  const DallyCase& c = task.cases[index];
  std::ostringstream s;
  s << "case " << index + 1 << "/" << task.cases.size() << " fails: ";
  if (outputs.size() != c.expected.size()) {
    s << "the program has " << outputs.size() << " outputs, the task expects " << c.expected.size();
    return s.str();
  }
  std::size_t wrong = 0, first = 0;
  for (std::size_t i = outputs.size(); i-- > 0;) {
    if (outputs[i] != c.expected[i]) {
      ++wrong;
      first = i;
    }
  }
  s << wrong << " of " << outputs.size() << " outputs wrong, first output " << first << " is "
    << outputs[first] << ", expected " << c.expected[first];
  return s.str();
}

}  // namespace

DallyVersion dally_version_of(const DallyTask& task) {
  if (task.isa == "v0") return DallyVersion::kV0;
  CUBE_CHECK(task.isa == "v3", "unknown Dally instruction set '" << task.isa << "'");
  return DallyVersion::kV3;
}

DallyScore score_dally_program(const DallyProgram& program, const DallyTask& task,
                               RecordingTracer* tracer) {
  DallyScore score;
  score.cases = task.cases.size();
  score.cost = program.cost();
  score.reads = program.reads();
  for (std::size_t i = 0; i < task.cases.size(); ++i) {
    const DallyCase& c = task.cases[i];
    if (program.input_addresses().size() != c.inputs.size()) {
      throw ConfigError(program.input_location(),
                        "the program declares " + std::to_string(program.input_addresses().size()) +
                            " inputs; the task provides " + std::to_string(c.inputs.size()));
    }
    std::vector<std::int64_t> outputs;
    bool ok = true;
    std::string fault;
    try {
      outputs = (i == 0 && tracer != nullptr) ? run_dally(program, c.inputs, *tracer).outputs
                                              : run_dally(program, c.inputs).outputs;
      ok = task.passes(i, outputs);
    } catch (const ConfigError& e) {
      // The input count was checked above, so this is a data fault: the case fails.
      ok = false;
      fault = e.what();
    }
    score.per_case.push_back(ok ? 1 : -1);
    score.passed += ok;
    if (!ok && score.first_failure.empty()) {
      score.first_failure = fault.empty()
                                ? describe_failure(task, i, outputs)
                                : "case " + std::to_string(i + 1) + "/" +
                                      std::to_string(task.cases.size()) + " fails: " + fault;
    }
  }
  score.correctness =
      score.cases == 0 ? 0.0 : static_cast<double>(score.passed) / static_cast<double>(score.cases);
  return score;
}

bool IrFileSolver::supports(const Problem& problem) const {
  return !config_.path.empty() && problem.dally_task() != nullptr;
}

SolveResult IrFileSolver::solve(const Problem& problem, const RunContext& /*ctx*/,
                                RecordingTracer* tracer) {
  const DallyTask* task = task_of(problem, nullptr);
  CUBE_CHECK(task != nullptr, "ir_file needs a Dally task (check supports() first)");
  std::ifstream in(config_.path, std::ios::binary);
  if (!in) throw ConfigError("solver.path: cannot read IR file '" + config_.path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  const DallyProgram program =
      parse_dally_program(text.str(), config_.path, dally_version_of(*task));
  return to_result(score_dally_program(program, *task, tracer));
}

SolveResult DallyGeneratorSolver::solve(const Problem& problem, const RunContext& /*ctx*/,
                                        RecordingTracer* tracer) {
  CUBE_CHECK(supports(problem), name() << " does not support " << problem.name());
  const DallyTask& task = *problem.dally_task();
  const DallyProgram program =
      parse_dally_program(program_text(task), "<" + name() + ">", dally_version_of(task));
  return to_result(score_dally_program(program, task, tracer));
}

bool DallyNaiveMatmulSolver::supports(const Problem& problem) const {
  return task_of(problem, "matmul") != nullptr;
}
std::string DallyNaiveMatmulSolver::program_text(const DallyTask& task) const {
  return naive_matmul(static_cast<int>(task.n));
}

bool DallyTiledMatmulSolver::supports(const Problem& problem) const {
  const DallyTask* task = task_of(problem, "matmul");
  return task != nullptr && task->n == 16;
}
std::string DallyTiledMatmulSolver::program_text(const DallyTask& /*task*/) const {
  return tiled_matmul_16();
}

bool DallyBaselineParitySolver::supports(const Problem& problem) const {
  return task_of(problem, "sparse_parity") != nullptr;
}
std::string DallyBaselineParitySolver::program_text(const DallyTask& task) const {
  return sparse_parity_baseline(task.size == "small" ? kParitySmall : kParityMedium);
}

bool DallyBaselineSymmetrySolver::supports(const Problem& problem) const {
  return task_of(problem, "symmetry") != nullptr;
}
std::string DallyBaselineSymmetrySolver::program_text(const DallyTask& task) const {
  return symmetry_baseline(static_cast<int>(task.n));
}

CUBE_REGISTER(Solver, IrFileSolver, IrFileConfig, "ir_file",
              "runs a Dally IR program file on every case of a dally_* problem");
CUBE_REGISTER(Solver, DallyNaiveMatmulSolver, NoParams, "dally_naive_matmul",
              "the matmul scorer's naive i,j,k baseline program (D16)");
CUBE_REGISTER(Solver, DallyTiledMatmulSolver, NoParams, "dally_tiled_matmul",
              "the matmul scorer's 4x4-tiled 16x16 program (D17)");
CUBE_REGISTER(Solver, DallyBaselineParitySolver, NoParams, "dally_baseline_parity",
              "the sparse-parity scorer's try-every-candidate baseline program (D22)");
CUBE_REGISTER(Solver, DallyBaselineSymmetrySolver, NoParams, "dally_baseline_symmetry",
              "the symmetry scorer's mirror-pair cmp/and baseline program (D20, D21)");

}  // namespace cube
