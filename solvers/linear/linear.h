// cube/solvers/linear/linear.h: first-order linear methods for sparse sum, majority and
// threshold: ordinary least squares (`least_squares`) and a linear model trained by mini-batch
// SGD on the squared error (`linear_sgd`).
//
// What: both fit f(x) = w.x (+ b for least squares) to the training labels and predict
// round(f) for kInteger labels (sparse sum; round half to even, as numpy's np.round, clamped to
// [-127, 127]) or sign(f) for kSign labels (majority, threshold, parity; sign 0 = no answer,
// always wrong). They see only first-order structure: y's correlation with each single bit.
// That fits sum exactly (y = sum_{i in S} x_i is linear) and majority (sign of that sum), but
// a k-sparse parity with k >= 2 has no correlation with any single bit, so w stays near 0 and
// both methods stay at chance on it; they run on parity datasets all the same (supports()
// accepts them) as a negative control. kBit labels (sparse AND) are rejected.
// Threshold (t = k-1, y = +1 iff all of S is +1 at k = 3) is imbalanced: linear_sgd, which has
// no bias, gets about 63 % there (sparse-parity.md §2.5: 63.5 %); least_squares fits a bias.
//
// ---------------------------------------------------------------------------------------------
// least_squares (sparse-parity.md §2.5 "OLS (least squares on 1000 samples; secret = bits with
// abs(w) > 0.5)"):
// Math: (w, b) = argmin sum_r (w.x_r + b - y_r)^2 over all training rows (b = 0 when
// intercept = false), by the normal equations G [w; b] = A^T y with A = [X | 1], G = A^T A.
// G and A^T y have integer entries and are accumulated exactly (Eigen integer products); the
// (n+1) x (n+1) system is solved by Eigen's robust Cholesky LDL^T (pivoted; a rank-deficient G,
// e.g. n_train <= n, gets the solution with the zero pivots' components set to 0).
// Secret: kInteger labels -> {i : |w_i| > 0.5} (the group's rule; S has w = 1, the rest ~0);
// otherwise the k largest |w_i| (ties to the lower index; majority has w_S ~ 0.5). Sorted.
// Status: kSolved when the fit classifies every training row right, else kMaxIterations with
// the training accuracy in the message (the fit is still returned). epochs unset.
// Measures: "train_accuracy".
// Trace (operation level; buffers "x_train", "y_train", "x_test" 1-byte dataset entries,
// "gram" (n+1)^2 and "rhs" n+1 8-byte accumulators, "w" n+1 8-byte weights, "secret",
// "predictions"):
//   row r:        read x_train[r], read y_train[r], read gram, read rhs, write gram,
//                 write rhs;                                                         op_end
//   solve:        read gram, read rhs, write w;                                      op_end
//   train check:  per row: read w, read x_train[r], read y_train[r];                 op_end
//   secret:       read w, write secret;                                              op_end
//   predict t:    read w, read x_test[t], write predictions[t];                      op_end
// Complexity: O(n_train n^2) for G, O(n^3) for the solve, O((n_train + n_test) n) to predict;
// memory O(n_train n + n^2).
//
// ---------------------------------------------------------------------------------------------
// linear_sgd (sparse-parity.md §2.5 "SGD = a linear model w.x (w ~ 0.01 N(0,1)), MSE,
// mini-batch 32, lr 0.1, wd 0.01; round the prediction": 100 % in 1 epoch on sum and majority):
// Model f(x) = w.x, no bias. Init rng = Rng(stream_seed(seed,
// rng_role("linear_sgd.init"))) (core/rng.h),
// w_i = init_scale * normal() for i = 0..n-1.
// Epoch: idx = [0, n_train) shuffled by rng.shuffle; batches of `batch` consecutive shuffled
// indices (the last may be short, of size B); per batch e_j = f(x_j) - y_j and
//   w <- w - lr * (sum_j e_j x_j / B + wd * w)
// (the gradient of the half mean squared error, coupled L2 decay). After each epoch every
// training row is predicted (round or sign, as above) and the mean of (f - y)^2 recorded on the
// curve ("train_loss", step = epoch).
// Stop: the first epoch with 100 % training accuracy -> kSolved, epochs = that epoch (the group
// stopped on test accuracy; the training set is the honest criterion for a fit). Otherwise
// kMaxIterations after max_epochs. Non-finite w -> kDiverged. Deadline polled before each
// epoch -> kTimedOut, epochs = completed epochs. Predictions from the final w (all 0 before any
// epoch). Measures: "train_accuracy".
// Trace (operation level; buffers "x_train", "y_train", "x_test", "w" n 8-byte, "idx" n_train
// 4-byte, "err" batch 8-byte, "grad" n 8-byte, "predictions"):
//   init:         write w;                                                            op_end
//   shuffle:      read idx, write idx;                                                op_end
//   forward j:    read idx[j], read x_train[r], read y_train[r], read w, write err[j];  op_end
//   gradient:     read err[0, B), read x_train[r] for each batch row, write grad;     op_end
//   update:       read w, read grad, write w;                                         op_end
//   train check:  per row: read w, read x_train[r], read y_train[r];                  op_end
//   predict t:    read w, read x_test[t], write predictions[t];                       op_end
// Complexity: O(n_train n) per epoch, memory O(n + n_train + batch).
//
// Preconditions (both): binary_dataset() with kSign or kInteger labels.
#pragma once

#include <cstdint>
#include <vector>

#include "core/params.h"
#include "solvers/solver.h"

namespace cube {

struct LeastSquaresConfig {
  std::int64_t k = 3;
  bool intercept = true;

  template <class V>
  void visit(V& v) {
    v("k", k, "secret size reported for non-integer labels (top-k |w|)").at_least(1);
    v("intercept", intercept, "fit a bias b as well as w");
  }
};

class LeastSquaresSolver : public Solver {
 public:
  explicit LeastSquaresSolver(LeastSquaresConfig config) : config_(config) {}

  // A binary dataset with kSign or kInteger labels.
  bool supports(const Problem& problem) const override;

  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  // The same solve on a dataset directly (tests and benches). `tracer` may be nullptr.
  // `weights`, when given, receives [w_0 .. w_{n-1}, b] (b = 0 without intercept).
  static SolveResult solve_dataset(const BinaryDataset& data, const LeastSquaresConfig& config,
                                   RecordingTracer* tracer, std::vector<double>* weights = nullptr);

 private:
  LeastSquaresConfig config_;
};

struct LinearSgdConfig {
  double lr = 0.1;
  double wd = 0.01;
  std::int64_t batch = 32;
  std::int64_t max_epochs = 200;
  double init_scale = 0.01;

  template <class V>
  void visit(V& v) {
    v("lr", lr, "SGD step size").greater_than(0.0);
    v("wd", wd, "coupled L2 weight decay").at_least(0.0);
    v("batch", batch, "mini-batch size B (the last batch of an epoch may be shorter)").at_least(1);
    v("max_epochs", max_epochs, "epoch budget; stops earlier at 100 % training accuracy")
        .at_least(1);
    v("init_scale", init_scale, "standard deviation of the initial weights").at_least(0.0);
  }
};

class LinearSgdSolver : public Solver {
 public:
  explicit LinearSgdSolver(LinearSgdConfig config) : config_(config) {}

  // A binary dataset with kSign or kInteger labels.
  bool supports(const Problem& problem) const override;

  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  // The same solve on a dataset directly. `weights`, when given, receives the final w.
  static SolveResult solve_dataset(const BinaryDataset& data, const LinearSgdConfig& config,
                                   const RunContext& ctx, RecordingTracer* tracer,
                                   std::vector<double>* weights = nullptr);

 private:
  LinearSgdConfig config_;
};

}  // namespace cube
