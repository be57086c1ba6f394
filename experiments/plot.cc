// cube/experiments/plot.cc: data files and a gnuplot script for access-distance plots.
// Not here: computing distances (metrics/) or choosing what to plot (main.cc).

#include "experiments/plot.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cube {

namespace fs = std::filesystem;

namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Series in legend order: cheapest first (dally-ir.md §5), ties by label.
std::vector<const DistanceSeries*> legend_order(const std::vector<DistanceSeries>& series) {
  std::vector<const DistanceSeries*> order;
  for (const auto& s : series) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return a->cost < b->cost; });
  return order;
}

std::uint64_t total_reads(const DistanceSeries& s) {
  std::uint64_t n = 0;
  for (const auto& [distance, reads] : s.reads_at) n += reads;
  return n;
}

// Two columns per line: distance, reads at that distance; and distance, cumulative reads.
void write_data(const DistanceSeries& s, const fs::path& histogram, const fs::path& cumulative) {
  std::ofstream h(histogram), c(cumulative);
  std::uint64_t running = 0;
  for (const auto& [distance, reads] : s.reads_at) {
    running += reads;
    h << distance << ' ' << reads << '\n';
    c << distance << ' ' << running << '\n';
  }
  if (!h || !c) throw ConfigError(SourceLocation{histogram.string()}, "cannot write plot data");
}

std::string terminal_for(const fs::path& output) {
  std::string ext = output.extension().string();
  if (ext == ".png") return "pngcairo size 1320,560 font \",11\"";
  if (ext == ".svg") return "svg size 1320,560 dynamic font \"sans,11\"";
  throw ConfigError(SourceLocation{output.string()},
                    "unknown plot format '" + ext + "'; valid choices: .png, .svg");
}

}  // namespace

std::string distance_plot_script(const std::vector<DistanceSeries>& series, const fs::path& output,
                                 const fs::path& data_dir, const PlotOptions& options) {
  if (series.empty()) throw ConfigError(SourceLocation{output.string()}, "nothing to plot");
  std::ostringstream g;
  g << "set terminal " << terminal_for(output) << "\n";
  g << "set output " << quoted(output.string()) << "\n";
  g << "set multiplot layout 1,2 title " << quoted(options.title) << "\n";
  // noenhanced: names such as max_epochs are text, not subscripts.
  g << "set termoption noenhanced\nset grid\nset key outside below\n";
  g << "set offsets graph 0, graph 0.03, graph 0.05, 0\n";
  g << "set xlabel " << quoted(options.x_label) << "\n";
  if (options.log_y) g << "set logscale y\n";

  if (options.octaves) g << "set logscale x 2\nset format x \"2^%L\"\n";
  const std::string& count = options.count_label;

  auto order = legend_order(series);
  auto label = [&](const DistanceSeries& s) {
    std::ostringstream text;
    text << s.label << " (" << total_reads(s) << " " << count << ", cost " << s.cost << ")";
    return text.str();
  };
  std::vector<std::pair<fs::path, fs::path>> files;
  for (std::size_t i = 0; i < order.size(); ++i) {
    fs::path h = data_dir / ("histogram_" + std::to_string(i) + ".dat");
    fs::path c = data_dir / ("cumulative_" + std::to_string(i) + ".dat");
    files.emplace_back(h, c);
  }

  g << "set ylabel " << quoted(count) << "\nset title " << quoted(count + " per distance") << "\n";
  g << (order.size() == 1 ? "set style fill solid 0.6\n"
                          : "set style fill transparent solid 0.35\n");
  // One integer bin per distance (edges at d +- 0.5), or one per octave [2^i, 2^(i+1)) drawn
  // from its lower edge; overlaid series are translucent.
  const std::string bins =
      options.octaves ? " using 1:2 with steps lw 2 title " : " using 1:2 with boxes title ";
  if (!options.octaves) g << "set boxwidth 1.0\n";
  g << "plot ";
  for (std::size_t i = 0; i < order.size(); ++i)
    g << (i ? ", " : "") << quoted(files[i].first.string()) << bins << quoted(label(*order[i]));
  g << "\n";
  g << "set ylabel " << quoted(count + " at distance <= x") << "\nset title "
    << quoted("cumulative " + count) << "\n";
  g << "plot ";
  for (std::size_t i = 0; i < order.size(); ++i)
    g << (i ? ", " : "") << quoted(files[i].second.string()) << " using 1:2 with steps lw 2 title "
      << quoted(order.size() == 1 ? count : label(*order[i]));
  g << "\nunset multiplot\n";
  return g.str();
}

namespace {

// A temporary directory removed on scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    char pattern[] = "/tmp/cube_plot_XXXXXX";
    if (!mkdtemp(pattern)) throw Error("cannot create a temporary directory for plot data");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Runs gnuplot on `script` (data files already in `dir`); errors name `output`.
void run_gnuplot(const std::string& script, const fs::path& dir, const fs::path& output) {
  fs::path script_file = dir / "plot.gp";
  std::ofstream(script_file) << script;
  std::string command =
      "gnuplot " + quoted(script_file.string()) + " 2>" + quoted((dir / "gnuplot.err").string());
  int status = std::system(command.c_str());
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 127)
    throw ConfigError(SourceLocation{output.string()},
                      "cube plot needs gnuplot: apt-get install gnuplot-nox (scripts/cube-setup.sh "
                      "installs it)");
  if (code != 0) {
    std::ifstream err(dir / "gnuplot.err");
    std::stringstream text;
    text << err.rdbuf();
    throw ConfigError(SourceLocation{output.string()}, "gnuplot failed: " + text.str());
  }
}

}  // namespace

void plot_distances(const std::vector<DistanceSeries>& series, const fs::path& output,
                    const PlotOptions& options) {
  TempDir dir;
  std::string script = distance_plot_script(series, output, dir.path, options);
  auto order = legend_order(series);
  for (std::size_t i = 0; i < order.size(); ++i)
    write_data(*order[i], dir.path / ("histogram_" + std::to_string(i) + ".dat"),
               dir.path / ("cumulative_" + std::to_string(i) + ".dat"));
  run_gnuplot(script, dir.path, output);
}

std::string curve_plot_script(const std::vector<CurveSeries>& series, const fs::path& output,
                              const fs::path& data_dir, const PlotOptions& options) {
  if (series.empty()) throw ConfigError(SourceLocation{output.string()}, "nothing to plot");
  std::ostringstream g;
  g << "set terminal " << terminal_for(output) << "\n";
  g << "set output " << quoted(output.string()) << "\n";
  g << "set title " << quoted(options.title) << "\n";
  g << "set termoption noenhanced\nset grid\nset key outside right\n";
  g << "set xlabel " << quoted(options.x_label) << "\nset ylabel \"loss (nats per char)\"\n";
  if (options.log_y) g << "set logscale y\n";
  g << "plot ";
  for (std::size_t i = 0; i < series.size(); ++i) {
    // Series of one color share a line type: train dashed, val solid.
    g << (i ? ", " : "") << quoted((data_dir / ("curve_" + std::to_string(i) + ".dat")).string())
      << " using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc " << series[i].color + 1 << " dt "
      << (series[i].dashed ? 2 : 1) << " title " << quoted(series[i].label);
  }
  g << "\n";
  return g.str();
}

void plot_curves(const std::vector<CurveSeries>& series, const fs::path& output,
                 const PlotOptions& options) {
  TempDir dir;
  std::string script = curve_plot_script(series, output, dir.path, options);
  for (std::size_t i = 0; i < series.size(); ++i) {
    std::ofstream data(dir.path / ("curve_" + std::to_string(i) + ".dat"));
    for (const auto& [x, y] : series[i].points) data << x << ' ' << y << '\n';
  }
  run_gnuplot(script, dir.path, output);
}

}  // namespace cube
