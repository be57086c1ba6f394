// cube/solvers/km/km.h: Kushilevitz-Mansour influence solvers for sparse parity with membership
// queries: `km` and `km_min`.
//
// What: recover the hidden set S (|S| = k, k given as a parameter, as the group's harness passes
// k_sparse) of a parity rule f by asking a QueryOracle (problems/oracle/query_oracle.h) for
// labels of inputs the solver chooses, then predict the oracle's test labels as
// prod_{i in S} x_i. sparse-parity.md §2.3 #46 (harness `km`) and #47 A (KM-min).
//
// Math: the influence of bit i is Inf_i = P_x[f(x) != f(x with bit i flipped)]. For a parity,
// flipping bit i negates the label iff i is in S, so Inf_i = 1 on S and 0 off S, and one query
// pair per bit already decides membership.
//
// km(k, m, verify): for each bit i = 0..n-1 in order, m times: draw x uniform in {-1,+1}^n, query
// f(x), negate x_i in place and query f(x^i); influence_i = number of pairs whose labels
// differ. Candidates: bits sorted by influence (descending, ties by index), the first k plus
// every further bit tied with the k-th, at most 2k. Then `verify` fresh uniform inputs are
// queried once each, and the k-subsets of the candidates (lexicographic in candidate order) are
// checked against those labels; the first subset whose parity matches every one is S. Queries:
// exactly 2 n m + verify (the group's exp: m = 200, 100 verification samples, 8,200 queries at
// n = 20; harness m = 5: 300).
//
// km_min(k): m = 1 and no verification: bits are scanned in order with one query pair each, and
// the scan stops once k bits have flipped their label; those bits are S. Queries: 2 (i_k + 1)
// where i_k is the index at which the k-th flipping bit was found (= max S for a parity), at
// most 2 n (the group's KM-min: 40 labels at n = 20).
//
// Randomness: the inputs come from cube::Rng(stream_seed(ctx.seed(), rng_role("km.queries")))
// (core/rng.h; the harness draws its influence queries from RandomState(seed + 500), a stream
// correlated with the problem of seed + 500); each input is ceil(n/64) words of rng.next(), bit j of
// word w giving x_{64w+j} = -1 when set, as sparse_parity's generator does.
//
// Status: kSolved when a subset verified (km) or k bits flipped (km_min). kMaxIterations
// otherwise (a rule that is not a k-parity): km then returns the subset that agreed with the
// most verification labels (first on ties), km_min the bits that flipped (fewer than k) and
// both predict with the parity of what they return. measures["queries"] = queries this solve
// asked the oracle; measures["candidates"] = candidate bits (km) / bits that flipped (km_min).
//
// Trace (element level; buffers "x" (and for km_min "x_flip") the n 1-byte entries of the
// current query input, "labels" the 2m 1-byte labels of the current bit (2 for km_min),
// "influence" n 4-byte counts, "candidates" c 4-byte indices, "x_verify" verify x n and
// "y_verify" verify 1-byte entries, "secret" k 4-byte indices, "x_test" n_test x n and
// "predictions" n_test 1-byte entries):
//   draw x:        write x[0, n);                                                      op_end
//   km, pair j:    read x[0, n), write labels[2j]; op_end; flip in place: read x[i], write
//                  x[i]; op_end; read x[0, n), write labels[2j+1];                       op_end
//   km_min:        read x[0, n), write x_flip[0, n) (the copy with bit i negated; separate
//                  buffers as §2.3 #47 A); op_end; read x[0, n), write labels[0]; op_end;
//                  read x_flip[0, n), write labels[1];                                  op_end
//   influence i:   read labels[0, 2m), write influence[i];                              op_end
//   candidates:    read influence[0, n) (km_min: influence[i] of each flipped bit),
//                  write candidates[0, c);                                              op_end
//   verify input v: write x_verify[v n, (v+1) n); op_end; read it, write y_verify[v];    op_end
//   check subset on input v: read candidates[c_j] and x_verify[v n + i] for each i of
//                  the subset, read y_verify[v]; stops at the first mismatch;           op_end
//   secret:        read candidates (chosen ones), write secret[0, |S|);                 op_end
//   predict row t: read secret, read x_test[t][i] for each i in S, write predictions[t]; op_end
// A query's reads are those of the input handed to the oracle (all n entries); what the oracle
// does inside is the world's cost, not the solver's.
//
// Preconditions: a query oracle with kSign labels and n >= k.
// Complexity: km O(n m n + verify (n + C(2k, k) k)) time, O(verify n) memory; km_min O(n^2)
// time (each input is drawn whole), O(n) memory.
#pragma once

#include <cstdint>

#include "core/params.h"
#include "solvers/solver.h"

namespace cube {

struct KmConfig {
  std::int64_t k = 3;
  std::int64_t m = 5;
  std::int64_t verify = 100;

  template <class V>
  void visit(V& v) {
    v("k", k, "secret size searched (the problem's k)").at_least(1);
    v("m", m, "query pairs per bit for the influence estimate (5 as the group's harness)")
        .at_least(1);
    v("verify", verify, "fresh queries the candidate subsets are checked on").at_least(1);
  }
};

struct KmMinConfig {
  std::int64_t k = 3;

  template <class V>
  void visit(V& v) {
    v("k", k, "secret size searched (the problem's k)").at_least(1);
  }
};

class KmSolver : public Solver {
 public:
  explicit KmSolver(KmConfig config) : config_(config) {}
  // Problems with a query oracle (kSign labels, n >= k) only.
  bool supports(const Problem& problem) const override;
  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

 private:
  KmConfig config_;
};

class KmMinSolver : public Solver {
 public:
  explicit KmMinSolver(KmMinConfig config) : config_(config) {}
  // Problems with a query oracle (kSign labels, n >= k) only.
  bool supports(const Problem& problem) const override;
  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

 private:
  KmMinConfig config_;
};

}  // namespace cube
