// cube/solvers/smt/smt.h: exact sparse-parity solver by backtracking search over k-subsets.
//
// What: recovers the hidden set S (|S| = k, k given as a parameter, as the group's
// solve(x, y, n_bits, k_sparse) is given it) of a parity problem from i.i.d. samples and predicts
// the test labels as prod_{i in S} x_i. The group's "SMT backtracking" (sparse-parity.md §2.3
// #48, harness `smt`).
//
// Math: with b_i = (x_i < 0) and ybit = (y < 0), y = prod_{i in S} x_i on a row is
//   ybit XOR b_{i1} XOR ... XOR b_{ik} = 0.
// Over the m rows the search uses, column i is the m-bit vector c_i = (b_i of each row) and
// Y = (ybit of each row). A tuple i1 < ... < ik matches the rows iff
//   c_{ik} = Y XOR c_{i1} XOR ... XOR c_{i(k-1)}   ("y times the partial product").
//
// Algorithm: pack c_i and Y into ceil(m/64) uint64 words each (m = min(samples, n_train), the
// first m training rows). Depth-first search over increasing index prefixes in lexicographic
// order: a prefix of length d < k-1 is extended by each next index j (partial[d+1] = partial[d]
// XOR c_j, with partial[0] = Y), leaving room for the remaining indices; at a prefix of length
// k-1 the required last column partial[k-1] is compared word by word (XOR, stop at the first
// differing word) against every column j after the prefix's last index. A column that matches
// gives a full tuple (a candidate). With verify = true the candidate must also match every other
// training row (checked on the int8 data, stopping at the first mismatch); a rejected candidate
// lets the search go on. The first accepted tuple is the lexicographically first k-subset that
// matches the rows used (and, with verify, every training row): the answer a brute-force scan
// of all k-subsets in lexicographic order would give.
//
// Measures: "nodes" = prefixes of length 1..k-1 the search built (one column XOR each) plus the
// candidates (full tuples whose column matched); "column_compares" = last-column comparisons;
// "rejected" = candidates refused by verify; "samples_used" = m. The group's node count
// (88 at n20k3) counts its own recursion, so the figures are comparable only in order.
//
// Status: kSolved with the secret when a tuple is accepted. kMaxIterations, no secret and all
// test predictions 0 (no answer) when no k-subset matches (labels that are not a k-parity:
// noise, majority, threshold). kTimedOut when the context deadline passes (polled every 1024
// prefixes of length k-1).
//
// Trace (word level; buffers "x_train", "y_train", "x_test" 1-byte dataset entries, "cols" the
// n x words packed columns, "partial" the k x words partial products (row 0 = Y), "secret" k
// 4-byte indices, "predictions" n_test 1-byte labels; the k loop indices live in registers):
//   pack column i:  read x_train[r][i] for each used row r (one event each), write cols[i];  op_end
//   pack labels:    read y_train[0, m), write partial[0];                                   op_end
//   extend prefix:  read partial[d], read cols[j], write partial[d+1]; op_end compare:        read
//   the words of partial[k-1] and cols[j] examined (up to the first
//                   differing word);                                                         op_end
//   verify row r:   read y_train[r], read x_train[r][i] for i in the tuple; op_end secret: write
//   secret;                                                            op_end predict row t:  read
//   secret, read x_test[t][i] for each i in S, write predictions[t];     op_end
//
// Preconditions: binary_dataset() with kSign labels and entries +-1 (0 is read as +1), n >= k.
// Complexity: O(n m) to pack; the search visits O(C(n, k-1)) prefixes in the worst case, each
// scanning O(n) columns of ceil(m/64) words: O(C(n, k-1) n m / 64) words compared, O(m n / 64)
// memory. The expected work is far less: the search stops at S, whose position in the
// lexicographic order is uniform. Allocation-free search loop.
// Reference: sparse-parity.md §2.3 #48 (exp_smt, BT: n20k3 1.7 ms, n50k3 26 ms, n100k3 183 ms,
// n20k5 46 ms); harness samples = max(10, min(n_train, 20)) = 20 (§1.4), the default here.
#pragma once

#include <cstdint>

#include "core/params.h"
#include "solvers/solver.h"

namespace cube {

struct SmtConfig {
  std::int64_t k = 3;
  std::int64_t samples = 20;
  bool verify = true;

  template <class V>
  void visit(V& v) {
    v("k", k, "secret size searched (the problem's k)").at_least(1);
    v("samples", samples,
      "training rows the search matches on (min with n_train); 20 as the group's harness")
        .at_least(1);
    v("verify", verify,
      "accept a candidate only if it also matches every training row (false: the group's "
      "first match on the rows used)");
  }
};

class SmtSolver : public Solver {
 public:
  explicit SmtSolver(SmtConfig config) : config_(config) {}

  // A binary dataset with kSign labels and n >= k.
  bool supports(const Problem& problem) const override;

  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  // The same solve on a dataset directly (tests and benches). `tracer` may be nullptr.
  static SolveResult solve_dataset(const BinaryDataset& data, const SmtConfig& config,
                                   const RunContext& ctx, RecordingTracer* tracer);

 private:
  SmtConfig config_;
};

}  // namespace cube
