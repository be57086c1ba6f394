// cube/experiments/plot.h: access-distance plots through gnuplot (dally-ir.md §5).
//
// One series (a trace, a cell): left, the histogram of read distances with one integer bin per
// distance (or, with PlotOptions::octaves, one bin per power of two on a log2 axis); right, the
// cumulative read count (reads at distance <= x, unnormalised, as the group's plots draw it).
// Several series: both panels overlaid, legend sorted by total cost (cheapest first). Output is PNG
// (pngcairo) or SVG, chosen by the file extension. gnuplot comes from Debian's gnuplot-nox,
// installed by scripts/cube-setup.sh.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace cube {

struct DistanceSeries {
  std::string label;
  // distance -> number of reads (with octaves: the bin's lower edge 2^i -> reads in [2^i, 2^i+1))
  std::map<std::uint64_t, std::uint64_t> reads_at;
  double cost = 0;  // total cost, for the legend and its order
};

struct PlotOptions {
  std::string title;
  std::string x_label = "access distance";
  bool log_y = false;    // log scale for read counts (series differing by 10x stay readable)
  bool octaves = false;  // distances binned by powers of two, log2 x axis
  std::string count_label = "reads";  // what reads_at counts (e.g. "bytes read")
};

// Writes the plot to `output` (.png or .svg). Throws ConfigError when the extension is neither,
// the series are empty, or gnuplot is missing or fails (its message is included).
void plot_distances(const std::vector<DistanceSeries>& series, const std::filesystem::path& output,
                    const PlotOptions& options);

// The gnuplot script plot_distances runs, with data files under `data_dir` (for tests and for
// users who want to restyle a plot).
std::string distance_plot_script(const std::vector<DistanceSeries>& series,
                                 const std::filesystem::path& output,
                                 const std::filesystem::path& data_dir, const PlotOptions& options);

// One learning curve: (step, value) points, drawn as a line in color `color` (an index), dashed
// or solid (train and val of one cell share a color).
struct CurveSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;
  int color = 0;
  bool dashed = false;
};

// Loss curves of several cells in one panel (x: options.x_label, y: loss). Same formats and
// errors as plot_distances.
void plot_curves(const std::vector<CurveSeries>& series, const std::filesystem::path& output,
                 const PlotOptions& options);
std::string curve_plot_script(const std::vector<CurveSeries>& series,
                              const std::filesystem::path& output,
                              const std::filesystem::path& data_dir, const PlotOptions& options);

}  // namespace cube
