// cube/solvers/sgd/sgd.h: the group's baseline learner, a 2-layer ReLU MLP trained by
// mini-batch SGD on the hinge loss (sparse-parity.md §1.5, `fast.py`).
//
// Model: f(x) = W2 relu(W1 x + b1) + b2, x in {-1,+1}^n, W1: h x n, b1: h, W2: 1 x h, b2: 1.
// Prediction sign(f); sign 0 counts as wrong.
// Loss: hinge max(0, 1 - y f). Only margin violators (y f < 1) contribute, with df = -y.
// Update, per mini-batch of B samples (B = the batch's full size, the last batch may be short):
//   p <- p - lr * (sum_{violators} grad_p / B + wd * p)     for p in W2, b2, W1, b1 (this order,
//   all gradients taken at the old parameters; biases are decayed too). A batch with no violator
//   makes no step at all (no decay either).
// Init: rng = cube::Rng(seed + 1); W1 ~ N(0, 2/n) row-major, then W2 ~ N(0, 2/h); biases 0.
// Epoch: idx = [0, n_train) shuffled by rng.shuffle (Fisher-Yates; the same rng as the init),
// batches of `batch` consecutive shuffled indices; then the test accuracy is evaluated.
// Stop: the first epoch with 100 % test accuracy -> kSolved, epochs = that epoch (1-based).
// Otherwise kMaxIterations after max_epochs (epochs = max_epochs). A non-finite f (any batch)
// or parameter (checked after each epoch) -> kDiverged, epochs = the current epoch. The deadline
// is polled before each epoch -> kTimedOut, epochs = completed epochs. test_predictions are
// those of the last evaluated epoch (all 0 when none was evaluated).
// Numbers: float64 throughout (numpy's default dtype); Eigen products, single-threaded and
// without FMA contraction, so a seed gives the same bits on every run and with or without
// tracing. numpy's RNG is not emulated, so epoch counts differ from the group's per seed.
//
// Trace (operation level; one event per buffer range an operation touches, then op_end):
// "x_train", "y_train", "x_test", "y_test" (1-byte dataset) are converted into "X", "Y",
// "X_test" (8-byte); parameters "W1", "b1", "W2", "b2"; per epoch "idx" (shuffle); per batch the
// gather into "xb", "yb" (one read per selected row), "h_pre" = xb W1^T + b1, "h" = relu(h_pre),
// "out" = h W2^T + b2, margin selection into "viol" (violator positions) and "dout",
// gradients "dW2", "db2", "dh_pre", "xm" (violator rows of xb), "dW1", "db1", and the four
// updates (read p, read grad, write p); per epoch a finiteness check (reads of the parameters)
// and the test evaluation "h_pre_test", relu in place, "out_test", "predictions".
//
// Complexity per epoch: O(n_train h n) for the forward products, O(V h n) for the backward over
// V violators, O(n_test h n) for the evaluation. Memory O(h n + (batch + n_test) h + n_train n).
// No allocation inside the epoch loop.
// Reference: SutroYaro `src/sparse_parity/fast.py` (numpy), harness cell h 200, lr 0.1, wd 0.01,
// batch 32, n_train 1000, n_test 200: 100 % at 49 epochs for seed 42, 0.089-0.32 s.
#pragma once

#include <cstdint>
#include <vector>

#include "core/params.h"
#include "solvers/solver.h"

namespace cube {

struct SgdConfig {
  std::int64_t hidden = 200;
  double lr = 0.1;
  double wd = 0.01;
  std::int64_t batch = 32;
  std::int64_t max_epochs = 200;

  template <class V>
  void visit(V& v) {
    v("hidden", hidden, "hidden ReLU units h").at_least(1);
    v("lr", lr, "SGD step size").greater_than(0.0);
    v("wd", wd, "coupled L2 weight decay (biases included)").at_least(0.0);
    v("batch", batch, "mini-batch size B (the last batch of an epoch may be shorter)").at_least(1);
    v("max_epochs", max_epochs, "epoch budget; stops earlier at 100 % test accuracy").at_least(1);
  }
};

// The parameters at the end of a run (row-major), for tests and analysis.
struct SgdParameters {
  std::int64_t hidden = 0;
  std::int64_t n = 0;
  std::vector<double> w1;  // hidden x n
  std::vector<double> b1;  // hidden
  std::vector<double> w2;  // hidden
  double b2 = 0;
};

class SgdSolver : public Solver {
 public:
  explicit SgdSolver(SgdConfig config) : config_(config) {}

  bool supports(const Problem& problem) const override {
    return problem.binary_dataset() != nullptr;
  }

  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  // The same training on a dataset; writes the final parameters to `final_params` if non-null.
  // Seed from ctx.seed(); `tracer` may be nullptr.
  SolveResult train(const BinaryDataset& data, const RunContext& ctx, RecordingTracer* tracer,
                    SgdParameters* final_params = nullptr) const;

  const SgdConfig& config() const { return config_; }

 private:
  SgdConfig config_;
};

}  // namespace cube
