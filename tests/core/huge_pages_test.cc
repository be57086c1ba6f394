// Tests of use_huge_page_heap (core/huge_pages.h): allocation works as before after it, and the
// heap region it marks carries the kernel's huge-page advice (VmFlags "hg" in /proc/self/smaps),
// when the kernel offers transparent huge pages at all.

#include "core/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace cube {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Whether the mapping that holds `address` has `flag` among its VmFlags.
bool mapping_has_flag(const void* address, const std::string& flag) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::istringstream smaps(read_text("/proc/self/smaps"));
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t low = 0, high = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> low >> dash >> high && dash == '-') {
      inside = low <= at && at < high;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0)
      return (line + " ").find(" " + flag + " ") != std::string::npos;
  }
  return false;
}

TEST(HugePages, HeapStillAllocatesAndIsAdvised) {
  use_huge_page_heap(std::size_t{64} << 20);
  std::vector<std::uint32_t> big(std::size_t{4} << 20);  // 16 MiB, below the 32 MiB threshold
  std::iota(big.begin(), big.end(), 0u);
  EXPECT_EQ(big[12345], 12345u);
  EXPECT_EQ(std::accumulate(big.begin(), big.end(), std::uint64_t{0}),
            (std::uint64_t{4} << 20) * ((std::uint64_t{4} << 20) - 1) / 2);
  const std::string thp = read_text("/sys/kernel/mm/transparent_hugepage/enabled");
  if (thp.find("[never]") != std::string::npos || thp.empty()) {
    GTEST_SKIP() << "transparent huge pages are off on this kernel";
  }
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator replaces the C library heap";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "AddressSanitizer's allocator replaces the C library heap";
#endif
#endif
  // The vector came from the heap (not a mapping of its own) and that heap is advised.
  EXPECT_TRUE(mapping_has_flag(big.data() + big.size() / 2, "hg"));
}

}  // namespace
}  // namespace cube
