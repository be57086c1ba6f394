// cube/solvers/gf2/gf2.cc: bit-packed GF(2) elimination for parity problems, written once over
// the tracer type (see gf2.h for the math and the trace it emits).

#include "solvers/gf2/gf2.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "solvers/gf2/gf2_basis.h"
#include "solvers/gf2/predict_parity.h"

namespace cube {
namespace {

template <class Tracer>
SolveResult run(const BinaryDataset& data, Tracer& tracer) {
  const std::int64_t n = data.n_bits;
  const std::int64_t words = (n + 1 + 63) / 64;
  const std::int64_t slots = n + 1;  // at most n basis rows plus the working row

  const BufferId x_train_id =
      tracer.buffer("x_train", 1, static_cast<std::uint64_t>(data.n_train * n));
  const BufferId y_train_id = tracer.buffer("y_train", 1, static_cast<std::uint64_t>(data.n_train));
  const BufferId a_id = tracer.buffer("A", 8, static_cast<std::uint64_t>(slots * words));
  const BufferId pivot_id = tracer.buffer("pivot", 4, static_cast<std::uint64_t>(n));
  const BufferId s_id = tracer.buffer("s", 8, static_cast<std::uint64_t>(words));

  // One allocation for the basis, the solution and the pivot table.
  std::vector<std::uint64_t> storage(static_cast<std::size_t>(slots * words + words), 0);
  std::uint64_t* a = storage.data();
  std::uint64_t* s = a + slots * words;
  std::vector<std::int32_t> pivot(static_cast<std::size_t>(n), -1);  // basis slot of column c

  std::int64_t rank = 0;
  std::int64_t rows_used = 0;
  std::int64_t first_inconsistent = -1;
  const std::int64_t initial_rows = std::min(n + 1, data.n_train);
  for (std::int64_t r = 0; r < data.n_train && (r < initial_rows || rank < n); ++r) {
    ++rows_used;
    std::uint64_t* row = a + rank * words;  // the working slot: the first free one
    gf2::pack_row(data.train_row(r), n, data.y_train[static_cast<std::size_t>(r)], row, words);
    tracer.read(x_train_id, static_cast<std::uint64_t>(r * n), static_cast<std::uint64_t>(n));
    tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
    tracer.write(a_id, static_cast<std::uint64_t>(rank * words), static_cast<std::uint64_t>(words));
    tracer.op_end();

    // A row that adds no pivot reduced to zero in columns < n: 0 = ybit, inconsistent if ybit
    // is 1. Its slot is reused by the next row (rank did not advance).
    if (!gf2::reduce_into_basis(a, words, n, pivot, rank, a_id, pivot_id, tracer) &&
        gf2::label_bit(row, n) && first_inconsistent < 0)
      first_inconsistent = r;
  }

  gf2::back_substitute(a, words, n, pivot, s, a_id, pivot_id, s_id, tracer);

  SolveResult result;
  std::vector<int> secret;
  for (std::int64_t w = 0; w * 64 < n; ++w)
    for (std::uint64_t bits = s[w]; bits; bits &= bits - 1)
      secret.push_back(static_cast<int>(w * 64 + std::countr_zero(bits)));
  const BufferId secret_id = tracer.buffer("secret", 4, secret.size());
  tracer.read(s_id, 0, static_cast<std::uint64_t>(words));
  if (!secret.empty()) tracer.write(secret_id, 0, secret.size());
  tracer.op_end();

  result.test_predictions = predict_parity(data, secret, secret_id, tracer);

  if (first_inconsistent >= 0) {
    result.status = SolveStatus::kMaxIterations;
    result.message = "inconsistent system: training row " + std::to_string(first_inconsistent) +
                     " contradicts the rows before it (labels are not an exact parity of the "
                     "inputs); returning a solution of the consistent rows (rank " +
                     std::to_string(rank) + " of n = " + std::to_string(n) + ")";
  } else if (rank < n) {
    result.status = SolveStatus::kMaxIterations;
    result.message = "rank " + std::to_string(rank) + " < n = " + std::to_string(n) +
                     " after all " + std::to_string(rows_used) +
                     " training rows; free variables set to 0";
  } else {
    result.status = SolveStatus::kSolved;
  }
  result.secret = std::move(secret);
  return result;
}

}  // namespace

SolveResult Gf2Solver::solve_dataset(const BinaryDataset& data, RecordingTracer* tracer) {
  if (tracer) return run(data, *tracer);
  NullTracer off;
  return run(data, off);
}

SolveResult Gf2Solver::solve(const Problem& problem, const RunContext& /*ctx*/,
                             RecordingTracer* tracer) {
  const BinaryDataset* data = problem.binary_dataset();
  CUBE_CHECK(data != nullptr, "gf2 needs a binary dataset (check supports() first)");
  return solve_dataset(*data, tracer);
}

CUBE_REGISTER(Solver, Gf2Solver, NoParams, "gf2",
              "exact parity solver: Gaussian elimination over GF(2) on bit-packed rows");

}  // namespace cube
