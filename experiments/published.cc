// cube/experiments/published.cc: the markdown comparison report (published.h). Aggregation is
// report.cc's summary_table; this file only selects columns and joins the published figures.

#include "experiments/published.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <sstream>

#include "core/spec.h"
#include "experiments/report.h"
#include "experiments/table.h"

namespace cube {
namespace {

bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  double x = 0, y = 0;
  auto [pa, ea] = std::from_chars(a.data(), a.data() + a.size(), x);
  auto [pb, eb] = std::from_chars(b.data(), b.data() + b.size(), y);
  return ea == std::errc() && eb == std::errc() && pa == a.data() + a.size() &&
         pb == b.data() + b.size() && x == y;
}

bool spec_matches(const Spec& spec, const std::string& axis, const std::string& key,
                  const std::string& wanted) {
  if (key == axis) return spec.name == wanted;
  const std::string param = key.substr(axis.size() + 1);
  auto it = spec.params.find(param);
  return it != spec.params.end() && same_value(it->second.text, wanted);
}

// Column index by name in a summary table, or -1.
int column(const Table& table, const std::string& name) {
  for (std::size_t i = 0; i < table.columns.size(); ++i)
    if (table.columns[i] == name) return static_cast<int>(i);
  return -1;
}

Value cell_at(const Table& table, std::size_t row, int col) {
  if (col < 0 || row >= table.rows.size() ||
      static_cast<std::size_t>(col) >= table.rows[row].size())
    return std::monostate{};
  return table.rows[row][static_cast<std::size_t>(col)];
}

std::string section_markdown(const ReportSection& section, const std::vector<ResultRow>& rows) {
  const Table summary = summary_table(rows);
  std::vector<std::string> names = section.columns;
  if (names.empty()) {
    // Every value column of the summary (skip the fixed ones and the ranges).
    for (std::size_t i = 4; i < summary.columns.size(); ++i)
      if (summary.columns[i].size() < 6 ||
          summary.columns[i].compare(summary.columns[i].size() - 6, 6, " range") != 0)
        names.push_back(summary.columns[i]);
  }
  auto has_published = [&](const std::string& name) {
    for (const auto& f : section.published)
      if (f.values.count(name)) return true;
    return false;
  };

  Table out;
  out.columns = {"problem", "solver", "runs", "status"};
  for (const auto& name : names) {
    out.columns.push_back(name);
    if (has_published(name)) out.columns.push_back(name + " (published)");
  }
  out.columns.push_back("published source");

  const int problem_col = column(summary, "problem"), solver_col = column(summary, "solver");
  for (std::size_t r = 0; r < summary.rows.size(); ++r) {
    const std::string problem = to_text(cell_at(summary, r, problem_col));
    const std::string solver = to_text(cell_at(summary, r, solver_col));
    std::vector<const PublishedFigure*> figures;
    for (const auto& f : section.published)
      if (figure_matches(f, problem, solver)) figures.push_back(&f);
    std::vector<Value> row = {problem, solver, cell_at(summary, r, column(summary, "runs")),
                              cell_at(summary, r, column(summary, "status"))};
    for (const auto& name : names) {
      std::string value = to_text(cell_at(summary, r, column(summary, name)));
      const int range = column(summary, name + " range");
      if (range >= 0) value += " " + to_text(cell_at(summary, r, range));
      row.push_back(value);
      if (!has_published(name)) continue;
      std::string published;
      for (const PublishedFigure* f : figures) {
        auto it = f->values.find(name);
        if (it == f->values.end()) continue;
        if (!published.empty()) published += "; ";
        published += readable(it->second);
      }
      row.push_back(published.empty() ? std::string("-") : published);
    }
    std::string sources;
    for (const PublishedFigure* f : figures) {
      if (!sources.empty()) sources += "; ";
      sources += f->source;
      if (!f->note.empty()) sources += " (" + f->note + ")";
    }
    row.push_back(sources.empty() ? std::string("-") : sources);
    out.rows.push_back(std::move(row));
  }
  out.notes = summary.notes;
  std::string table = render(out, Format::kMarkdown);
  // Figures that matched no cell are listed, so a typo in a match key cannot hide silently.
  std::ostringstream unmatched;
  for (const auto& f : section.published) {
    bool used = false;
    for (std::size_t r = 0; r < summary.rows.size() && !used; ++r)
      used = figure_matches(f, to_text(cell_at(summary, r, problem_col)),
                            to_text(cell_at(summary, r, solver_col)));
    if (used) continue;
    unmatched << "- Published without a cube cell here: ";
    bool first = true;
    for (const auto& [k, v] : f.match) {
      unmatched << (first ? "" : ", ") << k << "=" << v;
      first = false;
    }
    for (const auto& [k, v] : f.values) unmatched << "; " << k << " " << readable(v);
    unmatched << " (" << f.source << ")\n";
  }
  return table + (unmatched.str().empty() ? "" : "\n" + unmatched.str());
}

// A figure under a section's table: inline SVG markup (a raw HTML block ends at a blank line, so
// the markup goes in without any) or a markdown image link, then its caption; nothing if neither.
void figure(std::ostream& out, const std::string& svg_markup, const std::string& link,
            const std::string& alt, const std::string& caption) {
  if (!svg_markup.empty()) {
    std::istringstream svg(svg_markup);
    out << "\n<figure>\n";
    for (std::string line; std::getline(svg, line);)
      if (line.find_first_not_of(" \t\r") != std::string::npos) out << line << "\n";
    out << "</figure>\n\n" << caption << "\n";
  } else if (!link.empty()) {
    out << "\n![" << alt << "](" << link << ")\n\n" << caption << "\n";
  }
}

}  // namespace

bool figure_matches(const PublishedFigure& figure, const std::string& problem_spec,
                    const std::string& solver_spec) {
  const Spec problem = parse_spec(problem_spec);
  const Spec solver = parse_spec(solver_spec);
  for (const auto& [key, wanted] : figure.match) {
    const bool is_solver = key == "solver" || key.rfind("solver.", 0) == 0;
    if (!spec_matches(is_solver ? solver : problem, is_solver ? "solver" : "problem", key, wanted))
      return false;
  }
  return true;
}

std::string render_report(const ReportSpec& spec,
                          const std::vector<std::vector<ResultRow>>& section_rows,
                          const Provenance& provenance, const std::string& machine_note) {
  std::ostringstream out;
  out << "# " << (spec.title.empty() ? "cube report" : spec.title) << "\n\n";
  out << "<!-- Generated by `" << provenance.command << "` from " << spec.source
      << "; do not edit by hand: change the spec or the code and regenerate. -->\n\n";
  out << "Generated by `" << provenance.command << "` at commit `"
      << (provenance.git_commit.empty() ? std::string("unknown")
                                        : provenance.git_commit.substr(0, 12))
      << (provenance.git_dirty ? "+dirty" : "") << "`, " << provenance.build_type << " build, "
      << provenance.compiler << ", on " << provenance.host
      << (provenance.machine.empty() ? std::string() : ", " + provenance.machine) << " ("
      << provenance.started_at
      << "). Deterministic values are means over seeds; noisy ones (wall time, in seconds) are "
         "medians with [min, max].\n\n";
  if (!machine_note.empty()) out << "**Note:** " << machine_note << ".\n\n";
  if (!spec.intro.empty()) out << spec.intro << (spec.intro.back() == '\n' ? "" : "\n") << "\n";
  for (std::size_t i = 0; i < spec.sections.size(); ++i) {
    const ReportSection& section = spec.sections[i];
    out << "## " << (section.title.empty() ? section.sweep_file : section.title) << "\n\n";
    out << "Sweep: `" << section.sweep_file << "` (" << section.plan.cells << " cells, "
        << section.plan.jobs.size() << " jobs).\n\n";
    out << section_markdown(section,
                            i < section_rows.size() ? section_rows[i] : std::vector<ResultRow>{});
    figure(out, section.curves_svg, section.curves_link, "loss curves of " + section.title,
           "Loss curves: train dashed, val solid, first seed of each cell.");
    figure(out, section.reuse_svg, section.reuse_link, "reuse distances of " + section.title,
           "LRU reuse distances of the traced step of each cell's first seed: bytes read per "
           "power of two of the distance in bytes, under bytedmd's stack at each buffer's element "
           "size (`cube plot " +
               section.sweep_file + " --distance reuse`); the legend's cost is the bytedmd value.");
    if (!section.notes.empty())
      out << "\n" << section.notes << (section.notes.back() == '\n' ? "" : "\n");
    out << "\n";
  }
  return out.str();
}

std::vector<CurveSeries> section_curves(const ReportSection& section, const ResultStore& store,
                                        const std::string& build_key) {
  std::vector<const Job*> cells;  // the first job of each distinct cell
  for (const Job& job : section.plan.jobs)
    if (std::none_of(cells.begin(), cells.end(),
                     [&](const Job* seen) { return seen->cell() == job.cell(); }))
      cells.push_back(&job);
  std::vector<CurveSeries> series;
  for (std::size_t c = 0; c < cells.size(); ++c) {
    const auto points = store.curves(build_key, cells[c]->cell());
    if (points.empty()) continue;
    const std::uint64_t first_seed = points.front().seed;
    const std::string solver = parse_spec(cells[c]->solver).name;
    for (const char* name : {"train_loss", "val_loss"}) {
      CurveSeries s;
      s.label = solver + " " + name;
      s.color = static_cast<int>(c);
      s.dashed = std::string(name) == "train_loss";
      for (const auto& p : points)
        if (p.seed == first_seed && p.repeat == 0 && p.series == name)
          s.points.emplace_back(static_cast<double>(p.step), p.value);
      if (!s.points.empty()) series.push_back(std::move(s));
    }
  }
  return series;
}

}  // namespace cube
