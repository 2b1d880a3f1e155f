#include "latency_table.hpp"

#include <fmt/format.h>

#include <cmath>

#include "error.hpp"
#include "text.hpp"

namespace effscale {

OverheadFit fit_overhead(const std::vector<CalibrationPoint>& points) {
  if (points.empty()) throw Error("no calibration networks to fit the overhead on");
  OverheadFit fit;
  fit.networks = static_cast<int>(points.size());
  // measured = scale x unit_sum + constant + per_unit x units: least squares of the relative
  // residuals (each point weighted by 1 / measured^2: the networks span 0.3x to 8x the reference,
  // and a prediction is judged by its relative error) on the normal equations, with fewer terms
  // when there are too few points (or no spread) to fit them all.
  auto solve = [&](int terms) {
    double a[3][4] = {};
    for (const auto& p : points) {
      const double x[3] = {1.0, static_cast<double>(p.units), p.unit_sum};
      const double y = terms == 3 ? p.measured_rel : p.measured_rel - p.unit_sum;
      const double w = p.measured_rel > 0 ? 1 / (p.measured_rel * p.measured_rel) : 1.0;
      for (int i = 0; i < terms; ++i) {
        for (int j = 0; j < terms; ++j) a[i][j] += w * x[i] * x[j];
        a[i][3] += w * x[i] * y;
      }
    }
    for (int c = 0; c < terms; ++c) {  // Gauss-Jordan with partial pivoting
      int pivot = c;
      for (int r = c + 1; r < terms; ++r)
        if (std::fabs(a[r][c]) > std::fabs(a[pivot][c])) pivot = r;
      if (std::fabs(a[pivot][c]) < 1e-12) return false;
      for (int k = 0; k < 4; ++k) std::swap(a[c][k], a[pivot][k]);
      for (int r = 0; r < terms; ++r) {
        if (r == c) continue;
        const double f = a[r][c] / a[c][c];
        for (int k = c; k < 4; ++k) a[r][k] -= f * a[c][k];
      }
    }
    fit.constant = a[0][3] / a[0][0];
    fit.per_unit = terms >= 2 ? a[1][3] / a[1][1] : 0;
    fit.scale = terms == 3 ? a[2][3] / a[2][2] : 1;
    return fit.scale > 0;
  };
  int terms = fit.networks >= 5 ? 3 : fit.networks >= 3 ? 2 : 1;
  while (!solve(terms)) {
    if (--terms == 0) throw Error("the calibration networks do not determine the overhead");
  }
  fit.terms = terms;
  // Spread of log(measured / predicted), with the fitted terms' degrees of freedom taken off.
  if (fit.networks > terms) {
    double ss = 0;
    for (const auto& p : points) {
      const double predicted = fit.scale * p.unit_sum + fit.constant + fit.per_unit * p.units;
      const double r = predicted > 0 && p.measured_rel > 0 ? std::log(p.measured_rel / predicted) : 1.0;
      ss += r * r;
    }
    fit.residual_sd = std::sqrt(ss / (fit.networks - terms));
  }
  return fit;
}

std::string fit_words(const OverheadFit& f) {
  return fmt::format("rel = {:.3f} x units {:+.4f} {:+.5f} x n", f.scale, f.constant, f.per_unit);
}

namespace {

bool is_unit_key(std::string_view s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_plain_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace

std::string format_latency_table(const LatencyTable& t) {
  std::string out = std::string(kLatencyTableMagic) + "\n";
  out += "# unit latencies relative to the reference network timed next to them; effscale predict reads it\n";
  out += fmt::format("key\t{}\n", t.key.text());
  out += fmt::format("reference_ms\t{}\n", t.reference_ms);
  out += fmt::format("build_seconds\t{}\n", t.build_seconds);
  out += fmt::format("overhead\t{}\t{}\t{}\t{}\t{}\t{}\n", t.overhead.scale, t.overhead.constant, t.overhead.per_unit,
                     t.overhead.terms, t.overhead.residual_sd, t.overhead.networks);
  for (const auto& [key, u] : t.units)
    out += fmt::format("unit\t{}\t{}\t{}\t{}\t{}\t{}\n", key, u.rel.estimate, u.rel.low, u.rel.high, u.runs, u.name);
  out += fmt::format("end\t{}\n", t.units.size());
  return out;
}

bool is_latency_table_text(std::string_view text) {
  return text.substr(0, kLatencyTableMagic.size()) == kLatencyTableMagic &&
         (text.size() == kLatencyTableMagic.size() || text[kLatencyTableMagic.size()] == '\n');
}

LatencyTable parse_latency_table(std::string_view text, std::string_view source) {
  if (!is_latency_table_text(text))
    throw Error(fmt::format("{}: not an effscale latency table (its first line is not '{}')", source, kLatencyTableMagic));
  LatencyTable t;
  int line_no = 0;
  bool have_key = false, have_reference = false, have_overhead = false, ended = false;
  for (std::string_view line : split(text, '\n')) {
    ++line_no;
    auto fail = [&](const std::string& what) {
      return Error(fmt::format("{}:{}: {}", source, line_no, what));
    };
    if (line.empty() || line[0] == '#') continue;
    if (ended) throw fail("text after the 'end' line");
    const std::vector<std::string_view> f = split(line, '\t');
    auto number = [&](size_t i, const char* what) {
      const auto v = parse_double(f[i]);
      if (!v || !std::isfinite(*v)) throw fail(fmt::format("{} '{}' is not a number", what, f[i]));
      return *v;
    };
    auto count = [&](size_t i, const char* what) {
      const double v = number(i, what);
      if (v < 0 || v > 1e9 || v != std::floor(v)) throw fail(fmt::format("{} '{}' is not a count", what, f[i]));
      return static_cast<int>(v);
    };
    auto fields = [&](size_t n) {
      if (f.size() != n) throw fail(fmt::format("'{}' takes {} fields, not {}", f[0], n - 1, f.size() - 1));
    };
    if (f[0] == "key") {
      fields(2);
      t.key = SearchKey::parse(f[1]);
      have_key = true;
    } else if (f[0] == "reference_ms") {
      fields(2);
      t.reference_ms = number(1, "reference_ms");
      if (!(t.reference_ms > 0)) throw fail("reference_ms must be greater than 0");
      have_reference = true;
    } else if (f[0] == "build_seconds") {
      fields(2);
      t.build_seconds = number(1, "build_seconds");
      if (t.build_seconds < 0) throw fail("build_seconds must not be negative");
    } else if (f[0] == "overhead") {
      fields(7);
      t.overhead.scale = number(1, "overhead scale");
      t.overhead.constant = number(2, "overhead constant");
      t.overhead.per_unit = number(3, "overhead per unit");
      t.overhead.terms = count(4, "fitted terms");
      t.overhead.residual_sd = number(5, "overhead residual sd");
      t.overhead.networks = count(6, "calibration networks");
      if (t.overhead.residual_sd < 0) throw fail("the residual sd must not be negative");
      if (!(t.overhead.scale > 0)) throw fail("the overhead scale must be greater than 0");
      if (t.overhead.terms < 1 || t.overhead.terms > 3) throw fail("the fit has 1 to 3 terms");
      have_overhead = true;
    } else if (f[0] == "unit") {
      fields(7);
      if (!is_unit_key(f[1])) throw fail(fmt::format("unit key '{}' is not 16 hex digits", f[1]));
      UnitLatency u;
      u.rel = {number(2, "rel"), number(3, "rel low"), number(4, "rel high")};
      if (!(u.rel.estimate > 0 && u.rel.low > 0 && u.rel.low <= u.rel.estimate && u.rel.estimate <= u.rel.high))
        throw fail("a unit's latency needs 0 < low <= rel <= high");
      u.runs = count(5, "runs");
      if (!is_plain_name(f[6])) throw fail(fmt::format("unit name '{}' is not a plain name", f[6]));
      u.name = std::string(f[6]);
      if (!t.units.emplace(std::string(f[1]), u).second) throw fail(fmt::format("unit {} appears twice", f[1]));
    } else if (f[0] == "end") {
      fields(2);
      if (static_cast<size_t>(count(1, "unit count")) != t.units.size())
        throw fail(fmt::format("the table ends after {} units but says it has {}", t.units.size(), f[1]));
      ended = true;
    } else {
      throw fail(fmt::format("unknown line '{}'", f[0]));
    }
  }
  if (!ended) throw Error(fmt::format("{}: truncated (no 'end' line)", source));
  if (!have_key || !have_reference || !have_overhead)
    throw Error(fmt::format("{}: the {} line is missing", source,
                            !have_key ? "key" : !have_reference ? "reference_ms" : "overhead"));
  return t;
}

Prediction predict_latency(const std::vector<std::string>& names, const std::vector<std::string>& keys,
                           const LatencyTable& table) {
  if (names.size() != keys.size()) throw Error("predict_latency: names and keys differ in length");
  Prediction p;
  double half = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    UnitPrediction u{names[i], keys[i], std::nullopt};
    auto it = table.units.find(keys[i]);
    if (it == table.units.end()) {
      ++p.missing;
    } else {
      u.latency = it->second;
      p.unit_sum += it->second.rel.estimate;
      half += (it->second.rel.high - it->second.rel.low) / 2;
    }
    p.units.push_back(std::move(u));
  }
  if (p.missing) return p;
  const OverheadFit& o = table.overhead;
  const double estimate = std::max(o.scale * p.unit_sum + o.constant + o.per_unit * static_cast<double>(keys.size()),
                                   p.unit_sum * 1e-3);
  p.overhead = estimate - p.unit_sum;
  // The units' intervals (scaled like the units) and the fit's residual spread, in quadrature.
  const double t = o.networks > o.terms ? t_quantile_95(o.networks - o.terms) : 0;
  half = std::hypot(o.scale * half, t * o.residual_sd * estimate);
  p.rel = {estimate, std::max(estimate - half, estimate * 1e-3), estimate + half};
  return p;
}

}  // namespace effscale
