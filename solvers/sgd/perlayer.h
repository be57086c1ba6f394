// cube/solvers/sgd/perlayer.h: the "per-layer" training order of the §1.5 MLP
// (sparse-parity.md §1.5 variants, `train_perlayer.py`; §2.1 #7, #9, #13): per batch, forward,
// layer-2 backward, UPDATE W2 and b2 at once, then the layer-1 backward with the NEW W2
// (gb1_j = W2new_j sum_V d [a_j > 0] / B, gW1 likewise) and its update. The source warns that
// this "changes the math": the layer-1 step is not the gradient at the old parameters (the
// hidden pre-activations a are the old ones; no re-forward). Update p <- p - lr (g + wd p),
// biases decayed, hinge loss, no step on a batch without violator. Everything else is the
// engine's (solvers/sgd/mlp_train.h, rule kPerLayer).
// Published (§2.1 #13, exp_perlayer_batch): h 200, lr 0.1, wd 0.01, b 32, ntr 1000, 200 epochs,
// seeds 42-46: per-layer + batch 5/5 solved, 40.6 epochs (standard + batch 41.4).
#pragma once

#include "solvers/sgd/mlp_train.h"

namespace cube {

struct PerLayerConfig : MlpBaseConfig {
  template <class V>
  void visit(V& v) {
    visit_base(v);
  }
  MlpOptions options() const {
    MlpOptions o = base_options();
    o.rule = MlpRule::kPerLayer;
    return o;
  }
};

using PerLayerSolver = MlpSolver<PerLayerConfig>;

}  // namespace cube
