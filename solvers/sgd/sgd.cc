// cube/solvers/sgd/sgd.cc: the baseline MLP trained by hinge-loss mini-batch SGD, written once
// over the tracer type with batched Eigen products (see sgd.h for the math and the trace).

// Eigen's own OpenMP parallel products would make the work depend on the thread count and
// oversubscribe the runner's pool; one solve is one thread.
#define EIGEN_DONT_PARALLELIZE

#include "solvers/sgd/sgd.h"

#include <Eigen/Core>
#include <cmath>
#include <numeric>
#include <string>

#include "core/rng.h"

namespace cube {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXd;

using U64 = std::uint64_t;
inline U64 u(std::int64_t v) { return static_cast<U64>(v); }

// The trace buffers of one run, declared up front in a fixed order (stable addresses).
struct Buffers {
  BufferId x_train, y_train, x_test, y_test, X, Y, X_test;
  BufferId W1, b1, W2, b2, idx;
  BufferId xb, yb, h_pre, h, out, viol, dout;
  BufferId dW2, db2, dh_pre, xm, dW1, db1;
  BufferId h_pre_test, out_test, predictions;

  template <class Tracer>
  Buffers(Tracer& t, std::int64_t n, std::int64_t h, std::int64_t B, std::int64_t n_train,
          std::int64_t n_test) {
    x_train = t.buffer("x_train", 1, u(n_train * n));
    y_train = t.buffer("y_train", 1, u(n_train));
    x_test = t.buffer("x_test", 1, u(n_test * n));
    y_test = t.buffer("y_test", 1, u(n_test));
    X = t.buffer("X", 8, u(n_train * n));
    Y = t.buffer("Y", 8, u(n_train));
    X_test = t.buffer("X_test", 8, u(n_test * n));
    W1 = t.buffer("W1", 8, u(h * n));
    b1 = t.buffer("b1", 8, u(h));
    W2 = t.buffer("W2", 8, u(h));
    b2 = t.buffer("b2", 8, 1);
    idx = t.buffer("idx", 4, u(n_train));
    xb = t.buffer("xb", 8, u(B * n));
    yb = t.buffer("yb", 8, u(B));
    h_pre = t.buffer("h_pre", 8, u(B * h));
    this->h = t.buffer("h", 8, u(B * h));
    out = t.buffer("out", 8, u(B));
    viol = t.buffer("viol", 4, u(B));
    dout = t.buffer("dout", 8, u(B));
    dW2 = t.buffer("dW2", 8, u(h));
    db2 = t.buffer("db2", 8, 1);
    dh_pre = t.buffer("dh_pre", 8, u(B * h));
    xm = t.buffer("xm", 8, u(B * n));
    dW1 = t.buffer("dW1", 8, u(h * n));
    db1 = t.buffer("db1", 8, u(h));
    h_pre_test = t.buffer("h_pre_test", 8, u(n_test * h));
    out_test = t.buffer("out_test", 8, u(n_test));
    predictions = t.buffer("predictions", 1, u(n_test));
  }
};

// One parameter update, p <- p - lr * (g / B + wd * p), traced as read p, read g, write p.
template <class Tracer, class P, class G>
void update(Tracer& t, P&& p, const G& g, double lr, double wd, double batch, BufferId p_id,
            BufferId g_id, U64 size) {
  p = p - lr * (g / batch + wd * p);
  t.read(p_id, 0, size);
  t.read(g_id, 0, size);
  t.write(p_id, 0, size);
  t.op_end();
}

// f = W2 relu(x W1^T + b1) + b2 for every row of x (rows x n), traced as three operations:
// pre = x W1^T + b1, act = relu(pre), out = act W2 + b2. `act` may be `pre` itself (in place).
template <class Tracer, class X, class Pre, class Act, class Out>
void forward(Tracer& t, const Buffers& buf, const Matrix& W1, const Vector& b1, const Vector& W2,
             double b2, const X& x, BufferId x_id, Pre&& pre, BufferId pre_id, Act&& act,
             BufferId act_id, Out&& out, BufferId out_id) {
  const U64 rows = u(x.rows());
  const U64 h = u(W1.rows());
  const U64 n = u(W1.cols());
  pre.noalias() = x * W1.transpose();
  pre.rowwise() += b1.transpose();
  t.read(x_id, 0, rows * n);
  t.read(buf.W1, 0, h * n);
  t.read(buf.b1, 0, h);
  t.write(pre_id, 0, rows * h);
  t.op_end();
  act = pre.cwiseMax(0.0);
  t.read(pre_id, 0, rows * h);
  t.write(act_id, 0, rows * h);
  t.op_end();
  out.noalias() = act * W2;
  out.array() += b2;
  t.read(act_id, 0, rows * h);
  t.read(buf.W2, 0, h);
  t.read(buf.b2, 0, 1);
  t.write(out_id, 0, rows);
  t.op_end();
}

template <class Tracer>
SolveResult run(const SgdConfig& config, const BinaryDataset& data, const RunContext& ctx,
                Tracer& t, SgdParameters* final_params) {
  const std::int64_t n = data.n_bits;
  const std::int64_t h = config.hidden;
  const std::int64_t n_train = data.n_train;
  const std::int64_t n_test = data.n_test;
  const std::int64_t B = std::min(config.batch, std::max<std::int64_t>(n_train, 1));
  const double lr = config.lr;
  const double wd = config.wd;
  const Buffers buf(t, n, h, B, n_train, n_test);

  SolveResult result;
  result.test_predictions.assign(static_cast<std::size_t>(n_test), 0);

  // Inputs as float64, once per solve.
  Matrix X(n_train, n), X_test(n_test, n);
  Vector Y(n_train);
  for (std::int64_t i = 0; i < n_train * n; ++i)
    X.data()[i] = data.x_train[static_cast<std::size_t>(i)];
  for (std::int64_t i = 0; i < n_train; ++i) Y[i] = data.y_train[static_cast<std::size_t>(i)];
  for (std::int64_t i = 0; i < n_test * n; ++i)
    X_test.data()[i] = data.x_test[static_cast<std::size_t>(i)];
  t.read(buf.x_train, 0, u(n_train * n));
  t.write(buf.X, 0, u(n_train * n));
  t.op_end();
  t.read(buf.y_train, 0, u(n_train));
  t.write(buf.Y, 0, u(n_train));
  t.op_end();
  t.read(buf.x_test, 0, u(n_test * n));
  t.write(buf.X_test, 0, u(n_test * n));
  t.op_end();

  // Kaiming init from seed + 1: W1 row-major first, then W2.
  Rng rng(ctx.seed() + 1);
  Matrix W1(h, n);
  Vector b1 = Vector::Zero(h), W2(h);
  double b2 = 0;
  const double std1 = std::sqrt(2.0 / static_cast<double>(n));
  const double std2 = std::sqrt(2.0 / static_cast<double>(h));
  for (std::int64_t i = 0; i < h * n; ++i) W1.data()[i] = rng.normal() * std1;
  for (std::int64_t j = 0; j < h; ++j) W2[j] = rng.normal() * std2;
  for (BufferId p : {buf.W1, buf.b1, buf.W2, buf.b2}) {
    t.write(p, 0, p == buf.W1 ? u(h * n) : p == buf.b2 ? 1 : u(h));
    t.op_end();
  }

  // Work space, sized once for the largest batch.
  std::vector<std::int32_t> idx(static_cast<std::size_t>(n_train));
  std::vector<std::int32_t> viol(static_cast<std::size_t>(B));
  Matrix xb(B, n), h_pre(B, h), hid(B, h), xm(B, n), dh_pre(B, h), dW1(h, n);
  Matrix h_pre_test(n_test, h);
  Vector yb(B), out(B), dout(B), dW2(h), db1(h), out_test(n_test);

  auto finish = [&](SolveStatus status, std::int64_t epochs, std::string message = {}) {
    result.status = status;
    result.epochs = epochs;
    result.message = std::move(message);
    if (final_params) {
      final_params->hidden = h;
      final_params->n = n;
      final_params->w1.assign(W1.data(), W1.data() + h * n);
      final_params->b1.assign(b1.data(), b1.data() + h);
      final_params->w2.assign(W2.data(), W2.data() + h);
      final_params->b2 = b2;
    }
    return std::move(result);
  };

  for (std::int64_t epoch = 1; epoch <= config.max_epochs; ++epoch) {
    if (ctx.out_of_time())
      return finish(SolveStatus::kTimedOut, epoch - 1,
                    "deadline passed before epoch " + std::to_string(epoch));
    std::iota(idx.begin(), idx.end(), 0);
    rng.shuffle(idx.begin(), idx.end());
    t.read(buf.idx, 0, u(n_train));
    t.write(buf.idx, 0, u(n_train));
    t.op_end();

    for (std::int64_t start = 0; start < n_train; start += B) {
      const std::int64_t bs = std::min(B, n_train - start);
      const double batch_size = static_cast<double>(bs);

      // Gather the batch.
      for (std::int64_t r = 0; r < bs; ++r) {
        const std::int64_t i = idx[static_cast<std::size_t>(start + r)];
        xb.row(r) = X.row(i);
        yb[r] = Y[i];
      }
      if constexpr (Tracer::kEnabled) {
        t.read(buf.idx, u(start), u(bs));
        for (std::int64_t r = 0; r < bs; ++r) {
          const std::int64_t i = idx[static_cast<std::size_t>(start + r)];
          t.read(buf.X, u(i * n), u(n));
          t.read(buf.Y, u(i), 1);
        }
        t.write(buf.xb, 0, u(bs * n));
        t.write(buf.yb, 0, u(bs));
        t.op_end();
      }

      // Forward.
      auto o = out.head(bs);
      forward(t, buf, W1, b1, W2, b2, xb.topRows(bs), buf.xb, h_pre.topRows(bs), buf.h_pre,
              hid.topRows(bs), buf.h, o, buf.out);
      if (!o.allFinite())
        return finish(SolveStatus::kDiverged, epoch,
                      "non-finite output f in epoch " + std::to_string(epoch));

      // Margin violators (y f < 1), df = -y.
      std::int64_t ms = 0;
      for (std::int64_t r = 0; r < bs; ++r) {
        if (yb[r] * o[r] < 1.0) {
          viol[static_cast<std::size_t>(ms)] = static_cast<std::int32_t>(r);
          dout[ms] = -yb[r];
          ++ms;
        }
      }
      t.read(buf.out, 0, u(bs));
      t.read(buf.yb, 0, u(bs));
      if (ms > 0) {
        t.write(buf.viol, 0, u(ms));
        t.write(buf.dout, 0, u(ms));
      }
      t.op_end();
      if (ms == 0) continue;  // no violator: no step, no decay

      // dW2 = sum_m dout_m h_m; db2 = sum_m dout_m.
      dW2.setZero();
      double db2 = 0;
      for (std::int64_t m = 0; m < ms; ++m) {
        dW2 += dout[m] * hid.row(viol[static_cast<std::size_t>(m)]).transpose();
        db2 += dout[m];
      }
      if constexpr (Tracer::kEnabled) {
        t.read(buf.viol, 0, u(ms));
        t.read(buf.dout, 0, u(ms));
        for (std::int64_t m = 0; m < ms; ++m)
          t.read(buf.h, u(viol[static_cast<std::size_t>(m)] * h), u(h));
        t.write(buf.dW2, 0, u(h));
        t.op_end();
        t.read(buf.dout, 0, u(ms));
        t.write(buf.db2, 0, 1);
        t.op_end();
      }

      // dh_pre = (dout W2^T) * [h_pre > 0], the violator rows of xb gathered into xm.
      for (std::int64_t m = 0; m < ms; ++m) {
        const std::int64_t r = viol[static_cast<std::size_t>(m)];
        dh_pre.row(m) =
            (dout[m] * W2.transpose().array()) * (h_pre.row(r).array() > 0.0).cast<double>();
        xm.row(m) = xb.row(r);
      }
      if constexpr (Tracer::kEnabled) {
        t.read(buf.viol, 0, u(ms));
        t.read(buf.dout, 0, u(ms));
        t.read(buf.W2, 0, u(h));
        for (std::int64_t m = 0; m < ms; ++m)
          t.read(buf.h_pre, u(viol[static_cast<std::size_t>(m)] * h), u(h));
        t.write(buf.dh_pre, 0, u(ms * h));
        t.op_end();
        t.read(buf.viol, 0, u(ms));
        for (std::int64_t m = 0; m < ms; ++m)
          t.read(buf.xb, u(viol[static_cast<std::size_t>(m)] * n), u(n));
        t.write(buf.xm, 0, u(ms * n));
        t.op_end();
      }

      // dW1 = dh_pre^T xm; db1 = column sums of dh_pre.
      dW1.noalias() = dh_pre.topRows(ms).transpose() * xm.topRows(ms);
      t.read(buf.dh_pre, 0, u(ms * h));
      t.read(buf.xm, 0, u(ms * n));
      t.write(buf.dW1, 0, u(h * n));
      t.op_end();
      db1 = dh_pre.topRows(ms).colwise().sum().transpose();
      t.read(buf.dh_pre, 0, u(ms * h));
      t.write(buf.db1, 0, u(h));
      t.op_end();

      // Updates in fast.py's order: W2, b2, W1, b1.
      update(t, W2, dW2, lr, wd, batch_size, buf.W2, buf.dW2, u(h));
      b2 = b2 - lr * (db2 / batch_size + wd * b2);
      t.read(buf.b2, 0, 1);
      t.read(buf.db2, 0, 1);
      t.write(buf.b2, 0, 1);
      t.op_end();
      update(t, W1, dW1, lr, wd, batch_size, buf.W1, buf.dW1, u(h * n));
      update(t, b1, db1, lr, wd, batch_size, buf.b1, buf.db1, u(h));
    }

    // Parameters finite?
    const bool finite = W1.allFinite() && b1.allFinite() && W2.allFinite() && std::isfinite(b2);
    t.read(buf.W1, 0, u(h * n));
    t.read(buf.b1, 0, u(h));
    t.read(buf.W2, 0, u(h));
    t.read(buf.b2, 0, 1);
    t.op_end();
    if (!finite)
      return finish(SolveStatus::kDiverged, epoch,
                    "non-finite parameters after epoch " + std::to_string(epoch));

    // Test evaluation: f = W2 relu(W1 x + b1) + b2, prediction sign(f) (0 is wrong).
    forward(t, buf, W1, b1, W2, b2, X_test, buf.X_test, h_pre_test, buf.h_pre_test, h_pre_test,
            buf.h_pre_test, out_test, buf.out_test);
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n_test; ++i) {
      const double f = out_test[i];
      const std::int8_t p = f > 0 ? 1 : f < 0 ? -1 : 0;  // NaN gives 0: wrong
      result.test_predictions[static_cast<std::size_t>(i)] = p;
      correct += p != 0 && p == data.y_test[static_cast<std::size_t>(i)];
    }
    t.read(buf.out_test, 0, u(n_test));
    t.read(buf.y_test, 0, u(n_test));
    t.write(buf.predictions, 0, u(n_test));
    t.op_end();
    if (!out_test.allFinite())
      return finish(SolveStatus::kDiverged, epoch,
                    "non-finite test output after epoch " + std::to_string(epoch));
    if (correct == n_test) return finish(SolveStatus::kSolved, epoch);
  }
  return finish(SolveStatus::kMaxIterations, config.max_epochs,
                "test accuracy below 100 % after " + std::to_string(config.max_epochs) + " epochs");
}

}  // namespace

SolveResult SgdSolver::train(const BinaryDataset& data, const RunContext& ctx,
                             RecordingTracer* tracer, SgdParameters* final_params) const {
  if (tracer) return run(config_, data, ctx, *tracer, final_params);
  NullTracer off;
  return run(config_, data, ctx, off, final_params);
}

SolveResult SgdSolver::solve(const Problem& problem, const RunContext& ctx,
                             RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "sgd needs a binary dataset (check supports() first)");
  return train(*data, ctx, tracer, nullptr);
}

CUBE_REGISTER(Solver, SgdSolver, SgdConfig, "sgd",
              "2-layer ReLU MLP, hinge loss, mini-batch SGD with coupled L2 (group baseline)");

}  // namespace cube
