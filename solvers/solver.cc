// cube/solvers/solver.cc: names of solve statuses, as stored in results.

#include "solvers/solver.h"

namespace cube {

const char* to_string(SolveStatus status) {
  switch (status) {
    case SolveStatus::kSolved:
      return "ok";
    case SolveStatus::kMaxIterations:
      return "max_iterations";
    case SolveStatus::kDiverged:
      return "diverged";
    case SolveStatus::kTimedOut:
      return "timeout";
  }
  return "?";
}

}  // namespace cube
