// Tests of experiments/plan: YAML and --set -> validated jobs, and every bad input's message.

#include "experiments/plan.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace cube {
namespace {

const char* kCell = R"(problem: {name: sparse_parity, n: 20, k: 3, n_train: 100, n_test: 50}
solver:  {name: sgd, hidden: 16, lr: 0.1, max_epochs: 5}
metrics: [accuracy, wall_time, epochs]
seeds: [42, 43]
)";

TEST(PlanTest, OneCellExpandsToOneJobPerSeedWithCanonicalSpecs) {
  ExperimentPlan plan = parse_plan(kCell, "cell.yaml", {});
  ASSERT_EQ(plan.jobs.size(), 2u);
  EXPECT_EQ(plan.cells, 1u);
  EXPECT_EQ(plan.jobs[0].problem, "sparse_parity(k=3,n=20,n_test=50,n_train=100)");
  EXPECT_EQ(plan.jobs[0].solver,
            "sgd(batch=32,hidden=16,loss=hinge,lr=0.1,max_epochs=5,precision=float64,wd=0.01)");
  EXPECT_EQ(plan.jobs[0].metrics, (std::vector<std::string>{"accuracy", "wall_time", "epochs"}));
  EXPECT_EQ(plan.jobs[0].seed, 42u);
  EXPECT_EQ(plan.jobs[1].seed, 43u);
}

TEST(PlanTest, StringAndMapFormsGiveTheSameCell) {
  ExperimentPlan a = parse_plan(kCell, "a.yaml", {});
  ExperimentPlan b = parse_plan(R"yaml(problem: sparse_parity(n_test=50, k=3, n_train=100)
solver: "sgd(max_epochs=5,hidden=16)"
metrics: [accuracy, wall_time, epochs]
seeds: [42, 43]
)yaml",
                                "b.yaml", {});
  EXPECT_EQ(a.jobs[0].cell(), b.jobs[0].cell());
}

TEST(PlanTest, SweepIsACartesianProductFirstKeySlowest) {
  ExperimentPlan plan = parse_plan(std::string(kCell) + R"(sweep:
  problem.n: [20, 30]
  solver.name: [gf2, sgd]
)",
                                   "cell.yaml", {});
  ASSERT_EQ(plan.cells, 4u);
  ASSERT_EQ(plan.jobs.size(), 8u);
  EXPECT_EQ(plan.jobs[0].problem, "sparse_parity(k=3,n=20,n_test=50,n_train=100)");
  EXPECT_EQ(plan.jobs[0].solver, "gf2");  // sgd's keys are not passed to gf2
  EXPECT_EQ(plan.jobs[2].solver,
            "sgd(batch=32,hidden=16,loss=hinge,lr=0.1,max_epochs=5,precision=float64,wd=0.01)");
  EXPECT_EQ(plan.jobs[4].problem, "sparse_parity(k=3,n=30,n_test=50,n_train=100)");
}

TEST(PlanTest, SetOverridesAValueAndCommaListsMakeAnAxis) {
  ExperimentPlan plan =
      parse_plan(kCell, "cell.yaml", {"solver.lr=0.05", "problem.n=20,30,50", "seeds=7"});
  ASSERT_EQ(plan.jobs.size(), 3u);
  EXPECT_EQ(plan.jobs[0].solver,
            "sgd(batch=32,hidden=16,loss=hinge,lr=0.05,max_epochs=5,precision=float64,wd=0.01)");
  EXPECT_EQ(plan.jobs[2].problem, "sparse_parity(k=3,n=50,n_test=50,n_train=100)");
  EXPECT_EQ(plan.jobs[0].seed, 7u);
}

TEST(PlanTest, SetReplacesASweepAxisOfTheSameKey) {
  ExperimentPlan plan = parse_plan(std::string(kCell) + "sweep:\n  problem.n: [20, 30]\n",
                                   "cell.yaml", {"problem.n=40"});
  ASSERT_EQ(plan.cells, 1u);
  EXPECT_EQ(plan.jobs[0].problem, "sparse_parity(k=3,n=40,n_test=50,n_train=100)");
}

TEST(PlanTest, DuplicateCellsAreDropped) {
  ExperimentPlan plan = parse_plan(R"(problem: sparse_parity
solver: gf2
metrics: [accuracy]
sweep:
  solver.name: [gf2, gf2]
)",
                                   "cell.yaml", {});
  EXPECT_EQ(plan.cells, 1u);
  EXPECT_EQ(plan.jobs.size(), 1u);  // default seed
  EXPECT_EQ(plan.jobs[0].seed, 42u);
}

TEST(PlanTest, JsonPlanRoundTrips) {
  ExperimentPlan plan =
      parse_plan(std::string(kCell) + "sweep:\n  solver.name: [gf2, sgd]\n", "cell.yaml", {});
  auto path = std::filesystem::temp_directory_path() / "cube_plan_test.json";
  std::ofstream(path) << plan_to_json(plan);
  ASSERT_TRUE(is_json_plan(path));
  ExperimentPlan back = read_plan_json(path);
  ASSERT_EQ(back.jobs.size(), plan.jobs.size());
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    EXPECT_EQ(back.jobs[i].cell(), plan.jobs[i].cell());
    EXPECT_EQ(back.jobs[i].metrics, plan.jobs[i].metrics);
    EXPECT_EQ(back.jobs[i].seed, plan.jobs[i].seed);
  }
  std::filesystem::remove(path);
}

// --- bad input: each message names the file:line (or the --set argument) and the key ----------

struct BadInput {
  const char* name;
  std::string yaml;
  std::vector<std::string> overrides;
  std::vector<std::string> expected;  // substrings of the message
};

std::string error_of(const BadInput& c) {
  try {
    parse_plan(c.yaml, "cell.yaml", c.overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

class BadInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadInputTest, MessageNamesTheLocationAndTheKey) {
  std::string message = error_of(GetParam());
  for (const auto& part : GetParam().expected)
    EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
}

const std::string kProblem = "problem: {name: sparse_parity, n: 20, k: 3}\n";
const std::string kSolver = "solver: {name: sgd, lr: 0.1}\n";
const std::string kMetrics = "metrics: [accuracy]\n";

INSTANTIATE_TEST_SUITE_P(
    Plan, BadInputTest,
    ::testing::Values(
        BadInput{"duplicated_top_level_key",
                 kProblem + kSolver + kMetrics + "problem: sparse_sum\n",
                 {},
                 {"cell.yaml:4:1: problem: duplicated key (first at line 1); keep one"}},
        BadInput{"duplicated_module_param",
                 kProblem + "solver: {name: sgd, lr: 0.1, lr: 0.2}\n" + kMetrics,
                 {},
                 {"cell.yaml:2:", "solver.lr: duplicated key (first at line 2)"}},
        BadInput{"duplicated_sweep_axis",
                 kProblem + kSolver + kMetrics + "sweep:\n  problem.n: [10]\n  problem.n: [20]\n",
                 {},
                 {"cell.yaml:6:3: sweep.problem.n: duplicated key (first at line 5)"}},
        BadInput{"yaml_syntax",
                 kProblem + "solver: {name: sgd, lr: 0.1\n" + kMetrics,
                 {},
                 {"cell.yaml:3:", "YAML syntax error"}},
        BadInput{"unknown_problem",
                 "problem: {name: sparse_parityy}\n" + kSolver + kMetrics,
                 {},
                 {"cell.yaml:1:", "problem.name", "unknown problem 'sparse_parityy'",
                  "valid choices: ", "sparse_parity"}},
        BadInput{"unknown_solver",
                 kProblem + "solver: sgdd\n" + kMetrics,
                 {},
                 {"cell.yaml:2:", "solver.name", "unknown solver 'sgdd'", "gf2", "sgd"}},
        BadInput{"unknown_metric",
                 kProblem + kSolver + "metrics: [accuracy, ardd]\n",
                 {},
                 {"cell.yaml:3:", "metrics[1].name", "unknown metric 'ardd'", "clock_dmc"}},
        BadInput{"unknown_solver_key",
                 kProblem + "solver: {name: sgd, hiden: 20}\n" + kMetrics,
                 {},
                 {"cell.yaml:2:", "solver.hiden", "unknown parameter", "hidden, loss, lr"}},
        BadInput{"unknown_top_level_key",
                 kProblem + kSolver + kMetrics + "seed: 3\n",
                 {},
                 {"cell.yaml:4:1", "unknown key 'seed'", "seeds"}},
        BadInput{"int_wrong_type",
                 "problem: {name: sparse_parity, n: twenty}\n" + kSolver + kMetrics,
                 {},
                 {"cell.yaml:1:", "problem.n", "expected an integer", "twenty"}},
        BadInput{"float_wrong_type",
                 kProblem + "solver: {name: sgd, lr: fast}\n" + kMetrics,
                 {},
                 {"cell.yaml:2:", "solver.lr", "expected a finite number"}},
        BadInput{"float_out_of_range",
                 kProblem + "solver: {name: sgd, lr: -1}\n" + kMetrics,
                 {},
                 {"cell.yaml:2:", "solver.lr", "out of range (0, inf)"}},
        BadInput{"int_out_of_range",
                 "problem: {name: sparse_parity, n: 0}\n" + kSolver + kMetrics,
                 {},
                 {"cell.yaml:1:", "problem.n", "out of range"}},
        BadInput{"k_exceeds_n",
                 "problem: {name: sparse_parity, n: 5,\n  k: 9}\n" + kSolver + kMetrics,
                 {},
                 {"cell.yaml:2:", "problem.k"}},
        BadInput{"empty_sweep",
                 kProblem + kSolver + kMetrics + "sweep: {}\n",
                 {},
                 {"cell.yaml:4:", "sweep", "empty"}},
        BadInput{"empty_sweep_axis",
                 kProblem + kSolver + kMetrics + "sweep:\n  problem.n: []\n",
                 {},
                 {"cell.yaml:5:", "sweep.problem.n", "empty"}},
        BadInput{"bad_sweep_key",
                 kProblem + kSolver + kMetrics + "sweep:\n  model.n: [1, 2]\n",
                 {},
                 {"cell.yaml:5:", "sweep.model.n", "cannot sweep"}},
        BadInput{"unknown_name_in_sweep",
                 kProblem + kSolver + kMetrics + "sweep:\n  solver.name: [gf2,\n    nope]\n",
                 {},
                 {"cell.yaml:6:", "solver.name", "unknown solver 'nope'"}},
        BadInput{"list_outside_sweep",
                 "problem: {name: sparse_parity, n: [20, 30]}\n" + kSolver + kMetrics,
                 {},
                 {"cell.yaml:1:", "problem.n", "sweep"}},
        BadInput{"bad_seed",
                 kProblem + kSolver + kMetrics + "seeds: [1, two]\n",
                 {},
                 {"cell.yaml:4:", "seeds[1]", "non-negative integer"}},
        BadInput{"empty_seeds",
                 kProblem + kSolver + kMetrics + "seeds: []\n",
                 {},
                 {"cell.yaml:4:", "seeds", "empty"}},
        BadInput{"missing_metrics",
                 kProblem + kSolver,
                 {},
                 {"cell.yaml", "metrics: missing", "accuracy"}},
        BadInput{"empty_file", "", {}, {"cell.yaml", "empty"}},
        BadInput{"malformed_spec_string",
                 kProblem + "solver: sgd(lr=0.1\n" + kMetrics,
                 {},
                 {"cell.yaml:2:", "malformed spec"}},
        BadInput{"set_without_equals",
                 kProblem + kSolver + kMetrics,
                 {"solver.lr"},
                 {"--set solver.lr", "key=value"}},
        BadInput{"set_unknown_key",
                 kProblem + kSolver + kMetrics,
                 {"solver.foo=1"},
                 {"--set solver.foo=1", "solver.foo", "unknown parameter"}},
        BadInput{"set_wrong_type",
                 kProblem + kSolver + kMetrics,
                 {"problem.n=20,x"},
                 {"--set problem.n=20,x", "problem.n", "expected an integer"}}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

TEST(PlanFileTest, MissingFileIsAnErrorNamingIt) {
  try {
    load_plan("/nonexistent/cell.yaml", {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cell.yaml: cannot read"), std::string::npos)
        << e.what();
  }
}

TEST(PlanFileTest, DirectoryIsAnErrorNamingIt) {
  auto dir = std::filesystem::temp_directory_path();
  try {
    load_plan(dir, {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

TEST(PlanFileTest, BrokenJsonPlanIsAnErrorNamingIt) {
  auto path = std::filesystem::temp_directory_path() / "cube_bad_plan.json";
  std::ofstream(path) << "{\"format\": \"cube-plan\", \"jobs\": [{\"problem\": \"nope\"}]}";
  try {
    load_plan(path, {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("jobs[0]"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cube
