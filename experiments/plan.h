// cube/experiments/plan.h: a cell or sweep file, expanded into a validated list of jobs.
//
// A YAML file holds one cell or a sweep:
//
//   problem: {name: sparse_parity, n: 20, k: 3}      # or the string form: sparse_parity(n=20,k=3)
//   solver:  {name: sgd, lr: 0.1}
//   metrics: [accuracy, wall_time, ard]   # names, name(k=v) strings, or {name: ...} maps
//   seeds: [42, 43, 44]                   # default [42]
//   sweep:                                # optional; cartesian product, first key slowest
//     problem.n: [20, 30]
//     solver.name: [gf2, sgd]
//
// Overrides (`--set key=value`) replace a key; `--set key=a,b,c` makes (or replaces) a sweep axis.
// Keys: problem.<param>, problem.name, solver.<param>, solver.name, seeds, metrics.
// When a sweep changes a module's name, parameters that only another module of the same axis
// declares are dropped for the modules that do not declare them (sgd's `hidden` is not passed to
// gf2); a key no module of the axis declares is an error.
//
// Expansion is deterministic: jobs are cells in product order, seeds innermost, duplicate cells
// (same canonical specs) dropped. Every job is validated (names, keys, types, bounds, problem
// constraints) before anything runs; errors throw ConfigError naming file:line:column and key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/spec.h"

namespace cube {

// One unit of work: a cell (problem x solver) with its metrics and one seed.
struct Job {
  std::string problem;               // canonical problem spec
  std::string solver;                // canonical solver spec
  std::vector<std::string> metrics;  // canonical metric specs, in the order the user listed them
  std::uint64_t seed = 0;

  std::string cell() const { return problem + "/" + solver; }
};

struct ExperimentPlan {
  std::string source;     // the file the plan came from
  std::vector<Job> jobs;  // cells x seeds
  std::size_t cells = 0;  // distinct cells
};

// The most jobs (cells x seeds, before duplicate cells are merged) one plan may expand to.
inline constexpr std::size_t kMaxPlanJobs = 1'000'000;

// Reads and expands a YAML plan. `overrides` are the raw `--set` arguments ("key=value").
ExperimentPlan load_plan(const std::filesystem::path& file,
                         const std::vector<std::string>& overrides);

// Same, from YAML text; `source` names it in messages.
ExperimentPlan parse_plan(std::string_view yaml, const std::string& source,
                          const std::vector<std::string>& overrides);

// Expanded plans as JSON files, for `cube plan -o` and `cube run-cell PLAN INDEX` (one process
// per job, e.g. a Slurm array task). Reading validates every spec again.
std::string plan_to_json(const ExperimentPlan& plan);
ExperimentPlan read_plan_json(const std::filesystem::path& file);

// Same, from JSON text; `source` names it in messages.
ExperimentPlan parse_plan_json(std::string_view text, const std::string& source);

// True if `file` holds an expanded JSON plan rather than YAML (by content, not by name).
bool is_json_plan(const std::filesystem::path& file);

// A published figure to set beside cube's cells in a comparison report (`cube report`).
struct PublishedFigure {
  // Which cells it belongs to: "solver" / "problem" match the module name, "solver.lr" /
  // "problem.n" a canonical parameter value (numbers compare by value). All must hold.
  std::map<std::string, std::string> match;
  std::map<std::string, double> values;  // value name ("accuracy", "wall_time", ...) -> figure
  std::string note;                      // short remark shown with the figure ("seed 42 only")
  std::string source;                    // where it was published ("sparse-parity.md §2.3 #44")
};

// One section of a report: a sweep, the value names to show and the published figures.
struct ReportSection {
  std::string title;
  std::string notes;                 // markdown, printed under the table
  std::string sweep_file;            // the sweep YAML, resolved against the report's folder
  ExperimentPlan plan;               // its expanded jobs
  std::vector<std::string> columns;  // value names to show, in order
  std::vector<PublishedFigure> published;
  std::string curves;       // PNG/SVG to draw the cells' loss curves into ('' = none), as given
  std::string curves_link;  // set by `cube report`: the image path relative to the document
  std::string curves_svg;   // set by `cube report --format html`: the plot, inline SVG markup
  // PNG/SVG to draw the LRU reuse distances of each cell's first job into ('' = none): `cube
  // report` records the job's trace (a second run) and plots it as `cube plot --distance reuse`.
  std::string reuse_distances;
  std::string reuse_link;  // set by `cube report`: that image relative to the document
  std::string reuse_svg;   // set by `cube report --format html`: the plot, inline SVG markup
};

// A comparison report spec: YAML with keys title, intro (markdown) and sections (a list of
// {title, sweep, columns, published: [{match: {...}, values: {...}, note, source}], notes,
// curves: plot.png, reuse_distances: reuse.png}).
// Every sweep is loaded and validated; errors name the file, line and key.
struct ReportSpec {
  std::string source;
  std::string title;
  std::string intro;
  std::vector<ReportSection> sections;
};
ReportSpec load_report_spec(const std::filesystem::path& file);

}  // namespace cube
