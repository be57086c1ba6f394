// cube/solvers/sgd/mlp_train.cc: the MLP training engine of the sgd family (see mlp_train.h for
// the math and the trace): one traced training loop over the net and kernels of models/mlp.

#include "solvers/sgd/mlp_train.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/index_cast.h"
#include "core/rng.h"
#include "models/mlp/mlp_net.h"

namespace cube {
namespace {

using namespace index_cast;  // NOLINT(build/namespaces): I64, U64, u(), z()

// The trace buffers of a run (mlp_train.h lists them).
struct Buffers {
  BufferId x_train, y_train, x_test, y_test, X, Y, X_test;
  BufferId W1, b1, W2, b2, idx;
  BufferId h_pre, out, viol, dout, dW2, db2, dW1, db1;
  BufferId eW1 = 0, eb1 = 0, eW2 = 0, eb2 = 0;
  BufferId h_pre_test, out_test, predictions, W1_table;

  template <class Tracer>
  Buffers(Tracer& t, std::uint32_t rb, I64 n, I64 h, I64 B, I64 n_train, I64 n_test,
          bool grokfast) {
    x_train = t.buffer("x_train", 1, u(n_train * n));
    y_train = t.buffer("y_train", 1, u(n_train));
    x_test = t.buffer("x_test", 1, u(n_test * n));
    y_test = t.buffer("y_test", 1, u(n_test));
    X = t.buffer("X", rb, u(n_train * n));
    Y = t.buffer("Y", rb, u(n_train));
    X_test = t.buffer("X_test", rb, u(n_test * n));
    W1 = t.buffer("W1", rb, u(h * n));
    b1 = t.buffer("b1", rb, u(h));
    W2 = t.buffer("W2", rb, u(h));
    b2 = t.buffer("b2", rb, 1);
    idx = t.buffer("idx", 4, u(n_train));
    h_pre = t.buffer("h_pre", rb, u(B * h));
    out = t.buffer("out", rb, u(B));
    viol = t.buffer("viol", 4, u(B));
    dout = t.buffer("dout", rb, u(B));
    dW2 = t.buffer("dW2", rb, u(h));
    db2 = t.buffer("db2", rb, 1);
    dW1 = t.buffer("dW1", rb, u(h * n));
    db1 = t.buffer("db1", rb, u(h));
    if (grokfast) {
      eW1 = t.buffer("eW1", rb, u(h * n));
      eb1 = t.buffer("eb1", rb, u(h));
      eW2 = t.buffer("eW2", rb, u(h));
      eb2 = t.buffer("eb2", rb, 1);
    }
    h_pre_test = t.buffer("h_pre_test", rb, u(n_test * h));
    out_test = t.buffer("out_test", rb, u(n_test));
    predictions = t.buffer("predictions", 1, u(n_test));
    W1_table = t.buffer("W1_table", rb, u((n + 3) / 4 * 16 * h));
  }
};

// One training run: the data in Real, the net, its work space (sized once: no allocation inside
// the epoch loop) and the trace of every step. The kernels never see the tracer, so a traced and
// an untraced run execute the same arithmetic.
template <class Real, class Tracer>
class MlpTraining {
 public:
  MlpTraining(const MlpOptions& o, const BinaryDataset& data, const RunContext& ctx, Tracer& t);
  SolveResult run(SgdParameters* final_params);

 private:
  void load_inputs();
  void init_parameters();
  // One pass over the shuffled training set; false (and the result finished) on a non-finite f.
  bool train_epoch(I64 epoch);
  bool forward_batch(const std::int32_t* rows, I64 bs);
  I64 select_contributors(const std::int32_t* rows, I64 bs);
  Real gradient_sums(const std::int32_t* rows, I64 ms);
  void step(Real batch_size, Real gb2);
  template <class Rule>
  void step_layer1(const Rule& rule);
  template <class Rule>
  void step_layer2(const Rule& rule, Real gb2);
  bool parameters_finite();
  // Test accuracy of the current net (predictions into the result); *finite: every f finite.
  double evaluate(bool* finite, I64* correct);
  void widen(I64 epoch);
  void trace_table(I64 rows_count);
  void trace_weights(I64 rows_count);
  void trace_forward(BufferId x, const std::int32_t* rows, I64 count, BufferId h_pre, BufferId out);
  SolveResult finish(SolveStatus status, I64 epochs, std::string message,
                     SgdParameters* final_params);

  const MlpOptions& o_;
  const BinaryDataset& data_;
  const RunContext& ctx_;
  Tracer& t_;
  const I64 n_, h_, n_train_, n_test_, B_;
  const bool bit_, grokfast_;
  const Real lr_, wd_, bwd_, alpha_, lambda_;
  const Buffers buf_;
  mlp::MlpKernels<Real> kern_;
  Rng rng_;
  mlp::MlpNet<Real> net_;
  SolveResult result_;
  std::vector<Real> X_, X_test_, Y_;
  std::vector<std::uint8_t> pat_, pat_test_;
  std::vector<std::int32_t> idx_, viol_;
  std::vector<Real> a_, out_, dout_, mask_, gw1_, gb1_, gw2_, ew1_, eb1_, ew2_;
  Real eb2_ = 0;
  std::vector<const Real*> xs_, as_;
  std::vector<Real> a_test_, out_test_;
};

template <class Real, class Tracer>
MlpTraining<Real, Tracer>::MlpTraining(const MlpOptions& o, const BinaryDataset& data,
                                       const RunContext& ctx, Tracer& t)
    : o_(o),
      data_(data),
      ctx_(ctx),
      t_(t),
      n_(data.n_bits),
      h_(o.hidden),
      n_train_(data.n_train),
      n_test_(data.n_test),
      B_(std::min(o.batch, std::max<I64>(n_train_, 1))),
      bit_(data.label_kind == LabelKind::kBit),
      grokfast_(o.rule == MlpRule::kGrokfast),
      lr_(static_cast<Real>(o.lr)),
      wd_(static_cast<Real>(o.wd)),
      bwd_(o.decay_biases ? wd_ : Real(0)),
      alpha_(static_cast<Real>(o.alpha)),
      lambda_(static_cast<Real>(o.lambda)),
      buf_(t, sizeof(Real), n_, h_, B_, n_train_, n_test_, grokfast_),
      kern_(n_, h_),
      rng_(stream_seed(ctx.seed(), rng_role("sgd.init"))),
      idx_(z(n_train_)),
      viol_(z(B_)),
      a_(z(B_ * h_)),
      out_(z(B_)),
      dout_(z(B_)),
      mask_(z(B_ * h_)),
      gw1_(z(n_ * h_)),
      gb1_(z(h_)),
      gw2_(z(h_)),
      xs_(z(B_)),
      as_(z(B_)),
      a_test_(z(n_test_ * h_)),
      out_test_(z(n_test_)) {
  if (grokfast_) {
    ew1_.assign(z(n_ * h_), Real(0));
    eb1_.assign(z(h_), Real(0));
    ew2_.assign(z(h_), Real(0));
  }
  pat_ = mlp::sign_patterns(data.x_train, n_train_, n_);
  pat_test_ = mlp::sign_patterns(data.x_test, n_test_, n_);
  result_.test_predictions.assign(z(n_test_), 0);
}

// Inputs and +-1 targets in Real, once per solve.
template <class Real, class Tracer>
void MlpTraining<Real, Tracer>::load_inputs() {
  X_.resize(z(n_train_ * n_));
  X_test_.resize(z(n_test_ * n_));
  Y_.resize(z(n_train_));
  for (I64 i = 0; i < n_train_ * n_; ++i) X_[z(i)] = data_.x_train[z(i)];
  for (I64 i = 0; i < n_test_ * n_; ++i) X_test_[z(i)] = data_.x_test[z(i)];
  for (I64 i = 0; i < n_train_; ++i) {
    const int y = data_.y_train[z(i)];
    Y_[z(i)] = static_cast<Real>(bit_ ? 2 * y - 1 : y);
  }
  t_.read(buf_.x_train, 0, u(n_train_ * n_));
  t_.write(buf_.X, 0, u(n_train_ * n_));
  t_.op_end();
  t_.read(buf_.y_train, 0, u(n_train_));
  t_.write(buf_.Y, 0, u(n_train_));
  t_.op_end();
  t_.read(buf_.x_test, 0, u(n_test_ * n_));
  t_.write(buf_.X_test, 0, u(n_test_ * n_));
  t_.op_end();
}

template <class Real, class Tracer>
void MlpTraining<Real, Tracer>::init_parameters() {
  const bool curriculum = o_.n_start > 0 && o_.n_start < n_;
  net_ = mlp::MlpNet<Real>::he_init(n_, curriculum ? o_.n_start : n_, h_, rng_);
  t_.write(buf_.W1, 0, u(net_.na * h_));
  t_.op_end();
  for (BufferId p : {buf_.b1, buf_.W2}) {
    t_.write(p, 0, u(h_));
    t_.op_end();
  }
  t_.write(buf_.b2, 0, 1);
  t_.op_end();
}

// The forward kernels read W1 directly for fewer than 8 rows, else through the table of group
// sums built from W1 first (models/mlp/mlp_net.h).
template <class Real, class Tracer>
void MlpTraining<Real, Tracer>::trace_table(I64 rows_count) {
  if (!mlp::MlpKernels<Real>::uses_table(rows_count)) return;
  t_.read(buf_.W1, 0, u(net_.na * h_));
  t_.write(buf_.W1_table, 0, u((net_.na + 3) / 4 * 16 * h_));
  t_.op_end();
}

template <class Real, class Tracer>
void MlpTraining<Real, Tracer>::trace_weights(I64 rows_count) {
  if (!mlp::MlpKernels<Real>::uses_table(rows_count))
    t_.read(buf_.W1, 0, u(net_.na * h_));
  else
    t_.read(buf_.W1_table, 0, u((net_.na + 3) / 4 * 16 * h_));
}

// The trace of kern_.forward on `count` rows of `x` (rows[r], their indices read from "idx", or
// row r when rows is null): the table when used, then the pre-activations, then the outputs.
template <class Real, class Tracer>
void MlpTraining<Real, Tracer>::trace_forward(BufferId x, const std::int32_t* rows, I64 count,
                                              BufferId h_pre, BufferId out) {
  trace_table(count);
  if (rows) t_.read(buf_.idx, u(rows - idx_.data()), u(count));
  for (I64 r = 0; r < count; ++r) t_.read(x, u((rows ? rows[r] : r) * n_), u(net_.na));
  trace_weights(count);
  t_.read(buf_.b1, 0, u(h_));
  t_.write(h_pre, 0, u(count * h_));
  t_.op_end();
  t_.read(h_pre, 0, u(count * h_));
  t_.read(buf_.W2, 0, u(h_));
  t_.read(buf_.b2, 0, 1);
  t_.write(out, 0, u(count));
  t_.op_end();
}

// h_pre and out for every row of the batch; false when some f is not finite.
template <class Real, class Tracer>
bool MlpTraining<Real, Tracer>::forward_batch(const std::int32_t* rows, I64 bs) {
  kern_.forward(net_, X_.data(), pat_.data(), rows, bs, a_.data(), out_.data());
  if constexpr (Tracer::kEnabled) {
    trace_forward(buf_.X, rows, bs, buf_.h_pre, buf_.out);
  }
  bool finite = true;
  for (I64 r = 0; r < bs; ++r) finite = finite && std::isfinite(out_[z(r)]);
  return finite;
}

// The contributors of the batch (viol) and their dLoss/df (dout); returns their count.
template <class Real, class Tracer>
I64 MlpTraining<Real, Tracer>::select_contributors(const std::int32_t* rows, I64 bs) {
  I64 ms = 0;
  for (I64 r = 0; r < bs; ++r) {
    const Real y = Y_[z(rows[r])];
    if (o_.loss == MlpLoss::kHinge) {
      if (y * out_[z(r)] < Real(1)) {
        viol_[z(ms)] = static_cast<std::int32_t>(r);
        dout_[z(ms)] = -y;
        ++ms;
      }
    } else {
      const Real p = Real(1) / (Real(1) + std::exp(-out_[z(r)]));
      viol_[z(ms)] = static_cast<std::int32_t>(r);
      dout_[z(ms)] = p - (y > 0 ? Real(1) : Real(0));
      ++ms;
    }
  }
  if constexpr (Tracer::kEnabled) {
    t_.read(buf_.out, 0, u(bs));
    for (I64 r = 0; r < bs; ++r) t_.read(buf_.Y, u(rows[r]), 1);
    if (ms > 0) {
      t_.write(buf_.viol, 0, u(ms));
      t_.write(buf_.dout, 0, u(ms));
    }
    t_.op_end();
  }
  return ms;
}

// The unscaled gradient sums over the ms contributors; returns gb2.
template <class Real, class Tracer>
Real MlpTraining<Real, Tracer>::gradient_sums(const std::int32_t* rows, I64 ms) {
  Real gb2 = 0;
  for (I64 v = 0; v < ms; ++v) {
    const I64 r = viol_[z(v)];
    gb2 += dout_[z(v)];
    xs_[z(v)] = X_.data() + rows[r] * n_;
    as_[z(v)] = a_.data() + r * h_;
  }
  kern_.gradient_sums(ms, dout_.data(), xs_.data(), as_.data(), net_.na, mask_.data(), gw2_.data(),
                      gb1_.data(), gw1_.data());
  if constexpr (Tracer::kEnabled) {
    t_.read(buf_.viol, 0, u(ms));
    t_.read(buf_.dout, 0, u(ms));
    for (I64 v = 0; v < ms; ++v) t_.read(buf_.h_pre, u(viol_[z(v)] * h_), u(h_));
    t_.write(buf_.dW2, 0, u(h_));
    t_.write(buf_.db2, 0, 1);
    t_.op_end();
    t_.read(buf_.viol, 0, u(ms));
    t_.read(buf_.dout, 0, u(ms));
    for (I64 v = 0; v < ms; ++v) {
      t_.read(buf_.h_pre, u(viol_[z(v)] * h_), u(h_));
      t_.read(buf_.X, u(rows[viol_[z(v)]] * n_), u(net_.na));
    }
    t_.write(buf_.dW1, 0, u(net_.na * h_));
    t_.write(buf_.db1, 0, u(h_));
    t_.op_end();
  }
  return gb2;
}

template <class Tracer>
void trace_update(Tracer& t, BufferId p, BufferId g, BufferId e, U64 size, BufferId extra = 0,
                  U64 extra_size = 0) {
  t.read(p, 0, size);
  t.read(g, 0, size);
  if (extra_size) t.read(extra, 0, extra_size);
  if (e) {
    t.read(e, 0, size);
    t.write(e, 0, size);
  }
  t.write(p, 0, size);
  t.op_end();
}

// Layer 1: the true gradient of W1 and b1 is W2 (.) the sums / B (W2 old, or new for per-layer).
template <class Real, class Tracer>
template <class Rule>
void MlpTraining<Real, Tracer>::step_layer1(const Rule& rule) {
  const Real* w2 = net_.w2.data();
  for (I64 c = 0; c < net_.na; ++c)
    mlp::update(rule, net_.w1t.data() + c * h_, gw1_.data() + c * h_, w2, wd_,
                grokfast_ ? ew1_.data() + c * h_ : nullptr, h_);
  mlp::update(rule, net_.b1.data(), gb1_.data(), w2, bwd_, grokfast_ ? eb1_.data() : nullptr, h_);
  const BufferId e1 = grokfast_ ? buf_.eW1 : 0, eb1 = grokfast_ ? buf_.eb1 : 0;
  trace_update(t_, buf_.W1, buf_.dW1, e1, u(net_.na * h_), buf_.W2, u(h_));
  trace_update(t_, buf_.b1, buf_.db1, eb1, u(h_), buf_.W2, u(h_));
}

template <class Real, class Tracer>
template <class Rule>
void MlpTraining<Real, Tracer>::step_layer2(const Rule& rule, Real gb2) {
  mlp::update(rule, net_.w2.data(), gw2_.data(), static_cast<const Real*>(nullptr), wd_,
              grokfast_ ? ew2_.data() : nullptr, h_);
  mlp::update(rule, &net_.b2, &gb2, static_cast<const Real*>(nullptr), bwd_, &eb2_, 1);
  trace_update(t_, buf_.W2, buf_.dW2, grokfast_ ? buf_.eW2 : 0, u(h_));
  trace_update(t_, buf_.b2, buf_.db2, grokfast_ ? buf_.eb2 : 0, 1);
}

// The update of all parameters by the rule of the options (one dispatch per batch).
template <class Real, class Tracer>
void MlpTraining<Real, Tracer>::step(Real batch_size, Real gb2) {
  auto layers = [&](const auto& rule) {
    if (o_.rule == MlpRule::kPerLayer) {
      step_layer2(rule, gb2);
      step_layer1(rule);
    } else {
      // Layer 1 first: its gradient needs the old W2 (all gradients at the old parameters).
      step_layer1(rule);
      step_layer2(rule, gb2);
    }
  };
  switch (o_.rule) {
    case MlpRule::kSgd:
    case MlpRule::kPerLayer:
      return layers(mlp::SgdStep<Real>{lr_, batch_size});
    case MlpRule::kSign:
      return layers(mlp::SignStep<Real>{lr_});
    case MlpRule::kGrokfast:
      return layers(mlp::GrokfastStep<Real>{lr_, batch_size, alpha_, lambda_});
  }
}

template <class Real, class Tracer>
bool MlpTraining<Real, Tracer>::train_epoch(I64 epoch) {
  std::iota(idx_.begin(), idx_.end(), 0);
  rng_.shuffle(idx_.begin(), idx_.end());
  t_.read(buf_.idx, 0, u(n_train_));
  t_.write(buf_.idx, 0, u(n_train_));
  t_.op_end();
  for (I64 start = 0; start < n_train_; start += B_) {
    const I64 bs = std::min(B_, n_train_ - start);
    const std::int32_t* rows = idx_.data() + start;
    if (!forward_batch(rows, bs)) {
      result_.status = SolveStatus::kDiverged;
      result_.message = "non-finite output f in epoch " + std::to_string(epoch);
      return false;
    }
    const I64 ms = select_contributors(rows, bs);
    if (ms == 0) continue;  // no contributor: no step, no decay
    const Real gb2 = gradient_sums(rows, ms);
    step(static_cast<Real>(bs), gb2);
  }
  return true;
}

template <class Real, class Tracer>
bool MlpTraining<Real, Tracer>::parameters_finite() {
  const bool finite = net_.finite();
  t_.read(buf_.W1, 0, u(net_.na * h_));
  t_.read(buf_.b1, 0, u(h_));
  t_.read(buf_.W2, 0, u(h_));
  t_.read(buf_.b2, 0, 1);
  t_.op_end();
  return finite;
}

// Test evaluation on the active inputs.
template <class Real, class Tracer>
double MlpTraining<Real, Tracer>::evaluate(bool* finite, I64* correct) {
  kern_.forward(net_, X_test_.data(), pat_test_.data(), nullptr, n_test_, a_test_.data(),
                out_test_.data());
  *correct = 0;
  *finite = true;
  for (I64 i = 0; i < n_test_; ++i) {
    const Real f = out_test_[z(i)];
    *finite = *finite && std::isfinite(f);
    std::int8_t p;
    if (bit_)
      p = f > 0 ? 1 : 0;
    else
      p = f > 0 ? 1 : f < 0 ? -1 : 0;  // NaN gives 0: wrong
    result_.test_predictions[z(i)] = p;
    *correct += (bit_ || p != 0) && p == data_.y_test[z(i)];
  }
  if constexpr (Tracer::kEnabled) {
    trace_forward(buf_.X_test, nullptr, n_test_, buf_.h_pre_test, buf_.out_test);
    t_.read(buf_.out_test, 0, u(n_test_));
    t_.read(buf_.y_test, 0, u(n_test_));
    t_.write(buf_.predictions, 0, u(n_test_));
    t_.op_end();
  }
  return n_test_ > 0 ? static_cast<double>(*correct) / static_cast<double>(n_test_) : 1.0;
}

// The next n-curriculum phase: new columns ~ N(0, (widen_scale sqrt(2/n_new))^2).
template <class Real, class Tracer>
void MlpTraining<Real, Tracer>::widen(I64 epoch) {
  const I64 old = net_.na;
  const I64 next = std::min(n_, old + o_.n_step);
  net_.widen(next, o_.widen_scale * std::sqrt(2.0 / static_cast<double>(next)), rng_);
  result_.measures["curriculum_widen_to_" + std::to_string(next) + "_epoch"] =
      static_cast<double>(epoch);
  t_.read(buf_.W1, 0, u(old * h_));
  t_.write(buf_.W1, u(old * h_), u((next - old) * h_));
  t_.op_end();
}

template <class Real, class Tracer>
SolveResult MlpTraining<Real, Tracer>::finish(SolveStatus status, I64 epochs, std::string message,
                                              SgdParameters* final_params) {
  result_.status = status;
  result_.epochs = epochs;
  result_.message = std::move(message);
  if (final_params) {
    final_params->hidden = h_;
    final_params->n = n_;
    final_params->w1.assign(z(h_ * n_), 0.0);
    for (I64 j = 0; j < h_; ++j)
      for (I64 c = 0; c < n_; ++c) final_params->w1[z(j * n_ + c)] = net_.w1t[z(c * h_ + j)];
    final_params->b1.assign(net_.b1.begin(), net_.b1.end());
    final_params->w2.assign(net_.w2.begin(), net_.w2.end());
    final_params->b2 = net_.b2;
  }
  return std::move(result_);
}

template <class Real, class Tracer>
SolveResult MlpTraining<Real, Tracer>::run(SgdParameters* final_params) {
  load_inputs();
  init_parameters();
  I64 phase_epoch = 0;
  for (I64 epoch = 1; epoch <= o_.max_epochs; ++epoch) {
    if (ctx_.out_of_time())
      return finish(SolveStatus::kTimedOut, epoch - 1,
                    "deadline passed before epoch " + std::to_string(epoch), final_params);
    ++phase_epoch;
    if (!train_epoch(epoch))
      return finish(result_.status, epoch, std::move(result_.message), final_params);
    if (!parameters_finite())
      return finish(SolveStatus::kDiverged, epoch,
                    "non-finite parameters after epoch " + std::to_string(epoch), final_params);
    bool test_finite = true;
    I64 correct = 0;
    const double accuracy = evaluate(&test_finite, &correct);
    result_.curve.push_back(CurvePoint{"test_accuracy", epoch, accuracy});
    if (!test_finite)
      return finish(SolveStatus::kDiverged, epoch,
                    "non-finite test output after epoch " + std::to_string(epoch), final_params);
    if (net_.na == n_) {
      if (correct == n_test_) return finish(SolveStatus::kSolved, epoch, {}, final_params);
    } else if (accuracy >= o_.phase_target || phase_epoch >= o_.phase_epochs) {
      widen(epoch);
      phase_epoch = 0;
    }
  }
  return finish(SolveStatus::kMaxIterations, o_.max_epochs,
                "test accuracy below 100 % after " + std::to_string(o_.max_epochs) + " epochs",
                final_params);
}

template <class Real>
SolveResult dispatch(const MlpOptions& o, const BinaryDataset& data, const RunContext& ctx,
                     RecordingTracer* tracer, SgdParameters* final_params) {
  if (tracer) return MlpTraining<Real, RecordingTracer>(o, data, ctx, *tracer).run(final_params);
  NullTracer off;
  return MlpTraining<Real, NullTracer>(o, data, ctx, off).run(final_params);
}

}  // namespace

bool mlp_supports(const Problem& problem) {
  const BinaryDataset* d = problem.binary_dataset();
  return d != nullptr && (d->label_kind == LabelKind::kSign || d->label_kind == LabelKind::kBit);
}

MlpOptions MlpBaseConfig::base_options() const {
  MlpOptions o;
  o.hidden = hidden;
  o.lr = lr;
  o.wd = wd;
  o.batch = batch;
  o.max_epochs = max_epochs;
  o.float32 = mlp_float32(precision);
  return o;
}

bool mlp_float32(const std::string& precision) { return precision == "float32"; }

MlpLoss mlp_loss(const std::string& loss) {
  return loss == "bce" ? MlpLoss::kBce : MlpLoss::kHinge;
}

SolveResult train_mlp(const MlpOptions& options, const BinaryDataset& data, const RunContext& ctx,
                      RecordingTracer* tracer, SgdParameters* final_params) {
  if (data.label_kind == LabelKind::kInteger)
    throw ConfigError("the MLP solvers need kSign or kBit labels, not kInteger");
  if (options.float32) return dispatch<float>(options, data, ctx, tracer, final_params);
  return dispatch<double>(options, data, ctx, tracer, final_params);
}

}  // namespace cube
