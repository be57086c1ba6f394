// cube/experiments/revisions.h: a commit's own `cube`, built once in a cached git worktree, and
// sweeps run with it into the caller's results store (what `cube diff REV_A REV_B SWEEP` needs).
//
// Layout, per commit, under a cache root (`cube diff` uses <git toplevel>/.cube/builds), for the
// build type T of the cube that asks (Release for the README's build; S = "" for Release, "-T"
// otherwise, so that a Debug cube's diff compares Debug builds without touching the Release ones):
//   <root>/<sha>/src          `git worktree add --detach` at the commit (never edited)
//   <root>/<sha>/build<S>     CMake build tree: type T, Ninja when on PATH, tests and benches off,
//                             ccache as compiler launcher when on PATH (CCACHE_BASEDIR=<root>, so
//                             the worktrees of different commits share cached objects)
//   <root>/<sha>/build<S>.log every configure and build line, appended
//   <root>/<sha>/run.log      the tables the sweeps printed
//   <root>/<sha>/built<S>     stamp written after a successful build of the `cube` target
// A commit's sources never change, so a built commit is never built again.
//
// Rows written by a revision's binary carry its own provenance: the worktree is a clean checkout,
// so their build key is "<sha>/T" (provenance.h), the key the lacking-jobs count uses; rows the
// user stored with a clean build of the same type at that commit count as well.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/process.h"
#include "experiments/store.h"

namespace cube {

// A revision that failed to build: what() names the revision, the step and the log file.
class BuildError : public std::runtime_error {
 public:
  BuildError(const std::string& message, std::filesystem::path log)
      : std::runtime_error(message), log_(std::move(log)) {}
  const std::filesystem::path& log() const { return log_; }

 private:
  std::filesystem::path log_;
};

struct RevisionBuild {
  std::string commit;            // full sha
  std::string build_type;        // CMAKE_BUILD_TYPE: "Release", "Debug", ...
  std::filesystem::path root;    // <cache root>/<sha>
  std::filesystem::path source;  // root/src
  std::filesystem::path build;   // root/build
  std::filesystem::path binary;  // build/cube
  std::filesystem::path log;     // root/build<S>.log
  std::filesystem::path stamp;   // root/built<S>

  // The build key of the rows its binary stores (clean checkout, build_type).
  std::string build_key() const { return commit + "/" + build_type; }
  // True once a build of the `cube` target succeeded (the stamp exists).
  bool built() const;
};

// The paths of `commit`'s build of type `build_type` under `cache_root`; touches nothing.
RevisionBuild revision_build(const std::filesystem::path& cache_root, const std::string& commit,
                             const std::string& build_type = "Release");

// Adds the worktree (pruning a stale registration of it first) unless it is there, configures and
// builds the `cube` target with `jobs` parallel compiles, then writes the stamp. Output goes to
// the log. Throws BuildError naming `label`, the failed step and the log when a step fails.
void build_revision(const std::filesystem::path& repo, const RevisionBuild& build,
                    const std::string& label, unsigned jobs);

// One job of a sweep as a revision's binary expands it.
struct PlannedJob {
  std::string cell;  // "<problem spec>/<solver spec>", as stored
  std::uint64_t seed = 0;
};

// The jobs of `sweep` as expanded by `binary` (`binary plan SWEEP -o FILE`, run in `cwd`).
// Throws ConfigError with the binary's own message when it rejects the file.
std::vector<PlannedJob> plan_with_binary(const std::filesystem::path& binary,
                                         const std::filesystem::path& cwd,
                                         const std::filesystem::path& sweep);

// How many (job, repeat) pairs with repeat in [0, repeats) have no stored rows under build_key.
// O(jobs x repeats) indexed lookups.
std::size_t count_lacking(const ResultStore& store, const std::string& build_key,
                          const std::vector<PlannedJob>& jobs, std::int64_t repeats);

// The distinct cells of `jobs`.
std::set<std::string> cells_of(const std::vector<PlannedJob>& jobs);

struct SweepRunOptions {
  std::int64_t repeat = 5;  // runs of each (cell, seed)
  std::int64_t jobs = 1;    // cells in parallel (1 keeps wall times apart)
};

// Runs `build.binary run SWEEP --store STORE --repeat R --jobs J` in the worktree; its table goes
// to root/run.log, its progress bar and errors to this process's stderr. Returns its exit status
// (0 all cells ok, 1 some cell failed; anything else means the sweep did not run).
int run_sweep_with(const RevisionBuild& build, const std::filesystem::path& sweep,
                   const std::filesystem::path& store, const SweepRunOptions& options);

// The text of `path` (relative to the repository root) at commit `commit`, written to
// <cache_root>/sweeps/<sha>/<path> and returned as that file. Throws ConfigError when the commit
// has no such file.
std::filesystem::path sweep_file_at(const std::filesystem::path& repo,
                                    const std::filesystem::path& cache_root,
                                    const std::string& commit, const std::filesystem::path& path);

// A revision named on the command line.
struct Revision {
  std::string label;   // what the user typed: "HEAD~1", "main"
  std::string commit;  // full sha
};

struct EnsureRowsOptions {
  SweepRunOptions run;
  std::string build_type = "Release";  // of the revisions' builds (the asking cube's own)
  unsigned build_jobs = 1;             // parallel compiles of a build
  std::ostream* progress = nullptr;    // "building ...", "running ..." lines; null = silent
};

// Makes `store` hold, for every revision, the rows of every job of `sweeps` x repeat under the
// revision's build key, building (build_revision) and running (run_sweep_with) only what lacks:
//   1. per revision, the lacking jobs are counted with the sweep as its cached binary expands it,
//      or, before it is built, as this binary expands it (a revision whose own expansion differs
//      is built and then finds its rows itself);
//   2. every revision that lacks jobs and is not built is built, all before anything runs, so a
//      revision that fails to build (BuildError) leaves the store untouched;
//   3. the sweeps run at each revision that lacks jobs, one repetition at a time, alternating
//      revisions in ABBA order (repeat 1 at A then B, repeat 2 at B then A, ...), so that a
//      drift of the machine's speed or an order effect lands on both sides; a binary that exits
//      other than 0 (all cells ok) or 1 (some cell failed, rows stored) throws ConfigError naming
//      the revision.
// Returns, per revision, the cells its sweeps expand to (to keep a diff to those cells).
// Revisions naming the same commit are handled once.
std::vector<std::set<std::string>> ensure_sweep_rows(
    const std::filesystem::path& repo, const std::filesystem::path& cache_root,
    const std::vector<Revision>& revisions, const std::vector<std::filesystem::path>& sweeps,
    const ResultStore& store, const EnsureRowsOptions& options);

}  // namespace cube
