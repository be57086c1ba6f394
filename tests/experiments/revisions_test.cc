// Tests for experiments/revisions.h: child processes, the per-commit build layout, lacking-job
// counts, sweep files at a commit and plans expanded by a cube binary. The whole build-and-diff
// loop runs end to end in diff_builds_test.sh.

#include "experiments/revisions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "experiments/provenance.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

class RevisionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cube_revisions_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  int sh(const std::string& script, const fs::path& log) {
    return run_process({{"sh", "-c", script}, dir_, log, true, {}});
  }

  fs::path dir_;
};

TEST_F(RevisionsTest, RunProcessReportsExitStatusSignalAndMissingProgram) {
  EXPECT_EQ(run_process({{"sh", "-c", "exit 0"}, dir_, std::nullopt, false, {}}), 0);
  EXPECT_EQ(run_process({{"sh", "-c", "exit 3"}, dir_, std::nullopt, false, {}}), 3);
  EXPECT_EQ(run_process({{"sh", "-c", "kill -9 $$"}, dir_, std::nullopt, false, {}}), 128 + 9);
  EXPECT_EQ(run_process({{"cube-no-such-program"}, dir_, std::nullopt, false, {}}), 127);
}

TEST_F(RevisionsTest, RunProcessAppendsOutputInItsDirectoryWithItsEnvironment) {
  const fs::path log = dir_ / "log.txt";
  ASSERT_EQ(run_process({{"sh", "-c", "pwd; echo \"$CUBE_TEST_VAR\"; echo oops >&2"},
                         dir_,
                         log,
                         false,
                         {{"CUBE_TEST_VAR", "hello"}}}),
            0);
  EXPECT_EQ(slurp(log), fs::canonical(dir_).string() + "\nhello\n");
  EXPECT_EQ(std::getenv("CUBE_TEST_VAR"), nullptr);  // set for the child only
  ASSERT_EQ(sh("echo again; echo to-log >&2", log), 0);
  EXPECT_EQ(slurp(log), fs::canonical(dir_).string() + "\nhello\nagain\nto-log\n");
}

TEST_F(RevisionsTest, FindOnPathFindsExecutablesOnly) {
  ASSERT_TRUE(find_on_path("sh").has_value());
  EXPECT_TRUE(fs::exists(*find_on_path("sh")));
  EXPECT_FALSE(find_on_path("cube-no-such-program").has_value());
}

TEST_F(RevisionsTest, BuildLayoutAndStamp) {
  const std::string sha(40, 'a');
  RevisionBuild b = revision_build(dir_ / "builds", sha);
  EXPECT_EQ(b.root, dir_ / "builds" / sha);
  EXPECT_EQ(b.source, b.root / "src");
  EXPECT_EQ(b.binary, b.root / "build" / "cube");
  EXPECT_EQ(b.log, b.root / "build.log");
  EXPECT_EQ(b.build_key(), sha + "/Release");
  EXPECT_FALSE(b.built());
  fs::create_directories(b.build);
  std::ofstream(b.binary) << "x";
  EXPECT_FALSE(b.built());  // a binary without the stamp: an interrupted or failed build
  std::ofstream(b.stamp) << sha;
  EXPECT_TRUE(b.built());
  // Another build type of the same commit: its own build tree, log and stamp, same worktree.
  RevisionBuild debug = revision_build(dir_ / "builds", sha, "Debug");
  EXPECT_EQ(debug.source, b.source);
  EXPECT_EQ(debug.build, b.root / "build-Debug");
  EXPECT_EQ(debug.log, b.root / "build-Debug.log");
  EXPECT_EQ(debug.build_key(), sha + "/Debug");
  EXPECT_FALSE(debug.built());
}

TEST_F(RevisionsTest, BuildOutsideARepositoryThrowsBuildErrorNamingTheLog) {
  RevisionBuild b = revision_build(dir_ / "builds", std::string(40, 'b'));
  try {
    build_revision(dir_, b, "HEAD~7", 1);
    FAIL() << "expected BuildError";
  } catch (const BuildError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("revision HEAD~7 (bbbbbbbbbbbb) failed to"), std::string::npos) << what;
    EXPECT_NE(what.find(b.log.string()), std::string::npos) << what;
    EXPECT_EQ(e.log(), b.log);
    EXPECT_TRUE(fs::exists(b.log));
  }
  EXPECT_FALSE(b.built());
}

ResultRow row(const std::string& cell, std::uint64_t seed, std::int64_t repeat) {
  ResultRow r;
  r.cell = cell;
  r.problem = "p";
  r.solver = "s";
  r.seed = seed;
  r.repeat = repeat;
  r.metric = "accuracy";
  r.value = 1.0;
  r.status = "ok";
  return r;
}

TEST_F(RevisionsTest, CountLackingCountsJobRepeatsWithoutRowsForThatBuildOnly) {
  ResultStore store(dir_ / "results.db");
  Provenance p;
  p.git_commit = std::string(40, 'c');
  p.build_type = "Release";
  const std::int64_t run = store.begin_run(p);
  store.write_job(run, p.build_key(), {row("p/s", 1, 0)});
  store.write_job(run, p.build_key(), {row("p/s", 1, 1)});
  store.write_job(run, p.build_key(), {row("p/s", 2, 0)});
  store.write_job(run, "other/Release", {row("p/s", 2, 1)});
  const std::vector<PlannedJob> jobs = {{"p/s", 1}, {"p/s", 2}};
  EXPECT_EQ(count_lacking(store, p.build_key(), jobs, 1), 0u);
  EXPECT_EQ(count_lacking(store, p.build_key(), jobs, 2), 1u);  // seed 2 repeat 1
  EXPECT_EQ(count_lacking(store, p.build_key(), jobs, 3), 3u);
  EXPECT_EQ(count_lacking(store, "other/Release", jobs, 2), 3u);
  EXPECT_EQ(cells_of(jobs), std::set<std::string>{"p/s"});
}

TEST_F(RevisionsTest, SweepFileAtACommitIsItsTextThen) {
  const fs::path repo = dir_ / "repo";
  fs::create_directories(repo / "sweeps");
  const fs::path log = dir_ / "git.log";
  std::ofstream(repo / "sweeps" / "s.yaml") << "seeds: [1]\n";
  ASSERT_EQ(sh("cd repo && git init -q && git add -A && git -c user.email=t@t -c user.name=t "
               "commit -qm one",
               log),
            0)
      << slurp(log);
  const std::string first = *resolve_git_rev(repo, "HEAD");
  std::ofstream(repo / "sweeps" / "s.yaml") << "seeds: [2]\n";
  const fs::path file = sweep_file_at(repo, dir_ / "cache", first, "sweeps/s.yaml");
  EXPECT_EQ(file, dir_ / "cache" / "sweeps" / first / "sweeps" / "s.yaml");
  EXPECT_EQ(slurp(file), "seeds: [1]\n");
  EXPECT_THROW(sweep_file_at(repo, dir_ / "cache", first, "sweeps/none.yaml"), ConfigError);
}

TEST_F(RevisionsTest, PlanWithBinaryExpandsAsThatBinaryDoes) {
  std::ofstream(dir_ / "sweep.yaml")
      << "problem: {name: sparse_parity, n: 8, k: 2}\nsolver: gf2\nmetrics: [accuracy]\n"
         "seeds: [3, 4]\nsweep:\n  problem.k: [2, 3]\n";
  const std::vector<PlannedJob> jobs = plan_with_binary(CUBE_BINARY, dir_, dir_ / "sweep.yaml");
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].seed, 3u);
  EXPECT_EQ(jobs[1].seed, 4u);
  EXPECT_EQ(cells_of(jobs).size(), 2u);
  EXPECT_EQ(jobs[0].cell.find("sparse_parity(k=2,"), 0u) << jobs[0].cell;
  std::ofstream(dir_ / "bad.yaml")
      << "problem: {name: no_such_problem}\nsolver: gf2\nmetrics: [accuracy]\n";
  try {
    plan_with_binary(CUBE_BINARY, dir_, dir_ / "bad.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_problem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cube
