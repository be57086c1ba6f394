// cube/models/dally_ir/baselines.h: the sutro-problems scorers' baseline program generators,
// rebuilt as IR text (metrics.md §7.3 D16-D18, D20-D22; dally-ir.md §2.3, §2.5, §3.2, §3.3).
//
// Each function returns the program text (newline-separated statements, one trailing newline)
// that the scorer's generator writes; parse it with parse_dally_program under the version named.
// Static costs (the spec's vectors): naive n=1,2,3,4,16: 5, 84, 429, 1316, 340,704; tiled 16x16:
// 133,783; outer product 4x4: 800; symmetry 6/8: 20/29; sparse parity small/medium: 6,918 /
// 816,251. Text length O(program size): naive O(n³), parity O(C(n,k)·(m_train + m_test)·k).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cube {

// "a,b,c": the comma-joined decimal addresses (an input or output line).
std::string join_addresses(const std::vector<std::uint64_t>& addresses);

// v0. matmul._baseline(n): naive i, j, k loop; A at 1..n², B at n²+1..2n², C at 2n²+1..3n²,
// tmp at 3n²+1; C[i,j] = A[i,0]·B[0,j], then for k >= 1 `mul tmp,A,B; add C,tmp`. n >= 1.
std::string naive_matmul(int n);

// v0. matmul.generate_tiled_16x16: 4x4 tiles copied to sA 1..16, sB 17..32, sC 33..48, tmp 49,
// bulk A, B, C from 50.
std::string tiled_matmul_16();

// v0. outer_product_4x4 (rebuilt from its description): loop order k, i, j; one-cell sA at 1,
// tmp at 2, sB at 3..6, C at 7..22, A at 23..38, B at 39..54.
std::string outer_product_4x4();

// v3. symmetry.generate_baseline(n): cmp each mirror pair into its low cell, AND into cell 1.
std::string symmetry_baseline(int n);

// The sparse-parity shapes: small {n=3, k=2, m_train=4, m_test=32}, medium {8, 3, 8, 64}.
struct ParitySpec {
  int n, k, m_train, m_test;
};
inline constexpr ParitySpec kParitySmall{3, 2, 4, 32};
inline constexpr ParitySpec kParityMedium{8, 3, 8, 64};

// v3. sparse_parity._generate_baseline(spec): try every candidate subset (§2.5). k >= 2.
std::string sparse_parity_baseline(const ParitySpec& spec);

}  // namespace cube
