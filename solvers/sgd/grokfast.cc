// cube/solvers/sgd/grokfast.cc: registration of GrokFast SGD (the training is the shared engine
// of solvers/sgd/mlp_train.cc).

#include "solvers/sgd/grokfast.h"

namespace cube {

CUBE_REGISTER(Solver, GrokfastSolver, GrokfastConfig, "grokfast",
              "the §1.5 MLP, SGD with a gradient EMA filter (alpha 0.98, lambda 2; §2.1 #6/#16)");

}  // namespace cube
