// cube/core/index_cast.h: the short casts of int64 index arithmetic, for loops that count in
// std::int64_t (sizes of data sets and layers) and hand offsets to the tracer (uint64) or index
// std::vector (size_t). Preconditions: v >= 0 (the callers' sizes and offsets). O(1).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cube::index_cast {

using I64 = std::int64_t;
using U64 = std::uint64_t;

// A trace offset or size.
constexpr U64 u(I64 v) { return static_cast<U64>(v); }
// A std::vector index.
constexpr std::size_t z(I64 v) { return static_cast<std::size_t>(v); }

}  // namespace cube::index_cast
