// cube/core/huge_pages.h: back the heap with transparent huge pages for a command that builds
// large data structures at once (trace replay of a big program or trace).
//
// Why: every first touch of a 4 KiB page faults, and on virtual machines such as the one cube's
// figures come from a fault costs 10-20 µs (a VM exit each): 8 MiB filled page by page took
// 21 ms here, against 0.6 ms as four 2 MiB huge pages. Linux gives huge pages to regions marked
// MADV_HUGEPAGE when /sys/kernel/mm/transparent_hugepage/enabled is "madvise" or "always".
// What: use_huge_page_heap(bytes) makes the C library serve allocations below 32 MiB from the
// brk heap (not from a private mapping each), grows that heap by at least `bytes` at once, and
// marks MADV_HUGEPAGE the part of it that the growing block spanned (up to 32 MiB), from a 2 MiB
// boundary none of whose pages was touched yet. Allocations there then fault one huge page at a
// time; beyond it, 4 KiB pages as before. Best effort: without THP, under a sanitizer's allocator,
// or where any step fails, allocation behaves as before; nothing observable but time and
// resident memory (up to 2 MiB per touched huge page) changes. Call it once, early, before the
// big allocations; it keeps a never-touched filler block (address space only) for good.
// Cost: three mallopt calls, two mallocs and a free, one madvise.
#pragma once

#include <cstddef>

namespace cube {

void use_huge_page_heap(std::size_t bytes);

}  // namespace cube
