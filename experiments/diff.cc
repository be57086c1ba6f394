// Compares the stored rows of two commits: exact for deterministic metrics, by a Mann-Whitney U
// test for noisy ones. Not here: choosing which rows a commit has (store.cc rows_for_commit) or
// rendering (table.cc).

#include "experiments/diff.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "experiments/report.h"
#include "experiments/stats.h"

namespace cube {
namespace {

struct NoisyValues {
  std::vector<double> values;
  std::string worst_status;
  bool present = false;
  std::set<std::string> machines;  // Provenance::machine of the values' runs, "" left out
};

// One side of the diff, indexed.
struct Indexed {
  std::set<std::string> cells;
  std::map<std::tuple<std::string, std::uint64_t, std::string>, const StoredRow*> exact;
  std::map<std::pair<std::string, std::string>, NoisyValues> noisy;  // (cell, metric)
  bool dirty = false;
  std::set<std::string> machines;  // of every row's run, "" (stores older than the field) left out
};

Indexed index_side(const DiffSide& side, const std::set<std::string>& noisy_metrics) {
  Indexed out;
  for (const StoredRow& row : side.rows) {
    out.cells.insert(row.cell);
    out.dirty = out.dirty || row.git_dirty;
    if (!row.machine.empty()) out.machines.insert(row.machine);
    if (noisy_metrics.count(row.metric)) {
      NoisyValues& n = out.noisy[{row.cell, row.metric}];
      if (!row.machine.empty()) n.machines.insert(row.machine);
      if (!n.present || status_severity(row.status) > status_severity(n.worst_status))
        n.worst_status = row.status;
      n.present = true;
      if (row.value && !std::isnan(*row.value)) n.values.push_back(*row.value);
      continue;
    }
    // Deterministic metrics are compared at one repetition: the lowest stored (repeat 0).
    auto [it, inserted] = out.exact.try_emplace({row.cell, row.seed, row.metric}, &row);
    if (!inserted && row.repeat < it->second->repeat) it->second = &row;
  }
  return out;
}

Value optional_value(const std::optional<double>& x) { return x ? Value(*x) : Value(); }

bool same_value(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a || !b) return !a && !b;
  return *a == *b || (std::isnan(*a) && std::isnan(*b));
}

std::string range_text(const std::vector<double>& values) {
  if (values.empty()) return "n/a";
  auto [low, high] = std::minmax_element(values.begin(), values.end());
  return "[" + readable(*low) + ", " + readable(*high) + "]";
}

std::string short_sha(const std::string& commit) {
  return commit.empty() ? "no commit" : commit.substr(0, 12);
}

// A table row before sorting: the key orders by cell, numeric seed, "all" last, metric.
struct DiffRow {
  std::string cell;
  bool all_seeds = false;
  std::uint64_t seed = 0;
  std::string metric;
  std::vector<Value> cells;
  std::string verdict;
};

}  // namespace

std::string relative_change(const std::optional<double>& old_value,
                            const std::optional<double>& new_value) {
  if (!old_value || !new_value) return "n/a";
  double a = *old_value;
  double b = *new_value;
  if (a == b) return "0";
  if (!std::isfinite(a) || !std::isfinite(b) || a == 0) return "n/a";
  double percent = (b - a) / std::fabs(a) * 100;
  char text[64];
  // Two decimals hide changes below 0.005%; those still show, with three significant digits.
  std::snprintf(text, sizeof text, std::fabs(percent) >= 0.01 ? "%+.2f%%" : "%+.3g%%", percent);
  return text;
}

namespace {

// Deterministic metrics: one row per (cell, seed, metric) key of the cells both sides have.
std::vector<DiffRow> exact_rows(const DiffSide& a, const DiffSide& b, const Indexed& old_side,
                                const Indexed& new_side) {
  std::vector<DiffRow> rows;
  std::set<std::tuple<std::string, std::uint64_t, std::string>> exact_keys;
  for (const Indexed* side : {&old_side, &new_side})
    for (const auto& [key, row] : side->exact)
      if (old_side.cells.count(std::get<0>(key)) && new_side.cells.count(std::get<0>(key)))
        exact_keys.insert(key);
  for (const auto& key : exact_keys) {
    auto o = old_side.exact.find(key);
    auto n = new_side.exact.find(key);
    const StoredRow* old_row = o == old_side.exact.end() ? nullptr : o->second;
    const StoredRow* new_row = n == new_side.exact.end() ? nullptr : n->second;
    std::optional<double> old_value = old_row ? old_row->value : std::nullopt;
    std::optional<double> new_value = new_row ? new_row->value : std::nullopt;
    DiffRow row;
    std::tie(row.cell, row.seed, row.metric) = key;
    if (!old_row || !new_row)
      row.verdict = "only in " + (old_row ? a.label : b.label);
    else if (old_row->status != new_row->status)
      row.verdict = "status " + old_row->status + " -> " + new_row->status;
    else
      row.verdict = same_value(old_value, new_value) ? "same" : "changed";
    row.cells = {optional_value(old_value), optional_value(new_value),
                 (old_row && new_row) ? relative_change(old_value, new_value) : "n/a",
                 std::string(), std::string()};
    rows.push_back(std::move(row));
  }

  return rows;
}

// The verdict on a noisy metric (diff.h): a status change, else "machines differ" when the values
// were measured on more than one kind of machine, else higher / lower (slower / faster for wall
// time) when the U test's p < alpha and the medians moved by more than the threshold, else "~".
std::string noisy_verdict(const std::string& metric, const NoisyValues& old_values,
                          const NoisyValues& new_values, const std::optional<double>& old_median,
                          const std::optional<double>& new_median, double p_value,
                          const DiffOptions& options) {
  if (old_values.worst_status != new_values.worst_status)
    return "status " + old_values.worst_status + " -> " + new_values.worst_status;
  if (!old_median || !new_median) return !old_median && !new_median ? "same" : "changed";
  std::set<std::string> machines = old_values.machines;
  machines.insert(new_values.machines.begin(), new_values.machines.end());
  if (machines.size() > 1) return "machines differ";
  const double moved = *old_median == 0
                           ? (*new_median == 0 ? 0.0 : std::numeric_limits<double>::infinity())
                           : std::fabs(*new_median - *old_median) / std::fabs(*old_median);
  if (!(p_value < options.alpha) || !(moved > options.threshold)) return "~";
  const bool time = metric == "wall_time";
  if (*new_median > *old_median) return time ? "slower" : "higher";
  return time ? "faster" : "lower";
}

// Noisy metrics: one row per (cell, metric) over every seed and repeat; *few_values is set when
// a side has fewer than 4 values of one (too few for p < 0.05).
void add_noisy_rows(const DiffSide& a, const DiffSide& b, const Indexed& old_side,
                    const Indexed& new_side, const DiffOptions& options, std::vector<DiffRow>& rows,
                    bool* few_values) {
  std::set<std::pair<std::string, std::string>> noisy_keys;
  for (const Indexed* side : {&old_side, &new_side})
    for (const auto& [key, values] : side->noisy)
      if (old_side.cells.count(key.first) && new_side.cells.count(key.first))
        noisy_keys.insert(key);
  for (const auto& key : noisy_keys) {
    auto o = old_side.noisy.find(key);
    auto n = new_side.noisy.find(key);
    DiffRow row;
    row.cell = key.first;
    row.metric = key.second;
    row.all_seeds = true;
    if (o == old_side.noisy.end() || n == new_side.noisy.end()) {
      const NoisyValues& only = o == old_side.noisy.end() ? n->second : o->second;
      std::optional<double> m =
          only.values.empty() ? std::nullopt : std::optional<double>(median(only.values));
      bool old_only = n == new_side.noisy.end();
      row.cells = {
          old_only ? optional_value(m) : Value(), old_only ? Value() : optional_value(m),
          std::string("n/a"),
          (old_only ? range_text(only.values) + " -> n/a" : "n/a -> " + range_text(only.values)),
          std::string()};
      row.verdict = "only in " + (old_only ? a.label : b.label);
      rows.push_back(std::move(row));
      continue;
    }
    const std::vector<double>& ov = o->second.values;
    const std::vector<double>& nv = n->second.values;
    std::optional<double> old_median = ov.empty() ? std::nullopt : std::optional(median(ov));
    std::optional<double> new_median = nv.empty() ? std::nullopt : std::optional(median(nv));
    std::string counts = ov.size() == nv.size() ? "(n=" + std::to_string(ov.size()) + ")"
                                                : "(n=" + std::to_string(ov.size()) + " -> " +
                                                      std::to_string(nv.size()) + ")";
    const MannWhitney test = mann_whitney_u(ov, nv);
    row.cells = {optional_value(old_median), optional_value(new_median),
                 relative_change(old_median, new_median),
                 range_text(ov) + " -> " + range_text(nv) + " " + counts,
                 (ov.empty() || nv.empty()) ? Value() : Value(test.p_value)};
    if (ov.size() < 4 || nv.size() < 4) *few_values = true;
    row.verdict = noisy_verdict(row.metric, o->second, n->second, old_median, new_median,
                                test.p_value, options);
    rows.push_back(std::move(row));
  }
}

// The notes under the table: verdict counts, empty sides, one-sided cells, dirty trees.
void add_notes(Table& table, const DiffSide& a, const DiffSide& b, const Indexed& old_side,
               const Indexed& new_side, const std::map<std::string, std::size_t>& verdict_counts,
               std::size_t row_count, bool few_noisy_values) {
  if (row_count > 0) {
    std::string summary;
    for (const auto& [verdict, count] : verdict_counts)
      summary += (summary.empty() ? "" : ", ") + std::to_string(count) + " " + verdict;
    table.notes.push_back(std::to_string(row_count) + " rows: " + summary);
  }
  for (const auto& [side, other] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    if (side->rows.empty()) {
      table.notes.push_back("no rows stored for " + side->label + " (" + short_sha(side->commit) +
                            ")");
      continue;
    }
    // With the other side empty every cell is one-sided; the note above already says why.
    if (other->rows.empty()) continue;
    const Indexed& mine = side == &a ? old_side : new_side;
    const Indexed& theirs = side == &a ? new_side : old_side;
    for (const std::string& cell : mine.cells)
      if (!theirs.cells.count(cell)) table.notes.push_back("only in " + side->label + ": " + cell);
  }
  for (const auto& [side, indexed] : {std::pair{&a, &old_side}, std::pair{&b, &new_side}})
    if (indexed->dirty)
      table.notes.push_back(side->label + ": rows from a dirty working tree at " +
                            short_sha(side->commit) + " (uncommitted edits)");
  if (verdict_counts.count("machines differ")) {
    for (const auto& [side, indexed] : {std::pair{&a, &old_side}, std::pair{&b, &new_side}}) {
      std::string machines;
      for (const std::string& m : indexed->machines) machines += (machines.empty() ? "" : "; ") + m;
      table.notes.push_back(side->label + " ran on " + (machines.empty() ? "?" : machines));
    }
    table.notes.push_back(
        "machines differ: wall times of different machines are not judged; run both revisions on "
        "one machine (a --store per machine keeps each machine's rows apart)");
  }
  if (few_noisy_values)
    table.notes.push_back(
        "noisy metrics with fewer than 4 values on a side cannot reach p < 0.05 (the U test's "
        "smallest p is 0.1 for 3 against 3); add seeds or --repeat");
}

}  // namespace

Table diff_table(const DiffSide& a, const DiffSide& b, const DiffOptions& options) {
  Table table;
  table.title = "metric diff " + a.label + " -> " + b.label;
  const std::vector<std::string> fixed = {"cell",   "seed", "metric", "change",
                                          "spread", "p",    "verdict"};
  bool clash = a.label == b.label || std::count(fixed.begin(), fixed.end(), a.label) ||
               std::count(fixed.begin(), fixed.end(), b.label);
  table.columns = {"cell",
                   "seed",
                   "metric",
                   clash ? a.label + " (old)" : a.label,
                   clash ? b.label + " (new)" : b.label,
                   "change",
                   "spread",
                   "p",
                   "verdict"};

  std::set<std::string> noisy_metrics;
  for (const DiffSide* side : {&a, &b})
    for (const StoredRow& row : side->rows)
      if (!row.deterministic) noisy_metrics.insert(row.metric);
  Indexed old_side = index_side(a, noisy_metrics);
  Indexed new_side = index_side(b, noisy_metrics);

  std::vector<DiffRow> rows = exact_rows(a, b, old_side, new_side);
  bool few_noisy_values = false;
  add_noisy_rows(a, b, old_side, new_side, options, rows, &few_noisy_values);

  std::sort(rows.begin(), rows.end(), [](const DiffRow& x, const DiffRow& y) {
    return std::tie(x.cell, x.all_seeds, x.seed, x.metric) <
           std::tie(y.cell, y.all_seeds, y.seed, y.metric);
  });
  std::map<std::string, std::size_t> verdict_counts;
  for (DiffRow& row : rows) {
    ++verdict_counts[row.verdict];
    Value seed = row.all_seeds ? Value(std::string("all"))
                 : row.seed <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                     ? Value(static_cast<std::int64_t>(row.seed))
                     : Value(std::to_string(row.seed));
    std::vector<Value> line = {row.cell, seed, row.metric};
    line.insert(line.end(), row.cells.begin(), row.cells.end());
    line.push_back(row.verdict);
    table.rows.push_back(std::move(line));
  }

  add_notes(table, a, b, old_side, new_side, verdict_counts, rows.size(), few_noisy_values);
  return table;
}

}  // namespace cube
