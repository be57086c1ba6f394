// Contract tests over every registered module: specs round-trip, solvers are deterministic and
// tracing never changes their results, metrics survive empty and one-event traces.

#include <gtest/gtest.h>

#include <cmath>

#include "core/spec.h"
#include "experiments/runner.h"
#include "metrics/metric.h"
#include "problems/problem.h"
#include "solvers/solver.h"

namespace cube {
namespace {

template <class Base>
void expect_specs_round_trip() {
  for (const auto* entry : Registry<Base>::instance().entries()) {
    SCOPED_TRACE(entry->name);
    auto module = instantiate<Base>(parse_spec(entry->name), "m");
    const std::string canonical = module->spec();
    EXPECT_EQ(instantiate<Base>(parse_spec(canonical), "m")->spec(), canonical);
    for (const auto& p : entry->schema.params)  // every default is written out
      EXPECT_NE(canonical.find(p.name + "="), std::string::npos) << canonical;
  }
}

TEST(ContractTest, EverySpecRoundTrips) {
  expect_specs_round_trip<Problem>();
  expect_specs_round_trip<Solver>();
  expect_specs_round_trip<Metric>();
}

TEST(ContractTest, EveryAxisHasModules) {
  EXPECT_FALSE(ProblemRegistry::instance().names().empty());
  EXPECT_FALSE(SolverRegistry::instance().names().empty());
  EXPECT_FALSE(MetricRegistry::instance().names().empty());
}

// A registered module's spec with sizes and budgets cut down by parameter name, whatever the
// module is called: each cut applies to every module that declares that parameter and accepts
// the value (a cut the module's own bounds refuse, such as n=12 for a matmul scored at 1, 4 or
// 16, is left out), so a new module is covered without naming it here.
template <class Base>
std::string small_spec(const std::string& name,
                       const std::vector<std::pair<std::string, std::string>>& cuts) {
  const auto* entry = Registry<Base>::instance().find(name);
  auto spec_of = [&](const std::vector<std::string>& settings) {
    std::string spec = name + "(";
    for (std::size_t i = 0; i < settings.size(); ++i) spec += (i ? "," : "") + settings[i];
    return settings.empty() ? name : spec + ")";
  };
  std::vector<std::string> settings;
  for (const auto& [param, value] : cuts)
    for (const auto& p : entry->schema.params) {
      if (p.name != param) continue;
      settings.push_back(param + "=" + value);
      try {
        instantiate<Base>(parse_spec(spec_of(settings)), "m");
      } catch (const ConfigError&) {
        settings.pop_back();
      }
    }
  return spec_of(settings);
}

// Small instances, so that every solver finishes quickly.
std::string small_problem(const std::string& problem) {
  return small_spec<Problem>(problem, {{"n", "12"},
                                       {"k", "3"},
                                       {"n_train", "200"},
                                       {"n_test", "50"},
                                       {"dataset", "names"},
                                       {"block_size", "8"},
                                       {"batch_size", "4"},
                                       {"eval_interval", "2"},
                                       {"eval_iters", "2"}});
}

// Learned solvers run a few epochs, GPT trainers a few iterations of a one-block model.
std::string small_solver(const std::string& solver) {
  return small_spec<Solver>(solver, {{"max_epochs", "3"},
                                     {"epochs_per_stage", "2"},
                                     {"max_iters", "3"},
                                     {"n_layer", "1"},
                                     {"n_head", "2"},
                                     {"n_embd", "16"},
                                     {"threads", "1"},
                                     {"progress", "false"}});
}

// Hash of a trace: every event and every buffer name, in order.
std::uint64_t trace_hash(const Trace& trace) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::uint64_t v) { h = (h ^ v) * 1099511628211ULL; };
  for (const auto& e : trace.events) {
    mix(e.buffer);
    mix(e.offset);
    mix(e.count);
    mix(static_cast<std::uint64_t>(e.kind));
  }
  for (std::size_t b = 0; b < trace.buffers.size(); ++b)
    for (char c : trace.buffers[static_cast<BufferId>(b)].name) mix(static_cast<unsigned char>(c));
  return h;
}

TEST(ContractTest, SolversAreDeterministicAndTracingChangesNothing) {
  for (const auto& problem_name : ProblemRegistry::instance().names()) {
    auto problem = instantiate<Problem>(parse_spec(small_problem(problem_name)), "problem");
    problem->generate(7);
    for (const auto& solver_name : SolverRegistry::instance().names()) {
      SCOPED_TRACE(problem_name + " x " + solver_name);
      auto solver = instantiate<Solver>(parse_spec(small_solver(solver_name)), "solver");
      if (!solver->supports(*problem)) continue;
      RunContext ctx(7);
      SolveResult plain = solver->solve(*problem, ctx, nullptr);
      SolveResult again = solver->solve(*problem, ctx, nullptr);
      EXPECT_EQ(plain.test_predictions, again.test_predictions);
      EXPECT_EQ(plain.epochs, again.epochs);
      EXPECT_EQ(plain.curve, again.curve);

      std::uint64_t hashes[2];
      for (int t = 0; t < 2; ++t) {
        RecordingTracer tracer;
        TraceCollector collector;
        tracer.add_sink(&collector);
        SolveResult traced = solver->solve(*problem, ctx, &tracer);
        tracer.finish();
        EXPECT_EQ(traced.test_predictions, plain.test_predictions);
        EXPECT_EQ(traced.epochs, plain.epochs);
        EXPECT_EQ(traced.secret, plain.secret);
        EXPECT_EQ(traced.status, plain.status);
        EXPECT_EQ(traced.curve, plain.curve);
        EXPECT_GT(collector.trace().events.size(), 0u);
        hashes[t] = trace_hash(collector.trace());
      }
      EXPECT_EQ(hashes[0], hashes[1]) << "the trace of one seed must not change between runs";
    }
  }
}

TEST(ContractTest, MetricsGiveFiniteOrAbsentValuesOnEmptyAndOneEventTraces) {
  for (const auto& name : MetricRegistry::instance().names()) {
    SCOPED_TRACE(name);
    for (int events = 0; events < 2; ++events) {
      auto metric = instantiate<Metric>(parse_spec(name), "metric");
      Trace trace;
      BufferId b = trace.buffers.declare("a", 4, 8);
      if (events) trace.events.push_back(TraceEvent{b, 0, 8, EventKind::kWrite});
      trace.replay(*metric);
      RunOutcome outcome;
      std::vector<MetricValue> values = metric->finish(outcome);
      ASSERT_EQ(values.size(), metric->value_names().size());
      for (std::size_t i = 0; i < values.size(); ++i) {
        EXPECT_EQ(values[i].name, metric->value_names()[i]);
        if (values[i].value) {
          EXPECT_TRUE(std::isfinite(*values[i].value));
        }
      }
    }
  }
}

TEST(ContractTest, EveryRegisteredCellRunsThroughTheRunner) {
  std::vector<std::string> metrics = MetricRegistry::instance().names();
  for (const auto& problem_name : ProblemRegistry::instance().names())
    for (const auto& solver_name : SolverRegistry::instance().names()) {
      SCOPED_TRACE(problem_name + " x " + solver_name);
      Job job{small_problem(problem_name), small_solver(solver_name), metrics, 3};
      auto rows = run_job(job, 0, RunOptions{});
      ASSERT_FALSE(rows.empty());
      for (const auto& row : rows) EXPECT_NE(row.status, "error") << row.message;
    }
}

}  // namespace
}  // namespace cube
