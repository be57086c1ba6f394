// cube/experiments/report.h: result rows -> tables for `cube run` (aggregated) and `cube results`.
//
// Aggregation over the seed and repeat axes is first-class (ecosystem survey §2.F): one row per
// cell, deterministic metrics as a mean, noisy ones (wall time) as a median with their range.
#pragma once

#include <vector>

#include "experiments/store.h"
#include "experiments/table.h"

namespace cube {

// The metric table printed after `cube run`. One row per cell (first-seen order); columns:
//   problem, solver,
//   runs    number of distinct (seed, repeat) jobs of the cell,
//   status  "ok" when every job is ok, the status when all jobs share one ("error"), else counts
//           per job status, ok first then by severity: "2 ok, 1 error". A job's status is the
//           worst (status_severity) among its rows;
//   then one column per value name (first-seen order):
//     deterministic  mean over the cell's jobs that have a value (n/a if none);
//     noisy          median over those jobs, followed by a column "<metric> range" = "[min, max]".
// Notes name each job whose status is not ok, with its message (the first 20, then a count).
// O(rows log rows).
Table summary_table(const std::vector<ResultRow>& rows);

// `cube results`: one table row per stored row, in the given order. Columns: commit (12 hex
// digits, "+dirty" suffix for a dirty tree), build, machine (Provenance::machine of the run; ""
// for runs stored before the field), cell, seed, repeat, metric, value, status, message. The
// title is left to the caller.
Table rows_table(const std::vector<StoredRow>& rows);

// Median of a non-empty list (mean of the two middle values for an even count). O(n log n).
double median(std::vector<double> values);

}  // namespace cube
