#pragma once
// Every range a value given to effscale must lie in, defined once. Options, baseline files,
// grids, strategies and reports check against these, so that a message names the same bounds
// wherever the value came from.

#include <cstdint>
#include <string_view>

namespace effscale {

/// Input resolution in pixels: [16, 8192].
inline constexpr int kMinResolution = 16;
inline constexpr int kMaxResolution = 8192;

/// Width (channel) multiplier: (0, 16].
inline constexpr double kMaxWidth = 16;

/// Depth (repeat) multiplier: (0, 256].
inline constexpr double kMaxDepth = 256;

/// Compound-scaling exponent phi: [-8, 16].
inline constexpr double kMinPhi = -8;
inline constexpr double kMaxPhi = 16;

/// Compound-scaling coefficients alpha, beta, gamma (and grid values): [1, 16]. Compound scaling
/// grows every dimension; 16 keeps the exact grid arithmetic within 128 bits.
inline constexpr double kMinCoefficient = 1;
inline constexpr double kMaxCoefficient = 16;

/// FLOPs multipliers of `compare --targets`: (0, 1024].
inline constexpr double kMaxTarget = 1024;

/// oneDNN threads: [1, 1024]; images per forward pass: [1, 4096].
inline constexpr int kMaxThreads = 1024;
inline constexpr int kMaxBatch = 4096;

/// Layers of one expanded network: [1, 1,000,000] (L2 has about 700; more is a mistake, and the
/// layer list alone would take hundreds of megabytes).
inline constexpr std::int64_t kMaxLayers = 1000000;

/// Candidates one search evaluates: at most 500,000 (a report row takes at most 512 bytes, so its
/// report stays under the read limit of reports, io.hpp); larger grids go through --shard.
inline constexpr std::int64_t kMaxCandidates = 500000;

/// a * b and a + b, or an Error saying that `what` overflows 64-bit integers (a model too large to
/// count: effscale never prints a wrapped number).
std::int64_t checked_mul(std::int64_t a, std::int64_t b, std::string_view what);
std::int64_t checked_add(std::int64_t a, std::int64_t b, std::string_view what);

/// Throws Error "<what> <v> is out of range [-8, 16]" unless kMinPhi <= v <= kMaxPhi.
void check_phi(double phi, std::string_view what = "phi");

/// Throws Error "<what> <v> is out of range [1, 16] (compound scaling grows every dimension)".
void check_coefficient(double value, std::string_view what);

/// Throws Error "<what> <v> is out of range [16, 8192]".
void check_resolution(long long pixels, std::string_view what = "resolution");

}  // namespace effscale
