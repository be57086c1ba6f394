// cube/solvers/gf2/gf2_basis.h: the bit-packed row-echelon basis shared by the GF(2) solvers
// (gf2 and gf2_robust): packing a row of +-1 entries and its label, reducing it into the basis,
// and back-substitution. Rows hold `words` = ceil((n + 1) / 64) words: bit j = (x[j] < 0) for
// j < n, bit n = (y < 0). Basis slot p is row p of `a`; pivot[c] is the slot whose lowest
// column is c, or -1.
// Trace (buffers "A", "pivot", "s" declared by the caller): per XOR of a pivot row, reads of both
// rows from the XOR's first word and a write of the working row's tail, then op_end; a new pivot
// reads and writes its pivot entry, then op_end. Back-substitution: per column, a read of
// pivot[c] and, when c has a pivot, reads of its row and of s from word c/64 and a write of s's
// word, then op_end.
// Cost: reduce_into_basis O(rank * words); back_substitute O(n * words).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "core/trace.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cube::gf2 {

// Packs one row into `out` (`words` words, overwritten).
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

// The label bit (column n) of a packed row.
inline bool label_bit(const std::uint64_t* row, std::int64_t n) {
  return (row[n >> 6] >> (n & 63)) & 1;
}

// Reduces the working row in slot `rank` of `a` by the basis. Bits below the current lowest
// column stay zero, so the scan resumes at that column's word and an XOR touches only words c/64
// and up. Returns true (and advances rank) when the row adds a pivot; false when it reduced to
// zero in columns < n (then 0 = its label bit, inconsistent if that bit is 1).
template <class Tracer>
bool reduce_into_basis(std::uint64_t* a, std::int64_t words, std::int64_t n,
                       std::vector<std::int32_t>& pivot, std::int64_t& rank, BufferId a_id,
                       BufferId pivot_id, Tracer& tracer) {
  std::uint64_t* row = a + rank * words;
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
      return true;
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
  return false;
}

// Solves the basis into `s` (words words, zero on entry), highest pivot first; free variables
// stay 0. When column c is solved, s holds only columns > c and column n of s is 0, so
// parity(row & s) sums exactly the already-solved columns of that row.
template <class Tracer>
void back_substitute(const std::uint64_t* a, std::int64_t words, std::int64_t n,
                     const std::vector<std::int32_t>& pivot, std::uint64_t* s, BufferId a_id,
                     BufferId pivot_id, BufferId s_id, Tracer& tracer) {
  for (std::int64_t c = n - 1; c >= 0; --c) {
    const std::int32_t p = pivot[static_cast<std::size_t>(c)];
    tracer.read(pivot_id, static_cast<std::uint64_t>(c), 1);
    if (p >= 0) {
      const std::uint64_t* row = a + p * words;
      const std::int64_t from = c >> 6;
      std::uint64_t acc = 0;
      for (std::int64_t w = from; w < words; ++w) acc ^= row[w] & s[w];
      const std::uint64_t bit =
          static_cast<std::uint64_t>(label_bit(row, n)) ^ (std::popcount(acc) & 1);
      s[from] |= bit << (c & 63);
      tracer.read(a_id, static_cast<std::uint64_t>(p * words + from),
                  static_cast<std::uint64_t>(words - from));
      tracer.read(s_id, static_cast<std::uint64_t>(from), static_cast<std::uint64_t>(words - from));
      tracer.write(s_id, static_cast<std::uint64_t>(from), 1);
    }
    tracer.op_end();
  }
}

}  // namespace cube::gf2
