#include "strategy.hpp"

#include <fmt/format.h>

#include <cmath>

#include "error.hpp"
#include "limits.hpp"
#include "text.hpp"

namespace effscale {

std::string Strategy::name() const {
  switch (kind) {
    case StrategyKind::kCompound: {
      const Coefficients paper;
      if (coefficients.alpha == paper.alpha && coefficients.beta == paper.beta && coefficients.gamma == paper.gamma)
        return "compound";
      return fmt::format("compound:{},{},{}", shortest(coefficients.alpha), shortest(coefficients.beta),
                         shortest(coefficients.gamma));
    }
    case StrategyKind::kOfficial: return "official";
    case StrategyKind::kWidth: return "width";
    case StrategyKind::kDepth: return "depth";
    case StrategyKind::kResolution: return "resolution";
    case StrategyKind::kUniform: return "uniform";
    case StrategyKind::kFast: return "fast";
  }
  return "?";
}

Strategy parse_strategy(std::string_view text) {
  Strategy s;
  const std::string_view head = text.substr(0, text.find(':'));
  if (head == "compound") {
    s.kind = StrategyKind::kCompound;
    if (head.size() < text.size()) {
      const auto parts = split(text.substr(head.size() + 1), ',');
      if (parts.size() != 3)
        throw Error(fmt::format("strategy '{}': expected compound:ALPHA,BETA,GAMMA (e.g. compound:1.2,1.1,1.15)", text));
      double* targets[3] = {&s.coefficients.alpha, &s.coefficients.beta, &s.coefficients.gamma};
      const char* names[3] = {"alpha", "beta", "gamma"};
      for (int i = 0; i < 3; ++i) {
        *targets[i] = require_double(trim(parts[i]), fmt::format("strategy '{}' {}", text, names[i]));
        check_coefficient(*targets[i], fmt::format("strategy '{}': {}", text, names[i]));
      }
      const double product = s.coefficients.alpha * s.coefficients.beta * s.coefficients.beta *
                             s.coefficients.gamma * s.coefficients.gamma;
      if (!(product > 1.0001))
        throw Error(fmt::format("strategy '{}': alpha*beta^2*gamma^2 must be above 1 to grow FLOPs", text));
    }
    return s;
  }
  if (head.size() < text.size()) throw Error(fmt::format("strategy '{}' takes no parameters", text));
  for (StrategyKind k : {StrategyKind::kOfficial, StrategyKind::kWidth, StrategyKind::kDepth, StrategyKind::kResolution,
                         StrategyKind::kUniform, StrategyKind::kFast}) {
    s.kind = k;
    if (s.name() == text) return s;
  }
  const std::vector<std::string> names = {"compound", "official", "width", "depth", "resolution", "uniform", "fast"};
  const std::string hint = closest_match(text, names);
  throw Error(fmt::format("unknown strategy '{}'{} (valid: {}, or compound:ALPHA,BETA,GAMMA)", text,
                          hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint), join(names, ", ")));
}

std::vector<Strategy> parse_strategy_list(std::string_view text) {
  std::vector<std::string> items;
  const auto parts = split(text, ',');
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string item(trim(parts[i]));
    if (item.empty()) throw Error(fmt::format("--strategies: '{}' has an empty item", text));
    // compound:A,B,G takes the next two items as its other coefficients.
    if (item.rfind("compound:", 0) == 0) {
      for (int k = 0; k < 2 && i + 1 < parts.size(); ++k) item += "," + std::string(trim(parts[++i]));
    }
    items.push_back(item);
  }
  std::vector<Strategy> strategies;
  for (const auto& item : items) {
    const Strategy parsed = parse_strategy(item);
    for (const auto& existing : strategies)
      if (existing.name() == parsed.name()) throw Error(fmt::format("--strategies: '{}' is listed twice", item));
    strategies.push_back(parsed);
  }
  return strategies;
}

std::vector<Strategy> all_strategies() {
  std::vector<Strategy> out;
  for (const char* n : {"compound", "official", "width", "depth", "resolution", "uniform", "fast"})
    out.push_back(parse_strategy(n));
  return out;
}

Multipliers strategy_multipliers(const Strategy& strategy, double s) {
  switch (strategy.kind) {
    case StrategyKind::kCompound: {
      const auto& c = strategy.coefficients;
      const double phi = std::log(s) / std::log(c.alpha * c.beta * c.beta * c.gamma * c.gamma);
      return {std::pow(c.alpha, phi), std::pow(c.beta, phi), std::pow(c.gamma, phi)};
    }
    case StrategyKind::kWidth: return {1, std::sqrt(s), 1};
    case StrategyKind::kDepth: return {s, 1, 1};
    case StrategyKind::kResolution: return {1, 1, std::sqrt(s)};
    case StrategyKind::kUniform: return {std::cbrt(s), std::pow(s, 1.0 / 6), std::pow(s, 1.0 / 6)};
    case StrategyKind::kFast: return {std::pow(s, 0.1), std::pow(s, 0.4), std::pow(s, 0.05)};
    case StrategyKind::kOfficial: break;
  }
  throw Error("the official strategy has no formula; it uses the published b0..b8");
}

namespace {

ScaleFactors formula_factors(const Multipliers& m, int base_resolution) {
  return {m.width, m.depth, static_cast<int>(std::nearbyint(std::min(1e9, base_resolution * m.resolution)))};
}

StrategyPoint formula_point(const Strategy& strategy, double s, double t, int base_resolution) {
  StrategyPoint p;
  p.formula = strategy_multipliers(strategy, s);
  p.nominal = t;
  p.multipliers = strategy_multipliers(strategy, t);
  p.model = fmt::format("{}@{}", strategy.name(), shortest(s));
  p.factors = formula_factors(p.multipliers, base_resolution);
  if (strategy.kind == StrategyKind::kCompound) {
    const auto& c = strategy.coefficients;
    p.phi = std::log(t) / std::log(c.alpha * c.beta * c.beta * c.gamma * c.gamma);
  }
  return p;
}

}  // namespace

std::optional<StrategyPoint> strategy_point(const Strategy& strategy, double s, int base_resolution) {
  if (!(s > 0)) throw Error(fmt::format("FLOPs multiplier {} must be greater than 0", s));
  if (strategy.kind == StrategyKind::kOfficial) {
    const double phi = std::nearbyint(std::log2(s));
    if (phi < 0 || phi > 8) return std::nullopt;
    const auto preset = find_preset(fmt::format("b{}", static_cast<int>(phi)));
    StrategyPoint p;
    p.model = preset->name;
    p.factors = preset->factors;
    p.nominal = s;
    p.multipliers = p.formula = {p.factors.depth, p.factors.width,
                                 static_cast<double>(p.factors.resolution) / base_resolution};
    p.phi = phi;
    return p;
  }
  return formula_point(strategy, s, s, base_resolution);
}

std::optional<StrategyPoint> calibrated_point(const Strategy& strategy, double s, const NetworkSpec& baseline,
                                              Graph& scratch) {
  return calibrated_point(strategy, s, baseline, network_cost(expand(baseline)).total.macs, scratch);
}

std::optional<StrategyPoint> calibrated_point(const Strategy& strategy, double s, const NetworkSpec& baseline,
                                              std::int64_t baseline_macs, Graph& scratch, MacCache* cache) {
  if (strategy.kind == StrategyKind::kOfficial || s == 1.0) return strategy_point(strategy, s, baseline.resolution);
  if (!(s > 0)) throw Error(fmt::format("FLOPs multiplier {} must be greater than 0", s));
  const double base_macs = static_cast<double>(baseline_macs);
  // log(achieved / s) at nominal t; nondecreasing in t, a step function (rounding).
  // The bisection visits the same rounded models again and again (the MACs are a step function
  // of t): each is costed once, keyed by what rounding decides.
  MacCache local;
  MacCache& costed = cache ? *cache : local;
  std::string key;
  NetworkSpec scaled;
  auto exact = [&](double t) {
    const ScaleFactors f = formula_factors(strategy_multipliers(strategy, t), baseline.resolution);
    if (!factors_in_range(f)) return std::optional<double>();
    scale(baseline, f, scaled);
    rounded_key(scaled, key);
    auto it = costed.find(key);
    if (it == costed.end()) {
      expand(scaled, scratch);
      it = costed.emplace(key, network_cost(scratch).total.macs).first;
    }
    return std::optional<double>(std::log(static_cast<double>(it->second) / base_macs / s));
  };
  // The bisection below needs only the sign of miss away from the answer. Rounding moves MACs by
  // at most about 50% (a block per stage), so the answer lies within a factor 2 of t = s: when a
  // model there is already over (under) s, every larger (smaller) t is too, and the huge (tiny)
  // models of the wide bracket are never built. The decisions, hence the answer, are the same.
  const double probe_hi = std::exp(std::log(s) + 0.7), probe_lo = std::exp(std::log(s) - 0.7);
  const auto at_probe_hi = exact(probe_hi), at_probe_lo = exact(probe_lo);
  const bool over_from_hi = at_probe_hi && *at_probe_hi > 0, under_to_lo = at_probe_lo && *at_probe_lo < 0;
  auto miss = [&](double t) {
    if ((over_from_hi && t >= probe_hi) || (under_to_lo && t <= probe_lo)) {
      const ScaleFactors f = formula_factors(strategy_multipliers(strategy, t), baseline.resolution);
      if (!factors_in_range(f)) return std::optional<double>();
      return std::optional<double>(t >= probe_hi ? *at_probe_hi : *at_probe_lo);  // the sign is what counts
    }
    return exact(t);
  };
  // Bracket in log t around log s, staying where the factors are valid.
  double lo = std::log(s) - 3, hi = std::log(s) + 3;
  if (s > 1) lo = std::max(lo, 0.0);
  while (hi > lo && !miss(std::exp(hi))) hi -= 0.05;
  while (lo < hi && !miss(std::exp(lo))) lo += 0.05;
  if (!miss(std::exp(lo))) return formula_point(strategy, s, s, baseline.resolution);
  if (*miss(std::exp(hi)) <= 0) return formula_point(strategy, s, std::exp(hi), baseline.resolution);
  if (*miss(std::exp(lo)) >= 0) return formula_point(strategy, s, std::exp(lo), baseline.resolution);
  for (int i = 0; i < 60; ++i) {
    const double mid = (lo + hi) / 2;
    if (*miss(std::exp(mid)) < 0) lo = mid;
    else hi = mid;
  }
  const double below = *exact(std::exp(lo)), above = *exact(std::exp(hi));
  const double t = std::fabs(below) < std::fabs(above) ? std::exp(lo) : std::exp(hi);
  return formula_point(strategy, s, t, baseline.resolution);
}

}  // namespace effscale
