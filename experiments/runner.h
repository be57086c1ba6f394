// cube/experiments/runner.h: runs jobs (cell x seed x repetition) and stores their rows.
//
// One job, in order:
//   1. instantiate problem, solver and metrics from their canonical specs; problem.generate(seed)
//      (not timed);
//   2. if the solver does not support the problem: rows with status "unsupported", nothing runs;
//   3. the untraced solve, timed alone (wall_time, accuracy and epochs come from it); when a
//      metric needs_energy(), bracketed by the machine's energy counters, whatever the solver
//      (n/a, with the reason in the row's message, without counters or when -j runs several
//      jobs at once);
//   4. if any metric needs the trace: a second, traced solve whose events stream to those
//      metrics; its result must equal the untraced one bit for bit, or the job is an error
//      ("tracing changed the result");
//   5. every metric's finish() -> one row per value.
// Exceptions become rows with status "error" and the message; the sweep goes on.
//
// A sweep runs jobs on a pool of threads (-j). Each job's rows are written in one transaction
// as soon as it ends, so a sweep killed at any moment keeps every finished job, and the re-run
// skips them (same commit and build) unless --force; stored errors and timeouts are retried, and
// a job stored without some value its metrics now report (an earlier sweep of the same cell
// asked for fewer metrics) runs again and replaces its rows.
// Numbers never depend on -j: jobs share nothing, and every random draw comes from the seed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/energy_meter.h"
#include "core/trace.h"
#include "experiments/plan.h"
#include "experiments/provenance.h"
#include "experiments/store.h"
#include "solvers/solver.h"

namespace cube {

struct RunOptions {
  int threads = 1;                             // jobs run in parallel (-j)
  std::int64_t repeat = 1;                     // runs of each (cell, seed) (--repeat)
  bool force = false;                          // re-run jobs already stored (--force)
  std::optional<double> cell_timeout_seconds;  // cooperative deadline per solve (--cell-timeout)
  // The energy counters a job reads when a metric needs energy (tests pass fakes); empty:
  // EnergyMeter::detect() on the real machine.
  std::function<EnergyMeter()> energy_meter;
};

// Statuses that count as a failed job (the CLI exits 1 when any occurred).
bool is_failure(const std::string& status);

// Runs one job, repetition `repeat`. Never throws: failures are rows with their status.
// `curve`, when given, receives the solver's learning curve (empty when it reports none).
std::vector<ResultRow> run_job(const Job& job, std::int64_t repeat, const RunOptions& options,
                               std::vector<CurvePoint>* curve = nullptr);

// One job solved once with a recording tracer (steps 1 and 4 above, untimed, no metrics): its
// whole trace, held in memory, for `cube trace record` and `cube plot`. Throws ConfigError naming
// `source` when the solver does not support the problem.
struct RecordedJob {
  Trace trace;
  SolveStatus status = SolveStatus::kSolved;
};
RecordedJob record_job(const Job& job, const std::string& source);

struct SweepProgress {
  std::size_t done = 0;     // units finished this session (run or skipped)
  std::size_t total = 0;    // units in the plan (jobs x repeat)
  std::size_t failed = 0;   // units whose status is a failure
  std::size_t skipped = 0;  // units found in the store
};

struct SweepResult {
  std::vector<ResultRow> rows;  // every unit's rows, in plan order (stored ones included)
  SweepProgress progress;
  // Units skipped as stored whose rows were measured on another kind of machine than this one
  // (Provenance::machine differs; rows of stores older than that field are not counted): their
  // noisy metrics, wall time first, are that machine's. Per machine string, the count of units.
  std::map<std::string, std::size_t> reused_from_other_machines;
};

// "N stored jobs were measured on another machine (M1; M2), not on this one (M): their wall
// times are that machine's; --force runs them here" for SweepResult::reused_from_other_machines
// (of one sweep, or summed over several), or "" when it is empty.
std::string other_machines_note(const std::map<std::string, std::size_t>& reused,
                                const std::string& this_machine);

// Runs every job of `plan` x repeat, skipping units already stored for `provenance.build_key()`.
// Units start round-robin over the cells: every cell's first seed (first repeat), then every
// cell's next, so that a timed sweep's cells share the machine's drift in speed.
// `on_progress` (optional) is called after each unit, from one thread at a time.
SweepResult run_sweep(const ExperimentPlan& plan, ResultStore& store, const Provenance& provenance,
                      const RunOptions& options,
                      const std::function<void(const SweepProgress&)>& on_progress = {});

}  // namespace cube
