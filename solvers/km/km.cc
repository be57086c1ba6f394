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

template <class Tracer>
SolveResult run(const QueryOracle& oracle, const KmPlan& plan, std::uint64_t seed, Tracer& tracer) {
  const std::int64_t n = oracle.n_bits;
  const std::int64_t k = plan.k;
  const std::int64_t m = plan.m;
  const std::int64_t queries_before = oracle.queries();
  Rng rng(seed + 500);

  const auto un = static_cast<std::uint64_t>(n);
  const BufferId x_id = tracer.buffer("x", 1, un);
  const BufferId x_flip_id = plan.stop_at_k ? tracer.buffer("x_flip", 1, un) : BufferId{0};
  const BufferId labels_id = tracer.buffer("labels", 1, static_cast<std::uint64_t>(2 * m));
  const BufferId influence_id = tracer.buffer("influence", 4, un);

  // 8 bytes of slack: draw_input writes whole 8-entry chunks.
  std::vector<std::int8_t> x(static_cast<std::size_t>(n + 8)), x_flip(static_cast<std::size_t>(n));
  std::vector<std::int8_t> labels(static_cast<std::size_t>(2 * m));
  std::vector<std::int32_t> influence(static_cast<std::size_t>(n), 0);
  std::vector<int> flipped;  // km_min: bits whose label flipped, in scan order

  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < m; ++j) {
      draw_input(rng, n, x.data());
      tracer.write(x_id, 0, un);
      tracer.op_end();
      if (plan.stop_at_k) {
        // km_min: separate x and x_flip buffers (§2.3 #47 A).
        std::memcpy(x_flip.data(), x.data(), static_cast<std::size_t>(n));
        x_flip[static_cast<std::size_t>(i)] =
            static_cast<std::int8_t>(-x[static_cast<std::size_t>(i)]);
        tracer.read(x_id, 0, un);
        tracer.write(x_flip_id, 0, un);
        tracer.op_end();
        labels[static_cast<std::size_t>(2 * j)] = oracle.label(x.data());
        tracer.read(x_id, 0, un);
        tracer.write(labels_id, static_cast<std::uint64_t>(2 * j), 1);
        tracer.op_end();
        labels[static_cast<std::size_t>(2 * j + 1)] = oracle.label(x_flip.data());
        tracer.read(x_flip_id, 0, un);
        tracer.write(labels_id, static_cast<std::uint64_t>(2 * j + 1), 1);
        tracer.op_end();
      } else {
        // km: the harness's in-place flip of the drawn input.
        labels[static_cast<std::size_t>(2 * j)] = oracle.label(x.data());
        tracer.read(x_id, 0, un);
        tracer.write(labels_id, static_cast<std::uint64_t>(2 * j), 1);
        tracer.op_end();
        x[static_cast<std::size_t>(i)] = static_cast<std::int8_t>(-x[static_cast<std::size_t>(i)]);
        tracer.read(x_id, static_cast<std::uint64_t>(i), 1);
        tracer.write(x_id, static_cast<std::uint64_t>(i), 1);
        tracer.op_end();
        labels[static_cast<std::size_t>(2 * j + 1)] = oracle.label(x.data());
        tracer.read(x_id, 0, un);
        tracer.write(labels_id, static_cast<std::uint64_t>(2 * j + 1), 1);
        tracer.op_end();
      }
    }
    std::int32_t changes = 0;
    for (std::int64_t j = 0; j < m; ++j)
      changes +=
          labels[static_cast<std::size_t>(2 * j)] != labels[static_cast<std::size_t>(2 * j + 1)];
    influence[static_cast<std::size_t>(i)] = changes;
    tracer.read(labels_id, 0, static_cast<std::uint64_t>(2 * m));
    tracer.write(influence_id, static_cast<std::uint64_t>(i), 1);
    tracer.op_end();
    if (plan.stop_at_k && changes > 0) {
      flipped.push_back(static_cast<int>(i));
      if (static_cast<std::int64_t>(flipped.size()) == k) break;
    }
  }

  // Candidates: km_min takes the bits that flipped; km the top k by influence plus ties with
  // the k-th, at most 2k.
  std::vector<int> candidates;
  if (plan.stop_at_k) {
    candidates = flipped;
  } else {
    std::vector<int> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return influence[static_cast<std::size_t>(a)] > influence[static_cast<std::size_t>(b)];
    });
    const std::int32_t kth =
        influence[static_cast<std::size_t>(order[static_cast<std::size_t>(k - 1)])];
    for (std::int64_t r = 0; r < n && r < 2 * k; ++r) {
      const int bit = order[static_cast<std::size_t>(r)];
      if (r >= k && influence[static_cast<std::size_t>(bit)] != kth) break;
      candidates.push_back(bit);
    }
  }
  const auto c = static_cast<std::uint64_t>(candidates.size());
  const BufferId candidates_id = tracer.buffer("candidates", 4, c);
  if (plan.stop_at_k) {
    for (int bit : candidates) tracer.read(influence_id, static_cast<std::uint64_t>(bit), 1);
  } else {
    tracer.read(influence_id, 0, un);
  }
  if (c) tracer.write(candidates_id, 0, c);
  tracer.op_end();

  SolveResult result;
  std::vector<int> chosen;  // positions into `candidates`
  bool solved = false;
  if (plan.stop_at_k) {
    chosen.resize(candidates.size());
    std::iota(chosen.begin(), chosen.end(), 0);
    solved = static_cast<std::int64_t>(candidates.size()) == k;
  } else {
    const std::int64_t v_count = plan.verify;
    const BufferId xv_id = tracer.buffer("x_verify", 1, static_cast<std::uint64_t>(v_count * n));
    const BufferId yv_id = tracer.buffer("y_verify", 1, static_cast<std::uint64_t>(v_count));
    std::vector<std::int8_t> xv(static_cast<std::size_t>(v_count * n + 8));
    std::vector<std::int8_t> yv(static_cast<std::size_t>(v_count));
    for (std::int64_t v = 0; v < v_count; ++v) {
      draw_input(rng, n, xv.data() + v * n);
      tracer.write(xv_id, static_cast<std::uint64_t>(v * n), un);
      tracer.op_end();
      yv[static_cast<std::size_t>(v)] = oracle.label(xv.data() + v * n);
      tracer.read(xv_id, static_cast<std::uint64_t>(v * n), un);
      tracer.write(yv_id, static_cast<std::uint64_t>(v), 1);
      tracer.op_end();
    }
    std::int64_t best_agree = -1;
    for (const std::vector<int>& subset : k_subsets(static_cast<int>(c), static_cast<int>(k))) {
      std::int64_t agree = 0;
      for (std::int64_t v = 0; v < v_count; ++v) {
        const std::int8_t* row = xv.data() + v * n;
        int negatives = 0;
        for (int pos : subset) {
          const int bit = candidates[static_cast<std::size_t>(pos)];
          negatives += row[bit] < 0;
          tracer.read(candidates_id, static_cast<std::uint64_t>(pos), 1);
          tracer.read(xv_id, static_cast<std::uint64_t>(v * n + bit), 1);
        }
        tracer.read(yv_id, static_cast<std::uint64_t>(v), 1);
        tracer.op_end();
        if (((negatives & 1) ? -1 : 1) != yv[static_cast<std::size_t>(v)]) break;
        ++agree;
      }
      if (agree > best_agree) {
        best_agree = agree;
        chosen = subset;
      }
      if (agree == v_count) {
        solved = true;
        break;
      }
    }
  }

  std::vector<int> secret;
  for (int pos : chosen) secret.push_back(candidates[static_cast<std::size_t>(pos)]);
  std::sort(secret.begin(), secret.end());
  const auto s = static_cast<std::uint64_t>(secret.size());
  const BufferId secret_id = tracer.buffer("secret", 4, s);
  for (int pos : chosen) tracer.read(candidates_id, static_cast<std::uint64_t>(pos), 1);
  if (s) tracer.write(secret_id, 0, s);
  tracer.op_end();

  const std::int64_t n_test = oracle.n_test;
  const BufferId x_test_id = tracer.buffer("x_test", 1, static_cast<std::uint64_t>(n_test * n));
  const BufferId predictions_id =
      tracer.buffer("predictions", 1, static_cast<std::uint64_t>(n_test));
  result.test_predictions.resize(static_cast<std::size_t>(n_test));
  for (std::int64_t t = 0; t < n_test; ++t) {
    const std::int8_t* row = oracle.test_row(t);
    int negatives = 0;
    for (int i : secret) negatives += row[i] < 0;
    result.test_predictions[static_cast<std::size_t>(t)] = (negatives & 1) ? -1 : 1;
    if constexpr (Tracer::kEnabled) {
      if (s) tracer.read(secret_id, 0, s);
      for (int i : secret) tracer.read(x_test_id, static_cast<std::uint64_t>(t * n + i), 1);
      tracer.write(predictions_id, static_cast<std::uint64_t>(t), 1);
      tracer.op_end();
    }
  }

  result.measures["queries"] = static_cast<double>(oracle.queries() - queries_before);
  result.measures["candidates"] = static_cast<double>(candidates.size());
  if (solved) {
    result.status = SolveStatus::kSolved;
  } else {
    result.status = SolveStatus::kMaxIterations;
    result.message = plan.stop_at_k ? "only " + std::to_string(candidates.size()) +
                                          " of k = " + std::to_string(k) +
                                          " bits flipped the label (not a k-parity?)"
                                    : "no k-subset of the " + std::to_string(candidates.size()) +
                                          " candidates matched all " + std::to_string(plan.verify) +
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
  if (tracer) return run(*oracle, plan, ctx.seed(), *tracer);
  NullTracer off;
  return run(*oracle, plan, ctx.seed(), off);
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
