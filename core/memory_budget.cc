// cube/core/memory_budget.cc: see memory_budget.h.

#include "core/memory_budget.h"

#include <unistd.h>

#include <cstdio>

#include "core/error.h"

namespace cube {
namespace {

std::string gibibytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return text;
}

}  // namespace

std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

void check_fits_in_memory(double bytes, const std::string& key, const std::string& what,
                          const std::string& formula) {
  const std::uint64_t memory = physical_memory_bytes();
  if (memory == 0 || bytes <= static_cast<double>(memory)) return;
  throw ConfigError(key + ": " + what + " needs " + gibibytes(bytes) + " (" + formula +
                    "), more than this machine's " + gibibytes(static_cast<double>(memory)) +
                    " of memory");
}

}  // namespace cube
