// Tests of sparse_parity_oracle: the secret and test rows of sparse_parity, a counting oracle,
// no i.i.d. dataset, and scoring.

#include "problems/sparse_parity/sparse_parity_oracle.h"

#include <gtest/gtest.h>

#include "core/rng.h"
#include "core/spec.h"
#include "problems/sparse_parity/sparse_parity.h"

namespace cube {
namespace {

std::unique_ptr<Problem> make(const std::string& spec) {
  return instantiate<Problem>(parse_spec(spec), "problem");
}

TEST(SparseParityOracleTest, SpecAndCapabilities) {
  auto p = make("sparse_parity_oracle");
  EXPECT_EQ(p->spec(), "sparse_parity_oracle(k=3,n=20,n_test=200)");
  EXPECT_EQ(p->query_oracle(), nullptr);  // before generate()
  p->generate(1);
  EXPECT_NE(p->query_oracle(), nullptr);
  EXPECT_EQ(p->binary_dataset(), nullptr);  // kept apart from i.i.d. problems
  EXPECT_TRUE(p->scores_predictions());
  EXPECT_TRUE(p->secret_recoverable());
  EXPECT_THROW(make("sparse_parity_oracle(n=3,k=4)"), ConfigError);
}

TEST(SparseParityOracleTest, SecretAndTestRowsAreSparseParitys) {
  for (std::uint64_t seed : {0ULL, 42ULL, 99ULL}) {
    auto p = make("sparse_parity_oracle(n=70,k=5,n_test=30)");
    p->generate(seed);
    BinaryDataset d;
    std::vector<int> s;
    draw_sparse_inputs(seed, 70, 5, 0, 30, s, d);
    EXPECT_EQ(*p->secret(), s);
    const QueryOracle& o = *p->query_oracle();
    EXPECT_EQ(o.n_bits, 70);
    EXPECT_EQ(o.n_test, 30);
    EXPECT_EQ(o.x_test, d.x_test);
    auto q = make("sparse_parity(n=70,k=5,n_train=3,n_test=1)");
    q->generate(seed);
    EXPECT_EQ(*q->secret(), s);
    for (std::int64_t r = 0; r < 30; ++r) {
      int product = 1;
      for (int i : s) product *= o.test_row(r)[i];
      EXPECT_EQ(o.y_test[r], product);
    }
  }
}

TEST(SparseParityOracleTest, OracleAnswersTheParityAndCountsQueries) {
  auto p = make("sparse_parity_oracle(n=16,k=3,n_test=10)");
  p->generate(5);
  const QueryOracle& o = *p->query_oracle();
  const std::vector<int> s = *p->secret();
  EXPECT_EQ(o.queries(), 0);
  Rng rng(1);
  std::vector<std::int8_t> x(16);
  for (int q = 0; q < 500; ++q) {
    int product = 1;
    for (auto& v : x) v = rng.below(2) ? 1 : -1;
    for (int i : s) product *= x[i];
    EXPECT_EQ(o.label(x.data()), product);
  }
  EXPECT_EQ(o.queries(), 500);
  o.reset_queries();
  EXPECT_EQ(o.queries(), 0);
  p->generate(5);  // a fresh oracle
  EXPECT_EQ(p->query_oracle()->queries(), 0);
}

TEST(SparseParityOracleTest, AccuracyCountsZeroAsWrong) {
  auto p = make("sparse_parity_oracle(n=8,k=2,n_test=10)");
  p->generate(3);
  std::vector<std::int8_t> y = p->query_oracle()->y_test;
  EXPECT_DOUBLE_EQ(p->accuracy(y), 1.0);
  y[0] = 0;
  y[1] = static_cast<std::int8_t>(-y[1]);
  EXPECT_DOUBLE_EQ(p->accuracy(y), 0.8);
}

}  // namespace
}  // namespace cube
