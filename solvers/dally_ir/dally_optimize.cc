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

// An OR of values built as they come (the first contribution is the accumulator itself).
struct OrAccumulator {
  DallyValue value = 0;
  bool any = false;
  void add(DallyValueProgram& p, DallyValue v) {
    value = any ? p.binary(DallyOp::kOr, value, v) : v;
    any = true;
  }
};

// Sizes that tile [0, n): `sizes` when given (they must sum to n), else n / uniform of uniform.
std::vector<int> tiling(int n, int uniform, const std::vector<int>& sizes, const char* what) {
  std::vector<int> out = sizes;
  if (out.empty()) {
    CUBE_CHECK(uniform >= 1 && n % uniform == 0,
               what << " " << uniform << " does not divide n = " << n);
    out.assign(n / uniform, uniform);
  }
  int sum = 0;
  for (int size : out) {
    CUBE_CHECK(size >= 1, what << " sizes must be positive");
    sum += size;
  }
  CUBE_CHECK(sum == n, what << " sizes sum to " << sum << ", not n = " << n);
  return out;
}

std::vector<int> offsets_of(const std::vector<int>& sizes) {
  std::vector<int> out(sizes.size(), 0);
  for (std::size_t i = 1; i < sizes.size(); ++i) out[i] = out[i - 1] + sizes[i - 1];
  return out;
}

}  // namespace

DallyValueProgram matmul_value_program(int n, const MatmulSchedule& s) {
  CUBE_CHECK(n >= 1, "matmul needs n >= 1");
  const std::vector<int> heights = tiling(n, s.tile_rows, s.row_heights, "tile rows");
  const std::vector<int> widths = tiling(n, s.tile_cols, s.col_widths, "tile columns");
  const std::vector<int> blocks = tiling(n, s.k_unroll, s.k_blocks, "k blocks");
  const std::vector<int> row0 = offsets_of(heights), col0 = offsets_of(widths);
  DallyValueProgram p(DallyVersion::kV0);
  const auto nn = static_cast<std::size_t>(n) * n;
  Values a(nn), b(nn), c(nn);
  for (auto& v : a) v = p.input();
  for (auto& v : b) v = p.input();
  const int tiles_down = static_cast<int>(heights.size());
  const int tiles_across = static_cast<int>(widths.size());
  for (int t = 0; t < tiles_down * tiles_across; ++t) {
    const int ti = s.column_major_tiles ? t % tiles_down : t / tiles_across;
    const int tj = s.column_major_tiles ? t / tiles_down : t % tiles_across;
    const int rows = heights[ti], cols = widths[tj];
    if (s.stage_a && ti > 0 && tj == 0 && !s.column_major_tiles) {
      for (int i = 0; i < rows; ++i) {
        for (int k = 0; k < n; ++k) {
          DallyValue& v = a[static_cast<std::size_t>(row0[ti] + i) * n + k];
          v = p.unary(DallyOp::kCopy, v);
        }
      }
    }
    // Per k-block: the tile's B block is staged once (read by every row), each row's A block
    // once (read by every column); a tile k×16 is the transpose of 16×k, so rows stay outer.
    int k0 = 0;
    for (const int u_max : blocks) {
      std::vector<Values> sb(u_max, Values(cols));
      for (int u = 0; u < u_max; ++u) {
        for (int j = 0; j < cols; ++j) {
          sb[u][j] = staged(p, b[static_cast<std::size_t>(k0 + u) * n + col0[tj] + j], rows);
        }
      }
      for (int i = 0; i < rows; ++i) {
        const std::size_t row = static_cast<std::size_t>(row0[ti] + i);
        Values sa(u_max);
        for (int u = 0; u < u_max; ++u) sa[u] = staged(p, a[row * n + k0 + u], cols);
        for (int j = 0; j < cols; ++j) {
          const std::size_t out = row * n + col0[tj] + j;
          // The k-block's partial dot product stays in hot cells; C is read once per block.
          DallyValue dot = p.binary(DallyOp::kMul, sa[0], sb[0][j]);
          for (int u = 1; u < u_max; ++u) {
            dot = p.binary(DallyOp::kAdd, dot, p.binary(DallyOp::kMul, sa[u], sb[u][j]));
          }
          c[out] = k0 == 0 ? dot : p.binary(DallyOp::kAdd, c[out], dot);
        }
      }
      k0 += u_max;
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

  std::vector<OrAccumulator> secret(s.n);
  if (s.row_wise) {
    // s_c = [the pair without c fails some row] = OR_i (y_i ^ XOR_{j != c} x_ij).
    for (int i = 0; i < s.m_train; ++i) {
      for (int c = 0; c < s.n; ++c) {
        DallyValue e = y[i];
        for (int j = 0; j < s.n; ++j) {
          if (j != c) e = p.binary(DallyOp::kXor, e, x[i][j]);
        }
        secret[c].add(p, e);
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
      OrAccumulator g;
      for (int c = last + 1; c <= s.n - (s.k - depth); ++c) {
        DallyValue below;
        if (depth + 1 == s.k) {
          below = p.cmp(DallyPredicate::kEq, q, column[c]);
        } else {
          below = self(self, depth + 1, c, p.binary(DallyOp::kXor, q, column[c]));
        }
        secret[c].add(p, below);
        g.add(p, below);
      }
      return g.value;
    };
    visit(visit, 0, -1, labels);
  }

  Values predictions;
  for (int r = 0; r < s.exact_rows; ++r) {
    DallyValue t = p.binary(DallyOp::kAnd, test[r][0], secret[0].value);
    for (int c = 1; c < s.n; ++c) {
      t = p.binary(DallyOp::kXor, t, p.binary(DallyOp::kAnd, test[r][c], secret[c].value));
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
// the cheapest rendered program (costs as the parser prices the text). Its method names the
// placement lower bound of the winning schedule (how much any placement could still gain).
DallyOptimizedProgram cheapest(const std::vector<Candidate>& candidates) {
  CUBE_CHECK(!candidates.empty(), "no candidate program");
  DallyOptimizedProgram best;
  std::size_t best_index = 0;
  const auto consider = [&](const DallyValueProgram& program, const DallyAllocation& allocation,
                            const std::string& method, std::size_t index) {
    std::string text = render_dally_program(program, allocation);
    const std::uint64_t cost =
        parse_dally_program(text, "<dally_optimize>", program.version()).cost();
    if (best.text.empty() || cost < best.cost) {
      best = {std::move(text), cost, method};
      best_index = index;
    }
    return cost;
  };
  std::vector<std::pair<std::uint64_t, std::size_t>> ranked;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const DallyValueProgram program = candidates[i].build();
    ranked.push_back({consider(program, allocate_addresses(program),
                               candidates[i].method + ", chain colouring", i),
                      i});
  }
  std::sort(ranked.begin(), ranked.end());
  for (std::size_t r = 0; r < std::min(kPolished, ranked.size()); ++r) {
    const Candidate& c = candidates[ranked[r].second];
    const DallyValueProgram program = c.build();
    consider(program, allocate_addresses_by_shell(program, kExactShells),
             c.method + ", exact shell-by-shell colouring", ranked[r].second);
  }
  best.method += "; placement lower bound of this schedule " +
                 std::to_string(placement_lower_bound(candidates[best_index].build()));
  return best;
}

// Compositions of n into 2..4 parts whose sizes differ by at most 3 (near-equal tile columns
// that need not divide n).
std::vector<std::vector<int>> near_equal_compositions(int n) {
  std::vector<std::vector<int>> out;
  std::vector<int> current;
  const auto extend = [&](auto& self, int left) -> void {
    if (left == 0) {
      const auto [lo, hi] = std::minmax_element(current.begin(), current.end());
      if (current.size() >= 2 && *hi - *lo <= 3) out.push_back(current);
      return;
    }
    if (current.size() == 4) return;
    for (int part = 1; part <= left; ++part) {
      current.push_back(part);
      self(self, left - part);
      current.pop_back();
    }
  };
  extend(extend, n);
  return out;
}

std::string joined(const std::vector<int>& sizes) {
  std::string out;
  for (int size : sizes) {
    if (!out.empty()) out += '+';
    out += std::to_string(size);
  }
  return out;
}

std::vector<Candidate> matmul_candidates(int n) {
  std::vector<int> divisors;
  for (int d = 1; d <= n; ++d) {
    if (n % d == 0) divisors.push_back(d);
  }
  std::vector<Candidate> out;
  const auto add = [&](const MatmulSchedule& s, const std::string& method) {
    out.push_back({[n, s] { return matmul_value_program(n, s); }, method});
  };
  for (int rows : divisors) {
    for (int cols : divisors) {
      // Tiles of 4..64 products (any tile when n is small): outside that range the hot set or
      // the far reloads dominate.
      if (n >= 4 && (rows * cols < 4 || rows * cols > 64)) continue;
      for (int unroll : {1, 2}) {
        if (n % unroll != 0) continue;
        for (bool column_major : {false, true}) {
          for (bool stage_a : {false, true}) {
            if ((column_major || stage_a) && rows == n) continue;
            if (stage_a && column_major) continue;
            std::ostringstream method;
            method << "outer-product tiles " << rows << "x" << cols << ", k unrolled " << unroll
                   << ", " << (column_major ? "column" : "row") << "-major tile order"
                   << (stage_a ? ", A staged per tile row" : "");
            add(MatmulSchedule::uniform(rows, cols, column_major, stage_a, unroll), method.str());
          }
        }
      }
    }
  }
  // One tile row (B read once) and near-equal column tiles that need not divide n.
  for (const std::vector<int>& widths : near_equal_compositions(n)) {
    for (int unroll : {1, 2}) {
      if (n % unroll != 0) continue;
      MatmulSchedule s;
      s.k_unroll = unroll;
      s.row_heights = {n};
      s.col_widths = widths;
      add(s, "outer-product tiles " + std::to_string(n) + "x(" + joined(widths) + "), k unrolled " +
                 std::to_string(unroll));
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
