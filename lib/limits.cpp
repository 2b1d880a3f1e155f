#include "limits.hpp"

#include <fmt/format.h>

#include "error.hpp"

namespace effscale {

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
