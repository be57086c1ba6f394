// metrics.md §8: one trace, several metrics. The same buffer trace priced by every buffer-level
// proxy at once, through one RecordingTracer feeding all metrics as the runner does.

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/trace_text.h"
#include "metrics/metric.h"
#include "tests/metrics/sgd_step_trace.h"

namespace cube {
namespace {

struct Row {
  const char* id;
  std::string trace;
  std::map<std::string, double> expected;  // value name -> figure of the §8 table
};

TEST(CrossCheckTest, Section8TableFromOneStreamIntoAllMetrics) {
  const std::vector<Row> rows = {
      {"SGD step n=3, h=4",
       fixtures::sgd_step_trace(3, 4),
       {{"ard", 45.98076923076923},
        {"clock_dmc", 624.2209839780288},
        {"lru_dmd", 388.69204632403853},
        {"buffer_lru_dmd", 213.0185022469708},
        {"cache.hit_rate", 1.0}}},
      {"SGD step n=20, h=200",
       fixtures::sgd_step_trace(20, 200),
       {{"ard", 8503.665431766132},
        {"clock_dmc", 1278460.2967533749},
        {"lru_dmd", 782188.3927338251},
        {"buffer_lru_dmd", 31806.88636025435},
        {"cache.hit_rate", 0.68}}},
      {"SGD step n=20, h=1000",
       fixtures::sgd_step_trace(20, 1000),
       {{"ard", 42449.57751937985},
        {"clock_dmc", 14246092.596725248},
        {"lru_dmd", 8715940.373345988},
        {"buffer_lru_dmd", 158567.55115948885},
        {"cache.hit_rate", 0.88}}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.id);
    Trace trace = parse_text_trace(row.trace);
    std::vector<std::unique_ptr<Metric>> metrics;
    for (const char* spec :
         {"ard", "clock_dmc", "lru_dmd", "buffer_lru_dmd", "cache(capacity=8192)"})
      metrics.push_back(instantiate<Metric>(parse_spec(spec), "metric"));
    // One stream, every metric a sink of it, in small chunks.
    RecordingTracer tracer;
    for (auto& m : metrics) tracer.add_sink(m.get());
    for (std::size_t b = 0; b < trace.buffers.size(); ++b) {
      const BufferInfo& info = trace.buffers[static_cast<BufferId>(b)];
      ASSERT_EQ(tracer.buffer(info.name, info.element_bytes, info.elements), b);
    }
    for (const TraceEvent& e : trace.events) {
      if (e.kind == EventKind::kRead) tracer.read(e.buffer, e.offset, e.count);
      if (e.kind == EventKind::kWrite) tracer.write(e.buffer, e.offset, e.count);
    }
    tracer.finish();
    std::map<std::string, double> got;
    for (auto& m : metrics)
      for (const auto& v : m->finish(RunOutcome{}))
        if (v.value) got[v.name] = *v.value;
    for (const auto& [name, expected] : row.expected) {
      ASSERT_TRUE(got.count(name)) << name;
      EXPECT_NEAR(got[name], expected, 1e-9 * std::abs(expected)) << name;
    }
  }
}

}  // namespace
}  // namespace cube
