// cube/experiments/store.h: the embedded SQLite results store (default <repo>/.cube/results.db).
//
// Two tables: `runs` (one row per `cube run` invocation: its Provenance) and `results` (one row
// per job x value name). A job is (build_key, cell, seed, repeat); its rows are replaced as a
// whole in one transaction, and a UNIQUE index on (build_key, cell, seed, repeat, metric) keeps
// exactly one row per value even when processes crash (kill -9) or several write at once.
// Journal mode WAL with a 60 s busy timeout: sweeps in parallel processes (job arrays on a
// shared filesystem that supports locking) share one file. A `schema_version` table holds the
// layout version; a newer layout is refused rather than misread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/outcome.h"
#include "experiments/provenance.h"

struct sqlite3;

namespace cube {

// One value of one job.
struct ResultRow {
  std::string cell;             // "<problem spec>/<solver spec>"
  std::string problem, solver;  // canonical specs
  std::uint64_t seed = 0;
  std::int64_t repeat = 0;      // 0-based repetition index (--repeat)
  std::string metric;           // value name: "accuracy", "wall_time", "ard", ...
  std::optional<double> value;  // nullopt = n/a (SQL NULL)
  std::string status;           // ok | max_iterations | diverged | timeout | unsupported | error
  std::string message;
  bool deterministic = true;  // false for noisy metrics (wall time)
};

// A stored row with the provenance of the run that wrote it.
struct StoredRow : ResultRow {
  std::int64_t run_id = 0;
  std::string git_commit;
  bool git_dirty = false;
  std::string build_type;
  std::string started_at;
  std::string scheduler_job;  // Provenance::scheduler_job of the run ("" outside a scheduler)
  std::string machine;        // Provenance::machine of the run ("" in stores older than it)
};

// One stored point of a job's learning curve (RunOutcome::curve).
struct StoredCurvePoint {
  std::uint64_t seed = 0;
  std::int64_t repeat = 0;
  std::string series;  // "train_loss", "val_loss"
  std::int64_t step = 0;
  double value = 0;  // NaN where the solver reported a non-finite value
};

// Severity of a status for "worst status" decisions: error > timeout > diverged >
// max_iterations > unsupported > ok; an unknown status ranks just below error.
int status_severity(const std::string& status);

// A store operation that failed after the store was opened: disk full, I/O error, a file
// removed under it. The message names the file and SQLite's reason. Rows committed before stay.
class StoreError : public Error {
 public:
  using Error::Error;
};

class ResultStore {
 public:
  // <git toplevel of work_dir, or work_dir itself outside git>/.cube/results.db
  static std::filesystem::path default_path(const std::filesystem::path& work_dir);

  // Opens (creating the file and schema when missing) the store at `file`. Its folder must exist,
  // except a missing `.cube/` (the default's), which is created with a .gitignore.
  // Throws ConfigError naming the file when it cannot be created, opened or is not a cube store.
  explicit ResultStore(const std::filesystem::path& file);
  ~ResultStore();
  ResultStore(const ResultStore&) = delete;
  ResultStore& operator=(const ResultStore&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Records a run (every provenance field and its build_key) and returns its id (> 0).
  std::int64_t begin_run(const Provenance& p);

  // The worst status (status_severity) among the stored rows of that job; nullopt if not stored.
  std::optional<std::string> job_status(const std::string& build_key, const std::string& cell,
                                        std::uint64_t seed, std::int64_t repeat) const;

  // The stored rows of that job in insertion order (empty if not stored).
  std::vector<ResultRow> job_rows(const std::string& build_key, const std::string& cell,
                                  std::uint64_t seed, std::int64_t repeat) const;

  // The distinct Provenance::machine strings of the runs that stored that job's rows, sorted (""
  // for runs recorded before the store kept machines); empty if not stored.
  std::vector<std::string> job_machines(const std::string& build_key, const std::string& cell,
                                        std::uint64_t seed, std::int64_t repeat) const;

  // In ONE transaction: deletes the stored rows and curve points of every job (build_key, cell,
  // seed, repeat) present in `rows`, then inserts `rows` and the job's learning `curve` (rows of
  // one job only when a curve is given) under run `run_id`. Either all of it lands or none.
  // Throws Error if `rows` names one value twice for a job (the UNIQUE index).
  void write_job(std::int64_t run_id, const std::string& build_key,
                 const std::vector<ResultRow>& rows, const std::vector<CurvePoint>& curve = {});

  // The learning curve points of `cell` stored for the build `build_key` (each job's latest),
  // ordered by seed, repeat, series, step. Curves of other builds (another commit, compiler or
  // build type) never mix in.
  std::vector<StoredCurvePoint> curves(const std::string& build_key, const std::string& cell) const;

  // Rows of runs at `commit` (a full sha). If both clean and dirty rows exist, only clean ones.
  // If several build keys remain, the latest run's row wins per (cell, seed, repeat, metric).
  // Ordered by cell, seed, repeat, then the order the job inserted its values.
  std::vector<StoredRow> rows_for_commit(const std::string& commit) const;

  // Every stored row, ordered by run, then cell, seed, repeat, insertion order.
  std::vector<StoredRow> all_rows() const;

  std::int64_t count_rows() const;

  // Copies every run, row and curve point of the cube store `shard` (one Slurm array task's
  // store) into this one, in ONE transaction: each job (build_key, cell, seed, repeat) of the
  // shard replaces this store's rows and curve of that job, as write_job does, and a run already
  // merged before (same build key, host, start time and command) is not added twice, so merging
  // a shard again changes nothing. Returns the number of result rows copied. Throws ConfigError
  // when `shard` is missing or not a cube store. O(rows of the shard x log rows).
  std::int64_t merge(const std::filesystem::path& shard);

  // Distinct commits having rows, the one of the most recent run first ("" = outside git).
  std::vector<std::string> commits() const;

 private:
  // Rows matching `where` (optionally binding one text parameter), each with its position in
  // its job, ordered by run, cell, seed (unsigned), repeat, position.
  std::vector<std::pair<std::int64_t, StoredRow>> select_rows(const std::string& where,
                                                              const std::string* bind) const;

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;
};

}  // namespace cube
