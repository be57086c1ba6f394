// cube/solvers/gf2/gf2.cc: bit-packed GF(2) elimination for parity problems, written once over
// the tracer type (see gf2.h for the math and the trace it emits).

#include "solvers/gf2/gf2.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "solvers/gf2/predict_parity.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cube {
namespace {

// Packs one row: bit j = (x[j] < 0) for j < n, bit n = (y < 0). `out` has `words` words.
inline void pack_row(const std::int8_t* x, std::int64_t n, std::int8_t y, std::uint64_t* out,
                     std::int64_t words) {
  std::fill(out, out + words, 0);
  std::int64_t j = 0;
#if defined(__SSE2__)
  // The sign bit of each int8 is exactly the bit we want (-1 = 0xff): 16 columns per movemask.
  for (; j + 16 <= n; j += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + j));
    const auto mask = static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(v)));
    out[j >> 6] |= mask << (j & 63);
  }
#endif
  for (; j < n; ++j) out[j >> 6] |= static_cast<std::uint64_t>(x[j] < 0) << (j & 63);
  out[n >> 6] |= static_cast<std::uint64_t>(y < 0) << (n & 63);
}

// Lowest set column < n of `row`, scanning from word `from`; -1 when columns < n are all zero.
inline std::int64_t lowest_column(const std::uint64_t* row, std::int64_t from, std::int64_t words,
                                  std::int64_t n) {
  const std::int64_t last = n >> 6;  // the word holding column n (the label bit)
  const std::uint64_t last_mask = (std::uint64_t{1} << (n & 63)) - 1;
  for (std::int64_t w = from; w < words; ++w) {
    std::uint64_t bits = row[w];
    if (w == last) bits &= last_mask;
    if (bits) return w * 64 + std::countr_zero(bits);
    if (w == last) break;
  }
  return -1;
}

template <class Tracer>
SolveResult run(const BinaryDataset& data, Tracer& tracer) {
  const std::int64_t n = data.n_bits;
  const std::int64_t words = (n + 1 + 63) / 64;
  const std::int64_t slots = n + 1;  // at most n basis rows plus the working row
  const std::int64_t label_word = n >> 6;
  const int label_shift = static_cast<int>(n & 63);

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
    pack_row(data.train_row(r), n, data.y_train[static_cast<std::size_t>(r)], row, words);
    tracer.read(x_train_id, static_cast<std::uint64_t>(r * n), static_cast<std::uint64_t>(n));
    tracer.read(y_train_id, static_cast<std::uint64_t>(r), 1);
    tracer.write(a_id, static_cast<std::uint64_t>(rank * words), static_cast<std::uint64_t>(words));
    tracer.op_end();

    // Reduce by the basis; bits below the current lowest column stay zero, so the scan resumes
    // at that column's word and an XOR touches only words c/64 and up.
    std::int64_t c = lowest_column(row, 0, words, n);
    while (c >= 0) {
      const std::int64_t from = c >> 6;
      const std::int32_t p = pivot[static_cast<std::size_t>(c)];
      tracer.read(pivot_id, static_cast<std::uint64_t>(c), 1);
      if (p < 0) {
        pivot[static_cast<std::size_t>(c)] = static_cast<std::int32_t>(rank);
        tracer.write(pivot_id, static_cast<std::uint64_t>(c), 1);
        tracer.op_end();
        ++rank;
        break;
      }
      const std::uint64_t* pivot_row = a + p * words;
      for (std::int64_t w = from; w < words; ++w) row[w] ^= pivot_row[w];
      tracer.read(a_id, static_cast<std::uint64_t>(p * words + from),
                  static_cast<std::uint64_t>(words - from));
      tracer.read(a_id, static_cast<std::uint64_t>(rank * words + from),
                  static_cast<std::uint64_t>(words - from));
      tracer.write(a_id, static_cast<std::uint64_t>(rank * words + from),
                   static_cast<std::uint64_t>(words - from));
      tracer.op_end();
      c = lowest_column(row, from, words, n);
    }
    // A row reduced to zero in columns < n: 0 = ybit, inconsistent if ybit is 1. Its slot is
    // reused by the next row (rank did not advance).
    if (c < 0 && ((row[label_word] >> label_shift) & 1) && first_inconsistent < 0)
      first_inconsistent = r;
  }

  // Back-substitution, highest pivot first; free variables stay 0. When column c is solved,
  // s holds only columns > c and column n of s is 0, so parity(row & s) sums exactly the
  // already-solved columns of that row.
  for (std::int64_t c = n - 1; c >= 0; --c) {
    const std::int32_t p = pivot[static_cast<std::size_t>(c)];
    tracer.read(pivot_id, static_cast<std::uint64_t>(c), 1);
    if (p >= 0) {
      const std::uint64_t* row = a + p * words;
      const std::int64_t from = c >> 6;
      std::uint64_t acc = 0;
      for (std::int64_t w = from; w < words; ++w) acc ^= row[w] & s[w];
      const std::uint64_t bit = ((row[label_word] >> label_shift) & 1) ^ (std::popcount(acc) & 1);
      s[from] |= bit << (c & 63);
      tracer.read(a_id, static_cast<std::uint64_t>(p * words + from),
                  static_cast<std::uint64_t>(words - from));
      tracer.read(s_id, static_cast<std::uint64_t>(from), static_cast<std::uint64_t>(words - from));
      tracer.write(s_id, static_cast<std::uint64_t>(from), 1);
    }
    tracer.op_end();
  }

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
