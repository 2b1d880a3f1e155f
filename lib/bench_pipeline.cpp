#include "bench_pipeline.hpp"

#include <fmt/format.h>

#include <map>

#include "error.hpp"
#include "text.hpp"

namespace effscale {

BenchOutcome run_bench(const BenchPlan& plan, const std::atomic<bool>* stop,
                       const std::function<void(const MeasureProgress&)>& progress) {
  if (plan.profile && plan.measure.command)
    throw Error("--layers times oneDNN's primitives; with --latency-cmd the command's runtime runs the network whole");
  BenchOutcome out;
  const std::string baseline_network = network_id(expand(plan.baseline));
  std::map<std::string, int> id_of;
  std::vector<ScaleFactors> factors;
  for (const auto& m : plan.models) {
    BenchRow row;
    row.model = m;
    const Graph g = expand(scale(plan.baseline, m.factors));
    row.cost = network_cost(g);
    row.network = network_id(g);
    check_network_memory(g, row.cost.total.params, plan.measure.network, plan.measure.threads, plan.max_memory, m.name);
    if (!id_of.count(row.network)) {
      if (row.network == baseline_network) {
        id_of[row.network] = kReference;
      } else {
        id_of[row.network] = static_cast<int>(factors.size()) + 1;
        factors.push_back(m.factors);
      }
    }
    out.rows.push_back(std::move(row));
  }
  MeasureConfig config = plan.measure;
  config.settings.memory_limit = plan.max_memory;
  std::vector<OnednnTimer::BuildInfo> builds;
  out.measurement = measure_networks(plan.baseline, factors, config, {}, stop, progress, &builds);
  out.interrupted = out.measurement.interrupted;
  if (out.interrupted) return out;
  for (auto& row : out.rows) {
    const int id = id_of.at(row.network);
    const NetworkMeasurement& n = out.measurement.networks.at(static_cast<size_t>(id));
    if (!n.failure.empty()) throw runtime_failure(fmt::format("model {}: {}", row.model.name, n.failure));
    row.latency = latency_of(out.measurement, id);
    row.build = builds.at(static_cast<size_t>(id));
  }
  if (plan.profile) {
    BenchOptions options;
    options.threads = config.threads;
    options.network = config.network;
    options.timing.warmup_runs = config.settings.warmup;
    options.timing.min_runs = std::max(1, config.settings.min_runs);
    options.timing.min_seconds = 0;
    options.profile = true;
    for (auto& row : out.rows) {
      row.profile = bench_graph(expand(scale(plan.baseline, row.model.factors)), options, stop);
      if (stop && stop->load()) {
        out.interrupted = true;
        break;
      }
    }
  }
  return out;
}

}  // namespace effscale
