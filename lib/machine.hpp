#pragma once
// What machine a measurement was made on.

#include <string>

namespace effscale {

/// The CPU model name from /proc/cpuinfo ("AMD EPYC"), or "unknown CPU".
std::string cpu_model();

}  // namespace effscale
