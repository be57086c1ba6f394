// cube/experiments/runner.cc: one job from specs to rows, and a sweep of jobs on a thread pool.
// Not here: parsing (plan.cc), storage (store.cc), printing (report.cc, main.cc).

#include "experiments/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/energy_meter.h"
#include "metrics/metric.h"
#include "problems/problem.h"
#include "solvers/solver.h"

namespace cube {

bool is_failure(const std::string& status) {
  return status == "error" || status == "timeout" || status == "diverged";
}

namespace {

struct JobModules {
  std::unique_ptr<Problem> problem;
  std::unique_ptr<Solver> solver;
  std::vector<std::unique_ptr<Metric>> metrics;
};

JobModules instantiate_job(const Job& job, bool with_metrics = true) {
  JobModules m;
  m.problem = instantiate<Problem>(parse_spec(job.problem), "problem");
  m.solver = instantiate<Solver>(parse_spec(job.solver), "solver");
  if (with_metrics)
    for (const auto& spec : job.metrics)
      m.metrics.push_back(instantiate<Metric>(parse_spec(spec), "metric"));
  return m;
}

std::string unsupported_message(const Solver& solver, const Problem& problem) {
  return "solver '" + solver.name() + "' does not support problem '" + problem.name() + "'";
}

ResultRow base_row(const Job& job, std::int64_t repeat) {
  ResultRow row;
  row.cell = job.cell();
  row.problem = job.problem;
  row.solver = job.solver;
  row.seed = job.seed;
  row.repeat = repeat;
  return row;
}

// The stored name of each value of each metric: the value's own name, or "<metric spec>:<name>"
// when two metrics of the job report the same name (an L1 and an L2 `cache` side by side).
std::vector<std::vector<std::string>> stored_value_names(
    const std::vector<std::unique_ptr<Metric>>& metrics) {
  std::map<std::string, int> uses;
  for (const auto& metric : metrics)
    for (const auto& name : metric->value_names()) ++uses[name];
  std::vector<std::vector<std::string>> names;
  for (const auto& metric : metrics) {
    names.emplace_back();
    for (const auto& name : metric->value_names())
      names.back().push_back(uses[name] > 1 ? metric->spec() + ":" + name : name);
  }
  return names;
}

// Every stored value name of a job with these metric specs.
std::set<std::string> value_names_of(const std::vector<std::string>& metric_specs) {
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const auto& spec : metric_specs)
    metrics.push_back(instantiate<Metric>(parse_spec(spec), "metric"));
  std::set<std::string> names;
  for (const auto& metric_names : stored_value_names(metrics))
    names.insert(metric_names.begin(), metric_names.end());
  return names;
}

// Rows without values, one per metric value name (names from the metric spec when the metrics
// themselves could not be built).
std::vector<ResultRow> rows_without_values(const Job& job, std::int64_t repeat,
                                           const JobModules* modules, const std::string& status,
                                           const std::string& message) {
  std::vector<ResultRow> rows;
  auto add = [&](const std::string& metric, bool deterministic) {
    ResultRow row = base_row(job, repeat);
    row.metric = metric;
    row.status = status;
    row.message = message;
    row.deterministic = deterministic;
    rows.push_back(std::move(row));
  };
  if (modules && modules->metrics.size() == job.metrics.size()) {
    auto names = stored_value_names(modules->metrics);
    for (std::size_t m = 0; m < names.size(); ++m)
      for (const auto& name : names[m]) add(name, modules->metrics[m]->deterministic());
  } else {
    for (const auto& spec : job.metrics) add(parse_spec(spec).name, true);
  }
  return rows;
}

// Why the runner will not measure energy for this job, or "" when it will: package counters
// count every process on the machine, so jobs running side by side would be measured together.
std::string energy_refusal(const RunOptions& options) {
  if (options.threads > 1)
    return "energy is measured only with -j 1: the counters see every job running at once (this "
           "sweep ran " +
           std::to_string(options.threads) + " jobs in parallel)";
  return "";
}

// The untraced solve, bracketed by the machine's energy counters when `measure_energy`; fills
// outcome.solve_seconds and outcome.energy_joules (or energy_unavailable).
SolveResult timed_solve(Solver& solver, const Problem& problem, const RunContext& context,
                        bool measure_energy, const RunOptions& options, RunOutcome& outcome) {
  std::optional<EnergyMeter> meter;
  if (measure_energy) {
    outcome.energy_unavailable = energy_refusal(options);
    if (outcome.energy_unavailable.empty()) {
      meter = options.energy_meter ? options.energy_meter() : EnergyMeter::detect();
      if (!meter->available()) {
        outcome.energy_unavailable = "no readable energy counter on this machine";
        for (const std::string& why : meter->notes()) outcome.energy_unavailable += "; " + why;
        meter.reset();
      } else {
        meter->begin("solve");
      }
    }
  }
  auto start = std::chrono::steady_clock::now();
  SolveResult result = solver.solve(problem, context, nullptr);
  auto stop = std::chrono::steady_clock::now();
  outcome.solve_seconds = std::chrono::duration<double>(stop - start).count();
  if (meter) {
    outcome.energy_joules = meter->end("solve").total();
    if (!outcome.energy_joules) outcome.energy_unavailable = "an energy counter read failed";
  }
  return result;
}

bool same_result(const SolveResult& a, const SolveResult& b) {
  // Measures may hold timings (tokens per second), so only the learning curve is compared.
  return a.status == b.status && a.test_predictions == b.test_predictions && a.epochs == b.epochs &&
         a.secret == b.secret && a.curve == b.curve;
}

}  // namespace

std::vector<ResultRow> run_job(const Job& job, std::int64_t repeat, const RunOptions& options,
                               std::vector<CurvePoint>* curve) {
  JobModules modules;
  try {
    modules = instantiate_job(job);
    Problem& problem = *modules.problem;
    Solver& solver = *modules.solver;
    problem.generate(job.seed);
    if (!solver.supports(problem))
      return rows_without_values(job, repeat, &modules, "unsupported",
                                 unsupported_message(solver, problem));

    auto deadline = [&]() -> std::optional<RunContext::Clock::time_point> {
      if (!options.cell_timeout_seconds) return std::nullopt;
      return RunContext::Clock::now() +
             std::chrono::duration_cast<RunContext::Clock::duration>(
                 std::chrono::duration<double>(*options.cell_timeout_seconds));
    };

    RunContext context(job.seed, deadline());
    const bool measure_energy =
        std::any_of(modules.metrics.begin(), modules.metrics.end(),
                    [](const auto& metric) { return metric->needs_energy(); });
    RunOutcome outcome;
    SolveResult result = timed_solve(solver, problem, context, measure_energy, options, outcome);
    if (problem.scores_predictions()) outcome.accuracy = problem.accuracy(result.test_predictions);
    outcome.epochs = result.epochs;
    outcome.measures = result.measures;
    outcome.curve = result.curve;
    if (curve) *curve = result.curve;

    std::vector<Metric*> traced;
    for (auto& metric : modules.metrics)
      if (metric->needs_trace()) traced.push_back(metric.get());
    if (!traced.empty() && result.status != SolveStatus::kTimedOut) {
      RecordingTracer tracer;
      for (Metric* metric : traced) tracer.add_sink(metric);
      RunContext traced_context(job.seed, deadline());
      SolveResult traced_result = solver.solve(problem, traced_context, &tracer);
      tracer.finish();
      if (traced_result.status == SolveStatus::kTimedOut)
        return rows_without_values(job, repeat, &modules, "timeout",
                                   "the traced solve exceeded --cell-timeout");
      if (!same_result(result, traced_result))
        return rows_without_values(job, repeat, &modules, "error",
                                   "tracing changed the result: the traced and untraced solves "
                                   "differ (a solver bug)");
      outcome.trace_events = tracer.events_recorded();
    }

    std::string status = to_string(result.status);
    std::vector<ResultRow> rows;
    auto names = stored_value_names(modules.metrics);
    for (std::size_t m = 0; m < modules.metrics.size(); ++m) {
      Metric* metric = modules.metrics[m].get();
      std::vector<MetricValue> values = metric->finish(outcome);
      CUBE_CHECK(values.size() == names[m].size(),
                 "metric '" << metric->spec() << "' returned " << values.size()
                            << " values but declares " << names[m].size());
      for (std::size_t v = 0; v < values.size(); ++v) {
        const MetricValue& value = values[v];
        ResultRow row = base_row(job, repeat);
        row.metric = names[m][v];
        row.value = value.value;
        row.status = status;
        row.message = result.message;
        if (!value.value && !value.why_absent.empty())
          row.message =
              result.message.empty() ? value.why_absent : result.message + "; " + value.why_absent;
        row.deterministic = metric->deterministic();
        rows.push_back(std::move(row));
      }
    }
    return rows;
  } catch (const std::exception& e) {
    return rows_without_values(job, repeat, &modules, "error", e.what());
  }
}

RecordedJob record_job(const Job& job, const std::string& source) {
  JobModules modules = instantiate_job(job, false);
  modules.problem->generate(job.seed);
  if (!modules.solver->supports(*modules.problem))
    throw ConfigError(SourceLocation{source},
                      unsupported_message(*modules.solver, *modules.problem));
  RecordingTracer tracer;
  TraceCollector collector;
  tracer.add_sink(&collector);
  RunContext context(job.seed);
  SolveResult result = modules.solver->solve(*modules.problem, context, &tracer);
  tracer.finish();
  return RecordedJob{std::move(collector.trace()), result.status};
}

std::string other_machines_note(const std::map<std::string, std::size_t>& reused,
                                const std::string& this_machine) {
  if (reused.empty()) return "";
  std::size_t units = 0;
  std::string machines;
  for (const auto& [machine, count] : reused) {
    units += count;
    machines += (machines.empty() ? "" : "; ") + machine;
  }
  return std::to_string(units) + (units == 1 ? " stored job was" : " stored jobs were") +
         " measured on another machine (" + machines + "), not on this one (" + this_machine +
         "): " + (units == 1 ? "its" : "their") +
         " wall times are that machine's; --force runs them here";
}

SweepResult run_sweep(const ExperimentPlan& plan, ResultStore& store, const Provenance& provenance,
                      const RunOptions& options,
                      const std::function<void(const SweepProgress&)>& on_progress) {
  const std::string build_key = provenance.build_key();
  const std::int64_t repeat = std::max<std::int64_t>(1, options.repeat);
  const std::size_t units = plan.jobs.size() * static_cast<std::size_t>(repeat);

  SweepResult sweep;
  sweep.progress.total = units;
  std::vector<std::vector<ResultRow>> unit_rows(units);
  std::vector<std::size_t> pending;

  // Stored units are skipped (unless --force) when they hold every value the job's metrics
  // report; stored failures are retried, and a unit stored by a sweep with fewer metrics runs
  // again (write_job replaces its rows, so nothing is duplicated).
  std::map<std::vector<std::string>, std::set<std::string>> wanted_by_metrics;
  for (std::size_t u = 0; u < units; ++u) {
    const Job& job = plan.jobs[u / repeat];
    std::int64_t r = static_cast<std::int64_t>(u % repeat);
    std::optional<std::string> status =
        options.force ? std::nullopt : store.job_status(build_key, job.cell(), job.seed, r);
    if (status && !is_failure(*status)) {
      auto [wanted, fresh] = wanted_by_metrics.try_emplace(job.metrics);
      if (fresh) wanted->second = value_names_of(job.metrics);
      std::vector<ResultRow> rows = store.job_rows(build_key, job.cell(), job.seed, r);
      std::set<std::string> stored;
      for (const ResultRow& row : rows) stored.insert(row.metric);
      if (std::includes(stored.begin(), stored.end(), wanted->second.begin(),
                        wanted->second.end())) {
        unit_rows[u] = std::move(rows);
        for (const std::string& machine : store.job_machines(build_key, job.cell(), job.seed, r))
          if (!machine.empty() && machine != provenance.machine)
            ++sweep.reused_from_other_machines[machine];
        ++sweep.progress.skipped;
        ++sweep.progress.done;
        continue;
      }
    }
    pending.push_back(u);
  }
  // Pending units run round-robin over the cells: the first seed (and repeat) of every cell, then
  // the second, and so on. A VM's speed drifts by 10-30 % over minutes; run cell after cell, that
  // drift lands on whichever cells run last and reads as a difference between processes (issue
  // 15's last cell measured 1.11x the first in cell order; interleaved runs showed no such gap).
  std::vector<std::size_t> round_of_unit(units);
  std::map<std::string, std::size_t> units_seen_of_cell;
  for (std::size_t u = 0; u < units; ++u)
    round_of_unit[u] = units_seen_of_cell[plan.jobs[u / repeat].cell()]++;
  std::stable_sort(pending.begin(), pending.end(), [&](std::size_t a, std::size_t b) {
    return round_of_unit[a] < round_of_unit[b];
  });
  if (on_progress) on_progress(sweep.progress);

  std::int64_t run_id = pending.empty() ? 0 : store.begin_run(provenance);
  const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(pending.size())));
  RunOptions job_options = options;
  job_options.threads = threads;  // jobs that really run side by side (energy needs 1)
  std::atomic<std::size_t> next{0};
  std::mutex progress_mutex;
  // A store that cannot take a job's rows (disk full, I/O error: StoreError, or anything else
  // write_job throws) stops the sweep: no new job starts, the jobs running finish and try to
  // store theirs, and the first error is rethrown once every worker has joined (an exception
  // leaving a std::thread would end the process). Committed rows stay; running again resumes.
  std::exception_ptr store_error;
  auto worker = [&]() {
    while (true) {
      std::size_t i = next.fetch_add(1);
      if (i >= pending.size()) return;
      std::size_t u = pending[i];
      const Job& job = plan.jobs[u / repeat];
      std::vector<CurvePoint> curve;
      std::vector<ResultRow> rows =
          run_job(job, static_cast<std::int64_t>(u % repeat), job_options, &curve);
      try {
        store.write_job(run_id, build_key, rows, curve);
      } catch (...) {
        std::lock_guard lock(progress_mutex);
        if (!store_error) store_error = std::current_exception();
        next = pending.size();
        return;
      }
      bool failed = std::any_of(rows.begin(), rows.end(),
                                [](const ResultRow& row) { return is_failure(row.status); });
      unit_rows[u] = std::move(rows);
      std::lock_guard lock(progress_mutex);
      ++sweep.progress.done;
      sweep.progress.failed += failed;
      if (on_progress) on_progress(sweep.progress);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  if (store_error) std::rethrow_exception(store_error);

  for (auto& rows : unit_rows)
    for (auto& row : rows) sweep.rows.push_back(std::move(row));
  return sweep;
}

}  // namespace cube
