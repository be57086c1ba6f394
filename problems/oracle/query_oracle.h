// cube/problems/oracle/query_oracle.h: membership-query access to a hidden Boolean rule.
//
// What: the capability of problems in the query model (sparse-parity.md §1.4, §6.5): instead of
// i.i.d. samples, a solver may ask for the label f(x) of any x in {-1,+1}^n it chooses, and
// every query is counted. Kushilevitz-Mansour style solvers (km, km_min) need it. Problems that
// offer it offer no BinaryDataset, so query-model results never mix with i.i.d. ones.
//
// A problem builds one QueryOracle in generate(): n_bits, the held-out test set the problem
// scores predictions on (x_test row-major n_test x n_bits, y_test), the label kind and the rule.
// label(x) evaluates the rule on n_bits entries (+-1; 0 is read as +1 by the sparse rules) and
// adds one to queries(). The count lives in the oracle so that a solver's report of its own
// queries can be checked: solvers put queries() after minus queries() before their run in
// SolveResult::measures["queries"]. Not thread-safe (one solve at a time per problem).
//
// Cost: label() is one call through std::function plus the rule (O(k) for sparse parity).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "problems/problem.h"

namespace cube {

struct QueryOracle {
  using Rule = std::function<std::int8_t(const std::int8_t* x)>;

  LabelKind label_kind = LabelKind::kSign;
  std::int64_t n_bits = 0;
  std::int64_t n_test = 0;
  std::vector<std::int8_t> x_test;  // n_test x n_bits, entries -1 or +1
  std::vector<std::int8_t> y_test;  // n_test labels of the rule (see label_kind)

  QueryOracle() = default;
  QueryOracle(LabelKind kind, std::int64_t n, Rule rule)
      : label_kind(kind), n_bits(n), rule_(std::move(rule)) {}

  // f(x) for x of n_bits entries; counts one query.
  std::int8_t label(const std::int8_t* x) const {
    ++queries_;
    return rule_(x);
  }

  // Queries answered since construction (or reset_queries()).
  std::int64_t queries() const { return queries_; }
  void reset_queries() const { queries_ = 0; }

  const std::int8_t* test_row(std::int64_t i) const { return x_test.data() + i * n_bits; }

 private:
  Rule rule_;
  mutable std::int64_t queries_ = 0;
};

}  // namespace cube
