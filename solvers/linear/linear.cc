// cube/solvers/linear/linear.cc: ordinary least squares and linear-model SGD for first-order
// labels (sum, majority, threshold), each written once over the tracer type (see linear.h).

// One solve is one thread: Eigen's OpenMP products would tie the work to the thread count.
#define EIGEN_DONT_PARALLELIZE

#include "solvers/linear/linear.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/rng.h"

namespace cube {
namespace {

bool first_order_labels(const Problem& problem) {
  const BinaryDataset* data = problem.binary_dataset();
  return data != nullptr &&
         (data->label_kind == LabelKind::kSign || data->label_kind == LabelKind::kInteger);
}

// round(f) (half to even, clamped to int8) for integer labels, sign(f) otherwise.
std::int8_t readout(double f, LabelKind kind) {
  if (kind == LabelKind::kInteger) {
    if (!std::isfinite(f)) return 0;
    return static_cast<std::int8_t>(std::clamp(std::nearbyint(f), -127.0, 127.0));
  }
  return f > 0 ? 1 : (f < 0 ? -1 : 0);
}

double dot(const std::int8_t* x, const double* w, std::int64_t n) {
  double f = 0;
  for (std::int64_t i = 0; i < n; ++i) f += w[i] * x[i];
  return f;
}

std::string percent(double fraction) { return std::to_string(100.0 * fraction) + " %"; }

// The test predictions readout(w . x + bias), traced per row (w, the row, the prediction).
template <class Tracer>
void predict_test(const BinaryDataset& data, const double* w, double bias, Tracer& tracer,
                  BufferId w_id, std::uint64_t w_size, std::vector<std::int8_t>& predictions) {
  const std::int64_t n = data.n_bits;
  const std::int64_t n_test = data.n_test;
  const BufferId x_test_id = tracer.buffer("x_test", 1, static_cast<std::uint64_t>(n_test * n));
  const BufferId predictions_id =
      tracer.buffer("predictions", 1, static_cast<std::uint64_t>(n_test));
  predictions.assign(static_cast<std::size_t>(n_test), 0);
  for (std::int64_t t = 0; t < n_test; ++t) {
    predictions[static_cast<std::size_t>(t)] =
        readout(dot(data.test_row(t), w, n) + bias, data.label_kind);
    if constexpr (Tracer::kEnabled) {
      tracer.read(w_id, 0, w_size);
      tracer.read(x_test_id, static_cast<std::uint64_t>(t * n), static_cast<std::uint64_t>(n));
      tracer.write(predictions_id, static_cast<std::uint64_t>(t), 1);
      tracer.op_end();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// least_squares

template <class Tracer>
SolveResult least_squares(const BinaryDataset& data, const LeastSquaresConfig& config,
                          Tracer& tracer, std::vector<double>* weights_out) {
  const std::int64_t n = data.n_bits;
  const std::int64_t p = n + 1;  // the last column is the constant 1 (or 0 without intercept)
  const std::int64_t n_train = data.n_train;
  const std::uint64_t up = static_cast<std::uint64_t>(p);

  const BufferId x_train_id = tracer.buffer("x_train", 1, static_cast<std::uint64_t>(n_train * n));
  const BufferId y_train_id = tracer.buffer("y_train", 1, static_cast<std::uint64_t>(n_train));
  const BufferId gram_id = tracer.buffer("gram", 8, up * up);
  const BufferId rhs_id = tracer.buffer("rhs", 8, up);
  const BufferId w_id = tracer.buffer("w", 8, up);

  // Integer entries: G and A^T y are exact (every partial sum is an integer below 2^31).
  using IntMatrix = Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic>;
  IntMatrix a(n_train, p);
  Eigen::Matrix<std::int32_t, Eigen::Dynamic, 1> y(n_train);
  for (std::int64_t r = 0; r < n_train; ++r) {
    const std::int8_t* x = data.train_row(r);
    for (std::int64_t i = 0; i < n; ++i) a(r, i) = x[i];
    a(r, n) = config.intercept ? 1 : 0;
    y(r) = data.y_train[static_cast<std::size_t>(r)];
    if constexpr (Tracer::kEnabled) {
      tracer.read(x_train_id, static_cast<std::uint64_t>(r * n), static_cast<std::uint64_t>(n));
      tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
      tracer.read(gram_id, 0, up * up);
      tracer.read(rhs_id, 0, up);
      tracer.write(gram_id, 0, up * up);
      tracer.write(rhs_id, 0, up);
      tracer.op_end();
    }
  }
  const Eigen::MatrixXd gram = (a.transpose() * a).cast<double>();
  const Eigen::VectorXd rhs = (a.transpose() * y).cast<double>();
  const Eigen::VectorXd w = gram.ldlt().solve(rhs);
  tracer.read(gram_id, 0, up * up);
  tracer.read(rhs_id, 0, up);
  tracer.write(w_id, 0, up);
  tracer.op_end();

  const double bias = w(n);
  std::int64_t right = 0;
  for (std::int64_t r = 0; r < n_train; ++r) {
    const double f = dot(data.train_row(r), w.data(), n) + bias;
    right += readout(f, data.label_kind) == data.y_train[static_cast<std::size_t>(r)];
    if constexpr (Tracer::kEnabled) {
      tracer.read(w_id, 0, up);
      tracer.read(x_train_id, static_cast<std::uint64_t>(r * n), static_cast<std::uint64_t>(n));
      tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
      tracer.op_end();
    }
  }
  const double train_accuracy =
      n_train ? static_cast<double>(right) / static_cast<double>(n_train) : 0.0;

  std::vector<int> secret;
  if (data.label_kind == LabelKind::kInteger) {
    for (std::int64_t i = 0; i < n; ++i)
      if (std::abs(w(i)) > 0.5) secret.push_back(static_cast<int>(i));
  } else {
    std::vector<int> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const auto top = std::min<std::int64_t>(config.k, n);
    std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](int i, int j) {
      const double wi = std::abs(w(i)), wj = std::abs(w(j));
      return wi > wj || (wi == wj && i < j);
    });
    secret.assign(order.begin(), order.begin() + top);
    std::sort(secret.begin(), secret.end());
  }
  const BufferId secret_id = tracer.buffer("secret", 4, secret.size());
  tracer.read(w_id, 0, up);
  if (!secret.empty()) tracer.write(secret_id, 0, secret.size());
  tracer.op_end();

  SolveResult result;
  predict_test(data, w.data(), bias, tracer, w_id, up, result.test_predictions);

  result.measures["train_accuracy"] = train_accuracy;
  if (right == n_train) {
    result.status = SolveStatus::kSolved;
  } else {
    result.status = SolveStatus::kMaxIterations;
    result.message = "the least-squares fit classifies " + percent(train_accuracy) +
                     " of the training rows (a linear model sees first-order structure only)";
  }
  result.secret = std::move(secret);
  if (weights_out) weights_out->assign(w.data(), w.data() + p);
  return result;
}

// The trace buffers of linear_sgd.
struct LinearSgdBuffers {
  BufferId x_train, y_train, w, idx, err, grad;
};

// One mini-batch step on the rows idx[start, start + size): err_j = w . x_j - y_j,
// grad = sum_j err_j x_j, w <- w - lr (grad / size + wd w).
template <class Tracer>
void linear_sgd_step(const BinaryDataset& data, const LinearSgdConfig& config,
                     const std::vector<std::int32_t>& idx, std::int64_t start, std::int64_t size,
                     const LinearSgdBuffers& ids, std::vector<double>& w, std::vector<double>& err,
                     std::vector<double>& grad, Tracer& tracer) {
  const std::int64_t n = data.n_bits;
  const std::uint64_t un = static_cast<std::uint64_t>(n);
  for (std::int64_t j = 0; j < size; ++j) {
    const std::int64_t r = idx[static_cast<std::size_t>(start + j)];
    err[static_cast<std::size_t>(j)] =
        dot(data.train_row(r), w.data(), n) - data.y_train[static_cast<std::size_t>(r)];
    if constexpr (Tracer::kEnabled) {
      tracer.read(ids.idx, static_cast<std::uint64_t>(start + j), 1);
      tracer.read(ids.x_train, static_cast<std::uint64_t>(r * n), un);
      tracer.read(ids.y_train, static_cast<std::uint64_t>(r), 1);
      tracer.read(ids.w, 0, un);
      tracer.write(ids.err, static_cast<std::uint64_t>(j), 1);
      tracer.op_end();
    }
  }
  std::fill(grad.begin(), grad.end(), 0.0);
  for (std::int64_t j = 0; j < size; ++j) {
    const std::int8_t* x = data.train_row(idx[static_cast<std::size_t>(start + j)]);
    const double e = err[static_cast<std::size_t>(j)];
    for (std::int64_t i = 0; i < n; ++i) grad[static_cast<std::size_t>(i)] += e * x[i];
  }
  if constexpr (Tracer::kEnabled) {
    tracer.read(ids.err, 0, static_cast<std::uint64_t>(size));
    for (std::int64_t j = 0; j < size; ++j)
      tracer.read(ids.x_train,
                  static_cast<std::uint64_t>(idx[static_cast<std::size_t>(start + j)] * n), un);
    tracer.write(ids.grad, 0, un);
    tracer.op_end();
  }
  const double inv_b = 1.0 / static_cast<double>(size);
  for (std::int64_t i = 0; i < n; ++i) {
    auto& wi = w[static_cast<std::size_t>(i)];
    wi -= config.lr * (grad[static_cast<std::size_t>(i)] * inv_b + config.wd * wi);
  }
  tracer.read(ids.w, 0, un);
  tracer.read(ids.grad, 0, un);
  tracer.write(ids.w, 0, un);
  tracer.op_end();
}

// ---------------------------------------------------------------------------------------------
// linear_sgd

template <class Tracer>
SolveResult linear_sgd(const BinaryDataset& data, const LinearSgdConfig& config,
                       const RunContext& ctx, Tracer& tracer, std::vector<double>* weights_out) {
  const std::int64_t n = data.n_bits;
  const std::int64_t n_train = data.n_train;
  const std::int64_t batch = std::min(config.batch, std::max<std::int64_t>(n_train, 1));
  const std::uint64_t un = static_cast<std::uint64_t>(n);

  const LinearSgdBuffers ids{tracer.buffer("x_train", 1, static_cast<std::uint64_t>(n_train * n)),
                             tracer.buffer("y_train", 1, static_cast<std::uint64_t>(n_train)),
                             tracer.buffer("w", 8, un),
                             tracer.buffer("idx", 4, static_cast<std::uint64_t>(n_train)),
                             tracer.buffer("err", 8, static_cast<std::uint64_t>(batch)),
                             tracer.buffer("grad", 8, un)};
  const BufferId x_train_id = ids.x_train, y_train_id = ids.y_train, w_id = ids.w, idx_id = ids.idx;

  Rng rng(stream_seed(ctx.seed(), rng_role("linear_sgd.init")));
  std::vector<double> w(static_cast<std::size_t>(n));
  for (double& v : w) v = config.init_scale * rng.normal();
  tracer.write(w_id, 0, un);
  tracer.op_end();

  std::vector<std::int32_t> idx(static_cast<std::size_t>(n_train));
  std::iota(idx.begin(), idx.end(), 0);
  std::vector<double> err(static_cast<std::size_t>(batch));
  std::vector<double> grad(static_cast<std::size_t>(n));

  SolveResult result;
  result.status = SolveStatus::kMaxIterations;
  std::int64_t epoch = 0;
  double train_accuracy = 0;
  bool finite = true;
  while (epoch < config.max_epochs) {
    if (ctx.out_of_time()) {
      result.status = SolveStatus::kTimedOut;
      break;
    }
    ++epoch;
    rng.shuffle(idx.begin(), idx.end());
    tracer.read(idx_id, 0, static_cast<std::uint64_t>(n_train));
    tracer.write(idx_id, 0, static_cast<std::uint64_t>(n_train));
    tracer.op_end();

    for (std::int64_t start = 0; start < n_train; start += batch)
      linear_sgd_step(data, config, idx, start, std::min(batch, n_train - start), ids, w, err, grad,
                      tracer);

    std::int64_t right = 0;
    double loss = 0;
    for (std::int64_t r = 0; r < n_train; ++r) {
      const double f = dot(data.train_row(r), w.data(), n);
      const double e = f - data.y_train[static_cast<std::size_t>(r)];
      loss += e * e;
      right += readout(f, data.label_kind) == data.y_train[static_cast<std::size_t>(r)];
      if constexpr (Tracer::kEnabled) {
        tracer.read(w_id, 0, un);
        tracer.read(x_train_id, static_cast<std::uint64_t>(r * n), un);
        tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
        tracer.op_end();
      }
    }
    train_accuracy = n_train ? static_cast<double>(right) / static_cast<double>(n_train) : 0.0;
    result.curve.push_back(
        CurvePoint{"train_loss", epoch, n_train ? loss / static_cast<double>(n_train) : 0.0});
    finite = std::all_of(w.begin(), w.end(), [](double v) { return std::isfinite(v); });
    if (!finite) {
      result.status = SolveStatus::kDiverged;
      result.message = "non-finite weights after epoch " + std::to_string(epoch);
      break;
    }
    if (right == n_train) {
      result.status = SolveStatus::kSolved;
      break;
    }
  }
  if (result.status == SolveStatus::kMaxIterations)
    result.message = "training accuracy " + percent(train_accuracy) + " after " +
                     std::to_string(epoch) +
                     " epochs (a linear model sees first-order structure only)";
  if (result.status == SolveStatus::kTimedOut)
    result.message = "deadline passed after " + std::to_string(epoch) + " epochs";
  result.epochs = epoch;
  result.measures["train_accuracy"] = train_accuracy;

  if (epoch > 0 && finite) {
    predict_test(data, w.data(), 0.0, tracer, w_id, un, result.test_predictions);
  } else {
    tracer.buffer("x_test", 1, static_cast<std::uint64_t>(data.n_test * n));
    tracer.buffer("predictions", 1, static_cast<std::uint64_t>(data.n_test));
    result.test_predictions.assign(static_cast<std::size_t>(data.n_test), 0);
  }
  if (weights_out) *weights_out = w;
  return result;
}

}  // namespace

bool LeastSquaresSolver::supports(const Problem& problem) const {
  return first_order_labels(problem);
}

SolveResult LeastSquaresSolver::solve_dataset(const BinaryDataset& data,
                                              const LeastSquaresConfig& config,
                                              RecordingTracer* tracer,
                                              std::vector<double>* weights) {
  CUBE_CHECK(data.label_kind != LabelKind::kBit, "least_squares: kBit labels are not supported");
  if (tracer) return least_squares(data, config, *tracer, weights);
  NullTracer off;
  return least_squares(data, config, off, weights);
}

SolveResult LeastSquaresSolver::solve(const Problem& problem, const RunContext& /*ctx*/,
                                      RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "least_squares needs a binary dataset (check supports() first)");
  return solve_dataset(*data, config_, tracer);
}

bool LinearSgdSolver::supports(const Problem& problem) const { return first_order_labels(problem); }

SolveResult LinearSgdSolver::solve_dataset(const BinaryDataset& data, const LinearSgdConfig& config,
                                           const RunContext& ctx, RecordingTracer* tracer,
                                           std::vector<double>* weights) {
  CUBE_CHECK(data.label_kind != LabelKind::kBit, "linear_sgd: kBit labels are not supported");
  if (tracer) return linear_sgd(data, config, ctx, *tracer, weights);
  NullTracer off;
  return linear_sgd(data, config, ctx, off, weights);
}

SolveResult LinearSgdSolver::solve(const Problem& problem, const RunContext& ctx,
                                   RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "linear_sgd needs a binary dataset (check supports() first)");
  return solve_dataset(*data, config_, ctx, tracer);
}

CUBE_REGISTER(Solver, LeastSquaresSolver, LeastSquaresConfig, "least_squares",
              "ordinary least squares (normal equations, LDL^T) for first-order labels");
CUBE_REGISTER(Solver, LinearSgdSolver, LinearSgdConfig, "linear_sgd",
              "linear model w.x trained by mini-batch SGD on the squared error");

}  // namespace cube
