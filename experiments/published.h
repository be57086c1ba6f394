// cube/experiments/published.h: comparison reports, cube's results beside published figures.
//
// `cube report SPEC.yaml -o doc.md` runs (or resumes from the store) every section's sweep and
// writes one markdown document: per section, one row per cell with cube's values (mean over
// seeds for deterministic values, median [min, max] for noisy ones, as `cube run` prints them)
// and, next to each value a published figure exists for, that figure and its source. The
// document says which commit, build and machine produced it, and is never edited by hand.
#pragma once

#include <string>
#include <vector>

#include "experiments/plan.h"
#include "experiments/plot.h"
#include "experiments/provenance.h"
#include "experiments/store.h"

namespace cube {

// Whether `figure` applies to the cell (problem spec, solver spec, both canonical): every match
// key holds; numeric parameter values compare by value ("0.10" matches "0.1"). O(params).
bool figure_matches(const PublishedFigure& figure, const std::string& problem_spec,
                    const std::string& solver_spec);

// The markdown document. `section_rows[i]` holds the result rows of spec.sections[i] (all of
// its jobs); `provenance` is this run's (its command line, commit, build, host and machine head
// the document). `machine_note`, when not empty, follows that header line: which rows another
// machine measured (other_machines_note of runner.h). O(rows log rows).
std::string render_report(const ReportSpec& spec,
                          const std::vector<std::vector<ResultRow>>& section_rows,
                          const Provenance& provenance, const std::string& machine_note = "");

// The loss curves of a section from the store, those of the build `build_key` (the report's own
// build): per distinct cell, in plan order, its "train_loss" (dashed) and "val_loss" series of
// the first stored seed, repeat 0, labelled by the solver's name and coloured by the cell's
// position. Cells without curves are left out.
std::vector<CurveSeries> section_curves(const ReportSection& section, const ResultStore& store,
                                        const std::string& build_key);

}  // namespace cube
