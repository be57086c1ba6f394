// cube/solvers/sgd/grokfast.h: GrokFast on the §1.5 MLP (sparse-parity.md §2.1 #6 and #16,
// `exp4_grokfast`, `exp_grokfast_v2`): a per-parameter EMA of the mean batch gradient,
// e <- alpha e + (1 - alpha) g (e starts at 0), and the step p <- p - lr (g + lambda e + wd p),
// biases decayed, hinge loss; a batch without violator makes no step and leaves e unchanged.
// Everything else is the engine's (solvers/sgd/mlp_train.h, rule kGrokfast).
// Published (§2.1 #16, mini-batch): h 200, lr 0.1, wd 0.01, b 32, alpha 0.98, lambda 2.0;
// n20k3 ntr 1000: 80 % of seeds solved (SGD 100 %, 39 epochs); n20k5 ntr 2000: 100 %,
// 29 epochs (SGD 73).
#pragma once

#include "solvers/sgd/mlp_train.h"

namespace cube {

struct GrokfastConfig : MlpBaseConfig {
  double alpha = 0.98;
  double lambda = 2.0;
  template <class V>
  void visit(V& v) {
    visit_base(v);
    v("alpha", alpha, "EMA factor of the slow gradient").at_least(0.0).less_than(1.0);
    v("lambda", lambda, "amplification of the slow gradient").at_least(0.0);
  }
  MlpOptions options() const {
    MlpOptions o = base_options();
    o.rule = MlpRule::kGrokfast;
    o.alpha = alpha;
    o.lambda = lambda;
    return o;
  }
};

using GrokfastSolver = MlpSolver<GrokfastConfig>;

}  // namespace cube
