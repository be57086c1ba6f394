// Aggregates result rows per cell for `cube run` and lists stored rows for `cube results`.
// Not here: comparing two commits (diff.cc) or rendering (table.cc).

#include "experiments/report.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <tuple>

namespace cube {
namespace {

constexpr std::size_t kMaxFailureNotes = 20;

using JobKey = std::pair<std::uint64_t, std::int64_t>;  // seed, repeat

struct JobSummary {
  std::string status;   // worst status of the job's rows
  std::string message;  // the message of that row
};

struct CellSummary {
  std::string problem, solver;
  std::vector<JobKey> order;  // first-seen order of jobs
  std::map<JobKey, JobSummary> jobs;
  std::map<std::string, std::vector<double>> values;  // metric -> one value per job that has one
};

// Mean as x0 + mean(x - x0): exactly x0 when all values are equal (a sum then a division would
// turn three 0.1s into 0.10000000000000002), and no cancellation for values far from zero.
double mean(const std::vector<double>& values) {
  double offset = 0;
  for (double x : values) offset += x - values.front();
  return values.front() + offset / static_cast<double>(values.size());
}

Value seed_value(std::uint64_t seed) {
  if (seed <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return static_cast<std::int64_t>(seed);
  return std::to_string(seed);
}

std::string status_text(const CellSummary& cell) {
  std::map<std::string, std::int64_t> counts;
  for (const auto& [key, job] : cell.jobs) ++counts[job.status];
  if (counts.size() == 1) return counts.begin()->first;
  std::vector<std::pair<std::string, std::int64_t>> ordered(counts.begin(), counts.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return status_severity(a.first) < status_severity(b.first);
  });
  std::string out;
  for (const auto& [status, count] : ordered)
    out += (out.empty() ? "" : ", ") + std::to_string(count) + " " + status;
  return out;
}

}  // namespace

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  if (n % 2 == 1) return values[n / 2];
  return values[n / 2 - 1] + (values[n / 2] - values[n / 2 - 1]) / 2;
}

Table summary_table(const std::vector<ResultRow>& rows) {
  std::vector<std::string> cell_order;
  std::map<std::string, CellSummary> cells;
  std::vector<std::string> metric_order;
  std::map<std::string, bool> deterministic;  // metric -> its first row's flag
  for (const ResultRow& row : rows) {
    auto [it, new_cell] = cells.try_emplace(row.cell);
    CellSummary& cell = it->second;
    if (new_cell) {
      cell_order.push_back(row.cell);
      cell.problem = row.problem;
      cell.solver = row.solver;
    }
    JobKey key{row.seed, row.repeat};
    auto [job, new_job] = cell.jobs.try_emplace(key, JobSummary{row.status, row.message});
    if (new_job)
      cell.order.push_back(key);
    else if (status_severity(row.status) > status_severity(job->second.status))
      job->second = JobSummary{row.status, row.message};
    if (deterministic.try_emplace(row.metric, row.deterministic).second)
      metric_order.push_back(row.metric);
    if (row.value) cell.values[row.metric].push_back(*row.value);
  }

  Table table;
  std::size_t jobs = 0;
  for (const auto& [name, cell] : cells) jobs += cell.jobs.size();
  table.title = "results: " + std::to_string(cells.size()) +
                (cells.size() == 1 ? " cell, " : " cells, ") + std::to_string(jobs) +
                (jobs == 1 ? " job" : " jobs");
  table.columns = {"problem", "solver", "runs", "status"};
  for (const auto& metric : metric_order) {
    table.columns.push_back(metric);
    if (!deterministic[metric]) table.columns.push_back(metric + " range");
  }

  std::size_t failures = 0;
  for (const auto& name : cell_order) {
    const CellSummary& cell = cells[name];
    std::vector<Value> line = {cell.problem, cell.solver,
                               static_cast<std::int64_t>(cell.jobs.size()), status_text(cell)};
    for (const auto& metric : metric_order) {
      auto found = cell.values.find(metric);
      bool has = found != cell.values.end() && !found->second.empty();
      if (deterministic[metric]) {
        line.push_back(has ? Value(mean(found->second)) : Value());
        continue;
      }
      if (!has) {
        line.push_back(Value());
        line.push_back(Value());
        continue;
      }
      auto [low, high] = std::minmax_element(found->second.begin(), found->second.end());
      line.push_back(median(found->second));
      std::string range = "[";  // appended piecewise: GCC 12 misreports "[" + string (-Wrestrict)
      range += readable(*low);
      range += ", ";
      range += readable(*high);
      range += "]";
      line.push_back(std::move(range));
    }
    table.rows.push_back(std::move(line));

    for (const JobKey& key : cell.order) {
      const JobSummary& job = cell.jobs.at(key);
      if (job.status == "ok") continue;
      if (++failures > kMaxFailureNotes) continue;
      std::string where = name + " seed " + std::to_string(key.first);
      if (key.second != 0) where += " repeat " + std::to_string(key.second);
      table.notes.push_back(where + ": " + job.status +
                            (job.message.empty() ? "" : ": " + job.message));
    }
  }
  if (failures > kMaxFailureNotes)
    table.notes.push_back("... and " + std::to_string(failures - kMaxFailureNotes) +
                          " more jobs not ok (`cube results` lists every row)");
  return table;
}

Table rows_table(const std::vector<StoredRow>& rows) {
  Table table;
  table.columns = {"commit", "build",  "machine", "cell",   "seed",
                   "repeat", "metric", "value",   "status", "message"};
  for (const StoredRow& row : rows) {
    std::string commit = row.git_commit.substr(0, 12) + (row.git_dirty ? "+dirty" : "");
    // A row written by a Slurm array task names it with its build: "Release slurm 12_3".
    const std::string build =
        row.scheduler_job.empty() ? row.build_type : row.build_type + " slurm " + row.scheduler_job;
    table.rows.push_back({commit, build, row.machine, row.cell, seed_value(row.seed), row.repeat,
                          row.metric, row.value ? Value(*row.value) : Value(), row.status,
                          row.message});
  }
  return table;
}

}  // namespace cube
