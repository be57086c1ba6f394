// cube/solvers/dally_ir/dally_optimize.cc: the generators and the search of dally_optimize.h.

#include "solvers/dally_ir/dally_optimize.h"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>

#include "core/error.h"
#include "solvers/dally_ir/ir_solvers.h"

namespace cube {
namespace {

using Values = std::vector<DallyValue>;

// A fresh low copy of `v` pays one far read and makes every later read cheap; with one later
// read it only adds a read, so the value is used in place.
DallyValue staged(DallyValueProgram& p, DallyValue v, int later_reads) {
  return later_reads > 1 ? p.unary(DallyOp::kCopy, v) : v;
}

// OR-accumulates `v` into `acc` (the first contribution is the accumulator itself).
void accumulate_or(DallyValueProgram& p, DallyValue& acc, bool& has, DallyValue v) {
  acc = has ? p.binary(DallyOp::kOr, acc, v) : v;
  has = true;
}

}  // namespace

DallyValueProgram matmul_value_program(int n, const MatmulSchedule& s) {
  CUBE_CHECK(n >= 1 && s.tile_rows >= 1 && s.tile_cols >= 1 && s.k_unroll >= 1 &&
                 n % s.tile_rows == 0 && n % s.tile_cols == 0 && n % s.k_unroll == 0,
             "tile " << s.tile_rows << "x" << s.tile_cols << "x" << s.k_unroll
                     << " does not divide n = " << n);
  DallyValueProgram p(DallyVersion::kV0);
  const auto nn = static_cast<std::size_t>(n) * n;
  Values a(nn), b(nn), c(nn);
  for (auto& v : a) v = p.input();
  for (auto& v : b) v = p.input();
  const int tiles_down = n / s.tile_rows, tiles_across = n / s.tile_cols, u_max = s.k_unroll;
  for (int t = 0; t < tiles_down * tiles_across; ++t) {
    const int ti = s.column_major_tiles ? t % tiles_down : t / tiles_across;
    const int tj = s.column_major_tiles ? t / tiles_down : t % tiles_across;
    if (s.stage_a && ti > 0 && tj == 0 && !s.column_major_tiles) {
      for (int i = 0; i < s.tile_rows; ++i) {
        for (int k = 0; k < n; ++k) {
          DallyValue& v = a[(ti * s.tile_rows + i) * n + k];
          v = p.unary(DallyOp::kCopy, v);
        }
      }
    }
    // Per k-block: the tile's B block is staged once (read by every row), each row's A block
    // once (read by every column); a tile k×16 is the transpose of 16×k, so rows stay outer.
    for (int k0 = 0; k0 < n; k0 += u_max) {
      std::vector<Values> sb(u_max, Values(s.tile_cols));
      for (int u = 0; u < u_max; ++u) {
        for (int j = 0; j < s.tile_cols; ++j) {
          sb[u][j] = staged(p, b[(k0 + u) * n + tj * s.tile_cols + j], s.tile_rows);
        }
      }
      for (int i = 0; i < s.tile_rows; ++i) {
        const int row = ti * s.tile_rows + i;
        Values sa(u_max);
        for (int u = 0; u < u_max; ++u) sa[u] = staged(p, a[row * n + k0 + u], s.tile_cols);
        for (int j = 0; j < s.tile_cols; ++j) {
          const std::size_t out = static_cast<std::size_t>(row) * n + tj * s.tile_cols + j;
          // The k-block's partial dot product stays in hot cells; C is read once per block.
          DallyValue dot = p.binary(DallyOp::kMul, sa[0], sb[0][j]);
          for (int u = 1; u < u_max; ++u) {
            dot = p.binary(DallyOp::kAdd, dot, p.binary(DallyOp::kMul, sa[u], sb[u][j]));
          }
          c[out] = k0 == 0 ? dot : p.binary(DallyOp::kAdd, c[out], dot);
        }
      }
    }
  }
  for (DallyValue v : c) p.output(v);
  return p;
}

DallyValueProgram sparse_parity_value_program(const ParityProgramShape& s) {
  CUBE_CHECK(s.n >= 2 && s.k >= 1 && s.k <= s.n && s.m_train >= 1 && s.m_train <= 8 &&
                 s.exact_rows >= 0 && s.exact_rows <= s.m_test,
             "unsupported sparse-parity shape");
  CUBE_CHECK(!s.row_wise || s.k == s.n - 1, "the row-wise learner needs k = n - 1");
  DallyValueProgram p(DallyVersion::kV3);
  std::vector<Values> x(s.m_train, Values(s.n));
  Values y(s.m_train);
  std::vector<Values> test(s.m_test, Values(s.n));
  for (auto& row : x) {
    for (auto& v : row) v = p.input();
  }
  for (auto& v : y) v = p.input();
  for (auto& row : test) {
    for (auto& v : row) v = p.input();
  }

  Values secret(s.n);
  std::vector<bool> has(s.n, false);
  if (s.row_wise) {
    // s_c = [the pair without c fails some row] = OR_i (y_i ^ XOR_{j != c} x_ij).
    for (int i = 0; i < s.m_train; ++i) {
      for (int c = 0; c < s.n; ++c) {
        DallyValue e = y[i];
        for (int j = 0; j < s.n; ++j) {
          if (j != c) e = p.binary(DallyOp::kXor, e, x[i][j]);
        }
        bool h = has[c];
        accumulate_or(p, secret[c], h, e);
        has[c] = h;
      }
    }
  } else {
    // Pack column c (and y) into a byte, row 0 in the highest bit.
    const auto pack = [&](auto bit_of) {
      DallyValue v = bit_of(0);
      for (int i = 1; i < s.m_train; ++i) {
        v = p.binary(DallyOp::kAdd, v, v);
        v = p.binary(DallyOp::kAdd, v, bit_of(i));
      }
      return v;
    };
    Values column(s.n);
    for (int c = 0; c < s.n; ++c) column[c] = pack([&](int i) { return x[i][c]; });
    const DallyValue labels = pack([&](int i) { return y[i]; });
    // Depth-first over the candidate prefix tree; returns G(node) = OR of the indicators below.
    const auto visit = [&](auto& self, int depth, int last, DallyValue q) -> DallyValue {
      DallyValue g = 0;
      bool any = false;
      for (int c = last + 1; c <= s.n - (s.k - depth); ++c) {
        DallyValue below;
        if (depth + 1 == s.k) {
          below = p.cmp(DallyPredicate::kEq, q, column[c]);
        } else {
          below = self(self, depth + 1, c, p.binary(DallyOp::kXor, q, column[c]));
        }
        bool h = has[c];
        accumulate_or(p, secret[c], h, below);
        has[c] = h;
        accumulate_or(p, g, any, below);
      }
      return g;
    };
    visit(visit, 0, -1, labels);
  }

  Values predictions;
  for (int r = 0; r < s.exact_rows; ++r) {
    DallyValue t = p.binary(DallyOp::kAnd, test[r][0], secret[0]);
    for (int c = 1; c < s.n; ++c) {
      t = p.binary(DallyOp::kXor, t, p.binary(DallyOp::kAnd, test[r][c], secret[c]));
    }
    predictions.push_back(t);
  }
  if (s.exact_rows < s.m_test) {
    const DallyValue zero = p.set(0);
    while (static_cast<int>(predictions.size()) < s.m_test) predictions.push_back(zero);
  }
  for (DallyValue v : predictions) p.output(v);
  p.remove_dead_code();
  return p;
}

DallyValueProgram symmetry_value_program(int bits) {
  CUBE_CHECK(bits >= 2, "symmetry needs at least 2 bits");
  DallyValueProgram p(DallyVersion::kV3);
  Values x(bits);
  for (auto& v : x) v = p.input();
  DallyValue all = p.cmp(DallyPredicate::kEq, x[0], x[bits - 1]);
  for (int i = 1; i < bits / 2; ++i) {
    all = p.binary(DallyOp::kAnd, all, p.cmp(DallyPredicate::kEq, x[i], x[bits - 1 - i]));
  }
  p.output(all);
  return p;
}

namespace {

// A candidate program, built on demand (a 16×16 matmul program is ~17k values).
struct Candidate {
  std::function<DallyValueProgram()> build;
  std::string method;
};

// The exact shell-by-shell allocation polishes this many of the best chain-coloured candidates.
constexpr std::size_t kPolished = 4;
constexpr int kExactShells = 64;

// Ranks every candidate by chain colouring, re-allocates the best few shell by shell, and keeps
// the cheapest rendered program (costs as the parser prices the text).
DallyOptimizedProgram cheapest(const std::vector<Candidate>& candidates) {
  CUBE_CHECK(!candidates.empty(), "no candidate program");
  DallyOptimizedProgram best;
  const auto consider = [&](const DallyValueProgram& program, const DallyAllocation& allocation,
                            const std::string& method) {
    std::string text = render_dally_program(program, allocation);
    const std::uint64_t cost =
        parse_dally_program(text, "<dally_optimize>", program.version()).cost();
    if (best.text.empty() || cost < best.cost) best = {std::move(text), cost, method};
    return cost;
  };
  std::vector<std::pair<std::uint64_t, std::size_t>> ranked;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const DallyValueProgram program = candidates[i].build();
    ranked.push_back(
        {consider(program, allocate_addresses(program), candidates[i].method + ", chain colouring"),
         i});
  }
  std::sort(ranked.begin(), ranked.end());
  for (std::size_t r = 0; r < std::min(kPolished, ranked.size()); ++r) {
    const Candidate& c = candidates[ranked[r].second];
    const DallyValueProgram program = c.build();
    consider(program, allocate_addresses_by_shell(program, kExactShells),
             c.method + ", exact shell-by-shell colouring");
  }
  return best;
}

std::vector<Candidate> matmul_candidates(int n) {
  std::vector<int> divisors;
  for (int d = 1; d <= n; ++d) {
    if (n % d == 0) divisors.push_back(d);
  }
  std::vector<Candidate> out;
  for (int rows : divisors) {
    for (int cols : divisors) {
      // Tiles of 4..64 products (any tile when n is small): outside that range the hot set or
      // the far reloads dominate.
      if (n >= 4 && (rows * cols < 4 || rows * cols > 64)) continue;
      for (int unroll : divisors) {
        if (unroll > 4) continue;
        for (bool column_major : {false, true}) {
          for (bool stage_a : {false, true}) {
            if (stage_a && (column_major || rows == n)) continue;
            const MatmulSchedule s{rows, cols, column_major, stage_a, unroll};
            std::ostringstream method;
            method << "outer-product tiles " << rows << "x" << cols << ", k unrolled " << unroll
                   << ", " << (column_major ? "column" : "row") << "-major tile order"
                   << (stage_a ? ", A staged per tile row" : "");
            out.push_back({[n, s] { return matmul_value_program(n, s); }, method.str()});
          }
        }
      }
    }
  }
  return out;
}

std::vector<Candidate> parity_candidates(const DallyTask& task) {
  const bool small = task.size == "small";
  ParityProgramShape shape = small ? ParityProgramShape{3, 2, 4, 32, 32, false}
                                   : ParityProgramShape{8, 3, 8, 64, 64, false};
  if (task.size == "medium_approx50") shape.exact_rows = shape.m_test / 2;
  std::vector<Candidate> out;
  out.push_back({[shape] { return sparse_parity_value_program(shape); },
                 "packed columns, candidate prefix tree, masked XOR per test row"});
  if (shape.k == shape.n - 1) {
    shape.row_wise = true;
    out.push_back({[shape] { return sparse_parity_value_program(shape); },
                   "row-wise secret bits (k = n-1), masked XOR per test row"});
  }
  return out;
}

DallyOptimizedProgram search(const DallyTask& task) {
  if (task.family == "matmul") return cheapest(matmul_candidates(static_cast<int>(task.n)));
  if (task.family == "sparse_parity") return cheapest(parity_candidates(task));
  if (task.family == "symmetry") {
    const int bits = static_cast<int>(task.n);
    return cheapest({{[bits] { return symmetry_value_program(bits); }, "mirror-pair cmp, AND"}});
  }
  throw Error("dally_optimize has no generator for the '" + task.family + "' family");
}

}  // namespace

DallyOptimizedProgram optimize_dally_program(const DallyTask& task) {
  // The program depends on the task's shape only (never on its cases), so a sweep over seeds
  // searches once per process.
  static std::mutex mutex;
  static std::map<std::string, DallyOptimizedProgram> found;
  const std::string key =
      task.family + "/" + task.isa + "/" + std::to_string(task.n) + "/" + task.size;
  {
    const std::lock_guard<std::mutex> lock(mutex);
    if (auto it = found.find(key); it != found.end()) return it->second;
  }
  DallyOptimizedProgram best = search(task);
  const std::lock_guard<std::mutex> lock(mutex);
  return found.emplace(key, std::move(best)).first->second;
}

bool DallyOptimizeSolver::supports(const Problem& problem) const {
  const DallyTask* task = problem.dally_task();
  return task != nullptr && (task->family == "matmul" || task->family == "sparse_parity" ||
                             task->family == "symmetry");
}

SolveResult DallyOptimizeSolver::solve(const Problem& problem, const RunContext& /*ctx*/,
                                       RecordingTracer* tracer) {
  CUBE_CHECK(supports(problem), "dally_optimize does not support " << problem.name());
  const DallyTask& task = *problem.dally_task();
  const DallyOptimizedProgram best = optimize_dally_program(task);
  const DallyProgram program =
      parse_dally_program(best.text, "<dally_optimize>", dally_version_of(task));
  const DallyScore score = score_dally_program(program, task, tracer);
  SolveResult result;
  result.test_predictions = score.per_case;
  result.status = score.passed == score.cases ? SolveStatus::kSolved : SolveStatus::kMaxIterations;
  result.message =
      (score.passed == score.cases ? "all " + std::to_string(score.cases) + " cases pass; cost "
                                   : score.first_failure + "; cost ") +
      std::to_string(score.cost) + " (" + best.method + ")";
  return result;
}

CUBE_REGISTER(Solver, DallyOptimizeSolver, NoParams, "dally_optimize",
              "writes its own program for a dally_* problem: generator search + lifetime "
              "colouring by read count");

}  // namespace cube
