// cube/solvers/sgd/curriculum.cc: registration of the n-curriculum SGD (the training is the
// shared engine of solvers/sgd/mlp_train.cc).

#include "solvers/sgd/curriculum.h"

namespace cube {

CUBE_REGISTER(Solver, CurriculumSolver, CurriculumConfig, "curriculum",
              "the §1.5 MLP trained on the first n_start bits, widened to n (n-curriculum, §2.1 "
              "#15)");

}  // namespace cube
