// cube/models/dally_ir/baselines.cc: the scorers' baseline generators as IR text (see the
// header). Not here: parsing or running them (interpreter.h).

#include "models/dally_ir/baselines.h"

#include <sstream>

#include "core/combinatorics.h"

namespace cube {

std::string join_addresses(const std::vector<std::uint64_t>& addresses) {
  std::string s;
  for (std::uint64_t a : addresses) {
    if (!s.empty()) s += ',';
    s += std::to_string(a);
  }
  return s;
}

// The call convention of an n x n matmul layout: inputs A then B, outputs C, each row-major.
template <class AddrA, class AddrB, class AddrC>
std::pair<std::vector<std::uint64_t>, std::vector<std::uint64_t>> matmul_io(int n, AddrA A, AddrB B,
                                                                            AddrC C) {
  std::vector<std::uint64_t> in, out;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) in.push_back(A(i, j));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) in.push_back(B(i, j));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) out.push_back(C(i, j));
  return {in, out};
}

// matmul._baseline(n): A at 1..n², B at n²+1..2n², C at 2n²+1..3n², tmp at 3n²+1.
std::string naive_matmul(int n) {
  auto A = [&](int i, int j) { return 1 + i * n + j; };
  auto B = [&](int i, int j) { return 1 + n * n + i * n + j; };
  auto C = [&](int i, int j) { return 1 + 2 * n * n + i * n + j; };
  const int tmp = 3 * n * n + 1;
  const auto [in, out] = matmul_io(n, A, B, C);
  std::ostringstream s;
  s << join_addresses(in) << "\n";
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      s << "mul " << C(i, j) << "," << A(i, 0) << "," << B(0, j) << "\n";
      for (int k = 1; k < n; ++k) {
        s << "mul " << tmp << "," << A(i, k) << "," << B(k, j) << "\n";
        s << "add " << C(i, j) << "," << tmp << "\n";
      }
    }
  }
  s << join_addresses(out) << "\n";
  return s.str();
}

// matmul.generate_tiled_16x16: 4x4 tiles sA 1..16, sB 17..32, sC 33..48, tmp 49, bulk A, B, C
// from 50.
std::string tiled_matmul_16() {
  const int n = 16, T = 4;
  auto sA = [&](int i, int k) { return 1 + i * T + k; };
  auto sB = [&](int k, int j) { return 1 + T * T + k * T + j; };
  auto sC = [&](int i, int j) { return 1 + 2 * T * T + i * T + j; };
  const int tmp = 3 * T * T + 1, a0 = tmp + 1, b0 = a0 + n * n, c0 = b0 + n * n;
  auto A = [&](int i, int j) { return a0 + i * n + j; };
  auto B = [&](int i, int j) { return b0 + i * n + j; };
  auto C = [&](int i, int j) { return c0 + i * n + j; };
  const auto [in, out] = matmul_io(n, A, B, C);
  std::ostringstream s;
  s << join_addresses(in) << "\n";
  for (int bi = 0; bi < n / T; ++bi) {
    for (int bj = 0; bj < n / T; ++bj) {
      for (int bk = 0; bk < n / T; ++bk) {
        for (int i = 0; i < T; ++i)
          for (int k = 0; k < T; ++k)
            s << "copy " << sA(i, k) << "," << A(bi * T + i, bk * T + k) << "\n";
        for (int k = 0; k < T; ++k)
          for (int j = 0; j < T; ++j)
            s << "copy " << sB(k, j) << "," << B(bk * T + k, bj * T + j) << "\n";
        for (int i = 0; i < T; ++i) {
          for (int j = 0; j < T; ++j) {
            for (int k = 0; k < T; ++k) {
              s << "mul " << tmp << "," << sA(i, k) << "," << sB(k, j) << "\n";
              if (bk == 0 && k == 0) {
                s << "copy " << sC(i, j) << "," << tmp << "\n";
              } else {
                s << "add " << sC(i, j) << "," << tmp << "\n";
              }
            }
          }
        }
      }
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j)
          s << "copy " << C(bi * T + i, bj * T + j) << "," << sC(i, j) << "\n";
    }
  }
  s << join_addresses(out) << "\n";
  return s.str();
}

// outer_product_4x4 (D18), rebuilt from its description (dally-ir.md §3.3): loop order k, i, j;
// one-cell sA at 1, tmp at 2, sB at 3..6, C at 7..22, A at 23..38, B at 39..54.
std::string outer_product_4x4() {
  const int n = 4, sA = 1, tmp = 2;
  auto sB = [](int j) { return 3 + j; };
  auto C = [&](int i, int j) { return 7 + i * n + j; };
  auto A = [&](int i, int j) { return 23 + i * n + j; };
  auto B = [&](int i, int j) { return 39 + i * n + j; };
  const auto [in, out] = matmul_io(n, A, B, C);
  std::ostringstream s;
  s << join_addresses(in) << "\n";
  for (int k = 0; k < n; ++k) {
    for (int j = 0; j < n; ++j) s << "copy " << sB(j) << "," << B(k, j) << "\n";
    for (int i = 0; i < n; ++i) {
      s << "copy " << sA << "," << A(i, k) << "\n";
      for (int j = 0; j < n; ++j) {
        if (k == 0) {
          s << "mul " << C(i, j) << "," << sA << "," << sB(j) << "\n";
        } else {
          s << "mul " << tmp << "," << sA << "," << sB(j) << "\n";
          s << "add " << C(i, j) << "," << tmp << "\n";
        }
      }
    }
  }
  s << join_addresses(out) << "\n";
  return s.str();
}

// symmetry.generate_baseline(n): cmp each mirror pair into its low cell, AND them into cell 1.
std::string symmetry_baseline(int n) {
  std::ostringstream s;
  for (int i = 1; i <= n; ++i) s << (i > 1 ? "," : "") << i;
  s << "\n";
  for (int i = 0; i < n / 2; ++i)
    s << "cmp " << i + 1 << ", " << i + 1 << ", " << n - i << ", eq\n";
  for (int k = 2; k <= n / 2; ++k) s << "and 1, " << k << "\n";
  s << "1\n";
  return s.str();
}

// sparse_parity._generate_baseline(spec): try every candidate subset.
std::string sparse_parity_baseline(const ParitySpec& s) {
  const auto cands = k_subsets(s.n, s.k);
  const int nc = static_cast<int>(cands.size());
  const int pred = 1, xtr = pred + s.m_test, ytr = xtr + s.n * s.m_train, xte = ytr + s.m_train,
            one = xte + s.n * s.m_test, tmp = one + 1, parity = tmp + 1, matched = parity + 1,
            ind = matched + nc * s.m_train, predt = ind + nc, term = predt + 1;
  auto X_tr = [&](int i, int c) { return xtr + i * s.n + c; };
  auto X_te = [&](int j, int c) { return xte + j * s.n + c; };
  auto M = [&](int t, int i) { return matched + t * s.m_train + i; };
  std::vector<std::uint64_t> in, out;
  for (int i = 0; i < s.m_train; ++i)
    for (int c = 0; c < s.n; ++c) in.push_back(X_tr(i, c));
  for (int i = 0; i < s.m_train; ++i) in.push_back(ytr + i);
  for (int j = 0; j < s.m_test; ++j)
    for (int c = 0; c < s.n; ++c) in.push_back(X_te(j, c));
  for (int j = 0; j < s.m_test; ++j) out.push_back(pred + j);
  std::ostringstream o;
  o << join_addresses(in) << "\nset " << one << ",1\n";
  for (int t = 0; t < nc; ++t) {
    const auto& T = cands[t];
    for (int i = 0; i < s.m_train; ++i) {
      o << "xor " << tmp << "," << ytr + i << "," << X_tr(i, T[0]) << "\n";
      for (int k = 1; k < s.k - 1; ++k) o << "xor " << tmp << "," << X_tr(i, T[k]) << "\n";
      o << "xor " << parity << "," << tmp << "," << X_tr(i, T[s.k - 1]) << "\n";
      o << "xor " << M(t, i) << "," << parity << "," << one << "\n";
    }
    o << "and " << ind + t << "," << M(t, 0) << "," << M(t, 1) << "\n";
    for (int i = 2; i < s.m_train; ++i) o << "and " << ind + t << "," << M(t, i) << "\n";
  }
  for (int j = 0; j < s.m_test; ++j) {
    for (int t = 0; t < nc; ++t) {
      const auto& T = cands[t];
      o << "xor " << predt << "," << X_te(j, T[0]) << "," << X_te(j, T[1]) << "\n";
      for (int k = 2; k < s.k; ++k) o << "xor " << predt << "," << X_te(j, T[k]) << "\n";
      o << "and " << term + t << "," << ind + t << "," << predt << "\n";
    }
    o << "or " << pred + j << "," << term << "," << term + 1 << "\n";
    for (int t = 2; t < nc; ++t) o << "or " << pred + j << "," << term + t << "\n";
  }
  o << join_addresses(out) << "\n";
  return o.str();
}

}  // namespace cube
