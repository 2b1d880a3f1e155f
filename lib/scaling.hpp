#pragma once
// Compound scaling as the reference implementations do it (tensorflow/tpu efficientnet_builder.py
// and lukemelas/EfficientNet-PyTorch utils.py): channel and repeat rounding, the published
// b0..b8/l2 table, and formula models d = alpha^phi, w = beta^phi, r = gamma^phi.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec.hpp"

namespace effscale {

/// How far to scale a baseline. width and depth are multipliers; resolution is absolute pixels.
struct ScaleFactors {
  double width = 1.0;   ///< channel multiplier, in (0, 16]
  double depth = 1.0;   ///< repeat multiplier, in (0, 256]
  int resolution = 224; ///< input size in pixels, in [16, 8192]
};

/// True when every factor lies in its range (limits.hpp).
bool factors_in_range(const ScaleFactors& factors);

/// Throws Error when a factor is out of range, e.g. "width multiplier 0 is out of range (0, 16]"
/// (depth: (0, 256]).
void check_factors(const ScaleFactors& factors);

/// round_filters of the reference: n = max(8, int(c*w + 4) // 8 * 8), plus 8 if n < 0.9*c*w.
/// Always a multiple of `divisor`, at least `divisor`, never below 90% of c*w.
int round_filters(int channels, double width, int divisor = 8);

/// round_repeats of the reference: int(ceil(depth * repeats)).
int round_repeats(int repeats, double depth);

/// A published EfficientNet model: its (width, depth, resolution) from the reference's
/// efficientnet_params table.
struct Preset {
  std::string name;  ///< "b0" .. "b8", "l2"
  ScaleFactors factors;
};

/// b0 (1.0, 1.0, 224) ... b7 (2.0, 3.1, 600), b8 (2.2, 3.6, 672), l2 (4.3, 5.3, 800).
const std::vector<Preset>& official_presets();

/// True when `baseline` is EfficientNet-B0 (the built-in, or a file with the same network under any
/// name): the published b1..b8 and l2 are scalings of that network and of no other.
bool has_published_presets(const NetworkSpec& baseline);

/// "b3" or "efficientnet-b3"; nullopt if not a preset name.
std::optional<Preset> find_preset(std::string_view name);

/// Figures a paper published for a model, to compare against.
struct PublishedFigures {
  double params = 0;  ///< parameters
  double macs = 0;    ///< multiply-adds (what the EfficientNet paper calls FLOPs)
  const char* source = "";
};

/// Published params and multiply-adds for (baseline, preset), if any: EfficientNet b0..b7 from
/// Tan & Le 2019 Table 2; MobileNetV2 at width 1.0/224 from Sandler et al. 2018 Table 4.
std::optional<PublishedFigures> published_figures(std::string_view baseline, std::string_view preset);

/// The compound-scaling coefficients; the paper's grid-search result by default.
struct Coefficients {
  double alpha = 1.2;   ///< depth base
  double beta = 1.1;    ///< width base
  double gamma = 1.15;  ///< resolution base
};

/// d = alpha^phi, w = beta^phi, resolution = round(base_resolution * gamma^phi) (round half to
/// even, as Python's round). phi may be negative.
ScaleFactors compound_factors(double phi, const Coefficients& c, int base_resolution);

/// The scaled network: rounded stem, stage and head channels, rounded repeats, the given
/// resolution. The result has the same shape as a baseline and expands with graph.hpp.
NetworkSpec scale(const NetworkSpec& base, const ScaleFactors& factors);

/// The same into `out`, reusing its storage (for loops that scale one baseline many times).
void scale(const NetworkSpec& base, const ScaleFactors& factors, NetworkSpec& out);

/// What rounding decided for a scaled spec (resolution, stem and head channels, each stage's
/// repeats and channels), as a key: two scalings of one baseline with the same key are the same
/// network. Written into `key` (reused, so that a hot loop does not allocate).
void rounded_key(const NetworkSpec& scaled, std::string& key);

}  // namespace effscale
