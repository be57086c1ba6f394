// End-to-end tests of the `cube` binary: run, kill -9 midway, resume; diff two commits; exit codes.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "experiments/store.h"

namespace fs = std::filesystem;

namespace cube {
namespace {

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh git work tree in /tmp with one commit.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cube_cli_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    sh("git init -q . && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m first");
  }
  void TearDown() override { fs::remove_all(dir_); }

  int sh(const std::string& command) {
    std::string full = "cd '" + dir_.string() + "' && " + command;
    int status = std::system(full.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  Result cube(const std::string& args) {
    Result r;
    r.exit_code = sh(std::string(CUBE_BINARY) + " " + args + " > out.txt 2> err.txt");
    r.out = slurp(dir_ / "out.txt");
    r.err = slurp(dir_ / "err.txt");
    return r;
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  void commit(const std::string& message) {
    sh("git -c user.name=t -c user.email=t@t commit -q --allow-empty -m '" + message + "'");
  }

  fs::path dir_;
};

const char* kSweep = R"(problem: {name: sparse_parity, n: 20, k: 3, n_train: 1000, n_test: 200}
solver: {name: sgd, hidden: 200, max_epochs: 200}
metrics: [accuracy, wall_time, epochs]
seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
)";

TEST_F(CliTest, SweepKilledMidwayResumesWithExactlyOneRowPerCellSeedMetric) {
  write("sweep.yaml", kSweep);
  fs::path db = dir_ / "store.db";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir_.c_str()) != 0) _exit(99);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(CUBE_BINARY, CUBE_BINARY, "run", "sweep.yaml", "-j", "1", "--store", db.c_str(),
          static_cast<char*>(nullptr));
    _exit(98);
  }
  // Wait until at least one job is stored, then kill -9 the sweep.
  std::int64_t at_kill = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(db)) {
      at_kill = ResultStore(db).count_rows();
      if (at_kill > 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the sweep finished before it could be killed";
  std::int64_t after_kill = ResultStore(db).count_rows();
  ASSERT_GT(after_kill, 0);
  ASSERT_LT(after_kill, 36) << "killed too late to test resume";
  EXPECT_EQ(after_kill % 3, 0) << "a job's rows are written in one transaction";

  Result resumed = cube("run sweep.yaml -j 2 --store store.db --format json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("already stored"), std::string::npos) << resumed.err;

  ResultStore store(db);
  std::vector<StoredRow> rows = store.all_rows();
  ASSERT_EQ(rows.size(), 36u);  // 12 seeds x 3 metrics
  std::set<std::tuple<std::string, std::uint64_t, std::string>> keys;
  for (const auto& row : rows) keys.insert({row.cell, row.seed, row.metric});
  EXPECT_EQ(keys.size(), 36u);

  // A third run finds everything stored and runs nothing.
  Result again = cube("run sweep.yaml --store store.db");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("0 jobs run, 12 already stored"), std::string::npos) << again.err;
  EXPECT_EQ(ResultStore(db).count_rows(), 36);
}

// Two sweeps of one cell with different metric lists: the second must not take the first's
// stored rows as its own (it would silently lack its extra metrics); it runs the job again and
// the unit's rows are replaced, not duplicated.
TEST_F(CliTest, AStoredCellRunsAgainWhenASweepAsksForMoreMetrics) {
  write("few.yaml", R"(problem: {name: sparse_parity, n: 20, k: 3}
solver: gf2
metrics: [accuracy]
seeds: [1, 2]
)");
  write("more.yaml", R"(problem: {name: sparse_parity, n: 20, k: 3}
solver: gf2
metrics: [accuracy, ard]
seeds: [1, 2]
)");
  ASSERT_EQ(cube("run few.yaml --store store.db").exit_code, 0);
  Result more = cube("run more.yaml --store store.db --format csv");
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_NE(more.err.find("2 jobs run, 0 already stored"), std::string::npos) << more.err;
  EXPECT_NE(more.out.find("ard"), std::string::npos) << more.out;
  EXPECT_EQ(ResultStore(dir_ / "store.db").count_rows(), 4);  // 2 seeds x (accuracy, ard)
  Result few = cube("run few.yaml --store store.db");
  EXPECT_NE(few.err.find("0 jobs run, 2 already stored"), std::string::npos) << few.err;
}

TEST_F(CliTest, DiffPrintsTheTablesOfTwoCommits) {
  write("cell.yaml", R"(problem: {name: sparse_parity, n: 20, k: 3}
solver: gf2
metrics: [accuracy, wall_time, ard, clock_dmc]
seeds: [1, 2, 3]
sweep:
  solver.name: [gf2, sgd]
)");
  sh("git add cell.yaml");
  commit("cell");
  Result first = cube("run cell.yaml --store store.db -q");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  commit("second");
  Result second = cube("run cell.yaml --store store.db -q");
  ASSERT_EQ(second.exit_code, 0) << second.err;

  Result diff = cube("diff HEAD~1 HEAD --store store.db --format json");
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  nlohmann::json table = nlohmann::json::parse(diff.out);
  std::map<std::string, int> verdicts;
  int wall_rows = 0;
  for (const auto& row : table["rows"]) {
    std::string metric = row["metric"];
    if (metric == "wall_time") {
      ++wall_rows;
      EXPECT_EQ(row["seed"], "all");
      // The same code twice: three values a side cannot reach p < 0.05, so no verdict but "~".
      EXPECT_TRUE(row["p"].is_number()) << row;
      EXPECT_EQ(row["verdict"], "~");
    } else {
      ++verdicts[row["verdict"].get<std::string>()];
    }
  }
  EXPECT_EQ(wall_rows, 2);  // one per cell, over the three seeds
  // Same code, same seeds: every deterministic metric is identical.
  EXPECT_EQ(verdicts["same"], 2 * 3 * 3);
  EXPECT_EQ(verdicts.size(), 1u);

  Result md = cube("diff HEAD~1 HEAD --store store.db --format md");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("| metric"), std::string::npos) << md.out;

  Result html = cube("diff HEAD~1 HEAD --store store.db --format html");
  ASSERT_EQ(html.exit_code, 0) << html.err;
  EXPECT_EQ(html.out.rfind("<!DOCTYPE html>", 0), 0u) << html.out;
  EXPECT_NE(html.out.find("<th>verdict</th>"), std::string::npos) << html.out;

  Result bad_alpha = cube("diff HEAD~1 HEAD --store store.db --alpha 1.5");
  EXPECT_EQ(bad_alpha.exit_code, 2);
  EXPECT_NE(bad_alpha.err.find("--alpha: alpha 1.5 is out of range (0, 1)"), std::string::npos)
      << bad_alpha.err;
  Result bad_threshold = cube("diff HEAD~1 HEAD --store store.db --threshold -0.1");
  EXPECT_EQ(bad_threshold.exit_code, 2);
  EXPECT_NE(bad_threshold.err.find("--threshold"), std::string::npos) << bad_threshold.err;
}

// --format html: `results` prints one page; `report -o x.html` writes one page whose loss curves
// are inline SVG (no image file beside it) and whose tables are HTML tables.
TEST_F(CliTest, HtmlResultsAndReportAreSelfContainedPages) {
  write("lm.yaml",
        R"(problem: char_lm(dataset=names,block_size=16,batch_size=8,eval_interval=10,eval_iters=2)
solver: adamw(n_layer=1,n_head=2,n_embd=16,max_iters=20,warmup_iters=2,lr_decay_iters=20,threads=1,progress=false)
metrics: [loss, wall_time]
seeds: [1]
)");
  write("gf2.yaml", "problem: sparse_parity(n=20,k=3)\nsolver: gf2\nmetrics: [accuracy]\n");
  write("r.yaml", R"(title: "A <small> report"
sections:
  - title: "Language model"
    sweep: lm.yaml
    columns: [val_loss]
    curves: curves.png
  - title: "Parity"
    sweep: gf2.yaml
    columns: [accuracy]
)");
  Result report = cube("report r.yaml -o r.html -q --store store.db");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const std::string page = slurp(dir_ / "r.html");
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u) << page.substr(0, 200);
  EXPECT_NE(page.find("<title>A &lt;small&gt; report</title>"), std::string::npos);
  EXPECT_NE(page.find("<table>"), std::string::npos);
  EXPECT_NE(page.find("<figure>"), std::string::npos);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_EQ(page.find("curves.png"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "curves.png"));
  // The same report as markdown draws the PNG and links it.
  Result md = cube("report r.yaml -o r.md -q --store store.db");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(slurp(dir_ / "r.md").find("](curves.png)"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "curves.png"));
  Result bad = cube("report r.yaml --format csv -q --store store.db");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("valid choices: md, html"), std::string::npos) << bad.err;

  Result results = cube("results --store store.db --format html");
  ASSERT_EQ(results.exit_code, 0) << results.err;
  EXPECT_EQ(results.out.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(results.out.find("<td>val_loss</td>"), std::string::npos) << results.out;
}

TEST_F(CliTest, DiffWithAnEmptySideSaysHowToProduceIt) {
  write("cell.yaml", "problem: sparse_parity\nsolver: gf2\nmetrics: [accuracy]\n");
  commit("second");
  Result run = cube("run cell.yaml --store store.db -q");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  Result diff = cube("diff HEAD~1 HEAD --store store.db");
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_NE(diff.out.find("no rows for HEAD~1: cube diff HEAD~1 HEAD SWEEP.yaml builds it"),
            std::string::npos)
      << diff.out;
}

TEST_F(CliTest, DiffWithASweepWhoseRowsAreStoredBuildsNothing) {
  write("cell.yaml", "problem: sparse_parity\nsolver: gf2\nmetrics: [accuracy, wall_time]\n");
  commit("second");
  ASSERT_EQ(cube("run cell.yaml --store store.db -q --repeat 5").exit_code, 0);
  Result diff = cube("diff HEAD HEAD cell.yaml --store store.db --format csv");
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_EQ(diff.err.find("building"), std::string::npos) << diff.err;
  EXPECT_EQ(diff.err.find("running"), std::string::npos) << diff.err;
  EXPECT_FALSE(fs::exists(dir_ / ".cube" / "builds"));
  EXPECT_NE(diff.out.find(",accuracy,1,1,0,,,same"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("(n=5)"), std::string::npos) << diff.out;
}

TEST_F(CliTest, DiffRejectsBadSweepOptions) {
  commit("second");
  Result missing = cube("diff HEAD HEAD no_such.yaml --store store.db");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no_such.yaml: cannot read: no such sweep file"), std::string::npos)
      << missing.err;
  Result at = cube("diff HEAD HEAD --sweep-at HEAD --store store.db");
  EXPECT_EQ(at.exit_code, 2);
  EXPECT_NE(at.err.find("--sweep-at"), std::string::npos) << at.err;
  Result repeat = cube("diff HEAD HEAD cell.yaml --repeat 0 --store store.db");
  EXPECT_EQ(repeat.exit_code, 2);
  EXPECT_NE(repeat.err.find("--repeat: must be >= 1"), std::string::npos) << repeat.err;
  Result absent = cube("diff HEAD HEAD no_such.yaml --sweep-at HEAD --store store.db");
  EXPECT_EQ(absent.exit_code, 2);
  EXPECT_NE(absent.err.find("has no file no_such.yaml"), std::string::npos) << absent.err;
}

// A GPT whose heads do not divide its width is refused when the plan loads, pointing at n_head,
// not minutes later when the job starts.
TEST_F(CliTest, GptHeadsThatDoNotDivideTheWidthAreRefusedWhenPlanning) {
  write("gpt.yaml",
        "problem: {name: char_lm, dataset: names}\n"
        "solver: {name: adamw, n_embd: 130, n_head: 4}\n"
        "metrics: [loss]\n");
  for (const char* command : {"run gpt.yaml --store store.db", "plan gpt.yaml"}) {
    Result r = cube(command);
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_NE(r.err.find("gpt.yaml:2:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("solver.n_head: 4 does not divide n_embd = 130"), std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "store.db"));
}

TEST_F(CliTest, BadInputExitsTwoAndStoresNothing) {
  write("bad.yaml", "problem: sparse_parity\nsolver: {name: sgd, lr: -1}\nmetrics: [accuracy]\n");
  Result r = cube("run bad.yaml --store store.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.yaml:2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("solver.lr"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "store.db"));

  Result unknown = cube("frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("valid commands"), std::string::npos) << unknown.err;

  Result format = cube("list --format xml");
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_NE(format.err.find("table, md, csv, json"), std::string::npos) << format.err;
}

TEST_F(CliTest, TimedOutCellIsARowAndTheExitCodeSaysSo) {
  write("slow.yaml", R"(problem: {name: sparse_parity, n: 20, k: 3}
solver: {name: sgd, max_epochs: 200}
metrics: [accuracy, epochs]
seeds: [1, 2]
)");
  Result r = cube("run slow.yaml --store store.db --cell-timeout 0.000001 -q --format csv");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ResultStore store(dir_ / "store.db");
  std::vector<StoredRow> rows = store.all_rows();
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) EXPECT_EQ(row.status, "timeout");
}

TEST_F(CliTest, RepeatRunsEachCellSeedSeveralTimes) {
  write("cell.yaml",
        "problem: sparse_parity\nsolver: gf2\nmetrics: [accuracy, wall_time]\nseeds: [1, 2]\n");
  Result r = cube("run cell.yaml --repeat 3 -j 1 --store store.db -q --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<StoredRow> rows = ResultStore(dir_ / "store.db").all_rows();
  ASSERT_EQ(rows.size(), 2u * 3u * 2u);
  std::set<std::tuple<std::uint64_t, std::int64_t, std::string>> keys;
  for (const auto& row : rows) keys.insert({row.seed, row.repeat, row.metric});
  EXPECT_EQ(keys.size(), 12u);
  nlohmann::json table = nlohmann::json::parse(r.out);
  ASSERT_EQ(table["rows"].size(), 1u);
  EXPECT_EQ(table["rows"][0]["runs"], 6);
}

TEST_F(CliTest, TraceRecordThenReplayGivesTheRunsValues) {
  write("cell.yaml",
        "problem: sparse_parity\nsolver: gf2\nmetrics: [ard, clock_dmc]\nseeds: [5]\n");
  Result run = cube("run cell.yaml --store store.db -q --format json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json summary = nlohmann::json::parse(run.out);
  for (const char* flag : {"", "--text"}) {
    SCOPED_TRACE(flag);
    Result record = cube(std::string("trace record cell.yaml -o run.trace ") + flag);
    ASSERT_EQ(record.exit_code, 0) << record.err;
    Result replay = cube("trace replay run.trace --metric ard,clock_dmc --format json");
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    nlohmann::json table = nlohmann::json::parse(replay.out);
    ASSERT_EQ(table["rows"].size(), 2u);
    EXPECT_EQ(table["rows"][0]["value"], summary["rows"][0]["ard"]);
    EXPECT_EQ(table["rows"][1]["value"], summary["rows"][0]["clock_dmc"]);
  }
  write("bad.trace", "W a 4\nR a 4\nX a 4\n");
  Result bad = cube("trace replay bad.trace --metric ard");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.trace:3:"), std::string::npos) << bad.err;
}

TEST_F(CliTest, ReplayByBufferSplitsTheEnergyEstimateOverBuffersAndTiers) {
  write("cell.yaml", "problem: sparse_parity\nsolver: gf2\nmetrics: [accuracy]\nseeds: [5]\n");
  ASSERT_EQ(cube("trace record cell.yaml -o run.trace").exit_code, 0);
  const std::string metric = "'energy_estimate(table=zen5,line_bytes=64)'";
  Result total = cube("trace replay run.trace --metric " + metric + " --format json");
  ASSERT_EQ(total.exit_code, 0) << total.err;
  Result split = cube("trace replay run.trace --by-buffer --metric " + metric + " --format json");
  ASSERT_EQ(split.exit_code, 0) << split.err;
  const nlohmann::json rows = nlohmann::json::parse(split.out)["rows"];
  ASSERT_FALSE(rows.empty());
  double pj = 0;
  std::set<std::string> tiers;
  for (const auto& row : rows) {
    pj += row["pJ"].get<double>();
    tiers.insert(row["tier"].get<std::string>());
    EXPECT_GT(row["bytes"].get<std::int64_t>(), 0);
  }
  const double expected = nlohmann::json::parse(total.out)["rows"][0]["value"].get<double>();
  EXPECT_NEAR(pj, expected, 1e-9 * expected);
  EXPECT_TRUE(tiers.count("dram"));  // first touches
  Result none = cube("trace replay run.trace --by-buffer --metric ard");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("needs an energy_estimate metric"), std::string::npos) << none.err;
}

TEST_F(CliTest, ReplayPricesAByteDmdProgramTellingFormatsApartByContent) {
  // metrics.md §6.6 B6 (matvec2), saved with the .ir extension Dally programs also use.
  write("matvec.ir",
        "# B6\npush x[0] x[1] A[0][0] A[0][1] A[1][0] A[1][1]; t7 = mul A[0][0] x[0]; "
        "t8 = mul A[0][1] x[1]; t9 = add t7 t8; t10 = mul A[1][0] x[0]; t11 = mul A[1][1] x[1]; "
        "t12 = add t10 t11; return t9 t12\n");
  Result r = cube(
      "trace replay matvec.ir --metric 'bytedmd,bytedmd(bytes_per_element=2),"
      "bytedmd(bytes_per_element=4)' --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json table = nlohmann::json::parse(r.out);
  ASSERT_EQ(table["rows"].size(), 6u);
  EXPECT_EQ(table["rows"][0]["value"], 26);
  EXPECT_EQ(table["rows"][2]["value"], 70);
  EXPECT_EQ(table["rows"][4]["value"], 183);
  Result wrong = cube("trace replay matvec.ir --metric ard");
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("valid: bytedmd"), std::string::npos) << wrong.err;
}

TEST_F(CliTest, IrScorePrintsCorrectnessAndCostOrALocatedError) {
  write("m1.ir", "1,2;mul 3,1,2;3\n");  // metrics.md §7.3 D2: the n=1 naive matmul, cost 5
  Result r = cube("ir score m1.ir --problem dally_matmul --set problem.n=1 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json table = nlohmann::json::parse(r.out);
  ASSERT_EQ(table["rows"].size(), 1u);
  EXPECT_EQ(table["rows"][0]["correctness"], 1);
  EXPECT_EQ(table["rows"][0]["cost"], 5);
  write("bad.ir", "1,2;mul 3,1,5;3\n");
  Result bad = cube("ir score bad.ir --problem dally_matmul --set problem.n=1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.ir:1:5"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("uninitialized"), std::string::npos) << bad.err;
}

TEST_F(CliTest, PlotDrawsTracesAndCellsAsPng) {
  write("cell.yaml", "problem: sparse_parity\nsolver: gf2\nmetrics: [dally]\nseeds: [1, 2]\n");
  Result record = cube("trace record cell.yaml -o run.trace");
  ASSERT_EQ(record.exit_code, 0) << record.err;
  Result plot = cube("plot run.trace cell.yaml -o plot.png --log-y");
  ASSERT_EQ(plot.exit_code, 0) << plot.err;
  EXPECT_NE(plot.out.find("gf2 seed 2"), std::string::npos) << plot.out;
  std::string png = slurp(dir_ / "plot.png");
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // The plot's cost is the `dally` metric of the same trace.
  Result run = cube("run cell.yaml --store store.db -q --format csv");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  Result bad = cube("plot run.trace -o plot.jpg");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(".png, .svg"), std::string::npos) << bad.err;
}

// A tiny GPT trained one step on names.txt, float32 and bf16: a sweep whose traces hold 4-byte
// and 2-byte buffers.
std::string one_step_precision_sweep(const std::string& metrics, const std::string& seeds) {
  return "problem: char_lm(dataset=names,block_size=8,batch_size=2,eval_interval=1,eval_iters=1)\n"
         "solver: adamw(n_layer=1,n_head=2,n_embd=16,max_iters=1,threads=1,progress=false)\n"
         "metrics: " +
         metrics + "\nseeds: " + seeds + "\nsweep:\n  solver.precision: [fp32, bf16]\n";
}

// --distance reuse: the LRU reuse distances of bytedmd's stack at the buffers' declared sizes. A
// series' cost is the cell's bytedmd(bytes_per_element=0), in float32 and in bf16 (2-byte
// buffers); labels name the swept parameter.
TEST_F(CliTest, PlotDrawsReuseDistancesPricedAsBytedmd) {
  write("lm.yaml", one_step_precision_sweep("[\"bytedmd(bytes_per_element=0)\"]", "[3]"));
  Result plot = cube("plot lm.yaml --distance reuse -o reuse.svg");
  ASSERT_EQ(plot.exit_code, 0) << plot.err;
  Result run = cube("run lm.yaml --store store.db -q --format json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> costs;
  const nlohmann::json table = nlohmann::json::parse(run.out);
  for (const auto& row : table["rows"])
    costs.push_back(std::to_string(row["bytedmd"].get<std::int64_t>()));
  ASSERT_EQ(costs.size(), 2u) << run.out;
  EXPECT_NE(costs[0], costs[1]);
  for (const char* precision : {"fp32", "bf16"}) {
    const std::string label = std::string("adamw precision=") + precision + " seed 3";
    const std::size_t at = plot.out.find(label);
    ASSERT_NE(at, std::string::npos) << plot.out;
    const std::string line = plot.out.substr(at, plot.out.find('\n', at) - at);
    EXPECT_NE(line.find(costs[precision == std::string("fp32") ? 0 : 1]), std::string::npos)
        << line << " vs " << costs[0] << ", " << costs[1];
  }
  const std::string svg = slurp(dir_ / "reuse.svg");
  EXPECT_NE(svg.find("reuse distance (bytes)"), std::string::npos);
  Result bad = cube("plot lm.yaml --distance lru -o x.png");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("valid choices: dally, reuse"), std::string::npos) << bad.err;
}

// A report section's reuse_distances: the image is drawn from each cell's first job and linked
// under the table with its caption (markdown), or inlined (html).
TEST_F(CliTest, ReportSectionsDrawReuseDistances) {
  write("lm.yaml", one_step_precision_sweep("[loss]", "[3, 4]"));
  write("r.yaml", R"(title: "Reuse"
sections:
  - title: "Precision"
    sweep: lm.yaml
    columns: [val_loss]
    reuse_distances: figures/reuse.png
)");
  fs::create_directories(dir_ / "figures");
  Result md = cube("report r.yaml -o r.md -q --store store.db");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  const std::string doc = slurp(dir_ / "r.md");
  EXPECT_NE(doc.find("![reuse distances of Precision](figures/reuse.png)"), std::string::npos)
      << doc;
  EXPECT_NE(doc.find("`cube plot lm.yaml --distance reuse`"), std::string::npos) << doc;
  EXPECT_EQ(slurp(dir_ / "figures" / "reuse.png").substr(0, 8),
            std::string("\x89PNG\r\n\x1a\n", 8));
  Result html = cube("report r.yaml -o r.html -q --store store.db");
  ASSERT_EQ(html.exit_code, 0) << html.err;
  const std::string page = slurp(dir_ / "r.html");
  EXPECT_NE(page.find("<figure>"), std::string::npos);
  EXPECT_NE(page.find("precision=bf16 seed 3"), std::string::npos);
  EXPECT_EQ(page.find("seed 4"), std::string::npos) << "only each cell's first job is drawn";
}

TEST_F(CliTest, ListShowsEveryAxisWithParameters) {
  Result r = cube("list --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json table = nlohmann::json::parse(r.out);
  std::set<std::string> names;
  for (const auto& row : table["rows"]) names.insert(row["name"].get<std::string>());
  for (const char* name :
       {"sparse_parity", "gf2", "sgd", "accuracy", "wall_time", "epochs", "ard", "clock_dmc"})
    EXPECT_TRUE(names.count(name)) << name;
}

TEST_F(CliTest, PlanAndRunCellRunOneJobAlone) {
  write("cell.yaml",
        "problem: sparse_parity\nsolver: gf2\nmetrics: [accuracy]\nseeds: [1, 2, 3]\n");
  Result plan = cube("plan cell.yaml -o plan.json");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  Result one = cube("run-cell plan.json 2 --store store.db --format json");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  std::vector<StoredRow> rows = ResultStore(dir_ / "store.db").all_rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].seed, 3u);
  EXPECT_EQ(rows[0].metric, "accuracy");
  ASSERT_TRUE(rows[0].value.has_value());
  EXPECT_EQ(*rows[0].value, 1.0);

  Result out_of_range = cube("run-cell plan.json 3 --store store.db");
  EXPECT_EQ(out_of_range.exit_code, 2);
  EXPECT_NE(out_of_range.err.find("out of range"), std::string::npos) << out_of_range.err;
}

TEST_F(CliTest, ResultsAreIdenticalWhateverTheNumberOfThreads) {
  write("cell.yaml", R"(problem: {name: sparse_parity, n: 20, k: 3, n_train: 500}
solver: {name: sgd, hidden: 50}
metrics: [accuracy, epochs, ard, clock_dmc]
seeds: [1, 2, 3, 4]
sweep:
  solver.name: [gf2, sgd]
)");
  Result one = cube("run cell.yaml -j 1 --store one.db -q --format csv");
  Result two = cube("run cell.yaml -j 2 --store two.db -q --format csv");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(one.out, two.out);
}

}  // namespace
}  // namespace cube
