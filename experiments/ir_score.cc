// cube/experiments/ir_score.cc: the `cube ir score` table (see the header). Not here: the CLI
// wiring (main.cc), the interpreter (models/dally_ir/) and running it on cases (the ir_file
// solver, reached through the registry).

#include "experiments/ir_score.h"

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/spec.h"
#include "metrics/dally/dally_cost.h"
#include "problems/problem.h"
#include "solvers/solver.h"

namespace cube {

Table ir_score(const std::filesystem::path& ir_file, const std::string& problem_spec,
               const std::vector<std::string>& overrides, std::uint64_t seed) {
  Spec spec = parse_spec(problem_spec, SourceLocation{"--problem", 0, 0});
  for (const std::string& item : overrides) {
    const std::string prefix = "problem.";
    const auto eq = item.find('=');
    if (item.rfind(prefix, 0) != 0 || eq == std::string::npos || eq == prefix.size())
      throw ConfigError("--set: '" + item + "' is not of the form problem.KEY=VALUE");
    spec.params[item.substr(prefix.size(), eq - prefix.size())] =
        ParamInput{item.substr(eq + 1), SourceLocation{"--set " + item, 0, 0}};
  }
  auto problem = instantiate<Problem>(spec, "problem");
  problem->generate(seed);
  if (problem->dally_task() == nullptr)
    throw ConfigError("--problem: '" + problem->spec() +
                      "' is not a Dally IR task (dally_matmul, dally_sparse_parity, "
                      "dally_symmetry)");

  if (!std::ifstream(ir_file, std::ios::binary))
    throw ConfigError("cannot read IR file '" + ir_file.string() + "'");

  // The program is scored as a cell would score it: the registered ir_file solver runs it on every
  // case, and the dally metric prices the trace of case 0 (every case costs the same).
  Spec solver_spec{"ir_file", {{"path", ParamInput{ir_file.string(), SourceLocation{}}}}, {}};
  auto solver = instantiate<Solver>(solver_spec, "solver");
  DallyCostMetric dally{NoParams{}};
  RecordingTracer tracer;
  tracer.add_sink(&dally);
  const SolveResult result = solver->solve(*problem, RunContext(seed), &tracer);
  tracer.finish();
  const std::vector<MetricValue> priced = dally.finish(RunOutcome{});
  const auto passed = static_cast<std::int64_t>(
      std::count(result.test_predictions.begin(), result.test_predictions.end(), 1));
  const auto cases = static_cast<std::int64_t>(result.test_predictions.size());

  Table table;
  table.title = "ir score: " + ir_file.string();
  table.columns = {"problem", "correctness", "cost", "reads", "cases", "passed"};
  table.rows.push_back({problem->spec(), problem->accuracy(result.test_predictions),
                        static_cast<std::int64_t>(*priced[0].value),
                        static_cast<std::int64_t>(*priced[1].value), cases, passed});
  if (result.status != SolveStatus::kSolved) table.notes.push_back(result.message);
  return table;
}

}  // namespace cube
