// cube/problems/dally/dally_problems.h: the sutro-problems explicit-address tasks (matmul,
// sparse parity, symmetry) as problems whose "solvers" are straight-line IR programs.
//
// What: each problem generates a DallyTask: the instruction set ("v0" or "v3", dally-ir.md §1),
// and a list of cases (input values in the scorer's order, expected outputs). A solver runs one
// program on every case and returns one prediction per case: +1 when the case passes, -1 when
// it does not. accuracy() is then the fraction of passing cases (1.0 = the scorer accepts).
//   dally_matmul(n in {1,4,16}, instance=public|random): inputs A then B row-major (2n² values),
//     expected C = A·B row-major. public = the scorer's fixed instance A[i][j] = i·n+j+1,
//     B[i][j] = i+2j+3 (§1.4, one case, the seed is ignored); random = one case with entries
//     uniform in [-1000, 1000] drawn from the seed (every record computes a true matmul,
//     dally-ir.md §1.4).
//   dally_sparse_parity(size=small|medium|medium_approx50): §2. Instances as the scorer draws
//     them (identifiable training block, uniform test rows), from cube::Rng(seed): small 64
//     instances whose secrets cycle through all C(3,2) = 3 subsets; medium and medium_approx50 8
//     instances with 8 distinct secrets out of C(8,3) = 56. Inputs X_train, y_train, X_test,
//     outputs y_test, all 0/1. medium_approx50 passes a case at >= 50% correct outputs.
//   dally_symmetry(bits in {6,8}): all 2^bits patterns (bit i of the pattern code = input i),
//     one output: 1 when the pattern is a palindrome, else 0.
// Costs: generate O(cases · case size); matmul O(n³) for the expected product.
// Reference: cybertronai/sutro-problems matmul.py, sparse_parity.py, symmetry.py; spec
// dally-ir.md §1.4, §2, §3.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "problems/problem.h"

namespace cube {

struct DallyCase {
  std::vector<std::int64_t> inputs;    // one per input address, in the IR's input-line order
  std::vector<std::int64_t> expected;  // one per output address
};

struct DallyTask {
  std::string isa;     // "v0" (matmul scorer) or "v3" (sparse-parity / symmetry scorer)
  std::string family;  // "matmul" | "sparse_parity" | "symmetry"
  std::int64_t n = 0;  // matmul: matrix side; symmetry: bits; sparse parity: input bits
  std::string size;    // sparse parity only: "small" | "medium" | "medium_approx50"
  // A case passes when at least this fraction of its outputs match (1.0 = all of them).
  double min_fraction_correct = 1.0;
  std::vector<DallyCase> cases;

  // Whether `outputs` pass case `index` (a wrong output count never passes).
  bool passes(std::size_t index, std::span<const std::int64_t> outputs) const;
};

// Shared base: holds the task; accuracy() = fraction of predictions equal to +1, one prediction
// per case (precondition: predictions.size() == cases.size(), else Error).
class DallyProblem : public Problem {
 public:
  const DallyTask* dally_task() const override { return &task_; }
  double accuracy(std::span<const std::int8_t> test_predictions) const override;

 protected:
  DallyTask task_;
};

struct DallyMatmulConfig {
  std::int64_t n = 4;
  std::string instance = "public";
  template <class V>
  void visit(V& v) {
    v("n", n, "matrix side: 1, 4 or 16 (the scorer's score_1x1/4x4/16x16)").at_least(1);
    v("instance", instance, "public: the scorer's fixed matrices; random: drawn from the seed")
        .one_of({"public", "random"});
  }
};

class DallyMatmul : public DallyProblem {
 public:
  explicit DallyMatmul(DallyMatmulConfig config);
  void generate(std::uint64_t seed) override;

 private:
  DallyMatmulConfig config_;
};

struct DallySparseParityConfig {
  std::string size = "small";
  template <class V>
  void visit(V& v) {
    v("size", size, "small (n=3,k=2), medium (n=8,k=3), or medium_approx50 (>= 50% per case)")
        .one_of({"small", "medium", "medium_approx50"});
  }
};

class DallySparseParity : public DallyProblem {
 public:
  explicit DallySparseParity(DallySparseParityConfig config);
  void generate(std::uint64_t seed) override;

 private:
  DallySparseParityConfig config_;
};

struct DallySymmetryConfig {
  std::int64_t bits = 6;
  template <class V>
  void visit(V& v) {
    v("bits", bits, "input bits: 6 or 8 (every pattern is checked)").at_least(1);
  }
};

class DallySymmetry : public DallyProblem {
 public:
  explicit DallySymmetry(DallySymmetryConfig config);
  void generate(std::uint64_t seed) override;

 private:
  DallySymmetryConfig config_;
};

}  // namespace cube
