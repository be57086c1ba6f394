// cube/experiments/provenance.h: where a result came from (commit, dirty tree, build, host,
// machine).
//
// Every `cube run` records one Provenance in the results store. Its build_key() is the identity
// under which finished jobs are skipped on a re-run: the same commit, the same uncommitted edits
// (hashed) and the same build type. A dirty tree is allowed (exploration) but recorded, with the
// patch itself, so that `cube diff` can label such rows (ecosystem survey §2.E).
//
// git is run as a child process (`git -C <dir> ...`, stderr discarded). When git is missing or
// the directory is not inside a work tree, the git fields are empty and nothing throws.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace cube {

struct Provenance {
  std::string git_commit;    // full sha of HEAD of the working copy, "" outside git
  bool git_dirty = false;    // tracked files modified (git status --porcelain --untracked-files=no)
  std::string diff_hash;     // 16 hex digits, FNV-1a 64 of `git diff HEAD` output; "" when clean
  std::string diff_patch;    // the `git diff HEAD` text itself; "" when clean
  std::string build_type;    // CMAKE_BUILD_TYPE of this binary ("Release", "Debug", ...)
  std::string compiler;      // "gcc 12.2.0", "clang 16.0.6", ...
  std::string host;          // gethostname()
  std::string machine;       // describe_machine(): the kind of machine the timings were taken on
  std::string started_at;    // ISO 8601 UTC, "2026-01-31T12:00:00Z"
  std::string cube_version;  // project version of this binary
  std::string command;       // the command line that started the run
  std::string scheduler_job;  // Slurm: "<array job>_<task>" (SLURM_ARRAY_JOB_ID,
                              // SLURM_ARRAY_TASK_ID) or SLURM_JOB_ID; "" outside Slurm

  // Identity for resume: commit + ("+" diff_hash if dirty) + "/" + build_type,
  // e.g. "3f2a...e1/Release" or "3f2a...e1+00c0ffee12345678/Debug".
  std::string build_key() const;
};

// Fills every field for a run started now in `work_dir`. Never throws on git trouble.
// Runs up to four git commands; cost is that of `git status` and `git diff HEAD`.
Provenance collect_provenance(const std::filesystem::path& work_dir, const std::string& command);

// The kind of machine a run's timings belong to, e.g. "AMD EPYC (family 25, model 1), 2 CPUs,
// avx2+fma": the CPU's model name, family and model (describe_cpu of /proc/cpuinfo; "unknown CPU"
// where that file is missing), the logical CPUs this process may run on (its affinity mask), and
// the widest vector ISA cpuid reports (avx512f, avx2+fma, or baseline). Host names do not tell
// machines apart (cloud VMs of different CPUs share them); this does, to the CPU generation. Wall
// times of runs with different machine strings are not comparable (`cube diff` does not judge
// them). Reads one file; microseconds.
std::string describe_machine();

// "<model name> (family F, model M)" of the first processor in /proc/cpuinfo text; "unknown CPU"
// when the text has no model name. O(size).
std::string describe_cpu(const std::string& cpuinfo);

// CMAKE_BUILD_TYPE of this binary ("Release", "Debug", ...), as collect_provenance reports it,
// without asking git.
std::string binary_build_type();

// The top-level directory of the work tree containing `work_dir`; nullopt outside git.
std::optional<std::filesystem::path> git_toplevel(const std::filesystem::path& work_dir);

// The full 40-hex sha of commit `rev` ("HEAD", "HEAD~1", a branch, a tag, a short sha) in the
// repository of `work_dir`; nullopt when it names no commit, starts with '-', or git is missing.
std::optional<std::string> resolve_git_rev(const std::filesystem::path& work_dir,
                                           const std::string& rev);

// FNV-1a 64-bit hash of `bytes` as 16 lowercase hex digits (Fowler, Noll, Vo; offset basis
// 0xcbf29ce484222325, prime 0x100000001b3). O(size).
std::string fnv1a64_hex(const std::string& bytes);

}  // namespace cube
