// cube/solvers/gf2/gf2_robust.cc: majority vote over GF(2) solutions of random subsystems, for
// parity with label noise (see gf2_robust.h). Each subsystem is reduced with gf2_basis.h, as gf2
// does.

#include "solvers/gf2/gf2_robust.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "core/combinatorics.h"
#include "core/rng.h"
#include "solvers/gf2/gf2_basis.h"
#include "solvers/gf2/predict_parity.h"

namespace cube {
namespace {

// C(total, e) when it is at most `cap`, otherwise cap + 1.
std::int64_t capped_binomial(std::int64_t total, std::int64_t e, std::int64_t cap) {
  e = std::min(e, total - e);
  std::int64_t value = 1;
  for (std::int64_t i = 1; i <= e; ++i) {
    // value * (total - e + i) / i stays exact: value is C(total - e + i - 1, i - 1).
    value = value * (total - e + i) / i;
    if (value > cap) return cap + 1;
  }
  return value;
}

template <class Tracer>
SolveResult run(const BinaryDataset& data, const Gf2RobustConfig& config, std::uint64_t seed,
                Tracer& tracer) {
  const std::int64_t n = data.n_bits;
  const std::int64_t total = data.n_train;
  const std::int64_t e = std::min(n, total);
  const std::int64_t words = (n + 1 + 63) / 64;

  const bool enumerate = capped_binomial(total, e, config.subsets) <= config.subsets;
  std::vector<std::vector<int>> all;
  if (enumerate) all = k_subsets(static_cast<int>(total), static_cast<int>(e));
  const std::int64_t count = enumerate ? static_cast<std::int64_t>(all.size()) : config.subsets;

  const BufferId x_train_id = tracer.buffer("x_train", 1, static_cast<std::uint64_t>(total * n));
  const BufferId y_train_id = tracer.buffer("y_train", 1, static_cast<std::uint64_t>(total));
  const BufferId rows_id = tracer.buffer("rows", 4, static_cast<std::uint64_t>(total));
  const BufferId a_id = tracer.buffer("A", 8, static_cast<std::uint64_t>((n + 1) * words));
  const BufferId pivot_id = tracer.buffer("pivot", 4, static_cast<std::uint64_t>(n));
  const BufferId s_id = tracer.buffer("s", 8, static_cast<std::uint64_t>(words));
  const BufferId solutions_id =
      tracer.buffer("solutions", 8, static_cast<std::uint64_t>(count * words));
  const BufferId counts_id = tracer.buffer("counts", 4, static_cast<std::uint64_t>(count));

  Rng rng(stream_seed(seed, rng_role("gf2_robust.subsets")));
  std::vector<int> perm(static_cast<std::size_t>(total));
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<std::uint64_t> a(static_cast<std::size_t>((n + 1) * words));
  std::vector<std::uint64_t> s(static_cast<std::size_t>(words));
  std::vector<std::int32_t> pivot(static_cast<std::size_t>(n));
  std::vector<std::uint64_t> solutions;  // distinct solutions, words each
  std::vector<std::int64_t> counts;
  std::int64_t consistent = 0;

  for (std::int64_t sub = 0; sub < count; ++sub) {
    const int* rows = enumerate ? all[static_cast<std::size_t>(sub)].data() : perm.data();
    if (enumerate) {
      tracer.write(rows_id, 0, static_cast<std::uint64_t>(e));
      tracer.op_end();
    }
    std::fill(pivot.begin(), pivot.end(), -1);
    std::int64_t rank = 0;
    bool inconsistent = false;
    for (std::int64_t r = 0; r < e && !inconsistent; ++r) {
      if (!enumerate) {
        const auto j =
            r + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(total - r)));
        std::swap(perm[static_cast<std::size_t>(r)], perm[static_cast<std::size_t>(j)]);
        tracer.write(rows_id, static_cast<std::uint64_t>(r), 1);
      }
      std::uint64_t* row = a.data() + rank * words;
      const int src = rows[r];
      gf2::pack_row(data.train_row(src), n, data.y_train[static_cast<std::size_t>(src)], row,
                    words);
      tracer.read(rows_id, static_cast<std::uint64_t>(r), 1);
      tracer.read(x_train_id, static_cast<std::uint64_t>(src * n), static_cast<std::uint64_t>(n));
      tracer.read(y_train_id, static_cast<std::uint64_t>(src), 1);
      tracer.write(a_id, static_cast<std::uint64_t>(rank * words),
                   static_cast<std::uint64_t>(words));
      tracer.op_end();
      if (!gf2::reduce_into_basis(a.data(), words, n, pivot, rank, a_id, pivot_id, tracer) &&
          gf2::label_bit(row, n))
        inconsistent = true;
    }
    if (inconsistent) continue;

    std::fill(s.begin(), s.end(), 0);
    gf2::back_substitute(a.data(), words, n, pivot, s.data(), a_id, pivot_id, s_id, tracer);

    ++consistent;
    const auto distinct = static_cast<std::int64_t>(counts.size());
    std::int64_t found = -1;
    for (std::int64_t u = 0; u < distinct && found < 0; ++u) {
      if (std::equal(s.begin(), s.end(), solutions.begin() + u * words)) found = u;
      tracer.read(solutions_id, static_cast<std::uint64_t>(u * words),
                  static_cast<std::uint64_t>(words));
      tracer.read(s_id, 0, static_cast<std::uint64_t>(words));
      tracer.op_end();
    }
    if (found >= 0) {
      ++counts[static_cast<std::size_t>(found)];
      tracer.read(counts_id, static_cast<std::uint64_t>(found), 1);
      tracer.write(counts_id, static_cast<std::uint64_t>(found), 1);
    } else {
      solutions.insert(solutions.end(), s.begin(), s.end());
      counts.push_back(1);
      tracer.write(solutions_id, static_cast<std::uint64_t>(distinct * words),
                   static_cast<std::uint64_t>(words));
      tracer.write(counts_id, static_cast<std::uint64_t>(distinct), 1);
    }
    tracer.op_end();
  }

  SolveResult result;
  result.measures["subsets"] = static_cast<double>(count);
  result.measures["consistent"] = static_cast<double>(consistent);
  result.measures["distinct"] = static_cast<double>(counts.size());
  if (counts.empty()) {
    result.status = SolveStatus::kMaxIterations;
    result.message = "all " + std::to_string(count) + " subsystems were inconsistent";
    result.test_predictions.assign(static_cast<std::size_t>(data.n_test), 0);
    result.measures["votes"] = 0;
    return result;
  }
  // The first solution reaching the highest count (max_element keeps the first maximum).
  const auto winner = std::max_element(counts.begin(), counts.end()) - counts.begin();
  result.measures["votes"] = static_cast<double>(counts[static_cast<std::size_t>(winner)]);
  std::vector<int> secret;
  const std::uint64_t* best = solutions.data() + winner * words;
  for (std::int64_t j = 0; j < n; ++j)
    if ((best[j >> 6] >> (j & 63)) & 1) secret.push_back(static_cast<int>(j));
  const BufferId secret_id = tracer.buffer("secret", 4, secret.size());
  tracer.read(counts_id, 0, counts.size());
  tracer.op_end();
  tracer.read(solutions_id, static_cast<std::uint64_t>(winner * words),
              static_cast<std::uint64_t>(words));
  if (!secret.empty()) tracer.write(secret_id, 0, secret.size());
  tracer.op_end();

  result.test_predictions = predict_parity(data, secret, secret_id, tracer);
  result.status = SolveStatus::kSolved;
  result.secret = std::move(secret);
  return result;
}

}  // namespace

bool Gf2RobustSolver::supports(const Problem& problem) const {
  const BinaryDataset* data = problem.binary_dataset();
  return data != nullptr && data->label_kind == LabelKind::kSign && data->n_train >= 1;
}

SolveResult Gf2RobustSolver::solve_dataset(const BinaryDataset& data, const Gf2RobustConfig& config,
                                           std::uint64_t seed, RecordingTracer* tracer) {
  if (tracer) return run(data, config, seed, *tracer);
  NullTracer off;
  return run(data, config, seed, off);
}

SolveResult Gf2RobustSolver::solve(const Problem& problem, const RunContext& ctx,
                                   RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "gf2_robust needs a binary dataset (check supports() first)");
  return solve_dataset(*data, config_, ctx.seed(), tracer);
}

CUBE_REGISTER(Solver, Gf2RobustSolver, Gf2RobustConfig, "gf2_robust",
              "noisy parity: majority vote of GF(2) solutions of random n-row subsystems");

}  // namespace cube
