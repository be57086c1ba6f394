// cube/experiments/process.h: child processes and the files they leave, for the commands that
// drive other programs (`cube diff` builds revisions and runs their binaries, `--launcher slurm`
// calls sbatch and squeue). fork + execvp with argument vectors: no shell, so no quoting, except
// for the scripts cube writes (shell_quote).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cube {

// A child process: argv[0] looked up on PATH, run in `cwd`.
struct ProcessSpec {
  std::vector<std::string> argv;
  std::filesystem::path cwd;
  std::optional<std::filesystem::path> log;  // stdout appended here; inherited when unset
  bool stderr_to_log = false;                // stderr appended to `log` as well
  std::vector<std::pair<std::string, std::string>> env;  // variables set for the child only
};

// Runs the process to completion and returns its exit status (128 + signal when killed, 127 when
// it could not be started). Throws std::runtime_error only when fork or the log file fails.
int run_process(const ProcessSpec& spec);

// The full path of `program` found on PATH (as execvp would), or nullopt.
std::optional<std::filesystem::path> find_on_path(const std::string& program);

// Runs `argv` in `cwd` and returns its exit status and its stdout (and stderr when
// `with_stderr`), captured through a temporary file.
std::pair<int, std::string> capture(const std::vector<std::string>& argv,
                                    const std::filesystem::path& cwd, bool with_stderr);

// The whole content of `path` ("" when it cannot be read).
std::string read_whole_file(const std::filesystem::path& path);

// POSIX shell single-quoting: 'text', with each ' written as '\''.
std::string shell_quote(const std::string& text);

}  // namespace cube
