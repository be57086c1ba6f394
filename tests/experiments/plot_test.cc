// Tests of experiments/plot: the gnuplot script and real PNG/SVG files.

#include "experiments/plot.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

std::vector<DistanceSeries> two_series() {
  DistanceSeries far{"baseline", {{1, 3}, {4, 10}, {13, 40}}, 900};
  DistanceSeries near{"tiled", {{1, 30}, {2, 20}, {3, 3}}, 120};
  return {far, near};
}

TEST(PlotTest, ScriptOverlaysSeriesCheapestFirst) {
  std::string script = distance_plot_script(two_series(), "/tmp/x.png", "/tmp/d", {"t"});
  EXPECT_NE(script.find("set terminal pngcairo"), std::string::npos);
  auto tiled = script.find("tiled (53 reads, cost 120)");
  auto baseline = script.find("baseline (53 reads, cost 900)");
  ASSERT_NE(tiled, std::string::npos) << script;
  ASSERT_NE(baseline, std::string::npos) << script;
  EXPECT_LT(tiled, baseline);
  EXPECT_NE(script.find("cumulative reads"), std::string::npos);
}

TEST(PlotTest, OneSeriesIsAHistogramOfBoxes) {
  std::string script = distance_plot_script({two_series()[0]}, "/tmp/x.svg", "/tmp/d", {"t"});
  EXPECT_NE(script.find("set terminal svg"), std::string::npos);
  EXPECT_NE(script.find("with boxes"), std::string::npos);
}

TEST(PlotTest, UnknownExtensionAndEmptyInputAreErrors) {
  EXPECT_THROW(distance_plot_script(two_series(), "/tmp/x.jpg", "/tmp/d", {}), ConfigError);
  EXPECT_THROW(distance_plot_script({}, "/tmp/x.png", "/tmp/d", {}), ConfigError);
}

std::string head(const fs::path& file, std::size_t n) {
  std::ifstream in(file, std::ios::binary);
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

TEST(PlotTest, WritesRealPngAndSvgFiles) {
  fs::path png = fs::temp_directory_path() / "cube_plot_test.png";
  fs::path svg = fs::temp_directory_path() / "cube_plot_test.svg";
  plot_distances(two_series(), png, {"two series", "distance", true});
  plot_distances({two_series()[1]}, svg, {"one series"});
  EXPECT_EQ(head(png, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(fs::file_size(png), 5000u);
  std::string svg_text = head(svg, 4096);
  EXPECT_NE(svg_text.find("<svg"), std::string::npos);
  fs::remove(png);
  fs::remove(svg);
}

TEST(PlotTest, LossCurvesShareAColorPerCellTrainDashed) {
  std::vector<CurveSeries> series = {{"adamw train_loss", {{0, 4.2}, {250, 2.5}}, 0, true},
                                     {"adamw val_loss", {{0, 4.2}, {250, 2.6}}, 0, false},
                                     {"lion val_loss", {{0, 4.2}, {250, 2.9}}, 1, false}};
  const std::string script = curve_plot_script(series, "c.svg", "/data", {"curves", "iteration"});
  EXPECT_NE(script.find("\"/data/curve_0.dat\" using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc 1 "
                        "dt 2 title \"adamw train_loss\""),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("lc 1 dt 1 title \"adamw val_loss\""), std::string::npos);
  EXPECT_NE(script.find("lc 2 dt 1 title \"lion val_loss\""), std::string::npos);
  fs::path png = fs::temp_directory_path() / "cube_curve_test.png";
  plot_curves(series, png, {"curves", "iteration"});
  EXPECT_EQ(head(png, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  fs::remove(png);
  EXPECT_THROW(plot_curves({}, png, {}), ConfigError);
}

}  // namespace
}  // namespace cube
