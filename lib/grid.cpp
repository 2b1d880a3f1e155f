#include "grid.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "error.hpp"
#include "limits.hpp"
#include "text.hpp"

namespace effscale {

namespace {

using Int128 = __int128;

Int128 pow10(int n) {
  Int128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// Exact decimal text of units / 10^digits, trailing zeros trimmed.
std::string decimal_text(Int128 units, int digits) {
  const bool negative = units < 0;
  if (negative) units = -units;
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(units % 10)));
    units /= 10;
  } while (units > 0);
  if (digits > 0) {
    if (static_cast<int>(s.size()) <= digits) s.insert(0, static_cast<size_t>(digits) + 1 - s.size(), '0');
    s.insert(s.size() - static_cast<size_t>(digits), ".");
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return negative ? "-" + s : s;
}

Int128 rescale(const Decimal& d, int digits) { return static_cast<Int128>(d.units) * pow10(digits - d.digits); }

}  // namespace

double Decimal::value() const { return std::strtod(text().c_str(), nullptr); }

std::string Decimal::text() const { return decimal_text(units, digits); }

bool Decimal::operator==(const Decimal& o) const {
  const int d = std::max(digits, o.digits);
  return rescale(*this, d) == rescale(o, d);
}

bool Decimal::operator<(const Decimal& o) const {
  const int d = std::max(digits, o.digits);
  return rescale(*this, d) < rescale(o, d);
}

Decimal parse_decimal(std::string_view text, std::string_view what, int max_digits) {
  const auto fail = [&](const std::string& why) {
    return Error(fmt::format("{}: '{}' {}", what, text, why));
  };
  if (text.empty()) throw fail("is empty");
  size_t point = text.find('.');
  const std::string_view whole = text.substr(0, point);
  const std::string_view fraction = point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  auto all_digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !all_digits(whole) || !all_digits(fraction) ||
      (point != std::string_view::npos && fraction.empty()))
    throw fail("is not a plain decimal number (e.g. 1.15)");
  if (static_cast<int>(fraction.size()) > max_digits)
    throw fail(fmt::format("has more than {} decimals", max_digits));
  if (whole.size() > 6) throw fail("is too large");
  Decimal d;
  d.digits = static_cast<int>(fraction.size());
  d.units = 0;
  for (char c : whole) d.units = d.units * 10 + (c - '0');
  for (char c : fraction) d.units = d.units * 10 + (c - '0');
  return d;
}

std::string GridAxis::spec() const {
  if (start == stop) return Decimal{start, digits}.text();
  return fmt::format("{}:{}:{}", Decimal{start, digits}.text(), Decimal{stop, digits}.text(), Decimal{step, digits}.text());
}

GridAxis parse_grid_axis(std::string_view text, std::string_view name) {
  const std::string what = fmt::format("--{}", name);
  const auto parts = split(text, ':');
  if (parts.size() != 1 && parts.size() != 3)
    throw Error(fmt::format("{}: '{}' is not start:stop:step (e.g. 1.0:2.0:0.05) or a single value", what, text));
  std::vector<Decimal> d;
  for (auto p : parts) d.push_back(parse_decimal(p, what, 4));
  if (parts.size() == 1) d = {d[0], d[0], Decimal{1, 0}};
  GridAxis a;
  a.name = std::string(name);
  a.digits = std::max({d[0].digits, d[1].digits, d[2].digits});
  a.start = static_cast<std::int64_t>(rescale(d[0], a.digits));
  a.stop = static_cast<std::int64_t>(rescale(d[1], a.digits));
  a.step = static_cast<std::int64_t>(rescale(d[2], a.digits));
  if (a.step <= 0) throw Error(fmt::format("{}: step {} must be greater than 0", what, d[2].text()));
  if (a.start > a.stop)
    throw Error(fmt::format("{}: start {} is greater than stop {}", what, d[0].text(), d[1].text()));
  if (a.start < pow10(a.digits))
    throw Error(fmt::format("{}: values must be at least 1 (compound scaling never shrinks a dimension); got {}",
                            what, d[0].text()));
  if (d[1].value() > kMaxCoefficient)
    throw Error(fmt::format("{}: values must be at most {}; got {}", what, kMaxCoefficient, d[1].text()));
  if ((a.stop - a.start) / a.step >= 100000)
    throw Error(fmt::format("{}: '{}' has more than 100,000 values", what, text));
  return a;
}

namespace {

// The exact constraint |alpha beta^2 gamma^2 - T| / T <= tolerance for products p / 10^dp: keep
// |p 10^dt - t 10^dp| 10^dl <= l t 10^dp. Bounds keep every term below 1e35 (__int128 holds 1.7e38):
// axis values <= 16 with <= 4 decimals (p < 1.1e26, dp <= 20), target < 1e6 and tolerance <= 1,
// each with <= 4 decimals.
class ConstraintTest {
 public:
  ConstraintTest(const Constraint& constraint, int dp) {
    if (constraint.target.digits > 4 || constraint.tolerance.digits > 4)
      throw Error("the target and the tolerance take at most 4 decimals");
    if (constraint.target.units <= 0 || constraint.target.units >= 1000000 * pow10(constraint.target.digits))
      throw Error(fmt::format("target {} is out of range (0, 1000000)", constraint.target.text()));
    if (constraint.tolerance.units < 0 || constraint.tolerance.units > pow10(constraint.tolerance.digits))
      throw Error(fmt::format("tolerance {} is out of range [0, 1]", constraint.tolerance.text()));
    const Int128 t = constraint.target.units, l = constraint.tolerance.units;
    const int dt = constraint.target.digits, dl = constraint.tolerance.digits;
    scale_p_ = pow10(dt) * pow10(dl);
    scale_t_ = t * pow10(dp) * pow10(dl);
    bound_ = l * t * pow10(dp);
  }
  bool keep(Int128 p) const {
    Int128 diff = p * scale_p_ - scale_t_;
    if (diff < 0) diff = -diff;
    return diff <= bound_;
  }

 private:
  Int128 scale_p_ = 0, scale_t_ = 0, bound_ = 0;
};

// The position of `v` on `axis`, if it lies on it.
std::optional<std::int64_t> position(const GridAxis& axis, const Decimal& v) {
  Int128 u = v.units;
  if (v.digits <= axis.digits) {
    u *= pow10(axis.digits - v.digits);
  } else {
    const Int128 d = pow10(v.digits - axis.digits);
    if (u % d != 0) return std::nullopt;
    u /= d;
  }
  if (u < axis.start || u > axis.stop || (u - axis.start) % axis.step != 0) return std::nullopt;
  return static_cast<std::int64_t>((u - axis.start) / axis.step);
}

}  // namespace

std::optional<Candidate> grid_candidate(const GridAxis& alpha, const GridAxis& beta, const GridAxis& gamma,
                                        const Constraint& constraint, const Decimal& a, const Decimal& b,
                                        const Decimal& g) {
  const auto ia = position(alpha, a), ib = position(beta, b), ig = position(gamma, g);
  if (!ia || !ib || !ig) return std::nullopt;
  const Decimal ua = alpha.at(static_cast<size_t>(*ia)), ub = beta.at(static_cast<size_t>(*ib)),
                ug = gamma.at(static_cast<size_t>(*ig));
  const int dp = alpha.digits + 2 * beta.digits + 2 * gamma.digits;
  const Int128 p = static_cast<Int128>(ua.units) * ub.units * ub.units * ug.units * ug.units;
  if (!ConstraintTest(constraint, dp).keep(p)) return std::nullopt;
  Candidate c{ua, ub, ug, decimal_text(p, dp), 0.0,
              (*ia * static_cast<std::int64_t>(beta.size()) + *ib) * static_cast<std::int64_t>(gamma.size()) + *ig};
  c.product_value = std::strtod(c.product.c_str(), nullptr);
  return c;
}

std::vector<Candidate> enumerate_candidates(const GridAxis& alpha, const GridAxis& beta, const GridAxis& gamma,
                                            const Constraint& constraint, std::vector<Candidate>* nearest) {
  const int dp = alpha.digits + 2 * beta.digits + 2 * gamma.digits;
  const ConstraintTest test(constraint, dp);
  const double target = constraint.target.value();
  const double scale = std::pow(10.0, dp);
  std::vector<Candidate> out;
  std::vector<std::pair<double, Candidate>> close;
  std::int64_t index = 0;
  for (size_t i = 0; i < alpha.size(); ++i) {
    const Decimal a = alpha.at(i);
    for (size_t j = 0; j < beta.size(); ++j) {
      const Decimal b = beta.at(j);
      const Int128 ab2 = static_cast<Int128>(a.units) * b.units * b.units;
      for (size_t k = 0; k < gamma.size(); ++k, ++index) {
        const Decimal g = gamma.at(k);
        const Int128 p = ab2 * g.units * g.units;
        const bool keep = test.keep(p);
        if (!keep && !nearest) continue;
        // Most triples are far from the target: their exact text only when they may be nearest.
        if (!keep && close.size() >= 5 &&
            std::fabs(static_cast<double>(p) / scale - target) > close.back().first * (1 + 1e-9) + 1e-12)
          continue;
        Candidate c{a, b, g, decimal_text(p, dp), 0.0, index};
        c.product_value = std::strtod(c.product.c_str(), nullptr);
        if (keep) {
          out.push_back(c);
        } else {
          const double distance = std::fabs(c.product_value - target);
          if (close.size() < 5 || distance < close.back().first) {
            close.emplace_back(distance, c);
            std::sort(close.begin(), close.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
            if (close.size() > 5) close.pop_back();
          }
        }
      }
    }
  }
  if (nearest) {
    nearest->clear();
    for (auto& [d, c] : close) nearest->push_back(c);
  }
  return out;
}

}  // namespace effscale
