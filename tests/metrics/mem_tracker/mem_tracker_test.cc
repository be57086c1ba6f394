// Tests of metrics/mem_tracker: every MemTracker vector of metrics.md §2.3 (M1-M14, M9b, M14b)
// through the engine and through the registered `ard` / `clock_dmc` metrics in small chunks,
// and the engine against a slow line-by-line transliteration of the reference tracker.py.

#include "metrics/mem_tracker/mem_tracker.h"

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

// One row of the table of metrics.md §2.3.
struct Vector {
  std::string id;
  std::string trace;  // text form
  std::uint64_t total_floats;
  double weighted_ard;
  std::optional<double> dmc;
  std::vector<std::int64_t> distances;  // of every read in order; empty = not listed
};

// Drives the engine event by event, as the metric does, and keeps each read's distance.
struct Driven {
  MemTracker tracker;
  std::vector<std::int64_t> distances;
  std::vector<std::string> read_names;
};

Driven drive(const Trace& trace) {
  Driven out;
  for (const TraceEvent& e : trace.events) {
    if (e.kind == EventKind::kWrite) out.tracker.write(e.buffer, e.count);
    if (e.kind == EventKind::kRead) {
      out.distances.push_back(out.tracker.read(e.buffer, e.count));
      out.read_names.push_back(trace.buffers[e.buffer].name);
    }
  }
  return out;
}

std::optional<double> metric_value(const std::string& name, const Trace& trace,
                                   std::size_t chunk_events) {
  std::unique_ptr<Metric> metric = instantiate<Metric>(parse_spec(name), "metric");
  trace.replay(*metric, chunk_events);
  std::vector<MetricValue> values = metric->finish(RunOutcome{});
  EXPECT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].name, name);
  return values[0].value;
}

void check_vector(const Vector& v) {
  SCOPED_TRACE(v.id);
  Trace trace = parse_text_trace(v.trace, v.id);
  Driven d = drive(trace);
  MemTrackerSummary s = d.tracker.summary();
  EXPECT_EQ(s.total_floats, v.total_floats);
  EXPECT_EQ(d.tracker.clock(), v.total_floats);
  expect_rel(s.weighted_ard, v.weighted_ard, "weighted_ard");
  ASSERT_EQ(s.dmc.has_value(), v.dmc.has_value());
  if (v.dmc) expect_rel(*s.dmc, *v.dmc, "dmc");
  if (!v.distances.empty()) {
    EXPECT_EQ(d.distances, v.distances);
  }

  // The registered metrics, fed in chunks that split the trace everywhere.
  for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64},
                            RecordingTracer::kChunkEvents}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    std::optional<double> ard = metric_value("ard", trace, chunk);
    ASSERT_TRUE(ard.has_value());
    expect_rel(*ard, v.weighted_ard, "ard metric");
    std::optional<double> dmc = metric_value("clock_dmc", trace, chunk);
    ASSERT_EQ(dmc.has_value(), v.dmc.has_value());
    if (v.dmc) expect_rel(*dmc, *v.dmc, "clock_dmc metric");
  }
}

using fixtures::kSgdStepListing;
using fixtures::sgd_step_trace;

TEST(MemTrackerTest, SgdStepListingHasFortyEvents) {
  Trace t = parse_text_trace(sgd_step_trace(3, 4));
  ASSERT_EQ(t.events.size(), 40u);
  std::size_t writes = 0;
  for (const TraceEvent& e : t.events) writes += e.kind == EventKind::kWrite;
  EXPECT_EQ(writes, 15u);
  EXPECT_EQ(t.buffers.find("W1")->elements, 12u);
  EXPECT_EQ(t.buffers.find("dW1")->elements, 12u);
  EXPECT_EQ(t.buffers.find("h")->elements, 4u);
}

TEST(MemTrackerTest, VectorsM1ToM7) {
  check_vector({"M1", "W a 100; W b 50; R a -", 250, 150.0, 1224.744871391589, {150}});
  check_vector({"M2",
                "W small 1; W big 1000; R small 1; R big 1000",
                2002,
                1001.0,
                31670.22262315186,
                {1001, 1001}});
  check_vector({"M3", "W a 4; R a -; R a -; R a -", 16, 8.0, 33.17011495953578, {4, 8, 12}});
  check_vector({"M4", "R z 10; W a 2; R a -", 14, 2.0, 2.8284271247461903, {-1, 2}});
  check_vector({"M5", "W a 3; W a 5; R a -", 13, 5.0, 11.180339887498949, {5}});
  check_vector({"M6",
                "W a 2; W b 3; R b -; R a -; W a 2; R a -; R b -",
                17,
                6.5,
                24.073738642358464,
                {3, 8, 2, 12}});
  check_vector({"M7", "W a 2; R a 0", 2, 0.0, 0.0, {2}});
}

TEST(MemTrackerTest, VectorM8SgdStepSmallWithReadDistances) {
  std::string text = sgd_step_trace(3, 4);
  check_vector(
      {"M8", text, 167, 45.98076923076923, 624.2209839780288, {19,  19, 19,  4,   9,  9,  9,
                                                               1,   1,  18,  26,  15, 32, 4,
                                                               56,  4,  106, 122, 28, 99, 77,
                                                               142, 40, 111, 86}});
  Driven d = drive(parse_text_trace(text));
  EXPECT_EQ(d.read_names,
            (std::vector<std::string>{"x",     "W1",      "b1", "h_pre", "h",     "W2", "b2",
                                      "out",   "d_out",   "W2", "h",     "d_out", "W2", "d_h",
                                      "h_pre", "d_h_pre", "x",  "W1",    "dW1",   "W2", "dW2",
                                      "b1",    "db1",     "b2", "db2"}));
}

TEST(MemTrackerTest, VectorsM9AndM9bSgdStepHarnessSizes) {
  check_vector({"M9", sgd_step_trace(20, 200), 24470, 8503.665431766132, 1278460.2967533749, {}});
  check_vector(
      {"M9b", sgd_step_trace(20, 1000), 122070, 42449.57751937985, 14246092.596725248, {}});
}

TEST(MemTrackerTest, VectorM10HarnessGf2) {
  check_vector({"M10", "W A 420; R A -; W solution 20", 860, 420.0, 8607.438643406062, {420}});
}

TEST(MemTrackerTest, VectorM11HarnessKm) {
  std::ostringstream text;
  std::vector<std::int64_t> distances;
  for (int i = 0; i < 20; ++i) {
    std::string s = std::to_string(i);
    text << "W x_batch_" << s << " 100; R x_batch_" << s << " -; W y_orig_" << s << " 5; W y_flip_"
         << s << " 5; R y_orig_" << s << " -; R y_flip_" << s << " -; W inf_" << s << " 1\n";
    distances.insert(distances.end(), {100, 10, 10});
  }
  check_vector({"M11", text.str(), 4420, 91.81818181818181, 20632.45553203368, distances});
}

TEST(MemTrackerTest, VectorM12KmMin) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += "W x 20; R x -; W x_flip 20; R x_flip -\n";
  check_vector({"M12", text, 1600, 20.0, 3577.7087639996666, std::vector<std::int64_t>(40, 20)});
}

// `W x size_x; W y size_y`, then `pairs` x (`R x -; R y -`): the SMT and Fourier traces.
std::pair<std::string, std::vector<std::int64_t>> scan_trace(int size_x, int size_y, int pairs) {
  std::string text = "W x " + std::to_string(size_x) + "; W y " + std::to_string(size_y) + "\n";
  std::vector<std::int64_t> distances;
  for (int i = 1; i <= pairs; ++i) {
    text += "R x -; R y -\n";
    distances.push_back(std::int64_t{size_x + size_y} * i);
    distances.push_back(std::int64_t{size_x + size_y} * i);
  }
  return {text, distances};
}

TEST(MemTrackerTest, VectorM13HarnessSmt) {
  auto [text, distances] = scan_trace(400, 20, 15);
  EXPECT_EQ(distances.back(), 420 * 15);
  check_vector({"M13", text, 6720, 3360.0, 348336.12668366474, distances});
}

TEST(MemTrackerTest, VectorsM14AndM14bHarnessFourier) {
  auto [text, distances] = scan_trace(20000, 1000, 1140);  // C(20, 3) = 1140 subsets
  check_vector({"M14", text, 23961000, 11980500.0, 78140662851.91331, distances});
  auto [text_b, distances_b] = scan_trace(2000, 100, 1140);
  check_vector({"M14b", text_b, 2396100, 1198050.0, 2471024724.8735476, distances_b});
}

TEST(MemTrackerTest, OmittedReadSizeIsLastWriteSizeOrZero) {
  MemTracker t;
  EXPECT_EQ(t.read(7), MemTracker::kNeverWritten);  // unknown: size 0, clock unchanged
  EXPECT_EQ(t.clock(), 0u);
  t.write(7, 3);
  t.write(7, 5);
  EXPECT_EQ(t.read(7), 5);  // M5
  EXPECT_EQ(t.clock(), 13u);
}

TEST(MemTrackerTest, NeverWrittenReadsAdvanceTheClockButAreLeftOut) {
  MemTracker t;
  EXPECT_EQ(t.read(3, 10), -1);
  EXPECT_EQ(t.clock(), 10u);
  MemTrackerSummary s = t.summary();
  EXPECT_EQ(s.total_floats, 10u);
  EXPECT_EQ(s.reads, 0u);
  EXPECT_EQ(s.writes, 0u);
  EXPECT_EQ(s.weighted_ard, 0.0);
  EXPECT_FALSE(s.dmc.has_value());
  EXPECT_FALSE(t.buffer_stats(3).has_value());
  EXPECT_FALSE(t.buffer_stats(99).has_value());
}

TEST(MemTrackerTest, SummaryCountsAndPerBufferStatsOfM6) {
  MemTracker t;
  const BufferId a = 1000, b = 4;  // ids need not be dense or ordered
  t.write(a, 2);
  t.write(b, 3);
  EXPECT_EQ(t.read(b), 3);
  EXPECT_EQ(t.read(a), 8);
  t.write(a, 2);
  EXPECT_EQ(t.read(a), 2);
  EXPECT_EQ(t.read(b), 12);
  MemTrackerSummary s = t.summary();
  EXPECT_EQ(s.total_floats, 17u);
  EXPECT_EQ(s.reads, 4u);
  EXPECT_EQ(s.writes, 3u);
  EXPECT_EQ(s.floats_read, 10u);
  EXPECT_EQ(s.weighted_ard, 6.5);
  auto sa = t.buffer_stats(a);
  ASSERT_TRUE(sa.has_value());
  EXPECT_EQ(sa->reads, 2u);
  EXPECT_EQ(sa->min_distance, 2);
  EXPECT_EQ(sa->max_distance, 8);
  EXPECT_EQ(sa->mean_distance, 5.0);
  auto sb = t.buffer_stats(b);
  ASSERT_TRUE(sb.has_value());
  EXPECT_EQ(sb->min_distance, 3);
  EXPECT_EQ(sb->max_distance, 12);
  EXPECT_EQ(sb->mean_distance, 7.5);
  t.reset();
  EXPECT_EQ(t.clock(), 0u);
  EXPECT_EQ(t.summary().writes, 0u);
  EXPECT_EQ(t.read(a), -1);
}

// tracker.py transliterated: dictionaries keyed by name, an event list, and a summary computed
// afterwards from that list. Slow and obvious; sizes in the test keep Σ n·d within 64 bits.
class ReferenceTracker {
 public:
  void write(const std::string& name, std::uint64_t size) {
    write_time_[name] = clock_;
    write_size_[name] = size;
    events_.push_back({'W', name, size, 0});
    clock_ += size;
  }
  std::int64_t read(const std::string& name, std::optional<std::uint64_t> size) {
    if (!size) size = write_size_.count(name) ? write_size_[name] : 0;
    std::int64_t distance = -1;
    if (write_time_.count(name)) distance = static_cast<std::int64_t>(clock_ - write_time_[name]);
    events_.push_back({'R', name, *size, distance});
    clock_ += *size;
    return distance;
  }
  MemTrackerSummary summary() const {
    MemTrackerSummary s;
    s.total_floats = clock_;
    std::uint64_t total_float_dist = 0, total_floats = 0;
    double dmc = 0;
    for (const Event& e : events_) {
      if (e.type == 'W') ++s.writes;
      if (e.type != 'R' || e.distance < 0) continue;
      ++s.reads;
      total_float_dist += e.size * static_cast<std::uint64_t>(e.distance);
      total_floats += e.size;
      dmc += static_cast<double>(e.size) * std::sqrt(static_cast<double>(e.distance));
    }
    s.floats_read = total_floats;
    if (s.reads == 0) return s;
    if (total_floats > 0)
      s.weighted_ard = static_cast<double>(total_float_dist) / static_cast<double>(total_floats);
    s.dmc = dmc;
    return s;
  }

 private:
  struct Event {
    char type;
    std::string name;
    std::uint64_t size;
    std::int64_t distance;
  };
  std::uint64_t clock_ = 0;
  std::map<std::string, std::uint64_t> write_time_, write_size_;
  std::vector<Event> events_;
};

TEST(MemTrackerTest, MatchesTheSlowReferenceBitForBitOnRandomTraces) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    ReferenceTracker reference;
    std::ostringstream text;
    std::vector<std::int64_t> reference_distances;
    const int events = 200 + static_cast<int>(rng.below(1800));
    for (int i = 0; i < events; ++i) {
      std::string name = "b" + std::to_string(rng.below(12));
      std::uint64_t size = rng.below(1000);
      switch (rng.below(6)) {
        case 0:
        case 1:
          reference.write(name, size);
          text << "W " << name << ' ' << size << '\n';
          break;
        case 2:
          reference_distances.push_back(reference.read(name, std::nullopt));
          text << "R " << name << " -\n";
          break;
        case 3:
          text << (rng.below(2) ? "OP\n" : "F " + name + "\n");  // ignored by the clock model
          break;
        default:
          reference_distances.push_back(reference.read(name, size));
          text << "R " << name << ' ' << size << '\n';
      }
    }
    Trace trace = parse_text_trace(text.str());
    Driven d = drive(trace);
    EXPECT_EQ(d.distances, reference_distances);
    MemTrackerSummary fast = d.tracker.summary(), slow = reference.summary();
    EXPECT_EQ(fast.total_floats, slow.total_floats);
    EXPECT_EQ(fast.reads, slow.reads);
    EXPECT_EQ(fast.writes, slow.writes);
    EXPECT_EQ(fast.floats_read, slow.floats_read);
    EXPECT_EQ(fast.weighted_ard, slow.weighted_ard);  // same operations, same order: exact
    EXPECT_EQ(fast.dmc, slow.dmc);
    EXPECT_EQ(metric_value("ard", trace, 5), slow.weighted_ard);
    EXPECT_EQ(metric_value("clock_dmc", trace, 5), slow.dmc);
  }
}

TEST(MemTrackerTest, FreeAndOpEndEventsAreIgnored) {
  Trace plain = parse_text_trace(sgd_step_trace(3, 4));
  std::string text = sgd_step_trace(3, 4);
  std::string marked;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) marked += line + "; OP; F unrelated\n";
  Trace with_markers = parse_text_trace(marked);
  EXPECT_EQ(with_markers.events.size(), 120u);
  EXPECT_EQ(metric_value("ard", with_markers, 3), metric_value("ard", plain, 3));
  EXPECT_EQ(metric_value("clock_dmc", with_markers, 3), metric_value("clock_dmc", plain, 3));
}

TEST(MemTrackerTest, MetricsAreTraceMetricsWithOneValueEach) {
  for (const char* name : {"ard", "clock_dmc"}) {
    auto metric = instantiate<Metric>(parse_spec(name), "metric");
    EXPECT_TRUE(metric->needs_trace()) << name;
    EXPECT_TRUE(metric->deterministic()) << name;
    EXPECT_EQ(metric->value_names(), std::vector<std::string>{name});
    EXPECT_EQ(metric->spec(), name);  // no parameters
    EXPECT_THROW(instantiate<Metric>(parse_spec(std::string(name) + "(x=1)"), "metric"),
                 ConfigError);
  }
}

TEST(MemTrackerTest, UntracedRunIsNotApplicable) {
  for (const char* name : {"ard", "clock_dmc"}) {
    auto metric = instantiate<Metric>(parse_spec(name), "metric");
    std::vector<MetricValue> values = metric->finish(RunOutcome{});
    ASSERT_EQ(values.size(), 1u);
    EXPECT_FALSE(values[0].value.has_value()) << name;
  }
}

TEST(MemTrackerTest, TraceWithoutValidReadsGivesZeroArdAndNoDmc) {
  Trace t = parse_text_trace("R z 10; W a 4");
  EXPECT_EQ(metric_value("ard", t, 1), 0.0);
  EXPECT_EQ(metric_value("clock_dmc", t, 1), std::nullopt);
}

TEST(MemTrackerTest, BeginResetsSoOneInstancePricesSeveralTraces) {
  auto metric = instantiate<Metric>(parse_spec("clock_dmc"), "metric");
  parse_text_trace("W a 100; R a -; R a -").replay(*metric, 2);
  parse_text_trace("W a 100; W b 50; R a -").replay(*metric, 2);
  std::vector<MetricValue> values = metric->finish(RunOutcome{});
  ASSERT_TRUE(values[0].value.has_value());
  expect_rel(*values[0].value, 1224.744871391589, "M1 after another trace");
}

TEST(MemTrackerTest, RecordingTracerFeedsTheMetricsDirectly) {
  auto ard = instantiate<Metric>(parse_spec("ard"), "metric");
  auto dmc = instantiate<Metric>(parse_spec("clock_dmc"), "metric");
  RecordingTracer tracer;
  tracer.add_sink(ard.get());
  tracer.add_sink(dmc.get());
  // M14 as a solver would record it, with element offsets and 8-byte elements, over 2 chunks.
  BufferId x = tracer.buffer("x", 8, 20000);
  BufferId y = tracer.buffer("y", 8, 1000);
  tracer.write(x, 0, 20000);
  tracer.write(y, 0, 1000);
  for (int i = 0; i < 1140; ++i) {
    tracer.read(x, 0, 20000);
    tracer.read(y, 0, 1000);
    for (int k = 0; k < 60; ++k) tracer.op_end();  // pushes the trace past one chunk
  }
  tracer.finish();
  ASSERT_GT(tracer.events_recorded(), RecordingTracer::kChunkEvents);
  expect_rel(*ard->finish(RunOutcome{})[0].value, 11980500.0, "ard");
  expect_rel(*dmc->finish(RunOutcome{})[0].value, 78140662851.91331, "clock_dmc");
}

}  // namespace
}  // namespace cube
