// cube/solvers/sgd/sgd.h: the group's baseline learner, a 2-layer ReLU MLP trained by
// mini-batch SGD on the hinge loss (sparse-parity.md §1.5, `fast.py`), plus the sigmoid + BCE
// output of the sparse-AND baseline (§2.5 AND row) for kBit labels.
//
// Model, loss, update, init, epochs, stopping, statuses and trace: solvers/sgd/mlp_train.h with
// rule kSgd: p <- p - lr (sum_{contributors} grad_p / B + wd p) for W1, b1, W2, b2, gradients
// at the old parameters, B the batch's own size; a batch without contributor makes no step.
// loss=hinge (default): contributors are the margin violators (t f < 1), d = -t; biases decayed.
// loss=bce: p = sigmoid(f), every sample contributes d = p - y01; weight decay on W1, W2 only
// (§2.5: "wd on W only"); prediction 1 iff f > 0 (p > 1/2).
// precision=float64 (default, numpy's dtype) or float32 (about 2x faster; within a documented
// tolerance of float64, see tests/solvers/sgd/sgd_test.cc). numpy's RNG is not emulated, so
// epoch counts differ from the group's per seed. The first epoch with 100 % test accuracy stops
// the run (as fast.py).
// Complexity per epoch: O(n_train h n) forward, O(|V| h n) backward over |V| contributors,
// O(n_test h n) evaluation; no allocation inside the epoch loop.
// Reference: SutroYaro `src/sparse_parity/fast.py` (numpy), harness cell h 200, lr 0.1, wd 0.01,
// batch 32, n_train 1000, n_test 200: 100 % at 49 epochs for seed 42, 0.089-0.32 s; the best
// reported SGD time for the cell is 72 ms (lr 0.5, 7 epochs, `exp_sgd_speed`, §3.1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/params.h"
#include "solvers/sgd/mlp_train.h"
#include "solvers/solver.h"

namespace cube {

// The MLP base parameters plus the loss; declared in its own order (loss before precision), which
// the canonical spec string keeps.
struct SgdConfig : MlpBaseConfig {
  std::string loss = "hinge";

  template <class V>
  void visit(V& v) {
    v("hidden", hidden, "hidden ReLU units h").at_least(1);
    v("lr", lr, "SGD step size").greater_than(0.0);
    v("wd", wd, "coupled L2 weight decay (biases included for the hinge loss)").at_least(0.0);
    v("batch", batch, "mini-batch size B (the last batch of an epoch may be shorter)").at_least(1);
    v("max_epochs", max_epochs, "epoch budget; stops earlier at 100 % test accuracy").at_least(1);
    v("loss", loss, "hinge (§1.5) or bce (sigmoid output, §2.5 AND row)").one_of({"hinge", "bce"});
    v("precision", precision, "arithmetic: float64 or float32").one_of({"float64", "float32"});
  }

  MlpOptions options() const {
    MlpOptions o = base_options();
    o.loss = mlp_loss(loss);
    o.decay_biases = o.loss == MlpLoss::kHinge;
    return o;
  }
};

class SgdSolver : public Solver {
 public:
  explicit SgdSolver(SgdConfig config) : config_(std::move(config)) {}

  bool supports(const Problem& problem) const override { return mlp_supports(problem); }

  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  // The same training on a dataset; writes the final parameters to `final_params` if non-null.
  // Seed from ctx.seed(); `tracer` may be nullptr.
  SolveResult train(const BinaryDataset& data, const RunContext& ctx, RecordingTracer* tracer,
                    SgdParameters* final_params = nullptr) const {
    return train_mlp(config_.options(), data, ctx, tracer, final_params);
  }

  const SgdConfig& config() const { return config_; }

 private:
  SgdConfig config_;
};

}  // namespace cube
