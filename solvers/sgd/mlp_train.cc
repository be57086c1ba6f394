// cube/solvers/sgd/mlp_train.cc: the MLP training engine of the sgd family (see mlp_train.h for
// the math and the trace): plain kernels over float or double, and one traced driver over them.

#include "solvers/sgd/mlp_train.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/rng.h"

namespace cube {
namespace {

using I64 = std::int64_t;
using U64 = std::uint64_t;
inline U64 u(I64 v) { return static_cast<U64>(v); }
inline std::size_t z(I64 v) { return static_cast<std::size_t>(v); }

// ---------------------------------------------------------------------------------------------
// Kernels. They never see the tracer: a traced and an untraced run execute the same code.

// The kernels, compiled twice: for the baseline x86-64 (SSE2, 16-byte vectors) and for AVX2
// (32-byte vectors), chosen at run time. Both give the same bits (see mlp_kernels.inc).
}  // namespace
}  // namespace cube

#define CUBE_MLP_NS mlp_base
#define CUBE_MLP_VEC_BYTES 16
#include "solvers/sgd/mlp_kernels.inc"
#undef CUBE_MLP_NS
#undef CUBE_MLP_VEC_BYTES

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CUBE_MLP_HAVE_AVX2 1
#pragma GCC push_options
#pragma GCC target("avx2")
#define CUBE_MLP_NS mlp_avx2
#define CUBE_MLP_VEC_BYTES 32
#include "solvers/sgd/mlp_kernels.inc"
#undef CUBE_MLP_NS
#undef CUBE_MLP_VEC_BYTES
#pragma GCC pop_options
#endif

namespace cube {
namespace {

template <class Real>
struct Kernels {
  void (*forward_rows)(const Real*, const std::uint8_t*, I64, const std::int32_t*, I64, I64, I64,
                       I64, const Real*, const Real*, const Real*, const Real*, Real, Real*, Real*,
                       Real*, Real*);
  void (*grad_sums)(I64, const Real*, const Real* const*, const Real* const*, I64, I64, Real*,
                    Real*, Real*, Real*);
};

template <class Real>
Kernels<Real> pick_kernels() {
#ifdef CUBE_MLP_HAVE_AVX2
  if (__builtin_cpu_supports("avx2")) return {&mlp_avx2::forward_rows, &mlp_avx2::grad_sums};
#endif
  return {&mlp_base::forward_rows, &mlp_base::grad_sums};
}

template <class Real>
Real sign_of(Real v) {
  return v > 0 ? Real(1) : v < 0 ? Real(-1) : Real(0);
}

// The parameters of the network; W1 stored transposed (n x h), rows c < na in use.
template <class Real>
struct Net {
  I64 n = 0, na = 0, h = 0;
  std::vector<Real> w1t, b1, w2;
  Real b2 = 0;
};

// ---------------------------------------------------------------------------------------------
// The traced driver.

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

template <class Real, class Tracer>
SolveResult run(const MlpOptions& o, const BinaryDataset& data, const RunContext& ctx, Tracer& t,
                SgdParameters* final_params) {
  const I64 n = data.n_bits;
  const I64 h = o.hidden;
  const I64 n_train = data.n_train;
  const I64 n_test = data.n_test;
  const I64 B = std::min(o.batch, std::max<I64>(n_train, 1));
  const bool bit = data.label_kind == LabelKind::kBit;
  const bool grokfast = o.rule == MlpRule::kGrokfast;
  const Real lr = static_cast<Real>(o.lr);
  const Real wd = static_cast<Real>(o.wd);
  const Real bwd = o.decay_biases ? wd : Real(0);
  const Buffers buf(t, sizeof(Real), n, h, B, n_train, n_test, grokfast);
  const Kernels<Real> kern = pick_kernels<Real>();

  SolveResult result;
  result.test_predictions.assign(z(n_test), 0);

  // Inputs and +-1 targets in Real, once per solve.
  std::vector<Real> X(z(n_train * n)), X_test(z(n_test * n)), Y(z(n_train));
  for (I64 i = 0; i < n_train * n; ++i) X[z(i)] = data.x_train[z(i)];
  for (I64 i = 0; i < n_test * n; ++i) X_test[z(i)] = data.x_test[z(i)];
  for (I64 i = 0; i < n_train; ++i) {
    const int y = data.y_train[z(i)];
    Y[z(i)] = static_cast<Real>(bit ? 2 * y - 1 : y);
  }
  t.read(buf.x_train, 0, u(n_train * n));
  t.write(buf.X, 0, u(n_train * n));
  t.op_end();
  t.read(buf.y_train, 0, u(n_train));
  t.write(buf.Y, 0, u(n_train));
  t.op_end();
  t.read(buf.x_test, 0, u(n_test * n));
  t.write(buf.X_test, 0, u(n_test * n));
  t.op_end();

  // Init from seed + 1: W1 row-major (h x na0), then W2.
  const bool curriculum = o.n_start > 0 && o.n_start < n;
  Net<Real> net;
  net.n = n;
  net.na = curriculum ? o.n_start : n;
  net.h = h;
  net.w1t.assign(z(n * h), Real(0));
  net.b1.assign(z(h), Real(0));
  net.w2.assign(z(h), Real(0));
  Rng rng(ctx.seed() + 1);
  {
    const double std1 = std::sqrt(2.0 / static_cast<double>(net.na));
    const double std2 = std::sqrt(2.0 / static_cast<double>(h));
    for (I64 j = 0; j < h; ++j)
      for (I64 c = 0; c < net.na; ++c)
        net.w1t[z(c * h + j)] = static_cast<Real>(rng.normal() * std1);
    for (I64 j = 0; j < h; ++j) net.w2[z(j)] = static_cast<Real>(rng.normal() * std2);
  }
  t.write(buf.W1, 0, u(net.na * h));
  t.op_end();
  for (BufferId p : {buf.b1, buf.W2}) {
    t.write(p, 0, u(h));
    t.op_end();
  }
  t.write(buf.b2, 0, 1);
  t.op_end();

  // Work space, sized once.
  std::vector<std::int32_t> idx(z(n_train)), viol(z(B));
  std::vector<Real> a(z(B * h)), out(z(B)), dout(z(B)), mask(z(B * h));
  std::vector<const Real*> xs(z(B)), as(z(B));
  std::vector<Real> gw1(z(n * h)), gb1(z(h)), gw2(z(h));
  std::vector<Real> ew1, eb1, ew2;
  Real eb2 = 0;
  if (grokfast) {
    ew1.assign(z(n * h), Real(0));
    eb1.assign(z(h), Real(0));
    ew2.assign(z(h), Real(0));
  }
  std::vector<Real> a_test(z(n_test * h)), out_test(z(n_test));
  // Sign patterns of the inputs in groups of four (bit b: x_{4g+b} = +1; past n: +1), and the
  // forward kernels' work space.
  const I64 G = (n + 3) / 4;
  auto patterns = [&](const std::vector<std::int8_t>& x, I64 rows) {
    std::vector<std::uint8_t> p(z(rows * G), 0);
    for (I64 r = 0; r < rows; ++r)
      for (I64 c = 0; c < 4 * G; ++c)
        if (c >= n || x[z(r * n + c)] > 0) p[z(r * G + c / 4)] |= std::uint8_t(1u << (c % 4));
    return p;
  };
  const std::vector<std::uint8_t> pat = patterns(data.x_train, n_train);
  const std::vector<std::uint8_t> pat_test = patterns(data.x_test, n_test);
  std::vector<Real> zeros(z(h), Real(0)), pairs(z(8 * h)), table(z(G * 16 * h));
  const Real alpha = static_cast<Real>(o.alpha), lambda = static_cast<Real>(o.lambda);

  auto finish = [&](SolveStatus status, I64 epochs, std::string message = {}) {
    result.status = status;
    result.epochs = epochs;
    result.message = std::move(message);
    if (final_params) {
      final_params->hidden = h;
      final_params->n = n;
      final_params->w1.assign(z(h * n), 0.0);
      for (I64 j = 0; j < h; ++j)
        for (I64 c = 0; c < n; ++c) final_params->w1[z(j * n + c)] = net.w1t[z(c * h + j)];
      final_params->b1.assign(net.b1.begin(), net.b1.end());
      final_params->w2.assign(net.w2.begin(), net.w2.end());
      final_params->b2 = net.b2;
    }
    return std::move(result);
  };

  I64 phase_epoch = 0;
  for (I64 epoch = 1; epoch <= o.max_epochs; ++epoch) {
    if (ctx.out_of_time())
      return finish(SolveStatus::kTimedOut, epoch - 1,
                    "deadline passed before epoch " + std::to_string(epoch));
    const I64 na = net.na;
    const U64 w1_size = u(na * h);
    // The forward kernels read W1 directly for fewer than 8 rows, else through the table of
    // group sums built from W1 first (mlp_kernels.inc).
    const U64 table_size = u((na + 3) / 4 * 16 * h);
    auto trace_table = [&](I64 rows_count) {
      if (rows_count < 8) return;
      t.read(buf.W1, 0, w1_size);
      t.write(buf.W1_table, 0, table_size);
      t.op_end();
    };
    auto trace_weights = [&](I64 rows_count) {
      if (rows_count < 8)
        t.read(buf.W1, 0, w1_size);
      else
        t.read(buf.W1_table, 0, table_size);
    };
    ++phase_epoch;
    std::iota(idx.begin(), idx.end(), 0);
    rng.shuffle(idx.begin(), idx.end());
    t.read(buf.idx, 0, u(n_train));
    t.write(buf.idx, 0, u(n_train));
    t.op_end();

    for (I64 start = 0; start < n_train; start += B) {
      const I64 bs = std::min(B, n_train - start);
      const Real batch_size = static_cast<Real>(bs);
      const std::int32_t* rows = idx.data() + start;

      // Forward: h_pre and out for every row of the batch.
      kern.forward_rows(X.data(), pat.data(), G, rows, bs, n, na, h, net.w1t.data(), zeros.data(),
                        net.b1.data(), net.w2.data(), net.b2, pairs.data(), table.data(), a.data(),
                        out.data());
      if constexpr (Tracer::kEnabled) {
        trace_table(bs);
        t.read(buf.idx, u(start), u(bs));
        for (I64 r = 0; r < bs; ++r) t.read(buf.X, u(rows[r] * n), u(na));
        trace_weights(bs);
        t.read(buf.b1, 0, u(h));
        t.write(buf.h_pre, 0, u(bs * h));
        t.op_end();
        t.read(buf.h_pre, 0, u(bs * h));
        t.read(buf.W2, 0, u(h));
        t.read(buf.b2, 0, 1);
        t.write(buf.out, 0, u(bs));
        t.op_end();
      }
      bool finite = true;
      for (I64 r = 0; r < bs; ++r) finite = finite && std::isfinite(out[z(r)]);
      if (!finite)
        return finish(SolveStatus::kDiverged, epoch,
                      "non-finite output f in epoch " + std::to_string(epoch));

      // Contributors and dLoss/df.
      I64 ms = 0;
      for (I64 r = 0; r < bs; ++r) {
        const Real y = Y[z(rows[r])];
        if (o.loss == MlpLoss::kHinge) {
          if (y * out[z(r)] < Real(1)) {
            viol[z(ms)] = static_cast<std::int32_t>(r);
            dout[z(ms)] = -y;
            ++ms;
          }
        } else {
          const Real p = Real(1) / (Real(1) + std::exp(-out[z(r)]));
          viol[z(ms)] = static_cast<std::int32_t>(r);
          dout[z(ms)] = p - (y > 0 ? Real(1) : Real(0));
          ++ms;
        }
      }
      if constexpr (Tracer::kEnabled) {
        t.read(buf.out, 0, u(bs));
        for (I64 r = 0; r < bs; ++r) t.read(buf.Y, u(rows[r]), 1);
        if (ms > 0) {
          t.write(buf.viol, 0, u(ms));
          t.write(buf.dout, 0, u(ms));
        }
        t.op_end();
      }
      if (ms == 0) continue;  // no contributor: no step, no decay

      // Unscaled gradient sums.
      Real gb2 = 0;
      for (I64 v = 0; v < ms; ++v) {
        const I64 r = viol[z(v)];
        gb2 += dout[z(v)];
        xs[z(v)] = X.data() + rows[r] * n;
        as[z(v)] = a.data() + r * h;
      }
      kern.grad_sums(ms, dout.data(), xs.data(), as.data(), na, h, mask.data(), gw2.data(),
                     gb1.data(), gw1.data());
      if constexpr (Tracer::kEnabled) {
        t.read(buf.viol, 0, u(ms));
        t.read(buf.dout, 0, u(ms));
        for (I64 v = 0; v < ms; ++v) t.read(buf.h_pre, u(viol[z(v)] * h), u(h));
        t.write(buf.dW2, 0, u(h));
        t.write(buf.db2, 0, 1);
        t.op_end();
        t.read(buf.viol, 0, u(ms));
        t.read(buf.dout, 0, u(ms));
        for (I64 v = 0; v < ms; ++v) {
          t.read(buf.h_pre, u(viol[z(v)] * h), u(h));
          t.read(buf.X, u(rows[viol[z(v)]] * n), u(na));
        }
        t.write(buf.dW1, 0, w1_size);
        t.write(buf.db1, 0, u(h));
        t.op_end();
      }

      // The layer-1 step: the true gradient of W1 is W2_j gw1 / B (W2 old, or new for per-layer).
      auto step_layer1 = [&] {
        const Real* w2 = net.w2.data();
        for (I64 c = 0; c < na; ++c) {
          Real* p = net.w1t.data() + c * h;
          const Real* g = gw1.data() + c * h;
          switch (o.rule) {
            case MlpRule::kSgd:
            case MlpRule::kPerLayer:
              for (I64 j = 0; j < h; ++j)
                p[j] = p[j] - lr * ((w2[j] * g[j]) / batch_size + wd * p[j]);
              break;
            case MlpRule::kSign:
              for (I64 j = 0; j < h; ++j) p[j] = p[j] - lr * (sign_of(w2[j] * g[j]) + wd * p[j]);
              break;
            case MlpRule::kGrokfast: {
              Real* e = ew1.data() + c * h;
              for (I64 j = 0; j < h; ++j) {
                const Real gj = (w2[j] * g[j]) / batch_size;
                e[j] = alpha * e[j] + (Real(1) - alpha) * gj;
                p[j] = p[j] - lr * (gj + lambda * e[j] + wd * p[j]);
              }
              break;
            }
          }
        }
        for (I64 j = 0; j < h; ++j) {
          Real& p = net.b1[z(j)];
          const Real gj = w2[j] * gb1[z(j)];
          switch (o.rule) {
            case MlpRule::kSgd:
            case MlpRule::kPerLayer:
              p = p - lr * (gj / batch_size + bwd * p);
              break;
            case MlpRule::kSign:
              p = p - lr * (sign_of(gj) + bwd * p);
              break;
            case MlpRule::kGrokfast: {
              Real& e = eb1[z(j)];
              const Real g = gj / batch_size;
              e = alpha * e + (Real(1) - alpha) * g;
              p = p - lr * (g + lambda * e + bwd * p);
              break;
            }
          }
        }
        trace_update(t, buf.W1, buf.dW1, grokfast ? buf.eW1 : 0, w1_size, buf.W2, u(h));
        trace_update(t, buf.b1, buf.db1, grokfast ? buf.eb1 : 0, u(h), buf.W2, u(h));
      };
      auto step_layer2 = [&] {
        for (I64 j = 0; j < h; ++j) {
          Real& p = net.w2[z(j)];
          const Real g = gw2[z(j)];
          switch (o.rule) {
            case MlpRule::kSgd:
            case MlpRule::kPerLayer:
              p = p - lr * (g / batch_size + wd * p);
              break;
            case MlpRule::kSign:
              p = p - lr * (sign_of(g) + wd * p);
              break;
            case MlpRule::kGrokfast: {
              Real& e = ew2[z(j)];
              const Real gm = g / batch_size;
              e = alpha * e + (Real(1) - alpha) * gm;
              p = p - lr * (gm + lambda * e + wd * p);
              break;
            }
          }
        }
        Real& p = net.b2;
        switch (o.rule) {
          case MlpRule::kSgd:
          case MlpRule::kPerLayer:
            p = p - lr * (gb2 / batch_size + bwd * p);
            break;
          case MlpRule::kSign:
            p = p - lr * (sign_of(gb2) + bwd * p);
            break;
          case MlpRule::kGrokfast: {
            const Real gm = gb2 / batch_size;
            eb2 = alpha * eb2 + (Real(1) - alpha) * gm;
            p = p - lr * (gm + lambda * eb2 + bwd * p);
            break;
          }
        }
        trace_update(t, buf.W2, buf.dW2, grokfast ? buf.eW2 : 0, u(h));
        trace_update(t, buf.b2, buf.db2, grokfast ? buf.eb2 : 0, 1);
      };
      if (o.rule == MlpRule::kPerLayer) {
        step_layer2();
        step_layer1();
      } else {
        // Layer 1 first: its gradient needs the old W2 (all gradients at the old parameters).
        step_layer1();
        step_layer2();
      }
    }

    // Parameters finite?
    bool finite = std::isfinite(net.b2);
    for (I64 i = 0; i < na * h; ++i) finite = finite && std::isfinite(net.w1t[z(i)]);
    for (I64 j = 0; j < h; ++j)
      finite = finite && std::isfinite(net.b1[z(j)]) && std::isfinite(net.w2[z(j)]);
    t.read(buf.W1, 0, w1_size);
    t.read(buf.b1, 0, u(h));
    t.read(buf.W2, 0, u(h));
    t.read(buf.b2, 0, 1);
    t.op_end();
    if (!finite)
      return finish(SolveStatus::kDiverged, epoch,
                    "non-finite parameters after epoch " + std::to_string(epoch));

    // Test evaluation on the active inputs.
    kern.forward_rows(X_test.data(), pat_test.data(), G, nullptr, n_test, n, na, h, net.w1t.data(),
                      zeros.data(), net.b1.data(), net.w2.data(), net.b2, pairs.data(),
                      table.data(), a_test.data(), out_test.data());
    I64 correct = 0;
    bool test_finite = true;
    for (I64 i = 0; i < n_test; ++i) {
      const Real f = out_test[z(i)];
      test_finite = test_finite && std::isfinite(f);
      std::int8_t p;
      if (bit)
        p = f > 0 ? 1 : 0;
      else
        p = f > 0 ? 1 : f < 0 ? -1 : 0;  // NaN gives 0: wrong
      result.test_predictions[z(i)] = p;
      correct += (bit || p != 0) && p == data.y_test[z(i)];
    }
    if constexpr (Tracer::kEnabled) {
      trace_table(n_test);
      for (I64 i = 0; i < n_test; ++i) t.read(buf.X_test, u(i * n), u(na));
      trace_weights(n_test);
      t.read(buf.b1, 0, u(h));
      t.write(buf.h_pre_test, 0, u(n_test * h));
      t.op_end();
      t.read(buf.h_pre_test, 0, u(n_test * h));
      t.read(buf.W2, 0, u(h));
      t.read(buf.b2, 0, 1);
      t.write(buf.out_test, 0, u(n_test));
      t.op_end();
      t.read(buf.out_test, 0, u(n_test));
      t.read(buf.y_test, 0, u(n_test));
      t.write(buf.predictions, 0, u(n_test));
      t.op_end();
    }
    const double accuracy =
        n_test > 0 ? static_cast<double>(correct) / static_cast<double>(n_test) : 1.0;
    result.curve.push_back(CurvePoint{"test_accuracy", epoch, accuracy});
    if (!test_finite)
      return finish(SolveStatus::kDiverged, epoch,
                    "non-finite test output after epoch " + std::to_string(epoch));
    if (net.na == n) {
      if (correct == n_test) return finish(SolveStatus::kSolved, epoch);
    } else if (accuracy >= o.phase_target || phase_epoch >= o.phase_epochs) {
      // Widen: new columns ~ N(0, (widen_scale sqrt(2/n_new))^2), row by row; old kept.
      const I64 next = std::min(n, net.na + o.n_step);
      const double s = o.widen_scale * std::sqrt(2.0 / static_cast<double>(next));
      for (I64 j = 0; j < h; ++j)
        for (I64 c = net.na; c < next; ++c)
          net.w1t[z(c * h + j)] = static_cast<Real>(rng.normal() * s);
      result.measures["curriculum_widen_to_" + std::to_string(next) + "_epoch"] =
          static_cast<double>(epoch);
      t.read(buf.W1, 0, u(net.na * h));
      t.write(buf.W1, u(net.na * h), u((next - net.na) * h));
      t.op_end();
      net.na = next;
      phase_epoch = 0;
    }
  }
  return finish(SolveStatus::kMaxIterations, o.max_epochs,
                "test accuracy below 100 % after " + std::to_string(o.max_epochs) + " epochs");
}

template <class Real>
SolveResult dispatch(const MlpOptions& o, const BinaryDataset& data, const RunContext& ctx,
                     RecordingTracer* tracer, SgdParameters* final_params) {
  if (tracer) return run<Real>(o, data, ctx, *tracer, final_params);
  NullTracer off;
  return run<Real>(o, data, ctx, off, final_params);
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
