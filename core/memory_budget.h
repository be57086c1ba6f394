// cube/core/memory_budget.h: refusing, when a cell is planned, what cannot fit in memory.
//
// A cell whose data set or model exceeds the machine's physical memory would otherwise fail
// minutes later, as it starts, with std::bad_alloc (or be killed by the kernel). Modules call
// check_fits_in_memory from their constructors, which planning runs, with a lower bound of the
// bytes they will allocate and how it was computed.
#pragma once

#include <cstdint>
#include <string>

namespace cube {

// This machine's physical memory in bytes (sysconf); 0 when unknown.
std::uint64_t physical_memory_bytes();

// Throws ConfigError("<key>: <what> needs X GiB (<formula>), more than this machine's Y GiB of
// memory") when bytes > physical_memory_bytes(); does nothing when the memory is unknown.
// `key` is the parameter to change (e.g. "problem.n"), `what` names the allocation ("the data
// set"), `formula` how `bytes` was computed ("(n_train + n_test) x (n + 1) bytes = ...").
void check_fits_in_memory(double bytes, const std::string& key, const std::string& what,
                          const std::string& formula);

}  // namespace cube
