#pragma once
// Scaling strategies: ways to turn a FLOPs multiplier s into (depth, width, resolution)
// multipliers. Every strategy's model then goes through the same rounding (scaling.hpp).

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cost.hpp"
#include "scaling.hpp"

namespace effscale {

enum class StrategyKind {
  kCompound,    ///< d = alpha^phi, w = beta^phi, r = gamma^phi, phi = log s / log(alpha beta^2 gamma^2)
  kOfficial,    ///< the published b0..b8: b_phi for phi = round(log2 s)
  kWidth,       ///< w = sqrt(s)
  kDepth,       ///< d = s
  kResolution,  ///< r = sqrt(s)
  kUniform,     ///< d = s^(1/3), w = r = s^(1/6)
  kFast,        ///< Dollar, Singh & Girshick 2021, dWr with alpha 0.8: d = s^0.1, w = s^0.4, r = s^0.05
};

/// A strategy and, for compound, its coefficients.
struct Strategy {
  StrategyKind kind = StrategyKind::kCompound;
  Coefficients coefficients;  ///< compound only
  /// "compound", "compound:1.3,1.05,1.15" (non-default coefficients), "official", "width", ...
  std::string name() const;
};

/// "compound", "compound:A,B,G", "official", "width", "depth", "resolution", "uniform", "fast".
/// Throws Error listing the valid names.
Strategy parse_strategy(std::string_view text);

/// A comma list of strategies, where compound's coefficients keep their own commas:
/// "compound:1.05,1.4,1,official,fast" is three strategies. Throws Error for an empty item, an
/// unknown name, a compound with other than three coefficients, or a strategy listed twice.
std::vector<Strategy> parse_strategy_list(std::string_view text);

/// Every strategy with default settings, in the order of the issue/README.
std::vector<Strategy> all_strategies();

/// Continuous multipliers for FLOPs multiplier s (> 0). d * w^2 * r^2 = s for every strategy but
/// official.
struct Multipliers {
  double depth = 1, width = 1, resolution = 1;
};

/// The multipliers of a non-official strategy at s.
Multipliers strategy_multipliers(const Strategy& strategy, double s);

/// One model of a strategy at a target s.
struct StrategyPoint {
  std::string model;       ///< "b3" for official, else "<strategy>@<s>"
  Multipliers formula;     ///< the strategy's formula at s (d * w^2 * r^2 = s)
  double nominal = 1;      ///< the multiplier t the model was built at (t = s unless calibrated)
  Multipliers multipliers; ///< the formula at t
  ScaleFactors factors;    ///< multipliers with the resolution rounded (round half to even)
  double phi = 0;          ///< compound: log t / log(alpha beta^2 gamma^2); official: the preset's phi
};

/// The strategy's model at s, built at the formula's own multipliers (t = s), or nothing when the
/// strategy has no model there (official below b0 or beyond b8).
std::optional<StrategyPoint> strategy_point(const Strategy& strategy, double s, int base_resolution);

/// Like strategy_point, but for formula strategies the nominal multiplier t is chosen so that the
/// rounded model's MACs come closest (in log) to s times the baseline's: rounding of channels and
/// repeats (ceil(d * repeats) adds a block to every stage as soon as d > 1) otherwise overshoots
/// budgets by up to 50%. Bisection over t on the strategy's own path; `scratch` is reused.
std::optional<StrategyPoint> calibrated_point(const Strategy& strategy, double s, const NetworkSpec& baseline,
                                              Graph& scratch);

/// MACs of rounded models of one baseline already costed, keyed by what rounding decides
/// (resolution, stem and head channels, each stage's repeats and channels): candidates of a search
/// pass through the same rounded models again and again.
using MacCache = std::unordered_map<std::string, std::int64_t>;

/// The same, with the baseline's MACs given (the search calibrates many candidates), and
/// optionally a cache shared by calls on the same baseline (one per thread).
std::optional<StrategyPoint> calibrated_point(const Strategy& strategy, double s, const NetworkSpec& baseline,
                                              std::int64_t baseline_macs, Graph& scratch, MacCache* cache = nullptr);

}  // namespace effscale
