#include "scaling.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "error.hpp"
#include "limits.hpp"

namespace effscale {

bool factors_in_range(const ScaleFactors& f) {
  return f.width > 0 && f.width <= kMaxWidth && f.depth > 0 && f.depth <= kMaxDepth && f.resolution >= kMinResolution &&
         f.resolution <= kMaxResolution;
}

void check_factors(const ScaleFactors& f) {
  if (!(f.width > 0 && f.width <= kMaxWidth))
    throw Error(fmt::format("width multiplier {} is out of range (0, {}]", f.width, kMaxWidth));
  if (!(f.depth > 0 && f.depth <= kMaxDepth))
    throw Error(fmt::format("depth multiplier {} is out of range (0, {}]", f.depth, kMaxDepth));
  check_resolution(f.resolution);
}

int round_filters(int channels, double width, int divisor) {
  return make_divisible(channels * width, divisor);
}

int round_repeats(int repeats, double depth) {
  return static_cast<int>(std::ceil(depth * repeats));
}

const std::vector<Preset>& official_presets() {
  // tensorflow/tpu efficientnet_builder.py efficientnet_params(): (width, depth, res, dropout).
  static const std::vector<Preset> presets = {
      {"b0", {1.0, 1.0, 224}}, {"b1", {1.0, 1.1, 240}}, {"b2", {1.1, 1.2, 260}},
      {"b3", {1.2, 1.4, 300}}, {"b4", {1.4, 1.8, 380}}, {"b5", {1.6, 2.2, 456}},
      {"b6", {1.8, 2.6, 528}}, {"b7", {2.0, 3.1, 600}}, {"b8", {2.2, 3.6, 672}},
      {"l2", {4.3, 5.3, 800}},
  };
  return presets;
}

std::optional<Preset> find_preset(std::string_view name) {
  constexpr std::string_view prefix = "efficientnet-";
  if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  for (const auto& p : official_presets()) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

bool has_published_presets(const NetworkSpec& baseline) {
  NetworkSpec named = baseline;
  named.name = "efficientnet-b0";
  return format_baseline_text(named) == format_baseline_text(builtin_baseline("efficientnet-b0"));
}

std::optional<PublishedFigures> published_figures(std::string_view baseline, std::string_view preset) {
  if (baseline == "efficientnet-b0") {
    // Tan & Le 2019, Table 2: #Params and #FLOPs (the paper's FLOPs are multiply-adds).
    struct Row { const char* name; double params; double macs; };
    static const Row rows[] = {
        {"b0", 5.3e6, 0.39e9}, {"b1", 7.8e6, 0.70e9}, {"b2", 9.2e6, 1.0e9}, {"b3", 12e6, 1.8e9},
        {"b4", 19e6, 4.2e9},   {"b5", 30e6, 9.9e9},   {"b6", 43e6, 19e9},   {"b7", 66e6, 37e9},
    };
    for (const auto& r : rows) {
      if (preset == r.name) return PublishedFigures{r.params, r.macs, "Tan & Le 2019, Table 2"};
    }
  }
  if (baseline == "mobilenet-v2" && preset == "b0") {
    return PublishedFigures{3.4e6, 300e6, "Sandler et al. 2018, Table 4"};
  }
  return std::nullopt;
}

ScaleFactors compound_factors(double phi, const Coefficients& c, int base_resolution) {
  ScaleFactors f;
  f.depth = std::pow(c.alpha, phi);
  f.width = std::pow(c.beta, phi);
  const double r = base_resolution * std::pow(c.gamma, phi);
  f.resolution = static_cast<int>(std::nearbyint(std::min(r, 1e9)));
  return f;
}

NetworkSpec scale(const NetworkSpec& base, const ScaleFactors& f) {
  NetworkSpec s;
  scale(base, f, s);
  return s;
}

void scale(const NetworkSpec& base, const ScaleFactors& f, NetworkSpec& s) {
  check_factors(f);
  s = base;
  s.resolution = f.resolution;
  s.stem.channels = round_filters(base.stem.channels, f.width);
  for (auto& stage : s.stages) {
    stage.in_channels = round_filters(stage.in_channels, f.width);
    stage.out_channels = round_filters(stage.out_channels, f.width);
    stage.repeats = round_repeats(stage.repeats, f.depth);
  }
  if (base.head_channels > 0) {
    s.head_channels = round_filters(base.head_channels,
                                    base.head_no_shrink ? std::max(1.0, f.width) : f.width);
  }
}

void rounded_key(const NetworkSpec& scaled, std::string& key) {
  key.clear();
  auto put = [&](int v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(scaled.resolution);
  put(scaled.stem.channels);
  put(scaled.head_channels);
  for (const auto& b : scaled.stages) {
    put(b.repeats);
    put(b.in_channels);
    put(b.out_channels);
  }
}

}  // namespace effscale
