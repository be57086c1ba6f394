// Tests of metrics/lru: every element-LRU vector of metrics.md §3.3 that has its trace in the
// spec (L1-L18, L21; the L19/L20 sidecar files are not provided), the buffer vectors BL1-BL6,
// the splay-bug reproducer, and the engine against a naive list transliteration of §3.1 on
// random traces, through the registered metrics in small chunks.

#include "metrics/lru/lru_dmd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
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

std::vector<MetricValue> run_metric(const std::string& spec, const Trace& trace,
                                    std::size_t chunk) {
  std::unique_ptr<Metric> metric = instantiate<Metric>(parse_spec(spec), "metric");
  trace.replay(*metric, chunk);
  std::vector<MetricValue> values = metric->finish(RunOutcome{});
  EXPECT_EQ(values.size(), metric->value_names().size());
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(values[i].name, metric->value_names()[i]);
  return values;
}

struct Driven {
  ElementLruDmd engine;
  std::vector<std::uint64_t> distances;
};

Driven drive(const Trace& trace) {
  Driven out;
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kWrite) out.engine.write(e.buffer, e.offset, e.count);
    if (e.kind == EventKind::kRead) out.engine.read(e.buffer, e.offset, e.count, &out.distances);
  }
  return out;
}

// Checks one §3.3 row through the engine and through `lru_dmd` in several chunkings.
void check_lru(const std::string& id, const std::string& text, double dmd, std::uint64_t stack_size,
               const std::vector<std::uint64_t>& distances = {}) {
  SCOPED_TRACE(id);
  Trace trace = parse_text_trace(text, id);
  Driven d = drive(trace);
  expect_rel(d.engine.dmd(), dmd, "dmd");
  EXPECT_EQ(d.engine.stack_size(), stack_size);
  if (!distances.empty()) {
    EXPECT_EQ(d.distances, distances);
  }
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, RecordingTracer::kChunkEvents}) {
    std::vector<MetricValue> v = run_metric("lru_dmd", trace, chunk);
    ASSERT_TRUE(v[0].value.has_value());
    expect_rel(*v[0].value, dmd, "lru_dmd metric");
    EXPECT_EQ(v[1].value, static_cast<double>(stack_size));
    EXPECT_EQ(v[2].value, static_cast<double>(d.engine.cold_reads()));
  }
}

void check_buffer_lru(const std::string& id, const std::string& text, double dmd) {
  SCOPED_TRACE(id);
  Trace trace = parse_text_trace(text, id);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{4}, RecordingTracer::kChunkEvents}) {
    std::vector<MetricValue> v = run_metric("buffer_lru_dmd", trace, chunk);
    ASSERT_TRUE(v[0].value.has_value());
    expect_rel(*v[0].value, dmd, "buffer_lru_dmd");
  }
}

std::vector<std::uint64_t> down(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t d = from; d >= to; --d) out.push_back(d);
  return out;
}

std::vector<std::uint64_t> cat(std::initializer_list<std::vector<std::uint64_t>> parts) {
  std::vector<std::uint64_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

using fixtures::sgd_step_trace;

TEST(LruDmdTest, VectorsL1ToL6) {
  check_lru("L1", "W a 1; W b 1; R b 1; R b 1; W c 1; R a 1", 3.732050807568877, 3, {1, 1, 3});
  check_lru("L2", "W a 1; W b 1; R a 1; R b 1; W t1 1; R t1 1; R a 1; W t2 1", 5.146264369941973, 4,
            {2, 1, 1, 3});
  check_lru("L3", "W a 1; R b 1; R b 1", 2.8284271247461903, 1, {2, 2});
  check_lru("L4", "W A 4; R A 4", 6.146264369941973, 4, {4, 3, 2, 1});
  check_lru("L5", "W A 3; W B 2; W A 3; R B 2", 4.23606797749979, 5, {5, 4});
  check_lru("L6", "W A 10; W B 1; R A 2", 6.47890245052378, 11, {11, 10});
}

TEST(LruDmdTest, SplayBugReproducerL7GivesTheCorrectDistance) {
  // Stack after `W c 1`, top to bottom: c, b1, b0, so b0 is at depth 3 (the splay version says 2).
  check_lru("L7", "W b 2; R b 1; W c 1; R b 1", 3.1462643699419726, 3, {2, 3});
  Driven d = drive(parse_text_trace("W b 2; R b 1; W c 1; R b 1"));
  EXPECT_NE(d.engine.dmd(), 2.8284271247461903);
}

TEST(LruDmdTest, VectorsL8ToL11OnTheMemTrackerTraces) {
  check_lru("L8", "W a 100; W b 50; R a -", 991.6283109872467, 150, down(150, 51));
  check_lru("L8b", "W small 1; W big 1000; R small 1; R big 1000", 21129.094471519842, 1001,
            cat({{1001}, down(1000, 1)}));
  check_lru("L8c", "W a 3; W a 5; R a -", 8.38233234744176, 5, down(5, 1));
  check_lru("L9", "W a 4; R a -; R a -; R a -", 18.43879310982592, 4,
            cat({down(4, 1), down(4, 1), down(4, 1)}));
  check_lru("L10", "R z 10; W a 2; R a -", 12.414213562373096, 2,
            cat({std::vector<std::uint64_t>(10, 1), {2, 1}}));
  check_lru("L11", "W a 2; W b 3; R b -; R a -; W a 2; R a -; R b -", 16.764664694883525, 5,
            {3, 2, 1, 5, 4, 2, 1, 5, 4, 3});
}

TEST(LruDmdTest, VectorsL12ToL13bSgdStep) {
  const std::vector<std::uint64_t> l12 =
      cat({down(19, 17), down(16, 5),  down(4, 1),   down(4, 1),  down(9, 6),
           down(5, 2),   {1},          {1},          {1},         down(7, 4),
           down(11, 8),  {6},          down(12, 9),  down(4, 1),  down(24, 21),
           down(4, 1),   down(47, 45), down(60, 49), down(16, 5), down(36, 33),
           down(29, 26), down(48, 45), down(4, 1),   {32},        {25}});
  check_lru("L12", sgd_step_trace(3, 4), 388.69204632403853, 63, l12);
  check_lru("L13", sgd_step_trace(20, 200), 782188.3927338251, 9624);
  check_lru("L13b", sgd_step_trace(20, 1000), 8715940.373345988, 48024);
}

TEST(LruDmdTest, VectorsL14ToL18HarnessTraces) {
  check_lru("L14", "W A 420; R A -; W solution 20", 5748.333526603363, 440, down(420, 1));
  std::ostringstream km;
  for (int i = 0; i < 20; ++i) {
    const std::string s = std::to_string(i);
    km << "W x_batch_" << s << " 100; R x_batch_" << s << " -; W y_orig_" << s << " 5; W y_flip_"
       << s << " 5; R y_orig_" << s << " -; R y_flip_" << s << " -; W inf_" << s << " 1\n";
  }
  check_lru("L15", km.str(), 13878.62450578704, 2220);
  std::string km_min;
  for (int i = 0; i < 20; ++i) km_min += "W x 20; R x -; W x_flip 20; R x_flip -\n";
  check_lru("L16", km_min, 2466.6391124567917, 40);
  std::string smt = "W x 400; W y 20\n";
  for (int i = 0; i < 15; ++i) smt += "R x -; R y -\n";
  check_lru("L17", smt, 86225.0028990508, 420);
  std::string fourier = "W x 20000; W y 1000\n";
  for (int i = 0; i < 1140; ++i) fourier += "R x -; R y -\n";
  check_lru("L18", fourier, 2312906092.8864627, 21000);
}

TEST(LruDmdTest, VectorL21TrackedBitVectorMicro) {
  check_lru("L21", "W a 4; W b 4; R a 4; R b 4; W _xor_1 4; R a 1; R a 4; R b 4; W a 4; R _xor_1 4",
            53.03257851902252, 12,
            cat({down(8, 5), down(4, 1), {12}, down(12, 9), down(8, 5), down(8, 5)}));
}

TEST(LruDmdTest, BufferVectorsBL1ToBL6) {
  check_buffer_lru("BL1", "W a 1; W b 1; R b 1; R b 1; W c 1; R a 1", 3.732050807568877);
  check_buffer_lru("BL2", "W A 10; W B 1; R A -; R Z 3", 19.338288046437583);
  std::string km_min;
  for (int i = 0; i < 20; ++i) km_min += "W x 20; R x -; W x_flip 20; R x_flip -\n";
  check_buffer_lru("BL3", km_min, 800.0);
  check_buffer_lru("BL4", sgd_step_trace(3, 4), 213.0185022469708);
  check_buffer_lru("BL5", sgd_step_trace(20, 200), 31806.88636025435);
  check_buffer_lru("BL6", sgd_step_trace(20, 1000), 158567.55115948885);
  BufferLruDmd engine;
  engine.write(0);
  engine.write(1);
  EXPECT_EQ(engine.read(0, 10), 2u);
  EXPECT_EQ(engine.read(7, 3), 3u);  // unknown: #buffers + 1, not inserted
  EXPECT_EQ(engine.buffers(), 2u);
}

// §3.1 transliterated: a list of (name, i) keys, top first, searched linearly.
class ReferenceLru {
 public:
  void write(const std::string& name, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      std::pair<std::string, std::uint64_t> key{name, i};
      for (std::size_t j = 0; j < stack_.size(); ++j)
        if (stack_[j] == key) {
          stack_.erase(stack_.begin() + static_cast<std::ptrdiff_t>(j));
          break;
        }
      stack_.insert(stack_.begin(), key);
    }
  }
  void read(const std::string& name, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t d = stack_.size() + 1;
      for (std::size_t j = 0; j < stack_.size(); ++j)
        if (stack_[j] == std::pair<std::string, std::uint64_t>{name, i}) d = j + 1;
      dmd_ += std::sqrt(static_cast<double>(d));
    }
  }
  double dmd() const { return dmd_; }
  std::size_t size() const { return stack_.size(); }

 private:
  std::vector<std::pair<std::string, std::uint64_t>> stack_;
  double dmd_ = 0;
};

TEST(LruDmdTest, MatchesTheListReferenceBitForBitOnRandomTraces) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    ReferenceLru reference;
    std::ostringstream text;
    const int events = 20 + static_cast<int>(rng.below(300));
    const std::uint64_t names = 1 + rng.below(10), max_size = 1 + rng.below(60);
    for (int i = 0; i < events; ++i) {
      const std::string name = std::to_string(rng.below(names)).insert(0, "b");
      const std::uint64_t size = rng.below(max_size);
      switch (rng.below(5)) {
        case 0:
        case 1:
          reference.write(name, size);
          text << "W " << name << ' ' << size << '\n';
          break;
        case 2:
          text << (rng.below(2) ? "OP\n" : "F " + name + "\n");  // ignored
          break;
        default:
          reference.read(name, size);
          text << "R " << name << ' ' << size << '\n';
      }
    }
    Trace trace = parse_text_trace(text.str());
    Driven d = drive(trace);
    EXPECT_EQ(d.engine.dmd(), reference.dmd());
    EXPECT_EQ(d.engine.stack_size(), reference.size());
    EXPECT_EQ(run_metric("lru_dmd", trace, 5)[0].value, reference.dmd());
  }
}

TEST(LruDmdTest, OffsetsAddressElementsAndUntracedRunsReportNothing) {
  ElementLruDmd e;
  e.write(0, 10, 2);  // elements 10, 11 of buffer 0
  std::vector<std::uint64_t> d;
  e.read(0, 11, 1, &d);
  e.read(0, 0, 1, &d);  // element 0 was never written: cold
  EXPECT_EQ(d, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(e.cold_reads(), 1u);
  EXPECT_EQ(e.read_calls(), 2u);
  EXPECT_EQ(e.write_calls(), 1u);
  for (const char* name : {"lru_dmd", "buffer_lru_dmd"}) {
    auto metric = instantiate<Metric>(parse_spec(name), "metric");
    EXPECT_TRUE(metric->needs_trace());
    for (const MetricValue& v : metric->finish(RunOutcome{})) EXPECT_FALSE(v.value.has_value());
    Trace empty;
    std::vector<MetricValue> values = run_metric(name, empty, 4);
    EXPECT_EQ(values[0].value, 0.0);
  }
}

}  // namespace
}  // namespace cube
