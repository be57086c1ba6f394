// cube/solvers/sgd/mlp_train.h: the one training loop behind the MLP solvers of this folder
// (sgd, sign_sgd, perlayer, grokfast, curriculum): the 2-layer ReLU MLP of sparse-parity.md §1.5
// trained by mini-batch gradient steps, with the update rule, loss and n-curriculum as options.
//
// Model: f(x) = W2 relu(W1 x + b1) + b2, x in {-1,+1}^n, W1: h x n, b1: h, W2: 1 x h, b2: 1.
// Labels: kSign y in {-1,+1} (prediction sign(f), 0 is wrong) or kBit y in {0,1} (prediction
// 1 iff f > 0); internally t = +-1 (t = 2y - 1 for kBit).
// Loss (per sample, d = dLoss/df):
//   kHinge: max(0, 1 - t f); only margin violators (t f < 1) contribute, d = -t.
//   kBce:   sigmoid output p = 1 / (1 + e^-f), BCE; every sample contributes, d = p - y01.
// Gradients over the contributors V of a batch of B samples (B the batch's own size):
//   gW2_j = sum_V d relu(a_j) / B, gb2 = sum_V d / B, gb1_j = W2_j sum_V d [a_j > 0] / B,
//   gW1_ji = W2_j sum_V d x_i [a_j > 0] / B, with a = W1 x + b1 at the old parameters.
// Update rules, for every parameter p with gradient g (decay wd; biases decayed unless noted):
//   kSgd:      p <- p - lr (g + wd p)                               (§1.5, fast.py)
//   kSign:     p <- p - lr (sign(g) + wd p), sign(0) = 0            (§2.1 #14, exp_sign_sgd)
//   kPerLayer: as kSgd, but W2 and b2 are updated first and gb1, gW1 use the NEW W2 (§1.5
//              "per-layer", train_perlayer.py: "changes the math")
//   kGrokfast: e <- alpha e + (1 - alpha) g (e starts at 0), p <- p - lr (g + lambda e + wd p)
//              (§2.1 #6 and #16, GrokFast EMA filter)
// A batch without contributors makes no step at all (no decay, no EMA update).
// n-curriculum (n_start > 0; §2.1 #15): train on the first n_0 = n_start input bits only (the
// rest of x ignored), W1 h x n_0 ~ N(0, 2/n_0); when the test accuracy on that view reaches
// phase_target (or after phase_epochs epochs of the phase), widen to n_{s+1} = min(n_s + n_step,
// n) with new W1 columns ~ N(0, (widen_scale sqrt(2/n_{s+1}))^2) drawn row by row, old columns
// kept; the last phase (all n bits) stops at 100 % test accuracy like the others.
// Init: rng = Rng(stream_seed(seed, rng_role("sgd.init"))) (core/rng.h; every MLP solver of the
// folder); W1 ~ N(0, 2/n) drawn row-major (h x n), then W2 ~ N(0, 2/h);
// biases 0. Epoch: idx = [0, n_train) shuffled by rng.shuffle (the same rng), batches of `batch`
// consecutive shuffled indices, then the test accuracy. Stop: first epoch with 100 % test
// accuracy -> kSolved (epochs = that epoch, counted over all phases), max_epochs ->
// kMaxIterations, non-finite f or parameters -> kDiverged, deadline (polled before each epoch)
// -> kTimedOut. SolveResult::curve gets "test_accuracy" per epoch (step = epoch).
//
// Numbers: Real = double (numpy's default) or float (precision "float32"). The net, its kernels
// and the update rules are models/mlp/mlp_net.h (MlpNet, MlpKernels, SgdStep / SignStep /
// GrokfastStep); the kernels do not know the tracer, so a traced run executes the very same
// instructions and gives the same bits. For the hinge loss sum_V d x_i [a_j > 0] is an exact
// small integer, so gW1 = W2 (.) count / B.
// Trace (operation level, whole run): "x_train", "y_train", "x_test", "y_test" (1 byte) are
// converted to "X", "Y", "X_test" (Real); parameters "W1" (stored n x h, i.e. column-major),
// "b1", "W2", "b2", per epoch "idx"; per batch "W1_table" (when used), "h_pre" (a, batch x h; one
// read of each X row), "out", the selection "viol" / "dout", gradients "dW2", "db2", "dW1", "db1"
// (grokfast: EMAs "eW1", "eb1", "eW2", "eb2"), the updates; per epoch a finiteness check and
// "h_pre_test", "out_test", "predictions". Complexity per epoch: O(n_train h n) forward, O(|V| h n)
// backward, O(n_test h n) evaluation. Memory O(h n + batch h + (n_train + n_test) n). No allocation
// inside the epoch loop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "problems/problem.h"
#include "solvers/solver.h"

namespace cube {

enum class MlpRule { kSgd, kSign, kPerLayer, kGrokfast };
enum class MlpLoss { kHinge, kBce };

struct MlpOptions {
  std::int64_t hidden = 200;
  double lr = 0.1;
  double wd = 0.01;
  std::int64_t batch = 32;
  std::int64_t max_epochs = 200;
  bool float32 = false;
  MlpRule rule = MlpRule::kSgd;
  MlpLoss loss = MlpLoss::kHinge;
  bool decay_biases = true;
  double alpha = 0.98;       // kGrokfast EMA factor
  double lambda = 2.0;       // kGrokfast amplification
  std::int64_t n_start = 0;  // > 0: n-curriculum starting width
  std::int64_t n_step = 10;
  double phase_target = 0.95;
  std::int64_t phase_epochs = 100;
  double widen_scale = 0.1;
};

// The parameters at the end of a run (row-major, as double), for tests and analysis.
struct SgdParameters {
  std::int64_t hidden = 0;
  std::int64_t n = 0;
  std::vector<double> w1;  // hidden x n
  std::vector<double> b1;  // hidden
  std::vector<double> w2;  // hidden
  double b2 = 0;
};

// The parameters every MLP solver of this folder declares (a solver's Config derives from it,
// changes defaults in its constructor and calls visit_base from its own visit).
struct MlpBaseConfig {
  std::int64_t hidden = 200;
  double lr = 0.1;
  double wd = 0.01;
  std::int64_t batch = 32;
  std::int64_t max_epochs = 200;
  std::string precision = "float64";

  template <class V>
  void visit_base(V& v) {
    v("hidden", hidden, "hidden ReLU units h").at_least(1);
    v("lr", lr, "step size").greater_than(0.0);
    v("wd", wd, "coupled L2 weight decay (biases included)").at_least(0.0);
    v("batch", batch, "mini-batch size B (the last batch of an epoch may be shorter)").at_least(1);
    v("max_epochs", max_epochs, "epoch budget; stops earlier at 100 % test accuracy").at_least(1);
    v("precision", precision, "arithmetic: float64 or float32").one_of({"float64", "float32"});
  }
  MlpOptions base_options() const;
};

// A solver of this folder: the engine with the options its Config gives (Config::options()).
template <class Config>
class MlpSolver : public Solver {
 public:
  explicit MlpSolver(Config config) : config_(std::move(config)) {}
  bool supports(const Problem& problem) const override;
  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override {
    const BinaryDataset* data = problem.binary_dataset();
    CUBE_CHECK(data != nullptr, "MLP solvers need a binary dataset (check supports() first)");
    return train(*data, ctx, tracer, nullptr);
  }
  // The same training on a dataset; writes the final parameters to `final_params` if non-null.
  SolveResult train(const BinaryDataset& data, const RunContext& ctx, RecordingTracer* tracer,
                    SgdParameters* final_params = nullptr) const {
    return train_mlp(config_.options(), data, ctx, tracer, final_params);
  }
  const Config& config() const { return config_; }

 private:
  Config config_;
};

// Whether the engine handles this problem (kSign or kBit BinaryDataset).
bool mlp_supports(const Problem& problem);

// Maps a "precision" / "loss" parameter text to the option (values validated by the configs).
bool mlp_float32(const std::string& precision);
MlpLoss mlp_loss(const std::string& loss);

// Trains on `data` (seed from ctx.seed(); `tracer` may be nullptr) and writes the final
// parameters to `final_params` if non-null. Throws ConfigError for kInteger labels.
SolveResult train_mlp(const MlpOptions& options, const BinaryDataset& data, const RunContext& ctx,
                      RecordingTracer* tracer, SgdParameters* final_params = nullptr);

template <class Config>
bool MlpSolver<Config>::supports(const Problem& problem) const {
  return mlp_supports(problem);
}

}  // namespace cube
