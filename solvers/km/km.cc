// cube/solvers/km/km.cc: the km and km_min influence solvers over a membership-query oracle,
// written once over the tracer type (see km.h for the math, the query counts and the trace).

#include "solvers/km/km.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "core/combinatorics.h"
#include "core/index_cast.h"
#include "core/rng.h"
#include "problems/oracle/query_oracle.h"

namespace cube {
namespace {

struct KmPlan {
  std::int64_t k = 3;
  std::int64_t m = 5;
  std::int64_t verify = 0;  // 0: km_min (no verification)
  bool stop_at_k = false;   // km_min: stop the scan once k bits flipped
};

static_assert(std::endian::native == std::endian::little, "draw_input's table is little-endian");

// Byte patterns of every 8-bit value: byte b is -1 (0xff) where bit b is set, else +1.
struct ExpandTable {
  std::uint64_t bytes[256];
  constexpr ExpandTable() : bytes() {
    for (int v = 0; v < 256; ++v)
      for (int b = 0; b < 8; ++b)
        bytes[v] |= std::uint64_t{((v >> b) & 1) ? 0xffu : 0x01u} << (8 * b);
  }
};
constexpr ExpandTable kExpand;

// x_j = -1 where bit j of the stream's words is set (the sparse_parity row encoding), eight
// entries per table lookup (the table is in little-endian byte order, as x86 and ARM). Writes
// whole 8-entry chunks: x must have 7 bytes of slack past x[n-1]; draws of later entries
// overwrite them.
inline void draw_input(Rng& rng, std::int64_t n, std::int8_t* x) {
  for (std::int64_t w = 0; w * 64 < n; ++w) {
    const std::uint64_t word = rng.next();
    const std::int64_t bits = std::min<std::int64_t>(64, n - w * 64);
    for (std::int64_t b = 0; b < bits; b += 8) {
      const std::uint64_t pattern = kExpand.bytes[(word >> b) & 0xff];
      std::memcpy(x + w * 64 + b, &pattern, 8);
    }
  }
}

using namespace index_cast;  // NOLINT(build/namespaces): I64, U64, u(), z()

// One search: the influence scan, the candidates, their verification and the test predictions,
// each a phase with its trace (km.h).
template <class Tracer>
class KmSearch {
 public:
  KmSearch(const QueryOracle& oracle, const KmPlan& plan, std::uint64_t seed, Tracer& tracer)
      : oracle_(oracle),
        plan_(plan),
        tracer_(tracer),
        rng_(stream_seed(seed, rng_role("km.queries"))),
        n_(oracle.n_bits),
        x_id_(tracer.buffer("x", 1, u(n_))),
        x_flip_id_(plan.stop_at_k ? tracer.buffer("x_flip", 1, u(n_)) : BufferId{0}),
        labels_id_(tracer.buffer("labels", 1, u(2 * plan.m))),
        influence_id_(tracer.buffer("influence", 4, u(n_))),
        x_(z(n_ + 8)),  // 8 bytes of slack: draw_input writes whole 8-entry chunks
        x_flip_(z(n_)),
        labels_(z(2 * plan.m)),
        influence_(z(n_), 0) {}

  SolveResult run();

 private:
  void query_pair(I64 i, I64 j);
  void scan_influences();
  void select_candidates();
  bool verify();
  void predict(const std::vector<int>& secret, SolveResult& result);

  const QueryOracle& oracle_;
  const KmPlan& plan_;
  Tracer& tracer_;
  Rng rng_;
  const I64 n_;
  const BufferId x_id_, x_flip_id_, labels_id_, influence_id_;
  BufferId candidates_id_ = 0;
  std::vector<std::int8_t> x_, x_flip_, labels_;
  std::vector<std::int32_t> influence_;
  std::vector<int> flipped_;     // km_min: bits whose label flipped, in scan order
  std::vector<int> candidates_;  // bits that may be in the secret
  std::vector<int> chosen_;      // positions into candidates_
};

// Labels 2j and 2j + 1 of bit i: a fresh input and the same input with bit i flipped.
template <class Tracer>
void KmSearch<Tracer>::query_pair(I64 i, I64 j) {
  const U64 un = u(n_);
  draw_input(rng_, n_, x_.data());
  tracer_.write(x_id_, 0, un);
  tracer_.op_end();
  if (plan_.stop_at_k) {
    // km_min: separate x and x_flip buffers (§2.3 #47 A).
    std::memcpy(x_flip_.data(), x_.data(), z(n_));
    x_flip_[z(i)] = static_cast<std::int8_t>(-x_[z(i)]);
    tracer_.read(x_id_, 0, un);
    tracer_.write(x_flip_id_, 0, un);
    tracer_.op_end();
    labels_[z(2 * j)] = oracle_.label(x_.data());
    tracer_.read(x_id_, 0, un);
    tracer_.write(labels_id_, u(2 * j), 1);
    tracer_.op_end();
    labels_[z(2 * j + 1)] = oracle_.label(x_flip_.data());
    tracer_.read(x_flip_id_, 0, un);
    tracer_.write(labels_id_, u(2 * j + 1), 1);
    tracer_.op_end();
  } else {
    // km: the harness's in-place flip of the drawn input.
    labels_[z(2 * j)] = oracle_.label(x_.data());
    tracer_.read(x_id_, 0, un);
    tracer_.write(labels_id_, u(2 * j), 1);
    tracer_.op_end();
    x_[z(i)] = static_cast<std::int8_t>(-x_[z(i)]);
    tracer_.read(x_id_, u(i), 1);
    tracer_.write(x_id_, u(i), 1);
    tracer_.op_end();
    labels_[z(2 * j + 1)] = oracle_.label(x_.data());
    tracer_.read(x_id_, 0, un);
    tracer_.write(labels_id_, u(2 * j + 1), 1);
    tracer_.op_end();
  }
}

// influence[i] = how many of the m pairs of bit i changed the label (km_min stops at k bits).
template <class Tracer>
void KmSearch<Tracer>::scan_influences() {
  const I64 m = plan_.m;
  for (I64 i = 0; i < n_; ++i) {
    for (I64 j = 0; j < m; ++j) query_pair(i, j);
    std::int32_t changes = 0;
    for (I64 j = 0; j < m; ++j) changes += labels_[z(2 * j)] != labels_[z(2 * j + 1)];
    influence_[z(i)] = changes;
    tracer_.read(labels_id_, 0, u(2 * m));
    tracer_.write(influence_id_, u(i), 1);
    tracer_.op_end();
    if (plan_.stop_at_k && changes > 0) {
      flipped_.push_back(static_cast<int>(i));
      if (static_cast<I64>(flipped_.size()) == plan_.k) break;
    }
  }
}

// km_min takes the bits that flipped; km the top k by influence plus ties with the k-th, at
// most 2k.
template <class Tracer>
void KmSearch<Tracer>::select_candidates() {
  const I64 k = plan_.k;
  if (plan_.stop_at_k) {
    candidates_ = flipped_;
  } else {
    std::vector<int> order(z(n_));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return influence_[z(a)] > influence_[z(b)]; });
    const std::int32_t kth = influence_[z(order[z(k - 1)])];
    for (I64 r = 0; r < n_ && r < 2 * k; ++r) {
      const int bit = order[z(r)];
      if (r >= k && influence_[z(bit)] != kth) break;
      candidates_.push_back(bit);
    }
  }
  const U64 c = candidates_.size();
  candidates_id_ = tracer_.buffer("candidates", 4, c);
  if (plan_.stop_at_k) {
    for (int bit : candidates_) tracer_.read(influence_id_, u(bit), 1);
  } else {
    tracer_.read(influence_id_, 0, u(n_));
  }
  if (c) tracer_.write(candidates_id_, 0, c);
  tracer_.op_end();
}

// km: the k-subset of the candidates that agrees with `verify` fresh queries (the first that
// agrees with all, else the best-agreeing one); km_min takes all candidates. Whether solved.
template <class Tracer>
bool KmSearch<Tracer>::verify() {
  const I64 k = plan_.k;
  if (plan_.stop_at_k) {
    chosen_.resize(candidates_.size());
    std::iota(chosen_.begin(), chosen_.end(), 0);
    return static_cast<I64>(candidates_.size()) == k;
  }
  const I64 v_count = plan_.verify;
  const BufferId xv_id = tracer_.buffer("x_verify", 1, u(v_count * n_));
  const BufferId yv_id = tracer_.buffer("y_verify", 1, u(v_count));
  std::vector<std::int8_t> xv(z(v_count * n_ + 8)), yv(z(v_count));
  for (I64 v = 0; v < v_count; ++v) {
    draw_input(rng_, n_, xv.data() + v * n_);
    tracer_.write(xv_id, u(v * n_), u(n_));
    tracer_.op_end();
    yv[z(v)] = oracle_.label(xv.data() + v * n_);
    tracer_.read(xv_id, u(v * n_), u(n_));
    tracer_.write(yv_id, u(v), 1);
    tracer_.op_end();
  }
  I64 best_agree = -1;
  const auto c = static_cast<int>(candidates_.size());
  for (const std::vector<int>& subset : k_subsets(c, static_cast<int>(k))) {
    I64 agree = 0;
    for (I64 v = 0; v < v_count; ++v) {
      const std::int8_t* row = xv.data() + v * n_;
      int negatives = 0;
      for (int pos : subset) {
        const int bit = candidates_[z(pos)];
        negatives += row[bit] < 0;
        tracer_.read(candidates_id_, u(pos), 1);
        tracer_.read(xv_id, u(v * n_ + bit), 1);
      }
      tracer_.read(yv_id, u(v), 1);
      tracer_.op_end();
      if (((negatives & 1) ? -1 : 1) != yv[z(v)]) break;
      ++agree;
    }
    if (agree > best_agree) {
      best_agree = agree;
      chosen_ = subset;
    }
    if (agree == v_count) return true;
  }
  return false;
}

// The parity of the secret bits of every test row.
template <class Tracer>
void KmSearch<Tracer>::predict(const std::vector<int>& secret, SolveResult& result) {
  const U64 s = secret.size();
  const I64 n_test = oracle_.n_test;
  const BufferId secret_id = tracer_.buffer("secret", 4, s);
  for (int pos : chosen_) tracer_.read(candidates_id_, u(pos), 1);
  if (s) tracer_.write(secret_id, 0, s);
  tracer_.op_end();
  const BufferId x_test_id = tracer_.buffer("x_test", 1, u(n_test * n_));
  const BufferId predictions_id = tracer_.buffer("predictions", 1, u(n_test));
  result.test_predictions.resize(z(n_test));
  for (I64 t = 0; t < n_test; ++t) {
    const std::int8_t* row = oracle_.test_row(t);
    int negatives = 0;
    for (int i : secret) negatives += row[i] < 0;
    result.test_predictions[z(t)] = (negatives & 1) ? -1 : 1;
    if constexpr (Tracer::kEnabled) {
      if (s) tracer_.read(secret_id, 0, s);
      for (int i : secret) tracer_.read(x_test_id, u(t * n_ + i), 1);
      tracer_.write(predictions_id, u(t), 1);
      tracer_.op_end();
    }
  }
}

template <class Tracer>
SolveResult KmSearch<Tracer>::run() {
  const I64 queries_before = oracle_.queries();
  scan_influences();
  select_candidates();
  const bool solved = verify();
  std::vector<int> secret;
  for (int pos : chosen_) secret.push_back(candidates_[z(pos)]);
  std::sort(secret.begin(), secret.end());
  SolveResult result;
  predict(secret, result);
  result.measures["queries"] = static_cast<double>(oracle_.queries() - queries_before);
  result.measures["candidates"] = static_cast<double>(candidates_.size());
  if (solved) {
    result.status = SolveStatus::kSolved;
  } else {
    const std::string found = std::to_string(candidates_.size());
    result.status = SolveStatus::kMaxIterations;
    result.message = plan_.stop_at_k ? "only " + found + " of k = " + std::to_string(plan_.k) +
                                           " bits flipped the label (not a k-parity?)"
                                     : "no k-subset of the " + found + " candidates matched all " +
                                           std::to_string(plan_.verify) +
                                           " verification queries; returning the best-agreeing one";
  }
  result.secret = std::move(secret);
  return result;
}

bool supports_oracle(const Problem& problem, std::int64_t k) {
  const QueryOracle* oracle = problem.query_oracle();
  return oracle != nullptr && oracle->label_kind == LabelKind::kSign && oracle->n_bits >= k;
}

SolveResult dispatch(const Problem& problem, const KmPlan& plan, const RunContext& ctx,
                     RecordingTracer* tracer) {
  const QueryOracle* oracle = problem.query_oracle();
  CUBE_CHECK(oracle != nullptr && oracle->n_bits >= plan.k,
             "km: needs a query oracle with n >= k (check supports() first)");
  if (tracer) return KmSearch<RecordingTracer>(*oracle, plan, ctx.seed(), *tracer).run();
  NullTracer off;
  return KmSearch<NullTracer>(*oracle, plan, ctx.seed(), off).run();
}

}  // namespace

bool KmSolver::supports(const Problem& problem) const {
  return supports_oracle(problem, config_.k);
}

SolveResult KmSolver::solve(const Problem& problem, const RunContext& ctx,
                            RecordingTracer* tracer) {
  return dispatch(problem, KmPlan{config_.k, config_.m, config_.verify, false}, ctx, tracer);
}

bool KmMinSolver::supports(const Problem& problem) const {
  return supports_oracle(problem, config_.k);
}

SolveResult KmMinSolver::solve(const Problem& problem, const RunContext& ctx,
                               RecordingTracer* tracer) {
  return dispatch(problem, KmPlan{config_.k, 1, 0, true}, ctx, tracer);
}

CUBE_REGISTER(Solver, KmSolver, KmConfig, "km",
              "Kushilevitz-Mansour: bit influences from m query pairs each, top-k, verified");
CUBE_REGISTER(Solver, KmMinSolver, KmMinConfig, "km_min",
              "KM-min: one query pair per bit, stop once k bits flip the label");

}  // namespace cube
