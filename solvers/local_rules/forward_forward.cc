// cube/solvers/local_rules/forward_forward.cc: Hinton's Forward-Forward local rule on the
// label-embedded input (see forward_forward.h); plain double loops, one traced template.

#include "solvers/local_rules/forward_forward.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/index_cast.h"
#include "core/rng.h"

namespace cube {
namespace {

using namespace index_cast;  // NOLINT(build/namespaces): I64, U64, u(), z()

struct Buffers {
  BufferId x_train, y_train, x_test, y_test, zin, W1, b1, h1, un, W2, b2, h2, goodness, predictions;
  template <class Tracer>
  Buffers(Tracer& t, I64 n, I64 h1n, I64 h2n, I64 n_train, I64 n_test) {
    x_train = t.buffer("x_train", 1, u(n_train * n));
    y_train = t.buffer("y_train", 1, u(n_train));
    x_test = t.buffer("x_test", 1, u(n_test * n));
    y_test = t.buffer("y_test", 1, u(n_test));
    zin = t.buffer("z", 8, u(n + 1));
    W1 = t.buffer("W1", 8, u(h1n * (n + 1)));
    b1 = t.buffer("b1", 8, u(h1n));
    h1 = t.buffer("h1", 8, u(h1n));
    un = t.buffer("u", 8, u(h1n));
    W2 = t.buffer("W2", 8, u(h2n * h1n));
    b2 = t.buffer("b2", 8, u(h2n));
    h2 = t.buffer("h2", 8, u(h2n));
    goodness = t.buffer("goodness", 8, 2);
    predictions = t.buffer("predictions", 1, u(n_test));
  }
};

// One dense ReLU layer: out = relu(W in + b) (W rows x cols, row-major); returns sum out^2.
double layer(const std::vector<double>& W, const std::vector<double>& b, const double* in, I64 rows,
             I64 cols, double* out) {
  double g = 0;
  for (I64 j = 0; j < rows; ++j) {
    const double* w = W.data() + j * cols;
    double s = 0;
    for (I64 c = 0; c < cols; ++c) s += w[c] * in[c];
    s += b[z(j)];
    out[j] = std::max(s, 0.0);
    g += out[j] * out[j];
  }
  return g;
}

// The local step: W_j += sgn lr 2 out_j in, b_j += sgn lr 2 out_j over active units.
void local_step(std::vector<double>& W, std::vector<double>& b, const double* in, const double* out,
                I64 rows, I64 cols, double step) {
  for (I64 j = 0; j < rows; ++j) {
    if (!(out[j] > 0)) continue;
    const double k = step * 2.0 * out[j];
    double* w = W.data() + j * cols;
    for (I64 c = 0; c < cols; ++c) w[c] += k * in[c];
    b[z(j)] += k;
  }
}

template <class Tracer>
SolveResult run(const ForwardForwardConfig& cfg, const BinaryDataset& data, const RunContext& ctx,
                Tracer& t, ForwardForwardParameters* final_params) {
  const I64 n = data.n_bits, H1 = cfg.hidden1, H2 = cfg.hidden2;
  const I64 n_train = data.n_train, n_test = data.n_test, m = n + 1;
  const bool bit = data.label_kind == LabelKind::kBit;
  const Buffers buf(t, n, H1, H2, n_train, n_test);

  Rng rng(stream_seed(ctx.seed(), rng_role("forward_forward.init")));
  std::vector<double> W1(z(H1 * m)), b1(z(H1), 0.0), W2(z(H2 * H1)), b2(z(H2), 0.0);
  for (auto& w : W1) w = rng.normal() * std::sqrt(2.0 / static_cast<double>(m));
  for (auto& w : W2) w = rng.normal() * std::sqrt(2.0 / static_cast<double>(H1));
  for (BufferId p : {buf.W1, buf.b1, buf.W2, buf.b2}) {
    t.write(p, 0, p == buf.W1 ? u(H1 * m) : p == buf.W2 ? u(H2 * H1) : p == buf.b1 ? u(H1) : u(H2));
    t.op_end();
  }
  std::vector<double> zin(z(m)), h1(z(H1)), un(z(H1)), h2(z(H2));

  SolveResult result;
  result.test_predictions.assign(z(n_test), 0);
  auto finish = [&](SolveStatus status, I64 epochs, std::string message = {}) {
    result.status = status;
    result.epochs = epochs;
    result.message = std::move(message);
    if (final_params) *final_params = ForwardForwardParameters{W1, b1, W2, b2};
    return std::move(result);
  };

  // z = [label, x]; x_id/row name the source row for the trace.
  auto load = [&](const std::int8_t* x, double label, BufferId x_id, I64 row, BufferId y_id) {
    zin[0] = label;
    for (I64 c = 0; c < n; ++c) zin[z(c + 1)] = x[c];
    t.read(x_id, u(row * n), u(n));
    t.read(y_id, u(row), 1);
    t.write(buf.zin, 0, u(m));
    t.op_end();
  };
  // One layer: out = relu(W in + b) and its goodness (into goodness[slot]), then the local step
  // when `learn` = +1 (positive) or -1 (negative) asks for one and the goodness is on the wrong
  // side of theta.
  auto layer_pass = [&](std::vector<double>& W, std::vector<double>& b, const double* in,
                        BufferId in_id, I64 cols, BufferId W_id, BufferId b_id, double* out,
                        BufferId out_id, I64 rows, std::uint64_t slot, int learn) {
    const double g = layer(W, b, in, rows, cols, out);
    t.read(in_id, 0, u(cols));
    t.read(W_id, 0, u(rows * cols));
    t.read(b_id, 0, u(rows));
    t.write(out_id, 0, u(rows));
    t.write(buf.goodness, slot, 1);
    t.op_end();
    if ((learn > 0 && g < cfg.theta) || (learn < 0 && g > cfg.theta)) {
      local_step(W, b, in, out, rows, cols, learn * cfg.lr);
      t.read(W_id, 0, u(rows * cols));
      t.read(b_id, 0, u(rows));
      t.read(out_id, 0, u(rows));
      t.read(in_id, 0, u(cols));
      t.write(W_id, 0, u(rows * cols));
      t.write(b_id, 0, u(rows));
      t.op_end();
    }
    return g;
  };
  // Forward through both layers; `learn` = +1 (positive), -1 (negative) or 0 (no update).
  // Returns G1 + G2.
  auto pass = [&](int learn) {
    const double g1 =
        layer_pass(W1, b1, zin.data(), buf.zin, m, buf.W1, buf.b1, h1.data(), buf.h1, H1, 0, learn);
    double norm = 0;
    for (I64 j = 0; j < H1; ++j) norm += h1[z(j)] * h1[z(j)];
    norm = std::max(std::sqrt(norm), 1e-12);
    for (I64 j = 0; j < H1; ++j) un[z(j)] = h1[z(j)] / norm;
    t.read(buf.h1, 0, u(H1));
    t.write(buf.un, 0, u(H1));
    t.op_end();
    const double g2 =
        layer_pass(W2, b2, un.data(), buf.un, H1, buf.W2, buf.b2, h2.data(), buf.h2, H2, 1, learn);
    return g1 + g2;
  };
  // Predicted label of x: the label with the larger total goodness (ties: 0, kBit: 0).
  auto predict = [&](const std::int8_t* x, BufferId x_id, I64 row, BufferId y_id, bool& finite) {
    load(x, 1.0, x_id, row, y_id);
    const double gp = pass(0);
    load(x, -1.0, x_id, row, y_id);
    const double gn = pass(0);
    finite = std::isfinite(gp) && std::isfinite(gn);
    const int s = gp > gn ? 1 : gn > gp ? -1 : 0;
    return static_cast<std::int8_t>(bit ? (s > 0 ? 1 : 0) : s);
  };
  auto label_of = [&](std::int8_t y) { return bit ? 2.0 * y - 1.0 : static_cast<double>(y); };

  std::vector<std::int32_t> idx(z(n_train));
  for (I64 epoch = 1; epoch <= cfg.max_epochs; ++epoch) {
    if (ctx.out_of_time())
      return finish(SolveStatus::kTimedOut, epoch - 1,
                    "deadline passed before epoch " + std::to_string(epoch));
    std::iota(idx.begin(), idx.end(), 0);
    rng.shuffle(idx.begin(), idx.end());
    for (I64 k = 0; k < n_train; ++k) {
      const I64 i = idx[z(k)];
      const double y = label_of(data.y_train[z(i)]);
      load(data.train_row(i), y, buf.x_train, i, buf.y_train);
      const double gp = pass(+1);
      load(data.train_row(i), -y, buf.x_train, i, buf.y_train);
      const double gn = pass(-1);
      if (!std::isfinite(gp) || !std::isfinite(gn))
        return finish(SolveStatus::kDiverged, epoch,
                      "non-finite goodness in epoch " + std::to_string(epoch));
    }
    // Test accuracy (decides the stop).
    I64 test_correct = 0;
    bool finite = true;
    for (I64 i = 0; i < n_test; ++i) {
      bool f = true;
      const std::int8_t p = predict(data.test_row(i), buf.x_test, i, buf.y_test, f);
      finite = finite && f;
      result.test_predictions[z(i)] = p;
      test_correct += (bit || p != 0) && p == data.y_test[z(i)];
    }
    t.read(buf.goodness, 0, 2);
    t.read(buf.y_test, 0, u(n_test));
    t.write(buf.predictions, 0, u(n_test));
    t.op_end();
    const double test_acc = n_test ? static_cast<double>(test_correct) / n_test : 1.0;
    result.curve.push_back(CurvePoint{"test_accuracy", epoch, test_acc});
    if (!finite)
      return finish(SolveStatus::kDiverged, epoch,
                    "non-finite goodness in the evaluation after epoch " + std::to_string(epoch));
    if (test_correct == n_test) return finish(SolveStatus::kSolved, epoch);
  }
  return finish(SolveStatus::kMaxIterations, cfg.max_epochs,
                "test accuracy below 100 % after " + std::to_string(cfg.max_epochs) +
                    " epochs (expected: a negative control at n=20)");
}

}  // namespace

bool ForwardForwardSolver::supports(const Problem& problem) const {
  const BinaryDataset* d = problem.binary_dataset();
  return d != nullptr && (d->label_kind == LabelKind::kSign || d->label_kind == LabelKind::kBit);
}

SolveResult ForwardForwardSolver::train(const BinaryDataset& data, const RunContext& ctx,
                                        RecordingTracer* tracer,
                                        ForwardForwardParameters* final_params) const {
  if (tracer) return run(config_, data, ctx, *tracer, final_params);
  NullTracer off;
  return run(config_, data, ctx, off, final_params);
}

SolveResult ForwardForwardSolver::solve(const Problem& problem, const RunContext& ctx,
                                        RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "forward_forward needs a binary dataset (check supports() first)");
  return train(*data, ctx, tracer, nullptr);
}

CUBE_REGISTER(Solver, ForwardForwardSolver, ForwardForwardConfig, "forward_forward",
              "Hinton's Forward-Forward local rule, label in the input (§2.2 #28; negative "
              "control, fails at n=20)");

}  // namespace cube
