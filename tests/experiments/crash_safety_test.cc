// Results are never lost: sweeps killed with SIGKILL at random moments resume to exactly the
// rows of an uninterrupted run; four processes writing one store at once lose nothing; a store
// that runs out of space stops the sweep with a clear error and keeps what was committed.
// All through the real `cube` binary.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "experiments/store.h"

namespace fs = std::filesystem;

namespace cube {
namespace {

using Clock = std::chrono::steady_clock;
using RowKey = std::tuple<std::string, std::uint64_t, std::int64_t, std::string>;

// Starts `cube ARGS...` in `dir` with stdout and stderr to files there; `file_size_limit` > 0
// caps the bytes any file may grow to (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG),
// which is how a full disk looks to SQLite.
pid_t spawn_cube(const fs::path& dir, const std::vector<std::string>& args, const std::string& log,
                 rlim_t file_size_limit = 0) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  if (chdir(dir.c_str()) != 0) _exit(99);
  const int out = open((log + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = open((log + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(out, 1);
  dup2(err, 2);
  if (file_size_limit > 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{file_size_limit, file_size_limit};
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  std::vector<char*> argv{const_cast<char*>(CUBE_BINARY)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(CUBE_BINARY, argv.data());
  _exit(98);
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The deterministic values of a store (wall time and other measurements left out), by key.
std::map<RowKey, std::optional<double>> deterministic_values(const fs::path& store) {
  std::map<RowKey, std::optional<double>> values;
  for (const StoredRow& row : ResultStore(store).all_rows())
    if (row.deterministic) values[{row.cell, row.seed, row.repeat, row.metric}] = row.value;
  return values;
}

std::set<RowKey> keys_of(const fs::path& store) {
  std::set<RowKey> keys;
  for (const StoredRow& row : ResultStore(store).all_rows())
    keys.insert({row.cell, row.seed, row.repeat, row.metric});
  return keys;
}

std::string sweep_text(int first_seed, int last_seed) {
  std::string seeds;
  for (int s = first_seed; s <= last_seed; ++s)
    seeds += (s > first_seed ? ", " : "") + std::to_string(s);
  // n = 40, k = 5 is not learned in 100 epochs: every job runs them all (about 0.2 s).
  return "problem: {name: sparse_parity, n: 40, k: 5, n_train: 2000, n_test: 100}\n"
         "solver: {name: sgd, hidden: 200, max_epochs: 100}\n"
         "metrics: [accuracy, epochs, wall_time]\n"
         "seeds: [" +
         seeds + "]\n";
}

class CrashSafety : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cube_crash_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
};

TEST_F(CrashSafety, SweepKilledAtRandomMomentsResumesToExactlyTheUninterruptedRows) {
  constexpr int kSeeds = 32, kMetrics = 3, kKills = 10;
  write("sweep.yaml", sweep_text(1, kSeeds));
  const auto clean_start = Clock::now();
  ASSERT_EQ(wait_exit_code(spawn_cube(
                dir_, {"run", "sweep.yaml", "-j", "2", "-q", "--store", "clean.db"}, "clean")),
            0)
      << slurp(dir_ / "clean.err");
  const double clean_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - clean_start).count();
  const auto expected = deterministic_values(dir_ / "clean.db");
  ASSERT_EQ(keys_of(dir_ / "clean.db").size(), std::size_t{kSeeds * kMetrics});

  // Kill moments drawn over the first eighth of a clean run's length (seeded: the same moments
  // every run of the test). Each restart resumes, so the kills land all along the sweep, from
  // before the store exists to its last jobs.
  std::mt19937 rng(20261206);
  std::uniform_real_distribution<double> moment(0.0, clean_ms / 8);
  int kills = 0, attempts = 0;
  std::int64_t rows = 0;
  std::set<std::int64_t> row_counts_at_kill;
  while (kills < kKills && attempts < 4 * kKills) {
    ++attempts;
    const pid_t pid =
        spawn_cube(dir_, {"run", "sweep.yaml", "-j", "2", "-q", "--store", "killed.db"}, "killed");
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(moment(rng)));
    kill(pid, SIGKILL);
    const int code = wait_exit_code(pid);
    if (code == -SIGKILL) ++kills;
    if (!fs::exists(dir_ / "killed.db")) continue;
    const std::int64_t now = ResultStore(dir_ / "killed.db").count_rows();
    EXPECT_EQ(now % kMetrics, 0) << "a job's rows are committed in one transaction";
    EXPECT_GE(now, rows) << "a kill lost committed rows";
    rows = now;
    if (code == -SIGKILL) row_counts_at_kill.insert(now);
  }
  ASSERT_EQ(kills, kKills) << "the sweep kept finishing before it could be killed";
  EXPECT_GE(row_counts_at_kill.size(), 3u) << "the kills did not land along the sweep";
  RecordProperty("distinct_row_counts_at_kills", static_cast<int>(row_counts_at_kill.size()));

  ASSERT_EQ(wait_exit_code(spawn_cube(
                dir_, {"run", "sweep.yaml", "-j", "2", "-q", "--store", "killed.db"}, "resumed")),
            0)
      << slurp(dir_ / "resumed.err");
  EXPECT_EQ(ResultStore(dir_ / "killed.db").count_rows(), kSeeds * kMetrics);
  EXPECT_EQ(keys_of(dir_ / "killed.db"), keys_of(dir_ / "clean.db"));
  EXPECT_EQ(deterministic_values(dir_ / "killed.db"), expected);
}

TEST_F(CrashSafety, FourConcurrentWritersOnOneStoreLoseNothing) {
  // Four sweeps with their own seeds and one shared seed (the same job run by all four: its
  // rows must end up once).
  for (int w = 0; w < 4; ++w) {
    std::string text = sweep_text(100 * w + 1, 100 * w + 6);
    text.replace(text.find("seeds: ["), 8, "seeds: [7, ");
    write("sweep" + std::to_string(w) + ".yaml", text);
  }
  std::vector<pid_t> writers;
  for (int w = 0; w < 4; ++w)
    writers.push_back(spawn_cube(
        dir_,
        {"run", "sweep" + std::to_string(w) + ".yaml", "-j", "1", "-q", "--store", "shared.db"},
        "writer" + std::to_string(w)));
  for (int w = 0; w < 4; ++w)
    EXPECT_EQ(wait_exit_code(writers[static_cast<std::size_t>(w)]), 0)
        << slurp(dir_ / ("writer" + std::to_string(w) + ".err"));
  const std::set<RowKey> keys = keys_of(dir_ / "shared.db");
  EXPECT_EQ(keys.size(), std::size_t{(4 * 6 + 1) * 3});
  EXPECT_EQ(ResultStore(dir_ / "shared.db").count_rows(), (4 * 6 + 1) * 3) << "duplicated rows";
}

TEST_F(CrashSafety, FullDiskStopsTheSweepWithAClearErrorAndKeepsWhatWasStored) {
  std::string seeds;
  for (int s = 1; s <= 400; ++s) seeds += (s > 1 ? ", " : "") + std::to_string(s);
  write("sweep.yaml",
        "problem: {name: sparse_parity, n: 12, k: 2, n_train: 200, n_test: 50}\nsolver: gf2\n"
        "metrics: [accuracy, epochs, wall_time]\nseeds: [" +
            seeds + "]\n");
  // 200 KiB: the store and its write-ahead log fill up after a few dozen jobs.
  const int code = wait_exit_code(spawn_cube(
      dir_, {"run", "sweep.yaml", "-j", "2", "-q", "--store", "full.db"}, "full", 200 * 1024));
  const std::string err = slurp(dir_ / "full.err");
  EXPECT_EQ(code, 4) << err;
  EXPECT_NE(err.find("cube: error: results store full.db:"), std::string::npos) << err;
  EXPECT_NE(err.find("run the same command again to resume"), std::string::npos) << err;
  EXPECT_EQ(err.find("internal error"), std::string::npos) << err;
  const std::int64_t kept = ResultStore(dir_ / "full.db").count_rows();
  EXPECT_GT(kept, 0) << "rows committed before the disk filled were lost";
  EXPECT_LT(kept, 400 * 3);
  EXPECT_EQ(kept % 3, 0);

  // With space again, the same command resumes: every job once.
  ASSERT_EQ(wait_exit_code(spawn_cube(
                dir_, {"run", "sweep.yaml", "-j", "2", "-q", "--store", "full.db"}, "resumed")),
            0)
      << slurp(dir_ / "resumed.err");
  EXPECT_EQ(ResultStore(dir_ / "full.db").count_rows(), 400 * 3);
  EXPECT_EQ(keys_of(dir_ / "full.db").size(), std::size_t{400 * 3});
}

}  // namespace
}  // namespace cube
