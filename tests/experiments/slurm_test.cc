// Tests for experiments/slurm.h without a scheduler: chunks, the sbatch script, and collecting
// batch folders as array tasks leave them. slurm_cluster_test.sh runs sweeps on a real Slurm.

#include "experiments/slurm.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "core/error.h"
#include "experiments/revisions.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

TEST(SlurmTest, ChunksAreConsecutiveAndTheLastIsShort) {
  const std::vector<std::size_t> jobs = {0, 2, 3, 5, 8};
  const auto tasks = chunk_jobs(jobs, 2);
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0], (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(tasks[1], (std::vector<std::size_t>{3, 5}));
  EXPECT_EQ(tasks[2], (std::vector<std::size_t>{8}));
  EXPECT_EQ(chunk_jobs(jobs, 10).size(), 1u);
  EXPECT_TRUE(chunk_jobs({}, 3).empty());
}

TEST(SlurmTest, TheScriptRunsEachTasksJobsIntoItsOwnShard) {
  SlurmBatch batch;
  batch.dir = "/shared/.cube/slurm/b";
  batch.tasks = 4;
  batch.jobs = 7;
  SlurmOptions options;
  options.partition = "gpu";
  options.time = "00:30:00";
  options.cpus_per_task = 8;
  options.repeat = 3;
  const std::string script = slurm_script(batch, "/opt/cube's build/cube", "/work/repo", options);
  for (const char* line :
       {"#SBATCH --array=0-3\n", "#SBATCH --output=/shared/.cube/slurm/b/task_%a.log\n",
        "#SBATCH --partition=gpu\n", "#SBATCH --time=00:30:00\n", "#SBATCH --cpus-per-task=8\n",
        "export OMP_NUM_THREADS=8\n", "cd '/work/repo' || exit 2\n",
        "'/opt/cube'\\''s build/cube' run-cell \"$dir/plan.json\" \"$index\" --store "
        "\"$dir/shard_$task.db\" --repeat 3 --quiet\n",
        "echo $status > \"$dir/task_$task.status\"\n"}) {
    EXPECT_NE(script.find(line), std::string::npos) << line << "\nin\n" << script;
  }
  const std::string plain = slurm_script(batch, "/c", "/w", SlurmOptions{});
  EXPECT_EQ(plain.find("--partition"), std::string::npos);
  EXPECT_EQ(plain.find("OMP_NUM_THREADS"), std::string::npos);
}

class SlurmCollectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cube_slurm_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A batch folder of `tasks` tasks; task t stores one job (seed t) in its shard.
  fs::path batch(const std::string& name, int tasks) {
    const fs::path dir = root_ / "slurm" / name;
    fs::create_directories(dir);
    std::ofstream lines(dir / "tasks.txt");
    for (int t = 0; t < tasks; ++t) {
      lines << t << "\n";
      ResultStore shard(dir / ("shard_" + std::to_string(t) + ".db"));
      Provenance p;
      p.git_commit = "c";
      p.build_type = "Release";
      p.scheduler_job = "5_" + std::to_string(t);
      p.started_at = name;
      ResultRow row;
      row.cell = "p/s";
      row.seed = static_cast<std::uint64_t>(t);
      row.metric = "accuracy";
      row.value = 1.0;
      row.status = "ok";
      shard.write_job(shard.begin_run(p), p.build_key(), {row});
    }
    return dir;
  }
  static void end(const fs::path& dir, int task, int status) {
    std::ofstream(dir / ("task_" + std::to_string(task) + ".status")) << status << "\n";
  }

  fs::path root_;
};

TEST_F(SlurmCollectTest, FinishedShardsAreMergedAndRemovedOthersWait) {
  const fs::path dir = batch("a", 3);
  end(dir, 0, 0);
  end(dir, 1, 1);  // a cell failed: its rows are results like any other
  ResultStore store(root_ / "results.db");
  CollectReport report = collect_shards(store, root_ / "slurm");
  EXPECT_EQ(report.shards, 2u);
  EXPECT_EQ(report.rows, 2);
  EXPECT_EQ(report.waiting, 1u);
  EXPECT_TRUE(report.failures.empty());
  EXPECT_FALSE(fs::exists(dir / "shard_0.db"));
  EXPECT_TRUE(fs::exists(dir / "shard_2.db"));
  EXPECT_EQ(store.count_rows(), 2);

  end(dir, 2, 0);
  report = collect_shards(store, root_ / "slurm");
  EXPECT_EQ(report.shards, 1u);
  EXPECT_EQ(store.count_rows(), 3);
  EXPECT_FALSE(fs::exists(dir));  // all ended, none failed: the batch folder goes

  report = collect_shards(store, root_ / "slurm");
  EXPECT_EQ(report.shards, 0u);
  EXPECT_EQ(store.count_rows(), 3);
}

TEST_F(SlurmCollectTest, AFailedTaskIsReportedOnceWithItsLogAndItsFolderKept) {
  const fs::path dir = batch("b", 2);
  end(dir, 0, 0);
  end(dir, 1, 2);
  ResultStore store(root_ / "results.db");
  CollectReport report = collect_shards(store, root_ / "slurm");
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_NE(report.failures[0].find("task 1 of " + dir.string() + ": exit 2; log " +
                                    (dir / "task_1.log").string()),
            std::string::npos)
      << report.failures[0];
  EXPECT_EQ(store.count_rows(), 2);  // what the failed task stored before failing is kept
  EXPECT_TRUE(fs::exists(dir));
  EXPECT_TRUE(collect_shards(store, root_ / "slurm").failures.empty());
}

TEST(SlurmTest, SubmittingWithoutSbatchIsAClearError) {
  if (find_on_path("sbatch")) GTEST_SKIP() << "sbatch is installed here";
  ExperimentPlan plan;
  try {
    submit_slurm_array(plan, {0}, fs::temp_directory_path() / "cube_no_sbatch", "/c", "/w", {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("sbatch is not on PATH"), std::string::npos);
  }
}

}  // namespace
}  // namespace cube
