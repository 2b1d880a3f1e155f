#pragma once
// splitmix64: a tiny, fast generator that gives the same numbers on every platform (the standard
// distributions and std::shuffle do not). Synthetic weights, inputs, measurement schedules and the
// bootstrap all draw from it.

#include <cstdint>

namespace effscale {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1), 53 bits.
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  /// Uniform in [lo, hi).
  float uniform(float lo, float hi) { return static_cast<float>(lo + (hi - lo) * unit()); }
  /// Uniform in [0, n), unbiased (rejection of the short last interval); n > 0.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    std::uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }

 private:
  std::uint64_t state_;
};

}  // namespace effscale
