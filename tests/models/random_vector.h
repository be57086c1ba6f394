// cube/tests/models/random_vector.h: the test inputs of the model tests, n floats uniform in
// [-1, 1) from Rng(seed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace cube::test {

inline std::vector<float> random_vector(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.uniform() * 2 - 1);
  return v;
}

}  // namespace cube::test
