#include "search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "csv.hpp"
#include "error.hpp"
#include "report/table.hpp"
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
  if (d[1].value() > 16) throw Error(fmt::format("{}: values must be at most 16; got {}", what, d[1].text()));
  if ((a.stop - a.start) / a.step >= 100000)
    throw Error(fmt::format("{}: '{}' has more than 100,000 values", what, text));
  return a;
}

std::vector<Candidate> enumerate_candidates(const GridAxis& alpha, const GridAxis& beta, const GridAxis& gamma,
                                            const Constraint& constraint, std::vector<Candidate>* nearest) {
  // p / 10^dp = alpha * beta^2 * gamma^2; keep |p 10^dt - t 10^dp| 10^dl <= l t 10^dp, all exact.
  // Bounds keep every term below 1e35 (__int128 holds 1.7e38): axis values <= 16 with <= 4
  // decimals (p < 1.1e26, dp <= 20), target < 1e6 and tolerance <= 1, each with <= 4 decimals.
  if (constraint.target.digits > 4 || constraint.tolerance.digits > 4)
    throw Error("the target and the tolerance take at most 4 decimals");
  if (constraint.target.units <= 0 || constraint.target.units >= 1000000 * pow10(constraint.target.digits))
    throw Error(fmt::format("target {} is out of range (0, 1000000)", constraint.target.text()));
  if (constraint.tolerance.units < 0 || constraint.tolerance.units > pow10(constraint.tolerance.digits))
    throw Error(fmt::format("tolerance {} is out of range [0, 1]", constraint.tolerance.text()));
  const int dp = alpha.digits + 2 * beta.digits + 2 * gamma.digits;
  const Int128 t = constraint.target.units, l = constraint.tolerance.units;
  const int dt = constraint.target.digits, dl = constraint.tolerance.digits;
  const Int128 scale_p = pow10(dt) * pow10(dl), scale_t = t * pow10(dp) * pow10(dl);
  const Int128 bound = l * t * pow10(dp);
  const double target = constraint.target.value();
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
        Int128 diff = p * scale_p - scale_t;
        if (diff < 0) diff = -diff;
        const bool keep = diff <= bound;
        if (!keep && !nearest) continue;
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

std::optional<double> CandidateResult::norm_latency_ms() const {
  if (!latency || cost.macs <= 0) return std::nullopt;
  return latency->median_ms * target_ratio / mac_ratio;
}

std::string_view to_string(Objective objective) {
  switch (objective) {
    case Objective::kNormLatency: return "norm-latency";
    case Objective::kLatency: return "latency";
    case Objective::kMacsError: return "macs-error";
    case Objective::kParams: return "params";
    case Objective::kActivations: return "activations";
    case Objective::kScore: return "score";
  }
  return "?";
}

Objective parse_objective(std::string_view text) {
  for (Objective o : {Objective::kNormLatency, Objective::kLatency, Objective::kMacsError, Objective::kParams,
                      Objective::kActivations, Objective::kScore}) {
    if (to_string(o) == text) return o;
  }
  throw Error(fmt::format("--rank-by '{}' is not one of: norm-latency, latency, macs-error, params, activations, score",
                          text));
}

bool needs_latency(Objective o) {
  return o == Objective::kNormLatency || o == Objective::kLatency || o == Objective::kScore;
}

std::optional<double> objective_value(const CandidateResult& r, Objective objective, const ScoreSettings& score) {
  if (!r.ok()) return std::nullopt;
  switch (objective) {
    case Objective::kNormLatency: return r.norm_latency_ms();
    case Objective::kLatency:
      if (r.latency) return r.latency->median_ms;
      return std::nullopt;
    case Objective::kMacsError: return std::fabs(r.mac_error);
    case Objective::kParams: return static_cast<double>(r.cost.params);
    case Objective::kActivations: return static_cast<double>(r.cost.activations);
    case Objective::kScore:
      if (!r.top1 || !r.latency || score.latency_target_ms <= 0) return std::nullopt;
      return *r.top1 * std::pow(r.latency->median_ms / score.latency_target_ms, score.weight);
  }
  return std::nullopt;
}

void rank_results(std::vector<CandidateResult>& results, Objective objective, const ScoreSettings& score) {
  const bool higher_is_better = objective == Objective::kScore;
  std::vector<std::pair<std::optional<double>, size_t>> keys;
  for (size_t i = 0; i < results.size(); ++i) keys.emplace_back(objective_value(results[i], objective, score), i);
  auto tier = [&](const std::pair<std::optional<double>, size_t>& k) {
    if (k.first) return 0;
    return results[k.second].ok() ? 1 : 2;
  };
  std::sort(keys.begin(), keys.end(), [&](const auto& x, const auto& y) {
    const int tx = tier(x), ty = tier(y);
    if (tx != ty) return tx < ty;
    if (tx == 0 && *x.first != *y.first) return higher_is_better ? *x.first > *y.first : *x.first < *y.first;
    const Candidate& a = results[x.second].candidate;
    const Candidate& b = results[y.second].candidate;
    return std::tie(a.alpha, a.beta, a.gamma) < std::tie(b.alpha, b.beta, b.gamma);
  });
  std::vector<CandidateResult> sorted;
  sorted.reserve(results.size());
  for (const auto& k : keys) sorted.push_back(std::move(results[k.second]));
  results = std::move(sorted);
}

std::string SearchKey::text() const {
  std::vector<std::string> parts;
  for (const auto& [k, v] : fields) parts.push_back(k + "=" + v);
  return join(parts, ";");
}

SearchKey SearchKey::parse(std::string_view text) {
  SearchKey key;
  for (auto part : split(text, ';')) {
    part = trim(part);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) throw Error(fmt::format("malformed search key field '{}'", part));
    key.fields.emplace_back(std::string(part.substr(0, eq)), std::string(part.substr(eq + 1)));
  }
  return key;
}

std::string SearchKey::difference(const SearchKey& other) const {
  std::map<std::string, std::string> mine(fields.begin(), fields.end()), theirs(other.fields.begin(), other.fields.end());
  for (const auto& [k, v] : mine) {
    auto it = theirs.find(k);
    const std::string t = it == theirs.end() ? "(absent)" : it->second;
    if (t != v) return fmt::format("{}: {} vs {}", k, v, t);
  }
  for (const auto& [k, v] : theirs)
    if (!mine.count(k)) return fmt::format("{}: (absent) vs {}", k, v);
  return {};
}

const std::vector<std::string>& report_columns() {
  static const std::vector<std::string> columns = {
      "rank", "alpha", "beta", "gamma", "product", "depth", "width", "resolution", "params", "macs", "mac_ratio",
      "target_ratio", "mac_error", "activations", "peak_memory_bytes", "latency_ms", "p10_ms", "p90_ms", "min_ms",
      "runs", "norm_latency_ms", "top1", "score", "objective", "status"};
  return columns;
}

DataTable report_table(const std::vector<CandidateResult>& results, Objective objective, const ScoreSettings& score) {
  DataTable t;
  t.columns = report_columns();
  std::int64_t rank = 0;
  for (const auto& r : results) {
    const auto value = objective_value(r, objective, score);
    const auto scored = objective_value(r, Objective::kScore, score);
    auto opt = [](const std::optional<double>& v) { return v ? Cell{*v} : Cell{}; };
    const auto& l = r.latency;
    t.rows.push_back({value ? Cell{++rank} : Cell{}, r.candidate.alpha.text(), r.candidate.beta.text(),
                      r.candidate.gamma.text(), r.candidate.product, r.factors.depth, r.factors.width,
                      std::int64_t(r.factors.resolution), r.cost.params, r.cost.macs, r.mac_ratio, r.target_ratio,
                      r.mac_error, r.cost.activations, r.peak_memory_bytes, l ? Cell{l->median_ms} : Cell{},
                      l ? Cell{l->p10_ms} : Cell{}, l ? Cell{l->p90_ms} : Cell{}, l ? Cell{l->min_ms} : Cell{},
                      l ? Cell{std::int64_t(l->runs)} : Cell{}, opt(r.norm_latency_ms()), opt(r.top1), opt(scored),
                      opt(value), r.status});
  }
  return t;
}

std::string format_report(const ReportHeader& h, const std::vector<CandidateResult>& results, Objective objective,
                          const ScoreSettings& score) {
  std::ostringstream out;
  out << "# effscale search report\n";
  out << "# command: " << h.command << '\n';
  out << "# machine: " << h.machine << '\n';
  out << "# date: " << h.date << '\n';
  out << "# timing: " << h.timing << '\n';
  out << "# key: " << h.key.text() << '\n';
  out << "# baseline-macs: " << h.baseline_macs << '\n';
  if (h.baseline_latency_ms) out << "# baseline-latency-ms: " << shortest(*h.baseline_latency_ms) << '\n';
  out << "# objective: " << to_string(objective) << '\n';
  write_csv(report_table(results, objective, score), out);
  return out.str();
}

Report parse_report(std::string_view text, std::string_view source) {
  Report report;
  std::string csv_text;
  int line_number = 0;
  int first_csv_line = 0;
  bool header_done = false;
  for (std::string_view line : split(text, '\n')) {
    ++line_number;
    if (!header_done && line.substr(0, 1) == "#") {
      const auto body = trim(line.substr(1));
      const size_t colon = body.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string key(trim(body.substr(0, colon)));
      const std::string value(trim(body.substr(colon + 1)));
      if (key == "command") report.header.command = value;
      else if (key == "machine") report.header.machine = value;
      else if (key == "date") report.header.date = value;
      else if (key == "timing") report.header.timing = value;
      else if (key == "key") report.header.key = SearchKey::parse(value);
      else if (key == "objective") report.header.objective = value;
      else if (key == "baseline-macs") report.header.baseline_macs = require_int(value, fmt::format("{}:{}", source, line_number));
      else if (key == "baseline-latency-ms") report.header.baseline_latency_ms = require_double(value, fmt::format("{}:{}", source, line_number));
      continue;
    }
    if (!header_done) first_csv_line = line_number;
    header_done = true;
    csv_text.append(line.data(), line.size());
    csv_text += '\n';
  }
  if (report.header.key.fields.empty())
    throw Error(fmt::format("{}: not an effscale search report (no '# key:' line)", source));
  const auto rows = parse_csv(csv_text, source);
  if (rows.empty()) throw Error(fmt::format("{}: the report has no column header", source));
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < rows[0].size(); ++i) column[rows[0][i]] = i;
  for (const auto& name : report_columns()) {
    if (!column.count(name)) throw Error(fmt::format("{}: the report has no '{}' column", source, name));
  }
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const std::string where = fmt::format("{}:{}", source, first_csv_line + static_cast<int>(r));
    if (row.size() != rows[0].size())
      throw Error(fmt::format("{}: {} fields, the header has {}", where, row.size(), rows[0].size()));
    auto field = [&](const char* name) -> const std::string& { return row[column.at(name)]; };
    auto integer = [&](const char* name) { return require_int(field(name), fmt::format("{}: {}", where, name)); };
    auto number = [&](const char* name) { return require_double(field(name), fmt::format("{}: {}", where, name)); };
    auto optional = [&](const char* name) -> std::optional<double> {
      if (field(name).empty()) return std::nullopt;
      return number(name);
    };
    CandidateResult c;
    c.candidate.alpha = parse_decimal(field("alpha"), where + ": alpha", 4);
    c.candidate.beta = parse_decimal(field("beta"), where + ": beta", 4);
    c.candidate.gamma = parse_decimal(field("gamma"), where + ": gamma", 4);
    c.candidate.product = field("product");
    c.candidate.product_value = number("product");
    c.factors.depth = number("depth");
    c.factors.width = number("width");
    c.factors.resolution = static_cast<int>(integer("resolution"));
    c.cost.params = integer("params");
    c.cost.macs = integer("macs");
    c.mac_ratio = number("mac_ratio");
    c.target_ratio = number("target_ratio");
    c.mac_error = number("mac_error");
    c.cost.activations = integer("activations");
    c.peak_memory_bytes = integer("peak_memory_bytes");
    if (!field("latency_ms").empty()) {
      TimingStats t;
      t.median_ms = number("latency_ms");
      t.p10_ms = number("p10_ms");
      t.p90_ms = number("p90_ms");
      t.min_ms = number("min_ms");
      t.runs = static_cast<int>(integer("runs"));
      c.latency = t;
    }
    c.top1 = optional("top1");
    c.status = field("status");
    if (c.status.empty()) throw Error(fmt::format("{}: empty status", where));
    report.results.push_back(std::move(c));
  }
  return report;
}

AccuracyTable parse_accuracy(std::string_view text, std::string_view source) {
  const auto rows = parse_csv(text, source);
  if (rows.empty()) throw Error(fmt::format("{}: empty accuracy file (expected a header alpha,beta,gamma,top1)", source));
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < rows[0].size(); ++i) column[std::string(trim(rows[0][i]))] = i;
  for (const char* name : {"alpha", "beta", "gamma", "top1"}) {
    if (!column.count(name))
      throw Error(fmt::format("{}: no '{}' column (expected a header alpha,beta,gamma,top1)", source, name));
  }
  AccuracyTable table;
  for (size_t r = 1; r < rows.size(); ++r) {
    const std::string where = fmt::format("{}:{}", source, r + 1);
    const auto& row = rows[r];
    if (row.size() != rows[0].size())
      throw Error(fmt::format("{}: {} fields, the header has {}", where, row.size(), rows[0].size()));
    auto get = [&](const char* name) { return trim(row[column.at(name)]); };
    const Decimal a = parse_decimal(get("alpha"), where + ": alpha", 4);
    const Decimal b = parse_decimal(get("beta"), where + ": beta", 4);
    const Decimal g = parse_decimal(get("gamma"), where + ": gamma", 4);
    const double top1 = require_double(get("top1"), where + ": top1");
    if (!(top1 > 0 && top1 <= 100))
      throw Error(fmt::format("{}: top1 {} is out of range (0, 100] (a fraction or a percentage)", where, top1));
    if (!table.emplace(std::make_tuple(a, b, g), top1).second)
      throw Error(fmt::format("{}: ({}, {}, {}) is listed twice", where, a.text(), b.text(), g.text()));
  }
  return table;
}

ScaleFactors candidate_factors(const Candidate& c, double phi, int base_resolution) {
  return compound_factors(phi, {c.alpha.value(), c.beta.value(), c.gamma.value()}, base_resolution);
}

}  // namespace effscale
