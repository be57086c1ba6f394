// cube/solvers/sgd/curriculum.h: the n-curriculum of sparse-parity.md §2.1 #15
// (`exp_curriculum`) on the §1.5 MLP with plain SGD: train on the first n_start input bits only,
// and each time the test accuracy on that view reaches phase_target (or the phase has run
// phase_epochs epochs), widen to min(width + n_step, n) bits: new W1 columns
// ~ N(0, (0.1 sqrt(2/n_new))^2) drawn row by row from the run's rng, old columns kept; the last
// phase (all n bits) stops at 100 % test accuracy. Epochs are counted over all phases;
// measures "curriculum_widen_to_<n>_epoch" record when each widening happened.
// Schedule (ours): n_start 10, n_step 10, so n=20 runs 10 -> 20 and n=50 with n_step=20 runs
// the published 10 -> 30 -> 50. Difference from the source (§6.6): the source draws fresh data
// per phase with the secret inside the first 10 bits; here the problem's one data set is used
// as given, so when the secret is not inside the first n_start bits the first phases cannot
// learn it (they end by phase_epochs) and the curriculum is a warm start at best.
// Everything else is the engine's (solvers/sgd/mlp_train.h, rule kSgd, n_start > 0).
// Published (§2.1 #15): h 200, lr 0.1, wd 0.01, b 32, ntr 1000, ntest 200, seed 42, phases end
// at 95 %, 300-500 epochs per phase; n20k3 10 -> 20: 100 %, 19 epochs (direct 33). Our
// defaults cap a phase at 100 and the run at 200 epochs (sgd's budget).
#pragma once

#include "solvers/sgd/mlp_train.h"

namespace cube {

struct CurriculumConfig : MlpBaseConfig {
  std::int64_t n_start = 10;
  std::int64_t n_step = 10;
  double phase_target = 0.95;
  std::int64_t phase_epochs = 100;
  template <class V>
  void visit(V& v) {
    visit_base(v);
    v("n_start", n_start, "input bits of the first phase (>= n: no curriculum)").at_least(1);
    v("n_step", n_step, "bits added per widening").at_least(1);
    v("phase_target", phase_target, "test accuracy that ends a phase")
        .greater_than(0.0)
        .at_most(1.0);
    v("phase_epochs", phase_epochs, "epoch cap of a phase before all n bits").at_least(1);
  }
  MlpOptions options() const {
    MlpOptions o = base_options();
    o.n_start = n_start;
    o.n_step = n_step;
    o.phase_target = phase_target;
    o.phase_epochs = phase_epochs;
    o.widen_scale = 0.1;
    return o;
  }
};

using CurriculumSolver = MlpSolver<CurriculumConfig>;

}  // namespace cube
