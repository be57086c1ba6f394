// cube/solvers/gf2/gf2.h: exact sparse-parity solver by Gaussian elimination over GF(2).
//
// What: recovers the hidden set S of a parity problem from i.i.d. samples and predicts the test
// labels as prod_{i in S} x_i. No network, no iterations, no parameters.
//
// Math: map x = -1 -> bit 1 and x = +1 -> bit 0, i.e. x_i = (-1)^{b_i}. Then
//   y = prod_{i in S} x_i = (-1)^{sum_{i in S} b_i}   <=>   ybit = XOR_{i in S} b_i  (mod 2),
// with ybit = 1 for y = -1. The system A s = ybit is linear over GF(2) for every k, so one
// right-hand side suffices. (The group's solvers map x = +1 -> 1, y_bit = (y+1)/2, which gives
// y_bit = 1 - XOR for even k and forces them to try both right-hand sides: sparse-parity.md §1.1.)
//
// Algorithm: each training row is packed into ceil((n+1)/64) uint64 words, columns 0..n-1 = the
// bits b_i, column n = ybit, and inserted into a row-echelon basis: while the row has a set bit
// in columns < n, let c be the lowest; if some basis row has pivot c, XOR that row into it (a row
// operation), else the row becomes the basis row of pivot c. Rows reducing to zero are dropped
// (a zero row with ybit = 1 is an inconsistency). The first min(n+1, n_train) rows are always
// inserted; while the rank is below n, further training rows are inserted one at a time until
// rank n or the training set is exhausted. Back-substitution (pivots in decreasing column order,
// free variables = 0) gives s; S = {i : s_i = 1}, sorted ascending.
//
// Status: kSolved when the rank reaches n and no inserted row was inconsistent (S is then the
// unique solution). kMaxIterations, with a message, when the training set ran out at rank < n
// (S is the solution with free variables 0) or when an inconsistent row was seen (labels are
// not an exact parity of the inputs, e.g. label noise; S solves the consistent rows). epochs is
// left unset.
//
// Trace (row level; buffers: "x_train", "y_train", "x_test" 1-byte dataset entries, "A" the
// (n+1) x words basis slots of 8-byte words, "pivot" n 4-byte slot indices, "s" the packed
// solution words, "secret" |S| 4-byte indices, "predictions" n_test 1-byte labels):
//   pack row:      read x_train row, read y_train entry, write A working slot;          op_end
//   row operation: read pivot[c], read A pivot row, read A working row, write A working row
//                  (words c/64 .. words-1, the only ones a pivot-c row can touch);        op_end
//   new pivot:     read pivot[c], write pivot[c];                                         op_end
//   back-subst.:   read pivot[c]; for a pivot column also read A pivot row and s, write s;  op_end
//   secret:        read s, write secret;                                                  op_end
//   predict row t: read secret, read x_test[t][i] for each i in S, write predictions[t];  op_end
//
// Preconditions: binary_dataset() with entries +-1 (0 is read as +1).
// Complexity: O(R (n + r words)) for R inserted rows and rank r <= n, plus O(n_test |S|);
// memory (n+1) * ceil((n+1)/64) words. Allocation-free inner loops.
// Reference: Gaussian elimination over GF(2) on bit-packed rows; sparse-parity.md §2.3 #44
// (the group's exp_gf2: 509 us at n=20/k=3, 8.07 ms at n=100/k=3).
#pragma once

#include "core/params.h"
#include "solvers/solver.h"

namespace cube {

class Gf2Solver : public Solver {
 public:
  explicit Gf2Solver(NoParams = {}) {}

  // Parity-like data: a BinaryDataset with +-1 labels (sums and ANDs are not linear over GF(2)).
  bool supports(const Problem& problem) const override {
    const BinaryDataset* data = problem.binary_dataset();
    return data != nullptr && data->label_kind == LabelKind::kSign;
  }

  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  // The same solve on a dataset directly (tests and benches). `tracer` may be nullptr.
  static SolveResult solve_dataset(const BinaryDataset& data, RecordingTracer* tracer);
};

}  // namespace cube
