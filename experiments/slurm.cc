// Sweeps as Slurm job arrays: batch folders, the sbatch script, polling and collection
// (slurm.h). sbatch and squeue run as child processes (revisions.h's run_process).

#include "experiments/slurm.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "experiments/revisions.h"

namespace fs = std::filesystem;

namespace cube {
namespace {

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

// The exit status a task wrote, or -1 when it has not ended.
int task_status(const fs::path& dir, std::size_t task) {
  const fs::path file = dir / ("task_" + std::to_string(task) + ".status");
  if (!fs::exists(file)) return -1;
  std::istringstream in(read_whole_file(file));
  int status = -1;
  in >> status;
  return status < 0 ? 255 : status;
}

std::size_t count_tasks(const fs::path& dir) {
  std::istringstream lines(read_whole_file(dir / "tasks.txt"));
  std::size_t n = 0;
  for (std::string line; std::getline(lines, line);) ++n;
  return n;
}

}  // namespace

fs::path slurm_root(const fs::path& store) { return fs::absolute(store).parent_path() / "slurm"; }

std::vector<std::vector<std::size_t>> chunk_jobs(const std::vector<std::size_t>& jobs,
                                                 std::size_t chunk) {
  CUBE_CHECK(chunk >= 1, "chunk_jobs: chunk must be >= 1");
  std::vector<std::vector<std::size_t>> tasks;
  for (std::size_t i = 0; i < jobs.size(); i += chunk)
    tasks.emplace_back(
        jobs.begin() + static_cast<std::ptrdiff_t>(i),
        jobs.begin() + static_cast<std::ptrdiff_t>(std::min(jobs.size(), i + chunk)));
  return tasks;
}

std::string slurm_script(const SlurmBatch& batch, const fs::path& cube, const fs::path& work_dir,
                         const SlurmOptions& options) {
  const std::string dir = batch.dir.string();
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# cube sweep: " << batch.jobs << " jobs in " << batch.tasks << " array tasks\n"
    << "#SBATCH --job-name=cube\n"
    << "#SBATCH --array=0-" << batch.tasks - 1 << "\n"
    << "#SBATCH --output=" << dir << "/task_%a.log\n";
  if (!options.partition.empty()) s << "#SBATCH --partition=" << options.partition << "\n";
  if (!options.time.empty()) s << "#SBATCH --time=" << options.time << "\n";
  if (options.cpus_per_task > 0) {
    s << "#SBATCH --cpus-per-task=" << options.cpus_per_task << "\n"
      << "export OMP_NUM_THREADS=" << options.cpus_per_task << "\n";
  }
  s << "cd " << shell_quote(work_dir.string()) << " || exit 2\n"
    << "dir=" << shell_quote(dir) << "\n"
    << "task=$SLURM_ARRAY_TASK_ID\n"
    << "status=0\n"
    << "for index in $(sed -n \"$((task + 1))p\" \"$dir/tasks.txt\"); do\n"
    << "  " << shell_quote(cube.string())
    << " run-cell \"$dir/plan.json\" \"$index\" --store \"$dir/shard_$task.db\" --repeat "
    << options.repeat << " --quiet\n"
    << "  rc=$?\n"
    << "  # 1: a cell failed and its rows say so; anything else: the task failed\n"
    << "  if [ $rc -gt 1 ] || { [ $rc -eq 1 ] && [ $status -eq 0 ]; }; then status=$rc; fi\n"
    << "done\n"
    << "echo $status > \"$dir/task_$task.status\"\n"
    << "exit $status\n";
  return s.str();
}

SlurmBatch submit_slurm_array(const ExperimentPlan& plan,
                              const std::vector<std::size_t>& job_indices, const fs::path& root,
                              const fs::path& cube, const fs::path& work_dir,
                              const SlurmOptions& options) {
  if (!find_on_path("sbatch"))
    throw ConfigError(SourceLocation{"--launcher slurm"},
                      "sbatch is not on PATH: run on a Slurm login node (or bring up a local "
                      "cluster with scripts/slurm-local.sh up)");
  SlurmBatch batch;
  batch.dir = root / (utc_stamp() + "-" + std::to_string(::getpid()));
  fs::create_directories(batch.dir);
  const auto tasks = chunk_jobs(job_indices, static_cast<std::size_t>(options.chunk));
  batch.tasks = tasks.size();
  batch.jobs = job_indices.size();
  std::ofstream(batch.dir / "plan.json") << plan_to_json(plan);
  {
    std::ofstream lines(batch.dir / "tasks.txt");
    for (const auto& task : tasks) lines << join(task, " ") << "\n";
  }
  std::ofstream(batch.dir / "submit.sh") << slurm_script(batch, cube, work_dir, options);
  const auto [status, text] =
      capture({"sbatch", "--parsable", (batch.dir / "submit.sh").string()}, batch.dir, true);
  if (status != 0)
    throw ConfigError(SourceLocation{(batch.dir / "submit.sh").string()},
                      "sbatch refused the script (exit " + std::to_string(status) + "): " + text);
  std::istringstream id(text);
  std::getline(id, batch.job_id, ';');  // "<id>" or "<id>;<cluster>"
  while (!batch.job_id.empty() && std::isspace(static_cast<unsigned char>(batch.job_id.back())))
    batch.job_id.pop_back();
  std::ofstream(batch.dir / "job_id") << batch.job_id << "\n";
  return batch;
}

namespace {

// squeue's view of a batch's array tasks: index -> state ("PENDING", "RUNNING", ...); a job Slurm
// no longer knows lists none. nullopt when squeue did not answer (no Slurm here, or it is down).
std::optional<std::map<std::size_t, std::string>> queued_tasks(const fs::path& dir,
                                                               const std::string& job_id) {
  const auto [status, text] =
      capture({"squeue", "-h", "-r", "-j", job_id, "-o", "%K %T"}, dir, true);
  std::map<std::size_t, std::string> queued;
  if (status != 0) {
    // A job purged after its end is an "Invalid job id" to squeue: none of its tasks is queued.
    if (text.find("Invalid job id") != std::string::npos) return queued;
    return std::nullopt;
  }
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::size_t index = 0;
    std::string state;
    if (fields >> index >> state) queued[index] = state;
  }
  return queued;
}

// A task that left the queue without writing its status was cancelled, timed out or lost its
// node: record it as failed (255), with a line in its log saying so.
void mark_lost(const fs::path& dir, std::size_t task) {
  std::ofstream(dir / ("task_" + std::to_string(task) + ".log"), std::ios::app)
      << "cube: this task left the Slurm queue without an exit status (cancelled, timed out, "
         "or its node failed)\n";
  std::ofstream(dir / ("task_" + std::to_string(task) + ".status")) << 255 << "\n";
}

}  // namespace

SlurmProgress poll_slurm(const SlurmBatch& batch) {
  SlurmProgress p;
  p.tasks = batch.tasks;
  const auto queued = queued_tasks(batch.dir, batch.job_id);
  for (std::size_t t = 0; t < batch.tasks; ++t) {
    int ended = task_status(batch.dir, t);
    if (ended < 0 && queued) {
      if (auto it = queued->find(t); it != queued->end()) {
        it->second == "PENDING" ? ++p.pending : ++p.running;
        continue;
      }
      // Not queued: it ended. Its status file may trail the queue by a moment; read it again.
      ended = task_status(batch.dir, t);
      if (ended < 0) {
        mark_lost(batch.dir, t);
        ended = 255;
      }
    }
    if (ended < 0)
      ++p.pending;  // squeue did not answer: unknown, keep waiting
    else
      ended <= 1 ? ++p.done : ++p.failed;
  }
  return p;
}

CollectReport collect_shards(ResultStore& store, const fs::path& root) {
  CollectReport report;
  if (!fs::is_directory(root)) return report;
  std::vector<fs::path> batches;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) batches.push_back(entry.path());
  std::sort(batches.begin(), batches.end());
  for (const fs::path& dir : batches) {
    const std::size_t tasks = count_tasks(dir);
    // Tasks of a --no-wait batch that died without a status are found through squeue here.
    if (fs::exists(dir / "job_id")) {
      std::ifstream id_file(dir / "job_id");
      SlurmBatch batch{dir, "", tasks, 0};
      id_file >> batch.job_id;
      bool unended = false;
      for (std::size_t t = 0; t < tasks; ++t) unended = unended || task_status(dir, t) < 0;
      if (unended && !batch.job_id.empty() && find_on_path("squeue")) poll_slurm(batch);
    }
    bool all_ended = true, any_failed = false;
    for (std::size_t t = 0; t < tasks; ++t) {
      const fs::path shard = dir / ("shard_" + std::to_string(t) + ".db");
      const int status = task_status(dir, t);
      if (status < 0) {
        all_ended = false;
        if (fs::exists(shard)) ++report.waiting;
        continue;
      }
      if (fs::exists(shard)) {
        report.rows += store.merge(shard);
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(shard.string() + suffix);
        ++report.shards;
      }
      if (status > 1) {
        any_failed = true;
        const fs::path reported = dir / ("task_" + std::to_string(t) + ".reported");
        if (!fs::exists(reported)) {
          report.failures.push_back("task " + std::to_string(t) + " of " + dir.string() +
                                    ": exit " + std::to_string(status) + "; log " +
                                    (dir / ("task_" + std::to_string(t) + ".log")).string());
          std::ofstream(reported) << status << "\n";
        }
      }
    }
    if (all_ended && !any_failed) fs::remove_all(dir);
  }
  return report;
}

}  // namespace cube
