#include "predict_pipeline.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <sys/stat.h>

#include "error.hpp"
#include "failpoint.hpp"
#include "io.hpp"
#include "text.hpp"

namespace effscale {

SearchKey latency_table_key(const NetworkSpec& baseline, const MeasureConfig& config) {
  const MachineInfo machine = this_machine();
  const std::string lowering = lowering_switches(config.network);
  SearchKey k;
  k.fields = {{"cpu", machine.cpu},
              {"cores", std::to_string(machine.cores)},
              {"onednn", machine.onednn},
              {"isa", machine.isa},
              {"threads", std::to_string(config.threads)},
              {"batch", std::to_string(config.network.batch)},
              {"layout", std::string(to_string(config.network.layout))},
              {"lowering", lowering.empty() ? "default" : lowering},
              {"kernels", fmt::format("v{} {}", kernels::kKernelsVersion,
                                      kernels::to_string(own_kernel_path(config.network)))},
              {"reference", network_id(expand(baseline))}};
  // The tests' simulated machine (measure_onednn.hpp) must never share a table with this one.
  if (failpoint("simulated-machine")) k.fields.emplace_back("timer", "simulated");
  return k;
}

std::string default_latency_table_path(const SearchKey& key, const std::function<const char*(const char*)>& env) {
  std::string folder;
  if (const char* xdg = env("XDG_CACHE_HOME"); xdg && *xdg == '/') {
    folder = std::string(xdg) + "/effscale";
  } else if (const char* home = env("HOME"); home && *home == '/') {
    folder = std::string(home) + "/.cache/effscale";
  } else {
    throw Error("neither XDG_CACHE_HOME nor HOME is set to an absolute path: name the latency table with "
                "--latency-table FILE");
  }
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the key's text
  for (unsigned char c : key.text()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{}/latency-{:016x}.tsv", folder, h);
}

MeasureSettings table_measure_settings(std::uint64_t seed) {
  MeasureSettings s;
  s.min_runs = 9;
  s.replicates = 3;
  s.warmup = 1;
  s.budget_seconds = 0;
  s.seed = seed;
  return s;
}

MeasureSettings refit_measure_settings(std::uint64_t seed) {
  MeasureSettings s = table_measure_settings(seed);
  s.min_runs = 6;
  s.replicates = 2;
  return s;
}

std::vector<ScaleFactors> calibration_models(const NetworkSpec& baseline) {
  // (depth, width, resolution) multipliers spanning what is predicted: 0.3x to about 5x the
  // reference's latency, 0.6x to 2x its resolution, shallow and deep, narrow and wide, so that the
  // fit interpolates; kept small, since they are timed again in every run that refits.
  const std::vector<std::array<double, 3>> dwr = {
      {0.6, 0.7, 0.6},  {0.8, 0.8, 0.85}, {1.2, 1.1, 1.15}, {2.0, 1.0, 1.0},  {1.0, 1.5, 1.0},  {1.0, 1.0, 1.25},
      {3.0, 1.0, 0.8},  {1.0, 2.2, 0.75}, {1.0, 1.0, 1.6},  {1.0, 0.75, 2.0}, {1.4, 1.2, 1.3},  {1.5, 1.25, 1.5}};
  std::vector<ScaleFactors> models;
  for (const auto& [d, w, r] : dwr)
    models.push_back({w, d, static_cast<int>(std::lround(baseline.resolution * r))});  // ScaleFactors is (width, depth, res)
  return models;
}

AnchorMap fit_anchor_map(const std::vector<std::pair<double, double>>& logs) {
  AnchorMap map;
  if (logs.empty()) return map;
  const double n = static_cast<double>(logs.size());
  double mx = 0, my = 0;
  for (const auto& [x, y] : logs) {
    mx += x / n;
    my += y / n;
  }
  double sxx = 0, sxy = 0;
  for (const auto& [x, y] : logs) {
    sxx += (x - mx) * (x - mx);
    sxy += (x - mx) * (y - my);
  }
  // A slope only from enough anchors spread over sizes, and only a plausible one; else a factor.
  map.slope = logs.size() >= 4 && sxx > 0.5 ? sxy / sxx : 1.0;
  if (!(map.slope > 0.5 && map.slope < 2.0)) map.slope = 1.0;
  map.offset = my - map.slope * mx;
  return map;
}

Prediction predict_graph(const Graph& graph, const LatencyTable& table) {
  std::vector<std::string> names, keys;
  for (auto& u : split_units(graph)) {
    names.push_back(std::move(u.name));
    keys.push_back(std::move(u.key));
  }
  return predict_latency(names, keys, table);
}

namespace {

// The table at `path`: empty when there is none; `rebuilt` says why an existing one is not used.
LatencyTable read_table(const std::string& path, const SearchKey& key, bool& existed, std::string& rebuilt) {
  LatencyTable fresh;
  fresh.key = key;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return fresh;
  }
  const std::string text = read_text_file(path, "latency table", kMaxLatencyTableBytes);
  if (!is_latency_table_text(text))
    throw Error(fmt::format("'{}' is not an effscale latency table (its first line is not '{}'); it is left as it is: "
                            "remove it, or name another file with --latency-table",
                            path, kLatencyTableMagic));
  try {
    LatencyTable t = parse_latency_table(text, path);
    const std::string difference = key.difference(t.key);
    if (!difference.empty()) {
      rebuilt = fmt::format("it was measured for another setting ({}, here vs the file)", difference);
      return fresh;
    }
    existed = true;
    return t;
  } catch (const Error& e) {
    rebuilt = fmt::format("it is unreadable ({})", e.what());
    return fresh;
  }
}

}  // namespace

TableOutcome ensure_latency_table(const TablePlan& plan, const std::atomic<bool>* stop,
                                  const std::function<void(const MeasureProgress&)>& progress) {
  if (plan.measure.command)
    throw Error("a latency table holds oneDNN's unit latencies; --latency-cmd times whole networks with your runtime: "
                "use --latency measured with it");
  TableOutcome out;
  out.path = plan.path;
  const SearchKey key = latency_table_key(plan.baseline, plan.measure);
  out.table = read_table(plan.path, key, out.existed, out.rebuilt);
  LatencyTable& table = out.table;

  // What to measure: every unit the table lacks, and the calibration networks (with their units)
  // when it has no fit.
  const Graph reference = expand(plan.baseline);
  std::vector<Graph> graphs;       // id - 1
  std::vector<std::string> keys;   // unit key of id - 1 ("" for a calibration network)
  std::vector<std::string> names;
  std::map<std::string, int> queued;
  auto need_units = [&](const Graph& g) {
    for (auto& u : split_units(g)) {
      if (table.units.count(u.key) || queued.count(u.key)) continue;
      queued[u.key] = static_cast<int>(graphs.size()) + 1;
      keys.push_back(u.key);
      names.push_back(u.name);
      graphs.push_back(std::move(u.graph));
    }
  };
  for (const auto& g : plan.networks) need_units(g);
  std::vector<Graph> calibration;
  const bool calibrate = table.overhead.networks == 0 || plan.recalibrate;
  if (calibrate) {
    need_units(reference);
    for (const auto& f : calibration_models(plan.baseline)) {
      Graph g = expand(scale(plan.baseline, f));
      need_units(g);
      calibration.push_back(std::move(g));
    }
  }
  const int units = static_cast<int>(graphs.size());
  // Anchors: when new units join a table measured earlier, units it already has (the reference's
  // and the calibration networks', whose shapes are known) are timed again beside them; the new
  // units are then carried into the table's own state through the anchors' old and new latencies.
  std::vector<std::pair<std::string, Graph>> anchors;
  if (units > 0 && !table.units.empty()) {
    std::map<std::string, Graph> known;
    auto add_known = [&](const Graph& g) {
      for (auto& u : split_units(g))
        if (table.units.count(u.key)) known.emplace(u.key, std::move(u.graph));
    };
    add_known(reference);
    for (const auto& f : calibration_models(plan.baseline)) add_known(expand(scale(plan.baseline, f)));
    std::vector<std::pair<double, std::string>> by_size;
    for (const auto& [k, g] : known) by_size.emplace_back(table.units.at(k).rel.estimate, k);
    std::sort(by_size.begin(), by_size.end());
    const size_t n = std::min(by_size.size(), kAnchorUnits);
    for (size_t i = 0; i < n; ++i) {
      const std::string& k = by_size[n == 1 ? 0 : i * (by_size.size() - 1) / (n - 1)].second;
      if (std::none_of(anchors.begin(), anchors.end(), [&](const auto& a) { return a.first == k; }))
        anchors.emplace_back(k, known.at(k));
    }
  }
  const int first_anchor = static_cast<int>(graphs.size()) + 1;
  for (const auto& [k, g] : anchors) {
    graphs.push_back(g);
    keys.push_back(k);
    names.push_back(table.units.at(k).name);
  }
  std::vector<int> calibration_id, extra_id;
  std::map<std::string, int> whole;  // network id -> graph id, so that a network is measured once
  auto add_whole = [&](const Graph& g) {
    const std::string id = network_id(g);
    if (id == network_id(reference)) return kReference;
    if (auto it = whole.find(id); it != whole.end()) return it->second;
    graphs.push_back(g);
    keys.emplace_back();
    names.emplace_back();
    return whole[id] = static_cast<int>(graphs.size());
  };
  for (const auto& g : calibration) calibration_id.push_back(add_whole(g));
  for (const auto& g : plan.measure_too) extra_id.push_back(add_whole(g));
  out.reference_ms = table.reference_ms;
  if (graphs.empty()) {
    out.measured.assign(plan.measure_too.size(), std::nullopt);
    return out;
  }

  MeasureConfig config = plan.measure;
  if (plan.refit_settings && units == 0 && anchors.empty() && plan.measure_too.empty())
    config.settings = *plan.refit_settings;
  config.settings.budget_seconds = 0;  // no racing: every unit gets its runs
  config.network.blocked_input = true;     // a unit's input arrives in the activation layout
  config.network.forbid_reference = true;  // a slow reference kernel would be a wrong entry
  MeasureOutcome m = measure_graphs([&](int id) { return id == kReference ? reference : graphs.at(id - 1); },
                                    static_cast<int>(graphs.size()), config, {}, stop, progress);
  out.interrupted = m.interrupted;
  out.seconds = m.seconds;
  std::vector<std::pair<double, double>> anchor_logs;  // (log rel in the table, log rel now)
  for (size_t i = 0; i < anchors.size(); ++i) {
    const NetworkMeasurement& n = m.networks.at(static_cast<size_t>(first_anchor) + i);
    if (n.ok() && n.complete)
      anchor_logs.emplace_back(std::log(table.units.at(anchors[i].first).rel.estimate), std::log(n.rel.estimate));
  }
  out.anchor_map = fit_anchor_map(anchor_logs);
  out.anchors = static_cast<int>(anchor_logs.size());
  for (int id = 1; id <= units; ++id) {
    const NetworkMeasurement& n = m.networks.at(static_cast<size_t>(id));
    if (!n.failure.empty()) {
      out.failures.push_back(fmt::format("{}: {}", names[id - 1], n.failure));
    } else if (n.complete) {
      const Interval rel{out.anchor_map.to_table(n.rel.estimate), out.anchor_map.to_table(n.rel.low),
                         out.anchor_map.to_table(n.rel.high)};
      table.units[keys[id - 1]] = {rel, n.runs, names[id - 1]};
      ++out.units_measured;
    }
  }
  if (calibrate && !m.interrupted) {
    std::vector<CalibrationPoint> points;
    auto point = [&](const Graph& g, double measured) {
      const Prediction p = predict_graph(g, table);
      if (p.ok()) points.push_back({measured, p.unit_sum, static_cast<int>(p.units.size())});
    };
    point(reference, 1.0);
    for (size_t i = 0; i < calibration.size(); ++i) {
      const NetworkMeasurement& n = m.networks.at(static_cast<size_t>(calibration_id[i]));
      if (n.ok() && n.complete) point(calibration[i], n.rel.estimate);
    }
    if (!points.empty()) {
      table.overhead = fit_overhead(points);
      out.calibration_networks = static_cast<int>(points.size());
    }
  }
  for (size_t i = 0; i < extra_id.size(); ++i) {
    const NetworkMeasurement& n = m.networks.at(static_cast<size_t>(extra_id[i]));
    if (extra_id[i] == kReference || (n.ok() && n.complete)) {
      out.measured.push_back(latency_of(m, extra_id[i]));
    } else {
      out.measured.push_back(std::nullopt);
      out.measured_failures.push_back(n.failure.empty() ? "not measured" : n.failure);
    }
  }
  if (table.reference_ms <= 0) table.reference_ms = m.reference.median_ms;
  out.reference_ms = m.reference.median_ms > 0 ? m.reference.median_ms : table.reference_ms;
  table.build_seconds += m.seconds;
  if (out.units_measured > 0 || out.calibration_networks > 0) {
    if (plan.create_folder) {
      const auto slash = plan.path.rfind('/');
      if (slash != std::string::npos && slash > 0) ensure_directory(plan.path.substr(0, slash));
    }
    write_file_atomic(plan.path, format_latency_table(table));
  }
  out.measurement = std::move(m);
  return out;
}

Agreement prediction_agreement(const std::vector<double>& predicted, const std::vector<double>& measured) {
  Agreement a;
  a.networks = static_cast<int>(std::min(predicted.size(), measured.size()));
  if (a.networks == 0) return a;
  int within = 0;
  for (int i = 0; i < a.networks; ++i) {
    const double e = std::fabs(predicted[i] / measured[i] - 1);
    within += e <= 0.10;
    a.max_error = std::max(a.max_error, e);
  }
  a.within_10 = static_cast<double>(within) / a.networks;
  a.spearman = spearman(predicted, measured);
  return a;
}

std::string unit_of_primitive(const std::string& name) {
  if (name.rfind("reorder", 0) == 0) return "";
  if (name.rfind("stage", 0) == 0) {
    const auto dot = name.rfind('.');
    return dot == std::string::npos ? name : name.substr(0, dot);
  }
  return name == "stem" ? "stem" : "head";
}

TablePlan make_table_plan(const NetworkSpec& baseline, const MeasureConfig& measure, std::int64_t max_memory,
                          const std::string& path, bool create_folder, bool recalibrate) {
  TablePlan p;
  p.baseline = baseline;
  p.measure = measure;
  p.measure.settings.memory_limit = max_memory;
  p.path = path;
  p.create_folder = create_folder;
  p.recalibrate = recalibrate;
  return p;
}

PredictOutcome run_predict(const PredictPlan& plan, const std::atomic<bool>* stop,
                           const std::function<void(const MeasureProgress&)>& progress) {
  PredictOutcome out;
  TablePlan table_plan = make_table_plan(plan.baseline, plan.measure, plan.max_memory, plan.table_path,
                                         plan.create_folder, plan.recalibrate);
  for (const auto& m : plan.models) {
    PredictRow row;
    row.model = m;
    const Graph g = expand(scale(plan.baseline, m.factors));
    row.cost = network_cost(g);
    row.network = network_id(g);
    check_network_memory(g, row.cost.total.params, plan.measure.network, plan.measure.threads, plan.max_memory, m.name);
    table_plan.networks.push_back(g);
    out.rows.push_back(std::move(row));
  }
  if (plan.measure_models) table_plan.measure_too = table_plan.networks;
  out.table = ensure_latency_table(table_plan, stop, progress);
  if (out.table.interrupted) {
    out.interrupted = true;
    return out;
  }
  if (!out.table.failures.empty())
    throw runtime_failure(fmt::format("{} unit(s) could not be measured: {}", out.table.failures.size(),
                                      join(out.table.failures, "; ")));
  for (size_t i = 0; i < out.rows.size(); ++i) out.rows[i].prediction = predict_graph(table_plan.networks[i], out.table.table);
  if (!plan.measure_models) return out;
  for (size_t i = 0; i < out.rows.size(); ++i) {
    PredictRow& row = out.rows[i];
    if (!out.table.measured.at(i))
      throw runtime_failure(fmt::format("model {} could not be measured: {}", row.model.name,
                                        join(out.table.measured_failures, "; ")));
    row.measured = out.table.measured[i];
  }
  std::vector<double> predicted, measured;
  for (const auto& row : out.rows) {
    predicted.push_back(row.prediction.rel.estimate);
    measured.push_back(row.measured->rel.estimate);
  }
  out.agreement = prediction_agreement(predicted, measured);
  if (plan.units) {
    BenchOptions options;
    options.threads = plan.measure.threads;
    options.network = plan.measure.network;
    options.timing.warmup_runs = plan.measure.settings.warmup;
    options.timing.min_runs = std::max(1, plan.measure.settings.min_runs);
    options.timing.min_seconds = 0;
    options.profile = true;
    for (size_t i = 0; i < out.rows.size(); ++i) {
      PredictRow& row = out.rows[i];
      const BenchResult p = bench_graph(table_plan.networks[i], options, stop);
      if (stop && stop->load()) {
        out.interrupted = true;
        return out;
      }
      std::map<std::string, double> unit_ms;
      double total = 0;
      for (size_t k = 0; k < p.primitives.size() && k < p.primitive_ms.size(); ++k) {
        const std::string unit = unit_of_primitive(p.primitives[k].name);
        if (unit.empty()) continue;
        unit_ms[unit] += p.primitive_ms[k];
        total += p.primitive_ms[k];
      }
      for (const auto& u : row.prediction.units)
        row.unit_measured_rel.push_back(total > 0 ? row.measured->rel.estimate * unit_ms[u.name] / total : 0.0);
    }
  }
  return out;
}

}  // namespace effscale
