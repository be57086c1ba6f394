// Tests of experiments/runner: one job's rows, statuses, value names that collide, and the energy
// bracket around the untraced solve.

#include "experiments/runner.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/plan.h"
#include "experiments/store.h"
#include "tests/experiments/sqlite_query.h"

namespace cube {
namespace {

// A fresh directory under /tmp, removed with everything in it on scope exit.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    char pattern[] = "/tmp/cube_runner_XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

TEST(RunnerTest, OneJobGivesOneRowPerValueInOrder) {
  Job job{"sparse_parity(n=12,k=3,n_train=200,n_test=50)", "gf2", {"accuracy", "ard", "epochs"}, 4};
  auto rows = run_job(job, 0, RunOptions{});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].metric, "accuracy");
  EXPECT_EQ(*rows[0].value, 1.0);
  EXPECT_EQ(rows[1].metric, "ard");
  EXPECT_TRUE(rows[1].value.has_value());
  EXPECT_EQ(rows[2].metric, "epochs");
  EXPECT_FALSE(rows[2].value.has_value());  // gf2 has no epochs: n/a, not 0
  for (const auto& row : rows) {
    EXPECT_EQ(row.status, "ok");
    EXPECT_EQ(row.cell, job.cell());
    EXPECT_EQ(row.seed, 4u);
  }
}

TEST(RunnerTest, CollidingValueNamesAreQualifiedByTheMetricSpec) {
  Job job{"sparse_parity(n=12,k=3,n_train=200,n_test=50)",
          "gf2",
          {"cache(capacity=8192)", "cache(capacity=16)", "ard"},
          4};
  auto rows = run_job(job, 0, RunOptions{});
  std::set<std::string> names;
  for (const auto& row : rows) {
    EXPECT_EQ(row.status, "ok") << row.message;
    names.insert(row.metric);
  }
  EXPECT_EQ(names.size(), rows.size());
  EXPECT_TRUE(names.count("cache(capacity=8192):cache.hits"));
  EXPECT_TRUE(names.count("cache(capacity=16):cache.hits"));
  EXPECT_TRUE(names.count("ard"));
}

TEST(RunnerTest, ExceptionsBecomeErrorRows) {
  Job job{"sparse_parity(n=12,k=3)", "gf2", {"accuracy", "nope"}, 1};
  auto rows = run_job(job, 0, RunOptions{});
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.status, "error");
    EXPECT_NE(row.message.find("unknown metric 'nope'"), std::string::npos) << row.message;
    EXPECT_TRUE(is_failure(row.status));
  }
}

// A sweep runs its cells round-robin, seed by seed (and repeat by repeat), so that a drift of the
// machine's speed during a timed sweep falls on every cell alike; the store receives the rows in
// that order, and the sweep's result keeps plan order. Stored units are skipped in place.
TEST(RunnerTest, SweepsRunTheCellsRoundRobinSeedBySeed) {
  const ScratchDir scratch;
  const std::filesystem::path& dir = scratch.path;
  const ExperimentPlan plan = parse_plan(R"(problem: sparse_parity(n=12,k=3,n_train=200,n_test=50)
solver: gf2
metrics: [accuracy]
seeds: [1, 2, 3]
sweep:
  problem.k: [2, 3]
)",
                                         "order.yaml", {});
  ASSERT_EQ(plan.jobs.size(), 6u);
  Provenance provenance;
  provenance.git_commit = "c0ffee";
  RunOptions options;
  options.threads = 1;
  options.repeat = 2;
  {
    ResultStore store(dir / "r.db");
    const SweepResult sweep = run_sweep(plan, store, provenance, options);
    ASSERT_EQ(sweep.rows.size(), 12u);
    EXPECT_EQ(sweep.rows[1].seed, 1u) << "plan order: the first job's two repeats first";
    EXPECT_EQ(sweep.rows[2].seed, 2u);
  }
  const std::string k2 = plan.jobs[0].problem, k3 = plan.jobs[3].problem;
  ASSERT_NE(k2, k3);
  std::string expected;
  for (const char* seed_repeat : {"1/0", "1/1", "2/0", "2/1", "3/0", "3/1"})
    for (const std::string& problem : {k2, k3})
      expected += std::string(expected.empty() ? "" : ",") + problem + "/" + seed_repeat;
  EXPECT_EQ(query_text(dir / "r.db",
                       "SELECT problem || '/' || seed || '/' || repeat FROM results ORDER BY id"),
            expected);
}

// A unit stored by a run on another machine is reused, not run again, and counted by that
// machine; --force runs it here.
TEST(RunnerTest, ReusedUnitsOfAnotherMachineAreCountedAndNamed) {
  const ScratchDir scratch;
  const std::filesystem::path& dir = scratch.path;
  const ExperimentPlan plan = parse_plan(R"(problem: sparse_parity(n=12,k=3,n_train=200,n_test=50)
solver: gf2
metrics: [accuracy, wall_time]
seeds: [1, 2]
)",
                                         "machines.yaml", {});
  Provenance other;
  other.git_commit = "c0ffee";
  other.machine = "CPU B (family 26, model 2), 2 CPUs, avx512f";
  Provenance here = other;
  here.machine = "CPU A (family 25, model 1), 2 CPUs, avx2+fma";
  RunOptions options;
  options.threads = 1;
  ResultStore store(dir / "r.db");
  EXPECT_TRUE(run_sweep(plan, store, other, options).reused_from_other_machines.empty());
  EXPECT_EQ(other_machines_note(run_sweep(plan, store, other, options).reused_from_other_machines,
                                other.machine),
            "");

  const SweepResult reused = run_sweep(plan, store, here, options);
  EXPECT_EQ(reused.progress.skipped, 2u);
  EXPECT_EQ(reused.reused_from_other_machines,
            (std::map<std::string, std::size_t>{{other.machine, 2}}));
  EXPECT_EQ(other_machines_note(reused.reused_from_other_machines, here.machine),
            "2 stored jobs were measured on another machine (" + other.machine +
                "), not on this one (" + here.machine +
                "): their wall times are that machine's; --force runs them here");

  options.force = true;
  EXPECT_TRUE(run_sweep(plan, store, here, options).reused_from_other_machines.empty());
  options.force = false;
  EXPECT_TRUE(run_sweep(plan, store, here, options).reused_from_other_machines.empty())
      << "the forced run stored them as this machine's";
}

// A package counter that advances 2.5 J (2,500,000 uJ) at every read: a window opened and closed
// around one solve reads it twice, so the solve measures exactly 2.5 J.
class SteppingCounter : public EnergySource {
 public:
  std::string name() const override { return "fake"; }
  const std::vector<EnergyCounter>& counters() const override { return counters_; }
  std::vector<std::optional<std::uint64_t>> read() override {
    count_ += 2'500'000;
    return {count_};
  }

 private:
  std::vector<EnergyCounter> counters_{EnergyCounter{"package-0", 1e-6, 0}};
  std::uint64_t count_ = 0;
};

RunOptions with_fake_counters() {
  RunOptions options;
  options.energy_meter = [] {
    std::vector<std::unique_ptr<EnergySource>> sources;
    sources.push_back(std::make_unique<SteppingCounter>());
    return EnergyMeter(std::move(sources));
  };
  return options;
}

// The runner measures, not the solver: an exact solver, a learned one and a query-oracle one all
// get the energy of their solve.
TEST(RunnerTest, EnergyIsMeasuredAroundEverySolversSolve) {
  const std::vector<std::pair<std::string, std::string>> cells = {
      {"sparse_parity(n=12,k=3,n_train=200,n_test=50)", "gf2"},
      {"sparse_parity(n=12,k=3,n_train=200,n_test=50)", "sgd(max_epochs=2)"},
      {"sparse_parity_oracle(n=12,k=3,n_test=50)", "km"}};
  for (const auto& [problem, solver] : cells) {
    SCOPED_TRACE(solver);
    Job job{problem, solver, {"accuracy", "energy"}, 3};
    auto rows = run_job(job, 0, with_fake_counters());
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].metric, "energy_joules");
    EXPECT_FALSE(rows[1].deterministic);
    ASSERT_TRUE(rows[1].value.has_value()) << rows[1].message;
    EXPECT_EQ(*rows[1].value, 2.5);
  }
}

TEST(RunnerTest, EnergyIsNotApplicableWithTheReasonWithoutCountersOrBesideOtherJobs) {
  Job job{"sparse_parity(n=12,k=3,n_train=200,n_test=50)", "gf2", {"accuracy", "energy"}, 3};
  RunOptions none;
  none.energy_meter = [] { return EnergyMeter({}, {"rapl: no powercap zone"}); };
  auto rows = run_job(job, 0, none);
  EXPECT_EQ(rows[1].status, "ok");
  EXPECT_FALSE(rows[1].value.has_value());
  EXPECT_NE(rows[1].message.find("no readable energy counter"), std::string::npos)
      << rows[1].message;
  EXPECT_NE(rows[1].message.find("rapl: no powercap zone"), std::string::npos) << rows[1].message;
  EXPECT_EQ(rows[0].message.find("energy"), std::string::npos) << "only the energy row says it";

  RunOptions parallel = with_fake_counters();
  parallel.threads = 2;
  rows = run_job(job, 0, parallel);
  EXPECT_FALSE(rows[1].value.has_value());
  EXPECT_NE(rows[1].message.find("-j 1"), std::string::npos) << rows[1].message;
}

// Without a metric that needs energy the counters are never opened.
TEST(RunnerTest, NoEnergyMetricOpensNoCounters) {
  Job job{"sparse_parity(n=12,k=3,n_train=200,n_test=50)", "gf2", {"accuracy"}, 3};
  RunOptions options;
  int opened = 0;
  options.energy_meter = [&opened] {
    ++opened;
    return EnergyMeter({});
  };
  EXPECT_EQ(run_job(job, 0, options).size(), 1u);
  EXPECT_EQ(opened, 0);
}

}  // namespace
}  // namespace cube
