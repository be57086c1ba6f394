// cube/problems/dally/dally_problems.cc: case generators of the Dally IR tasks documented in the
// header (matmul, sparse parity, symmetry). Not here: running programs (models/dally_ir/, solvers/dally_ir/).

#include "problems/dally/dally_problems.h"

#include <algorithm>
#include <numeric>

#include "core/combinatorics.h"
#include "core/error.h"
#include "core/rng.h"

namespace cube {
namespace {

struct ParityShape {
  int n, k, m_train, m_test;
};

std::int64_t parity_of(const std::vector<std::int64_t>& x, int n, int row,
                       const std::vector<int>& subset) {
  std::int64_t p = 0;
  for (int c : subset) p ^= x[static_cast<std::size_t>(row * n + c)];
  return p;
}

// One scorer instance for `secret`: the training block is redrawn until exactly one k-subset
// explains every label (§2.2), then uniform test rows.
DallyCase parity_case(const ParityShape& s, const std::vector<std::vector<int>>& candidates,
                      const std::vector<int>& secret, Rng& rng) {
  std::vector<std::int64_t> x_train, y_train;
  while (true) {
    x_train.clear();
    y_train.clear();
    for (int i = 0; i < s.m_train * s.n; ++i) x_train.push_back(static_cast<int>(rng.next() & 1));
    for (int i = 0; i < s.m_train; ++i) y_train.push_back(parity_of(x_train, s.n, i, secret));
    int explaining = 0;
    for (const auto& c : candidates) {
      bool ok = true;
      for (int i = 0; i < s.m_train && ok; ++i)
        ok = parity_of(x_train, s.n, i, c) == y_train[static_cast<std::size_t>(i)];
      explaining += ok;
    }
    if (explaining == 1) break;
  }
  std::vector<std::int64_t> x_test;
  for (int i = 0; i < s.m_test * s.n; ++i) x_test.push_back(static_cast<int>(rng.next() & 1));
  DallyCase c;
  c.inputs = x_train;
  c.inputs.insert(c.inputs.end(), y_train.begin(), y_train.end());
  c.inputs.insert(c.inputs.end(), x_test.begin(), x_test.end());
  for (int j = 0; j < s.m_test; ++j) c.expected.push_back(parity_of(x_test, s.n, j, secret));
  return c;
}

}  // namespace

bool DallyTask::passes(std::size_t index, std::span<const std::int64_t> outputs) const {
  const DallyCase& c = cases.at(index);
  if (outputs.size() != c.expected.size()) return false;
  std::size_t right = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) right += outputs[i] == c.expected[i];
  if (min_fraction_correct >= 1.0) return right == outputs.size();
  return static_cast<double>(right) >= min_fraction_correct * static_cast<double>(outputs.size());
}

double DallyProblem::accuracy(std::span<const std::int8_t> test_predictions) const {
  CUBE_CHECK(test_predictions.size() == task_.cases.size(), "expected one prediction per case ("
                                                                << task_.cases.size() << "), got "
                                                                << test_predictions.size());
  if (task_.cases.empty()) return 0.0;
  const auto passed = std::count(test_predictions.begin(), test_predictions.end(), 1);
  return static_cast<double>(passed) / static_cast<double>(task_.cases.size());
}

DallyMatmul::DallyMatmul(DallyMatmulConfig config) : config_(std::move(config)) {
  if (config_.n != 1 && config_.n != 4 && config_.n != 16)
    throw ConfigError("problem.n: " + std::to_string(config_.n) +
                      " is not a scored size; valid choices: 1, 4, 16");
}

void DallyMatmul::generate(std::uint64_t seed) {
  const std::int64_t n = config_.n;
  std::vector<std::int64_t> a(static_cast<std::size_t>(n * n)), b(a.size());
  Rng rng(seed);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      const auto at = static_cast<std::size_t>(i * n + j);
      if (config_.instance == "public") {
        a[at] = i * n + j + 1;
        b[at] = i + 2 * j + 3;
      } else {
        a[at] = static_cast<std::int64_t>(rng.below(2001)) - 1000;
      }
    }
  }
  if (config_.instance == "random")
    for (auto& v : b) v = static_cast<std::int64_t>(rng.below(2001)) - 1000;
  DallyCase c;
  c.inputs = a;
  c.inputs.insert(c.inputs.end(), b.begin(), b.end());
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      std::int64_t sum = 0;
      for (std::int64_t k = 0; k < n; ++k)
        sum += a[static_cast<std::size_t>(i * n + k)] * b[static_cast<std::size_t>(k * n + j)];
      c.expected.push_back(sum);
    }
  }
  task_ = DallyTask{};
  task_.isa = "v0";
  task_.family = "matmul";
  task_.n = n;
  task_.cases.push_back(std::move(c));
}

DallySparseParity::DallySparseParity(DallySparseParityConfig config) : config_(std::move(config)) {}

void DallySparseParity::generate(std::uint64_t seed) {
  const bool small = config_.size == "small";
  const ParityShape s = small ? ParityShape{3, 2, 4, 32} : ParityShape{8, 3, 8, 64};
  const auto candidates = k_subsets(s.n, s.k);
  Rng rng(seed);
  task_ = DallyTask{};
  task_.isa = "v3";
  task_.family = "sparse_parity";
  task_.n = s.n;
  task_.size = config_.size;
  task_.min_fraction_correct = config_.size == "medium_approx50" ? 0.5 : 1.0;
  if (small) {
    // 64 instances, secrets cycling through all 3 candidates (the scorer covers every secret).
    for (int t = 0; t < 64; ++t)
      task_.cases.push_back(parity_case(s, candidates, candidates[t % 3], rng));
  } else {
    // 8 distinct secrets: the first 8 of a Fisher-Yates shuffle of the 56 candidates.
    std::vector<std::size_t> order(candidates.size());
    std::iota(order.begin(), order.end(), 0);
    for (std::size_t i = 0; i < 8; ++i) std::swap(order[i], order[i + rng.below(order.size() - i)]);
    for (std::size_t t = 0; t < 8; ++t)
      task_.cases.push_back(parity_case(s, candidates, candidates[order[t]], rng));
  }
}

DallySymmetry::DallySymmetry(DallySymmetryConfig config) : config_(config) {
  if (config_.bits != 6 && config_.bits != 8)
    throw ConfigError("problem.bits: " + std::to_string(config_.bits) +
                      " is not a scored size; valid choices: 6, 8");
}

void DallySymmetry::generate(std::uint64_t /*seed: the task is exhaustive*/) {
  const std::int64_t n = config_.bits;
  task_ = DallyTask{};
  task_.isa = "v3";
  task_.family = "symmetry";
  task_.n = n;
  for (std::int64_t code = 0; code < (std::int64_t{1} << n); ++code) {
    DallyCase c;
    for (std::int64_t i = 0; i < n; ++i) c.inputs.push_back((code >> i) & 1);
    bool palindrome = true;
    for (std::int64_t i = 0; i < n / 2; ++i)
      palindrome &=
          c.inputs[static_cast<std::size_t>(i)] == c.inputs[static_cast<std::size_t>(n - 1 - i)];
    c.expected.push_back(palindrome ? 1 : 0);
    task_.cases.push_back(std::move(c));
  }
}

CUBE_REGISTER(Problem, DallyMatmul, DallyMatmulConfig, "dally_matmul",
              "C = A·B for an explicit-address v0 IR program (sutro matmul scorer)");
CUBE_REGISTER(Problem, DallySparseParity, DallySparseParityConfig, "dally_sparse_parity",
              "joint train+test k-sparse parity for a v3 IR program (sutro sparse-parity scorer)");
CUBE_REGISTER(Problem, DallySymmetry, DallySymmetryConfig, "dally_symmetry",
              "palindrome flag of every bit pattern for a v3 IR program (sutro symmetry scorer)");

}  // namespace cube
