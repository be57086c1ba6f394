// cube/solvers/solver.h: the process axis of the cube.
//
// A Solver learns a Problem and returns predictions on its held-out samples. It is handed a
// tracer pointer: nullptr means tracing is off. Implementations write their algorithm once as a
// template over the tracer type and dispatch:
//
//   SolveResult MySolver::solve(const Problem& p, const RunContext& ctx, RecordingTracer* t) {
//     if (t) return run(p, ctx, *t);
//     NullTracer off;
//     return run(p, ctx, off);
//   }
//
// Solvers never know which metrics consume their trace, and tracing must not change a single
// bit of the result (tests/contract checks it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/outcome.h"
#include "core/registry.h"
#include "core/trace.h"
#include "problems/problem.h"

namespace cube {

// Numerical outcomes are values, not exceptions (cf. Eigen's ComputationInfo).
enum class SolveStatus {
  kSolved,         // finished by its own criterion (exact answer, or target accuracy reached)
  kMaxIterations,  // iteration budget used up before the criterion was met
  kDiverged,       // non-finite loss or parameters
  kTimedOut,       // RunContext deadline passed
};
const char* to_string(SolveStatus status);

struct SolveResult {
  SolveStatus status = SolveStatus::kSolved;
  std::string message;                        // human-readable detail, may be empty
  std::vector<std::int8_t> test_predictions;  // one per test sample, -1 or +1 (0 = no answer)
  std::optional<std::int64_t> epochs;         // passes over the training set (iterative solvers)
  std::optional<std::vector<int>> secret;     // recovered relevant indices (exact solvers)
  std::map<std::string, double> measures;     // named scalars, copied to RunOutcome::measures
  std::vector<CurvePoint> curve;              // learning curve, copied to RunOutcome::curve
};

class Solver : public Module {
 public:
  // Whether this solver can run on `problem` (it offers the capabilities the solver needs).
  virtual bool supports(const Problem& problem) const = 0;

  // Learns `problem` (already generated). `tracer` is nullptr when no metric needs a trace.
  // Deterministic: the same problem, context seed and tracer-or-not give the same result.
  virtual SolveResult solve(const Problem& problem, const RunContext& ctx,
                            RecordingTracer* tracer) = 0;
};

template <>
struct AxisName<Solver> {
  static constexpr const char* value = "solver";
};

using SolverRegistry = Registry<Solver>;

}  // namespace cube
