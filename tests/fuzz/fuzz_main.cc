// libFuzzer's entry point for one target of fuzz_targets.h, chosen at compile time by
// CUBE_FUZZ_TARGET (tests/fuzz/CMakeLists.txt builds one executable per target).
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string broken = cube::fuzz::CUBE_FUZZ_TARGET({data, size});
  if (!broken.empty()) {
    std::fprintf(stderr, "property broken: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
