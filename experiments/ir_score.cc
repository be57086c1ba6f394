// cube/experiments/ir_score.cc: the `cube ir score` table (see the header). Not here: the CLI
// wiring (main.cc) and the interpreter (solvers/dally_ir/).

#include "experiments/ir_score.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/spec.h"
#include "problems/dally/dally_problems.h"
#include "solvers/dally_ir/ir_solvers.h"

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
  const DallyTask* task = problem->dally_task();
  if (task == nullptr)
    throw ConfigError("--problem: '" + problem->spec() +
                      "' is not a Dally IR task (dally_matmul, dally_sparse_parity, "
                      "dally_symmetry)");

  std::ifstream in(ir_file, std::ios::binary);
  if (!in) throw ConfigError("cannot read IR file '" + ir_file.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  const DallyProgram program =
      parse_dally_program(text.str(), ir_file.string(), dally_version_of(*task));
  const DallyScore score = score_dally_program(program, *task, nullptr);

  Table table;
  table.title = "ir score: " + ir_file.string();
  table.columns = {"problem", "correctness", "cost", "reads", "cases", "passed"};
  table.rows.push_back({problem->spec(), score.correctness, static_cast<std::int64_t>(score.cost),
                        static_cast<std::int64_t>(score.reads),
                        static_cast<std::int64_t>(score.cases),
                        static_cast<std::int64_t>(score.passed)});
  if (!score.first_failure.empty()) table.notes.push_back(score.first_failure);
  return table;
}

}  // namespace cube
