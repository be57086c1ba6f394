// Test fixture shared by the metric tests: the harness's one tracked SGD step (metrics.md §2.4)
// as a W/R text trace, for the vectors M8/M9, L12/L13, C5-C12 and the §8 cross-check table.
#pragma once

#include <cstdint>
#include <map>
#include <sstream>
#include <string>

namespace cube::fixtures {

// The 40-event listing, verbatim; write sizes are symbolic, reads use the default size.
inline constexpr const char* kSgdStepListing = R"(
W x n;  W W1 h*n;  W b1 h;  R x; R W1; R b1;  W h_pre h;  R h_pre;  W h h;
W W2 h; W b2 1;  R h; R W2; R b2;  W out 1;  R out;  W d_out 1;
R d_out; R W2; R h;  W dW2 h;  W db2 1;  R d_out; R W2;  W d_h h;
R d_h; R h_pre;  W d_h_pre h;  R d_h_pre; R x;  W dW1 h*n;  W db1 h;
R W1; R dW1; R W2; R dW2; R b1; R db1; R b2; R db2
)";

// The listing for given n (input bits) and h (hidden units), one event per line, write sizes
// evaluated and reads left without a size (the default: the last write's size).
inline std::string sgd_step_trace(std::int64_t n, std::int64_t h) {
  const std::map<std::string, std::int64_t> sizes = {{"n", n}, {"h", h}, {"h*n", h * n}, {"1", 1}};
  std::ostringstream out;
  std::istringstream listing(kSgdStepListing);
  std::string line;
  while (std::getline(listing, line)) {
    std::istringstream events(line);
    std::string event;
    while (std::getline(events, event, ';')) {
      std::istringstream fields(event);
      std::string kind, name, size;
      if (!(fields >> kind >> name)) continue;
      fields >> size;
      if (kind == "W") size = std::to_string(sizes.at(size));
      out << kind << ' ' << name << (size.empty() ? "" : " " + size) << '\n';
    }
  }
  return out.str();
}

}  // namespace cube::fixtures
