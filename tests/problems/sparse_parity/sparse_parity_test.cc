// Tests of the sparse_parity problem: the documented generator (against a slow re-derivation),
// determinism, labels, balance, the k <= n constraint and scoring.

#include "problems/sparse_parity/sparse_parity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <string>

#include "core/rng.h"
#include "core/spec.h"

namespace cube {
namespace {

std::unique_ptr<Problem> make(const std::string& spec) {
  return instantiate<Problem>(parse_spec(spec), "problem");
}

// The generator exactly as the header documents it, one bit at a time.
struct Reference {
  std::vector<int> secret;
  std::vector<std::vector<int>> x;  // train rows then test rows
  std::vector<int> y;
};

Reference reference(std::uint64_t seed, int n, int k, int rows) {
  Rng rng(seed);
  std::vector<int> perm(n);
  for (int i = 0; i < n; ++i) perm[i] = i;
  for (int i = 0; i < k; ++i) {
    int j = i + static_cast<int>(rng.below(static_cast<std::uint64_t>(n - i)));
    std::swap(perm[i], perm[j]);
  }
  Reference ref;
  ref.secret.assign(perm.begin(), perm.begin() + k);
  std::sort(ref.secret.begin(), ref.secret.end());
  for (int r = 0; r < rows; ++r) {
    std::vector<int> row;
    for (int w = 0; w * 64 < n; ++w) {
      std::uint64_t word = rng.next();
      for (int b = 0; b < 64 && w * 64 + b < n; ++b) row.push_back((word >> b) & 1 ? -1 : 1);
    }
    int label = 1;
    for (int i : ref.secret) label *= row[i];
    ref.x.push_back(row);
    ref.y.push_back(label);
  }
  return ref;
}

TEST(SparseParityTest, DefaultsAndCanonicalSpec) {
  auto p = make("sparse_parity");
  EXPECT_EQ(p->spec(), "sparse_parity(k=3,n=20,n_test=200,n_train=1000)");
  EXPECT_FALSE(p->secret().has_value());  // nothing drawn yet
  ASSERT_NE(p->binary_dataset(), nullptr);
}

TEST(SparseParityTest, MatchesTheDocumentedGenerator) {
  // n = 70 spans two words per row; n = 64 exactly one; n = 5 a partial word.
  for (auto [n, k] : {std::pair{70, 4}, std::pair{64, 3}, std::pair{5, 5}, std::pair{1, 1}}) {
    for (std::uint64_t seed : {0ULL, 1ULL, 42ULL, 123456789ULL}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k) +
                   " seed=" + std::to_string(seed));
      auto p = make("sparse_parity(n=" + std::to_string(n) + ",k=" + std::to_string(k) +
                    ",n_train=13,n_test=7)");
      p->generate(seed);
      Reference ref = reference(seed, n, k, 13 + 7);
      EXPECT_EQ(*p->secret(), ref.secret);
      const BinaryDataset& d = *p->binary_dataset();
      ASSERT_EQ(d.n_bits, n);
      ASSERT_EQ(d.n_train, 13);
      ASSERT_EQ(d.n_test, 7);
      for (int r = 0; r < 20; ++r) {
        const std::int8_t* row = r < 13 ? d.train_row(r) : d.test_row(r - 13);
        const int label = r < 13 ? d.y_train[r] : d.y_test[r - 13];
        EXPECT_EQ(std::vector<int>(row, row + n), ref.x[r]) << "row " << r;
        EXPECT_EQ(label, ref.y[r]) << "row " << r;
      }
    }
  }
}

TEST(SparseParityTest, SameSeedSameDataDifferentSeedsDiffer) {
  auto a = make("sparse_parity");
  auto b = make("sparse_parity");
  a->generate(42);
  b->generate(42);
  EXPECT_EQ(a->secret(), b->secret());
  EXPECT_EQ(a->binary_dataset()->x_train, b->binary_dataset()->x_train);
  EXPECT_EQ(a->binary_dataset()->y_test, b->binary_dataset()->y_test);
  b->generate(43);
  EXPECT_NE(a->binary_dataset()->x_train, b->binary_dataset()->x_train);
  EXPECT_NE(a->binary_dataset()->x_test, b->binary_dataset()->x_test);
  // Re-generating the first seed restores it exactly (generate is a pure function of the seed).
  b->generate(42);
  EXPECT_EQ(a->binary_dataset()->x_test, b->binary_dataset()->x_test);
  // Secrets vary across seeds: 20 seeds give several distinct sets.
  std::set<std::vector<int>> secrets;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    a->generate(seed);
    secrets.insert(*a->secret());
  }
  EXPECT_GE(secrets.size(), 15u);
}

TEST(SparseParityTest, SecretIsSortedDistinctInRangeAndLabelsAreItsProduct) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    auto p = make("sparse_parity(n=30,k=7,n_train=100,n_test=40)");
    p->generate(seed);
    const std::vector<int> s = *p->secret();
    ASSERT_EQ(s.size(), 7u);
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    EXPECT_EQ(std::adjacent_find(s.begin(), s.end()), s.end());
    EXPECT_GE(s.front(), 0);
    EXPECT_LT(s.back(), 30);
    const BinaryDataset& d = *p->binary_dataset();
    for (int split = 0; split < 2; ++split) {
      const std::int64_t rows = split ? d.n_test : d.n_train;
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::int8_t* x = split ? d.test_row(r) : d.train_row(r);
        int product = 1;
        for (int i : s) product *= x[i];
        EXPECT_EQ(split ? d.y_test[r] : d.y_train[r], product);
        for (int j = 0; j < 30; ++j) EXPECT_TRUE(x[j] == 1 || x[j] == -1);
      }
    }
  }
}

TEST(SparseParityTest, BitsLabelsAndSecretsAreBalanced) {
  auto p = make("sparse_parity(n=20,k=3,n_train=5000,n_test=1000)");
  p->generate(42);
  const BinaryDataset& d = *p->binary_dataset();
  const double ones = std::count(d.y_train.begin(), d.y_train.end(), 1);
  EXPECT_NEAR(ones / 5000.0, 0.5, 0.03);  // 4.2 standard deviations
  const double minus = std::count(d.x_train.begin(), d.x_train.end(), -1);
  EXPECT_NEAR(minus / (5000.0 * 20.0), 0.5, 0.01);  // 4.5 standard deviations
  for (int j = 0; j < 20; ++j) {                    // every column is balanced too
    int m = 0;
    for (int r = 0; r < 5000; ++r) m += d.train_row(r)[j] < 0;
    EXPECT_NEAR(m / 5000.0, 0.5, 0.03) << "column " << j;
  }
  // Each index is in the secret with probability k/n = 0.4 (n=5, k=2) over 2000 seeds.
  auto q = make("sparse_parity(n=5,k=2,n_train=1,n_test=1)");
  std::vector<int> hits(5, 0);
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    q->generate(seed);
    const std::vector<int> secret = *q->secret();
    for (int i : secret) ++hits[i];
  }
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(hits[i] / 2000.0, 0.4, 0.05) << "index " << i;
}

TEST(SparseParityTest, KGreaterThanNIsAConfigError) {
  try {
    make("sparse_parity(n=5,k=9)");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.message().rfind("problem.k: ", 0), 0u) << e.message();
    EXPECT_TRUE(e.where().file.empty());
  }
  EXPECT_NO_THROW(make("sparse_parity(n=5,k=5)"));
  EXPECT_THROW(make("sparse_parity(n=0)"), ConfigError);
  EXPECT_THROW(make("sparse_parity(k=0)"), ConfigError);
  EXPECT_THROW(make("sparse_parity(n_train=0)"), ConfigError);
  EXPECT_THROW(make("sparse_parity(n_test=0)"), ConfigError);
}

TEST(SparseParityTest, AccuracyCountsZeroAsWrong) {
  auto p = make("sparse_parity(n=8,k=2,n_train=4,n_test=10)");
  p->generate(3);
  const std::vector<std::int8_t>& y = p->binary_dataset()->y_test;
  EXPECT_DOUBLE_EQ(p->accuracy(y), 1.0);
  std::vector<std::int8_t> flipped(y);
  for (auto& v : flipped) v = static_cast<std::int8_t>(-v);
  EXPECT_DOUBLE_EQ(p->accuracy(flipped), 0.0);
  std::vector<std::int8_t> some(y);
  some[0] = 0;
  some[1] = static_cast<std::int8_t>(-some[1]);
  EXPECT_DOUBLE_EQ(p->accuracy(some), 0.8);
}

}  // namespace
}  // namespace cube
