// cube/solvers/dally_ir/dally_optimize.h: the `dally_optimize` solver: writes its own explicit-
// address program for a dally_* task, then runs it like any IR (ir_solvers.h), so the `dally`
// metric prices it from the trace.
//
// What: for each family, a generator writes the computation as a value program (SSA, models/
// dally_ir/value_program.h) and the allocator places every value (lifetime colouring by read
// count: hot short-lived values share the cheapest cells, outputs reuse dead input cells). The
// generators (dally-ir.md §2.5, §3.4, and what the allocator makes possible):
//   matmul n×n (v0): outer-product blocking. C is computed in tiles (rows × columns; tiles need
//     not divide n); per k-block of u consecutive k, the tile's B[k][j] and each row's A[i][k]
//     are copied once into fresh values (the allocator puts those hot copies at the lowest
//     addresses), the u products of C[i][j] are summed in hot cells before the accumulator is
//     read (k unrolled: accumulator reads / u), the last add of C[i][j] is the output value. The
//     search: every uniform tile shape of 4..64 products (row- or column-major tile order, A
//     staged per tile row), and one tile row by near-equal column tiles (2..4 widths within 3 of
//     each other, e.g. 16 × (5+5+6): B read once, A three times), u = 1 or 2; candidates are
//     ranked by chain colouring and the best few placed again shell by shell.
//   sparse parity (v3, k-sparse over n bits, m_train <= 8 rows): each train column and the
//     label vector packed into one byte (Horner: v = v + v + x), then a prefix tree over the
//     C(n,k) candidates: q(prefix) = y ^ col_a ^ ... , ind(subset) = [q(prefix) == col_last];
//     G(node) = OR of its children's indicators and secret bit s_c = OR over tree nodes ending in
//     c (exactly one candidate matches, so s_c = [c in secret]). For k = n - 1 (the small task) a
//     row-wise variant is cheaper: s_c = OR_i (y_i ^ XOR_{j != c} x_ij). Test row r:
//     pred = XOR_c (x_rc AND s_c). medium_approx50 predicts the first half of the rows exactly
//     and points the rest at one `set 0` cell (>= 50% correct on every case, dally-ir.md §2.5).
//   symmetry (v3): AND over mirror pairs of cmp eq.
// Correctness is the scorer's (every case of the task is run), never assumed. The search runs once
// per task shape and process (the program never depends on the cases): the first cell of a shape
// pays it (16×16 matmul: 2.5-3.5 s here), later cells reuse the program.
// Records it is compared with (dally-ir.md §2.4, §3.3): matmul 16×16 66,707; sparse parity small
// 1,932, medium 15,691; docs/results/dally-optimize.md has the table.
// Complexity: matmul O(S · A · n³) for S candidate schedules and A addresses used (~n²): 218
// candidates for n = 16; parity O(C(n,k) + m_test·n) values; each allocation O(A · V).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/dally_ir/value_program.h"
#include "problems/dally/dally_problems.h"
#include "solvers/solver.h"

namespace cube {

// One outer-product blocking of C = A·B (n×n, v0). tile_rows and tile_cols divide n.
struct MatmulSchedule {
  int tile_rows = 1;
  int tile_cols = 1;
  bool column_major_tiles = false;  // tile order: false = row of tiles after row of tiles
  bool stage_a = false;       // copy a tile row's A values once when the row starts (not the first)
  int k_unroll = 1;           // products summed in hot cells over this many k before C is read
  std::vector<int> k_blocks;  // if not empty: the k-block sizes in order (sum n), not k_unroll
  std::vector<int> row_heights;  // if not empty: the tile rows' heights (sum n), not tile_rows
  std::vector<int> col_widths;   // if not empty: the tile columns' widths (sum n), not tile_cols

  // Uniform tiles of rows × cols, k unrolled `unroll`.
  static MatmulSchedule uniform(int rows, int cols, bool column_major, bool stage_a, int unroll) {
    MatmulSchedule s;
    s.tile_rows = rows;
    s.tile_cols = cols;
    s.column_major_tiles = column_major;
    s.stage_a = stage_a;
    s.k_unroll = unroll;
    return s;
  }
};
DallyValueProgram matmul_value_program(int n, const MatmulSchedule& schedule);

// Sparse parity over n bits, secret weight k, m_train train rows (<= 8: one byte per column),
// m_test test rows; exact_rows < m_test predicts only the first exact_rows rows exactly and
// outputs a `set 0` cell for the rest. row_wise (only for k = n - 1) picks the row-wise learner.
struct ParityProgramShape {
  int n = 3, k = 2, m_train = 4, m_test = 32;
  int exact_rows = 32;
  bool row_wise = false;
};
DallyValueProgram sparse_parity_value_program(const ParityProgramShape& shape);

DallyValueProgram symmetry_value_program(int bits);

// The cheapest program the generators find for `task`, as IR text, with its static cost and a
// one-line description of how it was made. Throws Error for a family it has no generator for.
struct DallyOptimizedProgram {
  std::string text;
  std::uint64_t cost = 0;
  std::string method;
};
DallyOptimizedProgram optimize_dally_program(const DallyTask& task);

class DallyOptimizeSolver : public Solver {
 public:
  explicit DallyOptimizeSolver(NoParams) {}
  // dally_matmul (any n), dally_sparse_parity (m_train <= 8), dally_symmetry.
  bool supports(const Problem& problem) const override;
  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;
};

}  // namespace cube
