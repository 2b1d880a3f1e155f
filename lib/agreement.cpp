#include "agreement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "csv.hpp"
#include "error.hpp"
#include "text.hpp"

namespace effscale {

namespace {

// Network -> relative latency, for the measured rows; rank-1 network; networks tied with the winner.
struct Measured {
  std::map<std::string, Interval> rel;
  std::string winner;
  std::set<std::string> tie_group;
};

Measured measured(const Report& r) {
  Measured m;
  for (const auto& c : r.results)
    if (c.ok() && c.latency && !c.network.empty()) m.rel.emplace(c.network, c.latency->rel);
  // Ranks are recomputed, not trusted: by the report's objective when it is a latency one (else
  // relative latency), ties by overlap with the winner.
  Objective objective = Objective::kRelLatency;
  if (r.header.objective == "norm-latency" || r.header.objective == "latency") objective = parse_objective(r.header.objective);
  std::vector<CandidateResult> ranked = r.results;
  rank_results(ranked, objective, {});
  if (!ranked.empty() && ranked.front().rank == 1) m.winner = ranked.front().network;
  for (const auto& c : ranked)
    if (c.tied) m.tie_group.insert(c.network);
  return m;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

}  // namespace

SearchAgreement search_agreement(const Report& a, const Report& b) {
  const Measured ma = measured(a), mb = measured(b);
  SearchAgreement out;
  std::vector<double> xa, xb, delta;
  for (const auto& [network, rel] : ma.rel) {
    auto it = mb.rel.find(network);
    if (it == mb.rel.end()) continue;
    xa.push_back(rel.estimate);
    xb.push_back(it->second.estimate);
    delta.push_back(std::fabs(it->second.estimate - rel.estimate) / rel.estimate);
  }
  if (xa.empty()) throw Error("the two reports have no measured network in common (different searches?)");
  out.networks = xa.size();
  out.spearman = spearman(xa, xb);
  out.median_delta = quantile(delta, 0.5);
  out.p90_delta = quantile(delta, 0.9);
  out.max_delta = *std::max_element(delta.begin(), delta.end());
  out.winner_a = ma.winner;
  out.winner_b = mb.winner;
  out.a_winner_in_b = ma.winner == mb.winner || mb.tie_group.count(ma.winner) > 0;
  out.b_winner_in_a = mb.winner == ma.winner || ma.tie_group.count(mb.winner) > 0;
  return out;
}

std::vector<CompareMeasurement> parse_compare_measurements(std::string_view csv, std::string_view source) {
  const auto rows = parse_csv(csv, source);
  if (rows.empty()) throw Error(fmt::format("{}: empty compare report", source));
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < rows[0].size(); ++i) column[rows[0][i]] = i;
  for (const char* name : {"strategy", "target", "network", "rel_latency", "rel_ci_low", "rel_ci_high"}) {
    if (!column.count(name))
      throw Error(fmt::format("{}: no '{}' column (expected the CSV of 'effscale compare --format csv')", source, name));
  }
  std::vector<CompareMeasurement> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const std::string where = fmt::format("{}:{}", source, r + 1);
    if (row.size() != rows[0].size()) throw Error(fmt::format("{}: {} fields, the header has {}", where, row.size(), rows[0].size()));
    auto get = [&](const char* name) -> const std::string& { return row[column.at(name)]; };
    if (get("rel_latency").empty()) continue;
    CompareMeasurement m;
    m.strategy = get("strategy");
    m.target = require_double(get("target"), where + ": target");
    m.network = get("network");
    m.rel = {require_double(get("rel_latency"), where + ": rel_latency"), require_double(get("rel_ci_low"), where + ": rel_ci_low"),
             require_double(get("rel_ci_high"), where + ": rel_ci_high")};
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<TargetAgreement> compare_agreement(const std::vector<CompareMeasurement>& a,
                                               const std::vector<CompareMeasurement>& b) {
  std::map<double, std::map<std::string, const CompareMeasurement*>> ta, tb;
  for (const auto& m : a) ta[m.target][m.strategy] = &m;
  for (const auto& m : b) tb[m.target][m.strategy] = &m;
  std::vector<TargetAgreement> out;
  for (const auto& [target, sa] : ta) {
    auto it = tb.find(target);
    if (it == tb.end()) continue;
    const auto& sb = it->second;
    TargetAgreement t;
    t.target = target;
    for (auto x = sa.begin(); x != sa.end(); ++x) {
      for (auto y = std::next(x); y != sa.end(); ++y) {
        if (!sb.count(x->first) || !sb.count(y->first)) continue;
        const auto &ax = *x->second, &ay = *y->second, &bx = *sb.at(x->first), &by = *sb.at(y->first);
        if (ax.network == ay.network) continue;  // the same model: no order to agree on
        const bool order_a = ax.rel.estimate < ay.rel.estimate, order_b = bx.rel.estimate < by.rel.estimate;
        const bool declared_tie = ax.rel.overlaps(ay.rel) || bx.rel.overlaps(by.rel);
        if (order_a != order_b && !declared_tie) t.disagreements.push_back(x->first + " vs " + y->first);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace effscale
