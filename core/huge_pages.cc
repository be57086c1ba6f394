// cube/core/huge_pages.cc: use_huge_page_heap (see huge_pages.h).

#include "core/huge_pages.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace cube {

void use_huge_page_heap(std::size_t bytes) {
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  constexpr std::size_t kMmapThreshold = std::size_t{32} << 20;  // glibc's largest
  // Blocks below the threshold come from the heap; its top is never handed back (it would be
  // re-faulted page by page); every growth reserves `bytes` more address space.
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThreshold));
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, static_cast<int>(std::min(bytes, std::size_t{1} << 30)));
  // The kernel backs a 2 MiB range with a huge page only if none of its 4 KiB pages was touched
  // before the advice. Growing the heap writes a chunk header at the end of the grown block, and
  // each allocation one after itself, so: grow by a block (its end header's 2 MiB is left out),
  // free it, keep a never-touched filler that ends one page before a 2 MiB boundary (its trailing
  // header stays below it), and advise from that boundary up.
  const std::size_t trigger = std::clamp(bytes, std::size_t{4} << 20, kMmapThreshold - 4096);
  void* block = std::malloc(trigger);
  if (block == nullptr) return;
  const auto start = reinterpret_cast<std::uintptr_t>(block);
  const std::uintptr_t boundary = (start + 2 * 4096 + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t high = (start + trigger) & ~(kHugePage - 1);
  std::free(block);
  // The filler is kept for good; a static pointer keeps it reachable (leak checkers agree).
  static void* volatile filler = nullptr;
  filler = std::malloc(boundary - 4096 - start);
  if (filler == nullptr) return;
  if (high > boundary) ::madvise(reinterpret_cast<void*>(boundary), high - boundary, MADV_HUGEPAGE);
}

}  // namespace cube
