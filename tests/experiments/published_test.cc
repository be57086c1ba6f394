// Tests of experiments/published: report specs (loading, errors), figure matching, and the
// rendered comparison (cube's value beside the published one).

#include "experiments/published.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "experiments/html.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

class PublishedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cube_published_test_" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    write("sweep.yaml", R"(problem: sparse_parity(n=20,k=3,n_train=100,n_test=50)
solver: gf2
metrics: [accuracy, ard]
seeds: [1, 2]
)");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(PublishedTest, LoadsSectionsSweepsAndFigures) {
  ReportSpec spec = load_report_spec(write("r.yaml", R"(title: T
intro: hello
sections:
  - title: S
    sweep: sweep.yaml
    columns: [accuracy, ard]
    published:
      - match: {solver: gf2, problem.n: 20}
        values: {ard: 420, wall_time: 0.000509}
        note: 3 coarse events
        source: "§2.3 #44"
)"));
  ASSERT_EQ(spec.sections.size(), 1u);
  const ReportSection& s = spec.sections[0];
  EXPECT_EQ(s.plan.jobs.size(), 2u);
  EXPECT_EQ(s.columns, (std::vector<std::string>{"accuracy", "ard"}));
  ASSERT_EQ(s.published.size(), 1u);
  EXPECT_EQ(s.published[0].values.at("ard"), 420);
  EXPECT_EQ(s.published[0].match.at("problem.n"), "20");
  EXPECT_EQ(s.published[0].source, "§2.3 #44");
}

TEST_F(PublishedTest, BadSpecsNameTheFileLineAndKey) {
  auto message = [&](const std::string& text) {
    try {
      load_report_spec(write("bad.yaml", text));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("sections:\n  - sweep: sweep.yaml\n    publishd: []\n")
                .find("bad.yaml:3:5: sections[0].publishd: unknown key; valid keys: title, sweep"),
            std::string::npos);
  EXPECT_NE(message("sections:\n  - sweep: nowhere.yaml\n").find("no such file"),
            std::string::npos);
  EXPECT_NE(message("sections:\n  - sweep: sweep.yaml\n    published:\n      - match: {x: 1}\n")
                .find("published[0].match.x: valid keys: solver, problem"),
            std::string::npos);
  EXPECT_NE(message("sections:\n  - sweep: sweep.yaml\n    published:\n"
                    "      - match: {solver: gf2}\n        values: {ard: fast}\n")
                .find("values.ard: expected a number, got 'fast'"),
            std::string::npos);
  EXPECT_NE(message("title: x\n").find("sections: expected a non-empty list"), std::string::npos);
}

TEST(FigureMatchTest, MatchesNamesAndParametersByValue) {
  PublishedFigure f;
  f.match = {{"solver", "sgd"}, {"solver.lr", "0.10"}, {"problem.n", "20"}};
  const std::string problem = "sparse_parity(k=3,n=20,n_test=200,n_train=1000)";
  EXPECT_TRUE(figure_matches(f, problem, "sgd(batch=32,lr=0.1)"));
  EXPECT_FALSE(figure_matches(f, problem, "sgd(batch=32,lr=0.5)"));
  EXPECT_FALSE(figure_matches(f, problem, "gf2"));
  EXPECT_FALSE(figure_matches(f, "sparse_parity(k=3,n=50)", "sgd(lr=0.1)"));
  f.match = {{"problem", "sparse_parity"}};
  EXPECT_TRUE(figure_matches(f, problem, "gf2"));
  EXPECT_FALSE(figure_matches(f, "sparse_sum(k=3,n=20)", "gf2"));
}

TEST(RenderReportTest, PutsPublishedFiguresBesideCubeValues) {
  ReportSpec spec;
  spec.title = "Title";
  ReportSection section;
  section.title = "Cell";
  section.columns = {"ard", "accuracy"};
  PublishedFigure f;
  f.match = {{"solver", "gf2"}};
  f.values = {{"ard", 420}};
  f.source = "src";
  section.published = {f};
  PublishedFigure orphan;
  orphan.match = {{"solver", "km"}};
  orphan.values = {{"ard", 92}};
  orphan.source = "km-src";
  section.published.push_back(orphan);
  spec.sections = {section};
  std::vector<ResultRow> rows;
  for (std::uint64_t seed : {1, 2}) {
    for (const auto& [metric, value] : std::vector<std::pair<std::string, double>>{
             {"ard", seed == 1 ? 400.0 : 500.0}, {"accuracy", 1.0}}) {
      ResultRow row;
      row.problem = "sparse_parity(k=3,n=20)";
      row.solver = "gf2";
      row.cell = row.problem + "/" + row.solver;
      row.seed = seed;
      row.metric = metric;
      row.value = value;
      row.status = "ok";
      rows.push_back(row);
    }
  }
  Provenance provenance;
  provenance.command = "cube report r.yaml";
  provenance.git_commit = "0123456789abcdef";
  const std::string doc = render_report(spec, {rows}, provenance);
  EXPECT_NE(doc.find("# Title"), std::string::npos);
  EXPECT_NE(doc.find("| problem | solver | runs | status | ard | ard (published) | accuracy | "
                     "published source |"),
            std::string::npos)
      << doc;
  EXPECT_NE(doc.find("| sparse_parity(k=3,n=20) | gf2 | 2 | ok | 450 | 420 | 1 | src |"),
            std::string::npos)
      << doc;
  EXPECT_NE(doc.find("Published without a cube cell here: solver=km; ard 92 (km-src)"),
            std::string::npos)
      << doc;
  EXPECT_NE(doc.find("commit `0123456789ab`"), std::string::npos);
  EXPECT_EQ(doc.find("**Note:**"), std::string::npos);
  provenance.host = "vm";
  provenance.machine = "AMD EPYC (family 25, model 1), 2 CPUs, avx2+fma";
  const std::string noted = render_report(spec, {rows}, provenance, "1 stored job was measured");
  EXPECT_NE(noted.find(", on vm, AMD EPYC (family 25, model 1), 2 CPUs, avx2+fma ("),
            std::string::npos)
      << noted;
  EXPECT_NE(noted.find("**Note:** 1 stored job was measured.\n"), std::string::npos) << noted;
}

// With --format html the curves are inline SVG in a raw HTML block, which a blank line would end:
// blank lines of gnuplot's markup are dropped, and the block survives markdown rendering.
TEST(RenderReportTest, InlineSvgCurvesFormOneHtmlBlock) {
  ReportSpec spec;
  spec.title = "T";
  ReportSection section;
  section.title = "S";
  section.curves_svg = "<svg width=\"4\">\n\n  <g>\n  \n<path d=\"M0 0\"/></g>\n</svg>\n";
  spec.sections = {section};
  const std::string doc = render_report(spec, {{}}, Provenance{});
  EXPECT_NE(doc.find("<figure>\n<svg width=\"4\">\n  <g>\n<path d=\"M0 0\"/></g>\n</svg>\n"
                     "</figure>\n"),
            std::string::npos)
      << doc;
  const std::string html = markdown_to_html(doc);
  EXPECT_NE(html.find("<svg width=\"4\">\n  <g>\n<path d=\"M0 0\"/></g>\n</svg>"),
            std::string::npos)
      << html;
  EXPECT_EQ(html.find("<pre>"), std::string::npos) << html;
}

}  // namespace
}  // namespace cube

namespace cube {
namespace {

// Every plan and report spec shipped in experiments/ loads and validates (names, keys, ranges),
// so a renamed parameter cannot silently break a published sweep.
TEST(ShippedExperimentsTest, EveryPlanAndReportSpecLoads) {
  std::size_t plans = 0, reports = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           std::string(CUBE_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    if (entry.path().filename().string().ends_with("report.yaml")) {  // report.yaml, x_report.yaml
      ReportSpec spec = load_report_spec(entry.path());
      EXPECT_FALSE(spec.sections.empty());
      ++reports;
    } else {
      EXPECT_FALSE(load_plan(entry.path(), {}).jobs.empty());
      ++plans;
    }
  }
  EXPECT_GE(plans, 15u);
  EXPECT_EQ(reports, 3u);
}

}  // namespace
}  // namespace cube
