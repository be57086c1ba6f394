// cube/experiments/process.cc: see process.h.

#include "experiments/process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "core/error.h"

namespace fs = std::filesystem;

namespace cube {

int run_process(const ProcessSpec& spec) {
  CUBE_CHECK(!spec.argv.empty(), "run_process needs a program");
  int log_fd = -1;
  if (spec.log) {
    log_fd = ::open(spec.log->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
      throw std::runtime_error("cannot open " + spec.log->string() + ": " + std::strerror(errno));
  }
  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    if (log_fd >= 0) ::close(log_fd);
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    if (log_fd >= 0) {
      ::dup2(log_fd, STDOUT_FILENO);
      if (spec.stderr_to_log) ::dup2(log_fd, STDERR_FILENO);
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) ::_exit(127);
    for (const auto& [name, value] : spec.env) ::setenv(name.c_str(), value.c_str(), 1);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 127;
}

std::optional<fs::path> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
  }
  return std::nullopt;
}

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (!ec && fs::is_regular_file(path, ec)) {
    // One allocation of the right size: a stream that grows its buffer touches each byte
    // three times, and on this VM every fresh page is a costly fault.
    std::string text(static_cast<std::size_t>(size), '\0');
    in.read(text.data(), static_cast<std::streamsize>(size));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::pair<int, std::string> capture(const std::vector<std::string>& argv, const fs::path& cwd,
                                    bool with_stderr) {
  const fs::path out =
      fs::temp_directory_path() / ("cube_capture_" + std::to_string(::getpid()) + "_" +
                                   std::to_string(std::hash<std::string>{}(argv.back())) + ".txt");
  fs::remove(out);
  ProcessSpec spec{argv, cwd, out, with_stderr, {}};
  const int status = run_process(spec);
  std::string text = read_whole_file(out);
  fs::remove(out);
  return {status, text};
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace cube
