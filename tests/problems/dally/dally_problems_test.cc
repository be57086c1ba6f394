// Tests of the Dally IR tasks: the public matmul instance against the spec's formula, random
// matmul against a slow product, sparse-parity instances (identifiable, secrets covered, the
// scorer's counts), exhaustive symmetry, pass/accuracy scoring, determinism and bad parameters.

#include "problems/dally/dally_problems.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/spec.h"

namespace cube {
namespace {

using Values = std::vector<std::int64_t>;

std::unique_ptr<Problem> make(const std::string& spec, std::uint64_t seed = 1) {
  auto problem = instantiate<Problem>(parse_spec(spec), "problem");
  problem->generate(seed);
  return problem;
}

TEST(DallyMatmul, PublicInstanceIsTheScorersFormula) {
  // dally-ir.md §1.4 / §3.1: n = 1 is A = [[1]], B = [[3]], C = [[3]].
  auto one_problem = make("dally_matmul(n=1)");
  const DallyTask* one = one_problem->dally_task();
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->isa, "v0");
  ASSERT_EQ(one->cases.size(), 1u);
  EXPECT_EQ(one->cases[0].inputs, (Values{1, 3}));
  EXPECT_EQ(one->cases[0].expected, (Values{3}));
  for (int n : {4, 16}) {
    SCOPED_TRACE(n);
    auto problem = make("dally_matmul(n=" + std::to_string(n) + ")", 5);
    const DallyTask& task = *problem->dally_task();
    EXPECT_EQ(task.family, "matmul");
    EXPECT_EQ(task.n, n);
    ASSERT_EQ(task.cases.size(), 1u);
    const DallyCase& c = task.cases[0];
    ASSERT_EQ(c.inputs.size(), static_cast<std::size_t>(2 * n * n));
    ASSERT_EQ(c.expected.size(), static_cast<std::size_t>(n * n));
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        EXPECT_EQ(c.inputs[i * n + j], i * n + j + 1);
        EXPECT_EQ(c.inputs[n * n + i * n + j], i + 2 * j + 3);
        std::int64_t sum = 0;
        for (int k = 0; k < n; ++k) sum += (i * n + k + 1) * (k + 2 * j + 3);
        EXPECT_EQ(c.expected[i * n + j], sum);
      }
    }
    // The public instance ignores the seed.
    EXPECT_EQ(make("dally_matmul(n=" + std::to_string(n) + ")", 99)->dally_task()->cases[0].inputs,
              c.inputs);
  }
  // 4x4's C is not symmetric (the scorer chose the data so).
  const Values c4 = make("dally_matmul(n=4)")->dally_task()->cases[0].expected;
  EXPECT_NE(c4[1], c4[4]);
}

TEST(DallyMatmul, RandomInstanceIsATrueProductFromTheSeed) {
  const int n = 4;
  const DallyTask a = *make("dally_matmul(n=4,instance=random)", 3)->dally_task();
  const DallyTask b = *make("dally_matmul(n=4,instance=random)", 3)->dally_task();
  const DallyTask c = *make("dally_matmul(n=4,instance=random)", 4)->dally_task();
  EXPECT_EQ(a.cases[0].inputs, b.cases[0].inputs);
  EXPECT_NE(a.cases[0].inputs, c.cases[0].inputs);
  const Values& x = a.cases[0].inputs;
  for (std::int64_t v : x) {
    EXPECT_GE(v, -1000);
    EXPECT_LE(v, 1000);
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      std::int64_t sum = 0;
      for (int k = 0; k < n; ++k) sum += x[i * n + k] * x[n * n + k * n + j];
      EXPECT_EQ(a.cases[0].expected[i * n + j], sum);
    }
  }
}

TEST(DallyMatmul, RejectsUnscoredSizes) {
  EXPECT_THROW(make("dally_matmul(n=2)"), ConfigError);
  EXPECT_THROW(make("dally_matmul(instance=hidden)"), ConfigError);
}

// Parity of `subset` over row `row` of an n-column 0/1 block.
std::int64_t parity(const Values& x, int n, int row, const std::vector<int>& subset) {
  std::int64_t p = 0;
  for (int c : subset) p ^= x[row * n + c];
  return p;
}

// All k-subsets by brute force over bit masks (independent of the generator's enumeration).
std::vector<std::vector<int>> subsets(int n, int k) {
  std::vector<std::vector<int>> all;
  for (int mask = 0; mask < (1 << n); ++mask) {
    if (__builtin_popcount(static_cast<unsigned>(mask)) != k) continue;
    std::vector<int> s;
    for (int c = 0; c < n; ++c)
      if (mask >> c & 1) s.push_back(c);
    all.push_back(s);
  }
  return all;
}

// Checks every case: layout, 0/1 values, a unique explaining k-subset whose parity gives y_test.
// Returns the set of secrets seen.
std::set<std::vector<int>> check_parity_task(const DallyTask& task, int n, int k, int m_train,
                                             int m_test) {
  std::set<std::vector<int>> secrets;
  for (const DallyCase& c : task.cases) {
    EXPECT_EQ(c.inputs.size(), static_cast<std::size_t>(n * m_train + m_train + n * m_test));
    EXPECT_EQ(c.expected.size(), static_cast<std::size_t>(m_test));
    for (std::int64_t v : c.inputs) EXPECT_TRUE(v == 0 || v == 1);
    const Values x_train(c.inputs.begin(), c.inputs.begin() + n * m_train);
    const Values y_train(c.inputs.begin() + n * m_train, c.inputs.begin() + (n + 1) * m_train);
    const Values x_test(c.inputs.begin() + (n + 1) * m_train, c.inputs.end());
    std::vector<std::vector<int>> explaining;
    for (const auto& s : subsets(n, k)) {
      bool ok = true;
      for (int i = 0; i < m_train; ++i) ok &= parity(x_train, n, i, s) == y_train[i];
      if (ok) explaining.push_back(s);
    }
    EXPECT_EQ(explaining.size(), 1u);
    if (explaining.size() != 1) continue;
    secrets.insert(explaining[0]);
    for (int j = 0; j < m_test; ++j)
      EXPECT_EQ(c.expected[j], parity(x_test, n, j, explaining[0])) << j;
  }
  return secrets;
}

TEST(DallySparseParity, SmallHas64IdentifiableInstancesCoveringAllSecrets) {
  auto problem = make("dally_sparse_parity(size=small)", 11);
  const DallyTask& task = *problem->dally_task();
  EXPECT_EQ(task.isa, "v3");
  EXPECT_EQ(task.size, "small");
  EXPECT_EQ(task.min_fraction_correct, 1.0);
  ASSERT_EQ(task.cases.size(), 64u);
  EXPECT_EQ(check_parity_task(task, 3, 2, 4, 32).size(), 3u);
}

TEST(DallySparseParity, MediumHas8InstancesWith8DistinctSecrets) {
  for (const char* size : {"medium", "medium_approx50"}) {
    SCOPED_TRACE(size);
    auto problem = make(std::string("dally_sparse_parity(size=") + size + ")", 12);
    const DallyTask& task = *problem->dally_task();
    ASSERT_EQ(task.cases.size(), 8u);
    EXPECT_EQ(check_parity_task(task, 8, 3, 8, 64).size(), 8u);
    EXPECT_EQ(task.min_fraction_correct, std::string(size) == "medium" ? 1.0 : 0.5);
  }
}

TEST(DallySparseParity, SameSeedSameInstancesOtherSeedOthers) {
  const DallyTask a = *make("dally_sparse_parity(size=medium)", 5)->dally_task();
  const DallyTask b = *make("dally_sparse_parity(size=medium)", 5)->dally_task();
  const DallyTask c = *make("dally_sparse_parity(size=medium)", 6)->dally_task();
  for (std::size_t i = 0; i < a.cases.size(); ++i) {
    EXPECT_EQ(a.cases[i].inputs, b.cases[i].inputs);
    EXPECT_EQ(a.cases[i].expected, b.cases[i].expected);
  }
  EXPECT_NE(a.cases[0].inputs, c.cases[0].inputs);
  EXPECT_THROW(make("dally_sparse_parity(size=large)"), ConfigError);
}

TEST(DallySymmetry, ExhaustiveOverAllPatterns) {
  for (int bits : {6, 8}) {
    SCOPED_TRACE(bits);
    auto problem = make("dally_symmetry(bits=" + std::to_string(bits) + ")");
    const DallyTask& task = *problem->dally_task();
    EXPECT_EQ(task.isa, "v3");
    ASSERT_EQ(task.cases.size(), std::size_t{1} << bits);
    std::set<Values> patterns;
    std::int64_t palindromes = 0;
    for (const DallyCase& c : task.cases) {
      ASSERT_EQ(c.inputs.size(), static_cast<std::size_t>(bits));
      ASSERT_EQ(c.expected.size(), 1u);
      patterns.insert(c.inputs);
      Values reversed(c.inputs.rbegin(), c.inputs.rend());
      EXPECT_EQ(c.expected[0], reversed == c.inputs ? 1 : 0);
      palindromes += c.expected[0];
    }
    EXPECT_EQ(patterns.size(), std::size_t{1} << bits);
    EXPECT_EQ(palindromes, std::int64_t{1} << (bits / 2));
  }
  EXPECT_THROW(make("dally_symmetry(bits=7)"), ConfigError);
}

TEST(DallyTask, PassesAndAccuracy) {
  DallyTask task;
  task.cases.push_back({{0}, {1, 0, 1, 1}});
  EXPECT_TRUE(task.passes(0, Values{1, 0, 1, 1}));
  EXPECT_FALSE(task.passes(0, Values{1, 0, 1, 0}));
  EXPECT_FALSE(task.passes(0, Values{1, 0, 1}));
  task.min_fraction_correct = 0.5;
  EXPECT_TRUE(task.passes(0, Values{1, 0, 0, 0}));   // 2 of 4 right
  EXPECT_FALSE(task.passes(0, Values{0, 1, 0, 0}));  // 1 of 4 right
  EXPECT_FALSE(task.passes(0, Values{1, 0}));

  auto problem = make("dally_symmetry(bits=6)");
  std::vector<std::int8_t> predictions(64, -1);
  EXPECT_EQ(problem->accuracy(predictions), 0.0);
  for (int i = 0; i < 16; ++i) predictions[i] = 1;
  EXPECT_EQ(problem->accuracy(predictions), 0.25);
  predictions.assign(64, 1);
  EXPECT_EQ(problem->accuracy(predictions), 1.0);
  predictions.pop_back();
  EXPECT_THROW(problem->accuracy(predictions), Error);
}

TEST(DallyTask, OnlyDallyProblemsOfferIt) {
  EXPECT_EQ(make("sparse_parity(n=8,k=2,n_train=10,n_test=5)")->dally_task(), nullptr);
  EXPECT_EQ(make("dally_symmetry")->binary_dataset(), nullptr);
}

}  // namespace
}  // namespace cube
