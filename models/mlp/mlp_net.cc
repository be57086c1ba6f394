// cube/models/mlp/mlp_net.cc: the MLP net's parameters and its kernels, compiled once per
// instruction set (mlp_kernels.inc) and chosen at run time.

#include "models/mlp/mlp_net.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/index_cast.h"

// The kernels, compiled twice: for the baseline x86-64 (SSE2, 16-byte vectors) and for AVX2
// (32-byte vectors). Both give the same bits (see mlp_kernels.inc).
#define CUBE_MLP_NS mlp_base
#define CUBE_MLP_VEC_BYTES 16
#include "models/mlp/mlp_kernels.inc"
#undef CUBE_MLP_NS
#undef CUBE_MLP_VEC_BYTES

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CUBE_MLP_HAVE_AVX2 1
#pragma GCC push_options
#pragma GCC target("avx2")
#define CUBE_MLP_NS mlp_avx2
#define CUBE_MLP_VEC_BYTES 32
#include "models/mlp/mlp_kernels.inc"
#undef CUBE_MLP_NS
#undef CUBE_MLP_VEC_BYTES
#pragma GCC pop_options
#endif

namespace cube::mlp {
using namespace index_cast;  // NOLINT(build/namespaces): I64, z()

template <class Real>
MlpNet<Real> MlpNet<Real>::he_init(I64 n, I64 na, I64 h, Rng& rng) {
  MlpNet net;
  net.n = n;
  net.na = na;
  net.h = h;
  net.w1t.assign(z(n * h), Real(0));
  net.b1.assign(z(h), Real(0));
  net.w2.assign(z(h), Real(0));
  const double std1 = std::sqrt(2.0 / static_cast<double>(na));
  const double std2 = std::sqrt(2.0 / static_cast<double>(h));
  for (I64 j = 0; j < h; ++j)
    for (I64 c = 0; c < na; ++c) net.w1t[z(c * h + j)] = static_cast<Real>(rng.normal() * std1);
  for (I64 j = 0; j < h; ++j) net.w2[z(j)] = static_cast<Real>(rng.normal() * std2);
  return net;
}

template <class Real>
void MlpNet<Real>::widen(I64 next, double scale, Rng& rng) {
  for (I64 j = 0; j < h; ++j)
    for (I64 c = na; c < next; ++c) w1t[z(c * h + j)] = static_cast<Real>(rng.normal() * scale);
  na = next;
}

template <class Real>
bool MlpNet<Real>::finite() const {
  bool ok = std::isfinite(b2);
  for (I64 i = 0; i < na * h; ++i) ok = ok && std::isfinite(w1t[z(i)]);
  for (I64 j = 0; j < h; ++j) ok = ok && std::isfinite(b1[z(j)]) && std::isfinite(w2[z(j)]);
  return ok;
}

std::vector<std::uint8_t> sign_patterns(const std::vector<std::int8_t>& x, I64 rows, I64 n) {
  const I64 groups = (n + 3) / 4;
  std::vector<std::uint8_t> p(z(rows * groups), 0);
  for (I64 r = 0; r < rows; ++r)
    for (I64 c = 0; c < 4 * groups; ++c)
      if (c >= n || x[z(r * n + c)] > 0) p[z(r * groups + c / 4)] |= std::uint8_t(1u << (c % 4));
  return p;
}

template <class Real>
MlpKernels<Real>::MlpKernels(I64 n, I64 h)
    : n_(n),
      h_(h),
      forward_rows_(&mlp_base::forward_rows),
      grad_sums_(&mlp_base::grad_sums),
      zeros_(z(h), Real(0)),
      pairs_(z(8 * h)),
      table_(z((n + 3) / 4 * 16 * h)) {
#ifdef CUBE_MLP_HAVE_AVX2
  if (__builtin_cpu_supports("avx2")) {
    forward_rows_ = &mlp_avx2::forward_rows;
    grad_sums_ = &mlp_avx2::grad_sums;
  }
#endif
}

template <class Real>
void MlpKernels<Real>::forward(const MlpNet<Real>& net, const Real* X, const std::uint8_t* patterns,
                               const std::int32_t* rows, I64 count, Real* a, Real* out) {
  forward_rows_(X, patterns, (n_ + 3) / 4, rows, count, n_, net.na, h_, net.w1t.data(),
                zeros_.data(), net.b1.data(), net.w2.data(), net.b2, pairs_.data(), table_.data(),
                a, out);
}

template <class Real>
void MlpKernels<Real>::gradient_sums(I64 V, const Real* d, const Real* const* xs,
                                     const Real* const* as, I64 na, Real* mask, Real* gw2,
                                     Real* gb1, Real* gw1) const {
  grad_sums_(V, d, xs, as, na, h_, mask, gw2, gb1, gw1);
}

template struct MlpNet<float>;
template struct MlpNet<double>;
template class MlpKernels<float>;
template class MlpKernels<double>;

}  // namespace cube::mlp
