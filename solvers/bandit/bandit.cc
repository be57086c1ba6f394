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
#include "core/index_cast.h"
#include "core/rng.h"

namespace cube {
namespace {

__extension__ using I128 = __int128;  // GCC/Clang extension: exact 64x64 products
__extension__ using U128 = unsigned __int128;

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

using namespace index_cast;  // NOLINT(build/namespaces): I64, U64, u(), z()

// One UCB1 search over the arms: per episode an arm is chosen, pulled on m fresh rows, and
// accepted once its mean is perfect (bandit.h); the phases below, each with its trace.
template <class Tracer>
class BanditSearch {
 public:
  BanditSearch(const BinaryDataset& data, const BanditConfig& config, const RunContext& ctx,
               Tracer& tracer);
  SolveResult run();

 private:
  I64 select_arm(I64 episode);
  void draw_rows();
  void pull(I64 a);
  bool perfect(I64 a) const {
    return pulls_[z(a)] >= config_.min_pulls && hits_[z(a)] == pulls_[z(a)] * m_;
  }
  I64 best_mean_arm();
  void predict(const std::vector<int>& secret, BufferId secret_id, SolveResult& result);

  const BinaryDataset& data_;
  const BanditConfig& config_;
  const RunContext& ctx_;
  Tracer& tracer_;
  const I64 n_, k_, n_train_, m_;
  Rng rng_;
  const BufferId x_train_id_, y_train_id_;
  const std::vector<int> arms_;  // arm a = arms_[a k, a k + k)
  const I64 a_count_;
  const BufferId arms_id_, perm_id_, hits_id_, pulls_id_;
  std::vector<std::int32_t> perm_;
  std::vector<I64> hits_, pulls_;
};

template <class Tracer>
BanditSearch<Tracer>::BanditSearch(const BinaryDataset& data, const BanditConfig& config,
                                   const RunContext& ctx, Tracer& tracer)
    : data_(data),
      config_(config),
      ctx_(ctx),
      tracer_(tracer),
      n_(data.n_bits),
      k_(config.k),
      n_train_(data.n_train),
      m_(std::min(config.pull_samples, data.n_train)),
      // Its own stream: the problem draws S from Rng(seed) by the same partial Fisher-Yates
      // that samples arms, so the seed's own stream would make the first sampled arm S itself.
      rng_(stream_seed(ctx.seed(), rng_role("bandit.draws"))),
      x_train_id_(tracer.buffer("x_train", 1, u(n_train_ * n_))),
      y_train_id_(tracer.buffer("y_train", 1, u(n_train_))),
      arms_(make_arms(n_, k_, config.max_arms, rng_)),
      a_count_(static_cast<I64>(arms_.size()) / k_),
      arms_id_(tracer.buffer("arms", 4, arms_.size())),
      perm_id_(tracer.buffer("perm", 4, u(n_train_))),
      hits_id_(tracer.buffer("hits", 8, u(a_count_))),
      pulls_id_(tracer.buffer("pulls", 8, u(a_count_))),
      perm_(z(n_train_)),
      hits_(z(a_count_), 0),
      pulls_(z(a_count_), 0) {
  if constexpr (Tracer::kEnabled) {
    for (I64 a = 0; a < a_count_; ++a) {
      tracer.write(arms_id_, u(a * k_), u(k_));
      tracer.op_end();
    }
  }
  std::iota(perm_.begin(), perm_.end(), 0);
  tracer.write(perm_id_, 0, u(n_train_));
  tracer.op_end();
}

// Episode e pulls arm e - 1 while some arm is unpulled, then the UCB1 maximizer.
template <class Tracer>
I64 BanditSearch<Tracer>::select_arm(I64 episode) {
  if (episode <= a_count_) return episode - 1;
  const double log_t = std::log(static_cast<double>(episode - 1));
  double best = -1;
  I64 a = 0;
  for (I64 b = 0; b < a_count_; ++b) {
    const double count = static_cast<double>(pulls_[z(b)]);
    const double score = static_cast<double>(hits_[z(b)]) / (count * static_cast<double>(m_)) +
                         std::sqrt(2.0 * log_t / count);
    if (score > best) {
      best = score;
      a = b;
    }
  }
  tracer_.read(hits_id_, 0, u(a_count_));
  tracer_.read(pulls_id_, 0, u(a_count_));
  tracer_.op_end();
  return a;
}

// m distinct rows: a partial Fisher-Yates over the persistent permutation.
template <class Tracer>
void BanditSearch<Tracer>::draw_rows() {
  for (I64 i = 0; i < m_; ++i) {
    const auto j = i + static_cast<I64>(rng_.below(u(n_train_ - i)));
    std::swap(perm_[z(i)], perm_[z(j)]);
    if constexpr (Tracer::kEnabled) {
      tracer_.read(perm_id_, u(i), 1);
      tracer_.read(perm_id_, u(j), 1);
      tracer_.write(perm_id_, u(i), 1);
      tracer_.write(perm_id_, u(j), 1);
      tracer_.op_end();
    }
  }
}

// Arm a on the drawn rows: a hit where the parity of its bits equals the label.
template <class Tracer>
void BanditSearch<Tracer>::pull(I64 a) {
  const int* arm = arms_.data() + a * k_;
  I64 hit = 0;
  for (I64 i = 0; i < m_; ++i) {
    const I64 r = perm_[z(i)];
    const std::int8_t* x = data_.train_row(r);
    int negatives = data_.y_train[z(r)] < 0;
    for (I64 j = 0; j < k_; ++j) negatives += x[arm[j]] < 0;
    hit += (negatives & 1) == 0;
    if constexpr (Tracer::kEnabled) {
      tracer_.read(arms_id_, u(a * k_), u(k_));
      tracer_.read(perm_id_, u(i), 1);
      tracer_.read(y_train_id_, u(r), 1);
      for (I64 j = 0; j < k_; ++j) tracer_.read(x_train_id_, u(r * n_ + arm[j]), 1);
      tracer_.op_end();
    }
  }
  hits_[z(a)] += hit;
  pulls_[z(a)] += 1;
  tracer_.read(hits_id_, u(a), 1);
  tracer_.read(pulls_id_, u(a), 1);
  tracer_.write(hits_id_, u(a), 1);
  tracer_.write(pulls_id_, u(a), 1);
  tracer_.op_end();
}

// Best mean (compared exactly as hits_a pulls_b vs hits_b pulls_a), then more pulls.
template <class Tracer>
I64 BanditSearch<Tracer>::best_mean_arm() {
  I64 chosen = -1;
  for (I64 b = 0; b < a_count_; ++b) {
    if (pulls_[z(b)] == 0) continue;
    if (chosen < 0) {
      chosen = b;
      continue;
    }
    const I128 lhs = static_cast<I128>(hits_[z(b)]) * pulls_[z(chosen)];
    const I128 rhs = static_cast<I128>(hits_[z(chosen)]) * pulls_[z(b)];
    if (lhs > rhs || (lhs == rhs && pulls_[z(b)] > pulls_[z(chosen)])) chosen = b;
  }
  tracer_.read(hits_id_, 0, u(a_count_));
  tracer_.read(pulls_id_, 0, u(a_count_));
  tracer_.op_end();
  return chosen;
}

// The parity of the secret bits of every test row.
template <class Tracer>
void BanditSearch<Tracer>::predict(const std::vector<int>& secret, BufferId secret_id,
                                   SolveResult& result) {
  const I64 n_test = data_.n_test;
  const BufferId x_test_id = tracer_.buffer("x_test", 1, u(n_test * n_));
  const BufferId predictions_id = tracer_.buffer("predictions", 1, u(n_test));
  for (I64 t = 0; t < n_test; ++t) {
    const std::int8_t* x = data_.test_row(t);
    int negatives = 0;
    for (int i : secret) negatives += x[i] < 0;
    result.test_predictions[z(t)] = (negatives & 1) ? -1 : 1;
    if constexpr (Tracer::kEnabled) {
      tracer_.read(secret_id, 0, secret.size());
      for (int i : secret) tracer_.read(x_test_id, u(t * n_ + i), 1);
      tracer_.write(predictions_id, u(t), 1);
      tracer_.op_end();
    }
  }
}

template <class Tracer>
SolveResult BanditSearch<Tracer>::run() {
  I64 accepted = -1, episode = 0;
  while (episode < config_.episodes) {
    if ((episode & 255) == 0 && ctx_.out_of_time()) break;
    ++episode;
    const I64 a = select_arm(episode);
    draw_rows();
    pull(a);
    if (episode == a_count_) {
      for (I64 b = 0; b < a_count_ && accepted < 0; ++b)
        if (perfect(b)) accepted = b;
    } else if (episode > a_count_ && perfect(a)) {
      accepted = a;
    }
    if (accepted >= 0) break;
  }
  SolveResult result;
  result.measures["episodes"] = static_cast<double>(episode);
  result.measures["arms"] = static_cast<double>(a_count_);
  result.test_predictions.assign(z(data_.n_test), 0);
  if (accepted < 0 && episode < config_.episodes) {
    result.status = SolveStatus::kTimedOut;
    result.message = "deadline passed after " + std::to_string(episode) + " episodes";
    return result;
  }
  const I64 chosen = accepted >= 0 ? accepted : best_mean_arm();
  CUBE_CHECK(chosen >= 0, "bandit: no arm was pulled (episodes >= 1 and A >= 1 guarantee one)");
  result.measures["best_mean"] = static_cast<double>(hits_[z(chosen)]) /
                                 (static_cast<double>(pulls_[z(chosen)]) * static_cast<double>(m_));
  std::vector<int> secret(arms_.begin() + chosen * k_, arms_.begin() + (chosen + 1) * k_);
  const BufferId secret_id = tracer_.buffer("secret", 4, secret.size());
  tracer_.read(arms_id_, u(chosen * k_), u(k_));
  tracer_.write(secret_id, 0, secret.size());
  tracer_.op_end();
  predict(secret, secret_id, result);
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
  if (tracer) return BanditSearch<RecordingTracer>(data, config, ctx, *tracer).run();
  NullTracer off;
  return BanditSearch<NullTracer>(data, config, ctx, off).run();
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
