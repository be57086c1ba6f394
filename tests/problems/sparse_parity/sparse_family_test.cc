// Tests of the sparse family (sparse_sum, sparse_and, majority, threshold, noisy_parity): inputs
// shared with sparse_parity, labels against slow obvious rules, label balance, noise rate,
// determinism, parameters and accuracy per label kind.

#include "problems/sparse_parity/sparse_family.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/spec.h"

namespace cube {
namespace {

std::unique_ptr<Problem> make(const std::string& spec) {
  return instantiate<Problem>(parse_spec(spec), "problem");
}

// The label rules written the obvious way, from the sum of the secret bits.
int reference_label(const std::string& name, const std::int8_t* x, const std::vector<int>& s,
                    int t) {
  int sum = 0, plus = 0, product = 1;
  for (int i : s) {
    sum += x[i];
    plus += x[i] == 1;
    product *= x[i];
  }
  if (name == "sparse_sum") return sum;
  if (name == "sparse_and") return plus == static_cast<int>(s.size()) ? 1 : 0;
  if (name == "majority") return sum > 0 ? 1 : (sum == 0 ? 1 : -1);
  if (name == "threshold") return sum >= t ? 1 : -1;
  return product;  // noisy_parity (clean)
}

const char* const kNames[] = {"sparse_sum", "sparse_and", "majority", "threshold", "noisy_parity"};

TEST(SparseFamilyTest, DefaultsAndCanonicalSpecs) {
  EXPECT_EQ(make("sparse_sum")->spec(), "sparse_sum(k=3,n=20,n_test=200,n_train=1000)");
  EXPECT_EQ(make("majority")->spec(), "majority(k=3,n=20,n_test=200,n_train=1000)");
  EXPECT_EQ(make("threshold")->spec(), "threshold(k=3,n=20,n_test=200,n_train=1000,t=-1000000)");
  EXPECT_EQ(make("noisy_parity")->spec(), "noisy_parity(k=3,n=20,n_test=200,n_train=1000,p=0.1)");
  EXPECT_EQ(dynamic_cast<Threshold&>(*make("threshold")).t(), 2);  // k - 1
  EXPECT_EQ(dynamic_cast<Threshold&>(*make("threshold(k=5)")).t(), 4);
  EXPECT_EQ(dynamic_cast<Threshold&>(*make("threshold(k=5,t=-1)")).t(), -1);
}

TEST(SparseFamilyTest, LabelKinds) {
  EXPECT_EQ(make("sparse_sum")->binary_dataset()->label_kind, LabelKind::kInteger);
  EXPECT_EQ(make("sparse_and")->binary_dataset()->label_kind, LabelKind::kBit);
  EXPECT_EQ(make("majority")->binary_dataset()->label_kind, LabelKind::kSign);
  EXPECT_EQ(make("threshold")->binary_dataset()->label_kind, LabelKind::kSign);
  EXPECT_EQ(make("noisy_parity")->binary_dataset()->label_kind, LabelKind::kSign);
}

TEST(SparseFamilyTest, InputsAndSecretAreSparseParitys) {
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    for (std::uint64_t seed : {1ULL, 42ULL}) {
      auto p = make(std::string(name) + "(n=70,k=4,n_train=30,n_test=9)");
      auto q = make("sparse_parity(n=70,k=4,n_train=30,n_test=9)");
      p->generate(seed);
      q->generate(seed);
      EXPECT_EQ(p->secret(), q->secret());
      EXPECT_EQ(p->binary_dataset()->x_train, q->binary_dataset()->x_train);
      EXPECT_EQ(p->binary_dataset()->x_test, q->binary_dataset()->x_test);
    }
  }
}

TEST(SparseFamilyTest, LabelsFollowTheObviousRules) {
  for (const char* name : kNames) {
    for (int k : {1, 2, 3, 4, 5}) {
      for (int t : {-5, -1, 0, 1, 3, 5}) {
        if (std::string(name) != "threshold" && t != 0) continue;
        if (t < -k || t > k) continue;
        std::string spec =
            std::string(name) + "(n=12,k=" + std::to_string(k) + ",n_train=300,n_test=100";
        if (std::string(name) == "threshold") spec += ",t=" + std::to_string(t);
        if (std::string(name) == "noisy_parity") spec += ",p=0";
        spec += ")";
        SCOPED_TRACE(spec);
        auto p = make(spec);
        p->generate(static_cast<std::uint64_t>(k * 100 + t + 50));
        const std::vector<int> s = *p->secret();
        const BinaryDataset& d = *p->binary_dataset();
        for (std::int64_t r = 0; r < d.n_train; ++r)
          ASSERT_EQ(d.y_train[r], reference_label(name, d.train_row(r), s, t)) << "row " << r;
        for (std::int64_t r = 0; r < d.n_test; ++r)
          ASSERT_EQ(d.y_test[r], reference_label(name, d.test_row(r), s, t)) << "row " << r;
      }
    }
  }
}

TEST(SparseFamilyTest, DefaultThresholdIsKMinusOne) {
  auto a = make("threshold(n=15,k=4,n_train=200,n_test=50)");
  auto b = make("threshold(n=15,k=4,n_train=200,n_test=50,t=3)");
  a->generate(5);
  b->generate(5);
  EXPECT_EQ(a->binary_dataset()->y_train, b->binary_dataset()->y_train);
}

TEST(SparseFamilyTest, LabelBalance) {
  // 20,000 rows: binomial standard deviation <= 0.0036; tolerances are >= 4.5 of them.
  const std::string size = "(n=20,k=3,n_train=20000,n_test=1";
  auto fraction = [](const BinaryDataset& d, int value) {
    return static_cast<double>(std::count(d.y_train.begin(), d.y_train.end(), value)) /
           static_cast<double>(d.n_train);
  };
  auto p = make("sparse_and" + size + ")");
  p->generate(42);
  EXPECT_NEAR(fraction(*p->binary_dataset(), 1), 1.0 / 8, 0.012);  // 2^-k
  auto and5 = make("sparse_and(n=20,k=5,n_train=20000,n_test=1)");
  and5->generate(42);
  EXPECT_NEAR(fraction(*and5->binary_dataset(), 1), 1.0 / 32, 0.006);
  auto m = make("majority" + size + ")");  // odd k: no ties, balanced
  m->generate(42);
  EXPECT_NEAR(fraction(*m->binary_dataset(), 1), 0.5, 0.02);
  auto m4 = make("majority(n=20,k=4,n_train=20000,n_test=1)");  // P(s >= 0) = 11/16
  m4->generate(42);
  EXPECT_NEAR(fraction(*m4->binary_dataset(), 1), 11.0 / 16, 0.02);
  auto t = make("threshold" + size + ")");  // t = 2: all three +1
  t->generate(42);
  EXPECT_NEAR(fraction(*t->binary_dataset(), 1), 1.0 / 8, 0.012);
  auto s = make("sparse_sum" + size + ")");  // s in {-3,-1,1,3} with weights 1,3,3,1 / 8
  s->generate(42);
  EXPECT_NEAR(fraction(*s->binary_dataset(), 3), 1.0 / 8, 0.012);
  EXPECT_NEAR(fraction(*s->binary_dataset(), -1), 3.0 / 8, 0.02);
  EXPECT_EQ(fraction(*s->binary_dataset(), 0), 0.0);  // odd k: the sum is odd
}

TEST(SparseFamilyTest, NoisyParityFlipsTrainingLabelsAtRatePAndKeepsTestClean) {
  for (double p : {0.0, 0.1, 0.3}) {
    auto prob = make("noisy_parity(n=20,k=3,n_train=20000,n_test=500,p=" + std::to_string(p) + ")");
    prob->generate(7);
    const BinaryDataset& d = *prob->binary_dataset();
    const std::vector<int> s = *prob->secret();
    std::int64_t flips = 0;
    std::vector<std::int64_t> rows;
    for (std::int64_t r = 0; r < d.n_train; ++r)
      if (d.y_train[r] != reference_label("noisy_parity", d.train_row(r), s, 0)) {
        ++flips;
        rows.push_back(r);
      }
    EXPECT_EQ(rows, dynamic_cast<NoisyParity&>(*prob).flipped_rows());
    // sd = sqrt(p (1-p) / 20000) <= 0.0033; 5 sd.
    EXPECT_NEAR(static_cast<double>(flips) / 20000.0, p, 0.017) << "p=" << p;
    for (std::int64_t r = 0; r < d.n_test; ++r)
      ASSERT_EQ(d.y_test[r], reference_label("noisy_parity", d.test_row(r), s, 0));
  }
  // p = 0 is sparse_parity exactly.
  auto a = make("noisy_parity(n=20,k=3,n_train=100,n_test=20,p=0)");
  auto b = make("sparse_parity(n=20,k=3,n_train=100,n_test=20)");
  a->generate(9);
  b->generate(9);
  EXPECT_EQ(a->binary_dataset()->y_train, b->binary_dataset()->y_train);
  EXPECT_THROW(make("noisy_parity(p=0.5)"), ConfigError);
  EXPECT_THROW(make("noisy_parity(p=-0.1)"), ConfigError);
}

TEST(SparseFamilyTest, DeterministicPerSeed) {
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    auto a = make(name);
    auto b = make(name);
    a->generate(11);
    b->generate(11);
    EXPECT_EQ(a->secret(), b->secret());
    EXPECT_EQ(a->binary_dataset()->y_train, b->binary_dataset()->y_train);
    EXPECT_EQ(a->binary_dataset()->y_test, b->binary_dataset()->y_test);
    b->generate(12);
    EXPECT_NE(a->binary_dataset()->x_train, b->binary_dataset()->x_train);
    b->generate(11);
    EXPECT_EQ(a->binary_dataset()->y_train, b->binary_dataset()->y_train);
  }
}

TEST(SparseFamilyTest, SecretRecoverability) {
  for (const char* name : kNames) {
    auto p = make(name);
    EXPECT_FALSE(p->secret_recoverable()) << name << " before generate()";
    p->generate(1);
    EXPECT_TRUE(p->secret_recoverable()) << name;
  }
  auto always = make("threshold(k=3,t=-3)");  // every input is labelled +1
  always->generate(1);
  EXPECT_FALSE(always->secret_recoverable());
  EXPECT_TRUE(std::all_of(always->binary_dataset()->y_train.begin(),
                          always->binary_dataset()->y_train.end(), [](int y) { return y == 1; }));
}

TEST(SparseFamilyTest, ConfigErrors) {
  EXPECT_THROW(make("sparse_sum(n=5,k=6)"), ConfigError);
  EXPECT_THROW(make("majority(n=5,k=6)"), ConfigError);
  EXPECT_THROW(make("threshold(k=3,t=4)"), ConfigError);
  EXPECT_THROW(make("threshold(k=3,t=-4)"), ConfigError);
  EXPECT_THROW(make("sparse_sum(n=200,k=128)"), ConfigError);
  EXPECT_NO_THROW(make("threshold(k=3,t=3)"));
}

TEST(SparseFamilyTest, AccuracyPerLabelKind) {
  // kInteger: equal integers are right (0 is a valid sum for even k).
  auto sum = make("sparse_sum(n=10,k=2,n_train=5,n_test=40)");
  sum->generate(3);
  std::vector<std::int8_t> y = sum->binary_dataset()->y_test;
  EXPECT_DOUBLE_EQ(sum->accuracy(y), 1.0);
  ASSERT_NE(std::count(y.begin(), y.end(), 0), 0);  // some sums are 0, scored right above
  std::vector<std::int8_t> off(y);
  for (auto& v : off) v = static_cast<std::int8_t>(v + 1);
  EXPECT_DOUBLE_EQ(sum->accuracy(off), 0.0);
  // kBit: 0 is a label, not "no answer".
  auto band = make("sparse_and(n=10,k=2,n_train=5,n_test=40)");
  band->generate(3);
  const std::vector<std::int8_t>& b = band->binary_dataset()->y_test;
  std::vector<std::int8_t> zeros(b.size(), 0);
  EXPECT_DOUBLE_EQ(band->accuracy(zeros),
                   static_cast<double>(std::count(b.begin(), b.end(), 0)) / 40.0);
  // kSign: 0 is wrong.
  auto maj = make("majority(n=10,k=3,n_train=5,n_test=40)");
  maj->generate(3);
  std::vector<std::int8_t> m = maj->binary_dataset()->y_test;
  m[0] = 0;
  EXPECT_DOUBLE_EQ(maj->accuracy(m), 39.0 / 40.0);
}

}  // namespace
}  // namespace cube
