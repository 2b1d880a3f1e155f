#include "limits.hpp"

#include <fmt/format.h>

#include "error.hpp"

namespace effscale {

std::int64_t checked_mul(std::int64_t a, std::int64_t b, std::string_view what) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    throw Error(fmt::format("the model is too large to count: its {} overflow 64-bit integers", what));
  return r;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b, std::string_view what) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    throw Error(fmt::format("the model is too large to count: its {} overflow 64-bit integers", what));
  return r;
}

void check_phi(double phi, std::string_view what) {
  if (!(phi >= kMinPhi && phi <= kMaxPhi))
    throw Error(fmt::format("{} {} is out of range [{}, {}]", what, phi, kMinPhi, kMaxPhi));
}

void check_coefficient(double value, std::string_view what) {
  if (!(value >= kMinCoefficient && value <= kMaxCoefficient))
    throw Error(fmt::format("{} {} is out of range [{}, {}] (compound scaling grows every dimension)", what, value,
                            kMinCoefficient, kMaxCoefficient));
}

void check_resolution(long long pixels, std::string_view what) {
  if (pixels < kMinResolution || pixels > kMaxResolution)
    throw Error(fmt::format("{} {} is out of range [{}, {}]", what, pixels, kMinResolution, kMaxResolution));
}

}  // namespace effscale
