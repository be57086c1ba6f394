// cube/core/error.h: the error types of cube and where they point in the user's input.
//
// Configuration and usage problems throw ConfigError (exit code 2 at the CLI); internal invariant
// failures throw Error. Numerical outcomes (did not converge, diverged) are never exceptions:
// they are status values in results.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cube {

// Where a value came from: "cell.yaml:3:27", or "--set solver.lr=0.05", or "" when unknown.
struct SourceLocation {
  std::string file;  // a path, or a pseudo-source such as "--set solver.lr=0.05"
  int line = 0;      // 1-based; 0 when the source has no lines
  int column = 0;    // 1-based; 0 when unknown

  // "file:line:column", "file:line", "file" or "" depending on what is known.
  std::string str() const;
};

// Any failure that is not the user's fault.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad input: unknown name or key, wrong type, out of range, unreadable file, bad YAML.
// what() is the full message, prefixed with the location when one is known.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const SourceLocation& where, const std::string& message);
  explicit ConfigError(const std::string& message) : ConfigError(SourceLocation{}, message) {}

  const SourceLocation& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  SourceLocation where_;
  std::string message_;
};

// Joins "a, b, c" for "valid choices" lists.
template <class Range>
std::string join(const Range& items, const char* separator = ", ") {
  std::ostringstream out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out << separator;
    out << item;
    first = false;
  }
  return out.str();
}

}  // namespace cube

// CUBE_CHECK(cond, "message " << value): throws cube::Error naming this source line when false.
#define CUBE_CHECK(cond, msg)                                                                    \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::ostringstream cube_check_stream_;                                                     \
      cube_check_stream_ << __FILE__ << ":" << __LINE__ << ": check failed: " #cond ": " << msg; \
      throw ::cube::Error(cube_check_stream_.str());                                             \
    }                                                                                            \
  } while (0)
