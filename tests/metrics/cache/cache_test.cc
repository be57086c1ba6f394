// Tests of metrics/cache: every CacheTracker vector of metrics.md §4.3 (C1-C12) through the
// engine (per-read hit/miss and distance, final cache, counters, MemTracker numbers) and through
// the registered `cache` metric in small chunks, and the engine against a slow transliteration
// of §4.1 on random traces.

#include "metrics/cache/cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/trace_text.h"
#include "tests/metrics/sgd_step_trace.h"

namespace cube {
namespace {

constexpr double kRelTol = 1e-9;

void expect_rel(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, kRelTol * std::abs(expected)) << what;
}

using fixtures::sgd_step_trace;

BufferId id_of(const Trace& trace, const std::string& name) {
  for (BufferId b = 0; b < trace.buffers.size(); ++b)
    if (trace.buffers[b].name == name) return b;
  ADD_FAILURE() << "no buffer " << name;
  return 0;
}

struct ExpectedRead {
  std::string name;
  bool hit;
  std::int64_t distance;
};

struct Vector {
  std::string id;
  std::uint64_t capacity;
  std::string trace;
  std::uint64_t hits, misses;
  double hit_rate, effective_ard;
  std::uint64_t miss_floats;
  std::vector<ExpectedRead> reads = {};                                 // empty = not listed
  std::vector<std::pair<std::string, std::uint64_t>> final_cache = {};  // LRU first; with reads
  std::uint64_t used = 0;
  // MemTracker numbers, when listed.
  std::optional<double> ard = {}, dmc = {};
  std::optional<std::uint64_t> total = {};
};

std::vector<MetricValue> metric_values(const std::string& spec, const Trace& trace,
                                       std::size_t chunk) {
  std::unique_ptr<Metric> metric = instantiate<Metric>(parse_spec(spec), "metric");
  trace.replay(*metric, chunk);
  return metric->finish(RunOutcome{});
}

void check_vector(const Vector& v) {
  SCOPED_TRACE(v.id);
  Trace trace = parse_text_trace(v.trace, v.id);
  CacheTracker t(v.capacity);
  std::vector<ExpectedRead> reads;
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kWrite) t.write(e.buffer, e.count);
    if (e.kind == EventKind::kRead) {
      CacheRead r = t.read(e.buffer, e.count);
      reads.push_back({trace.buffers[e.buffer].name, r.hit, r.distance});
    }
  }
  if (!v.reads.empty()) {
    ASSERT_EQ(reads.size(), v.reads.size());
    for (std::size_t i = 0; i < reads.size(); ++i) {
      EXPECT_EQ(reads[i].name, v.reads[i].name) << "read " << i;
      EXPECT_EQ(reads[i].hit, v.reads[i].hit) << "read " << i;
      EXPECT_EQ(reads[i].distance, v.reads[i].distance) << "read " << i;
    }
    std::vector<CacheEntry> expected_cache;
    for (const auto& [name, size] : v.final_cache)
      expected_cache.push_back({id_of(trace, name), size});
    EXPECT_EQ(t.contents(), expected_cache);
    EXPECT_EQ(t.used(), v.used);
  }
  CacheSummary s = t.summary();
  EXPECT_EQ(s.hits, v.hits);
  EXPECT_EQ(s.misses, v.misses);
  EXPECT_EQ(s.total_miss_floats, v.miss_floats);
  expect_rel(s.hit_rate, v.hit_rate, "hit_rate");
  expect_rel(s.effective_ard, v.effective_ard, "effective_ard");
  MemTrackerSummary m = t.mem_tracker().summary();
  if (v.ard) expect_rel(m.weighted_ard, *v.ard, "ard");
  if (v.dmc) {
    ASSERT_TRUE(m.dmc.has_value());
    expect_rel(*m.dmc, *v.dmc, "dmc");
  }
  if (v.total) {
    EXPECT_EQ(m.total_floats, *v.total);
  }

  const std::string spec = "cache(capacity=" + std::to_string(v.capacity) + ")";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, RecordingTracer::kChunkEvents}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    std::vector<MetricValue> values = metric_values(spec, trace, chunk);
    ASSERT_EQ(values.size(), 4u);
    for (const MetricValue& value : values) ASSERT_TRUE(value.value.has_value()) << value.name;
    EXPECT_EQ(*values[0].value, static_cast<double>(v.hits));
    EXPECT_EQ(*values[1].value, static_cast<double>(v.misses));
    expect_rel(*values[2].value, v.hit_rate, "cache.hit_rate");
    expect_rel(*values[3].value, v.effective_ard, "cache.effective_ard");
  }
}

TEST(CacheTest, VectorsC1ToC4WithPerReadResults) {
  check_vector({"C1",
                10,
                "W a 4; W b 4; R a -; W c 4; R b -; R a -; R c -; R d 3; W e 20; R e -; R e -",
                1,
                6,
                0.14285714285714285,
                26.46153846153846,
                52,
                {{"a", true, 8},
                 {"b", false, 12},
                 {"a", false, 20},
                 {"c", false, 12},
                 {"d", false, -1},
                 {"e", false, 20},
                 {"e", false, 40}},
                {{"c", 4}, {"d", 3}},
                7,
                25.142857142857142,
                272.8488907468119,
                91});
  check_vector({"C2",
                10,
                "W a 2; R a 8",
                1,
                0,
                1.0,
                0.0,
                0,
                {{"a", true, 2}},
                {{"a", 2}},
                2,
                2.0,
                11.313708498984761,
                10});
  check_vector({"C3",
                10,
                "W a 4; W b 4; W a 9; R b -; W c 1; R a -",
                1,
                1,
                0.5,
                14.0,
                9,
                {{"b", true, 13}, {"a", false, 14}},
                {{"c", 1}, {"a", 9}},
                10,
                13.692307692307692,
                48.09712158282143,
                31});
  check_vector({"C4",
                8,
                "W a 4; W b 4; R a -; R b -; W c 4; R a -; R b -",
                2,
                2,
                0.5,
                20.0,
                8,
                {{"a", true, 8}, {"b", true, 8}, {"a", false, 20}, {"b", false, 20}},
                {{"a", 4}, {"b", 4}},
                8,
                14.0,
                58.404504637966156,
                28});
}

TEST(CacheTest, UsedExceedsCapacityAfterWriteToCachedBuffer) {
  // C3: after `W a 9` the cache holds a:9 and b:4, 13 > C = 10, with no eviction.
  Trace trace = parse_text_trace("W a 4; W b 4; W a 9");
  CacheTracker t(10);
  for (const TraceEvent& e : trace.events) t.write(e.buffer, e.count);
  EXPECT_EQ(t.used(), 13u);
  EXPECT_EQ(t.contents(), (std::vector<CacheEntry>{{1, 4}, {0, 9}}));
}

TEST(CacheTest, VectorsC5ToC12OnTheSgdStep) {
  const std::string small = sgd_step_trace(3, 4);
  const std::string mid = sgd_step_trace(20, 200);
  const std::string big = sgd_step_trace(20, 1000);
  // C5 and C7 sit beside M8 and M9: the MemTracker numbers are unchanged by the cache.
  check_vector({"C5",
                16,
                small,
                12,
                13,
                0.48,
                63.705882352941174,
                68,
                {},
                {},
                0,
                45.98076923076923,
                624.2209839780288,
                167});
  for (std::uint64_t c : {1000u, 8192u, 65536u})
    check_vector({"C6 C=" + std::to_string(c), c, small, 25, 0, 1.0, 0.0, 0});
  check_vector({"C7",
                8192,
                mid,
                17,
                8,
                0.68,
                12142.8142467621,
                8802,
                {},
                {},
                0,
                8503.665431766132,
                1278460.2967533749,
                24470});
  check_vector({"C8", 65536, mid, 25, 0, 1.0, 0.0, 0});
  check_vector({"C9", 1000, mid, 15, 10, 0.6, 9570.395492122914, 12822});
  check_vector({"C10", 16, mid, 6, 19, 0.24, 8505.051212938006, 14840});
  check_vector({"C11",
                8192,
                big,
                22,
                3,
                0.88,
                46689.333333333336,
                60000,
                {},
                {},
                0,
                42449.57751937985,
                14246092.596725248,
                122070});
  check_vector({"C12", 1000, big, 5, 20, 0.2, 44201.07841619278, 71044});
}

TEST(CacheTest, DefaultSizeReadUsesLastWrite) {
  CacheTracker t(10);
  t.write(0, 4);
  t.write(1, 8);  // evicts buffer 0 (4 + 8 > 10)
  CacheRead r = t.read(0);
  EXPECT_FALSE(r.hit);
  EXPECT_EQ(r.distance, 12);
  EXPECT_EQ(t.summary().total_miss_floats, 4u);                // the default size is 4
  EXPECT_EQ(t.contents(), (std::vector<CacheEntry>{{0, 4}}));  // 8 + 4 > 10 evicts buffer 1
  EXPECT_EQ(t.read(7).distance, MemTracker::kNeverWritten);    // never written: size 0
  t.reset();
  EXPECT_EQ(t.used(), 0u);
  EXPECT_EQ(t.summary().misses, 0u);
  EXPECT_EQ(t.mem_tracker().clock(), 0u);
  EXPECT_EQ(t.capacity(), 10u);
}

// §4.1 transliterated: a list of (name, size) pairs searched linearly, MemTracker clock inline.
class ReferenceCache {
 public:
  explicit ReferenceCache(std::uint64_t capacity) : capacity_(capacity) {}
  void write(const std::string& name, std::uint64_t n) {
    write_time_[name] = clock_;
    write_size_[name] = n;
    clock_ += n;
    auto it = find(name);
    if (it != cache_.end()) {
      it->second = n;
      auto entry = *it;
      cache_.erase(it);
      cache_.push_back(entry);
    } else if (n <= capacity_) {
      evict_until(n);
      cache_.push_back({name, n});
    }
  }
  std::pair<bool, std::int64_t> read(const std::string& name, std::uint64_t n) {
    std::int64_t d =
        write_time_.count(name) ? static_cast<std::int64_t>(clock_ - write_time_[name]) : -1;
    clock_ += n;
    auto it = find(name);
    if (it != cache_.end()) {
      auto entry = *it;
      cache_.erase(it);
      cache_.push_back(entry);
      ++hits;
      return {true, d};
    }
    ++misses;
    if (d >= 0) {
      miss_floats += n;
      miss_distance += n * static_cast<std::uint64_t>(d);
    }
    if (n <= capacity_) {
      evict_until(n);
      cache_.push_back({name, n});
    }
    return {false, d};
  }
  std::uint64_t used() const {
    std::uint64_t u = 0;
    for (const auto& entry : cache_) u += entry.second;
    return u;
  }
  const std::vector<std::pair<std::string, std::uint64_t>>& cache() const { return cache_; }

  std::uint64_t hits = 0, misses = 0, miss_floats = 0, miss_distance = 0;

 private:
  std::vector<std::pair<std::string, std::uint64_t>>::iterator find(const std::string& name) {
    for (auto it = cache_.begin(); it != cache_.end(); ++it)
      if (it->first == name) return it;
    return cache_.end();
  }
  void evict_until(std::uint64_t need) {
    while (used() + need > capacity_ && !cache_.empty()) cache_.erase(cache_.begin());
  }
  std::uint64_t capacity_;
  std::uint64_t clock_ = 0;
  std::map<std::string, std::uint64_t> write_time_, write_size_;
  std::vector<std::pair<std::string, std::uint64_t>> cache_;
};

TEST(CacheTest, MatchesTheSlowReferenceOnRandomTraces) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    const std::uint64_t capacity = rng.below(60);
    ReferenceCache reference(capacity);
    std::ostringstream text;
    std::vector<std::pair<bool, std::int64_t>> expected;
    const int events = 100 + static_cast<int>(rng.below(900));
    for (int i = 0; i < events; ++i) {
      std::string name = "b" + std::to_string(rng.below(10));
      std::uint64_t size = rng.below(25);
      if (rng.below(2)) {
        reference.write(name, size);
        text << "W " << name << ' ' << size << '\n';
      } else {
        expected.push_back(reference.read(name, size));
        text << "R " << name << ' ' << size << '\n';
      }
    }
    Trace trace = parse_text_trace(text.str());
    CacheTracker t(capacity);
    std::vector<std::pair<bool, std::int64_t>> actual;
    for (const TraceEvent& e : trace.events) {
      if (e.kind == EventKind::kWrite) t.write(e.buffer, e.count);
      if (e.kind == EventKind::kRead) {
        CacheRead r = t.read(e.buffer, e.count);
        actual.push_back({r.hit, r.distance});
      }
    }
    EXPECT_EQ(actual, expected);
    EXPECT_EQ(t.used(), reference.used());
    std::vector<CacheEntry> expected_cache;
    for (const auto& [name, size] : reference.cache())
      expected_cache.push_back({id_of(trace, name), size});
    EXPECT_EQ(t.contents(), expected_cache);
    CacheSummary s = t.summary();
    EXPECT_EQ(s.hits, reference.hits);
    EXPECT_EQ(s.misses, reference.misses);
    EXPECT_EQ(s.total_miss_floats, reference.miss_floats);
    if (reference.miss_floats > 0) {
      EXPECT_EQ(s.effective_ard, static_cast<double>(reference.miss_distance) /
                                     static_cast<double>(reference.miss_floats));
    }
  }
}

TEST(CacheTest, MetricIsATraceMetricWithFourValues) {
  auto metric = instantiate<Metric>(parse_spec("cache"), "metric");
  EXPECT_TRUE(metric->needs_trace());
  EXPECT_TRUE(metric->deterministic());
  EXPECT_EQ(metric->spec(), "cache(capacity=8192)");
  const std::vector<std::string> names = {"cache.hits", "cache.misses", "cache.hit_rate",
                                          "cache.effective_ard"};
  EXPECT_EQ(metric->value_names(), names);
  std::vector<MetricValue> values = metric->finish(RunOutcome{});  // never traced
  ASSERT_EQ(values.size(), 4u);
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(values[i].name, names[i]);
    EXPECT_FALSE(values[i].value.has_value());
  }
  EXPECT_THROW(instantiate<Metric>(parse_spec("cache(capacity=-1)"), "metric"), ConfigError);
  EXPECT_THROW(instantiate<Metric>(parse_spec("cache(size=1)"), "metric"), ConfigError);
}

TEST(CacheTest, BeginResetsAndMarkersAreIgnored) {
  auto metric = instantiate<Metric>(parse_spec("cache(capacity=8)"), "metric");
  parse_text_trace("W z 3; R z -; R q 1").replay(*metric, 1);
  // C4 with operation boundaries and frees: the buffer-level cache ignores both.
  parse_text_trace("W a 4; OP; W b 4; F a; R a -; R b -; OP; W c 4; R a -; R b -; F c")
      .replay(*metric, 2);
  std::vector<MetricValue> values = metric->finish(RunOutcome{});
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(values[0].value, 2.0);
  EXPECT_EQ(values[1].value, 2.0);
  EXPECT_EQ(values[2].value, 0.5);
  EXPECT_EQ(values[3].value, 20.0);
}

}  // namespace
}  // namespace cube
