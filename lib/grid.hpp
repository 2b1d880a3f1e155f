#pragma once
// Exact decimal grids of compound-scaling coefficients and the constraint
// alpha * beta^2 * gamma^2 ~ T, evaluated exactly (no floating point decides membership).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace effscale {

/// An exact decimal number: units / 10^digits. Grid values are kept this way so that 1.15 stays
/// 1.15 (its text and its nearest double), never 1.1500000000000001.
struct Decimal {
  std::int64_t units = 0;
  int digits = 0;
  /// The nearest double to the exact value.
  double value() const;
  /// Shortest exact spelling: "1.15", "1.2", "1".
  std::string text() const;
  bool operator==(const Decimal& o) const;
  bool operator<(const Decimal& o) const;
};

/// A non-negative decimal spelled with digits and at most one point ("1.15", "2", "0.005"), at
/// most `max_digits` decimals. Throws Error naming `what`.
Decimal parse_decimal(std::string_view text, std::string_view what, int max_digits = 6);

/// One axis of the grid: start:stop:step (or a single value), exact.
struct GridAxis {
  std::string name;  ///< "alpha", "beta", "gamma"
  int digits = 0;    ///< common decimals of start, stop, step
  std::int64_t start = 0, stop = 0, step = 1;  ///< in units of 10^-digits
  size_t size() const { return static_cast<size_t>((stop - start) / step) + 1; }
  Decimal at(size_t i) const { return {start + static_cast<std::int64_t>(i) * step, digits}; }
  /// "1:2:0.05", canonical.
  std::string spec() const;
};

/// Parses "start:stop:step" or a single value "1.2". Values must be >= 1 (compound scaling never
/// shrinks a dimension), step > 0, start <= stop, at most 4 decimals and 100,000 values. Throws
/// Error naming the axis and what is allowed.
GridAxis parse_grid_axis(std::string_view text, std::string_view name);

/// A triple that satisfies the constraint.
struct Candidate {
  Decimal alpha, beta, gamma;
  std::string product;  ///< alpha * beta^2 * gamma^2, exact decimal text ("1.92027")
  double product_value = 0;
  std::int64_t index = 0;  ///< position in the full grid enumeration (alpha-major)
};

/// The constraint |alpha beta^2 gamma^2 - T| / T <= tolerance, evaluated exactly.
struct Constraint {
  Decimal target{2, 0};
  Decimal tolerance{5, 2};
};

/// The candidate (a, b, g) when it lies on the three axes and satisfies the constraint (its exact
/// product and grid index filled in), else nothing: the check a report's rows must pass.
std::optional<Candidate> grid_candidate(const GridAxis& alpha, const GridAxis& beta, const GridAxis& gamma,
                                        const Constraint& constraint, const Decimal& a, const Decimal& b,
                                        const Decimal& g);

/// Candidates of the grid that satisfy the constraint, in enumeration order. Throws Error when the
/// target is outside (0, 1e6), the tolerance outside [0, 1], or either has more than 4 decimals. `nearest`, if given,
/// receives the closest products found (for an "empty set" message), closest first.
std::vector<Candidate> enumerate_candidates(const GridAxis& alpha, const GridAxis& beta, const GridAxis& gamma,
                                            const Constraint& constraint, std::vector<Candidate>* nearest = nullptr);

}  // namespace effscale
