// cube/solvers/sgd/perlayer.cc: registration of the per-layer training order (the training is
// the shared engine of solvers/sgd/mlp_train.cc).

#include "solvers/sgd/perlayer.h"

namespace cube {

CUBE_REGISTER(Solver, PerLayerSolver, PerLayerConfig, "perlayer",
              "the §1.5 MLP with W2 updated before the layer-1 backward (per-layer, §1.5)");

}  // namespace cube
