// cube/experiments/main.cc: the `cube` command line, git-style subcommands over
// Boost.ProgramOptions. The only place that decides exit codes: 0 success, 1 some cell failed, 2
// bad usage or input, 3 a revision `cube diff` had to build did not build.

#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/file_read.h"
#include "core/huge_pages.h"
#include "core/trace_binary.h"
#include "core/trace_text.h"
#include "experiments/diff.h"
#include "experiments/html.h"
#include "experiments/ir_score.h"
#include "experiments/plan.h"
#include "experiments/plot.h"
#include "experiments/process.h"
#include "experiments/provenance.h"
#include "experiments/published.h"
#include "experiments/report.h"
#include "experiments/revisions.h"
#include "experiments/runner.h"
#include "experiments/slurm.h"
#include "experiments/store.h"
#include "experiments/table.h"
#include "metrics/bytedmd/bytedmd.h"
#include "metrics/dally/dally_cost.h"
#include "metrics/energy/energy_estimate.h"
#include "metrics/metric.h"
#include "models/gpt/checkpoint.h"
#include "models/gpt/sample.h"
#include "problems/problem.h"
#include "solvers/solver.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace cube {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitCellFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitBuildFailed = 3;
constexpr int kExitStoreFailed = 4;

// Prints an error the way every command does and returns the usage exit code.
int usage_error(const std::string& message, const std::string& command = "") {
  std::cerr << "cube: error: " << message << "\n";
  if (!command.empty()) std::cerr << "See 'cube " << command << " --help'.\n";
  return kExitUsage;
}

// Writes a rendered table to stdout, always ending in a newline.
void print(const std::string& text) {
  std::cout << text;
  if (!text.empty() && text.back() != '\n') std::cout << '\n';
  std::cout.flush();
}

// --- progress bar ------------------------------------------------------------------------------

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}
  void update(const SweepProgress& p) {
    if (!enabled_ || p.total == 0) return;
    auto now = std::chrono::steady_clock::now();
    if (!started_) {
      start_ = now;
      started_ = true;
    }
    double elapsed = std::chrono::duration<double>(now - start_).count();
    std::size_t ran = p.done - p.skipped;
    std::size_t left = p.total - p.done;
    std::string eta = "--";
    if (ran > 0)
      eta = format_seconds(elapsed / static_cast<double>(ran) * static_cast<double>(left));
    constexpr int kWidth = 30;
    int filled = static_cast<int>(kWidth * p.done / p.total);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] %zu/%zu jobs  %zu failed  %zu stored before  ETA %s   ",
                 bar.c_str(), p.done, p.total, p.failed, p.skipped, eta.c_str());
    if (p.done == p.total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  static std::string format_seconds(double s) {
    char buffer[32];
    if (s < 60)
      std::snprintf(buffer, sizeof(buffer), "%.0fs", s);
    else if (s < 3600)
      std::snprintf(buffer, sizeof(buffer), "%dm%02ds", int(s) / 60, int(s) % 60);
    else
      std::snprintf(buffer, sizeof(buffer), "%dh%02dm", int(s) / 3600, int(s) / 60 % 60);
    return buffer;
  }
  bool enabled_;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_;
};

// --- shared option groups ---------------------------------------------------------------------

struct CommonOptions {
  std::string store;
  std::string format = "table";
};

void add_format(po::options_description& desc, std::string& format) {
  desc.add_options()("format", po::value(&format)->default_value("table"),
                     "table | md | csv | json");
}

void add_store_and_format(po::options_description& desc, CommonOptions& common) {
  desc.add_options()("store", po::value(&common.store),
                     "results database (default: .cube/results.db in the git work tree)");
  add_format(desc, common.format);
}

// Job `index` of `plan`; `where` names the argument that gave the index.
const Job& job_at(const ExperimentPlan& plan, std::int64_t index, const std::string& where) {
  if (index < 0 || index >= static_cast<std::int64_t>(plan.jobs.size()))
    throw ConfigError(SourceLocation{where}, "INDEX " + std::to_string(index) +
                                                 " is out of range: the plan has " +
                                                 std::to_string(plan.jobs.size()) + " jobs (0.." +
                                                 std::to_string(plan.jobs.size() - 1) + ")");
  return plan.jobs[static_cast<std::size_t>(index)];
}

fs::path store_path(const CommonOptions& common) {
  return common.store.empty() ? ResultStore::default_path(fs::current_path())
                              : fs::path(common.store);
}

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + std::string(argv[i]);
  return out;
}

// Parses `args` for a subcommand; returns false (after printing help) when --help was given.
bool parse_command(const std::vector<std::string>& args, po::options_description& desc,
                   const po::positional_options_description& positional, po::variables_map& vm,
                   const std::string& synopsis) {
  desc.add_options()("help,h", "show this help");
  po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: " << synopsis << "\n\n" << desc << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

// --- list ---------------------------------------------------------------------------------------

template <class Base>
void add_registry_rows(Table& table, const char* axis) {
  for (const auto* entry : Registry<Base>::instance().entries()) {
    table.rows.push_back({std::string(axis), entry->name, std::string(""), std::string(""),
                          std::string(""), std::string(""), entry->doc});
    for (const auto& p : entry->schema.params)
      table.rows.push_back({std::string(""), std::string(""), p.name,
                            std::string(to_string(p.type)), format_value(p.default_value),
                            p.bounds_text(), p.doc});
  }
}

int cmd_list(const std::vector<std::string>& args) {
  CommonOptions common;
  po::options_description desc("cube list options");
  add_format(desc, common.format);
  po::variables_map vm;
  if (!parse_command(args, desc, {}, vm, "cube list [--format F]")) return kExitOk;
  Format format = parse_format(common.format);
  Table table;
  table.title = "cube modules: one problem x one solver x metrics make a cell";
  table.columns = {"axis", "name", "parameter", "type", "default", "bounds", "doc"};
  add_registry_rows<Problem>(table, "problem");
  add_registry_rows<Solver>(table, "solver");
  add_registry_rows<Metric>(table, "metric");
  table.notes.push_back("write a module as name(key=value,...) or {name: ..., key: value}");
  print(render(table, format));
  return kExitOk;
}

// --- plan ---------------------------------------------------------------------------------------

Table jobs_table(const ExperimentPlan& plan) {
  Table table;
  table.title = plan.source + ": " + std::to_string(plan.cells) + " cells, " +
                std::to_string(plan.jobs.size()) + " jobs";
  table.columns = {"index", "problem", "solver", "seed", "metrics"};
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    const Job& job = plan.jobs[i];
    table.rows.push_back({static_cast<std::int64_t>(i), job.problem, job.solver,
                          static_cast<std::int64_t>(job.seed), join(job.metrics, " ")});
  }
  return table;
}

int cmd_plan(const std::vector<std::string>& args) {
  std::string file, out;
  std::vector<std::string> sets;
  CommonOptions common;
  po::options_description desc("cube plan options");
  desc.add_options()("file", po::value(&file)->required(), "cell or sweep YAML")(
      "set", po::value(&sets)->composing(), "override key=value; key=a,b,c makes a sweep axis")(
      "output,o", po::value(&out), "write the expanded plan as JSON (for run-cell)");
  add_format(desc, common.format);
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm, "cube plan FILE [--set k=v]... [-o plan.json]"))
    return kExitOk;
  Format format = parse_format(common.format);
  ExperimentPlan plan = load_plan(file, sets);
  if (!out.empty()) {
    FILE* f = std::fopen(out.c_str(), "w");
    if (!f) throw ConfigError(SourceLocation{out}, "cannot write the plan file");
    std::string json = plan_to_json(plan);
    std::fwrite(json.data(), 1, json.size(), f);
    std::fclose(f);
    std::cerr << "wrote " << plan.jobs.size() << " jobs to " << out
              << "; run one with: cube run-cell " << out << " INDEX\n";
    return kExitOk;
  }
  print(render(jobs_table(plan), format));
  return kExitOk;
}

// --- run / run-cell -----------------------------------------------------------------------------

struct RunArgs {
  CommonOptions common;
  std::int64_t threads = 0;
  std::int64_t repeat = 1;
  double cell_timeout = 0;
  bool force = false;
  bool quiet = false;
};

void add_run_options(po::options_description& desc, RunArgs& a) {
  desc.add_options()("jobs,j", po::value(&a.threads)->default_value(0),
                     "cells run in parallel (0 = all cores; use 1 for timed repetitions)")(
      "repeat", po::value(&a.repeat)->default_value(1), "runs of each (cell, seed)")(
      "force", po::bool_switch(&a.force), "re-run cells already stored for this commit and build")(
      "cell-timeout", po::value(&a.cell_timeout)->default_value(0),
      "seconds a solve may take before it stops with status timeout (0 = none)")(
      "quiet,q", po::bool_switch(&a.quiet), "no progress bar");
  add_store_and_format(desc, a.common);
}

RunOptions to_run_options(const RunArgs& a) {
  if (a.threads < 0)
    throw ConfigError(
        SourceLocation{"--jobs"},
        std::to_string(a.threads) + " is out of range: give N >= 1, or 0 for all cores");
  if (a.repeat < 1) throw ConfigError(SourceLocation{"--repeat"}, "must be >= 1");
  if (a.cell_timeout < 0) throw ConfigError(SourceLocation{"--cell-timeout"}, "must be >= 0");
  RunOptions options;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  options.threads = a.threads == 0 ? static_cast<int>(cores) : static_cast<int>(a.threads);
  options.repeat = a.repeat;
  options.force = a.force;
  if (a.cell_timeout > 0) options.cell_timeout_seconds = a.cell_timeout;
  return options;
}

int finish_sweep(const SweepResult& sweep, const RunArgs& a, Format format, const fs::path& store,
                 const Provenance& provenance) {
  Table table = summary_table(sweep.rows);
  print(render(table, format));
  const std::string other =
      other_machines_note(sweep.reused_from_other_machines, provenance.machine);
  if (!other.empty()) std::cerr << "cube: note: " << other << "\n";
  if (!a.quiet)
    std::cerr << "stored in " << store.string() << ": "
              << sweep.progress.done - sweep.progress.skipped << " jobs run, "
              << sweep.progress.skipped << " already stored, " << sweep.progress.failed
              << " failed\n";
  return sweep.progress.failed > 0 ? kExitCellFailed : kExitOk;
}

// Prints what a collection merged and which tasks failed; true when none failed.
bool print_collect_report(const CollectReport& report, const fs::path& store) {
  if (report.shards > 0)
    std::cerr << "collected " << report.shards << " Slurm shards (" << report.rows << " rows) into "
              << store.string() << "\n";
  if (report.waiting > 0)
    std::cerr << report.waiting << " shards belong to tasks still running; collect them later\n";
  for (const std::string& failure : report.failures) std::cerr << "cube: Slurm " << failure << "\n";
  return report.failures.empty();
}

// The rows of every job of `plan` x repeat stored under `build_key`, in plan order.
std::vector<ResultRow> stored_plan_rows(const ExperimentPlan& plan, const ResultStore& store,
                                        const std::string& build_key, std::int64_t repeat) {
  std::vector<ResultRow> rows;
  for (const Job& job : plan.jobs)
    for (std::int64_t r = 0; r < repeat; ++r)
      for (ResultRow& row : store.job_rows(build_key, job.cell(), job.seed, r))
        rows.push_back(std::move(row));
  return rows;
}

struct SlurmArgs {
  std::string launcher = "local";
  SlurmOptions options;
  bool no_wait = false;
};

// `cube run FILE --launcher slurm`: collect what earlier batches left, submit the jobs still
// lacking as one array, wait for it with a progress line, collect, print the table.
int run_on_slurm(const ExperimentPlan& plan, const RunArgs& a, const SlurmArgs& s, Format format,
                 const std::string& command) {
  const fs::path path = store_path(a.common);
  ResultStore store(path);
  const fs::path root = slurm_root(path);
  print_collect_report(collect_shards(store, root), path);
  const Provenance provenance = collect_provenance(fs::current_path(), command);
  std::vector<std::size_t> lacking;
  for (std::size_t i = 0; i < plan.jobs.size(); ++i)
    for (std::int64_t r = 0; r < a.repeat; ++r)
      if (a.force ||
          !store.job_status(provenance.build_key(), plan.jobs[i].cell(), plan.jobs[i].seed, r)) {
        lacking.push_back(i);
        break;
      }
  if (!lacking.empty()) {
    SlurmOptions options = s.options;
    options.repeat = a.repeat;
    const SlurmBatch batch = submit_slurm_array(
        plan, lacking, root, fs::canonical("/proc/self/exe"), fs::current_path(), options);
    std::cerr << "submitted Slurm job " << batch.job_id << ": " << batch.jobs << " jobs in "
              << batch.tasks << " array tasks; logs in " << batch.dir.string() << "\n";
    if (s.no_wait) {
      std::cerr << "collect the results with: cube collect --store " << path.string() << "\n";
      return kExitOk;
    }
    const bool tty = isatty(STDERR_FILENO) && !a.quiet;
    SlurmProgress last;
    while (true) {
      const SlurmProgress p = poll_slurm(batch);
      if (!a.quiet &&
          (tty || p.done != last.done || p.failed != last.failed || p.running != last.running)) {
        std::fprintf(stderr, "%sslurm job %s: %zu pending, %zu running, %zu done, %zu failed%s",
                     tty ? "\r" : "", batch.job_id.c_str(), p.pending, p.running, p.done, p.failed,
                     tty ? "   " : "\n");
        std::fflush(stderr);
      }
      last = p;
      if (p.finished()) break;
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    if (tty) std::cerr << "\n";
  } else if (!a.quiet) {
    std::cerr << "every job is stored for this commit and build; nothing to submit\n";
  }
  const bool ok = print_collect_report(collect_shards(store, root), path);
  std::vector<ResultRow> rows = stored_plan_rows(plan, store, provenance.build_key(), a.repeat);
  print(render(summary_table(rows), format));
  bool cell_failed = false;
  for (const ResultRow& row : rows) cell_failed = cell_failed || is_failure(row.status);
  return !ok ? kExitCellFailed : cell_failed ? kExitCellFailed : kExitOk;
}

int cmd_collect(const std::vector<std::string>& args) {
  CommonOptions common;
  po::options_description desc("cube collect options");
  add_store_and_format(desc, common);
  po::positional_options_description positional;
  positional.add("store", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm, "cube collect [STORE]")) return kExitOk;
  const fs::path path = store_path(common);
  ResultStore store(path);
  const CollectReport report = collect_shards(store, slurm_root(path));
  if (report.shards == 0 && report.failures.empty() && report.waiting == 0)
    std::cerr << "nothing to collect in " << slurm_root(path).string() << "\n";
  return print_collect_report(report, path) ? kExitOk : kExitCellFailed;
}

int cmd_run(const std::vector<std::string>& args, const std::string& command) {
  std::string file;
  std::vector<std::string> sets;
  bool dry_run = false;
  RunArgs a;
  SlurmArgs s;
  po::options_description desc("cube run options");
  desc.add_options()("file", po::value(&file)->required(), "cell or sweep YAML, or a JSON plan")(
      "set", po::value(&sets)->composing(),
      "override key=value (solver.lr=0.05); key=a,b,c makes a sweep axis")(
      "dry-run", po::bool_switch(&dry_run), "print the expanded jobs and exit")(
      "launcher", po::value(&s.launcher)->default_value("local"),
      "local (this machine's cores) | slurm (a job array; see --partition, --chunk)")(
      "partition", po::value(&s.options.partition), "slurm: partition (default: the cluster's)")(
      "time", po::value(&s.options.time), "slurm: time limit per array task, e.g. 01:00:00")(
      "cpus-per-task", po::value(&s.options.cpus_per_task)->default_value(0),
      "slurm: CPUs per array task, also its OMP_NUM_THREADS (0: not set)")(
      "chunk", po::value(&s.options.chunk)->default_value(1), "slurm: jobs per array task")(
      "no-wait", po::bool_switch(&s.no_wait),
      "slurm: return after submitting; `cube collect` gathers the results later");
  add_run_options(desc, a);
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm, "cube run FILE [--set k=v]... [options]"))
    return kExitOk;
  Format format = parse_format(a.common.format);
  RunOptions options = to_run_options(a);
  if (s.launcher != "local" && s.launcher != "slurm")
    throw ConfigError(SourceLocation{"--launcher"},
                      "unknown launcher '" + s.launcher + "'; valid choices: local, slurm");
  if (s.options.chunk < 1) throw ConfigError(SourceLocation{"--chunk"}, "must be >= 1");
  if (s.options.cpus_per_task < 0)
    throw ConfigError(SourceLocation{"--cpus-per-task"}, "must be >= 0");
  ExperimentPlan plan = load_plan(file, sets);  // validated in full before anything runs
  if (dry_run) {
    print(render(jobs_table(plan), format));
    return kExitOk;
  }
  if (s.launcher == "slurm") return run_on_slurm(plan, a, s, format, command);
  fs::path path = store_path(a.common);
  ResultStore store(path);
  Provenance provenance = collect_provenance(fs::current_path(), command);
  ProgressBar bar(!a.quiet);
  SweepResult sweep =
      run_sweep(plan, store, provenance, options, [&](const SweepProgress& p) { bar.update(p); });
  return finish_sweep(sweep, a, format, path, provenance);
}

// " key=value" for each parameter of job.*field (its problem or solver spec) whose value differs
// in some job of the plan.
std::string differing_params(const ExperimentPlan& plan, const Job& job,
                             const std::string Job::*field) {
  const Spec spec = parse_spec(job.*field);
  std::vector<Spec> others;
  for (const Job& other : plan.jobs) others.push_back(parse_spec(other.*field));
  std::string out;
  for (const auto& [key, value] : spec.params) {
    const bool differs = std::any_of(others.begin(), others.end(), [&](const Spec& other) {
      const auto it = other.params.find(key);
      return it == other.params.end() || it->second.text != value.text;
    });
    if (differs) out += " " + key + "=" + value.text;
  }
  return out;
}

// A job's plot label: the solver's name (after the problem's when the plan has several), the
// parameters that tell it from the plan's other jobs, and the seed.
std::string short_label(const ExperimentPlan& plan, const Job& job) {
  const std::string problem = parse_spec(job.problem).name;
  const bool problems_differ = std::any_of(plan.jobs.begin(), plan.jobs.end(), [&](const Job& o) {
    return parse_spec(o.problem).name != problem;
  });
  return (problems_differ ? problem + " " : "") + parse_spec(job.solver).name +
         differing_params(plan, job, &Job::problem) + differing_params(plan, job, &Job::solver) +
         " seed " + std::to_string(job.seed);
}

DistanceSeries distance_series(const std::string& label, const Trace& trace) {
  DistanceSeries series{label, dally_distance_histogram(trace), 0};
  for (const auto& [distance, reads] : series.reads_at)
    series.cost += static_cast<double>(distance * reads);
  return series;
}

// LRU reuse distances under ByteDMD's live-only stack (metrics.md §6), each buffer at its declared
// element size (bytedmd(bytes_per_element=0)): per octave of byte depth, the bytes read at it.
// Every octave from the first to the last is present (zeros included) and one empty octave closes
// the last, so a step plot draws each bin over its whole width. Cost: the bytedmd value.
DistanceSeries reuse_distance_series(const std::string& label, const Trace& trace) {
  const std::uint32_t unit = common_element_bytes(trace.buffers);
  const ByteDmdResult result = evaluate_bytedmd(
      program_from_trace(trace.buffers, trace.events, unit), unit, DepthRecord::kByteDepthOctaves);
  DistanceSeries series{label, {}, static_cast<double>(result.cost)};
  const auto& octaves = result.reads_by_byte_depth_octave;
  int first = 0, last = -1;
  for (int i = 0; i < 64; ++i) {
    if (octaves[i] == 0) continue;
    if (last < 0) first = i;
    last = i;
  }
  for (int i = first; i <= last; ++i) series.reads_at[std::uint64_t{1} << i] = octaves[i] * unit;
  if (last >= 0 && last < 63) series.reads_at[std::uint64_t{1} << (last + 1)] = 0;
  return series;
}

// The reuse-distance plot's labels, as `cube plot --distance reuse` and report sections draw it.
PlotOptions reuse_plot_options(const std::string& title) {
  PlotOptions options;
  options.title =
      title.empty() ? "LRU reuse distance (bytedmd stack, declared element sizes)" : title;
  options.x_label = "reuse distance (bytes)";
  options.octaves = true;
  options.count_label = "bytes read";
  return options;
}

// The reuse distances of each cell's first job (its trace recorded by a second run).
std::vector<DistanceSeries> first_job_reuse_distances(const ReportSection& section) {
  std::set<std::string> cells;
  std::vector<DistanceSeries> series;
  for (const Job& job : section.plan.jobs)
    if (cells.insert(job.cell()).second)
      series.push_back(reuse_distance_series(short_label(section.plan, job),
                                             record_job(job, section.sweep_file).trace));
  return series;
}

// What `draw` writes to an SVG file, as markup (from "<svg" on: no XML prolog), for an HTML page.
std::string inline_svg(const std::string& name, const std::function<void(const fs::path&)>& draw) {
  const fs::path file =
      fs::temp_directory_path() / ("cube_plot_" + std::to_string(::getpid()) + "_" +
                                   std::to_string(std::hash<std::string>{}(name)) + ".svg");
  draw(file);
  std::ifstream in(file, std::ios::binary);
  std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  fs::remove(file);
  const std::size_t start = svg.find("<svg");
  CUBE_CHECK(start != std::string::npos, "gnuplot wrote no <svg> element to " << file);
  return svg.substr(start);
}

int cmd_report(const std::vector<std::string>& args, const std::string& command) {
  std::string file, output;
  RunArgs a;
  po::options_description desc("cube report options");
  desc.add_options()("spec", po::value(&file)->required(), "report spec YAML")(
      "output,o", po::value(&output),
      "file to write (default: standard output); a .html name implies --format html");
  add_run_options(desc, a);
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm, "cube report SPEC.yaml [-o doc.md] [options]"))
    return kExitOk;
  // Markdown with the plots as image files, or one HTML page with the plots inline as SVG.
  const bool html = a.common.format == "html" ||
                    (vm["format"].defaulted() && fs::path(output).extension() == ".html");
  if (!html && a.common.format != "md" && !vm["format"].defaulted())
    throw ConfigError(SourceLocation{"--format"},
                      "unknown report format '" + a.common.format + "'; valid choices: md, html");
  RunOptions options = to_run_options(a);
  ReportSpec spec = load_report_spec(file);  // every sweep validated before anything runs
  fs::path path = store_path(a.common);
  ResultStore store(path);
  Provenance provenance = collect_provenance(fs::current_path(), command);
  std::vector<std::vector<ResultRow>> rows;
  std::size_t failed = 0;
  // Jobs every section took from the store as another machine measured them, per machine.
  std::map<std::string, std::size_t> reused;
  for (const ReportSection& section : spec.sections) {
    if (!a.quiet) std::cerr << "section: " << section.title << "\n";
    ProgressBar bar(!a.quiet);
    SweepResult sweep = run_sweep(section.plan, store, provenance, options,
                                  [&](const SweepProgress& p) { bar.update(p); });
    failed += sweep.progress.failed;
    rows.push_back(std::move(sweep.rows));
    for (const auto& [machine, count] : sweep.reused_from_other_machines) reused[machine] += count;
  }
  const std::string other = other_machines_note(reused, provenance.machine);
  if (!other.empty()) std::cerr << "cube: note: " << other << "\n";
  // Each figure goes in as a file linked from the document, or inline in an HTML page.
  const fs::path doc_dir = output.empty() ? fs::current_path() : fs::absolute(output).parent_path();
  auto place = [&](const std::string& image, const std::function<void(const fs::path&)>& draw,
                   std::string* svg, std::string* link) {
    if (html) {
      *svg = inline_svg(image, draw);
      return;
    }
    draw(image);
    *link = fs::relative(fs::absolute(image), doc_dir).string();
  };
  for (ReportSection& section : spec.sections) {
    const std::vector<CurveSeries> curves =
        section.curves.empty() ? std::vector<CurveSeries>{}
                               : section_curves(section, store, provenance.build_key());
    if (!curves.empty()) {
      PlotOptions plot_options;
      plot_options.title = section.title;
      plot_options.x_label = "iteration";
      place(
          section.curves, [&](const fs::path& f) { plot_curves(curves, f, plot_options); },
          &section.curves_svg, &section.curves_link);
    }
    if (section.reuse_distances.empty()) continue;
    if (!a.quiet) std::cerr << "reuse distances (traced runs): " << section.title << "\n";
    const std::vector<DistanceSeries> reuse = first_job_reuse_distances(section);
    place(
        section.reuse_distances,
        [&](const fs::path& f) {
          plot_distances(reuse, f, reuse_plot_options("reuse distances: " + section.title));
        },
        &section.reuse_svg, &section.reuse_link);
  }
  std::string doc = render_report(spec, rows, provenance, other);
  if (html) doc = html_page(spec.title.empty() ? "cube report" : spec.title, markdown_to_html(doc));
  if (output.empty()) {
    print(doc);
  } else {
    std::ofstream out(output, std::ios::binary);
    if (!out) throw ConfigError(SourceLocation{output}, "cannot write the report");
    out << doc;
    if (!a.quiet) std::cerr << "wrote " << output << "\n";
  }
  return failed > 0 ? kExitCellFailed : kExitOk;
}

int cmd_sample(const std::vector<std::string>& args) {
  std::string file;
  gpt::SampleOptions options;
  po::options_description desc("cube sample options");
  desc.add_options()("checkpoint", po::value(&file)->required(),
                     "checkpoint written by a char_lm solver (solver.checkpoint=FILE)")(
      "tokens", po::value(&options.tokens)->default_value(500), "chars to generate")(
      "temperature", po::value(&options.temperature)->default_value(0.8),
      "softmax temperature (> 0; lower is more conservative)")(
      "top-k", po::value(&options.top_k)->default_value(200), "keep the k likeliest (0 = all)")(
      "seed", po::value(&options.seed)->default_value(1337), "sampling seed")(
      "prompt", po::value(&options.prompt), "text to start from (default: a newline or '.')");
  po::positional_options_description positional;
  positional.add("checkpoint", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm, "cube sample CHECKPOINT [--tokens N] [options]"))
    return kExitOk;
  print(options.prompt + gpt::sample_text(gpt::load_checkpoint(file), options));
  return kExitOk;
}

int cmd_run_cell(const std::vector<std::string>& args, const std::string& command) {
  std::string file;
  std::int64_t index = -1;
  RunArgs a;
  po::options_description desc("cube run-cell options");
  desc.add_options()("plan", po::value(&file)->required(),
                     "plan file (JSON from `cube plan -o`, or YAML)")(
      "index", po::value(&index)->required(), "job index, 0-based (e.g. $SLURM_ARRAY_TASK_ID)");
  add_run_options(desc, a);
  po::positional_options_description positional;
  positional.add("plan", 1).add("index", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm, "cube run-cell PLAN INDEX [options]"))
    return kExitOk;
  Format format = parse_format(a.common.format);
  RunOptions options = to_run_options(a);
  ExperimentPlan plan = load_plan(file, {});
  ExperimentPlan one = plan;
  one.jobs = {job_at(plan, index, file)};
  one.cells = 1;
  fs::path path = store_path(a.common);
  ResultStore store(path);
  Provenance provenance = collect_provenance(fs::current_path(), command);
  ProgressBar bar(false);
  SweepResult sweep = run_sweep(one, store, provenance, options);
  return finish_sweep(sweep, a, format, path, provenance);
}

// --- results / diff -----------------------------------------------------------------------------

int cmd_results(const std::vector<std::string>& args) {
  CommonOptions common;
  std::string commit;
  bool all = false;
  po::options_description desc("cube results options");
  desc.add_options()("commit", po::value(&commit), "rows of this git revision (default: HEAD)")(
      "all", po::bool_switch(&all), "rows of every commit");
  add_store_and_format(desc, common);
  po::variables_map vm;
  if (!parse_command(args, desc, {}, vm, "cube results [--commit REV | --all] [options]"))
    return kExitOk;
  Format format = parse_format(common.format);
  fs::path path = store_path(common);
  if (!fs::exists(path))
    throw ConfigError(SourceLocation{path.string()},
                      "no results store here yet; run `cube run FILE` first (or pass --store)");
  ResultStore store(path);
  std::vector<StoredRow> rows;
  std::string what = "all commits";
  if (all) {
    rows = store.all_rows();
  } else {
    std::string rev = commit.empty() ? "HEAD" : commit;
    auto sha = resolve_git_rev(fs::current_path(), rev);
    if (!sha) {
      if (!commit.empty())
        throw ConfigError(SourceLocation{"--commit"}, "unknown git revision '" + commit + "'");
      rows = store.all_rows();  // not in a git work tree: everything stored is this checkout's
    } else {
      rows = store.rows_for_commit(*sha);
      what = rev + " (" + sha->substr(0, 12) + ")";
    }
  }
  Table table = rows_table(rows);
  table.title = "stored rows of " + what + " in " + path.string();
  if (rows.empty()) table.notes.push_back("no rows; `cube results --all` shows every commit");
  print(render(table, format));
  return kExitOk;
}

// Keeps the rows of `cells` (all rows when `cells` is empty: nothing to restrict to).
std::vector<StoredRow> rows_of_cells(std::vector<StoredRow> rows,
                                     const std::set<std::string>& cells) {
  if (cells.empty()) return rows;
  std::erase_if(rows, [&](const StoredRow& row) { return !cells.count(row.cell); });
  return rows;
}

struct DiffArgs {
  std::string rev_a, rev_b, sweep_at;
  std::vector<std::string> sweeps;
  EnsureRowsOptions ensure;
  std::int64_t build_jobs = 0;
  bool quiet = false;
};

// The sweep files to run: as given (read from the working tree), or their text at --sweep-at.
std::vector<fs::path> diff_sweep_files(const DiffArgs& d, const fs::path& repo,
                                       const fs::path& cache_root) {
  std::optional<std::string> at;
  if (!d.sweep_at.empty()) {
    at = resolve_git_rev(repo, d.sweep_at);
    if (!at)
      throw ConfigError(SourceLocation{"--sweep-at"}, "unknown git revision '" + d.sweep_at + "'");
  }
  std::vector<fs::path> files;
  for (const std::string& sweep : d.sweeps) {
    const fs::path file = fs::weakly_canonical(fs::absolute(sweep));
    if (!at) {
      if (!fs::is_regular_file(file))
        throw ConfigError(SourceLocation{sweep}, "cannot read: no such sweep file");
      files.push_back(file);
      continue;
    }
    const fs::path relative = file.lexically_relative(fs::weakly_canonical(repo));
    if (relative.empty() || *relative.begin() == "..")
      throw ConfigError(SourceLocation{sweep},
                        "--sweep-at needs a file inside the repository " + repo.string());
    files.push_back(sweep_file_at(repo, cache_root, *at, relative));
  }
  return files;
}

int cmd_diff(const std::vector<std::string>& args) {
  CommonOptions common;
  DiffArgs d;
  DiffOptions options;
  po::options_description desc("cube diff options");
  desc.add_options()("a", po::value(&d.rev_a)->required(), "old git revision")(
      "b", po::value(&d.rev_b)->required(), "new git revision")(
      "sweep", po::value(&d.sweeps)->composing(),
      "sweep YAML to run at each revision that lacks its rows (built in .cube/builds/<sha>/)")(
      "sweep-at", po::value(&d.sweep_at), "read the sweep files as they are at this revision")(
      "repeat", po::value(&d.ensure.run.repeat)->default_value(5),
      "runs of each (cell, seed) at each revision, for the statistics of noisy metrics")(
      "jobs,j", po::value(&d.ensure.run.jobs)->default_value(1),
      "cells run in parallel (1 keeps wall times apart; 0 = all cores)")(
      "build-jobs", po::value(&d.build_jobs)->default_value(0),
      "parallel compiles when building a revision (0 = all cores)")(
      "quiet,q", po::bool_switch(&d.quiet), "no progress lines")(
      "alpha", po::value(&options.alpha)->default_value(options.alpha, "0.05"),
      "noisy metrics: significance level of the Mann-Whitney U test, in (0, 1)")(
      "threshold", po::value(&options.threshold)->default_value(options.threshold, "0.05"),
      "noisy metrics: least relative move of the median called faster/slower, >= 0");
  add_store_and_format(desc, common);
  po::positional_options_description positional;
  positional.add("a", 1).add("b", 1).add("sweep", -1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm,
                     "cube diff REV_A REV_B [SWEEP.yaml ...] [options]"))
    return kExitOk;
  if (!(options.alpha > 0 && options.alpha < 1))
    throw ConfigError(SourceLocation{"--alpha"},
                      "alpha " + readable(options.alpha) + " is out of range (0, 1)");
  if (!(options.threshold >= 0))
    throw ConfigError(SourceLocation{"--threshold"},
                      "threshold " + readable(options.threshold) + " is out of range [0, inf)");
  if (d.ensure.run.repeat < 1) throw ConfigError(SourceLocation{"--repeat"}, "must be >= 1");
  if (d.ensure.run.jobs < 0) throw ConfigError(SourceLocation{"--jobs"}, "must be >= 0");
  if (d.build_jobs < 0) throw ConfigError(SourceLocation{"--build-jobs"}, "must be >= 0");
  if (!d.sweep_at.empty() && d.sweeps.empty())
    throw ConfigError(SourceLocation{"--sweep-at"}, "names the revision of sweep files; give one");
  Format format = parse_format(common.format);
  fs::path path = store_path(common);
  if (d.sweeps.empty() && !fs::exists(path))
    throw ConfigError(SourceLocation{path.string()},
                      "no results store here yet; give a sweep (cube diff A B SWEEP.yaml) or run "
                      "`cube run FILE` at each commit first");
  auto resolve = [&](const std::string& rev) {
    auto sha = resolve_git_rev(fs::current_path(), rev);
    if (!sha) throw ConfigError(SourceLocation{"diff"}, "unknown git revision '" + rev + "'");
    return Revision{rev, *sha};
  };
  const std::vector<Revision> revisions = {resolve(d.rev_a), resolve(d.rev_b)};
  // Sweep files are checked before the store is opened: bad input leaves no store behind.
  const fs::path repo = git_toplevel(fs::current_path()).value_or(fs::current_path());
  const fs::path cache_root = repo / ".cube" / "builds";
  const std::vector<fs::path> sweeps = diff_sweep_files(d, repo, cache_root);
  ResultStore store(path);
  std::vector<std::set<std::string>> cells(2);
  if (!sweeps.empty()) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    d.ensure.build_jobs = d.build_jobs == 0 ? cores : static_cast<unsigned>(d.build_jobs);
    if (d.ensure.run.jobs == 0) d.ensure.run.jobs = cores;
    d.ensure.progress = d.quiet ? nullptr : &std::cerr;
    d.ensure.build_type = binary_build_type();
    cells = ensure_sweep_rows(repo, cache_root, revisions, sweeps, store, d.ensure);
  }
  DiffSide a{d.rev_a, revisions[0].commit,
             rows_of_cells(store.rows_for_commit(revisions[0].commit), cells[0])};
  DiffSide b{d.rev_b, revisions[1].commit,
             rows_of_cells(store.rows_for_commit(revisions[1].commit), cells[1])};
  Table table = diff_table(a, b, options);
  for (const DiffSide* s : {&a, &b})
    if (s->rows.empty() && d.sweeps.empty())
      table.notes.push_back("no rows for " + s->label + ": cube diff " + d.rev_a + " " + d.rev_b +
                            " SWEEP.yaml builds it in .cube/builds/ and runs the sweep there");
  print(render(table, format));
  return kExitOk;
}

// --- trace ------------------------------------------------------------------------------------

int cmd_trace_record(const std::vector<std::string>& args) {
  std::string file, out;
  std::vector<std::string> sets;
  std::int64_t index = 0;
  bool text = false;
  std::string format_name = "table";
  po::options_description desc("cube trace record options");
  desc.add_options()("file", po::value(&file)->required(), "cell or sweep YAML, or a JSON plan")(
      "set", po::value(&sets)->composing(), "override key=value")(
      "index", po::value(&index)->default_value(0), "which job of the plan (0-based)")(
      "output,o", po::value(&out)->required(), "trace file to write")(
      "text", po::bool_switch(&text), "write the W/R text format instead of binary");
  add_format(desc, format_name);
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm, "cube trace record FILE -o OUT [--index N]"))
    return kExitOk;
  Format format = parse_format(format_name);
  ExperimentPlan plan = load_plan(file, sets);
  const Job& job = job_at(plan, index, "--index");
  RecordedJob recorded = record_job(job, file);
  std::ofstream stream(out, std::ios::binary);
  if (!stream) throw ConfigError(SourceLocation{out}, "cannot write the trace file");
  if (text)
    write_text_trace(recorded.trace, stream);
  else
    write_binary_trace(recorded.trace, stream);
  stream.close();
  Table table;
  table.title = "trace of " + job.cell() + " seed " + std::to_string(job.seed);
  table.columns = {"file", "format", "events", "buffers", "bytes", "status"};
  table.rows.push_back({out, std::string(text ? "text" : "binary"),
                        static_cast<std::int64_t>(recorded.trace.events.size()),
                        static_cast<std::int64_t>(recorded.trace.buffers.size()),
                        static_cast<std::int64_t>(fs::file_size(out)),
                        std::string(to_string(recorded.status))});
  print(render(table, format));
  return kExitOk;
}

// True if a text file is a ByteDMD neutral program (metrics.md §6.4) rather than a W/R trace:
// its first statement is push, escape or return, or an assignment. Content decides, not the
// name (ByteDMD programs are often saved as .ir, like Dally IR).
bool is_bytedmd_program(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line.substr(0, line.find(';')));
    std::string first;
    if (!(words >> first) || first[0] == '#') continue;
    return first == "push" || first == "escape" || first == "return" ||
           line.find('=') != std::string::npos;
  }
  return false;
}

// Reads a trace file, telling the formats apart by content.
Trace read_trace_file(const std::string& file) {
  if (!fs::is_regular_file(file))
    throw ConfigError(SourceLocation{file}, "cannot read: no such trace file");
  std::ifstream in(file, std::ios::binary);
  if (is_binary_trace(file)) return read_binary_trace(in, file);
  return read_text_trace(in, file);
}

// Hands one trace to several sinks, chunk by chunk, in order.
class FanOut : public TraceSink {
 public:
  explicit FanOut(std::vector<TraceSink*> sinks) : sinks_(std::move(sinks)) {}
  void begin(const BufferTable& buffers) override {
    for (TraceSink* sink : sinks_) sink->begin(buffers);
  }
  void consume(std::span<const TraceEvent> events) override {
    for (TraceSink* sink : sinks_) sink->consume(events);
  }
  void end() override {
    for (TraceSink* sink : sinks_) sink->end();
  }

 private:
  std::vector<TraceSink*> sinks_;
};

// Prices a ByteDMD program exactly (live-out values included); only `bytedmd` applies.
Table replay_bytedmd_program(const std::string& file,
                             const std::vector<std::unique_ptr<Metric>>& metrics) {
  const ByteDmdProgram program = parse_bytedmd_program(FileContents(file).text(), file);
  Table table;
  table.title = file + ": ByteDMD program, " + std::to_string(program.instructions.size()) +
                " instructions, " + std::to_string(program.values) + " values";
  table.columns = {"metric", "value name", "value"};
  for (const auto& metric : metrics) {
    const auto* bytedmd = dynamic_cast<const ByteDmdMetric*>(metric.get());
    if (!bytedmd)
      throw ConfigError(SourceLocation{"--metric"},
                        "'" + metric->name() + "' cannot price a ByteDMD program; valid: bytedmd");
    ByteDmdResult result = evaluate_bytedmd(program, bytedmd->bytes_per_element());
    table.rows.push_back(
        {metric->spec(), std::string("bytedmd"), static_cast<std::int64_t>(result.cost)});
    table.rows.push_back(
        {metric->spec(), std::string("bytedmd_reads"), static_cast<std::int64_t>(result.reads)});
  }
  return table;
}

// Where the energy of a trace goes: per energy_estimate metric, the bytes and pJ of each
// (buffer, tier) with traffic, and its share of that metric's total.
Table energy_by_buffer(const std::string& file, const Trace& trace,
                       const std::vector<std::unique_ptr<Metric>>& metrics) {
  Table table;
  table.title = file + ": energy_estimate by buffer and tier";
  table.columns = {"metric", "buffer", "tier", "bytes", "pJ", "share"};
  bool any = false;
  for (const auto& metric : metrics) {
    auto* energy = dynamic_cast<EnergyEstimateMetric*>(metric.get());
    if (energy == nullptr) continue;
    any = true;
    trace.replay(*energy);
    const double total = energy->estimator().picojoules();
    const std::vector<EnergyTier>& tiers = energy->estimator().tiers();
    const auto& by_buffer = energy->tier_bytes_by_buffer();
    for (std::size_t b = 0; b < by_buffer.size(); ++b) {
      for (std::size_t t = 0; t < by_buffer[b].size(); ++t) {
        const std::uint64_t bytes = by_buffer[b][t];
        if (bytes == 0) continue;
        const double pj = static_cast<double>(bytes) * tiers[t].pj_per_byte;
        char share[32];
        std::snprintf(share, sizeof(share), "%.1f%%", total > 0 ? 100.0 * pj / total : 0.0);
        table.rows.push_back({metric->spec(), trace.buffers[static_cast<BufferId>(b)].name,
                              tiers[t].name, static_cast<std::int64_t>(bytes), pj,
                              std::string(share)});
      }
    }
  }
  if (!any)
    throw ConfigError(SourceLocation{"--by-buffer"},
                      "needs an energy_estimate metric in --metric, e.g. "
                      "--metric 'energy_estimate(table=zen5,line_bytes=64)'");
  return table;
}

int cmd_trace_replay(const std::vector<std::string>& args) {
  std::string file, metric_list, format_name = "table";
  bool by_buffer = false;
  po::options_description desc("cube trace replay options");
  desc.add_options()("trace", po::value(&file)->required(),
                     "trace file (binary, W/R text, or a ByteDMD program)")(
      "metric", po::value(&metric_list)->required(), "metrics, comma-separated: ard,clock_dmc")(
      "by-buffer", po::bool_switch(&by_buffer),
      "energy_estimate metrics: bytes and pJ per buffer and tier instead of the totals");
  add_format(desc, format_name);
  po::positional_options_description positional;
  positional.add("trace", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm, "cube trace replay TRACE --metric a,b"))
    return kExitOk;
  Format format = parse_format(format_name);
  // A replay builds its structures at once, a few times the file's size: on huge pages that is
  // a handful of faults instead of one per 4 KiB (core/huge_pages.h).
  std::error_code size_error;
  const std::uintmax_t file_size = fs::file_size(file, size_error);
  use_huge_page_heap(static_cast<std::size_t>(
      std::clamp<std::uintmax_t>(size_error ? 0 : 8 * file_size, 64u << 20, 1u << 30)));
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const auto& text : split_spec_list(metric_list))
    metrics.push_back(
        instantiate<Metric>(parse_spec(text, SourceLocation{"--metric " + metric_list}), "metric"));
  if (fs::is_regular_file(file) && !is_binary_trace(file) && is_bytedmd_program(file)) {
    print(render(replay_bytedmd_program(file, metrics), format));
    return kExitOk;
  }
  if (by_buffer) {
    print(render(energy_by_buffer(file, read_trace_file(file), metrics), format));
    return kExitOk;
  }
  std::vector<TraceSink*> sinks;
  for (auto& metric : metrics)
    if (metric->needs_trace()) sinks.push_back(metric.get());
  FanOut fan_out(sinks);
  // Metrics keep pointers to the buffer table until finish(): it lives here.
  Trace trace;
  std::uint64_t events = 0;
  if (fs::is_regular_file(file) && is_binary_trace(file)) {
    // Streamed through a buffer: a 10^7-event trace never becomes 160 MB of fresh heap, nor
    // 160 MB of mapped pages to fault in.
    events = stream_binary_trace_file(file, trace.buffers, fan_out);
  } else {
    trace = read_trace_file(file);
    trace.replay(fan_out);
    events = trace.events.size();
  }
  Table table;
  table.title = file + ": " + std::to_string(events) + " events, " +
                std::to_string(trace.buffers.size()) + " buffers";
  table.columns = {"metric", "value name", "value"};
  for (auto& metric : metrics) {
    for (const auto& value : metric->finish(RunOutcome{})) {
      Value v;
      if (value.value) v = *value.value;
      table.rows.push_back({metric->spec(), value.name, v});
    }
  }
  table.notes.push_back("metrics that do not price the trace (accuracy, wall_time, ...) are n/a");
  print(render(table, format));
  return kExitOk;
}

// --- plot -------------------------------------------------------------------------------------

int cmd_plot(const std::vector<std::string>& args) {
  std::vector<std::string> inputs, sets;
  std::string out, title, distance = "dally";
  bool log_y = false;
  po::options_description desc("cube plot options");
  desc.add_options()(
      "input", po::value(&inputs)->composing()->required(),
      "trace files (binary or text) and/or cell or sweep files (every job is traced)")(
      "output,o", po::value(&out)->required(), "image to write: .png or .svg")(
      "set", po::value(&sets)->composing(), "override key=value for cell files")(
      "title", po::value(&title), "plot title")(
      "distance", po::value(&distance),
      "dally (Dally address distance ceil(sqrt(cell)), one bin each) | reuse (LRU reuse distance "
      "in bytes under bytedmd's stack, bytes read per power of two)")(
      "log-y", po::bool_switch(&log_y), "log scale for read counts");
  po::positional_options_description positional;
  positional.add("input", -1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm,
                     "cube plot INPUT... -o plot.png [--distance dally|reuse] [--log-y]"))
    return kExitOk;
  if (distance != "dally" && distance != "reuse")
    throw ConfigError(SourceLocation{"--distance"},
                      "unknown distance '" + distance + "'; valid choices: dally, reuse");
  const bool reuse = distance == "reuse";
  auto series_of = [&](const std::string& label, const Trace& trace) {
    return reuse ? reuse_distance_series(label, trace) : distance_series(label, trace);
  };
  std::vector<DistanceSeries> series;
  for (const auto& input : inputs) {
    if (!fs::is_regular_file(input))
      throw ConfigError(SourceLocation{input}, "cannot read: no such file");
    // Content decides: a binary or text trace is read as one; anything else must be a cell or
    // sweep file.
    std::optional<Trace> trace;
    if (is_binary_trace(input)) {
      trace = read_trace_file(input);
    } else {
      try {
        trace = read_trace_file(input);
      } catch (const ConfigError&) {
      }
    }
    if (trace) {
      series.push_back(series_of(fs::path(input).filename().string(), *trace));
      continue;
    }
    ExperimentPlan plan = load_plan(input, sets);
    for (const Job& job : plan.jobs)
      series.push_back(series_of(short_label(plan, job), record_job(job, input).trace));
  }
  PlotOptions options;
  if (reuse) {
    options = reuse_plot_options(title);
  } else {
    options.title =
        title.empty() ? "access distance: ceil(sqrt(cell)), cells in declaration order" : title;
    options.x_label = "distance ceil(sqrt(cell))";
  }
  options.log_y = log_y;
  plot_distances(series, out, options);
  Table table;
  table.title = "wrote " + out;
  table.columns = {"series", reuse ? "bytes read" : "reads", "cost"};
  for (const auto& s : series) {
    std::int64_t reads = 0;
    for (const auto& [d, n] : s.reads_at) reads += static_cast<std::int64_t>(n);
    table.rows.push_back({s.label, reads, s.cost});
  }
  print(render(table, Format::kTable));
  return kExitOk;
}

// --- ir ---------------------------------------------------------------------------------------

int cmd_ir_score(const std::vector<std::string>& args) {
  std::string file, problem, format_name = "table";
  std::vector<std::string> sets;
  std::uint64_t seed = 42;
  po::options_description desc("cube ir score options");
  desc.add_options()("file", po::value(&file)->required(), "Dally IR program")(
      "problem", po::value(&problem)->required(),
      "dally_matmul, dally_sparse_parity or dally_symmetry (or a spec string)")(
      "set", po::value(&sets)->composing(), "problem.KEY=VALUE, e.g. problem.n=16")(
      "seed", po::value(&seed)->default_value(42), "seed of the random instances");
  add_format(desc, format_name);
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse_command(args, desc, positional, vm,
                     "cube ir score FILE --problem dally_matmul [--set problem.n=16]"))
    return kExitOk;
  Format format = parse_format(format_name);
  print(render(ir_score(file, problem, sets, seed), format));
  return kExitOk;
}

// --- the command table ----------------------------------------------------------------------

// A command (or a subcommand of a group such as `trace`): its name, the synopsis and summary
// that the usage text shows, and what runs it with the arguments after its name and the whole
// command line (for provenance).
struct Command {
  const char* name;
  const char* synopsis;
  const char* summary;
  std::function<int(const std::vector<std::string>& args, const std::string& command_line)> run;
};

const std::vector<Command>& trace_commands() {
  static const std::vector<Command> commands = {
      {"record", "trace record FILE -o OUT",
       "write the memory trace of one job (binary, or --text)",
       [](const auto& args, const auto&) { return cmd_trace_record(args); }},
      {"replay", "trace replay TRACE --metric a,b",
       "price a trace file (binary or W/R text) with metrics",
       [](const auto& args, const auto&) { return cmd_trace_replay(args); }},
  };
  return commands;
}

const std::vector<Command>& ir_commands() {
  static const std::vector<Command> commands = {
      {"score", "ir score FILE --problem P",
       "score a Dally IR program: correctness and explicit-address cost",
       [](const auto& args, const auto&) { return cmd_ir_score(args); }},
  };
  return commands;
}

std::string names_of(const std::vector<Command>& commands) {
  std::string out;
  for (const Command& c : commands) out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out;
}

std::string usage_text(const std::vector<Command>& commands, const std::string& prefix) {
  std::string out = "usage: cube " + prefix + "<command> [options]\n\ncommands:\n";
  for (const Command& c : commands) {
    std::string line = "  " + std::string(c.synopsis);
    line.resize(std::max<std::size_t>(line.size() + 1, 30), ' ');
    out += line + c.summary + "\n";
  }
  return out + "\nRun 'cube " + prefix + "<command> --help' for the options of a command.\n";
}

// Runs the command of `commands` named by args[0]; `group` is "" at the top level, else the
// group's name ("trace").
int run_command(const std::vector<Command>& commands, const std::string& group,
                const std::vector<std::string>& args, const std::string& command_line) {
  const std::string prefix = group.empty() ? "" : group + " ";
  if (args.empty()) {
    std::cerr << usage_text(commands, prefix);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << usage_text(commands, prefix);
    return kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const Command& c : commands)
    if (args[0] == c.name) return c.run(rest, command_line);
  return usage_error("unknown " + prefix + "command '" + args[0] + "'; valid " + prefix +
                         "commands: " + names_of(commands),
                     group);
}

const std::vector<Command>& top_commands() {
  static const std::vector<Command> commands = {
      {"list", "list", "problems, solvers and metrics with their parameters",
       [](const auto& args, const auto&) { return cmd_list(args); }},
      {"run", "run FILE", "run a cell or sweep (YAML, or a JSON plan), store rows, print the table",
       [](const auto& args, const auto& line) { return cmd_run(args, line); }},
      {"plan", "plan FILE", "expand a cell or sweep into jobs without running (-o plan.json)",
       [](const auto& args, const auto&) { return cmd_plan(args); }},
      {"run-cell", "run-cell PLAN INDEX", "run job INDEX of a plan alone (for Slurm job arrays)",
       [](const auto& args, const auto& line) { return cmd_run_cell(args, line); }},
      {"report", "report SPEC -o DOC.md",
       "run a report's sweeps (resuming) and write cube vs published figures",
       [](const auto& args, const auto& line) { return cmd_report(args, line); }},
      {"results", "results", "print stored rows",
       [](const auto& args, const auto&) { return cmd_results(args); }},
      {"collect", "collect [STORE]", "merge the results of finished Slurm array tasks",
       [](const auto& args, const auto&) { return cmd_collect(args); }},
      {"diff", "diff REV_A REV_B [SWEEP...]",
       "metric tables of two commits side by side (builds and runs what they lack)",
       [](const auto& args, const auto&) { return cmd_diff(args); }},
      {"trace", "trace record|replay ...", "record the memory trace of a job; price a trace file",
       [](const auto& args, const auto& line) {
         return run_command(trace_commands(), "trace", args, line);
       }},
      {"plot", "plot INPUT... -o plot.png",
       "access-distance histogram and cumulative reads of traces or cells",
       [](const auto& args, const auto&) { return cmd_plot(args); }},
      {"ir", "ir score FILE --problem P",
       "score a Dally IR program: correctness and explicit-address cost",
       [](const auto& args, const auto& line) {
         return run_command(ir_commands(), "ir", args, line);
       }},
      {"sample", "sample CHECKPOINT", "generate text from a char_lm checkpoint (--tokens 500)",
       [](const auto& args, const auto&) { return cmd_sample(args); }},
  };
  return commands;
}

int dispatch(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::string command = args.empty() ? "" : args[0];
  try {
    if (command == "--version") {
      std::cout << "cube " << CUBE_VERSION << "\n";
      return kExitOk;
    }
    return run_command(top_commands(), "", args, command_line(argc, argv));
  } catch (const po::error& e) {
    return usage_error(e.what(), command);
  } catch (const ConfigError& e) {
    return usage_error(e.what());
  } catch (const BuildError& e) {
    std::cerr << "cube: error: " << e.what() << "\n";
    return kExitBuildFailed;
  } catch (const StoreError& e) {
    std::cerr << "cube: error: " << e.what()
              << "\nThe rows stored before this are kept: fix the cause (free disk space, "
                 "permissions) and run the same command again to resume.\n";
    return kExitStoreFailed;
  }
}

}  // namespace
}  // namespace cube

int main(int argc, char** argv) {
  try {
    return cube::dispatch(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "cube: internal error: " << e.what() << "\n";
    return 1;
  }
}
