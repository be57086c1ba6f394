// cube/models/mlp/mlp_net.h: the two-layer ReLU MLP of sparse-parity.md §1.5 on inputs
// x in {-1,+1}^n, its forward pass, gradient sums and element-wise update rules; the sgd solver
// family (solvers/sgd/mlp_train.h) trains it.
//
// Model: f(x) = W2 relu(W1 x + b1) + b2, W1: h x n, b1: h, W2: 1 x h, b2: 1. Inputs c >= na are
// inactive (weight 0): the view of an n-curriculum phase.
// Numbers: Real = double or float. W1 x is summed in groups of four inputs,
// ((x0 w0 + x1 w1) + (x2 w2 + x3 w3)), group after group, then + b1 (products exact, x = +-1);
// for 8 or more rows at a time the group sums come from a table of the 16 sign patterns per group,
// rebuilt from W1 (O(h n) per call; the same additions, so the same bits). SIMD kernels are
// compiled for SSE2 and AVX2 and chosen at run time by cpuid; both give the same bits (no FMA).
// Complexity: forward O(rows h n) (plus O(h n) for the table), gradient sums O(V h n).
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace cube::mlp {

// The parameters; W1 stored transposed (n x h): column c of W1 is w1t[c h, c h + h).
template <class Real>
struct MlpNet {
  std::int64_t n = 0;   // input bits
  std::int64_t na = 0;  // active inputs (columns of W1 in use), na <= n
  std::int64_t h = 0;   // hidden units
  std::vector<Real> w1t, b1, w2;
  Real b2 = 0;

  // He init (Kaiming normal): W1 ~ N(0, 2/na) drawn row-major over (h x na), then W2 ~ N(0, 2/h),
  // biases 0. Preconditions: 1 <= na <= n, h >= 1.
  static MlpNet he_init(std::int64_t n, std::int64_t na, std::int64_t h, Rng& rng);
  // Activates inputs [na, next): new W1 columns ~ N(0, scale^2) drawn row by row, old kept.
  void widen(std::int64_t next, double scale, Rng& rng);
  // Whether every active parameter is finite.
  bool finite() const;
};

// The sign patterns of +-1 input rows in groups of four: bit b of byte (r, g) is set iff
// x[r][4g + b] = +1 (inputs past n count as +1). rows x (n + 3) / 4 bytes.
std::vector<std::uint8_t> sign_patterns(const std::vector<std::int8_t>& x, std::int64_t rows,
                                        std::int64_t n);

// The forward and gradient kernels with their work space, for nets of n inputs and h units.
template <class Real>
class MlpKernels {
 public:
  MlpKernels(std::int64_t n, std::int64_t h);

  // For r < count, row i = rows[r] (or r when rows is null) of X (n columns; its sign patterns
  // `patterns` from sign_patterns): a[r] = W1 x_i + b1 (h values) and out[r] = f(x_i).
  void forward(const MlpNet<Real>& net, const Real* X, const std::uint8_t* patterns,
               const std::int32_t* rows, std::int64_t count, Real* a, Real* out);

  // The unscaled gradient sums over V contributors (coefficients d = dLoss/df, input rows xs[v],
  // pre-activations as[v]), each summed in contributor order: gw2 = sum d relu(a),
  // gb1 = sum d [a > 0], gw1[c] = sum d x_c [a > 0] for c < na (gw1 stored n x h like w1t).
  // mask is V x h work space. For d = +-1 (hinge loss) gb1 and gw1 hold exact integers.
  void gradient_sums(std::int64_t V, const Real* d, const Real* const* xs, const Real* const* as,
                     std::int64_t na, Real* mask, Real* gw2, Real* gb1, Real* gw1) const;

  // Whether forward on `count` rows goes through the sign-pattern table (else reads W1).
  static bool uses_table(std::int64_t count) { return count >= 8; }

 private:
  using ForwardRows = void (*)(const Real*, const std::uint8_t*, std::int64_t, const std::int32_t*,
                               std::int64_t, std::int64_t, std::int64_t, std::int64_t, const Real*,
                               const Real*, const Real*, const Real*, Real, Real*, Real*, Real*,
                               Real*);
  using GradSums = void (*)(std::int64_t, const Real*, const Real* const*, const Real* const*,
                            std::int64_t, std::int64_t, Real*, Real*, Real*, Real*);
  std::int64_t n_, h_;
  ForwardRows forward_rows_;
  GradSums grad_sums_;
  std::vector<Real> zeros_, pairs_, table_;
};

template <class Real>
Real sign_of(Real v) {
  return v > 0 ? Real(1) : v < 0 ? Real(-1) : Real(0);
}

// Update rules: the new value of a parameter p from its unscaled gradient sum g over a batch of
// `batch` samples, its decay coefficient d and (rules with kHasState) its filter state e.
// SgdStep:      p - lr (g / batch + d p)                                    (§1.5, fast.py)
template <class Real>
struct SgdStep {
  static constexpr bool kHasState = false;
  Real lr, batch;
  Real operator()(Real p, Real g, Real d, Real&) const { return p - lr * (g / batch + d * p); }
};
// SignStep:     p - lr (sign(g) + d p), sign(0) = 0                 (§2.1 #14, exp_sign_sgd)
template <class Real>
struct SignStep {
  static constexpr bool kHasState = false;
  Real lr;
  Real operator()(Real p, Real g, Real d, Real&) const { return p - lr * (sign_of(g) + d * p); }
};
// GrokfastStep: e <- alpha e + (1 - alpha) g / batch, p - lr (g / batch + lambda e + d p)
//               (§2.1 #6 and #16, the GrokFast EMA filter; e starts at 0)
template <class Real>
struct GrokfastStep {
  static constexpr bool kHasState = true;
  Real lr, batch, alpha, lambda;
  Real operator()(Real p, Real g, Real d, Real& e) const {
    const Real mean = g / batch;
    e = alpha * e + (Real(1) - alpha) * mean;
    return p - lr * (mean + lambda * e + d * p);
  }
};

// p[j] <- rule(p[j], scale[j] g[j] (g[j] when scale is null), decay, state[j]) for j < count;
// `state` is used only by rules with kHasState.
template <class Rule, class Real>
void update(const Rule& rule, Real* p, const Real* g, const Real* scale, Real decay, Real* state,
            std::int64_t count) {
  Real unused = 0;
  if (scale) {
    for (std::int64_t j = 0; j < count; ++j)
      p[j] = rule(p[j], scale[j] * g[j], decay, Rule::kHasState ? state[j] : unused);
  } else {
    for (std::int64_t j = 0; j < count; ++j)
      p[j] = rule(p[j], g[j], decay, Rule::kHasState ? state[j] : unused);
  }
}

}  // namespace cube::mlp
