// cube/solvers/local_rules/forward_forward.h: Hinton's Forward-Forward rule as the group ran it
// (sparse-parity.md §2.2 #28, `exp_e_forward_forward`), a NEGATIVE CONTROL: the source reports
// 100 % at n=3/k=3 in 4 epochs but 58.5 % test (92.4 % train) at n=20/k=3, and it is expected to
// fail there here too. Its accuracy is reported as measured; nothing is tuned to make it pass.
//
// Input z = [label, x] in {-1,+1}^(n+1). Layer 1: h1 = relu(W1 z + b1) (h1 units), goodness
// G1 = sum h1^2. Layer 2 reads the L2-normalised h1: u = h1 / max(||h1||, 1e-12),
// h2 = relu(W2 u + b2), G2 = sum h2^2.
// Per training sample (single-sample, order shuffled each epoch by the run's rng):
//   positive pass with the true label: layer 1 forward; if G1 < theta, W1_j += lr 2 h1_j z and
//   b1_j += lr 2 h1_j for every unit with h1_j > 0; then layer 2 forward on u (from the h1 of
//   this pass's forward) and the same rule with G2; negative pass with the label -y: the same
//   with "G > theta" and the opposite sign. Each layer updates right after its own forward.
// Prediction: the label (+1 or -1) with the larger G1 + G2; a tie gives 0 (wrong for kSign
// labels). kBit labels y in {0,1} enter as 2y - 1 and predict 1 iff label +1 wins.
// Init: rng = Rng(stream_seed(seed, rng_role("forward_forward.init"))) (core/rng.h); W1 ~ N(0, 2/(n+1)) row-major, then W2 ~ N(0, 2/h1); biases 0
// (§1.5's Kaiming init; the source's init is not specified in the spec).
// Stop: the first epoch with 100 % test accuracy -> kSolved; max_epochs -> kMaxIterations;
// non-finite goodness -> kDiverged; deadline (polled before each epoch) -> kTimedOut.
// SolveResult::curve gets "test_accuracy" per epoch.
// Trace (operation level, whole run): "x_train", "y_train", "x_test", "y_test", "z" (input with
// label), "W1", "b1", "h1", "u", "W2", "b2", "h2", "goodness", "predictions".
// Complexity per epoch: O(n_train (h1 n + h1 h2)) training, O(n_test (h1 n + h1 h2)) evaluation.
// Defaults: the published n=3/k=3 network (h 100/100, lr 0.01, theta 2.0) and 5 epochs, so that
// traced runs with element-level metrics stay cheap; the published n=20/k=3 run used
// forward_forward(hidden1=500,hidden2=500) with ntr 500, ntest 200 (timed out after 84.8 s).
#pragma once

#include <cstdint>
#include <vector>

#include "core/params.h"
#include "solvers/solver.h"

namespace cube {

struct ForwardForwardConfig {
  std::int64_t hidden1 = 100;
  std::int64_t hidden2 = 100;
  double lr = 0.01;
  double theta = 2.0;
  std::int64_t max_epochs = 5;

  template <class V>
  void visit(V& v) {
    v("hidden1", hidden1, "units of layer 1").at_least(1);
    v("hidden2", hidden2, "units of layer 2").at_least(1);
    v("lr", lr, "step size of the local rule").greater_than(0.0);
    v("theta", theta, "goodness threshold").greater_than(0.0);
    v("max_epochs", max_epochs, "epoch budget; stops earlier at 100 % test accuracy").at_least(1);
  }
};

// The parameters at the end of a run (row-major), for tests.
struct ForwardForwardParameters {
  std::vector<double> w1, b1, w2, b2;
};

class ForwardForwardSolver : public Solver {
 public:
  explicit ForwardForwardSolver(ForwardForwardConfig config) : config_(config) {}

  bool supports(const Problem& problem) const override;
  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;
  SolveResult train(const BinaryDataset& data, const RunContext& ctx, RecordingTracer* tracer,
                    ForwardForwardParameters* final_params = nullptr) const;

 private:
  ForwardForwardConfig config_;
};

}  // namespace cube
