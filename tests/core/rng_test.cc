// Tests of core/rng.h: the generator's stream is pinned to reference values, and the streams
// that stream_seed derives per (seed, role, index) are distinct and uncorrelated with each other
// and with the data streams Rng(seed) of nearby seeds.
#include "core/rng.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <set>
#include <vector>

namespace cube {
namespace {

// Values computed by an independent Python transcription of splitmix64 seeding, xoshiro256**
// and FNV-1a: the generator every stored number depends on must never change.
TEST(Rng, MatchesTheReferenceStream) {
  Rng rng(42);
  EXPECT_EQ(rng.next(), 0x15780b2e0c2ec716ULL);
  EXPECT_EQ(rng.next(), 0x6104d9866d113a7eULL);
  EXPECT_EQ(rng_role("sgd.init"), 0x9a9d35fe43ceb0dbULL);
  EXPECT_EQ(stream_seed(7, rng_role("test.role"), 3), 0xf5c03f7012979e73ULL);
  static_assert(rng_role("a") != rng_role("b"), "roles are compile-time tags");
}

// Pearson correlation of two equally long samples.
double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i] / n, mb += b[i] / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// The fault the splitter removes: Rng(seed + 1) is the data stream of seed + 1, so a solver
// seeded that way at seed s draws exactly what the problem draws at s + 1. A derived stream shares
// no output with any data stream of seeds 0..999 (first 4 outputs each), and its draws are
// uncorrelated with the data of the same and the next seed (|r| < 5 / sqrt(N), N = 20,000).
TEST(Rng, DerivedStreamsAreIndependentOfNearbyDataStreams) {
  std::set<std::uint64_t> data_outputs;
  for (std::uint64_t s = 0; s < 1000; ++s) {
    Rng data(s);
    for (int i = 0; i < 4; ++i) data_outputs.insert(data.next());
  }
  for (std::uint64_t s = 0; s < 1000; ++s) {
    Rng derived(stream_seed(s, rng_role("solver.init")));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(data_outputs.count(derived.next()), 0u) << s;
  }
  constexpr int kN = 20000;
  std::vector<double> derived(kN), same_seed(kN), next_seed(kN);
  for (int s = 0; s < kN; ++s) {
    const auto seed = static_cast<std::uint64_t>(s);
    derived[s] = Rng(stream_seed(seed, rng_role("solver.init"))).uniform();
    same_seed[s] = Rng(seed).uniform();
    next_seed[s] = Rng(seed + 1).uniform();
  }
  const double bound = 5.0 / std::sqrt(static_cast<double>(kN));
  EXPECT_LT(std::abs(correlation(derived, same_seed)), bound);
  EXPECT_LT(std::abs(correlation(derived, next_seed)), bound);
}

// Neighbouring seeds, roles and indices give unrelated keys: each flips about half of the 64 key
// bits (mean popcount of the XOR within 32 +- 0.5 over 10,000 pairs; binomial sd 4 / sqrt(10^4)),
// and for one role the map seed -> key is one-to-one.
TEST(Rng, NeighbouringSeedsRolesAndIndicesGiveUnrelatedKeys) {
  constexpr int kPairs = 10000;
  const std::uint64_t role = rng_role("solver.init");
  double seed_flips = 0, role_flips = 0, index_flips = 0;
  std::set<std::uint64_t> keys;
  for (int i = 0; i < kPairs; ++i) {
    const auto s = static_cast<std::uint64_t>(i);
    const std::uint64_t key = stream_seed(s, role);
    keys.insert(key);
    seed_flips += std::popcount(key ^ stream_seed(s + 1, role));
    role_flips += std::popcount(key ^ stream_seed(s, role + 1));
    index_flips += std::popcount(key ^ stream_seed(s, role, 1));
  }
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(kPairs));
  for (double flips : {seed_flips, role_flips, index_flips})
    EXPECT_NEAR(flips / kPairs, 32.0, 0.5);
}

}  // namespace
}  // namespace cube
