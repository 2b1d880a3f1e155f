#pragma once
// Fuzz targets for every parser of user input, and for the output writer's path logic. Each takes
// arbitrary bytes, must never crash, hang or throw anything but effscale::Error (which it swallows),
// checks round trips where the format has them, and says whether it accepted the input (every seed
// of its corpus must be accepted: a parser that refused everything would fail). libFuzzer drivers (fuzz_main.cpp) and the deterministic fuzz test of the normal
// suite (fuzz_test.cpp) call the same functions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace effscale::fuzz {

using Target = bool (*)(const std::uint8_t* data, std::size_t size);

bool baseline_file(const std::uint8_t* data, std::size_t size);  ///< baseline files (and their specs' costs)
bool block_string(const std::uint8_t* data, std::size_t size);   ///< one block string
bool grid(const std::uint8_t* data, std::size_t size);           ///< lines: alpha, beta, gamma, target, tolerance
bool accuracy_csv(const std::uint8_t* data, std::size_t size);   ///< --accuracy files
bool report_csv(const std::uint8_t* data, std::size_t size);     ///< --resume / merge reports, with their rows checked
bool from_report(const std::uint8_t* data, std::size_t size);    ///< --from-report: a rank line, then a report
bool latency_table(const std::uint8_t* data, std::size_t size);  ///< a latency table file (latency_table.hpp)
bool numbers(const std::uint8_t* data, std::size_t size);        ///< option values: numbers, sizes, lists
/// Output paths (two lines: an output, a second output) in a sandbox of files, folders, symlinks
/// and a FIFO: prepared, checked distinct, written; what is written stays inside the sandbox.
bool output_path(const std::uint8_t* data, std::size_t size);

struct NamedTarget {
  const char* name;  ///< also the corpus directory under tests/fuzz/corpus
  Target run;
};

/// Every target, by name.
const std::vector<NamedTarget>& targets();

}  // namespace effscale::fuzz
