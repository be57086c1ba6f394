// cube/solvers/sgd/sgd.cc: registration of the baseline MLP learner (the training itself is the
// shared engine of solvers/sgd/mlp_train.cc).

#include "solvers/sgd/sgd.h"

namespace cube {

SolveResult SgdSolver::solve(const Problem& problem, const RunContext& ctx,
                             RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "sgd needs a binary dataset (check supports() first)");
  return train(*data, ctx, tracer, nullptr);
}

CUBE_REGISTER(Solver, SgdSolver, SgdConfig, "sgd",
              "2-layer ReLU MLP, hinge (or BCE) loss, mini-batch SGD with coupled L2 (baseline)");

}  // namespace cube
