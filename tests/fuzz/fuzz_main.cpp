// libFuzzer driver: built once per target with -DEFFSCALE_FUZZ_TARGET=<name> (see
// scripts/fuzz.sh and tests/CMakeLists.txt, option EFFSCALE_FUZZ).

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "targets.hpp"

#ifndef EFFSCALE_FUZZ_TARGET
#error "define EFFSCALE_FUZZ_TARGET"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const effscale::fuzz::Target target = [] {
    for (const auto& t : effscale::fuzz::targets())
      if (std::strcmp(t.name, EFFSCALE_FUZZ_TARGET) == 0) return t.run;
    std::abort();
  }();
  target(data, size);
  return 0;
}
