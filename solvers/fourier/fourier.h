// cube/solvers/fourier/fourier.h: exact Fourier (Walsh) search over k-subsets for the sparse
// family: parity, noisy parity, sum, AND, majority and threshold.
//
// What: recovers the relevant set S (|S| = k, k given as a parameter, as the group's harness
// passes k_sparse) from i.i.d. samples and predicts the test labels with the recovered rule.
// The group's `fourier` (sparse-parity.md §2.3 #38, §2.5 for sum / AND / majority / threshold).
//
// Math (x in {-1,+1}^n, N training rows, chi_T(x) = prod_{i in T} x_i):
//   parity:      c_T = mean(y chi_T(x)) over all C(n, k) subsets T; S = argmax |c_T| (the first
//                in lexicographic order); predict sign(c_S) chi_S(x). c_S = 1 exactly for a
//                noiseless parity, 1 - 2p in expectation under label noise p.
//   first_order: c_i = mean(y x_i); S = the k bits of largest |c_i| (ties by index); weights
//                w_i = sign(c_i) (+1 when c_i = 0). kInteger labels: predict sum_{i in S} w_i x_i.
//                kSign labels: predict +1 iff sum_{i in S} w_i x_i >= t, with t in [-k, k+1] the
//                first that maximises training accuracy (t = 0 is majority, k - 1 the default
//                threshold).
//   and:         for every k-subset T the exact-match rate mean(y == prod_{i in T} (x_i+1)/2);
//                S = argmax (first); predict prod_{i in S} (x_i+1)/2 in {0, 1}.
// rule = auto picks and for kBit labels, first_order for kInteger, and for kSign runs both
// parity and first_order and keeps first_order only when its training accuracy is strictly
// higher (majority and threshold; parity and noisy parity keep the parity rule).
//
// Algorithm: the training set is packed per column, one bit per row, ceil(N/64) uint64 words
// per column (parity: bit = x_i < 0 and y < 0; and: bit = x_i > 0 and y == 1). Subsets are
// enumerated depth first in lexicographic order with prefix words partial[d] (parity: Y XOR
// columns of the prefix; and: AND of the prefix columns); the last index scans the remaining
// columns with one popcount per word: parity mismatches = popcount(partial XOR column), so
// |c_T| N = |N - 2 mismatches|; and mismatches = popcount((partial AND column) XOR Y). The search
// stops at the first perfect subset (|c_T| = 1, or every row matched): no later subset can score
// higher and ties keep the first, so the answer is the full enumeration's. first_order is a row
// pass of int8 products. popcount uses the POPCNT instruction (as metrics/stack_distance).
//
// Measures: "subsets" = k-subsets scored; "train_accuracy" = the chosen rule's training accuracy.
// Status: kSolved (the search is exhaustive), kTimedOut when the context deadline passes (polled
// every 256 last-level scans; no secret, predictions 0).
//
// Trace (row/column granularity; buffers "x_train", "y_train", "x_test" 1-byte dataset entries,
// "cols" n x words and "ycol" words of packed bits, "partial" k x words, "coef" n 8-byte sums,
// "hist" 2 (2k+1) 4-byte label counts per sum, "secret" k 4-byte indices, "weights" k 1-byte
// signs, "predictions" n_test 1-byte labels):
//   pack block b (rows 64b..64b+63): read x_train rows [64b, 64b+64) and y_train[64b, ...),
//                  write word b of every column and of ycol;                          op_end
//   start:         read ycol, write partial[0] (and: write partial[0] only);          op_end
//   extend prefix: read partial[d], read cols[j], write partial[d+1];                  op_end
//   score subset:  read partial[k-1], read cols[j] (and: also read ycol);              op_end
//   first-order row r: read x_train row r, y_train[r], coef[0, n), write coef[0, n);  op_end
//   select top k:  read coef[0, n), write secret and weights;                          op_end
//   fit t, row r:  read secret, weights, x_train[r][i] for i in S, y_train[r], read and write
//                  hist[entry];                                                        op_end
//   choose t:      read hist;                                                          op_end
//   check row r (kInteger, for train_accuracy): read secret, weights, x_train[r][i] for i in S,
//                  y_train[r];                                                         op_end
//   predict row t: read secret (and weights), read x_test[t][i] for i in S, write
//                  predictions[t];                                                     op_end
//
// Preconditions: binary_dataset() with entries +-1 and n >= k.
// Complexity: parity / and O(C(n, k) N / 64) word operations (at most; less with the early
// stop), O(n N / 64 + k N / 64) memory; first_order O(n N). Allocation-free search loop.
// Reference: sparse-parity.md §2.3 #38 (0.009 s n20k3, 0.14 s n20k5, 1.3 s n100k3, 10.8 s
// n200k3) and §2.5.
#pragma once

#include <cstdint>
#include <string>

#include "core/params.h"
#include "solvers/solver.h"

namespace cube {

struct FourierConfig {
  std::int64_t k = 3;
  std::string rule = "auto";

  template <class V>
  void visit(V& v) {
    v("k", k, "secret size searched (the problem's k)").at_least(1);
    v("rule", rule,
      "parity (degree-k Walsh coefficient), first_order (degree-1 coefficients; sum, majority, "
      "threshold), and (exact-match rate), or auto (from the label kind; see fourier.h)")
        .one_of({"auto", "parity", "first_order", "and"});
  }
};

class FourierSolver : public Solver {
 public:
  explicit FourierSolver(FourierConfig config) : config_(std::move(config)) {}

  // A binary dataset with n >= k whose label kind fits the rule: parity kSign, first_order kSign
  // or kInteger, and kBit, auto any.
  bool supports(const Problem& problem) const override;

  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  // The same solve on a dataset directly (tests and benches). `tracer` may be nullptr.
  static SolveResult solve_dataset(const BinaryDataset& data, const FourierConfig& config,
                                   const RunContext& ctx, RecordingTracer* tracer);

 private:
  FourierConfig config_;
};

}  // namespace cube
