// cube/solvers/sgd/sign_sgd.h: sign-SGD on the §1.5 MLP (sparse-parity.md §2.1 #14,
// `exp_sign_sgd`): p <- p - lr (sign(g) + wd p), sign(0) = 0, g the mean hinge gradient of the
// batch's margin violators; wd stays outside the sign; biases decayed; a batch without violator
// makes no step. Everything else (init, epochs, stop at the first epoch with 100 % test
// accuracy, statuses, trace, complexity) is the engine's: solvers/sgd/mlp_train.h, rule kSign.
// Published settings (§2.1 #14): h 200 (k=3), b 32, wd 0.01, lr 0.01; n20k3 ntr 1000: 99.7 %,
// 26 epochs to 90 %, "oscillates, rarely hits 100 %"; n20k5 ntr 5000: 100 %, 7 epochs.
// The defaults stay the published ones, so that the published table compares like with like: on
// n20k3 they reach 100 % test accuracy on 3 of 10 seeds in 200 epochs (mean 98.4 %). lr = 0.03
// solves 30 of 30 seeds (about 20 epochs) and n20k5 5 of 5; batches >= 64 solve none at
// lr 0.003-0.05 (experiments/sign_sgd_lr.yaml).
#pragma once

#include "solvers/sgd/mlp_train.h"

namespace cube {

struct SignSgdConfig : MlpBaseConfig {
  SignSgdConfig() { lr = 0.01; }
  template <class V>
  void visit(V& v) {
    visit_base(v);
  }
  MlpOptions options() const {
    MlpOptions o = base_options();
    o.rule = MlpRule::kSign;
    return o;
  }
};

using SignSgdSolver = MlpSolver<SignSgdConfig>;

}  // namespace cube
