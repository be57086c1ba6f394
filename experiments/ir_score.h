// cube/experiments/ir_score.h: `cube ir score FILE --problem P --set problem.k=v`: scores one
// Dally IR program on one dally_* problem, as the sutro-problems scorers do.
//
// What: instantiates `problem_spec` (e.g. "dally_matmul" or "dally_matmul(n=16)") with the
// overrides applied, generates it from `seed`, parses the file under the problem's instruction
// set and runs it on every case with the registered `ir_file` solver, the `dally` metric pricing
// its trace; returns a one-row table: problem (canonical spec), correctness (passing cases / cases, 1 = accepted),
// cost (Σ ceil(sqrt(addr)) over priced reads, exact, dally-ir.md §1.3), reads, cases, passed;
// a note names the first failing case when there is one.
// Overrides are "problem.KEY=VALUE" (the `--set` form of plans); a later one wins.
// Errors (ConfigError): unreadable file; IR syntax and static faults located file:line:column
// (e.g. an uninitialised read); a problem that is not a Dally task; an override that is not
// "problem.KEY=VALUE" or names an unknown parameter; an input count that differs from the task's.
// Complexity: O(text + cases · (instructions + outputs)).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/table.h"

namespace cube {

Table ir_score(const std::filesystem::path& ir_file, const std::string& problem_spec,
               const std::vector<std::string>& overrides, std::uint64_t seed);

}  // namespace cube
