// Tests of metrics/pebble: every pebble vector of metrics.md §5.3 (P1-P14), the graphs turned
// into traces (initial tensors declared first, then per operation: reads, the write, OP) and
// priced through the registered `pebble_energy` metric and play_pebble_game; the P6 access log;
// and hand-computed cases for the trace mapping (no OP markers, partial reads, markers ignored).

#include "metrics/pebble/pebble.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/trace_text.h"

namespace cube {
namespace {

struct OpDef {
  std::string name, out;
  std::uint64_t out_size;
  std::vector<std::string> inputs;
};

struct Graph {
  std::vector<std::pair<std::string, std::uint64_t>> initial;  // in declared order
  std::vector<OpDef> ops;
};

// The graph run in `ordering` as a trace: the initial tensors are declared first, in order, so
// they are preloaded in that order; each op reads its inputs in list order, writes its output
// and ends with OP.
Trace graph_trace(const Graph& g, const std::vector<std::string>& ordering) {
  Trace t;
  std::map<std::string, std::uint64_t> sizes;
  for (const auto& [name, size] : g.initial) {
    t.buffers.declare(name, 4, size);
    sizes[name] = size;
  }
  std::map<std::string, const OpDef*> by_name;
  for (const OpDef& op : g.ops) {
    by_name[op.name] = &op;
    sizes[op.out] = op.out_size;
  }
  for (const std::string& name : ordering) {
    const OpDef& op = *by_name.at(name);
    for (const std::string& in : op.inputs) {
      BufferId b = t.buffers.declare(in, 4, sizes.at(in));
      t.events.push_back({b, 0, static_cast<std::uint32_t>(sizes.at(in)), EventKind::kRead});
    }
    BufferId out = t.buffers.declare(op.out, 4, op.out_size);
    t.events.push_back({out, 0, static_cast<std::uint32_t>(op.out_size), EventKind::kWrite});
    t.events.push_back({0, 0, 0, EventKind::kOpEnd});
  }
  return t;
}

// build_computation_graph(N, H) of metrics.md §5.1.
Graph training_graph(std::uint64_t n, std::uint64_t h) {
  return {{{"W1", h * n}, {"b1", h}, {"W2", h}, {"b2", 1}, {"x", n}, {"y", 1}},
          {{"fwd_linear1", "h_pre", h, {"W1", "x", "b1"}},
           {"fwd_relu", "h", h, {"h_pre"}},
           {"fwd_linear2", "y_hat", 1, {"W2", "h", "b2"}},
           {"fwd_loss", "loss", 1, {"y_hat", "y"}},
           {"bwd_loss", "dy", 1, {"loss", "y_hat", "y"}},
           {"bwd_dW2", "dW2", h, {"dy", "h"}},
           {"bwd_db2", "db2", 1, {"dy"}},
           {"bwd_dh", "dh", h, {"W2", "dy"}},
           {"bwd_relu", "dh_pre", h, {"dh", "h_pre"}},
           {"bwd_dW1", "dW1", h * n, {"dh_pre", "x"}},
           {"bwd_db1", "db1", h, {"dh_pre"}},
           {"upd_W1", "W1_new", h * n, {"W1", "dW1"}},
           {"upd_b1", "b1_new", h, {"b1", "db1"}},
           {"upd_W2", "W2_new", h, {"W2", "dW2"}},
           {"upd_b2", "b2_new", 1, {"b2", "db2"}}}};
}

const std::vector<std::string> kForward = {"fwd_linear1", "fwd_relu", "fwd_linear2", "fwd_loss",
                                           "bwd_loss"};

std::vector<std::string> with_forward(const std::vector<std::string>& rest) {
  std::vector<std::string> out = kForward;
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

const std::map<std::string, std::vector<std::string>> kOrderings = {
    {"standard", with_forward({"bwd_dW2", "bwd_db2", "bwd_dh", "bwd_relu", "bwd_dW1", "bwd_db1",
                               "upd_W1", "upd_b1", "upd_W2", "upd_b2"})},
    {"fused", with_forward({"bwd_dW2", "upd_W2", "bwd_db2", "upd_b2", "bwd_dh", "bwd_relu",
                            "bwd_dW1", "upd_W1", "bwd_db1", "upd_b1"})},
    {"perlayer", with_forward({"bwd_dW2", "bwd_db2", "upd_W2", "upd_b2", "bwd_dh", "bwd_relu",
                               "bwd_dW1", "bwd_db1", "upd_W1", "upd_b1"})},
    {"best", with_forward({"bwd_dW2", "bwd_db2", "upd_b2", "bwd_dh", "bwd_relu", "upd_W2",
                           "bwd_db1", "upd_b1", "bwd_dW1", "upd_W1"})},
};

// Expected pJ: total and, when listed, register / L1 / L2 / HBM.
struct Expected {
  std::uint64_t total;
  std::optional<std::array<std::uint64_t, 4>> tiers;
};

std::vector<MetricValue> metric_values(const Trace& trace, std::size_t chunk) {
  std::unique_ptr<Metric> metric = instantiate<Metric>(parse_spec("pebble_energy"), "metric");
  trace.replay(*metric, chunk);
  return metric->finish(RunOutcome{});
}

void check(const std::string& id, const Trace& trace, const Expected& e) {
  SCOPED_TRACE(id);
  PebbleResult r = play_pebble_game(trace.buffers, trace.events);
  EXPECT_EQ(r.total_picojoules(), e.total);
  if (e.tiers) {
    EXPECT_EQ(r.tier_picojoules, *e.tiers);
  }
  for (std::size_t chunk : {std::size_t{1}, std::size_t{4}, RecordingTracer::kChunkEvents}) {
    std::vector<MetricValue> values = metric_values(trace, chunk);
    ASSERT_EQ(values.size(), 5u);
    EXPECT_EQ(values[0].value, static_cast<double>(e.total)) << "chunk " << chunk;
    for (int tier = 0; tier < 4; ++tier)
      EXPECT_EQ(values[1 + tier].value, static_cast<double>(r.tier_picojoules[tier]));
  }
}

const Graph kP1 = {
    {{"a", 10}, {"b", 60}},
    {{"op1", "c", 5, {"a", "b"}}, {"op2", "d", 100, {"c", "a"}}, {"op3", "e", 1, {"d", "b"}}}};
const Graph kP3 = {{{"x", 40}, {"w", 30}},
                   {{"p", "u", 20, {"x"}}, {"q", "v", 20, {"w"}}, {"r", "s", 1, {"u", "v"}}}};

TEST(PebbleTest, SmallGraphsP1ToP5) {
  check("P1", graph_trace(kP1, {"op1", "op2", "op3"}), {6630, {{130, 6500, 0, 0}}});
  const Graph p2 = {{{"W", 70000}}, {{"op1", "y", 70000, {"W"}}, {"op2", "z", 1, {"y", "W"}}}};
  check("P2", graph_trace(p2, {"op1", "op2"}), {141400005, {{5, 0, 7000000, 134400000}}});
  check("P3", graph_trace(kP3, {"p", "q", "r"}), {1805, {{405, 1400, 0, 0}}});
  check("P4", graph_trace(kP3, {"q", "p", "r"}), {2105, {{305, 1800, 0, 0}}});
  const Graph p5 = {{{"a", 40}}, {{"op1", "b", 1, {"a", "a"}}}};
  check("P5", graph_trace(p5, {"op1"}), {405, {{405, 0, 0, 0}}});
}

TEST(PebbleTest, P1PerOperationEnergies) {
  Trace t = graph_trace(kP1, {"op1", "op2", "op3"});
  PebbleResult r = play_pebble_game(t.buffers, t.events, true);
  std::vector<std::uint64_t> per_op(3, 0);
  for (const PebbleAccess& a : r.accesses) per_op.at(a.op - 1) += a.picojoules;
  EXPECT_EQ(per_op, (std::vector<std::uint64_t>{1275, 2150, 3205}));
  EXPECT_EQ(r.operations, 3u);
}

TEST(PebbleTest, P1AsATextTrace) {
  // Text traces declare buffers in order of first appearance: a, b as in the graph.
  Trace t = parse_text_trace(
      "R a 10; R b 60; W c 5; OP; R c -; R a 10; W d 100; OP; R d -; R b 60; W e 1; OP");
  check("P1 text", t, {6630, {{130, 6500, 0, 0}}});
}

TEST(PebbleTest, TrainingDagP6ToP14) {
  const Graph g1000 = training_graph(20, 1000);
  check("P6", graph_trace(g1000, kOrderings.at("standard")),
        {11004490, {{50, 300040, 10704400, 0}}});
  check("P7", graph_trace(g1000, kOrderings.at("fused")), {10844330, {{50, 340080, 10504200, 0}}});
  check("P8", graph_trace(g1000, kOrderings.at("perlayer")),
        {10844330, {{50, 340080, 10504200, 0}}});
  check("P9", graph_trace(g1000, kOrderings.at("best")), {10764315, {{55, 360060, 10404200, 0}}});
  const Graph g200 = training_graph(20, 200);
  for (const char* name : {"standard", "fused", "perlayer"})
    check(std::string("P10 ") + name, graph_trace(g200, kOrderings.at(name)),
          {488970, {{50, 488920, 0, 0}}});
  check("P11", graph_trace(g200, kOrderings.at("best")), {488955, {{55, 488900, 0, 0}}});
  for (const auto& [name, ordering] : kOrderings)
    check("P12 " + name, graph_trace(training_graph(3, 4), ordering), {850, {{850, 0, 0, 0}}});
  check("P13", graph_trace(training_graph(50, 2000), kOrderings.at("standard")), {329626650, {}});
  check("P14", graph_trace(training_graph(20, 4000), kOrderings.at("standard")), {231948250, {}});
}

TEST(PebbleTest, P6AccessLog) {
  using T = PebbleTier;
  const T R = T::kRegister, L1 = T::kL1, L2 = T::kL2;
  // metrics.md §5.3: the tier of each read, then of the write, op by op.
  const std::vector<std::pair<std::string, T>> expected = {
      {"W1", L2},  {"x", L2},      {"b1", L2},     {"h_pre", L1},  {"h_pre", L2},  {"h", L1},
      {"W2", L2},  {"h", L1},      {"b2", L2},     {"y_hat", R},   {"y_hat", L1},  {"y", L2},
      {"loss", R}, {"loss", R},    {"y_hat", R},   {"y", R},       {"dy", R},      {"dy", R},
      {"h", L1},   {"dW2", L1},    {"dy", R},      {"db2", R},     {"W2", L1},     {"dy", L1},
      {"dh", L1},  {"dh", L1},     {"h_pre", L1},  {"dh_pre", L1}, {"dh_pre", L1}, {"x", L2},
      {"dW1", L2}, {"dh_pre", L1}, {"db1", L1},    {"W1", L2},     {"dW1", L2},    {"W1_new", L2},
      {"b1", L2},  {"db1", L2},    {"b1_new", L1}, {"W2", L2},     {"dW2", L2},    {"W2_new", L1},
      {"b2", L2},  {"db2", L2},    {"b2_new", R}};
  Trace t = graph_trace(training_graph(20, 1000), kOrderings.at("standard"));
  PebbleResult r = play_pebble_game(t.buffers, t.events, true);
  ASSERT_EQ(r.accesses.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(t.buffers[r.accesses[i].buffer].name, expected[i].first) << "access " << i;
    EXPECT_EQ(r.accesses[i].tier, expected[i].second) << "access " << i << " " << expected[i].first;
  }
}

TEST(PebbleTest, WithoutOpMarkersEveryEventIsAnOperation) {
  // P1's events without OP: steps 1-9 are R a, R b, W c, R c, R a, W d, R d, R b, W e.
  //  1 R a: a(0) b(0), a first: end 10 -> register 50
  //  2 R b: a(1) ahead: end 70 -> L1 1200
  //  3 W c 5 -> register 25
  //  4 R c: c(3) first: end 5 -> register 25; GC: c is read by no later step -> dies
  //  5 R a: b(2) ahead: end 70 -> L1 200
  //  6 W d 100 -> L1 2000
  //  7 R d: d(6) first: end 100 -> L1 2000; GC: d dies
  //  8 R b: a(5) ahead: end 70 -> L1 1200
  //  9 W e 1 -> register 5
  // register 50 + 25 + 25 + 5 = 105, L1 1200 + 200 + 2000 + 2000 + 1200 = 6600.
  Trace t = parse_text_trace("R a 10; R b 60; W c 5; R c -; R a 10; W d 100; R d -; R b 60; W e 1");
  check("no markers", t, {6705, {{105, 6600, 0, 0}}});
  EXPECT_EQ(play_pebble_game(t.buffers, t.events).operations, 9u);
}

TEST(PebbleTest, WritesArePricedAfterReadsAndFreesAreIgnored) {
  // P1 with each op's write first and F events: same operations, same energy.
  Trace t = parse_text_trace(
      "W c 5; R a 10; R b 60; OP; F c; W d 100; R c 5; R a 10; OP; OP; W e 1; R d 100; R b 60; "
      "F d; OP; F e");
  check("P1 reordered", t, {6630, {{130, 6500, 0, 0}}});
  EXPECT_EQ(play_pebble_game(t.buffers, t.events).operations, 3u);  // the empty op is skipped
}

TEST(PebbleTest, PartialReadIsChargedItsCountAtTheWholeTensorsTier) {
  // op1: R a 100: end 100 -> L1 100*20 = 2000; W b 1 -> register 5.
  // op2: R a 4: a(1) then b(1) by insertion: end = s(a) = 100 -> L1, charged 4*20 = 80;
  //      W c 1 -> register 5. Total 2090.
  Trace t = parse_text_trace("R a 100; W b 1; OP; R a 4; W c 1; OP");
  check("partial", t, {2090, {{10, 2080, 0, 0}}});
}

TEST(PebbleTest, MetricShape) {
  auto metric = instantiate<Metric>(parse_spec("pebble_energy"), "metric");
  EXPECT_TRUE(metric->needs_trace());
  EXPECT_EQ(metric->spec(), "pebble_energy");
  const std::vector<std::string> names = {"pebble_energy.pj", "pebble_energy.register_pj",
                                          "pebble_energy.l1_pj", "pebble_energy.l2_pj",
                                          "pebble_energy.hbm_pj"};
  EXPECT_EQ(metric->value_names(), names);
  for (const MetricValue& v : metric->finish(RunOutcome{})) EXPECT_FALSE(v.value.has_value());
  // One instance, two traces: the second is priced alone.
  parse_text_trace("R q 70000; W r 1; OP").replay(*metric, 1);
  graph_trace(kP3, {"q", "p", "r"}).replay(*metric, 2);
  EXPECT_EQ(metric->finish(RunOutcome{})[0].value, 2105.0);
  EXPECT_THROW(instantiate<Metric>(parse_spec("pebble_energy(l1=1)"), "metric"), ConfigError);
}

}  // namespace
}  // namespace cube
