// Replays tests/fuzz/corpus/<target>/ (the seeds) and tests/fuzz/regressions/<target>/ (inputs
// a fuzzer once broke cube with) through the fuzz targets in the ordinary build, so a fixed
// crash stays fixed on machines without clang.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <vector>

#include "tests/fuzz/fuzz_targets.h"

namespace fs = std::filesystem;

namespace cube::fuzz {
namespace {

using Target = std::function<std::string(std::span<const std::uint8_t>)>;

const std::map<std::string, Target>& targets() {
  static const std::map<std::string, Target> all = {
      {"plan_yaml", plan_yaml},       {"plan_json", plan_json},
      {"dally_ir", dally_ir},         {"trace_text", trace_text},
      {"trace_binary", trace_binary}, {"bytedmd_program", bytedmd_program}};
  return all;
}

std::vector<std::uint8_t> bytes_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs every file of <folder>/<target>/ through its target; returns how many ran.
int replay(const fs::path& folder, const std::string& name, const Target& target) {
  int count = 0;
  if (!fs::is_directory(folder / name)) return 0;
  for (const auto& entry : fs::directory_iterator(folder / name)) {
    if (!entry.is_regular_file()) continue;
    const std::vector<std::uint8_t> data = bytes_of(entry.path());
    EXPECT_EQ(target(data), "") << entry.path();
    ++count;
  }
  return count;
}

const fs::path kFuzzDir = fs::path(CUBE_SOURCE_DIR) / "tests" / "fuzz";

TEST(FuzzRegressions, EverySeedIsHandledAsPromised) {
  for (const auto& [name, target] : targets())
    EXPECT_GE(replay(kFuzzDir / "corpus", name, target), 3) << name << ": too few seeds";
}

TEST(FuzzRegressions, EverySavedCrashIsHandledAsPromised) {
  int count = 0;
  for (const auto& [name, target] : targets())
    count += replay(kFuzzDir / "regressions", name, target);
  RecordProperty("inputs", count);
}

// The targets themselves: a bad input of each kind is rejected, a good one read.
TEST(FuzzTargets, ReadGoodInputsAndRejectBadOnesAsPromised) {
  const auto run = [](const Target& target, std::string_view text) {
    return target({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  };
  EXPECT_EQ(run(plan_yaml, "problem: sparse_parity\nsolver: gf2\nmetrics: [accuracy]\n"), "");
  EXPECT_EQ(run(plan_yaml, "problem: [unclosed\n"), "");
  EXPECT_EQ(run(trace_text, "W a 100\nR a 10\nOP\n"), "");
  EXPECT_EQ(run(trace_text, "Q\n"), "");
  EXPECT_EQ(run(dally_ir, std::string_view("\x01"
                                           "bogus",
                                           6)),
            "");
  EXPECT_EQ(run(trace_binary, "CUBETRC1"), "");
  EXPECT_EQ(run(plan_json, "{\"format\": \"cube-plan\", \"jobs\": []}"), "");
  EXPECT_EQ(run(bytedmd_program, "push a b\nc = add a b\nreturn c\n"), "");
  EXPECT_EQ(run(bytedmd_program, "push a\nb = add a a\nc = add a b\n"), "");  // a read dead
  EXPECT_EQ(run(bytedmd_program, "x = add y\n"), "");                          // unknown y
  EXPECT_EQ(run(bytedmd_program, "push a b\nc = add a b\nreturn c\n"), "");
  EXPECT_EQ(run(bytedmd_program, "push a\nb = add a a\nc = add a b\n"), "");  // a read dead
  EXPECT_EQ(run(bytedmd_program, "x = add y\n"), "");                         // y unknown
}

}  // namespace
}  // namespace cube::fuzz
