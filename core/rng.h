// cube/core/rng.h: the one random number generator of cube, identical on every platform.
//
// xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators", 2021),
// seeded through splitmix64. The distributions are written here rather than taken from <random>,
// whose distributions are implementation-defined: the same seed gives the same data with any
// compiler and standard library. numpy's streams are not emulated (sparse-parity.md §6.1).
//
// Streams. A job's seed s feeds several consumers: the problem draws its data from Rng(s), and
// every other consumer (a solver's initialisation, its sampling, a trainer's batches) draws from
// its own stream Rng(stream_seed(s, role, index)), where role names the consumer once
// (rng_role("sgd.init")) and index tells apart the streams of one consumer (an iteration).
//   stream_seed(s, r, i) = h(h(h(s) ^ r) ^ i),  h the splitmix64 finaliser (a bijection),
// so a stream's key is a hash of all three: no (seed, role, index) shares or offsets the stream
// of another, in particular not the data of a neighbouring seed (as Rng(s + 1) would share the
// data stream of seed s + 1). tests/core/rng_test.cc measures the independence.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>

namespace cube {

// The splitmix64 output function (Steele, Lea, Flood 2014): a bijection of 64-bit words whose
// every output bit depends on every input bit.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The 64-bit tag of a stream's consumer: FNV-1a of its name ("sgd.init"), at compile time.
constexpr std::uint64_t rng_role(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

// The seed of stream (role, index) of job seed `seed` (see Streams above). O(1).
constexpr std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t role,
                                    std::uint64_t index = 0) {
  return mix64(mix64(mix64(seed) ^ role) ^ index);
}

class Rng {
  __extension__ using U128 = unsigned __int128;  // GCC/Clang extension: 64x64->128 product

 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& word : s_) word = splitmix64(x);
  }

  // Uniform 64 random bits.
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform integer in [0, bound), bound >= 1, without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t bound) {
    U128 m = static_cast<U128>(next()) * bound;
    std::uint64_t low = static_cast<std::uint64_t>(m);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<U128>(next()) * bound;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Standard normal by the Box-Muller transform (both outputs used, in order).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    double u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * std::numbers::pi * u2);
  }

  // Fisher-Yates shuffle of [first, last).
  template <class It>
  void shuffle(It first, It last) {
    for (auto n = last - first; n > 1; --n) {
      auto j = static_cast<decltype(n)>(below(static_cast<std::uint64_t>(n)));
      std::swap(first[n - 1], first[j]);
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) { return mix64(x += 0x9e3779b97f4a7c15ULL); }

  std::uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace cube
