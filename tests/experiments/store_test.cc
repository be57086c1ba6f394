// Tests of experiments/store: schema, atomic job replacement, resume, commit queries, concurrency.

#include "experiments/store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <tuple>

#include "core/error.h"
#include "tests/experiments/sqlite_query.h"

namespace fs = std::filesystem;

namespace cube {
namespace {

std::string slurp_text(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cube_store_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

Provenance provenance(const std::string& commit, bool dirty, const std::string& build_type) {
  Provenance p;
  p.git_commit = commit;
  p.git_dirty = dirty;
  p.diff_hash = dirty ? "0123456789abcdef" : "";
  p.diff_patch = dirty ? "--- a/x\n+++ b/x\n" : "";
  p.build_type = build_type;
  p.compiler = "gcc 12";
  p.host = "h";
  p.started_at = "2026-01-01T00:00:00Z";
  p.cube_version = "0.1.0";
  p.command = "cube run x.yaml";
  p.machine = "CPU (family 1, model 2), 2 CPUs, avx2+fma";
  return p;
}

ResultRow job_row(const std::string& cell, std::uint64_t seed, std::int64_t repeat,
                  const std::string& metric, std::optional<double> value,
                  const std::string& status = "ok") {
  ResultRow r;
  r.cell = cell;
  r.problem = cell.substr(0, cell.find('/'));
  r.solver = cell.substr(cell.find('/') + 1);
  r.seed = seed;
  r.repeat = repeat;
  r.metric = metric;
  r.value = value;
  r.status = status;
  r.message = status == "ok" ? "" : "why: " + status;
  r.deterministic = metric != "wall_time";
  return r;
}

std::vector<ResultRow> job(const std::string& cell, std::uint64_t seed, std::int64_t repeat,
                           double accuracy, const std::string& status = "ok") {
  return {job_row(cell, seed, repeat, "accuracy", accuracy, status),
          job_row(cell, seed, repeat, "wall_time", 0.5, status),
          job_row(cell, seed, repeat, "epochs", std::nullopt, status)};
}

TEST_F(StoreTest, CreatesTheDefaultFolderAndSchemaButNoOtherFolder) {
  EXPECT_THROW(ResultStore(dir_ / "missing" / "results.db"), ConfigError);
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
  fs::path file = dir_ / "work" / ".cube" / "results.db";
  ResultStore store(file);
  EXPECT_EQ(slurp_text(dir_ / "work" / ".cube" / ".gitignore"), "*\n");
  EXPECT_TRUE(fs::exists(file));
  EXPECT_EQ(store.path(), file);
  EXPECT_EQ(query_text(file,
                       "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                       "LIKE 'sqlite_%' ORDER BY name"),
            "curves,results,runs,schema_version");
  EXPECT_EQ(query_text(file, "SELECT version FROM schema_version"), "1");
  EXPECT_EQ(query_text(file, "SELECT sql FROM sqlite_master WHERE name = 'results_one_per_key'"),
            "CREATE UNIQUE INDEX results_one_per_key\n  ON results(build_key, cell, seed, repeat, "
            "metric)");
  EXPECT_EQ(query_text(file, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(store.count_rows(), 0);
  EXPECT_TRUE(store.commits().empty());
}

TEST_F(StoreTest, BeginRunRecordsEveryProvenanceField) {
  fs::path file = dir_ / "r.db";
  ResultStore store(file);
  std::int64_t first = store.begin_run(provenance("c1", true, "Debug"));
  std::int64_t second = store.begin_run(provenance("c2", false, "Release"));
  EXPECT_GT(first, 0);
  EXPECT_GT(second, first);
  EXPECT_EQ(query_text(file,
                       "SELECT build_key || '|' || git_commit || '|' || git_dirty || '|' || "
                       "diff_hash || '|' || diff_patch || '|' || build_type || '|' || "
                       "compiler || '|' || host || '|' || started_at || '|' || "
                       "cube_version || '|' || command || '|' || machine FROM runs WHERE id = " +
                           std::to_string(first)),
            "c1+0123456789abcdef/Debug|c1|1|0123456789abcdef|--- a/x\n+++ b/x\n|Debug|gcc 12|h|"
            "2026-01-01T00:00:00Z|0.1.0|cube run x.yaml|CPU (family 1, model 2), 2 CPUs, avx2+fma");
}

// Each stored row names the machine of its run, and a job's machines are those of the runs that
// wrote its rows.
TEST_F(StoreTest, RowsAndJobsNameTheMachineTheyWereMeasuredOn) {
  ResultStore store(dir_ / "m.db");
  Provenance zen3 = provenance("c", false, "Release");
  Provenance zen5 = zen3;
  zen5.machine = "CPU (family 26, model 2), 2 CPUs, avx512f";
  zen5.started_at = "2026-01-02T00:00:00Z";
  store.write_job(store.begin_run(zen3), "c/Release", job("p/s", 1, 0, 0.5));
  store.write_job(store.begin_run(zen5), "c/Release", job("p/s", 2, 0, 0.5));
  EXPECT_EQ(store.job_machines("c/Release", "p/s", 1, 0), std::vector<std::string>{zen3.machine});
  EXPECT_EQ(store.job_machines("c/Release", "p/s", 2, 0), std::vector<std::string>{zen5.machine});
  EXPECT_TRUE(store.job_machines("c/Release", "p/s", 3, 0).empty());
  std::set<std::string> seed1, seed2;
  for (const StoredRow& row : store.rows_for_commit("c"))
    (row.seed == 1 ? seed1 : seed2).insert(row.machine);
  EXPECT_EQ(seed1, std::set<std::string>{zen3.machine});
  EXPECT_EQ(seed2, std::set<std::string>{zen5.machine});
}

TEST_F(StoreTest, WriteJobReplacesTheWholeJobAtomically) {
  ResultStore store(dir_ / "r.db");
  std::int64_t run = store.begin_run(provenance("c", false, "Release"));
  store.write_job(run, "c/Release", job("p/s", 1, 0, 0.5));
  store.write_job(run, "c/Release", job("p/s", 2, 0, 0.75));
  EXPECT_EQ(store.count_rows(), 6);

  // A re-run of seed 1 with fewer values replaces all three rows, not just matching metrics.
  store.write_job(run, "c/Release", {job_row("p/s", 1, 0, "accuracy", 1.0)});
  EXPECT_EQ(store.count_rows(), 4);
  std::vector<ResultRow> rows = store.job_rows("c/Release", "p/s", 1, 0);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].value, 1.0);

  // A job naming one value twice violates the UNIQUE index: nothing of it lands, the old rows stay.
  std::vector<ResultRow> bad = job("p/s", 2, 0, 0.0);
  bad.push_back(job_row("p/s", 2, 0, "accuracy", 0.0));
  EXPECT_THROW(store.write_job(run, "c/Release", bad), Error);
  EXPECT_EQ(store.count_rows(), 4);
  std::vector<ResultRow> kept = store.job_rows("c/Release", "p/s", 2, 0);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].metric, "accuracy");
  EXPECT_EQ(kept[0].value, 0.75);
  EXPECT_EQ(kept[1].metric, "wall_time");
  EXPECT_FALSE(kept[1].deterministic);
  EXPECT_EQ(kept[2].metric, "epochs");
  EXPECT_FALSE(kept[2].value.has_value());  // NULL stays n/a
}

TEST_F(StoreTest, LearningCurvesLandWithTheirJobAndTheLatestRunWins) {
  ResultStore store(dir_ / "r.db");
  const std::int64_t first = store.begin_run(provenance("c", false, "Release"));
  std::vector<CurvePoint> curve = {{"train_loss", 0, 4.2},
                                   {"val_loss", 0, 4.3},
                                   {"train_loss", 250, 2.5},
                                   {"val_loss", 250, 2.6}};
  store.write_job(first, "c/Release", {job_row("p/s", 1, 0, "val_loss", 2.6)}, curve);
  auto points = store.curves("c/Release", "p/s");
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].series, "train_loss");
  EXPECT_EQ(points[1].series, "train_loss");
  EXPECT_EQ(points[1].step, 250);
  EXPECT_EQ(points[1].value, 2.5);
  EXPECT_TRUE(store.curves("c/Release", "other/cell").empty());

  // Re-running the job replaces its curve; a later run's curve is the one returned.
  const std::int64_t second = store.begin_run(provenance("c", false, "Release"));
  store.write_job(second, "c/Release", {job_row("p/s", 1, 0, "val_loss", 2.0)},
                  {{"val_loss", 0, 4.0}});
  points = store.curves("c/Release", "p/s");
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].value, 4.0);

  // A failed write leaves nothing behind: duplicate rows roll the curve back too.
  const std::int64_t third = store.begin_run(provenance("c", false, "Release"));
  EXPECT_THROW(store.write_job(third, "c/Release",
                               {job_row("q/s", 1, 0, "x", 1.0), job_row("q/s", 1, 0, "x", 2.0)},
                               {{"val_loss", 0, 1.0}}),
               Error);
  EXPECT_TRUE(store.curves("c/Release", "q/s").empty());
}

// Curves are read per build: another commit's later run does not replace this build's curve,
// and the seeds of a sweep resumed in a second run are all returned (the query used to take the
// cell's latest run only, across builds).
TEST_F(StoreTest, LearningCurvesAreReadPerBuildAndAcrossResumedRuns) {
  ResultStore store(dir_ / "r.db");
  const std::int64_t first = store.begin_run(provenance("c", false, "Release"));
  store.write_job(first, "c/Release", {job_row("p/s", 1, 0, "val_loss", 2.6)},
                  {{"val_loss", 0, 4.3}});
  const std::int64_t resumed = store.begin_run(provenance("c", false, "Release"));
  store.write_job(resumed, "c/Release", {job_row("p/s", 2, 0, "val_loss", 2.7)},
                  {{"val_loss", 0, 4.4}});
  const std::int64_t other = store.begin_run(provenance("d", false, "Release"));
  store.write_job(other, "d/Release", {job_row("p/s", 1, 0, "val_loss", 1.0)},
                  {{"val_loss", 0, 9.9}});
  const auto mine = store.curves("c/Release", "p/s");
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].seed, 1u);
  EXPECT_EQ(mine[0].value, 4.3);
  EXPECT_EQ(mine[1].seed, 2u);
  EXPECT_EQ(mine[1].value, 4.4);
  const auto theirs = store.curves("d/Release", "p/s");
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_EQ(theirs[0].value, 9.9);
}

TEST_F(StoreTest, UniqueIndexRefusesASecondRowForAKey) {
  fs::path file = dir_ / "r.db";
  {
    ResultStore store(file);
    std::int64_t run = store.begin_run(provenance("c", false, "Release"));
    store.write_job(run, "c/Release", job("p/s", 1, 0, 0.5));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  int rc = sqlite3_exec(db,
                        "INSERT INTO results(run_id, build_key, cell, problem, solver, seed, "
                        "repeat, metric, value, status, message, deterministic, position) VALUES "
                        "(1, 'c/Release', 'p/s', 'p', 's', 1, 0, 'accuracy', 1, 'ok', '', 1, 9)",
                        nullptr, nullptr, nullptr);
  EXPECT_EQ(rc & 0xff, SQLITE_CONSTRAINT);
  sqlite3_close(db);
  EXPECT_EQ(ResultStore(file).count_rows(), 3);
}

TEST_F(StoreTest, JobStatusIsTheWorstStatusOfTheJobUnderItsBuildKey) {
  ResultStore store(dir_ / "r.db");
  std::int64_t run = store.begin_run(provenance("c", false, "Release"));
  EXPECT_EQ(store.job_status("c/Release", "p/s", 1, 0), std::nullopt);
  store.write_job(run, "c/Release", job("p/s", 1, 0, 0.5));
  EXPECT_EQ(store.job_status("c/Release", "p/s", 1, 0), "ok");
  EXPECT_EQ(store.job_status("c/Release", "p/s", 1, 1), std::nullopt);  // other repeat
  EXPECT_EQ(store.job_status("c/Debug", "p/s", 1, 0), std::nullopt);    // other build
  EXPECT_EQ(store.job_status("c/Release", "p/s", 2, 0), std::nullopt);  // other seed

  store.write_job(
      run, "c/Release",
      {job_row("p/s", 3, 0, "accuracy", 1.0), job_row("p/s", 3, 0, "ard", std::nullopt, "error"),
       job_row("p/s", 3, 0, "epochs", 3.0, "max_iterations")});
  EXPECT_EQ(store.job_status("c/Release", "p/s", 3, 0), "error");
  store.write_job(run, "c/Release",
                  {job_row("p/s", 4, 0, "accuracy", 1.0, "max_iterations"),
                   job_row("p/s", 4, 0, "ard", std::nullopt, "timeout")});
  EXPECT_EQ(store.job_status("c/Release", "p/s", 4, 0), "timeout");
  // The retry of a failed job replaces it; the job then reads as ok.
  store.write_job(run, "c/Release", job("p/s", 3, 0, 1.0));
  EXPECT_EQ(store.job_status("c/Release", "p/s", 3, 0), "ok");
}

TEST_F(StoreTest, RowsForCommitPreferCleanRowsAndTheLatestRun) {
  ResultStore store(dir_ / "r.db");
  // Dirty rows only: they are what the commit has.
  std::int64_t dirty = store.begin_run(provenance("c", true, "Release"));
  store.write_job(dirty, "c+0123456789abcdef/Release", job("p/s", 1, 0, 0.1));
  std::vector<StoredRow> rows = store.rows_for_commit("c");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(rows[0].git_dirty);

  // Clean rows arrive: dirty ones are no longer shown.
  std::int64_t clean = store.begin_run(provenance("c", false, "Release"));
  store.write_job(clean, "c/Release", job("p/t", 2, 0, 0.5));
  store.write_job(clean, "c/Release", job("p/s", 1, 0, 0.25));
  store.write_job(clean, "c/Release", job("p/s", 1, 1, 0.25));
  // A later clean run with another build key: its rows win per (cell, seed, repeat, metric).
  std::int64_t later = store.begin_run(provenance("c", false, "Debug"));
  store.write_job(later, "c/Debug", {job_row("p/s", 1, 0, "accuracy", 0.75)});
  // Another commit's rows are not included.
  std::int64_t other = store.begin_run(provenance("d", false, "Release"));
  store.write_job(other, "d/Release", job("p/s", 1, 0, 0.9));

  rows = store.rows_for_commit("c");
  std::vector<
      std::tuple<std::string, std::uint64_t, std::int64_t, std::string, double, std::int64_t>>
      got;
  for (const auto& r : rows)
    got.emplace_back(r.cell, r.seed, r.repeat, r.metric, r.value.value_or(-1), r.run_id);
  EXPECT_EQ(got, (decltype(got){{"p/s", 1, 0, "accuracy", 0.75, later},
                                {"p/s", 1, 0, "wall_time", 0.5, clean},
                                {"p/s", 1, 0, "epochs", -1, clean},
                                {"p/s", 1, 1, "accuracy", 0.25, clean},
                                {"p/s", 1, 1, "wall_time", 0.5, clean},
                                {"p/s", 1, 1, "epochs", -1, clean},
                                {"p/t", 2, 0, "accuracy", 0.5, clean},
                                {"p/t", 2, 0, "wall_time", 0.5, clean},
                                {"p/t", 2, 0, "epochs", -1, clean}}));
  EXPECT_EQ(rows[0].build_type, "Debug");
  EXPECT_EQ(rows[1].build_type, "Release");
  EXPECT_EQ(rows[0].git_commit, "c");
  EXPECT_EQ(rows[0].started_at, "2026-01-01T00:00:00Z");
  EXPECT_EQ(store.rows_for_commit("nope").size(), 0u);
  EXPECT_EQ(store.commits(), (std::vector<std::string>{"d", "c"}));
  EXPECT_EQ(store.all_rows().size(), 3u + 9u + 1u + 3u);
}

TEST_F(StoreTest, SeedsBeyondInt64RoundTrip) {
  ResultStore store(dir_ / "r.db");
  std::int64_t run = store.begin_run(provenance("c", false, "Release"));
  const std::uint64_t big = 18446744073709551615ull;
  store.write_job(run, "c/Release", job("p/s", big, 0, 0.5));
  store.write_job(run, "c/Release", job("p/s", 1, 0, 0.5));
  EXPECT_EQ(store.job_status("c/Release", "p/s", big, 0), "ok");
  std::vector<StoredRow> rows = store.rows_for_commit("c");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].seed, 1u);  // ordered as unsigned
  EXPECT_EQ(rows[3].seed, big);
}

TEST_F(StoreTest, ReopeningKeepsEverything) {
  fs::path file = dir_ / "r.db";
  std::int64_t run = 0;
  {
    ResultStore store(file);
    run = store.begin_run(provenance("c", false, "Release"));
    store.write_job(run, "c/Release", job("p/s", 1, 0, 0.5));
  }
  ResultStore again(file);
  EXPECT_EQ(again.count_rows(), 3);
  EXPECT_EQ(again.job_status("c/Release", "p/s", 1, 0), "ok");
  EXPECT_GT(again.begin_run(provenance("c", false, "Release")), run);
  EXPECT_EQ(query_text(file, "SELECT COUNT(*) FROM schema_version"), "1");
}

TEST_F(StoreTest, TwoStoresOnOneFileSeeEachOtherAndWriteConcurrently) {
  fs::path file = dir_ / "r.db";
  ResultStore a(file);
  ResultStore b(file);
  std::int64_t run_a = a.begin_run(provenance("c", false, "Release"));
  std::int64_t run_b = b.begin_run(provenance("c", false, "Release"));
  EXPECT_NE(run_a, run_b);
  a.write_job(run_a, "c/Release", job("p/s", 0, 0, 0.5));
  EXPECT_EQ(b.job_status("c/Release", "p/s", 0, 0), "ok");

  // Two connections, two threads each, overlapping jobs: one row per key whatever the order.
  auto writer = [&](ResultStore* store, std::int64_t run) {
    for (std::uint64_t seed = 0; seed < 50; ++seed)
      store->write_job(run, "c/Release", job("p/s", seed, 0, static_cast<double>(seed)));
  };
  std::vector<std::thread> threads;
  threads.emplace_back(writer, &a, run_a);
  threads.emplace_back(writer, &b, run_b);
  threads.emplace_back(writer, &a, run_a);
  threads.emplace_back(writer, &b, run_b);
  for (auto& t : threads) t.join();
  EXPECT_EQ(a.count_rows(), 150);
  EXPECT_EQ(b.count_rows(), 150);
  EXPECT_EQ(a.rows_for_commit("c").size(), 150u);
}

TEST_F(StoreTest, SeveralProcessesShareOneFile) {
  fs::path file = dir_ / "shared.db";  // created concurrently by the children
  const int kChildren = 4;
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        ResultStore store(file);
        std::int64_t run = store.begin_run(provenance("c", false, "Release"));
        // Children write disjoint seeds and one shared seed (0), which must end up once.
        for (std::uint64_t seed = 0; seed < 30; ++seed)
          store.write_job(run, "c/Release",
                          job("p/s", seed == 0 ? 0 : seed * kChildren + c, 0, 1.0));
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  ResultStore store(file);
  EXPECT_EQ(store.count_rows(), (1 + kChildren * 29) * 3);
  std::set<std::tuple<std::string, std::uint64_t, std::string>> keys;
  for (const auto& r : store.all_rows()) keys.insert({r.cell, r.seed, r.metric});
  EXPECT_EQ(keys.size(), static_cast<std::size_t>((1 + kChildren * 29) * 3));
}

TEST_F(StoreTest, UnusablePathsGiveAConfigErrorNamingTheFile) {
  std::ofstream(dir_ / "plain") << "not a directory";
  fs::path under_a_file = dir_ / "plain" / "results.db";
  try {
    ResultStore store(under_a_file);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(under_a_file.string()), std::string::npos) << e.what();
  }
  fs::path garbage = dir_ / "garbage.db";
  std::ofstream(garbage) << std::string(4096, 'x');
  try {
    ResultStore store(garbage);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(garbage.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a database"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, NewerSchemaIsRefused) {
  fs::path file = dir_ / "r.db";
  { ResultStore store(file); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  try {
    ResultStore store(file);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, DefaultPathIsUnderTheGitTopLevelOrTheDirectory) {
  fs::path plain = dir_ / "plain";
  fs::create_directories(plain);
  // Stop git's search at dir_, in case /tmp itself lies inside a work tree.
  const char* old = std::getenv("GIT_CEILING_DIRECTORIES");
  std::string saved = old ? old : "";
  setenv("GIT_CEILING_DIRECTORIES", dir_.c_str(), 1);
  EXPECT_EQ(ResultStore::default_path(plain), plain / ".cube" / "results.db");

  fs::path repo = dir_ / "repo";
  fs::create_directories(repo / "sub" / "dir");
  int rc = std::system(("git init -q '" + repo.string() + "' 2>/dev/null").c_str());
  if (old)
    setenv("GIT_CEILING_DIRECTORIES", saved.c_str(), 1);
  else
    unsetenv("GIT_CEILING_DIRECTORIES");
  if (rc != 0) GTEST_SKIP() << "git is not available";
  EXPECT_EQ(
      fs::canonical(ResultStore::default_path(repo / "sub" / "dir").parent_path().parent_path()),
      fs::canonical(repo));
  EXPECT_EQ(ResultStore::default_path(repo / "sub").filename(), "results.db");

  // A fresh .cube/ ignores itself.
  ResultStore store(ResultStore::default_path(repo));
  std::ifstream ignore(repo / ".cube" / ".gitignore");
  std::string line;
  std::getline(ignore, line);
  EXPECT_EQ(line, "*");
}

// Slurm array tasks write shards; merging them replaces jobs, keeps curves and provenance (the
// task's scheduler job included), and merging again changes nothing.
TEST_F(StoreTest, MergeCopiesShardsIdempotently) {
  ResultStore main_store(dir_ / "main.db");
  const std::int64_t local = main_store.begin_run(provenance("c", false, "Release"));
  main_store.write_job(local, "c/Release", job("p/s", 1, 0, 0.25));  // replaced by the shard's
  main_store.write_job(local, "c/Release", job("p/s", 9, 0, 0.5));   // kept
  {
    ResultStore shard(dir_ / "shard_0.db");
    Provenance p = provenance("c", false, "Release");
    p.scheduler_job = "12_0";
    p.started_at = "2026-01-02T00:00:00Z";
    const std::int64_t run = shard.begin_run(p);
    shard.write_job(run, "c/Release", job("p/s", 1, 0, 0.75), {{"val_loss", 0, 3.0}});
    shard.write_job(run, "c/Release", job("p/s", 2, 0, 1.0));
  }
  EXPECT_EQ(main_store.merge(dir_ / "shard_0.db"), 6);
  EXPECT_EQ(main_store.count_rows(), 9);
  EXPECT_EQ(main_store.job_rows("c/Release", "p/s", 1, 0)[0].value, 0.75);
  EXPECT_EQ(main_store.job_rows("c/Release", "p/s", 9, 0)[0].value, 0.5);
  ASSERT_EQ(main_store.curves("c/Release", "p/s").size(), 1u);
  std::set<std::string> jobs;
  for (const StoredRow& row : main_store.all_rows())
    if (row.seed != 9) jobs.insert(row.scheduler_job + " on " + row.machine);
  EXPECT_EQ(jobs, std::set<std::string>{"12_0 on CPU (family 1, model 2), 2 CPUs, avx2+fma"});
  const std::string runs = query_text(dir_ / "main.db", "SELECT COUNT(*) FROM runs");

  EXPECT_EQ(main_store.merge(dir_ / "shard_0.db"), 6);  // again: same rows, no new run
  EXPECT_EQ(main_store.count_rows(), 9);
  EXPECT_EQ(query_text(dir_ / "main.db", "SELECT COUNT(*) FROM runs"), runs);
  EXPECT_EQ(main_store.curves("c/Release", "p/s").size(), 1u);

  EXPECT_THROW(main_store.merge(dir_ / "missing.db"), ConfigError);
  std::ofstream(dir_ / "not_a_store.db") << "hello";
  EXPECT_THROW(main_store.merge(dir_ / "not_a_store.db"), ConfigError);
}

// A store written before runs.scheduler_job and runs.machine existed gains the columns when
// opened, and keeps schema version 1 so that older cubes (cube diff's builds of old commits) still
// open it.
TEST_F(StoreTest, AStoreWithoutTheSchedulerAndMachineColumnsGainsThem) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "old.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                           "INSERT INTO schema_version VALUES (1);"
                           "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, build_key "
                           "TEXT NOT NULL, git_commit TEXT NOT NULL, git_dirty INTEGER NOT NULL, "
                           "diff_hash TEXT NOT NULL, diff_patch TEXT NOT NULL, build_type TEXT "
                           "NOT NULL, compiler TEXT NOT NULL, host TEXT NOT NULL, started_at TEXT "
                           "NOT NULL, cube_version TEXT NOT NULL, command TEXT NOT NULL);"
                           "INSERT INTO runs(build_key, git_commit, git_dirty, diff_hash, "
                           "diff_patch, build_type, compiler, host, started_at, cube_version, "
                           "command) VALUES ('c/Release', 'c', 0, '', '', 'Release', 'g', 'h', "
                           "'t', 'v', 'cube run');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  ResultStore store(dir_ / "old.db");
  EXPECT_EQ(query_text(dir_ / "old.db", "SELECT scheduler_job = '' AND machine = '' FROM runs"),
            "1");
  EXPECT_EQ(query_text(dir_ / "old.db", "SELECT MAX(version) FROM schema_version"), "1");
  Provenance p = provenance("c", false, "Release");
  p.scheduler_job = "7";
  store.begin_run(p);
  EXPECT_EQ(query_text(dir_ / "old.db", "SELECT '[' || scheduler_job || ']' FROM runs ORDER BY id"),
            "[],[7]");
  EXPECT_EQ(query_text(dir_ / "old.db", "SELECT '[' || machine || ']' FROM runs ORDER BY id"),
            "[],[" + p.machine + "]");
}

TEST(StatusSeverityTest, ErrorAndTimeoutBeatTheOthers) {
  std::vector<std::string> order = {"ok",       "unsupported", "max_iterations",
                                    "diverged", "timeout",     "error"};
  for (std::size_t i = 1; i < order.size(); ++i)
    EXPECT_LT(status_severity(order[i - 1]), status_severity(order[i])) << order[i];
}

}  // namespace
}  // namespace cube
