// cube/solvers/sgd/sign_sgd.cc: registration of sign-SGD (the training is the shared engine of
// solvers/sgd/mlp_train.cc).

#include "solvers/sgd/sign_sgd.h"

namespace cube {

CUBE_REGISTER(Solver, SignSgdSolver, SignSgdConfig, "sign_sgd",
              "the §1.5 MLP trained by sign-SGD: p -= lr (sign(mean grad) + wd p) (§2.1 #14)");

}  // namespace cube
