// Provenance of a run: git state read through `git -C <dir>` child processes, build and host facts.
// Not here: storing it (store.cc) or deciding what a dirty tree means for a diff (diff.cc).

#include "experiments/provenance.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "experiments/process.h"

#ifndef CUBE_VERSION
#define CUBE_VERSION "unknown"
#endif
#ifndef CUBE_BUILD_TYPE
#define CUBE_BUILD_TYPE "unknown"
#endif

namespace cube {
namespace {

// Runs `git -C <dir> <args>` and returns its stdout when it exits 0. stderr goes to /dev/null so
// that "not a git repository" or "git: not found" never reaches the user's terminal.
// --no-optional-locks: `git status` must not take index.lock while other sweeps run here.
std::optional<std::string> run_git(const std::filesystem::path& dir, const std::string& args) {
  std::string command = "git --no-optional-locks -C " + shell_quote(dir.string()) + " " + args +
                        " 2>/dev/null </dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  std::array<char, 65536> buffer;
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  int status = pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

std::string trim_newline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

bool is_full_sha(const std::string& text) {
  if (text.size() != 40 && text.size() != 64) return false;  // SHA-1 or SHA-256 repositories
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string compiler_name() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

std::string host_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "";
  return name.data();
}

std::string utc_now_iso8601() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text.data();
}

// The value of "key : value" lines of /proc/cpuinfo for the first processor; "" when absent.
std::string cpuinfo_field(const std::string& cpuinfo, const std::string& key) {
  std::istringstream lines(cpuinfo);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) break;  // the first processor's block ends at a blank line
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (name != key) continue;
    std::size_t begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? std::string() : line.substr(begin);
  }
  return "";
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online) : 1;
}

const char* widest_vector_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
#endif
  return "baseline";
}

}  // namespace

std::string describe_cpu(const std::string& cpuinfo) {
  const std::string model_name = cpuinfo_field(cpuinfo, "model name");
  if (model_name.empty()) return "unknown CPU";
  const std::string family = cpuinfo_field(cpuinfo, "cpu family");
  const std::string model = cpuinfo_field(cpuinfo, "model");
  if (family.empty() || model.empty()) return model_name;
  return model_name + " (family " + family + ", model " + model + ")";
}

std::string describe_machine() {
  // Only the first processor's block: the kernel writes /proc/cpuinfo a processor at a time, so a
  // many-core machine never formats the rest (every `cube run` and Slurm task calls this).
  std::ifstream file("/proc/cpuinfo");
  std::string first_block, line;
  while (std::getline(file, line) && !line.empty()) first_block += line + "\n";
  const int cpus = usable_cpus();
  return describe_cpu(first_block) + ", " + std::to_string(cpus) +
         (cpus == 1 ? " CPU, " : " CPUs, ") + widest_vector_isa();
}

std::string Provenance::build_key() const {
  return git_commit + (git_dirty ? "+" + diff_hash : std::string()) + "/" + build_type;
}

std::string fnv1a64_hex(const std::string& bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  std::array<char, 17> text{};
  std::snprintf(text.data(), text.size(), "%016llx", static_cast<unsigned long long>(hash));
  return text.data();
}

std::optional<std::filesystem::path> git_toplevel(const std::filesystem::path& work_dir) {
  std::optional<std::string> out = run_git(work_dir, "rev-parse --show-toplevel");
  if (!out) return std::nullopt;
  std::string top = trim_newline(*out);
  if (top.empty()) return std::nullopt;  // inside .git itself
  return std::filesystem::path(top);
}

std::optional<std::string> resolve_git_rev(const std::filesystem::path& work_dir,
                                           const std::string& rev) {
  // A leading '-' would be read as an option; no revision name starts with one.
  if (rev.empty() || rev.front() == '-') return std::nullopt;
  std::optional<std::string> out =
      run_git(work_dir, "rev-parse --verify --quiet " + shell_quote(rev + "^{commit}"));
  if (!out) return std::nullopt;
  std::string sha = trim_newline(*out);
  if (!is_full_sha(sha)) return std::nullopt;
  return sha;
}

std::string binary_build_type() { return CUBE_BUILD_TYPE; }

Provenance collect_provenance(const std::filesystem::path& work_dir, const std::string& command) {
  Provenance p;
  p.build_type = binary_build_type();
  p.compiler = compiler_name();
  p.host = host_name();
  p.machine = describe_machine();
  p.started_at = utc_now_iso8601();
  p.cube_version = CUBE_VERSION;
  p.command = command;
  const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* array_task = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* job = std::getenv("SLURM_JOB_ID");
  if (array_job != nullptr && array_task != nullptr)
    p.scheduler_job = std::string(array_job) + "_" + array_task;
  else if (job != nullptr)
    p.scheduler_job = job;

  // Without a commit (outside git, or a repository with no commit yet) there is no HEAD to
  // compare against: the git fields stay empty and the run is "clean" by convention.
  p.git_commit = resolve_git_rev(work_dir, "HEAD").value_or("");
  if (p.git_commit.empty()) return p;
  std::optional<std::string> status = run_git(work_dir, "status --porcelain --untracked-files=no");
  p.git_dirty = status && !status->empty();
  if (p.git_dirty) {
    // Flags pin the output against user configuration (color.ui=always, diff drivers).
    std::optional<std::string> diff =
        run_git(work_dir, "-c core.quotepath=off diff --no-color --no-ext-diff --no-textconv HEAD");
    p.diff_patch = diff.value_or("");
    p.diff_hash = fnv1a64_hex(p.diff_patch);
  }
  return p;
}

}  // namespace cube
