// The bad-input catalogue: every entry is one way to hand cube something wrong, run through the
// real `cube` binary in a scratch folder. Each must exit with the stated code (2: bad input),
// say where (file:line:column, or the option or key) and what is valid, and add no rows to any
// results store there.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "experiments/store.h"

namespace fs = std::filesystem;
using namespace std::string_literals;

namespace cube {
namespace {

struct BadInput {
  std::string name;
  std::vector<std::pair<std::string, std::string>> files;  // written into the folder first
  std::string args;                                        // the cube command line after `cube`
  std::vector<std::string> says;                           // stderr must contain each
  int exit_code = 2;
  std::string setup = "";     // shell run in the folder before cube (mkdir, chmod, ...)
  bool unprivileged = false;  // run as nobody when root (permissions do not bind root)
};

std::ostream& operator<<(std::ostream& out, const BadInput& input) { return out << input.name; }

const char* kCell =
    "problem: {name: sparse_parity, n: 12, k: 2, n_train: 200, n_test: 50}\n"
    "solver: gf2\nmetrics: [accuracy]\nseeds: [1]\n";

std::string cell_with(const std::string& problem, const std::string& solver,
                      const std::string& rest = "metrics: [accuracy]\n") {
  return "problem: " + problem + "\nsolver: " + solver + "\n" + rest;
}

// "billion laughs": nine levels of nine aliases, 9^9 strings if anything expanded them.
std::string alias_bomb() {
  std::string text =
      "problem: sparse_parity\nsolver: gf2\nmetrics:\n  - &a [x, x, x, x, x, x, x, x, x]\n";
  char previous = 'a';
  for (char level = 'b'; level <= 'i'; ++level, ++previous) {
    text += "  - &" + std::string(1, level) + " [";
    for (int i = 0; i < 9; ++i) text += std::string(i ? ", *" : "*") + previous;
    text += "]\n";
  }
  return text;
}

std::string sweep_of(int axes, int values) {
  std::string text = kCell;
  text += "sweep:\n";
  const char* keys[] = {"problem.n", "problem.n_train", "problem.n_test"};
  for (int a = 0; a < axes; ++a) {
    text += "  "s + keys[a] + ": [";
    for (int v = 0; v < values; ++v) text += (v ? ", " : "") + std::to_string(20 + v);
    text += "]\n";
  }
  return text;
}

const char* kPlanJson =
    R"({"format": "cube-plan", "version": 1, "jobs": [{"problem": "sparse_parity", "solver": "gf2", "metrics": ["accuracy"], "seed": 1}]})";

std::string plan_json_with(const std::string& from, const std::string& to) {
  std::string text = kPlanJson;
  text.replace(text.find(from), from.size(), to);
  return text;
}

const std::vector<BadInput>& catalogue() {
  static const std::vector<BadInput> all = {
      // Files that are not cell files.
      {"EmptyFile",
       {{"c.yaml", ""}},
       "run c.yaml",
       {"c.yaml: the file is empty", "problem, solver and metrics"}},
      {"OnlyComments", {{"c.yaml", "# nothing\n\n"}}, "run c.yaml", {"c.yaml: the file is empty"}},
      {"DirectoryAsFile",
       {},
       "run c.yaml",
       {"c.yaml: cannot read: is a directory"},
       2,
       "mkdir c.yaml"},
      {"MissingFile", {}, "run c.yaml", {"c.yaml: cannot read: No such file or directory"}},
      {"YamlSyntaxError",
       {{"c.yaml", "problem: {name: sparse_parity\nsolver: gf2\n"}},
       "run c.yaml",
       {"c.yaml:2:7: YAML syntax error"}},
      {"TopLevelList",
       {{"c.yaml", "- problem\n- solver\n"}},
       "run c.yaml",
       {"c.yaml:1:1:", "got a list"}},
      {"NulByte",
       {{"c.yaml", "problem: sparse_parity\nsolver: gf2\x00\nmetrics: [accuracy]\n"s}},
       "run c.yaml",
       {"c.yaml:2: contains a NUL byte"}},
      {"Utf16File",
       {{"c.yaml", "\xff\xfep\x00r\x00o\x00"s}},
       "run c.yaml",
       {"c.yaml:1: contains a NUL byte"}},
      {"AliasBomb",
       {{"c.yaml", alias_bomb()}},
       "run c.yaml",
       {"c.yaml:4:5: metrics[0]", "expected"}},
      {"DeepNesting",
       {{"c.yaml", "problem: " + std::string(5000, '[') + std::string(5000, ']') + "\n"}},
       "run c.yaml",
       {"c.yaml:1:", "YAML nesting deeper than"}},
      {"CrlfAndBomKeepLineNumbers",
       {{"c.yaml",
         "\xef\xbb\xbfproblem: sparse_parity\r\nsolver: {name: sgd, lr: -1}\r\nmetrics: "
         "[accuracy]\r\n"}},
       "run c.yaml",
       {"c.yaml:2:25: solver.lr: -1 is out of range (0, inf)"}},
      // Keys and names.
      {"UnknownTopLevelKey",
       {{"c.yaml", "problem: sparse_parity\nsolvr: gf2\nmetrics: [accuracy]\n"}},
       "run c.yaml",
       {"c.yaml:2:1: unknown key 'solvr'",
        "valid keys: description, metrics, name, problem, seeds, solver, sweep"}},
      {"DuplicatedTopLevelKey",
       {{"c.yaml", cell_with("sparse_parity", "gf2") + "solver: sgd\n"}},
       "run c.yaml",
       {"c.yaml:4:1: solver: duplicated key (first at line 2)"}},
      {"DuplicatedParameter",
       {{"c.yaml", cell_with("sparse_parity", "{name: sgd, lr: 0.1, lr: 0.2}")}},
       "run c.yaml",
       {"c.yaml:2:", "solver.lr: duplicated key"}},
      {"MissingSolver",
       {{"c.yaml", "problem: sparse_parity\nmetrics: [accuracy]\n"}},
       "run c.yaml",
       {"c.yaml: solver: missing; valid solvers:", "gf2"}},
      {"MissingMetrics",
       {{"c.yaml", "problem: sparse_parity\nsolver: gf2\n"}},
       "run c.yaml",
       {"c.yaml: metrics: missing; valid metrics:", "accuracy"}},
      {"UnknownProblem",
       {{"c.yaml", cell_with("sparse_parit", "gf2")}},
       "run c.yaml",
       {"c.yaml:1:10: problem.name: unknown problem 'sparse_parit'; valid choices:",
        "sparse_parity"}},
      {"UnknownSolver",
       {{"c.yaml", cell_with("sparse_parity", "gf3")}},
       "run c.yaml",
       {"c.yaml:2:9: solver.name: unknown solver 'gf3'; valid choices:", "gf2"}},
      {"UnknownMetric",
       {{"c.yaml", cell_with("sparse_parity", "gf2", "metrics: [acuracy]\n")}},
       "run c.yaml",
       {"c.yaml:3:11: metrics[0].name: unknown metric 'acuracy'; valid choices:", "accuracy"}},
      {"UnknownParameter",
       {{"c.yaml", cell_with("sparse_parity", "{name: sgd, lrr: 0.1}")}},
       "run c.yaml",
       {"c.yaml:2:",
        "solver.lrr: unknown parameter of solver 'sgd'; valid parameters: batch, hidden"}},
      {"UnknownDataset",
       {{"c.yaml", cell_with("{name: char_lm, dataset: nope}", "adamw", "metrics: [loss]\n")}},
       "run c.yaml",
       {"c.yaml:1:35: problem.dataset: 'nope' is not one of the valid choices {shakespeare, "
        "names}"}},
      // Values.
      {"NotANumber",
       {{"c.yaml", cell_with("sparse_parity", "{name: sgd, lr: abc}")}},
       "run c.yaml",
       {"c.yaml:2:25: solver.lr: expected a finite number, got 'abc'"}},
      {"NanParameter",
       {{"c.yaml", cell_with("sparse_parity", "{name: sgd, lr: .nan}")}},
       "run c.yaml",
       {"c.yaml:2:25: solver.lr: expected a finite number, got '.nan'"}},
      {"InfParameter",
       {{"c.yaml", cell_with("sparse_parity", "{name: sgd, lr: .inf}")}},
       "run c.yaml",
       {"c.yaml:2:25: solver.lr: expected a finite number, got '.inf'"}},
      {"OutOfRange",
       {{"c.yaml", cell_with("sparse_parity", "{name: sgd, lr: -1}")}},
       "run c.yaml",
       {"c.yaml:2:25: solver.lr: -1 is out of range (0, inf)"}},
      {"FractionForInteger",
       {{"c.yaml", cell_with("{name: sparse_parity, n: 20.5}", "gf2")}},
       "run c.yaml",
       {"c.yaml:1:35: problem.n: expected an integer, got '20.5'"}},
      {"KLargerThanN",
       {{"c.yaml", cell_with("{name: sparse_parity, n: 3, k: 4}", "gf2")}},
       "run c.yaml",
       {"c.yaml:1:", "problem.k: 4 secret bits cannot be drawn from n = 3", "k must be at most n"}},
      {"HugeN",
       {{"c.yaml", cell_with("{name: sparse_parity, n: 1000000000}", "gf2")}},
       "run c.yaml",
       {"c.yaml:1:35: problem.n: the data set needs", "more than this machine's"}},
      {"HugeTrainingSet",
       {{"c.yaml", cell_with("{name: sparse_parity, n_train: 100000000000}", "gf2")}},
       "run c.yaml",
       {"c.yaml:1:", "problem.n: the data set needs", "(n_train + n_test) x (n + 1) bytes"}},
      {"RowCountsAtTheInt64Limit",
       {{"c.yaml", cell_with("{name: sparse_parity, n_train: 9223372036854775807, n_test: "
                             "9223372036854775807}",
                             "gf2")}},
       "run c.yaml",
       {"c.yaml:1:", "problem.n: the data set needs", "18446744073709551614 x 21"}},
      {"HugeModel",
       {{"c.yaml",
         cell_with("{name: char_lm, dataset: names}",
                   "{name: adamw, n_embd: 8192, n_layer: 64, n_head: 1}", "metrics: [loss]\n")}},
       "run c.yaml",
       {"c.yaml:2:31: solver.n_embd: training the model needs"}},
      {"GptHeadsDoNotDivideWidth",
       {{"c.yaml", cell_with("{name: char_lm, dataset: names}",
                             "{name: adamw, n_embd: 130, n_head: 4}", "metrics: [loss]\n")}},
       "run c.yaml",
       {"c.yaml:2:", "solver.n_head: 4 does not divide n_embd = 130"}},
      // Seeds and sweeps.
      {"NegativeSeed",
       {{"c.yaml", cell_with("sparse_parity", "gf2") + "seeds: [-1]\n"}},
       "run c.yaml",
       {"c.yaml:4:9: seeds[0]: expected a non-negative integer seed, got '-1'"}},
      {"SeedTooLarge",
       {{"c.yaml", cell_with("sparse_parity", "gf2") + "seeds: [99999999999999999999999]\n"}},
       "run c.yaml",
       {"c.yaml:4:9: seeds[0]: expected a non-negative integer seed"}},
      {"SeedsAsMap",
       {{"c.yaml", cell_with("sparse_parity", "gf2") + "seeds: {a: 1}\n"}},
       "run c.yaml",
       {"c.yaml:4:8: seeds: expected a list of integers, got a map"}},
      {"EmptySeedList",
       {{"c.yaml", cell_with("sparse_parity", "gf2") + "seeds: []\n"}},
       "run c.yaml",
       {"c.yaml:4:8: seeds: the list is empty"}},
      {"EmptyMetricList",
       {{"c.yaml", cell_with("sparse_parity", "gf2", "metrics: []\n")}},
       "run c.yaml",
       {"c.yaml:3:10: metrics: the list is empty; valid metrics:"}},
      {"EmptySweepAxis",
       {{"c.yaml", std::string(kCell) + "sweep:\n  problem.n: []\n"}},
       "run c.yaml",
       {"c.yaml:6:14: sweep.problem.n: empty list of values"}},
      {"UnknownSweepKey",
       {{"c.yaml", std::string(kCell) + "sweep:\n  problem.q: [1, 2]\n"}},
       "run c.yaml",
       {"c.yaml:6:",
        "problem.q: unknown parameter of problem 'sparse_parity'; valid parameters: k, n, n_test, "
        "n_train"}},
      {"SweepOfBillions",
       {{"c.yaml", sweep_of(3, 2000)}},
       "run c.yaml",
       {"c.yaml:6:15: the plan expands to 8e+09 jobs", "at most 1000000"}},
      // Command-line options.
      {"JobsNegative",
       {{"c.yaml", kCell}},
       "run c.yaml -j -1",
       {"--jobs: -1 is out of range: give N >= 1, or 0 for all cores"}},
      {"RepeatZero", {{"c.yaml", kCell}}, "run c.yaml --repeat 0", {"--repeat: must be >= 1"}},
      {"CellTimeoutNegative",
       {{"c.yaml", kCell}},
       "run c.yaml --cell-timeout -1",
       {"--cell-timeout: must be >= 0"}},
      {"UnknownFormat",
       {{"c.yaml", kCell}},
       "run c.yaml --format xml",
       {"--format: unknown format 'xml'; valid choices: table, md, csv, json, html"}},
      {"UnknownLauncher",
       {{"c.yaml", kCell}},
       "run c.yaml --launcher pbs",
       {"--launcher: unknown launcher 'pbs'; valid choices: local, slurm"}},
      {"UnknownOption",
       {{"c.yaml", kCell}},
       "run c.yaml --frobnicate",
       {"unrecognised option '--frobnicate'", "cube run --help"}},
      {"UnknownCommand",
       {},
       "frobnicate",
       {"unknown command 'frobnicate'; valid commands: list, run"}},
      {"OverrideWithoutValue",
       {{"c.yaml", kCell}},
       "run c.yaml --set solver.lr",
       {"--set solver.lr: expected key=value"}},
      {"OverrideUnknownParameter",
       {{"c.yaml", kCell}},
       "run c.yaml --set problem.q=1",
       {"--set problem.q=1: problem.q: unknown parameter",
        "valid parameters: k, n, n_test, n_train"}},
      {"OverrideBadValue",
       {{"c.yaml", kCell}},
       "run c.yaml --set problem.n=abc",
       {"--set problem.n=abc: problem.n: expected an integer, got 'abc'"}},
      {"OverrideUnknownSection",
       {{"c.yaml", kCell}},
       "run c.yaml --set foo.n=1",
       {"--set foo.n=1: foo.n: cannot sweep 'foo.n'; sweep keys are problem.<param>"}},
      // The results store.
      {"StoreIsADirectory",
       {{"c.yaml", kCell}},
       "run c.yaml --store sdir",
       {"sdir: cannot open the results store", "Is a directory"},
       2,
       "mkdir sdir"},
      {"StoreIsNotSqlite",
       {{"c.yaml", kCell}, {"text.db", "hello\n"}},
       "run c.yaml --store text.db",
       {"text.db: cannot use the results store", "file is not a database"}},
      {"StoreInMissingFolder",
       {{"c.yaml", kCell}},
       "run c.yaml --store nodir/x/store.db",
       {"nodir/x/store.db: cannot create the results store: the folder nodir/x does not exist"}},
      {"StoreReadOnly",
       {{"c.yaml", kCell}},
       "run c.yaml --store ro.db --force",
       {"ro.db: cannot write the results store: the file is read-only"},
       2,
       "CUBE run c.yaml --store ro.db -q > /dev/null 2>&1 && chmod 444 ro.db",
       true},
      {"StoreFolderNotWritable",
       {{"c.yaml", kCell}},
       "run c.yaml --store rodir/store.db",
       {"rodir/store.db: cannot create the results store: the folder rodir is not writable"},
       2,
       "mkdir -m 555 rodir",
       true},
      // Expanded JSON plans (cube run-cell, Slurm array tasks).
      {"JsonPlanTruncated",
       {{"p.json", std::string(kPlanJson).substr(0, 40)}},
       "run-cell p.json 0",
       {"p.json: not a valid JSON plan", "parse error at line 1"}},
      {"JsonPlanNotAPlan",
       {{"p.json", "{\"jobs\": 3}"}},
       "run-cell p.json 0",
       {"p.json: not a cube plan", "cube plan -o"}},
      {"JsonPlanSourceNotText",
       {{"p.json", plan_json_with("\"version\": 1", "\"version\": 1, \"source\": 5")}},
       "run-cell p.json 0",
       {"p.json: source: expected a string, got number"}},
      {"JsonPlanNegativeSeed",
       {{"p.json", plan_json_with("\"seed\": 1", "\"seed\": -1")}},
       "run-cell p.json 0",
       {"p.json: jobs[0].seed: expected a non-negative integer seed, got -1"}},
      {"JsonPlanMetricsNotAList",
       {{"p.json", plan_json_with("[\"accuracy\"]", "\"accuracy\"")}},
       "run-cell p.json 0",
       {"p.json: jobs[0].metrics: expected a non-empty list"}},
      {"JsonPlanUnknownSolver",
       {{"p.json", plan_json_with("\"gf2\"", "\"gf3\"")}},
       "run-cell p.json 0",
       {"p.json: jobs[0].solver.name: unknown solver 'gf3'; valid choices:"}},
      {"JsonPlanWrongVersion",
       {{"p.json", plan_json_with("\"version\": 1", "\"version\": 7")}},
       "run-cell p.json 0",
       {"p.json: version: 7 is not supported; valid versions: 1"}},
      {"RunCellIndexOutOfRange",
       {{"p.json", kPlanJson}},
       "run-cell p.json 5",
       {"p.json: INDEX 5 is out of range: the plan has 1 jobs (0..0)"}},
      // Dally IR programs.
      {"IrUnknownOp",
       {{"p.ir", "1,2\nmul 3,1,2\nfoo 4,3\n4\n"}},
       "ir score p.ir --problem dally_matmul --set problem.n=1",
       {"p.ir:3:1: unknown op: 'foo'", "v0 supports add/sub/mul/copy"}},
      {"IrAddressTooLarge",
       {{"p.ir", "1,2\nmul 3,1,99999999999999999999999\n3\n"}},
       "ir score p.ir --problem dally_matmul --set problem.n=1",
       {"p.ir:2:1: address 99999999999999999999999 >= 2^64"}},
      {"IrUnscoredSize",
       {{"p.ir", "1,2\nmul 3,1,2\n3\n"}},
       "ir score p.ir --problem dally_matmul --set problem.n=2",
       {"problem.n: 2 is not a scored size; valid choices: 1, 4, 16"}},
      // Traces.
      {"TextTraceBadLine",
       {{"t.txt", "W a 100\nQ a 0 10\n"}},
       "trace replay t.txt --metric ard",
       {"t.txt:2: expected 'W name size', 'R name size|-', 'F name' or 'OP', got 'Q a 0 10'"}},
      {"TextTraceNegativeSize",
       {{"t.txt", "W a 100\nW b -5\n"}},
       "trace replay t.txt --metric ard",
       {"t.txt:2: expected 'W name size' with size an integer in [0, 2^32), got 'W b -5'"}},
      {"BinaryTraceTruncated",
       {{"t.ctrace", "CUBETRC1\x05"s}},
       "trace replay t.ctrace --metric ard",
       {"t.ctrace: byte", "truncated file"}},
      {"ReplayUnknownMetric",
       {{"t.txt", "W a 100\nR a 10\nOP\n"}},
       "trace replay t.txt --metric ardd",
       {"--metric ardd: metric.name: unknown metric 'ardd'; valid choices:"}},
      {"TraceMissing",
       {},
       "trace replay none.trace --metric ard",
       {"none.trace: cannot read: no such trace file"}},
  };
  return all;
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_sqlite(const fs::path& file) { return slurp(file).starts_with("SQLite format 3"s); }

// Rows of every results store under `dir`, by path.
std::map<fs::path, std::int64_t> stored_rows(const fs::path& dir) {
  std::map<fs::path, std::int64_t> rows;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".db" && is_sqlite(entry.path()))
      rows[entry.path()] = ResultStore(entry.path()).count_rows();
  return rows;
}

class BadInputs : public ::testing::TestWithParam<BadInput> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cube_bad_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    fs::permissions(dir_, fs::perms::all);  // nobody may work in it (unprivileged cases)
  }
  void TearDown() override {
    std::system(("chmod -R u+rwx '" + dir_.string() + "'").c_str());
    fs::remove_all(dir_);
  }
  int sh(const std::string& command) {
    const int status = std::system(("cd '" + dir_.string() + "' && " + command).c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  fs::path dir_;
};

TEST_P(BadInputs, ExitsWithTheCodeSaysWhereAndWhatIsValidAndStoresNothing) {
  const BadInput& input = GetParam();
  for (const auto& [name, bytes] : input.files)
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
  const std::string cube = CUBE_BINARY;
  if (!input.setup.empty()) {
    std::string setup = input.setup;
    for (std::size_t at = setup.find("CUBE"); at != std::string::npos; at = setup.find("CUBE"))
      setup.replace(at, 4, cube);
    ASSERT_EQ(sh(setup), 0) << setup;
  }
  const std::map<fs::path, std::int64_t> rows_before = stored_rows(dir_);
  std::string prefix;
  if (input.unprivileged && geteuid() == 0) {
    if (sh("command -v setpriv > /dev/null") != 0) GTEST_SKIP() << "needs setpriv as root";
    prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  }
  // Every command runs against a store here unless it names its own.
  std::string args = input.args;
  if (args.starts_with("run") && args.find("--store") == std::string::npos)
    args += " --store store.db";
  const int code = sh(prefix + cube + " " + args + " > out.txt 2> err.txt");
  const std::string err = slurp(dir_ / "err.txt");
  EXPECT_EQ(code, input.exit_code) << "cube " << args << "\n" << err;
  for (const std::string& says : input.says)
    EXPECT_NE(err.find(says), std::string::npos) << says << "\nnot in:\n" << err;
  EXPECT_EQ(err.find("internal error"), std::string::npos) << err;
  for (const auto& [store, rows] : stored_rows(dir_)) {
    const auto before = rows_before.find(store);
    EXPECT_EQ(rows, before == rows_before.end() ? 0 : before->second) << store;
  }
}

INSTANTIATE_TEST_SUITE_P(Catalogue, BadInputs, ::testing::ValuesIn(catalogue()),
                         [](const auto& info) { return info.param.name; });

TEST(BadInputCatalogue, HasAtLeastFortyEntries) { EXPECT_GE(catalogue().size(), 40u); }

}  // namespace
}  // namespace cube
