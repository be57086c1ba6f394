// cube/core/huge_pages.cc: use_huge_page_heap (see huge_pages.h).

#include "core/huge_pages.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace cube {

void use_huge_page_heap(std::size_t bytes) {
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  // glibc's largest mmap threshold (32 MiB on 64-bit): smaller blocks come from the heap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  // Never hand the heap's top back (it would be re-faulted page by page).
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // The next growth of the heap reserves `bytes` beyond the request (address space only).
  mallopt(M_TOP_PAD, static_cast<int>(bytes < (std::size_t{1} << 30) ? bytes : (1u << 30)));
  void* block = std::malloc(kHugePage);  // larger than any free block: the heap grows now
  if (block == nullptr) return;
  const auto low = (reinterpret_cast<std::uintptr_t>(block) + kHugePage - 1) & ~(kHugePage - 1);
  std::free(block);
  const auto high = reinterpret_cast<std::uintptr_t>(::sbrk(0)) & ~(kHugePage - 1);
  if (high > low) ::madvise(reinterpret_cast<void*>(low), high - low, MADV_HUGEPAGE);
}

}  // namespace cube
