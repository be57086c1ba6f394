// cube/problems/sparse_parity/sparse_family.cc: the sparse-parity relatives (sum, AND, majority,
// threshold, noisy parity) over the shared sparse_parity input generator; see sparse_family.h.

#include "problems/sparse_parity/sparse_family.h"

#include <string>

namespace cube {

std::int8_t sparse_sum_label(const std::int8_t* row, const std::vector<int>& secret) {
  int sum = 0;
  for (int i : secret) sum += row[i];
  return static_cast<std::int8_t>(sum);
}

std::int8_t sparse_and_label(const std::int8_t* row, const std::vector<int>& secret) {
  for (int i : secret)
    if (row[i] < 0) return 0;
  return 1;
}

std::int8_t threshold_label(const std::int8_t* row, const std::vector<int>& secret,
                            std::int64_t t) {
  std::int64_t sum = 0;
  for (int i : secret) sum += row[i];
  return sum >= t ? std::int8_t{1} : std::int8_t{-1};
}

SparseFamilyProblem::SparseFamilyProblem(SparseParityConfig base, LabelKind kind) : base_(base) {
  check_sparse_shape(
      base_.n, base_.k,
      static_cast<std::uint64_t>(base_.n_train) + static_cast<std::uint64_t>(base_.n_test),
      "(n_train + n_test)");
  data_.label_kind = kind;
}

void SparseFamilyProblem::generate(std::uint64_t seed) {
  Rng rng = draw_sparse_inputs(seed, base_.n, base_.k, base_.n_train, base_.n_test, secret_, data_);
  for (std::int64_t r = 0; r < data_.n_train; ++r)
    data_.y_train[static_cast<std::size_t>(r)] = label(data_.train_row(r));
  for (std::int64_t r = 0; r < data_.n_test; ++r)
    data_.y_test[static_cast<std::size_t>(r)] = label(data_.test_row(r));
  after_labels(rng);
  generated_ = true;
}

std::optional<std::vector<int>> SparseFamilyProblem::secret() const {
  if (!generated_) return std::nullopt;
  return secret_;
}

SparseSum::SparseSum(SparseParityConfig config) : SparseFamilyProblem(config, LabelKind::kInteger) {
  if (base_.k > 127)
    throw ConfigError("problem.k: " + std::to_string(base_.k) +
                      " is too large for sparse_sum, whose int8 labels hold sums of at most 127 "
                      "bits");
}

Threshold::Threshold(ThresholdConfig config)
    : SparseFamilyProblem(config.base, LabelKind::kSign),
      t_(config.t == kThresholdKMinusOne ? config.base.k - 1 : config.t) {
  if (t_ < -base_.k || t_ > base_.k)
    throw ConfigError("problem.t: " + std::to_string(t_) + " is outside [-k, k] = [" +
                      std::to_string(-base_.k) + ", " + std::to_string(base_.k) +
                      "]; the label would be constant");
}

void NoisyParity::after_labels(Rng& rng) {
  flipped_.clear();
  for (std::int64_t r = 0; r < data_.n_train; ++r) {
    if (rng.uniform() < p_) {
      auto& y = data_.y_train[static_cast<std::size_t>(r)];
      y = static_cast<std::int8_t>(-y);
      flipped_.push_back(r);
    }
  }
}

CUBE_REGISTER(Problem, SparseSum, SparseParityConfig, "sparse_sum",
              "y = sum of k secret bits of x in {-1,+1}^n (integer label)");
CUBE_REGISTER(Problem, SparseAnd, SparseParityConfig, "sparse_and",
              "y = 1 iff all k secret bits of x are +1, else 0 (P(y=1) = 2^-k)");
CUBE_REGISTER(Problem, Majority, SparseParityConfig, "majority",
              "y = sign of the sum of k secret bits (tie -> +1)");
CUBE_REGISTER(Problem, Threshold, ThresholdConfig, "threshold",
              "y = +1 iff the sum of k secret bits is >= t (default t = k-1)");
CUBE_REGISTER(Problem, NoisyParity, NoisyParityConfig, "noisy_parity",
              "k-sparse parity with training labels flipped at rate p; clean test labels");

}  // namespace cube
