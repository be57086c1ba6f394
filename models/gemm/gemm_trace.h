// cube/models/gemm/gemm_trace.h: the memory accesses of cube's GEMM (gemm.h) as trace events, in
// the loop order of its kernel, at cache-line granularity; and those of the textbook triple loop,
// the untiled reference a tiling is judged against.
//
// What a traced product reports, for C (+)= A·B with A M x K, B K x N, C M x N (strided views of
// traced buffers, in elements):
//   pack    for each 16-column panel jp, for each p < K: the read of B's row p in the panel
//           (one event of up to 16 elements when B's columns are contiguous, else one event per
//           element, as the packing loop reads them) and the write of the packed row (16
//           floats, one 64-byte line of the aligned pack buffer); op_end() per panel.
//   kernel  for each block of 48 rows, each 256-deep slice of K, each panel, each micro-kernel
//           call of `rows` (12 on AVX-512, 6 on AVX2) rows: in groups of 16 p (one line of each
//           A row when A's rows are contiguous): the A elements of the group (per row a run of
//           up to 16 when A's rows are contiguous; per p a run of `rows` when its columns are;
//           else one event per element), then the group's packed B lines (one event); then, per
//           row of the tile, the read of C (when accumulating) and its write; op_end() per call.
// Elements are counted in the operand's own units, 4-byte floats here: a 16-float event is
// one 64-byte line when the run is line aligned, two otherwise (metrics map elements to lines
// through the buffers' logical addresses). The product is reported as one thread runs it;
// gemm(..., parallel = true) splits the rows among threads and oneDNN's JIT kernels (which run
// the linear layers when the build has oneDNN) keep their own order, which is not observable:
// the trace models cube's kernel, the one a cube build without oneDNN runs.
//
// trace_gemm_naive reports C[i][j] = Σ_p A[i][p] B[p][j] as the i, j, p loop computes it: per
// (i, j), K single-element reads of A and of B, then the write of C[i][j] (op_end() after it).
//
// Cost: O(M N K / 16) events for trace_gemm with contiguous rows (O(M N K) for strided
// operands), O(M N K) for trace_gemm_naive. Header-only: templates over the tracer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/trace.h"
#include "models/gemm/gemm_bf16.h"

namespace cube::gpt {

// A strided view of a traced buffer: element (i, j) is buffer[offset + i * rs + j * cs].
struct TracedMatrix {
  BufferId buffer = 0;
  std::int64_t offset = 0;
  std::int64_t rs = 0;
  std::int64_t cs = 1;

  std::uint64_t at(std::int64_t i, std::int64_t j) const {
    return static_cast<std::uint64_t>(offset + i * rs + j * cs);
  }
};

// Blocking of cube's kernel (gemm.cc): rows per block, depth per K slice, columns per panel.
inline constexpr int kTraceRowBlock = 48;
inline constexpr int kTraceKc = 256;
inline constexpr int kTraceNr = 16;
inline constexpr int kTraceLineFloats = 16;  // 64-byte lines of 4-byte floats

// The reads of `n` elements starting at element (i, j) of `m` along its columns (j, j+1, ...):
// one event when the columns are contiguous, else one per element.
template <class Tracer>
void trace_row_run(Tracer& tr, const TracedMatrix& m, std::int64_t i, std::int64_t j, int n) {
  if (m.cs == 1) {
    tr.read(m.buffer, m.at(i, j), static_cast<std::uint64_t>(n));
    return;
  }
  for (int k = 0; k < n; ++k) tr.read(m.buffer, m.at(i, j + k), 1);
}

// Packing of B (K x N) into 16-column panels at `packed` (element offset `pack_offset` of buffer
// `pack`), as pack_b in gemm.cc.
template <class Tracer>
void trace_pack_b(Tracer& tr, int K, int N, const TracedMatrix& b, BufferId pack,
                  std::uint64_t pack_offset) {
  const int panels = (N + kTraceNr - 1) / kTraceNr;
  for (int jp = 0; jp < panels; ++jp) {
    const int j0 = jp * kTraceNr;
    const int nc = std::min(kTraceNr, N - j0);
    const std::uint64_t dst = pack_offset + static_cast<std::uint64_t>(jp) * K * kTraceNr;
    for (int p = 0; p < K; ++p) {
      trace_row_run(tr, b, p, j0, nc);
      tr.write(pack, dst + static_cast<std::uint64_t>(p) * kTraceNr, kTraceNr);
    }
    tr.op_end();
  }
}

// One micro-kernel call: rows [i, i + mr) of A over p in [p0, p0 + kc) against a packed panel
// whose row p0 starts at `panel` (element offset in `pack`), into C columns [j0, j0 + nc).
template <class Tracer>
void trace_micro_kernel(Tracer& tr, int i, int mr, int p0, int kc, int j0, int nc,
                        const TracedMatrix& a, BufferId pack, std::uint64_t panel,
                        const TracedMatrix& c, bool accumulate) {
  for (int g = 0; g < kc; g += kTraceLineFloats) {
    const int gl = std::min(kTraceLineFloats, kc - g);
    if (a.cs == 1) {
      for (int r = 0; r < mr; ++r) tr.read(a.buffer, a.at(i + r, p0 + g), gl);
    } else if (a.rs == 1) {
      for (int p = 0; p < gl; ++p) tr.read(a.buffer, a.at(i, p0 + g + p), mr);
    } else {
      for (int p = 0; p < gl; ++p)
        for (int r = 0; r < mr; ++r) tr.read(a.buffer, a.at(i + r, p0 + g + p), 1);
    }
    tr.read(pack, panel + static_cast<std::uint64_t>(g) * kTraceNr,
            static_cast<std::uint64_t>(gl) * kTraceNr);
  }
  for (int r = 0; r < mr; ++r) {
    if (accumulate) trace_row_run(tr, c, i + r, j0, nc);
    if (c.cs == 1) {
      tr.write(c.buffer, c.at(i + r, j0), static_cast<std::uint64_t>(nc));
    } else {
      for (int j = 0; j < nc; ++j) tr.write(c.buffer, c.at(i + r, j0 + j), 1);
    }
  }
  tr.op_end();
}

// Rows [i0, i1) of C against packed panels (panel jp's row 0 at panel0 + jp * panel_stride), as
// row_range in gemm.cc: blocks of 48 rows, K slices of 256, panels, micro-kernel calls of `rows`.
template <class Tracer>
void trace_row_range(Tracer& tr, int i0, int i1, int N, int K, const TracedMatrix& a, BufferId pack,
                     std::uint64_t panel0, std::uint64_t panel_stride, const TracedMatrix& c,
                     bool accumulate, int rows) {
  const int panels = (N + kTraceNr - 1) / kTraceNr;
  for (int r0 = i0; r0 < i1; r0 += kTraceRowBlock) {
    const int r1 = std::min(i1, r0 + kTraceRowBlock);
    for (int p0 = 0; p0 < K; p0 += kTraceKc) {
      const int kc = std::min(kTraceKc, K - p0);
      const bool acc = accumulate || p0 > 0;
      for (int jp = 0; jp < panels; ++jp) {
        const int j0 = jp * kTraceNr;
        const int nc = std::min(kTraceNr, N - j0);
        const std::uint64_t panel =
            panel0 + jp * panel_stride + static_cast<std::uint64_t>(p0) * kTraceNr;
        for (int i = r0; i < r1; i += rows)
          trace_micro_kernel(tr, i, std::min(rows, r1 - i), p0, kc, j0, nc, a, pack, panel, c, acc);
      }
    }
  }
}

// A whole product as gemm() runs it on one thread: B packed at element 0 of `pack` (which must
// hold ceil(N/16) * K * 16 floats), then every row of C. `rows` is the micro-kernel's height.
template <class Tracer>
void trace_gemm(Tracer& tr, int M, int N, int K, const TracedMatrix& a, const TracedMatrix& b,
                const TracedMatrix& c, BufferId pack, bool accumulate, int rows) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  trace_pack_b(tr, K, N, b, pack, 0);
  trace_row_range(tr, 0, M, N, K, a, pack, 0, static_cast<std::uint64_t>(K) * kTraceNr, c,
                  accumulate, rows);
}

// The bfloat16 product gemm_bf16 (gemm_bf16.h) as one thread runs it. Buffers hold the operands in
// their own element units (2-byte bfloat16 or 4-byte float); `pack` and `apack` are 2-byte
// buffers (the packed pairs, counted as two bfloat16 each):
//   pack    for each 16-column panel jp, for each pair row q < ceil(K/2): the reads of B's rows 2q
//           and 2q+1 in the panel (one event each when B's columns are contiguous; one 2-element
//           event per column when its rows are; else one per element), then the write of the
//           packed pair row (32 bfloat16, one 64-byte line); op_end() per panel.
//   kernel  in row blocks of as many 12-row micro panels as fit 24 KiB of A pairs, and (float32 C
//           not accumulated into, K > 256) in K slices of 256, each slice reading C back before
//           its write: per block and slice, each panel's A
//           is read in place when it is bfloat16 with contiguous rows (even K, full panel), else
//           packed into `apack` first: pair-major when A's columns are contiguous (per pair row
//           q, the reads of columns 2q and 2q+1 over the panel's rows, then the write of the 16
//           pairs, one line), else row by row (each row's K elements, then its pairs); then for
//           each B panel, each micro panel of the block, in groups of 32 p (one 64-byte line of
//           each bfloat16 A row): the group's A (12 row runs, or the group's 16 pair lines), its
//           16 packed B lines; then per row the read of C (when accumulating) and its write;
//           op_end() per call.
template <class Tracer>
void trace_gemm_bf16(Tracer& tr, int M, int N, int K, const TracedMatrix& a, bool a_half,
                     const TracedMatrix& b, const TracedMatrix& c, bool c_half, BufferId pack,
                     BufferId apack, bool accumulate) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  constexpr int kMr = 12, kGroup = 32;
  const int K2 = (K + 1) / 2;
  const int panels = (N + kTraceNr - 1) / kTraceNr;
  const auto panel_units = static_cast<std::uint64_t>(K2) * kTraceNr * 2;
  for (int jp = 0; jp < panels; ++jp) {
    const int j0 = jp * kTraceNr;
    const int nc = std::min(kTraceNr, N - j0);
    for (int q = 0; q < K2; ++q) {
      for (int p = 2 * q; p < std::min(K, 2 * q + 2); ++p) {
        if (b.rs == 1 && p == 2 * q && p + 1 < K) {
          for (int j = 0; j < nc; ++j) tr.read(b.buffer, b.at(p, j0 + j), 2);
          break;
        }
        trace_row_run(tr, b, p, j0, nc);
      }
      tr.write(pack, jp * panel_units + static_cast<std::uint64_t>(q) * kTraceNr * 2, kTraceNr * 2);
    }
    tr.op_end();
  }
  const int micro = (M + kMr - 1) / kMr;
  const int slice = !c_half && !accumulate && K2 > kBf16SlicePairs ? kBf16SlicePairs : K2;
  const int lanes = a.rs == 1 && a.cs != 1 ? kTraceNr : kMr;  // a pair-major A panel: 16 lanes
  const int block = std::max(1, kBf16RowBlockBytes / (slice * lanes * 4));
  // A packed panel: pair-major (16 lanes of pairs per q, one line) when A's columns are
  // contiguous (rs == 1), else row by row (slice pairs per row).
  const auto apanel_units = static_cast<std::uint64_t>(slice) * 2 * kTraceNr;
  enum class APanel : char { kDirect, kRows, kPairs };
  for (int mb = 0; mb < micro; mb += block) {
    const int nb = std::min(block, micro - mb);
    std::vector<APanel> mode(static_cast<std::size_t>(nb), APanel::kRows);
    for (int q0 = 0; q0 < K2; q0 += slice) {
      const int q1 = std::min(K2, q0 + slice);
      const int p0 = 2 * q0, depth = std::min(K, 2 * q1) - p0, pairs = q1 - q0;
      for (int k = 0; k < nb; ++k) {
        const int i = (mb + k) * kMr;
        const int mr = std::min(kMr, M - i);
        const std::uint64_t base = k * apanel_units;
        if (a_half && a.cs == 1 && depth % 2 == 0 && a.rs % 2 == 0 && mr == kMr) {
          mode[k] = APanel::kDirect;
          continue;
        }
        if (a.rs == 1) {  // per pair row q: A's columns 2q and 2q+1 over the panel's rows
          mode[k] = APanel::kPairs;
          for (int q = 0; q < pairs; ++q) {
            tr.read(a.buffer, a.at(i, p0 + 2 * q), static_cast<std::uint64_t>(mr));
            if (2 * q + 1 < depth) {
              tr.read(a.buffer, a.at(i, p0 + 2 * q + 1), static_cast<std::uint64_t>(mr));
            }
            tr.write(apack, base + static_cast<std::uint64_t>(q) * kTraceNr * 2, kTraceNr * 2);
          }
          tr.op_end();
          continue;
        }
        mode[k] = APanel::kRows;
        for (int r = 0; r < mr; ++r) {
          if (a.cs == 1) {
            tr.read(a.buffer, a.at(i + r, p0), static_cast<std::uint64_t>(depth));
          } else {
            for (int p = 0; p < depth; ++p) tr.read(a.buffer, a.at(i + r, p0 + p), 1);
          }
          tr.write(apack, base + static_cast<std::uint64_t>(r) * pairs * 2,
                   static_cast<std::uint64_t>(pairs) * 2);
        }
        tr.op_end();
      }
      for (int jp = 0; jp < panels; ++jp) {
        const int j0 = jp * kTraceNr;
        const int nc = std::min(kTraceNr, N - j0);
        for (int k = 0; k < nb; ++k) {
          const int i = (mb + k) * kMr;
          const int mr = std::min(kMr, M - i);
          for (int g = 0; g < 2 * pairs; g += kGroup) {
            const int gl = std::min(kGroup, 2 * pairs - g);
            if (mode[k] == APanel::kPairs) {  // the group's pair rows, one line each
              tr.read(apack, k * apanel_units + static_cast<std::uint64_t>(g) * kTraceNr,
                      static_cast<std::uint64_t>(gl) * kTraceNr);
            }
            for (int r = 0; r < kMr && mode[k] != APanel::kPairs; ++r) {
              if (mode[k] == APanel::kDirect) {
                tr.read(a.buffer, a.at(i + r, p0 + g), static_cast<std::uint64_t>(gl));
              } else {
                tr.read(apack, k * apanel_units + static_cast<std::uint64_t>(r) * pairs * 2 + g,
                        static_cast<std::uint64_t>(gl));
              }
            }
            tr.read(pack, jp * panel_units + static_cast<std::uint64_t>(p0 + g) * kTraceNr,
                    static_cast<std::uint64_t>(gl) * kTraceNr);
          }
          for (int r = 0; r < mr; ++r) {
            if (accumulate || q0 > 0) trace_row_run(tr, c, i + r, j0, nc);
            tr.write(c.buffer, c.at(i + r, j0), static_cast<std::uint64_t>(nc));
          }
          tr.op_end();
        }
      }
    }
  }
}

// The untiled i, j, p triple loop (see the header comment).
template <class Tracer>
void trace_gemm_naive(Tracer& tr, int M, int N, int K, const TracedMatrix& a, const TracedMatrix& b,
                      const TracedMatrix& c) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      for (int p = 0; p < K; ++p) {
        tr.read(a.buffer, a.at(i, p), 1);
        tr.read(b.buffer, b.at(p, j), 1);
      }
      tr.write(c.buffer, c.at(i, j), 1);
      tr.op_end();
    }
}

}  // namespace cube::gpt
