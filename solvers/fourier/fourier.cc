// cube/solvers/fourier/fourier.cc: bit-packed Walsh-coefficient, exact-match and first-order
// searches over k-subsets, written once over the tracer type (see fourier.h for the math).

#include "solvers/fourier/fourier.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <numeric>
#include <vector>

// The search is popcount-bound. Every x86-64 CPU since 2008 has POPCNT, but the default x86-64
// target does not assume it and would emulate it with shifts and masks.
#if defined(__x86_64__) && !defined(__POPCNT__)
#pragma GCC target("popcnt")
#endif

namespace cube {
namespace {

enum class Rule { kParity, kFirstOrder, kAnd };

inline std::int64_t popcount(std::uint64_t x) { return __builtin_popcountll(x); }

// Training columns packed one bit per row; `and_polarity` sets bit = (x > 0) and y bit =
// (y == 1), otherwise bit = (x < 0) and y bit = (y < 0).
struct Packed {
  std::int64_t n = 0, rows = 0, words = 0;
  std::vector<std::uint64_t> cols;  // n x words, column-major
  std::vector<std::uint64_t> y;     // words
  std::vector<std::uint64_t> mask;  // words, ones at valid rows
};

struct Ids {
  BufferId x_train, y_train, cols, ycol, partial;
};

template <class Tracer>
Packed pack(const BinaryDataset& data, bool and_polarity, Tracer& tracer, const Ids& ids) {
  Packed p;
  p.n = data.n_bits;
  p.rows = data.n_train;
  p.words = (p.rows + 63) / 64;
  p.cols.assign(static_cast<std::size_t>(p.n * p.words), 0);
  p.y.assign(static_cast<std::size_t>(p.words), 0);
  p.mask.assign(static_cast<std::size_t>(p.words), 0);
  for (std::int64_t b = 0; b < p.words; ++b) {
    const std::int64_t first = b * 64;
    const std::int64_t last = std::min(p.rows, first + 64);
    for (std::int64_t r = first; r < last; ++r) {
      const std::uint64_t bit = std::uint64_t{1} << (r - first);
      const std::int8_t* row = data.train_row(r);
      for (std::int64_t i = 0; i < p.n; ++i)
        if (and_polarity ? row[i] > 0 : row[i] < 0)
          p.cols[static_cast<std::size_t>(i * p.words + b)] |= bit;
      const std::int8_t y = data.y_train[static_cast<std::size_t>(r)];
      if (and_polarity ? y == 1 : y < 0) p.y[static_cast<std::size_t>(b)] |= bit;
      p.mask[static_cast<std::size_t>(b)] |= bit;
    }
    if constexpr (Tracer::kEnabled) {
      const auto count = static_cast<std::uint64_t>(last - first);
      tracer.read(ids.x_train, static_cast<std::uint64_t>(first * p.n),
                  count * static_cast<std::uint64_t>(p.n));
      tracer.read(ids.y_train, static_cast<std::uint64_t>(first), count);
      for (std::int64_t i = 0; i < p.n; ++i)
        tracer.write(ids.cols, static_cast<std::uint64_t>(i * p.words + b), 1);
      tracer.write(ids.ycol, static_cast<std::uint64_t>(b), 1);
      tracer.op_end();
    }
  }
  return p;
}

// Depth-first lexicographic search over k-subsets maximising a score in [0, rows]: parity
// |rows - 2 mismatches|, and rows - mismatches. Stops at the first perfect score.
template <class Tracer>
class SubsetSearch {
 public:
  SubsetSearch(const Packed& p, std::int64_t k, bool and_mode, const RunContext& ctx,
               Tracer& tracer, const Ids& ids)
      : p_(p),
        k_(k),
        and_(and_mode),
        ctx_(ctx),
        tracer_(tracer),
        ids_(ids),
        partial_(static_cast<std::size_t>(k * p.words)),
        idx_(static_cast<std::size_t>(k)),
        best_(static_cast<std::size_t>(k)) {}

  void run() {
    const std::int64_t w = p_.words;
    std::copy_n(and_ ? p_.mask.data() : p_.y.data(), w, partial_.data());
    if (!and_) tracer_.read(ids_.ycol, 0, static_cast<std::uint64_t>(w));
    tracer_.write(ids_.partial, 0, static_cast<std::uint64_t>(w));
    tracer_.op_end();
    descend(0, 0);
  }

  std::vector<int> best() const { return best_; }
  std::int64_t best_score() const { return best_score_; }
  std::int64_t best_mismatches() const { return best_mismatches_; }
  std::int64_t subsets() const { return subsets_; }
  bool timed_out() const { return timed_out_; }

 private:
  void descend(std::int64_t d, std::int64_t start) {
    const std::int64_t w = p_.words;
    const std::uint64_t* partial = partial_.data() + d * w;
    if (d == k_ - 1) {
      if ((++scans_ & 255) == 0 && ctx_.out_of_time()) {
        timed_out_ = stop_ = true;
        return;
      }
      const std::int64_t rows = p_.rows;
      for (std::int64_t j = start; j < p_.n; ++j) {
        const std::uint64_t* col = p_.cols.data() + j * w;
        std::int64_t mismatches = 0;
        if (and_) {
          for (std::int64_t q = 0; q < w; ++q)
            mismatches += popcount((partial[q] & col[q]) ^ p_.y[static_cast<std::size_t>(q)]);
        } else {
          for (std::int64_t q = 0; q < w; ++q) mismatches += popcount(partial[q] ^ col[q]);
        }
        if constexpr (Tracer::kEnabled) {
          tracer_.read(ids_.partial, static_cast<std::uint64_t>(d * w),
                       static_cast<std::uint64_t>(w));
          tracer_.read(ids_.cols, static_cast<std::uint64_t>(j * w), static_cast<std::uint64_t>(w));
          if (and_) tracer_.read(ids_.ycol, 0, static_cast<std::uint64_t>(w));
          tracer_.op_end();
        }
        ++subsets_;
        const std::int64_t score = and_ ? rows - mismatches : std::abs(rows - 2 * mismatches);
        if (score > best_score_) {
          best_score_ = score;
          best_mismatches_ = mismatches;
          idx_[static_cast<std::size_t>(d)] = static_cast<int>(j);
          best_ = idx_;
          if (score == rows) {
            stop_ = true;
            return;
          }
        }
      }
      return;
    }
    std::uint64_t* next = partial_.data() + (d + 1) * w;
    for (std::int64_t j = start; j <= p_.n - (k_ - d) && !stop_; ++j) {
      const std::uint64_t* col = p_.cols.data() + j * w;
      if (and_) {
        for (std::int64_t q = 0; q < w; ++q) next[q] = partial[q] & col[q];
      } else {
        for (std::int64_t q = 0; q < w; ++q) next[q] = partial[q] ^ col[q];
      }
      if constexpr (Tracer::kEnabled) {
        tracer_.read(ids_.partial, static_cast<std::uint64_t>(d * w),
                     static_cast<std::uint64_t>(w));
        tracer_.read(ids_.cols, static_cast<std::uint64_t>(j * w), static_cast<std::uint64_t>(w));
        tracer_.write(ids_.partial, static_cast<std::uint64_t>((d + 1) * w),
                      static_cast<std::uint64_t>(w));
        tracer_.op_end();
      }
      idx_[static_cast<std::size_t>(d)] = static_cast<int>(j);
      descend(d + 1, j + 1);
    }
  }

  const Packed& p_;
  const std::int64_t k_;
  const bool and_;
  const RunContext& ctx_;
  Tracer& tracer_;
  const Ids& ids_;
  std::vector<std::uint64_t> partial_;
  std::vector<int> idx_, best_;
  std::int64_t best_score_ = -1, best_mismatches_ = 0, subsets_ = 0, scans_ = 0;
  bool stop_ = false, timed_out_ = false;
};

// A recovered rule: S, per-bit weights (first-order), and how to label a row.
struct Fit {
  Rule rule = Rule::kParity;
  std::vector<int> secret;
  std::vector<std::int8_t> weights;  // first-order signs; parity: one entry, the sign of c_S
  std::int64_t t = 0;                // first-order threshold (kSign)
  std::int64_t train_right = 0;
};

template <class Tracer>
Fit first_order(const BinaryDataset& data, std::int64_t k, Tracer& tracer, BufferId x_train_id,
                BufferId y_train_id) {
  const std::int64_t n = data.n_bits;
  const auto un = static_cast<std::uint64_t>(n);
  const BufferId coef_id = tracer.buffer("coef", 8, un);
  std::vector<std::int64_t> coef(static_cast<std::size_t>(n), 0);
  for (std::int64_t r = 0; r < data.n_train; ++r) {
    const std::int8_t* row = data.train_row(r);
    const std::int64_t y = data.y_train[static_cast<std::size_t>(r)];
    for (std::int64_t i = 0; i < n; ++i) coef[static_cast<std::size_t>(i)] += y * row[i];
    if constexpr (Tracer::kEnabled) {
      tracer.read(x_train_id, static_cast<std::uint64_t>(r * n), un);
      tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
      tracer.read(coef_id, 0, un);
      tracer.write(coef_id, 0, un);
      tracer.op_end();
    }
  }
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return std::abs(coef[static_cast<std::size_t>(a)]) >
           std::abs(coef[static_cast<std::size_t>(b)]);
  });
  Fit fit;
  fit.rule = Rule::kFirstOrder;
  fit.secret.assign(order.begin(), order.begin() + k);
  std::sort(fit.secret.begin(), fit.secret.end());
  for (int i : fit.secret) fit.weights.push_back(coef[static_cast<std::size_t>(i)] >= 0 ? 1 : -1);
  const BufferId secret_id = tracer.buffer("secret", 4, static_cast<std::uint64_t>(k));
  const BufferId weights_id = tracer.buffer("weights", 1, static_cast<std::uint64_t>(k));
  tracer.read(coef_id, 0, un);
  tracer.write(secret_id, 0, static_cast<std::uint64_t>(k));
  tracer.write(weights_id, 0, static_cast<std::uint64_t>(k));
  tracer.op_end();

  if (data.label_kind == LabelKind::kInteger) {
    for (std::int64_t r = 0; r < data.n_train; ++r) {
      std::int64_t sum = 0;
      for (std::size_t s = 0; s < fit.secret.size(); ++s)
        sum += fit.weights[s] * data.train_row(r)[fit.secret[s]];
      fit.train_right += sum == data.y_train[static_cast<std::size_t>(r)];
      if constexpr (Tracer::kEnabled) {
        tracer.read(secret_id, 0, static_cast<std::uint64_t>(k));
        tracer.read(weights_id, 0, static_cast<std::uint64_t>(k));
        for (int i : fit.secret) tracer.read(x_train_id, static_cast<std::uint64_t>(r * n + i), 1);
        tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
        tracer.op_end();
      }
    }
    return fit;
  }
  // kSign: histogram of (weighted sum, label), then the first t maximising training accuracy.
  const std::int64_t span = 2 * k + 1;
  const BufferId hist_id = tracer.buffer("hist", 4, static_cast<std::uint64_t>(2 * span));
  std::vector<std::int64_t> hist(static_cast<std::size_t>(2 * span), 0);  // [sum + k][y > 0]
  for (std::int64_t r = 0; r < data.n_train; ++r) {
    const std::int8_t* row = data.train_row(r);
    std::int64_t sum = 0;
    for (std::size_t s = 0; s < fit.secret.size(); ++s) sum += fit.weights[s] * row[fit.secret[s]];
    const std::int64_t entry = 2 * (sum + k) + (data.y_train[static_cast<std::size_t>(r)] > 0);
    ++hist[static_cast<std::size_t>(entry)];
    if constexpr (Tracer::kEnabled) {
      tracer.read(secret_id, 0, static_cast<std::uint64_t>(k));
      tracer.read(weights_id, 0, static_cast<std::uint64_t>(k));
      for (int i : fit.secret) tracer.read(x_train_id, static_cast<std::uint64_t>(r * n + i), 1);
      tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
      tracer.read(hist_id, static_cast<std::uint64_t>(entry), 1);
      tracer.write(hist_id, static_cast<std::uint64_t>(entry), 1);
      tracer.op_end();
    }
  }
  tracer.read(hist_id, 0, static_cast<std::uint64_t>(2 * span));
  tracer.op_end();
  fit.train_right = -1;
  for (std::int64_t t = -k; t <= k + 1; ++t) {
    std::int64_t right = 0;
    for (std::int64_t v = -k; v <= k; ++v)
      right += hist[static_cast<std::size_t>(2 * (v + k) + (v >= t ? 1 : 0))];
    if (right > fit.train_right) {
      fit.train_right = right;
      fit.t = t;
    }
  }
  return fit;
}

template <class Tracer>
SolveResult run(const BinaryDataset& data, const FourierConfig& config, const RunContext& ctx,
                Tracer& tracer) {
  const std::int64_t n = data.n_bits;
  const std::int64_t k = config.k;
  const std::int64_t words = (data.n_train + 63) / 64;
  Rule rule = Rule::kParity;
  bool both = false;
  if (config.rule == "first_order") rule = Rule::kFirstOrder;
  if (config.rule == "and") rule = Rule::kAnd;
  if (config.rule == "auto") {
    if (data.label_kind == LabelKind::kBit) rule = Rule::kAnd;
    if (data.label_kind == LabelKind::kInteger) rule = Rule::kFirstOrder;
    both = data.label_kind == LabelKind::kSign;
  }

  Ids ids;
  ids.x_train = tracer.buffer("x_train", 1, static_cast<std::uint64_t>(data.n_train * n));
  ids.y_train = tracer.buffer("y_train", 1, static_cast<std::uint64_t>(data.n_train));

  SolveResult result;
  Fit fit;
  std::int64_t subsets = 0;
  if (rule != Rule::kFirstOrder) {
    ids.cols = tracer.buffer("cols", 8, static_cast<std::uint64_t>(n * words));
    ids.ycol = tracer.buffer("ycol", 8, static_cast<std::uint64_t>(words));
    ids.partial = tracer.buffer("partial", 8, static_cast<std::uint64_t>(k * words));
    const bool and_mode = rule == Rule::kAnd;
    const Packed packed = pack(data, and_mode, tracer, ids);
    SubsetSearch<Tracer> search(packed, k, and_mode, ctx, tracer, ids);
    search.run();
    subsets = search.subsets();
    if (search.timed_out()) {
      result.status = SolveStatus::kTimedOut;
      result.message = "deadline passed after " + std::to_string(subsets) + " subsets";
      result.test_predictions.assign(static_cast<std::size_t>(data.n_test), 0);
      result.measures["subsets"] = static_cast<double>(subsets);
      return result;
    }
    fit.rule = rule;
    fit.secret = search.best();
    const std::int64_t rows = data.n_train;
    if (and_mode) {
      fit.train_right = search.best_score();
    } else {
      // c_S = (rows - 2 mismatches) / rows; its sign multiplies the prediction.
      fit.weights = {static_cast<std::int8_t>(rows - 2 * search.best_mismatches() >= 0 ? 1 : -1)};
      fit.train_right = (rows + search.best_score()) / 2;
    }
    const BufferId secret_id = tracer.buffer("secret", 4, static_cast<std::uint64_t>(k));
    tracer.write(secret_id, 0, static_cast<std::uint64_t>(k));
    tracer.op_end();
  }
  if (rule == Rule::kFirstOrder || both) {
    Fit linear = first_order(data, k, tracer, ids.x_train, ids.y_train);
    if (rule == Rule::kFirstOrder || linear.train_right > fit.train_right) fit = std::move(linear);
  }

  // Predictions with the recovered rule.
  const std::int64_t n_test = data.n_test;
  const BufferId secret_id = tracer.buffer("secret", 4, static_cast<std::uint64_t>(k));
  const BufferId weights_id = tracer.buffer("weights", 1, static_cast<std::uint64_t>(k));
  const BufferId x_test_id = tracer.buffer("x_test", 1, static_cast<std::uint64_t>(n_test * n));
  const BufferId predictions_id =
      tracer.buffer("predictions", 1, static_cast<std::uint64_t>(n_test));
  result.test_predictions.resize(static_cast<std::size_t>(n_test));
  for (std::int64_t t = 0; t < n_test; ++t) {
    const std::int8_t* row = data.test_row(t);
    std::int8_t prediction = 0;
    if (fit.rule == Rule::kParity) {
      int negatives = 0;
      for (int i : fit.secret) negatives += row[i] < 0;
      prediction = static_cast<std::int8_t>(((negatives & 1) ? -1 : 1) * fit.weights[0]);
    } else if (fit.rule == Rule::kAnd) {
      prediction = 1;
      for (int i : fit.secret) prediction = row[i] > 0 ? prediction : std::int8_t{0};
    } else {
      std::int64_t sum = 0;
      for (std::size_t s = 0; s < fit.secret.size(); ++s)
        sum += fit.weights[s] * row[fit.secret[s]];
      prediction = data.label_kind == LabelKind::kInteger ? static_cast<std::int8_t>(sum)
                                                          : (sum >= fit.t ? 1 : -1);
    }
    result.test_predictions[static_cast<std::size_t>(t)] = prediction;
    if constexpr (Tracer::kEnabled) {
      tracer.read(secret_id, 0, static_cast<std::uint64_t>(k));
      if (fit.rule == Rule::kFirstOrder) tracer.read(weights_id, 0, static_cast<std::uint64_t>(k));
      for (int i : fit.secret) tracer.read(x_test_id, static_cast<std::uint64_t>(t * n + i), 1);
      tracer.write(predictions_id, static_cast<std::uint64_t>(t), 1);
      tracer.op_end();
    }
  }
  result.status = SolveStatus::kSolved;
  result.secret = fit.secret;
  result.measures["subsets"] = static_cast<double>(subsets);
  result.measures["train_accuracy"] =
      static_cast<double>(fit.train_right) / static_cast<double>(data.n_train);
  return result;
}

}  // namespace

bool FourierSolver::supports(const Problem& problem) const {
  const BinaryDataset* data = problem.binary_dataset();
  if (data == nullptr || data->n_bits < config_.k || data->n_train < 1) return false;
  const LabelKind kind = data->label_kind;
  if (config_.rule == "parity") return kind == LabelKind::kSign;
  if (config_.rule == "first_order") return kind == LabelKind::kSign || kind == LabelKind::kInteger;
  if (config_.rule == "and") return kind == LabelKind::kBit;
  return true;
}

SolveResult FourierSolver::solve_dataset(const BinaryDataset& data, const FourierConfig& config,
                                         const RunContext& ctx, RecordingTracer* tracer) {
  CUBE_CHECK(data.n_bits >= config.k, "fourier: k = " << config.k << " > n = " << data.n_bits);
  if (tracer) return run(data, config, ctx, *tracer);
  NullTracer off;
  return run(data, config, ctx, off);
}

SolveResult FourierSolver::solve(const Problem& problem, const RunContext& ctx,
                                 RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "fourier needs a binary dataset (check supports() first)");
  return solve_dataset(*data, config_, ctx, tracer);
}

CUBE_REGISTER(Solver, FourierSolver, FourierConfig, "fourier",
              "Walsh coefficients over all k-subsets (bit-packed popcount); first-order and "
              "exact-match variants for sum, majority, threshold and AND");

}  // namespace cube
