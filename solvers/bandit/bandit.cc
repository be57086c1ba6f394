// cube/solvers/bandit/bandit.cc: UCB1 over k-subset arms for parity, written once over the
// tracer type (see bandit.h for the schedule, the stop rule and the trace).

#include "solvers/bandit/bandit.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "core/combinatorics.h"
#include "core/rng.h"

namespace cube {
namespace {

__extension__ using I128 = __int128;  // GCC/Clang extension: exact 64x64 products
__extension__ using U128 = unsigned __int128;

constexpr std::uint64_t kSeedSalt = 0x62616e646974ULL;  // "bandit"

// C(n, k), saturated at `cap` + 1 (only "is it above cap" matters).
std::int64_t choose_capped(std::int64_t n, std::int64_t k, std::int64_t cap) {
  k = std::min(k, n - k);
  if (k < 0) return 0;
  // C(n, i) = C(n, i-1) (n-i+1) / i stays integral; once above cap it can only grow (i <= n/2).
  U128 c = 1;
  for (std::int64_t i = 1; i <= k; ++i) {
    c = c * static_cast<std::uint64_t>(n - i + 1) / static_cast<std::uint64_t>(i);
    if (c > static_cast<std::uint64_t>(cap)) return cap + 1;
  }
  return static_cast<std::int64_t>(c);
}

// Arms, flat: arm a = arms[a k .. a k + k). Lexicographic when all fit, else sampled.
std::vector<int> make_arms(std::int64_t n, std::int64_t k, std::int64_t max_arms, Rng& rng) {
  std::vector<int> arms;
  if (choose_capped(n, k, max_arms) <= max_arms) {
    for (const auto& subset : k_subsets(static_cast<int>(n), static_cast<int>(k)))
      arms.insert(arms.end(), subset.begin(), subset.end());
    return arms;
  }
  std::vector<int> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::set<std::vector<int>> seen;
  std::vector<int> subset(static_cast<std::size_t>(k));
  while (static_cast<std::int64_t>(seen.size()) < max_arms) {
    for (std::int64_t i = 0; i < k; ++i) {
      const auto j = i + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - i)));
      std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
    }
    std::copy(perm.begin(), perm.begin() + k, subset.begin());
    std::sort(subset.begin(), subset.end());
    if (seen.insert(subset).second) arms.insert(arms.end(), subset.begin(), subset.end());
  }
  return arms;
}

template <class Tracer>
SolveResult run(const BinaryDataset& data, const BanditConfig& config, const RunContext& ctx,
                Tracer& tracer) {
  const std::int64_t n = data.n_bits;
  const std::int64_t k = config.k;
  const std::int64_t n_train = data.n_train;
  const std::int64_t m = std::min(config.pull_samples, n_train);
  // Salted: the problem draws S from Rng(seed) by the same partial Fisher-Yates that samples
  // arms, so an unsalted stream would make the first sampled arm S itself.
  Rng rng(ctx.seed() ^ kSeedSalt);

  const BufferId x_train_id = tracer.buffer("x_train", 1, static_cast<std::uint64_t>(n_train * n));
  const BufferId y_train_id = tracer.buffer("y_train", 1, static_cast<std::uint64_t>(n_train));

  const std::vector<int> arms = make_arms(n, k, config.max_arms, rng);
  const std::int64_t a_count = static_cast<std::int64_t>(arms.size()) / k;
  const BufferId arms_id = tracer.buffer("arms", 4, arms.size());
  if constexpr (Tracer::kEnabled) {
    for (std::int64_t a = 0; a < a_count; ++a) {
      tracer.write(arms_id, static_cast<std::uint64_t>(a * k), static_cast<std::uint64_t>(k));
      tracer.op_end();
    }
  }

  std::vector<std::int32_t> perm(static_cast<std::size_t>(n_train));
  std::iota(perm.begin(), perm.end(), 0);
  const BufferId perm_id = tracer.buffer("perm", 4, static_cast<std::uint64_t>(n_train));
  tracer.write(perm_id, 0, static_cast<std::uint64_t>(n_train));
  tracer.op_end();

  std::vector<std::int64_t> hits(static_cast<std::size_t>(a_count), 0);
  std::vector<std::int64_t> pulls(static_cast<std::size_t>(a_count), 0);
  const BufferId hits_id = tracer.buffer("hits", 8, static_cast<std::uint64_t>(a_count));
  const BufferId pulls_id = tracer.buffer("pulls", 8, static_cast<std::uint64_t>(a_count));

  auto perfect = [&](std::int64_t a) {
    const auto i = static_cast<std::size_t>(a);
    return pulls[i] >= config.min_pulls && hits[i] == pulls[i] * m;
  };

  std::int64_t accepted = -1;
  std::int64_t episode = 0;
  bool timed_out = false;
  while (episode < config.episodes) {
    if ((episode & 255) == 0 && ctx.out_of_time()) {
      timed_out = true;
      break;
    }
    ++episode;
    std::int64_t a = episode - 1;
    if (episode > a_count) {
      // UCB1 over the pulls made so far; every arm has been pulled at least once.
      const double log_t = std::log(static_cast<double>(episode - 1));
      double best = -1;
      for (std::int64_t b = 0; b < a_count; ++b) {
        const auto i = static_cast<std::size_t>(b);
        const double count = static_cast<double>(pulls[i]);
        const double score = static_cast<double>(hits[i]) / (count * static_cast<double>(m)) +
                             std::sqrt(2.0 * log_t / count);
        if (score > best) {
          best = score;
          a = b;
        }
      }
      tracer.read(hits_id, 0, static_cast<std::uint64_t>(a_count));
      tracer.read(pulls_id, 0, static_cast<std::uint64_t>(a_count));
      tracer.op_end();
    }

    // Draw m distinct rows: a partial Fisher-Yates over the persistent permutation.
    for (std::int64_t i = 0; i < m; ++i) {
      const auto j =
          i + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n_train - i)));
      std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
      if constexpr (Tracer::kEnabled) {
        tracer.read(perm_id, static_cast<std::uint64_t>(i), 1);
        tracer.read(perm_id, static_cast<std::uint64_t>(j), 1);
        tracer.write(perm_id, static_cast<std::uint64_t>(i), 1);
        tracer.write(perm_id, static_cast<std::uint64_t>(j), 1);
        tracer.op_end();
      }
    }

    const int* arm = arms.data() + a * k;
    std::int64_t hit = 0;
    for (std::int64_t i = 0; i < m; ++i) {
      const std::int64_t r = perm[static_cast<std::size_t>(i)];
      const std::int8_t* x = data.train_row(r);
      int negatives = data.y_train[static_cast<std::size_t>(r)] < 0;
      for (std::int64_t j = 0; j < k; ++j) negatives += x[arm[j]] < 0;
      hit += (negatives & 1) == 0;
      if constexpr (Tracer::kEnabled) {
        tracer.read(arms_id, static_cast<std::uint64_t>(a * k), static_cast<std::uint64_t>(k));
        tracer.read(perm_id, static_cast<std::uint64_t>(i), 1);
        tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
        for (std::int64_t j = 0; j < k; ++j)
          tracer.read(x_train_id, static_cast<std::uint64_t>(r * n + arm[j]), 1);
        tracer.op_end();
      }
    }
    hits[static_cast<std::size_t>(a)] += hit;
    pulls[static_cast<std::size_t>(a)] += 1;
    tracer.read(hits_id, static_cast<std::uint64_t>(a), 1);
    tracer.read(pulls_id, static_cast<std::uint64_t>(a), 1);
    tracer.write(hits_id, static_cast<std::uint64_t>(a), 1);
    tracer.write(pulls_id, static_cast<std::uint64_t>(a), 1);
    tracer.op_end();

    if (episode == a_count) {
      for (std::int64_t b = 0; b < a_count && accepted < 0; ++b)
        if (perfect(b)) accepted = b;
    } else if (episode > a_count && perfect(a)) {
      accepted = a;
    }
    if (accepted >= 0) break;
  }

  SolveResult result;
  result.measures["episodes"] = static_cast<double>(episode);
  result.measures["arms"] = static_cast<double>(a_count);
  result.test_predictions.assign(static_cast<std::size_t>(data.n_test), 0);
  if (timed_out) {
    result.status = SolveStatus::kTimedOut;
    result.message = "deadline passed after " + std::to_string(episode) + " episodes";
    return result;
  }

  std::int64_t chosen = accepted;
  if (chosen < 0) {
    // Best mean (compared exactly as hits_a pulls_b vs hits_b pulls_a), then more pulls.
    for (std::int64_t b = 0; b < a_count; ++b) {
      const auto i = static_cast<std::size_t>(b);
      if (pulls[i] == 0) continue;
      if (chosen < 0) {
        chosen = b;
        continue;
      }
      const auto c = static_cast<std::size_t>(chosen);
      const I128 lhs = static_cast<I128>(hits[i]) * pulls[c];
      const I128 rhs = static_cast<I128>(hits[c]) * pulls[i];
      if (lhs > rhs || (lhs == rhs && pulls[i] > pulls[c])) chosen = b;
    }
    tracer.read(hits_id, 0, static_cast<std::uint64_t>(a_count));
    tracer.read(pulls_id, 0, static_cast<std::uint64_t>(a_count));
    tracer.op_end();
  }
  CUBE_CHECK(chosen >= 0, "bandit: no arm was pulled (episodes >= 1 and A >= 1 guarantee one)");
  const auto c = static_cast<std::size_t>(chosen);
  result.measures["best_mean"] =
      static_cast<double>(hits[c]) / (static_cast<double>(pulls[c]) * static_cast<double>(m));
  std::vector<int> secret(arms.begin() + chosen * k, arms.begin() + (chosen + 1) * k);
  const BufferId secret_id = tracer.buffer("secret", 4, secret.size());
  tracer.read(arms_id, static_cast<std::uint64_t>(chosen * k), static_cast<std::uint64_t>(k));
  tracer.write(secret_id, 0, secret.size());
  tracer.op_end();

  const std::int64_t n_test = data.n_test;
  const BufferId x_test_id = tracer.buffer("x_test", 1, static_cast<std::uint64_t>(n_test * n));
  const BufferId predictions_id =
      tracer.buffer("predictions", 1, static_cast<std::uint64_t>(n_test));
  for (std::int64_t t = 0; t < n_test; ++t) {
    const std::int8_t* x = data.test_row(t);
    int negatives = 0;
    for (int i : secret) negatives += x[i] < 0;
    result.test_predictions[static_cast<std::size_t>(t)] = (negatives & 1) ? -1 : 1;
    if constexpr (Tracer::kEnabled) {
      tracer.read(secret_id, 0, secret.size());
      for (int i : secret) tracer.read(x_test_id, static_cast<std::uint64_t>(t * n + i), 1);
      tracer.write(predictions_id, static_cast<std::uint64_t>(t), 1);
      tracer.op_end();
    }
  }

  if (accepted >= 0) {
    result.status = SolveStatus::kSolved;
  } else {
    result.status = SolveStatus::kMaxIterations;
    result.message = "no arm reached a perfect mean in " + std::to_string(episode) +
                     " episodes; returning the arm of the best mean";
  }
  result.secret = std::move(secret);
  return result;
}

}  // namespace

bool BanditSolver::supports(const Problem& problem) const {
  const BinaryDataset* data = problem.binary_dataset();
  return data != nullptr && data->label_kind == LabelKind::kSign && data->n_bits >= config_.k &&
         data->n_train >= 1;
}

SolveResult BanditSolver::solve_dataset(const BinaryDataset& data, const BanditConfig& config,
                                        const RunContext& ctx, RecordingTracer* tracer) {
  CUBE_CHECK(data.n_bits >= config.k && data.n_train >= 1,
             "bandit: needs n >= k and a training row (n = " << data.n_bits << ", k = " << config.k
                                                             << ")");
  if (tracer) return run(data, config, ctx, *tracer);
  NullTracer off;
  return run(data, config, ctx, off);
}

SolveResult BanditSolver::solve(const Problem& problem, const RunContext& ctx,
                                RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "bandit needs a binary dataset (check supports() first)");
  return solve_dataset(*data, config_, ctx, tracer);
}

CUBE_REGISTER(Solver, BanditSolver, BanditConfig, "bandit",
              "UCB1 bandit over k-subset arms, each pull scoring parity on sampled rows");

}  // namespace cube
