// cube/solvers/smt/smt.cc: the backtracking k-subset search for parity on bit-packed columns,
// written once over the tracer type (see smt.h for the math and the trace). Not the Z3 variant.

#include "solvers/smt/smt.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace cube {
namespace {

template <class Tracer>
class Search {
 public:
  Search(const BinaryDataset& data, const SmtConfig& config, const RunContext& ctx, Tracer& tracer)
      : data_(data),
        ctx_(ctx),
        tracer_(tracer),
        n_(data.n_bits),
        k_(config.k),
        m_(std::min(config.samples, data.n_train)),
        words_(std::max<std::int64_t>(1, (m_ + 63) / 64)),
        verify_(config.verify),
        cols_(static_cast<std::size_t>(n_ * words_), 0),
        partial_(static_cast<std::size_t>(k_ * words_), 0),
        idx_(static_cast<std::size_t>(k_), 0) {
    x_train_id_ = tracer.buffer("x_train", 1, static_cast<std::uint64_t>(data.n_train * n_));
    y_train_id_ = tracer.buffer("y_train", 1, static_cast<std::uint64_t>(data.n_train));
    cols_id_ = tracer.buffer("cols", 8, static_cast<std::uint64_t>(n_ * words_));
    partial_id_ = tracer.buffer("partial", 8, static_cast<std::uint64_t>(k_ * words_));
  }

  SolveResult run() {
    pack();
    descend(0, 0);

    SolveResult result;
    result.measures["nodes"] = static_cast<double>(nodes_);
    result.measures["column_compares"] = static_cast<double>(compares_);
    result.measures["rejected"] = static_cast<double>(rejected_);
    result.measures["samples_used"] = static_cast<double>(m_);
    result.test_predictions.assign(static_cast<std::size_t>(data_.n_test), 0);
    if (timed_out_) {
      result.status = SolveStatus::kTimedOut;
      result.message = "deadline passed during the search";
      return result;
    }
    if (!found_) {
      result.status = SolveStatus::kMaxIterations;
      result.message = "no " + std::to_string(k_) + "-subset of the " + std::to_string(n_) +
                       " columns matches the labels" +
                       (verify_ ? " on every training row" : " on the rows used") +
                       "; the labels are not a " + std::to_string(k_) + "-sparse parity";
      return result;
    }
    std::vector<int> secret(idx_.begin(), idx_.end());
    const BufferId secret_id = tracer_.buffer("secret", 4, secret.size());
    tracer_.write(secret_id, 0, secret.size());
    tracer_.op_end();
    predict(secret, secret_id, result.test_predictions);
    result.status = SolveStatus::kSolved;
    result.secret = std::move(secret);
    return result;
  }

 private:
  // Column i, bit r = (x[r][i] < 0); partial row 0, bit r = (y[r] < 0). Rows outer for locality;
  // the trace reports the same accesses column by column, as documented in smt.h.
  void pack() {
    for (std::int64_t r = 0; r < m_; ++r) {
      const std::int8_t* x = data_.train_row(r);
      const std::int64_t w = r >> 6;
      const std::uint64_t bit = std::uint64_t{1} << (r & 63);
      for (std::int64_t i = 0; i < n_; ++i)
        if (x[i] < 0) cols_[static_cast<std::size_t>(i * words_ + w)] |= bit;
      if (data_.y_train[static_cast<std::size_t>(r)] < 0)
        partial_[static_cast<std::size_t>(w)] |= bit;
    }
    if constexpr (Tracer::kEnabled) {
      for (std::int64_t i = 0; i < n_; ++i) {
        for (std::int64_t r = 0; r < m_; ++r)
          tracer_.read(x_train_id_, static_cast<std::uint64_t>(r * n_ + i), 1);
        tracer_.write(cols_id_, static_cast<std::uint64_t>(i * words_),
                      static_cast<std::uint64_t>(words_));
        tracer_.op_end();
      }
      tracer_.read(y_train_id_, 0, static_cast<std::uint64_t>(m_));
      tracer_.write(partial_id_, 0, static_cast<std::uint64_t>(words_));
      tracer_.op_end();
    }
  }

  // Prefix idx_[0, d) is fixed and partial_[d] holds Y XOR its columns. Returns true when the
  // search is over (accepted tuple or deadline).
  bool descend(std::int64_t d, std::int64_t start) {
    if (d == k_ - 1) return scan(start);
    // Room for the k - d - 1 indices after j: j <= n - (k - d).
    const std::uint64_t* from = partial_.data() + d * words_;
    std::uint64_t* to = partial_.data() + (d + 1) * words_;
    for (std::int64_t j = start; j <= n_ - (k_ - d); ++j) {
      idx_[static_cast<std::size_t>(d)] = static_cast<int>(j);
      const std::uint64_t* col = cols_.data() + j * words_;
      for (std::int64_t w = 0; w < words_; ++w) to[w] = from[w] ^ col[w];
      ++nodes_;
      tracer_.read(partial_id_, static_cast<std::uint64_t>(d * words_),
                   static_cast<std::uint64_t>(words_));
      tracer_.read(cols_id_, static_cast<std::uint64_t>(j * words_),
                   static_cast<std::uint64_t>(words_));
      tracer_.write(partial_id_, static_cast<std::uint64_t>((d + 1) * words_),
                    static_cast<std::uint64_t>(words_));
      tracer_.op_end();
      if (descend(d + 1, j + 1)) return true;
    }
    return false;
  }

  // Scans the columns j >= start for the required last column partial_[k-1].
  bool scan(std::int64_t start) {
    if ((scans_++ & 1023) == 0 && ctx_.out_of_time()) {
      timed_out_ = true;
      return true;
    }
    const std::int64_t target_offset = (k_ - 1) * words_;
    const std::uint64_t* target = partial_.data() + target_offset;
    for (std::int64_t j = start; j < n_; ++j) {
      const std::uint64_t* col = cols_.data() + j * words_;
      std::int64_t w = 0;
      while (w < words_ && (col[w] ^ target[w]) == 0) ++w;
      ++compares_;
      if constexpr (Tracer::kEnabled) {
        const std::uint64_t examined = static_cast<std::uint64_t>(std::min(w + 1, words_));
        tracer_.read(partial_id_, static_cast<std::uint64_t>(target_offset), examined);
        tracer_.read(cols_id_, static_cast<std::uint64_t>(j * words_), examined);
        tracer_.op_end();
      }
      if (w < words_) continue;
      idx_[static_cast<std::size_t>(k_ - 1)] = static_cast<int>(j);
      ++nodes_;
      if (!verify_ || verified()) {
        found_ = true;
        return true;
      }
      ++rejected_;
    }
    return false;
  }

  // Whether the tuple idx_ also matches the training rows the search did not use.
  bool verified() {
    for (std::int64_t r = m_; r < data_.n_train; ++r) {
      const std::int8_t* x = data_.train_row(r);
      int negatives = data_.y_train[static_cast<std::size_t>(r)] < 0;
      for (int i : idx_) negatives += x[i] < 0;
      if constexpr (Tracer::kEnabled) {
        tracer_.read(y_train_id_, static_cast<std::uint64_t>(r), 1);
        for (int i : idx_) tracer_.read(x_train_id_, static_cast<std::uint64_t>(r * n_ + i), 1);
        tracer_.op_end();
      }
      if (negatives & 1) return false;
    }
    return true;
  }

  void predict(const std::vector<int>& secret, BufferId secret_id,
               std::vector<std::int8_t>& predictions) {
    const std::int64_t n_test = data_.n_test;
    const BufferId x_test_id = tracer_.buffer("x_test", 1, static_cast<std::uint64_t>(n_test * n_));
    const BufferId predictions_id =
        tracer_.buffer("predictions", 1, static_cast<std::uint64_t>(n_test));
    for (std::int64_t t = 0; t < n_test; ++t) {
      const std::int8_t* x = data_.test_row(t);
      int negatives = 0;
      for (int i : secret) negatives += x[i] < 0;
      predictions[static_cast<std::size_t>(t)] = (negatives & 1) ? -1 : 1;
      if constexpr (Tracer::kEnabled) {
        tracer_.read(secret_id, 0, secret.size());
        for (int i : secret) tracer_.read(x_test_id, static_cast<std::uint64_t>(t * n_ + i), 1);
        tracer_.write(predictions_id, static_cast<std::uint64_t>(t), 1);
        tracer_.op_end();
      }
    }
  }

  const BinaryDataset& data_;
  const RunContext& ctx_;
  Tracer& tracer_;
  const std::int64_t n_;
  const std::int64_t k_;
  const std::int64_t m_;      // rows the search uses
  const std::int64_t words_;  // words per packed column
  const bool verify_;
  std::vector<std::uint64_t> cols_;     // n x words
  std::vector<std::uint64_t> partial_;  // k x words; row 0 = packed labels
  std::vector<int> idx_;                // the current tuple
  BufferId x_train_id_ = 0, y_train_id_ = 0, cols_id_ = 0, partial_id_ = 0;
  std::int64_t nodes_ = 0, compares_ = 0, rejected_ = 0, scans_ = 0;
  bool found_ = false, timed_out_ = false;
};

}  // namespace

bool SmtSolver::supports(const Problem& problem) const {
  const BinaryDataset* data = problem.binary_dataset();
  return data != nullptr && data->label_kind == LabelKind::kSign && data->n_bits >= config_.k;
}

SolveResult SmtSolver::solve_dataset(const BinaryDataset& data, const SmtConfig& config,
                                     const RunContext& ctx, RecordingTracer* tracer) {
  CUBE_CHECK(data.n_bits >= config.k, "smt: k = " << config.k << " > n = " << data.n_bits);
  if (tracer) return Search<RecordingTracer>(data, config, ctx, *tracer).run();
  NullTracer off;
  return Search<NullTracer>(data, config, ctx, off).run();
}

SolveResult SmtSolver::solve(const Problem& problem, const RunContext& ctx,
                             RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "smt needs a binary dataset (check supports() first)");
  return solve_dataset(*data, config_, ctx, tracer);
}

CUBE_REGISTER(Solver, SmtSolver, SmtConfig, "smt",
              "exact parity solver: backtracking over k-subsets on bit-packed columns");

}  // namespace cube
