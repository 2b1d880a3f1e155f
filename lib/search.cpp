#include "search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <sstream>

#include "csv.hpp"
#include "error.hpp"
#include "limits.hpp"
#include "strategy.hpp"
#include "text.hpp"

namespace effscale {

std::optional<double> CandidateResult::norm_latency_ms() const {
  if (!latency || mac_ratio <= 0) return std::nullopt;
  return latency->ms * target_ratio / mac_ratio;
}

std::string_view to_string(Objective objective) {
  switch (objective) {
    case Objective::kRelLatency: return "rel-latency";
    case Objective::kNormLatency: return "norm-latency";
    case Objective::kLatency: return "latency";
    case Objective::kMacsError: return "macs-error";
    case Objective::kParams: return "params";
    case Objective::kActivations: return "activations";
    case Objective::kScore: return "score";
  }
  return "?";
}

const std::vector<Objective>& all_objectives() {
  static const std::vector<Objective> all = {Objective::kRelLatency, Objective::kNormLatency, Objective::kLatency,
                                             Objective::kMacsError,  Objective::kParams,      Objective::kActivations,
                                             Objective::kScore};
  return all;
}

Objective parse_objective(std::string_view text) {
  std::vector<std::string> names;
  for (Objective o : all_objectives()) {
    if (to_string(o) == text) return o;
    names.emplace_back(to_string(o));
  }
  throw Error(fmt::format("--rank-by '{}' is not one of: {}", text, join(names, ", ")));
}

bool needs_latency(Objective o) {
  return o == Objective::kRelLatency || o == Objective::kNormLatency || o == Objective::kLatency ||
         o == Objective::kScore;
}

std::optional<Interval> objective_interval(const CandidateResult& r, Objective objective, const ScoreSettings& score) {
  if (!r.ok()) return std::nullopt;
  auto exact = [](double v) { return Interval{v, v, v}; };
  switch (objective) {
    case Objective::kRelLatency:
      if (r.latency) return r.latency->rel;
      return std::nullopt;
    case Objective::kLatency:
      if (r.latency) return r.latency->ms_interval();
      return std::nullopt;
    case Objective::kNormLatency:
      if (r.latency && r.mac_ratio > 0) return r.latency->ms_interval().scaled(r.target_ratio / r.mac_ratio);
      return std::nullopt;
    case Objective::kMacsError: return exact(std::fabs(r.mac_error));
    case Objective::kParams: return exact(static_cast<double>(r.cost.params));
    case Objective::kActivations: return exact(static_cast<double>(r.cost.activations));
    case Objective::kScore: {
      if (!r.top1 || !r.latency || score.latency_target_ms <= 0) return std::nullopt;
      const Interval ms = r.latency->ms_interval();
      auto f = [&](double latency) { return *r.top1 * std::pow(latency / score.latency_target_ms, score.weight); };
      // The weight is negative: the score falls as latency grows.
      return Interval{f(ms.estimate), std::min(f(ms.low), f(ms.high)), std::max(f(ms.low), f(ms.high))};
    }
  }
  return std::nullopt;
}

std::optional<double> objective_value(const CandidateResult& r, Objective objective, const ScoreSettings& score) {
  const auto i = objective_interval(r, objective, score);
  if (!i) return std::nullopt;
  return i->estimate;
}

void rank_results(std::vector<CandidateResult>& results, Objective objective, const ScoreSettings& score) {
  const bool higher_is_better = objective == Objective::kScore;
  struct Key {
    std::optional<Interval> value;
    int tier;
    size_t index;
  };
  std::vector<Key> keys;
  for (size_t i = 0; i < results.size(); ++i) {
    auto value = objective_interval(results[i], objective, score);
    keys.push_back({value, value ? 0 : (results[i].ok() ? 1 : 2), i});
  }
  std::sort(keys.begin(), keys.end(), [&](const Key& x, const Key& y) {
    if (x.tier != y.tier) return x.tier < y.tier;
    if (x.tier == 0 && x.value->estimate != y.value->estimate)
      return higher_is_better ? x.value->estimate > y.value->estimate : x.value->estimate < y.value->estimate;
    const Candidate& a = results[x.index].candidate;
    const Candidate& b = results[y.index].candidate;
    return std::tie(a.alpha, a.beta, a.gamma) < std::tie(b.alpha, b.beta, b.gamma);
  });
  std::vector<CandidateResult> sorted;
  std::vector<std::optional<Interval>> values;
  std::vector<std::string> networks;
  sorted.reserve(results.size());
  for (const Key& k : keys) {
    sorted.push_back(std::move(results[k.index]));
    values.push_back(k.value);
    networks.push_back(sorted.back().network);
  }
  const std::vector<RankMark> marks = mark_ranks(values, networks);
  for (size_t i = 0; i < sorted.size(); ++i) {
    sorted[i].rank = marks[i].rank;
    sorted[i].tied = marks[i].tied;
  }
  results = std::move(sorted);
}

int tie_group_networks(const std::vector<CandidateResult>& ranked) {
  if (ranked.empty() || ranked.front().rank == 0) return 0;
  std::set<std::string> networks;
  for (const auto& r : ranked)
    if (r.tied) networks.insert(r.network);
  return std::max<int>(1, static_cast<int>(networks.size()));
}

namespace {

// Key values may hold any text (a baseline file's name): escape what the key syntax uses.
std::string escape_key(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == ';' || c == '=' || static_cast<unsigned char>(c) < 0x20) out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    else out += c;
  }
  return out;
}

std::string unescape_key(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(text[i + 2])))
        throw Error(fmt::format("malformed escape in search key value '{}'", text));
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::string SearchKey::text() const {
  std::vector<std::string> parts;
  for (const auto& [k, v] : fields) parts.push_back(escape_key(k) + "=" + escape_key(v));
  return join(parts, ";");
}

SearchKey SearchKey::parse(std::string_view text) {
  SearchKey key;
  for (auto part : split(text, ';')) {
    part = trim(part);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) throw Error(fmt::format("malformed search key field '{}'", part));
    key.fields.emplace_back(unescape_key(part.substr(0, eq)), unescape_key(part.substr(eq + 1)));
  }
  return key;
}

std::string SearchKey::get(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

std::string SearchKey::difference(const SearchKey& other, const std::vector<std::string>& ignore) const {
  auto ignored = [&](const std::string& k) { return std::find(ignore.begin(), ignore.end(), k) != ignore.end(); };
  std::map<std::string, std::string> mine(fields.begin(), fields.end()), theirs(other.fields.begin(), other.fields.end());
  for (const auto& [k, v] : mine) {
    if (ignored(k)) continue;
    auto it = theirs.find(k);
    const std::string t = it == theirs.end() ? "(absent)" : it->second;
    if (t != v) return fmt::format("{}: {} vs {}", k, v, t);
  }
  for (const auto& [k, v] : theirs)
    if (!ignored(k) && !mine.count(k)) return fmt::format("{}: (absent) vs {}", k, v);
  return {};
}

const std::vector<std::string>& machine_key_fields() {
  static const std::vector<std::string> fields = {"cpu", "cores", "onednn"};
  return fields;
}

namespace {

// ---- the report schema: one table of columns, each written and read back by the same entry ----

struct RowContext {
  Objective objective;
  const ScoreSettings& score;
};

// Reads the fields of one report row.
struct FieldReader {
  const std::vector<std::string>& row;
  const std::map<std::string, size_t>& column;
  const std::string& where;
  const std::string& text(const char* name) const { return row[column.at(name)]; }
  bool empty(const char* name) const { return text(name).empty(); }
  double number(const char* name) const { return require_double(text(name), fmt::format("{}: {}", where, name)); }
  std::int64_t integer(const char* name) const { return require_int(text(name), fmt::format("{}: {}", where, name)); }
  Decimal decimal(const char* name) const { return parse_decimal(text(name), fmt::format("{}: {}", where, name), 4); }
};

struct Column {
  const char* name;
  std::function<Cell(const CandidateResult&, const RowContext&)> write;
  std::function<void(CandidateResult&, const FieldReader&)> read;  ///< empty: derived, recomputed
};

Cell optional_cell(const std::optional<double>& v) { return v ? Cell{*v} : Cell{}; }

// Latency columns read together: rel_latency decides whether the row has a latency.
Latency& latency_for(CandidateResult& r) {
  if (!r.latency) r.latency = Latency{};
  return *r.latency;
}

const std::vector<Column>& schema() {
  using R = const CandidateResult&;
  using C = const RowContext&;
  using F = const FieldReader&;
  static const std::vector<Column> columns = {
      {"rank", [](R r, C) { return r.rank > 0 ? Cell{std::int64_t(r.rank)} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (f.empty("rank")) return;
         const std::int64_t rank = f.integer("rank");
         if (rank < 1 || rank > kMaxCandidates)
           throw Error(fmt::format("{}: rank {} is out of range [1, {}]", f.where, rank, kMaxCandidates));
         r.rank = static_cast<int>(rank);
       }},
      {"network", [](R r, C) { return Cell{r.network}; }, [](CandidateResult& r, F f) { r.network = f.text("network"); }},
      {"alpha", [](R r, C) { return Cell{Numeral{r.candidate.alpha.text()}}; },
       [](CandidateResult& r, F f) { r.candidate.alpha = f.decimal("alpha"); }},
      {"beta", [](R r, C) { return Cell{Numeral{r.candidate.beta.text()}}; },
       [](CandidateResult& r, F f) { r.candidate.beta = f.decimal("beta"); }},
      {"gamma", [](R r, C) { return Cell{Numeral{r.candidate.gamma.text()}}; },
       [](CandidateResult& r, F f) { r.candidate.gamma = f.decimal("gamma"); }},
      {"product", [](R r, C) { return Cell{Numeral{r.candidate.product}}; },
       [](CandidateResult& r, F f) {
         r.candidate.product = f.text("product");
         r.candidate.product_value = f.number("product");
       }},
      {"phi", [](R r, C) { return Cell{r.phi}; }, [](CandidateResult& r, F f) { r.phi = f.number("phi"); }},
      {"phi_star", [](R r, C) { return Cell{r.phi_star}; }, [](CandidateResult& r, F f) { r.phi_star = f.number("phi_star"); }},
      {"depth", [](R r, C) { return Cell{r.factors.depth}; }, [](CandidateResult& r, F f) { r.factors.depth = f.number("depth"); }},
      {"width", [](R r, C) { return Cell{r.factors.width}; }, [](CandidateResult& r, F f) { r.factors.width = f.number("width"); }},
      {"resolution", [](R r, C) { return Cell{std::int64_t(r.factors.resolution)}; },
       [](CandidateResult& r, F f) { r.factors.resolution = static_cast<int>(f.integer("resolution")); }},
      {"params", [](R r, C) { return Cell{r.cost.params}; }, [](CandidateResult& r, F f) { r.cost.params = f.integer("params"); }},
      {"macs", [](R r, C) { return Cell{r.cost.macs}; }, [](CandidateResult& r, F f) { r.cost.macs = f.integer("macs"); }},
      {"mac_ratio", [](R r, C) { return Cell{r.mac_ratio}; }, [](CandidateResult& r, F f) { r.mac_ratio = f.number("mac_ratio"); }},
      {"target_ratio", [](R r, C) { return Cell{r.target_ratio}; },
       [](CandidateResult& r, F f) { r.target_ratio = f.number("target_ratio"); }},
      {"mac_error", [](R r, C) { return Cell{r.mac_error}; }, [](CandidateResult& r, F f) { r.mac_error = f.number("mac_error"); }},
      {"activations", [](R r, C) { return Cell{r.cost.activations}; },
       [](CandidateResult& r, F f) { r.cost.activations = f.integer("activations"); }},
      {"peak_memory_bytes", [](R r, C) { return Cell{r.peak_memory_bytes}; },
       [](CandidateResult& r, F f) { r.peak_memory_bytes = f.integer("peak_memory_bytes"); }},
      {"rel_latency", [](R r, C) { return r.latency ? Cell{r.latency->rel.estimate} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (!f.empty("rel_latency")) latency_for(r).rel.estimate = f.number("rel_latency");
       }},
      {"rel_ci_low", [](R r, C) { return r.latency ? Cell{r.latency->rel.low} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (r.latency) r.latency->rel.low = f.number("rel_ci_low");
       }},
      {"rel_ci_high", [](R r, C) { return r.latency ? Cell{r.latency->rel.high} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (r.latency) r.latency->rel.high = f.number("rel_ci_high");
       }},
      {"latency_ms", [](R r, C) { return r.latency ? Cell{r.latency->ms} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (r.latency) r.latency->ms = f.number("latency_ms");
       }},
      {"p10_ms", [](R r, C) { return r.latency ? Cell{r.latency->p10_ms} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (r.latency) r.latency->p10_ms = f.number("p10_ms");
       }},
      {"p90_ms", [](R r, C) { return r.latency ? Cell{r.latency->p90_ms} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (r.latency) r.latency->p90_ms = f.number("p90_ms");
       }},
      {"min_ms", [](R r, C) { return r.latency ? Cell{r.latency->min_ms} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (r.latency) r.latency->min_ms = f.number("min_ms");
       }},
      {"runs", [](R r, C) { return r.latency ? Cell{std::int64_t(r.latency->runs)} : Cell{}; },
       [](CandidateResult& r, F f) {
         if (r.latency) r.latency->runs = static_cast<int>(f.integer("runs"));
       }},
      {"norm_latency_ms", [](R r, C) { return optional_cell(r.norm_latency_ms()); }, {}},
      {"tied", [](R r, C) { return r.rank > 0 ? Cell{Boolean{r.tied}} : Cell{}; },
       [](CandidateResult& r, F f) {
         const std::string& v = f.text("tied");
         if (v != "" && v != "true" && v != "false")
           throw Error(fmt::format("{}: tied '{}' is not true or false", f.where, v));
         r.tied = v == "true";
       }},
      {"top1", [](R r, C) { return optional_cell(r.top1); },
       [](CandidateResult& r, F f) {
         if (!f.empty("top1")) r.top1 = f.number("top1");
       }},
      {"score", [](R r, C c) { return optional_cell(objective_value(r, Objective::kScore, c.score)); }, {}},
      {"objective", [](R r, C c) { return optional_cell(objective_value(r, c.objective, c.score)); }, {}},
      {"status", [](R r, C) { return Cell{r.status.text()}; },
       [](CandidateResult& r, F f) { r.status = RowStatus::parse(f.text("status")); }},
  };
  return columns;
}

}  // namespace

std::vector<std::string> report_columns() {
  std::vector<std::string> names;
  for (const auto& c : schema()) names.emplace_back(c.name);
  return names;
}

DataTable report_table(const std::vector<CandidateResult>& ranked, Objective objective, const ScoreSettings& score) {
  DataTable t;
  t.columns = report_columns();
  const RowContext context{objective, score};
  for (const auto& r : ranked) {
    std::vector<Cell> row;
    row.reserve(schema().size());
    for (const auto& c : schema()) row.push_back(c.write(r, context));
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string format_report(const ReportHeader& h, const std::vector<CandidateResult>& ranked, Objective objective,
                          const ScoreSettings& score) {
  std::ostringstream out;
  out << "# effscale search report\n";
  out << "# command: " << h.command << '\n';
  out << "# machine: " << h.machine << '\n';
  out << "# date: " << h.date << '\n';
  out << "# timing: " << h.timing << '\n';
  out << "# key: " << h.key.text() << '\n';
  if (h.shard_count > 1) out << "# shard: " << h.shard_index << '/' << h.shard_count << '\n';
  out << "# baseline-macs: " << h.baseline_macs << '\n';
  if (h.baseline_latency_ms) out << "# baseline-latency-ms: " << shortest(*h.baseline_latency_ms) << '\n';
  if (h.drift) out << "# drift: " << shortest(*h.drift) << '\n';
  out << "# objective: " << to_string(objective) << '\n';
  for (const auto& w : h.warnings) out << "# warning: " << w << '\n';
  for (const auto& v : h.verified) out << "# verified: " << v << '\n';
  write_csv(report_table(ranked, objective, score), out);
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
      const std::string where = fmt::format("{}:{}", source, line_number);
      ReportHeader& h = report.header;
      if (key == "command") h.command = value;
      else if (key == "machine") h.machine = value;
      else if (key == "date") h.date = value;
      else if (key == "timing") h.timing = value;
      else if (key == "key") h.key = SearchKey::parse(value);
      else if (key == "objective") h.objective = value;
      else if (key == "warning") h.warnings.push_back(value);
      else if (key == "verified") h.verified.push_back(value);
      else if (key == "baseline-macs") h.baseline_macs = require_int(value, where);
      else if (key == "baseline-latency-ms") h.baseline_latency_ms = require_double(value, where);
      else if (key == "drift") h.drift = require_double(value, where);
      else if (key == "shard") {
        const auto parts = split(value, '/');
        if (parts.size() != 2) throw Error(fmt::format("{}: shard '{}' is not i/n", where, value));
        h.shard_index = static_cast<int>(require_int(parts[0], where + ": shard"));
        h.shard_count = static_cast<int>(require_int(parts[1], where + ": shard"));
        if (h.shard_count < 1 || h.shard_index < 0 || h.shard_index >= h.shard_count)
          throw Error(fmt::format("{}: shard '{}' is not i/n with 0 <= i < n", where, value));
      }
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
  for (const auto& c : schema()) {
    if (!column.count(c.name)) throw Error(fmt::format("{}: the report has no '{}' column", source, c.name));
  }
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const std::string where = fmt::format("{}:{}", source, first_csv_line + static_cast<int>(r));
    if (row.size() != rows[0].size())
      throw Error(fmt::format("{}: {} fields, the header has {}", where, row.size(), rows[0].size()));
    const FieldReader reader{row, column, where};
    CandidateResult c;
    try {
      for (const auto& col : schema())
        if (col.read) col.read(c, reader);
    } catch (const Error& e) {
      const std::string message = e.what();
      throw Error(message.rfind(std::string(source), 0) == 0 ? message : where + ": " + message);
    }
    report.results.push_back(std::move(c));
    report.lines.push_back(first_csv_line + static_cast<int>(r));
  }
  return report;
}

std::string baseline_fingerprint(const NetworkSpec& baseline) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the baseline file's text
  for (unsigned char c : format_baseline_text(baseline)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

void validate_report(const Report& report, const NetworkSpec& baseline, std::string_view source) {
  const SearchKey& key = report.header.key;
  auto field = [&](const char* name) {
    const std::string v = key.get(name);
    if (v.empty()) throw Error(fmt::format("{}: the report's key has no '{}' (a report of another effscale version?)", source, name));
    return v;
  };
  if (field("baseline_spec") != baseline_fingerprint(baseline))
    throw Error(fmt::format("{}: the report was made with another baseline than '{}' (give its baseline with --baseline)",
                            source, baseline.name));
  const GridAxis alpha = parse_grid_axis(field("alpha"), "alpha"), beta = parse_grid_axis(field("beta"), "beta"),
                 gamma = parse_grid_axis(field("gamma"), "gamma");
  Constraint constraint;
  constraint.target = parse_decimal(field("target"), "report target", 4);
  constraint.tolerance = parse_decimal(field("tolerance"), "report tolerance", 4);
  const double phi = require_double(field("phi"), "report phi");
  const bool calibrate = field("calibrate") == "on";
  const bool latency = field("latency") == "on" || field("latency") == "predicted";
  const bool predicted = field("latency") == "predicted";
  const double target_ratio = std::pow(constraint.target.value(), phi);
  const Graph base_graph = expand(baseline);
  const std::int64_t base_macs = network_cost(base_graph).total.macs;
  Graph g;
  auto same = [](double a, double b) { return shortest(a) == shortest(b); };
  for (size_t i = 0; i < report.results.size(); ++i) {
    const CandidateResult& r = report.results[i];
    const std::string where = fmt::format("{}:{}", source, i < report.lines.size() ? report.lines[i] : 0);
    auto mismatch = [&](const char* name, const std::string& has, const std::string& builds) {
      return Error(fmt::format("{}: {} {} does not match the triple ({}, {}, {}), which gives {}: the row was edited or "
                               "comes from another search",
                               where, name, has, r.candidate.alpha.text(), r.candidate.beta.text(), r.candidate.gamma.text(),
                               builds));
    };
    const auto c = grid_candidate(alpha, beta, gamma, constraint, r.candidate.alpha, r.candidate.beta, r.candidate.gamma);
    if (!c)
      throw Error(fmt::format("{}: ({}, {}, {}) is not a candidate of the report's grid and constraint", where,
                              r.candidate.alpha.text(), r.candidate.beta.text(), r.candidate.gamma.text()));
    if (r.candidate.product != c->product) throw mismatch("product", r.candidate.product, c->product);
    if (r.status.state == RowState::kSkipped) continue;
    // The model the triple builds, by the search's own rule.
    const Coefficients k{c->alpha.value(), c->beta.value(), c->gamma.value()};
    ScaleFactors f = compound_factors(phi, k, baseline.resolution);
    double phi_star = phi;
    if (calibrate && target_ratio != 1.0 && c->product_value > 1) {
      Strategy s;
      s.kind = StrategyKind::kCompound;
      s.coefficients = k;
      const auto point = calibrated_point(s, target_ratio, baseline, base_macs, g);
      f = point->factors;
      phi_star = point->phi;
    }
    if (!same(r.phi_star, phi_star)) throw mismatch("phi_star", shortest(r.phi_star), shortest(phi_star));
    if (!same(r.factors.depth, f.depth) || !same(r.factors.width, f.width) || r.factors.resolution != f.resolution)
      throw mismatch("the scale factors", fmt::format("({}, {}, {})", shortest(r.factors.depth), shortest(r.factors.width), r.factors.resolution),
                     fmt::format("({}, {}, {})", shortest(f.depth), shortest(f.width), f.resolution));
    const NetworkCost cost = evaluate(baseline, f, g);
    if (r.cost.params != cost.total.params) throw mismatch("params", std::to_string(r.cost.params), std::to_string(cost.total.params));
    if (r.cost.macs != cost.total.macs) throw mismatch("macs", std::to_string(r.cost.macs), std::to_string(cost.total.macs));
    if (r.cost.activations != cost.total.activations)
      throw mismatch("activations", std::to_string(r.cost.activations), std::to_string(cost.total.activations));
    if (r.peak_memory_bytes != cost.peak_activation_bytes)
      throw mismatch("peak_memory_bytes", std::to_string(r.peak_memory_bytes), std::to_string(cost.peak_activation_bytes));
    const double mac_ratio = static_cast<double>(cost.total.macs) / static_cast<double>(base_macs);
    if (!same(r.mac_ratio, mac_ratio)) throw mismatch("mac_ratio", shortest(r.mac_ratio), shortest(mac_ratio));
    if (!same(r.target_ratio, target_ratio)) throw mismatch("target_ratio", shortest(r.target_ratio), shortest(target_ratio));
    const std::string network = network_id(g);
    if (r.network != network) throw mismatch("network", r.network, network);
    if (!r.latency) {
      if (latency && r.ok()) throw Error(fmt::format("{}: an ok row of a search with latency has no latency", where));
      continue;
    }
    const Latency& l = *r.latency;
    if (!r.ok()) throw Error(fmt::format("{}: a {} row has a latency", where, r.status.text().substr(0, r.status.text().find(':'))));
    if (!(l.rel.estimate > 0 && l.rel.low > 0 && l.rel.low <= l.rel.estimate && l.rel.estimate <= l.rel.high &&
          std::isfinite(l.rel.high)))
      throw Error(fmt::format("{}: rel_latency {} with interval [{}, {}] is not a positive estimate inside its interval",
                              where, shortest(l.rel.estimate), shortest(l.rel.low), shortest(l.rel.high)));
    if (!(l.ms > 0 && std::isfinite(l.ms)) || !(l.p10_ms >= 0 && l.p10_ms <= l.p90_ms) || (l.runs < 1 && !predicted))
      throw Error(fmt::format("{}: latency_ms {}, p10-p90 {}-{} ms, runs {}: not a measurement", where, shortest(l.ms),
                              shortest(l.p10_ms), shortest(l.p90_ms), l.runs));
  }
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

Shard parse_shard(std::string_view text, std::optional<int> shards, const std::function<const char*(const char*)>& env) {
  auto number = [&](const char* name) -> std::optional<std::int64_t> {
    const char* v = env(name);
    if (!v || !*v) return std::nullopt;
    const auto n = parse_int(v);
    if (!n) throw Error(fmt::format("--shard auto: {}='{}' is not an integer", name, v));
    return n;
  };
  std::int64_t index = 0, count = 0;
  if (text == "auto") {
    if (auto id = number("SLURM_ARRAY_TASK_ID")) {
      const auto min = number("SLURM_ARRAY_TASK_MIN").value_or(0);
      index = *id - min;
      if (auto c = number("SLURM_ARRAY_TASK_COUNT")) count = *c;
      else if (auto max = number("SLURM_ARRAY_TASK_MAX")) count = *max - min + 1;
    } else if (auto k = number("JOB_COMPLETION_INDEX")) {
      index = *k;
    } else {
      throw Error("--shard auto: no job array here (neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set); "
                  "give --shard i/n");
    }
    if (shards) count = *shards;
    if (count <= 0)
      throw Error("--shard auto: the number of shards is unknown (set --shards N, or run in a Slurm array)");
  } else {
    const auto parts = split(text, '/');
    const auto i = parts.size() == 2 ? parse_int(parts[0]) : std::nullopt;
    const auto n = parts.size() == 2 ? parse_int(parts[1]) : std::nullopt;
    if (!i || !n) throw Error(fmt::format("--shard '{}' is not i/n (e.g. 0/4: the first of 4 shards) or auto", text));
    index = *i;
    count = *n;
  }
  if (count < 1 || count > 1000000) throw Error(fmt::format("--shard: n {} is out of range [1, 1000000]", count));
  if (index < 0 || index >= count)
    throw Error(fmt::format("--shard: i {} must be in [0, {}) (shards are numbered from 0)", index, count));
  return {static_cast<int>(index), static_cast<int>(count)};
}

ScaleFactors candidate_factors(const Candidate& c, double phi, int base_resolution) {
  return compound_factors(phi, {c.alpha.value(), c.beta.value(), c.gamma.value()}, base_resolution);
}

}  // namespace effscale

namespace effscale {

ReportModel model_from_report(std::string_view text, std::string_view source, int rank,
                              const std::optional<NetworkSpec>& baseline) {
  const Report report = parse_report(text, source);
  ReportModel m;
  m.source = std::string(source);
  m.rank = rank;
  if (baseline) {
    m.baseline = *baseline;
  } else {
    const std::string name = report.header.key.get("baseline");
    const auto builtins = builtin_baseline_names();
    if (std::find(builtins.begin(), builtins.end(), name) == builtins.end() ||
        baseline_fingerprint(builtin_baseline(name)) != report.header.key.get("baseline_spec"))
      throw Error(fmt::format("{}: the report scales the baseline file '{}'; give that file with --baseline", source, name));
    m.baseline = builtin_baseline(name);
  }
  validate_report(report, m.baseline, source);
  std::vector<int> ranks;
  for (const auto& r : report.results) {
    if (r.rank > 0) ranks.push_back(r.rank);
    if (r.rank == rank) {
      m.row = r;
      break;
    }
  }
  if (m.row.rank != rank) {
    if (ranks.empty())
      throw Error(fmt::format("{}: the report ranks no candidate (every row failed or was skipped)", source));
    std::sort(ranks.begin(), ranks.end());
    ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
    std::string listed;
    for (size_t i = 0; i < ranks.size() && i < 12; ++i) listed += (i ? ", " : "") + std::to_string(ranks[i]);
    if (ranks.size() > 12) listed += fmt::format(", ... {}", ranks.back());
    throw Error(fmt::format("{}: no candidate has rank {} (ranks in the report: {})", source, rank, listed));
  }
  for (const auto& r : report.results)
    if (r.tied && r.network != m.row.network && m.row.tied) ++m.tied_with;
  return m;
}

}  // namespace effscale
