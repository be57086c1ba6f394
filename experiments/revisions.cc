// Revisions built in cached git worktrees and sweeps run with their binaries (revisions.h).
// Child processes are fork + execvp with argument vectors: no shell, so no quoting of the paths.

#include "experiments/revisions.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "experiments/plan.h"

namespace fs = std::filesystem;

namespace cube {
namespace {

// The last `count` lines of a file, for an error message pointing at a long log.
std::string last_lines(const fs::path& path, std::size_t count) {
  const std::string text = read_whole_file(path);
  std::size_t start = text.size();
  std::size_t seen = 0;
  while (start > 0 && seen <= count) {
    --start;
    if (text[start] == '\n' && start + 1 < text.size()) ++seen;
  }
  return seen > count ? text.substr(start + 1) : text;
}

void append_line(const fs::path& log, const std::string& line) {
  std::ofstream out(log, std::ios::app);
  out << line << "\n";
}

std::string command_text(const std::vector<std::string>& argv) { return "$ " + join(argv, " "); }

}  // namespace

bool RevisionBuild::built() const { return fs::exists(stamp) && fs::exists(binary); }

RevisionBuild revision_build(const fs::path& cache_root, const std::string& commit,
                             const std::string& build_type) {
  const std::string suffix = build_type == "Release" ? "" : "-" + build_type;
  RevisionBuild b;
  b.commit = commit;
  b.build_type = build_type;
  b.root = cache_root / commit;
  b.source = b.root / "src";
  b.build = b.root / ("build" + suffix);
  b.binary = b.build / "cube";
  b.log = b.root / ("build" + suffix + ".log");
  b.stamp = b.root / ("built" + suffix);
  return b;
}

void build_revision(const fs::path& repo, const RevisionBuild& build, const std::string& label,
                    unsigned jobs) {
  fs::create_directories(build.root);
  const std::string short_sha = build.commit.substr(0, 12);
  auto step = [&](const std::string& what, const std::vector<std::string>& argv,
                  const fs::path& cwd,
                  const std::vector<std::pair<std::string, std::string>>& env = {}) {
    append_line(build.log, command_text(argv));
    const int status = run_process({argv, cwd, build.log, true, env});
    if (status != 0)
      throw BuildError("revision " + label + " (" + short_sha + ") failed to " + what + " (exit " +
                           std::to_string(status) + "); build log: " + build.log.string() +
                           "\n--- last lines of the log ---\n" + last_lines(build.log, 20),
                       build.log);
  };
  if (!fs::exists(build.source / ".git")) {
    // A worktree directory deleted by hand stays registered until pruned; re-adding it then fails.
    step("prune stale worktrees", {"git", "-C", repo.string(), "worktree", "prune"}, repo);
    fs::remove_all(build.source);
    step("check out",
         {"git", "-C", repo.string(), "worktree", "add", "--detach", "--force",
          build.source.string(), build.commit},
         repo);
  }
  std::vector<std::string> configure = {"cmake",
                                        "-S",
                                        build.source.string(),
                                        "-B",
                                        build.build.string(),
                                        "-DCMAKE_BUILD_TYPE=" + build.build_type,
                                        "-DCUBE_BUILD_TESTS=OFF",
                                        "-DCUBE_BUILD_BENCH=OFF"};
  if (find_on_path("ninja")) configure.insert(configure.begin() + 1, {"-G", "Ninja"});
  std::vector<std::pair<std::string, std::string>> env;
  if (auto ccache = find_on_path("ccache")) {
    configure.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=" + ccache->string());
    // Paths under the cache root become relative, so every commit's worktree hits the same
    // cache entries for unchanged files (ccache's base_dir).
    if (std::getenv("CCACHE_BASEDIR") == nullptr)
      env.emplace_back("CCACHE_BASEDIR", build.root.parent_path().string());
  }
  if (!fs::exists(build.build / "CMakeCache.txt")) step("configure", configure, build.root, env);
  step("build the cube target",
       {"cmake", "--build", build.build.string(), "--target", "cube", "-j",
        std::to_string(jobs == 0 ? 1 : jobs)},
       build.root, env);
  std::ofstream(build.stamp) << build.commit << "\n";
}

std::vector<PlannedJob> plan_with_binary(const fs::path& binary, const fs::path& cwd,
                                         const fs::path& sweep) {
  const fs::path out = fs::temp_directory_path() /
                       ("cube_plan_" + std::to_string(::getpid()) + "_" +
                        std::to_string(std::hash<std::string>{}(binary.string())) + ".json");
  const auto [status, text] =
      capture({binary.string(), "plan", sweep.string(), "-o", out.string()}, cwd, true);
  if (status != 0) {
    fs::remove(out);
    throw ConfigError(SourceLocation{sweep.string()}, "the revision's cube (" + binary.string() +
                                                          ") cannot expand this sweep " + "(exit " +
                                                          std::to_string(status) + "):\n" + text);
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_whole_file(out));
  } catch (const nlohmann::json::exception& e) {
    fs::remove(out);
    throw ConfigError(SourceLocation{out.string()},
                      std::string("the revision's plan is not JSON: ") + e.what());
  }
  fs::remove(out);
  std::vector<PlannedJob> jobs;
  for (const auto& job : json.at("jobs"))
    jobs.push_back(
        {job.at("problem").get<std::string>() + "/" + job.at("solver").get<std::string>(),
         job.at("seed").get<std::uint64_t>()});
  return jobs;
}

std::size_t count_lacking(const ResultStore& store, const std::string& build_key,
                          const std::vector<PlannedJob>& jobs, std::int64_t repeats) {
  std::size_t lacking = 0;
  for (const PlannedJob& job : jobs)
    for (std::int64_t r = 0; r < repeats; ++r)
      if (!store.job_status(build_key, job.cell, job.seed, r)) ++lacking;
  return lacking;
}

std::set<std::string> cells_of(const std::vector<PlannedJob>& jobs) {
  std::set<std::string> cells;
  for (const PlannedJob& job : jobs) cells.insert(job.cell);
  return cells;
}

int run_sweep_with(const RevisionBuild& build, const fs::path& sweep, const fs::path& store,
                   const SweepRunOptions& options) {
  const std::vector<std::string> argv = {build.binary.string(),
                                         "run",
                                         sweep.string(),
                                         "--store",
                                         store.string(),
                                         "--repeat",
                                         std::to_string(options.repeat),
                                         "--jobs",
                                         std::to_string(options.jobs)};
  std::vector<std::string> args = argv;
  // The child's progress bar shows on a terminal; elsewhere its closing line would only add noise.
  if (!::isatty(STDERR_FILENO)) args.push_back("--quiet");
  append_line(build.root / "run.log", command_text(args));
  return run_process({args, build.source, build.root / "run.log", false, {}});
}

fs::path sweep_file_at(const fs::path& repo, const fs::path& cache_root, const std::string& commit,
                       const fs::path& path) {
  const std::string spec = commit + ":" + path.generic_string();
  const auto [status, text] = capture({"git", "-C", repo.string(), "show", spec}, repo, false);
  if (status != 0)
    throw ConfigError(SourceLocation{"--sweep-at"},
                      "commit " + commit.substr(0, 12) + " has no file " + path.generic_string());
  const fs::path out = cache_root / "sweeps" / commit / path;
  fs::create_directories(out.parent_path());
  std::ofstream(out, std::ios::binary) << text;
  return out;
}

namespace {

// The jobs of `sweep` as this binary expands it; nullopt when this binary rejects the file (the
// revision's own binary may well accept it).
std::optional<std::vector<PlannedJob>> plan_here(const fs::path& sweep) {
  try {
    std::vector<PlannedJob> jobs;
    for (const Job& job : load_plan(sweep, {}).jobs) jobs.push_back({job.cell(), job.seed});
    return jobs;
  } catch (const ConfigError&) {
    return std::nullopt;
  }
}

// One commit's state while its rows are being made.
struct RevisionWork {
  Revision revision;
  RevisionBuild build;
  std::vector<std::optional<std::vector<PlannedJob>>> jobs;  // per sweep; nullopt = unknown
  std::vector<std::size_t> lacking;                          // per sweep

  std::string name() const { return revision.label + " (" + revision.commit.substr(0, 12) + ")"; }
  bool lacks() const {
    for (std::size_t i = 0; i < jobs.size(); ++i)
      if (!jobs[i] || lacking[i] > 0) return true;
    return false;
  }
};

void count_work(RevisionWork& work, const std::vector<fs::path>& sweeps, const ResultStore& store,
                std::int64_t repeat) {
  work.jobs.clear();
  work.lacking.clear();
  for (const fs::path& sweep : sweeps) {
    work.jobs.push_back(work.build.built()
                            ? plan_with_binary(work.build.binary, work.build.source, sweep)
                            : plan_here(sweep));
    work.lacking.push_back(
        work.jobs.back() ? count_lacking(store, work.build.build_key(), *work.jobs.back(), repeat)
                         : 0);
  }
}

// Runs what lacks, repetition by repetition, alternating revisions in ABBA order (repeat 1 at A
// then B, repeat 2 at B then A, ...): a drift of the machine's speed during the diff, or an
// advantage of running first or second, then lands on both sides alike instead of looking like a
// change. (Identical binaries ran A-then-B 25 % apart, p = 0.007, in one CI run.) Each call of a
// revision's binary runs only the jobs whose repetitions below `r` lack (the rest are stored), so
// the calls together run each lacking job exactly once.
void run_interleaved(const std::vector<RevisionWork>& work, const std::vector<fs::path>& sweeps,
                     const ResultStore& store, const EnsureRowsOptions& options,
                     const std::function<void(const std::string&)>& say) {
  std::size_t total = 0;
  for (const RevisionWork& w : work)
    for (std::size_t lacking : w.lacking) total += lacking;
  std::size_t done = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t r = 1; r <= options.run.repeat; ++r) {
    // A B, then B A: whatever favours the first (or second) run of a pair favours each side
    // equally often.
    std::vector<const RevisionWork*> order;
    for (const RevisionWork& w : work) order.push_back(&w);
    if (r % 2 == 0) std::reverse(order.begin(), order.end());
    for (const RevisionWork* pw : order) {
      const RevisionWork& w = *pw;
      for (std::size_t i = 0; i < sweeps.size(); ++i) {
        if (w.lacking[i] == 0) continue;
        const std::size_t runs = count_lacking(store, w.build.build_key(), *w.jobs[i], r);
        if (runs == 0) continue;
        std::string eta = "";
        if (done > 0) {
          const double elapsed =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          eta =
              ", ETA " +
              std::to_string(static_cast<long>(
                  elapsed / static_cast<double>(done) * static_cast<double>(total - done) + 0.5)) +
              " s";
        }
        say("running " + sweeps[i].filename().string() + " at " + w.name() + ", repeat " +
            std::to_string(r) + "/" + std::to_string(options.run.repeat) + ": " +
            std::to_string(runs) + " job runs (" + std::to_string(done) + "/" +
            std::to_string(total) + " done" + eta + ")");
        SweepRunOptions run = options.run;
        run.repeat = r;
        const int status = run_sweep_with(w.build, sweeps[i], store.path(), run);
        if (status != 0 && status != 1)
          throw ConfigError(SourceLocation{sweeps[i].string()},
                            "the sweep did not run at " + w.name() + " (exit " +
                                std::to_string(status) +
                                "); its table log: " + (w.build.root / "run.log").string());
        done += runs;
      }
    }
  }
}

}  // namespace

std::vector<std::set<std::string>> ensure_sweep_rows(const fs::path& repo,
                                                     const fs::path& cache_root,
                                                     const std::vector<Revision>& revisions,
                                                     const std::vector<fs::path>& sweeps,
                                                     const ResultStore& store,
                                                     const EnsureRowsOptions& options) {
  std::vector<RevisionWork> work;
  for (const Revision& revision : revisions) {
    bool seen = false;
    for (const RevisionWork& w : work) seen = seen || w.revision.commit == revision.commit;
    if (seen) continue;
    work.push_back(
        {revision, revision_build(cache_root, revision.commit, options.build_type), {}, {}});
    count_work(work.back(), sweeps, store, options.run.repeat);
  }
  auto say = [&](const std::string& line) {
    if (options.progress) *options.progress << "cube diff: " << line << std::endl;
  };
  for (RevisionWork& w : work) {
    if (!w.lacks() || w.build.built()) continue;
    say("building " + w.name() + " in " + w.build.root.string() + " (log: " + w.build.log.string() +
        ")");
    const auto start = std::chrono::steady_clock::now();
    build_revision(repo, w.build, w.revision.label, options.build_jobs);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    say("built " + w.name() + " in " + std::to_string(static_cast<long>(seconds + 0.5)) + " s");
    count_work(w, sweeps, store, options.run.repeat);
  }
  run_interleaved(work, sweeps, store, options, say);
  std::vector<std::set<std::string>> cells;
  for (const Revision& revision : revisions) {
    std::set<std::string> these;
    for (const RevisionWork& w : work)
      if (w.revision.commit == revision.commit)
        for (const auto& jobs : w.jobs)
          if (jobs) these.merge(cells_of(*jobs));
    cells.push_back(std::move(these));
  }
  return cells;
}

}  // namespace cube
