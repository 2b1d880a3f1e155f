#include "compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "error.hpp"
#include "text.hpp"

namespace effscale {

namespace {

// Orders the measured rows of each target and marks the ones tied with the fastest.
void order_targets(std::vector<CompareRow>& rows) {
  std::map<double, std::vector<size_t>> by_target;
  for (size_t i = 0; i < rows.size(); ++i) by_target[rows[i].target].push_back(i);
  for (auto& [target, members] : by_target) {
    std::vector<size_t> measured;
    for (size_t i : members)
      if (rows[i].latency && rows[i].status.ok()) measured.push_back(i);
    std::stable_sort(measured.begin(), measured.end(),
                     [&](size_t a, size_t b) { return rows[a].latency->rel.estimate < rows[b].latency->rel.estimate; });
    std::vector<std::optional<Interval>> values;
    std::vector<std::string> networks;
    for (size_t i : measured) {
      values.push_back(rows[i].latency->rel);
      networks.push_back(rows[i].network);
    }
    const auto marks = mark_ranks(values, networks);
    for (size_t k = 0; k < measured.size(); ++k) {
      rows[measured[k]].order = marks[k].rank;
      rows[measured[k]].tied = marks[k].tied;
    }
  }
}

}  // namespace

CompareOutcome run_compare(const ComparePlan& plan, const std::atomic<bool>* stop,
                           const std::function<void(const MeasureProgress&)>& progress) {
  CompareOutcome out;
  const Graph baseline_graph = expand(plan.baseline);
  out.baseline_cost = network_cost(baseline_graph);
  const std::string baseline_network = network_id(baseline_graph);
  Graph scratch;
  for (double target : plan.targets) {
    for (const auto& strategy : plan.strategies) {
      auto point = plan.calibrate
                       ? calibrated_point(strategy, target, plan.baseline, out.baseline_cost.total.macs, scratch)
                       : strategy_point(strategy, target, plan.baseline.resolution);
      if (!point) continue;
      CompareRow row;
      row.strategy = strategy;
      row.target = target;
      row.point = *point;
      try {
        check_factors(point->factors);
        const NetworkCost c = evaluate(plan.baseline, point->factors, scratch);
        row.cost = c.total;
        row.peak_memory_bytes = c.peak_activation_bytes;
        row.mac_ratio = static_cast<double>(c.total.macs) / static_cast<double>(out.baseline_cost.total.macs);
        row.network = network_id(scratch);
        const std::int64_t bytes = network_memory_bytes(scratch, c.total.params, plan.measure.network, plan.measure.threads);
        if (plan.latency && bytes > plan.max_memory)
          row.status = RowStatus::skipped(fmt::format("model {} needs an estimated {} at batch {}, over the limit of {} "
                                                      "(--max-memory)",
                                                      point->model, human_bytes(bytes), plan.measure.network.batch,
                                                      human_bytes(plan.max_memory)));
      } catch (const Error& e) {
        row.status = RowStatus::skipped(e.what());
      }
      out.rows.push_back(std::move(row));
    }
  }
  if (!plan.latency) return out;

  // Each distinct network once; the baseline is the reference.
  std::map<std::string, int> id_of;
  std::vector<ScaleFactors> factors;
  for (const auto& r : out.rows) {
    if (!r.status.ok() || id_of.count(r.network)) continue;
    if (r.network == baseline_network) {
      id_of[r.network] = kReference;
      continue;
    }
    id_of[r.network] = static_cast<int>(factors.size()) + 1;
    factors.push_back(r.point.factors);
  }
  MeasureConfig config = plan.measure;
  config.settings.memory_limit = plan.max_memory;
  MeasureOutcome m = measure_networks(plan.baseline, factors, config, {}, stop, progress);
  out.interrupted = m.interrupted;
  std::vector<CompareRow> kept;
  for (auto& r : out.rows) {
    if (r.status.ok()) {
      const int id = id_of.at(r.network);
      const NetworkMeasurement& n = m.networks.at(static_cast<size_t>(id));
      if (!n.failure.empty()) r.status = RowStatus::failed(n.failure);
      else if (n.ok()) r.latency = latency_of(m, id);
      else if (m.interrupted) continue;
      else r.status = RowStatus::failed("not measured");
    }
    kept.push_back(std::move(r));
  }
  out.rows = std::move(kept);
  order_targets(out.rows);
  out.measurement = std::move(m);
  return out;
}

}  // namespace effscale
