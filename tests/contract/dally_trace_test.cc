// The trace contract on the explicit-address machine: the `dally` metric, which sees only the
// trace, prices an IR program exactly as the scorer prices its text (metrics.md §7.3).

#include <gtest/gtest.h>

#include "metrics/metric.h"
#include "models/dally_ir/interpreter.h"

namespace cube {
namespace {

struct Vector {
  const char* id;
  const char* ir;
  DallyVersion version;
  std::vector<std::int64_t> inputs;
  std::uint64_t cost;
};

TEST(DallyTraceContractTest, MetricOnTheTraceEqualsTheStaticCost) {
  const std::vector<Vector> vectors = {
      {"D1",
       "1,2,3,4,5;mul 1,1,2;mul 2,3,4;add 1,1,2;add 1,5;1",
       DallyVersion::kV0,
       {2, 3, 4, 5, 6},
       15},
      {"D2", "1,2;mul 3,1,2;3", DallyVersion::kV0, {1, 3}, 5},
      {"D3", "10,20;copy 1,10;copy 2,20;mul 3,1,2;3", DallyVersion::kV0, {6, 7}, 14},
      {"D4", "4,9;sub 4,9;mul 1,4,4;1,4", DallyVersion::kV0, {10, 3}, 12},
      {"D5", "1,2;add 100,1,2;mul 2,1,2;100,2,1", DallyVersion::kV0, {3, 4}, 19},
      {"D6", "1,2,3,4;mul 5,1,3;mul 6,2,4;add 5,6;5", DallyVersion::kV0, {1, 2, 3, 4}, 16},
      {"D7", "1,2;xor 3,1,2;not 4,3;and 5,3,4;or 4,5,1;4", DallyVersion::kV3, {12, 10}, 15},
      {"D8", "5;set 1,7;mul 2,1,5;2", DallyVersion::kV3, {3}, 6},
      {"D9",
       "1,2;sub 3,1,2;abs 3,3;cmp 4,1,2,gt;select 5,4,1,2;div 6,3,5;5,6",
       DallyVersion::kV3,
       {-7, 2},
       24},
      {"D10", "1,2,3;select 4,1,2,3;4", DallyVersion::kV3, {0, 9, 5}, 7},
      {"D14", "1;set 2,255;add 3,1,2;2,3", DallyVersion::kV3, {5}, 7},
      {"D20",
       "1,2,3,4,5,6;cmp 1,1,6,eq;cmp 2,2,5,eq;cmp 3,3,4,eq;and 1,2;and 1,3;1",
       DallyVersion::kV3,
       {1, 0, 1, 1, 0, 1},
       20},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.id);
    DallyProgram program = parse_dally_program(v.ir, v.id, v.version);
    auto metric = instantiate<Metric>(parse_spec("dally"), "metric");
    RecordingTracer tracer;
    tracer.add_sink(metric.get());
    run_dally(program, v.inputs, tracer);
    tracer.finish();
    auto values = metric->finish(RunOutcome{});
    EXPECT_EQ(program.cost(), v.cost);
    ASSERT_TRUE(values[0].value.has_value());
    EXPECT_EQ(*values[0].value, static_cast<double>(v.cost));
    EXPECT_EQ(*values[1].value, static_cast<double>(program.reads()));
  }
}

}  // namespace
}  // namespace cube
