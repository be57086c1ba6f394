// cube/experiments/slurm.h: a sweep as a Slurm job array (`cube run FILE --launcher slurm`) and
// the collection of its results (`cube collect`).
//
// A batch lives in <store folder>/slurm/<UTC time>-<pid>/:
//   plan.json        the whole expanded plan (cube plan -o), so job indices mean what they meant
//   tasks.txt        line t: the job indices array task t runs, in order (--chunk per task)
//   submit.sh        the sbatch script: one array task per line of tasks.txt; each runs
//                    `cube run-cell plan.json INDEX --store shard_<t>.db` for its indices
//   shard_<t>.db     task t's own results store: SQLite must not be shared by many writers over
//                    a network file system, so every task writes its own file
//   task_<t>.log     its stdout and stderr (sbatch --output)
//   task_<t>.status  its exit status, written when it ends: 0 ok, 1 some cell failed (rows
//                    stored with their status), anything else a failed task
// Collecting merges each finished task's shard into the main store (ResultStore::merge, which
// replaces jobs and never duplicates), then removes the shard; a shard whose task has not ended
// is left for a later collection. A batch folder with nothing left to collect is removed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/plan.h"
#include "experiments/store.h"

namespace cube {

struct SlurmOptions {
  std::string partition;           // --partition (empty: the cluster's default)
  std::string time;                // --time, e.g. "01:00:00" (empty: the partition's default)
  std::int64_t cpus_per_task = 0;  // --cpus-per-task and OMP_NUM_THREADS (0: not set)
  std::int64_t chunk = 1;          // jobs per array task, >= 1
  std::int64_t repeat = 1;         // runs of each (cell, seed), passed to run-cell
};

struct SlurmBatch {
  std::filesystem::path dir;
  std::string job_id;  // as sbatch --parsable printed it
  std::size_t tasks = 0;
  std::size_t jobs = 0;
};

// The batch folder for a new batch next to `store`: <store folder>/slurm.
std::filesystem::path slurm_root(const std::filesystem::path& store);

// The array tasks' job indices: `jobs` cut into consecutive chunks of `chunk`.
std::vector<std::vector<std::size_t>> chunk_jobs(const std::vector<std::size_t>& jobs,
                                                 std::size_t chunk);

// The sbatch script of a batch (see the header comment); `cube` is the binary the tasks run and
// `work_dir` the folder they run in (the provenance of their rows is read there).
std::string slurm_script(const SlurmBatch& batch, const std::filesystem::path& cube,
                         const std::filesystem::path& work_dir, const SlurmOptions& options);

// Writes the batch folder for jobs `job_indices` of `plan` and submits it with sbatch. Throws
// ConfigError when sbatch is not on PATH or refuses the script (its message included).
SlurmBatch submit_slurm_array(const ExperimentPlan& plan,
                              const std::vector<std::size_t>& job_indices,
                              const std::filesystem::path& root, const std::filesystem::path& cube,
                              const std::filesystem::path& work_dir, const SlurmOptions& options);

struct SlurmProgress {
  std::size_t pending = 0, running = 0, done = 0, failed = 0;
  std::size_t tasks = 0;
  bool finished() const { return done + failed == tasks; }
};

// The state of a batch's tasks: ended ones from their status files, the others from squeue. A
// task that squeue no longer lists and that wrote no status (cancelled, timed out, node lost) is
// recorded as failed: status 255 and a line in its log. When squeue does not answer, tasks
// without a status count as pending.
SlurmProgress poll_slurm(const SlurmBatch& batch);

struct CollectReport {
  std::size_t shards = 0;             // shards merged and removed
  std::int64_t rows = 0;              // result rows copied
  std::vector<std::string> failures;  // "task 3 of <dir>: exit 2; log <dir>/task_3.log"
  std::size_t waiting = 0;            // shards of tasks that have not ended
};

// Merges every finished task's shard under `root` into `store` (see the header comment). For a
// batch with tasks that have not ended, squeue is asked first (poll_slurm), so that a task that
// died without a status is reported instead of waited for.
CollectReport collect_shards(ResultStore& store, const std::filesystem::path& root);

}  // namespace cube
