// cube/solvers/bandit/bandit.h: sparse-parity search as a multi-armed bandit (UCB1 over
// k-subsets), the group's "RL bandit" (sparse-parity.md §2.3 #49, findings/exp_rl.md).
//
// What: each arm is a candidate secret T (a k-subset, k given as a parameter); pulling it scores
// the hypothesis y = prod_{i in T} x_i on a random handful of training rows. UCB1 concentrates
// the pulls on the arms that score best; the answer is the arm with a perfect record.
//
// Arms: all C(n, k) subsets in lexicographic order when C(n, k) <= max_arms; otherwise
// max_arms distinct subsets drawn uniformly (each a partial Fisher-Yates of [0, n), sorted;
// repeats redrawn), in draw order. With sampled arms S may be missing (then nothing is perfect).
// Pull of arm a: m = min(pull_samples, n_train) distinct training rows drawn by a partial
// Fisher-Yates over a persistent permutation of the rows; hits_a += #{rows r : prod_{i in a}
// x_ri = y_r}, pulls_a += 1. mean_a = hits_a / (pulls_a m), exact as integers.
// Schedule (episode e = 1, 2, ..., episodes; one pull each): e <= A pulls arm e-1 (each arm once,
// A = number of arms); later episodes pull argmax_a mean_a + sqrt(2 ln(e-1) / pulls_a) (UCB1,
// with e-1 = pulls made so far; ties to the lowest index).
// Stop rule (ours; the group reports finding S "at episode C(n,k)"): at the end of episode A the
// lowest-index arm with a perfect mean (hits = pulls m) and pulls >= min_pulls is accepted; after
// it, the arm just pulled is accepted when it meets the same test. With the default min_pulls = 1
// a parity problem stops at episode C(n, k) exactly (a wrong arm is perfect on m = 50 rows with
// probability 2^-50). Accepted -> kSolved. Budget spent -> kMaxIterations with the arm of the
// best mean (ties: more pulls, then lower index) as the secret. Deadline (polled every 256
// episodes) -> kTimedOut, no secret. Predictions: prod_{i in secret} x_i (all 0 when none).
// Deterministic from the context seed: all draws come from
// Rng(stream_seed(seed, rng_role("bandit.draws"))) (core/rng.h), a stream of its own because
// problems draw their secret from Rng(seed) by the same partial Fisher-Yates that samples arms,
// and the seed's own stream would sample S first.
//
// Measures: "episodes" (pulls made), "arms" (A), "best_mean" (mean of the returned arm).
// epochs is left unset (a pull reads m rows, not the training set).
//
// Trace (element level; buffers "x_train", "y_train", "x_test" 1-byte dataset entries, "arms"
// A x k 4-byte indices, "perm" n_train 4-byte row indices, "hits" and "pulls" A 8-byte counters,
// "secret" k 4-byte indices, "predictions" n_test 1-byte labels):
//   arm a built:    write arms[a];                                                      op_end
//   perm init:      write perm;                                                          op_end
//   UCB selection:  read hits, read pulls (whole buffers);                               op_end
//   row draw i:     read perm[i], read perm[j], write perm[i], write perm[j];           op_end
//   score row:      read arms[a], read perm[i], read y_train[r], read x_train[r][i] for i in a;
//                                                                                        op_end
//   update:         read hits[a], read pulls[a], write hits[a], write pulls[a];         op_end
//   best-mean pick: (budget spent only) read hits, read pulls;                          op_end
//   secret:         read arms[a], write secret;                                          op_end
//   predict row t:  read secret, read x_test[t][i] for i in the secret, write predictions[t];
//                                                                                        op_end
//
// Preconditions: binary_dataset() with kSign labels, n >= k, n_train >= 1.
// Complexity: O(A k) to build the arms (sampling: expected O(A k log A)); per episode O(m k) for
// the pull plus O(A) for the UCB argmax; memory O(A k + n_train).
// Reference: sparse-parity.md §2.3 #49: n10k3 / n20k3, ntr 500 / 1000, 1000 / 3000 episodes,
// found at episode 120 / 1140, 0.034 s / 0.12 s.
#pragma once

#include <cstdint>

#include "core/params.h"
#include "solvers/solver.h"

namespace cube {

struct BanditConfig {
  std::int64_t k = 3;
  std::int64_t max_arms = 5000;
  std::int64_t pull_samples = 50;
  std::int64_t episodes = 3000;
  std::int64_t min_pulls = 1;

  template <class V>
  void visit(V& v) {
    v("k", k, "secret size: arms are k-subsets (the problem's k)").at_least(1);
    v("max_arms", max_arms, "all k-subsets if C(n,k) <= max_arms, else this many sampled")
        .at_least(1);
    v("pull_samples", pull_samples, "training rows scored per pull (min with n_train)").at_least(1);
    v("episodes", episodes, "pull budget (one pull per episode)").at_least(1);
    v("min_pulls", min_pulls, "pulls before a perfect arm is accepted").at_least(1);
  }
};

class BanditSolver : public Solver {
 public:
  explicit BanditSolver(BanditConfig config) : config_(config) {}

  // A binary dataset with kSign labels, n >= k and at least one training row.
  bool supports(const Problem& problem) const override;

  SolveResult solve(const Problem& problem, const RunContext& ctx,
                    RecordingTracer* tracer) override;

  // The same solve on a dataset directly (tests and benches). `tracer` may be nullptr.
  static SolveResult solve_dataset(const BinaryDataset& data, const BanditConfig& config,
                                   const RunContext& ctx, RecordingTracer* tracer);

 private:
  BanditConfig config_;
};

}  // namespace cube
