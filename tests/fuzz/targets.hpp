#pragma once
// Fuzz targets for every parser of user input. Each takes arbitrary bytes, must never crash, hang
// or throw anything but effscale::Error (which it swallows), and checks round trips where the
// format has them. libFuzzer drivers (fuzz_main.cpp) and the deterministic fuzz test of the normal
// suite (fuzz_test.cpp) call the same functions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace effscale::fuzz {

using Target = void (*)(const std::uint8_t* data, std::size_t size);

void baseline_file(const std::uint8_t* data, std::size_t size);  ///< baseline files (and their specs' costs)
void block_string(const std::uint8_t* data, std::size_t size);   ///< one block string
void grid(const std::uint8_t* data, std::size_t size);           ///< lines: alpha, beta, gamma, target, tolerance
void accuracy_csv(const std::uint8_t* data, std::size_t size);   ///< --accuracy files
void report_csv(const std::uint8_t* data, std::size_t size);     ///< --resume / merge reports
void numbers(const std::uint8_t* data, std::size_t size);        ///< option values: numbers, sizes, lists

struct NamedTarget {
  const char* name;  ///< also the corpus directory under tests/fuzz/corpus
  Target run;
};

/// Every target, by name.
const std::vector<NamedTarget>& targets();

}  // namespace effscale::fuzz
