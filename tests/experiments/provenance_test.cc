// Tests of experiments/provenance in a throw-away git repository: commit, dirty tree, revisions.

#include "experiments/provenance.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>

namespace fs = std::filesystem;

namespace cube {
namespace {

// Restores an environment variable on scope exit.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

class ProvenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cube_prov_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    repo_ = dir_ / "repo";
    fs::create_directories(repo_ / "sub");
    if (sh("git --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "git is not available";
    ASSERT_EQ(sh("git init -q ."), 0);
    write("a.txt", "one\n");
    ASSERT_EQ(sh("git add a.txt && " + commit_command("first")), 0);
    first_ = output("git rev-parse HEAD");
    write("a.txt", "two\n");
    ASSERT_EQ(sh("git add a.txt && " + commit_command("second")), 0);
    second_ = output("git rev-parse HEAD");
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string commit_command(const std::string& message) {
    return "git -c user.name=t -c user.email=t@t -c commit.gpgsign=false commit -q -m " + message;
  }
  int sh(const std::string& command) {
    return std::system(("cd '" + repo_.string() + "' && " + command).c_str());
  }
  // stdout of a command run in the repository, exactly as produced.
  std::string raw_output(const std::string& command) {
    FILE* pipe = popen(("cd '" + repo_.string() + "' && " + command).c_str(), "r");
    std::string out;
    std::array<char, 4096> buffer;
    std::size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
      out.append(buffer.data(), n);
    pclose(pipe);
    return out;
  }
  std::string output(const std::string& command) {
    std::string out = raw_output(command);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(repo_ / name) << text;
  }

  fs::path dir_, repo_;
  std::string first_, second_;
};

TEST_F(ProvenanceTest, CleanCheckoutRecordsHeadAndNoDiff) {
  Provenance p = collect_provenance(repo_ / "sub", "cube run x.yaml");
  EXPECT_EQ(p.git_commit, second_);
  EXPECT_EQ(p.git_commit.size(), 40u);
  EXPECT_FALSE(p.git_dirty);
  EXPECT_EQ(p.diff_hash, "");
  EXPECT_EQ(p.diff_patch, "");
  EXPECT_FALSE(p.build_type.empty());
  EXPECT_EQ(p.build_key(), second_ + "/" + p.build_type);
  EXPECT_EQ(p.command, "cube run x.yaml");
  EXPECT_FALSE(p.cube_version.empty());
  EXPECT_TRUE(p.compiler.rfind("gcc ", 0) == 0 || p.compiler.rfind("clang ", 0) == 0) << p.compiler;
  EXPECT_TRUE(std::regex_match(p.started_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << p.started_at;
  std::array<char, 256> host{};
  gethostname(host.data(), host.size() - 1);
  EXPECT_EQ(p.host, host.data());
}

TEST_F(ProvenanceTest, ModifiedTrackedFileMakesTheTreeDirtyWithAHashOfTheDiff) {
  write("untracked.txt", "not part of the build\n");
  EXPECT_FALSE(collect_provenance(repo_, "").git_dirty) << "untracked files do not count";

  write("a.txt", "three\n");
  Provenance p = collect_provenance(repo_, "");
  EXPECT_EQ(p.git_commit, second_);
  EXPECT_TRUE(p.git_dirty);
  std::string diff = raw_output("git diff HEAD");
  EXPECT_NE(diff.find("+three"), std::string::npos);
  EXPECT_EQ(p.diff_patch, diff);
  EXPECT_EQ(p.diff_hash, fnv1a64_hex(diff));
  EXPECT_TRUE(std::regex_match(p.diff_hash, std::regex("[0-9a-f]{16}"))) << p.diff_hash;
  EXPECT_EQ(p.build_key(), second_ + "+" + p.diff_hash + "/" + p.build_type);

  // Another edit, another identity; staged edits count too.
  write("a.txt", "four\n");
  ASSERT_EQ(sh("git add a.txt"), 0);
  Provenance q = collect_provenance(repo_, "");
  EXPECT_TRUE(q.git_dirty);
  EXPECT_NE(q.diff_hash, p.diff_hash);
  EXPECT_NE(q.build_key(), p.build_key());
}

TEST_F(ProvenanceTest, ResolvesRevisionsToFullShas) {
  EXPECT_EQ(resolve_git_rev(repo_, "HEAD"), second_);
  EXPECT_EQ(resolve_git_rev(repo_ / "sub", "HEAD~1"), first_);
  EXPECT_EQ(resolve_git_rev(repo_, first_.substr(0, 10)), first_);
  EXPECT_EQ(resolve_git_rev(repo_, "HEAD~5"), std::nullopt);
  EXPECT_EQ(resolve_git_rev(repo_, "no-such-branch"), std::nullopt);
  EXPECT_EQ(resolve_git_rev(repo_, "--all"), std::nullopt);
  EXPECT_EQ(resolve_git_rev(repo_, "HEAD'; touch pwned; '"), std::nullopt);
  EXPECT_FALSE(fs::exists(repo_ / "pwned"));
  EXPECT_EQ(fs::canonical(*git_toplevel(repo_ / "sub")), fs::canonical(repo_));
}

TEST_F(ProvenanceTest, OutsideGitEverythingGitIsEmpty) {
  fs::path plain = dir_ / "plain";
  fs::create_directories(plain);
  ScopedEnv ceiling("GIT_CEILING_DIRECTORIES", dir_.string());
  EXPECT_EQ(git_toplevel(plain), std::nullopt);
  EXPECT_EQ(resolve_git_rev(plain, "HEAD"), std::nullopt);
  Provenance p = collect_provenance(plain, "c");
  EXPECT_EQ(p.git_commit, "");
  EXPECT_FALSE(p.git_dirty);
  EXPECT_EQ(p.diff_hash, "");
  EXPECT_EQ(p.build_key(), "/" + p.build_type);
  EXPECT_EQ(git_toplevel(dir_ / "does-not-exist"), std::nullopt);
}

TEST_F(ProvenanceTest, MissingGitIsNotAnError) {
  fs::path empty_bin = dir_ / "bin";
  fs::create_directories(empty_bin);
  ScopedEnv path("PATH", empty_bin.string());
  Provenance p = collect_provenance(repo_, "c");
  EXPECT_EQ(p.git_commit, "");
  EXPECT_EQ(git_toplevel(repo_), std::nullopt);
  EXPECT_FALSE(p.host.empty());
  EXPECT_EQ(p.machine, describe_machine());
}

TEST(MachineTest, DescribesTheFirstProcessorOfCpuinfo) {
  const std::string zen3 =
      "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"
      "model name\t: AMD EPYC\nflags\t\t: fpu avx2 fma\n\n"
      "processor\t: 1\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: other\n";
  EXPECT_EQ(describe_cpu(zen3), "AMD EPYC (family 25, model 1)");
  EXPECT_EQ(describe_cpu("model name\t: Apple M2\n"), "Apple M2");
  EXPECT_EQ(describe_cpu("processor\t: 0\nmodel\t: 1\n"), "unknown CPU");
  EXPECT_EQ(describe_cpu(""), "unknown CPU");
}

TEST(MachineTest, NamesTheCpusAndTheWidestVectorIsa) {
  const std::string machine = describe_machine();
  EXPECT_TRUE(
      std::regex_match(machine, std::regex(".+, [1-9][0-9]* CPUs?, (avx512f|avx2\\+fma|baseline)")))
      << machine;
  EXPECT_EQ(describe_machine(), machine);
}

TEST(Fnv1aTest, MatchesTheReferenceVectors) {
  EXPECT_EQ(fnv1a64_hex(""), "cbf29ce484222325");
  EXPECT_EQ(fnv1a64_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(fnv1a64_hex("foobar"), "85944171f73967e8");
}

}  // namespace
}  // namespace cube
