// cube/experiments/diff.h: the metric tables of two commits side by side, with a verdict per row.
//
// Deterministic metrics (fixed seed -> fixed number) are compared exactly, with no statistics.
// Noisy metrics (wall time) are compared over all seeds and repeats as Google Benchmark's
// compare.py does: a two-sided Mann-Whitney U test (stats.h), its p-value shown, and a direction
// only when p < alpha and the medians moved by more than a threshold; "~" otherwise (benchstat's
// mark for no significant change). Relative change is (new - old) / |old|, as in compare.py.
#pragma once

#include <string>
#include <vector>

#include "experiments/store.h"
#include "experiments/table.h"

namespace cube {

struct DiffOptions {
  double alpha = 0.05;      // significance level of the U test, in (0, 1)
  double threshold = 0.05;  // least relative move of the median that counts, >= 0
};

struct DiffSide {
  std::string label;            // what the user typed: "HEAD~1", "main"
  std::string commit;           // full sha
  std::vector<StoredRow> rows;  // ResultStore::rows_for_commit(commit)
};

// Title "metric diff <a.label> -> <b.label>". Columns: cell, seed, metric, <a.label>, <b.label>
// (" (old)"/" (new)" appended when the labels are equal), change, spread, p, verdict.
//
// Deterministic metrics, one row per (cell, seed, metric) present in a shared cell, repeat 0
// (the lowest repeat stored): old and new values, change "+1.23%" / "-0.5%" ("0" when equal,
// "n/a" when a side is n/a or old is 0), spread "", p "", verdict
//   "status X -> Y"  when the statuses differ,
//   "same"           when the values are equal (n/a = n/a),
//   "changed"        otherwise,
//   "only in <label>" when the other side lacks that seed or metric.
// Noisy metrics, one row per (cell, metric) over all seeds and repeats: seed "all", old and new
// medians, change of the medians, spread "[min, max] -> [min, max] (n=a -> b)" ("(n=a)" when
// equal), p the U test's two-sided p-value of the two sides' values, verdict "status X -> Y"
// (worst statuses differ), "machines differ" (the values' runs name more than one
// Provenance::machine: a timing of one CPU says nothing of a commit on another), "faster"/"slower"
// for wall_time and "higher"/"lower" for other metrics
// when p < options.alpha and |new median - old median| / |old median| > options.threshold, "~"
// otherwise.
// Rows sorted by cell, seed (numeric, "all" last), metric. Notes: a count per verdict; each cell
// present on one side only ("only in <label>: <cell>"); a side with no rows; a side whose rows
// come from a dirty tree; each side's machines when a row says "machines differ"; noisy rows with
// fewer than four values on a side (p < 0.05 needs four).
// O(rows log rows).
Table diff_table(const DiffSide& a, const DiffSide& b, const DiffOptions& options = {});

// "(new-old)/|old|" as "+1.23%", "0" when equal, "n/a" when undefined.
std::string relative_change(const std::optional<double>& old_value,
                            const std::optional<double>& new_value);

}  // namespace cube
