// effscale compare: scaling strategies side by side at the same FLOPs multipliers.

#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "bench.hpp"
#include "compare.hpp"
#include "limits.hpp"
#include "cli.hpp"
#include "cost.hpp"
#include "error.hpp"
#include "failpoint.hpp"
#include "interrupt.hpp"
#include "io.hpp"
#include "machine.hpp"
#include "options.hpp"
#include "report/svg_plot.hpp"
#include "report/table.hpp"
#include "strategy.hpp"
#include "text.hpp"

namespace effscale {

namespace {

DataTable compare_data(const std::vector<CompareRow>& rows, const std::string& machine, int threads) {
  DataTable t;
  t.columns = {"strategy", "model", "target", "nominal", "phi", "d", "w", "r", "depth", "width", "resolution", "macs", "mac_ratio",
               "target_error", "params", "activations", "peak_memory_bytes", "network", "rel_latency", "rel_ci_low",
               "rel_ci_high", "latency_ms", "p10_ms", "p90_ms", "runs", "order", "tied", "status", "machine", "threads"};
  for (const auto& r : rows) {
    const bool has_phi = r.strategy.kind == StrategyKind::kCompound || r.strategy.kind == StrategyKind::kOfficial;
    const bool costed = r.cost.macs > 0;
    const auto& l = r.latency;
    t.rows.push_back({r.strategy.name(), r.point.model, r.target, r.point.nominal, has_phi ? Cell{r.point.phi} : Cell{},
                      r.point.formula.depth, r.point.formula.width, r.point.formula.resolution,
                      r.point.factors.depth, r.point.factors.width, std::int64_t(r.point.factors.resolution),
                      costed ? Cell{r.cost.macs} : Cell{}, costed ? Cell{r.mac_ratio} : Cell{},
                      costed ? Cell{r.mac_ratio / r.target - 1} : Cell{}, costed ? Cell{r.cost.params} : Cell{},
                      costed ? Cell{r.cost.activations} : Cell{}, costed ? Cell{r.peak_memory_bytes} : Cell{},
                      Cell{r.network}, l ? Cell{l->rel.estimate} : Cell{}, l ? Cell{l->rel.low} : Cell{},
                      l ? Cell{l->rel.high} : Cell{}, l ? Cell{l->ms} : Cell{}, l ? Cell{l->p10_ms} : Cell{},
                      l ? Cell{l->p90_ms} : Cell{}, l ? Cell{std::int64_t(l->runs)} : Cell{},
                      r.order > 0 ? Cell{std::int64_t(r.order)} : Cell{}, r.order > 0 ? Cell{Boolean{r.tied}} : Cell{},
                      r.status.text(), l ? Cell{machine} : Cell{}, l ? Cell{std::int64_t(threads)} : Cell{}});
  }
  return t;
}

std::string to_text(const std::vector<CompareRow>& rows, const std::string& heading) {
  std::ostringstream out;
  out << heading << "\n\n";
  const bool with_latency = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.latency.has_value(); });
  TextTable t;
  t.headers = {"target", "strategy", "model", "built at", "depth", "width", "res", "MACs", "x target", "params",
               "activations", "peak memory"};
  if (with_latency) t.headers.insert(t.headers.end(), {"order", "rel latency [95%]", "ms"});
  t.headers.push_back("status");
  t.right_aligned.assign(t.headers.size(), true);
  t.right_aligned[1] = t.right_aligned[2] = false;
  t.right_aligned.back() = false;
  double previous = -1;
  for (const auto& r : rows) {
    if (previous >= 0 && r.target != previous) t.rows.push_back({});
    previous = r.target;
    const bool costed = r.cost.macs > 0;
    std::vector<std::string> row = {
        shortest(r.target), r.strategy.name(), r.point.model, fmt::format("{:.3g}", r.point.nominal),
        fmt::format("{:.3g}", r.point.factors.depth),
        fmt::format("{:.3g}", r.point.factors.width), std::to_string(r.point.factors.resolution),
        costed ? human_si(static_cast<double>(r.cost.macs)) : "", costed ? fmt::format("{:.3f}", r.mac_ratio / r.target) : "",
        costed ? human_si(static_cast<double>(r.cost.params)) : "", costed ? human_si(static_cast<double>(r.cost.activations)) : "",
        costed ? human_bytes(r.peak_memory_bytes) : ""};
    if (with_latency) {
      const auto& l = r.latency;
      row.push_back(r.order > 0 ? std::to_string(r.order) + (r.tied ? "=" : " ") : "");
      row.push_back(l ? fmt::format("{:.3f} [{:.3f}, {:.3f}]", l->rel.estimate, l->rel.low, l->rel.high) : "");
      row.push_back(l ? fmt::format("{:.3f}", l->ms) : "");
    }
    row.push_back(r.status.ok() ? "" : r.status.text());
    t.rows.push_back(row);
  }
  write_text(t, out);
  out << "\ntarget: the FLOPs multiplier s. built at: the multiplier t at which the strategy's formula was applied;\n"
         "t is calibrated so that the rounded model's MACs come closest to s (rounding of channels and repeats\n"
         "overshoots otherwise; --no-calibrate builds at t = s). x target: achieved MACs / (baseline MACs x s).\n"
         "official: the published b0..b8, b_phi at phi = round(log2 s).\n";
  if (with_latency)
    out << "order: by latency within the target, each model timed next to the baseline (rel latency, 95% interval);\n"
           "'=' marks the models the measurement cannot tell apart from the fastest (their intervals overlap).\n";
  return out.str();
}

std::string plot(const std::vector<CompareRow>& rows, const std::string& title, bool latency) {
  auto panel = [&](const char* name, const char* y_label, auto y_of) {
    PlotPanel p;
    p.title = name;
    p.x_label = "MACs (billions)";
    p.y_label = y_label;
    p.log_x = p.log_y = true;
    // Each strategy keeps its colour whatever the --strategies list: the style index is its kind.
    // A compound with other coefficients ("compound:A,B,G") gets the same colour with another
    // dash pattern and marker, the plain "compound" keeping the kind's own style.
    std::vector<std::pair<std::string, int>> order;  // name, style index
    for (const auto& r : rows) {
      const std::string name = r.strategy.name();
      if (std::any_of(order.begin(), order.end(), [&](const auto& o) { return o.first == name; })) continue;
      int index = static_cast<int>(r.strategy.kind);
      const bool variant = name.find(':') != std::string::npos;
      auto taken = [&](int i) { return std::any_of(order.begin(), order.end(), [&](const auto& o) { return o.second == i; }); };
      if (variant) index += kPlotColours;
      while (variant && taken(index)) index += kPlotColours;
      order.emplace_back(name, index);
    }
    for (const auto& [name_of_series, style] : order) {
      PlotSeries s;
      s.name = name_of_series;
      s.colour = style;
      std::vector<std::pair<double, double>> points;
      for (const auto& r : rows) {
        if (r.strategy.name() != name_of_series || r.cost.macs <= 0) continue;
        const auto y = y_of(r);
        if (y) points.emplace_back(static_cast<double>(r.cost.macs) / 1e9, *y);
      }
      std::sort(points.begin(), points.end());
      for (const auto& [x, y] : points) {
        s.x.push_back(x);
        s.y.push_back(y);
      }
      p.series.push_back(s);
    }
    return p;
  };
  std::vector<PlotPanel> panels;
  if (latency) {
    panels.push_back(panel("Latency vs MACs", "latency (ms, median)", [](const CompareRow& r) -> std::optional<double> {
      if (!r.latency) return std::nullopt;
      return r.latency->ms;
    }));
  }
  panels.push_back(panel("Activations vs MACs", "activations (millions)", [](const CompareRow& r) -> std::optional<double> {
    return static_cast<double>(r.cost.activations) / 1e6;
  }));
  return render_svg(title, panels);
}

}  // namespace

int cmd_compare(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale compare",
                        "Scaling strategies side by side: each strategy turns a FLOPs multiplier s into (depth, width,\n"
                        "resolution); the models go through the reference rounding, are costed and (unless --no-latency)\n"
                        "built with oneDNN and timed next to the baseline. Strategies: compound[:A,B,G] (default the paper's\n"
                        "1.2,1.1,1.15), official (published b0..b8), width (w = sqrt s), depth (d = s), resolution (r = sqrt s),\n"
                        "uniform (d = s^1/3, w = r = s^1/6), fast (Dollar et al. 2021 dWr: d = s^0.1, w = s^0.4, r = s^0.05).");
  add_baseline_options(opts);
  add_report_options(opts, "the compound strategy's coefficients (the row's alpha, beta, gamma)");
  opts.add_options("Compare")
      ("strategies", "Comma list of strategies (default: all; official only for the efficientnet-b0 baseline)",
       cxxopts::value<std::string>(), "LIST")
      ("targets", "Comma list of FLOPs multipliers s", cxxopts::value<std::string>()->default_value("1,2,4,8,16,32,64,128"), "LIST")
      ("no-latency", "Cost only; do not build and time the models")
      ("no-calibrate", "Build each model at the formula's own multipliers for s, without matching its rounded MACs to s")
      ("plot", "Draw latency vs MACs and activations vs MACs, one line per strategy, as SVG", cxxopts::value<std::string>(), "FILE");
  const MeasureDefaults defaults{10, 0.0, false, 0.0};
  add_measure_options(opts, defaults);
  add_output_options(opts);
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Compare", "Measurement", "Output"});
    return kExitOk;
  }
  const Format format = read_format(result);
  Outputs outputs(result, {"output", "plot"}, input_files(result));
  const ModelOptions model = read_baseline_options(result);
  ComparePlan plan;
  plan.baseline = model.baseline;
  plan.max_memory = model.max_memory;
  plan.latency = result.count("no-latency") == 0;
  plan.calibrate = result.count("no-calibrate") == 0;
  plan.measure = read_measure_options(result, defaults);
  if (!plan.latency && plan.measure.command) throw Error("--latency-cmd times the networks: drop --no-latency");
  const bool presets = has_published_presets(plan.baseline);
  if (auto list = option_text(result, "strategies")) {
    plan.strategies = parse_strategy_list(*list);
    for (const auto& s : plan.strategies)
      if (s.kind == StrategyKind::kOfficial && !presets)
        throw Error(fmt::format("--strategies official: the published b0..b8 scale the efficientnet-b0 baseline only, "
                                "not {}", plan.baseline.name));
  } else {
    for (const auto& s : all_strategies())
      if (s.kind != StrategyKind::kOfficial || presets) plan.strategies.push_back(s);
  }
  if (model.report) {
    // The searched triple replaces the paper's in the compound strategy (added when not listed).
    const Candidate& c = model.report->row.candidate;
    const Coefficients found{c.alpha.value(), c.beta.value(), c.gamma.value()};
    bool replaced = false;
    for (auto& s : plan.strategies) {
      if (s.kind != StrategyKind::kCompound) continue;
      if (replaced) throw Error("--from-report gives one compound strategy its coefficients: list compound once");
      s.coefficients = found;
      replaced = true;
    }
    if (!replaced) plan.strategies.push_back(Strategy{StrategyKind::kCompound, found});
  }
  for (const auto& t : list_option(result["targets"].as<std::string>(), "--targets")) {
    const double v = require_double(t, "--targets");
    if (!(v > 0 && v <= kMaxTarget)) throw Error(fmt::format("--targets: {} is out of range (0, {}]", t, kMaxTarget));
    plan.targets.push_back(v);
  }
  const auto plot_path = option_text(result, "plot");

  InterruptGuard guard;
  const bool interrupt_after_batch = failpoint("interrupt-after-batch");
  auto progress = [&](const MeasureProgress& p) {
    if (p.batch_done && interrupt_after_batch) InterruptGuard::raise_for_testing();
    if (!io.err_is_terminal) return;
    io.err << fmt::format("\rcompare: batch {}/{}, {}/{} models measured{}        ", p.batch, p.batches, p.complete,
                          p.total, p.eta_seconds >= 0 ? fmt::format(", about {:.0f} s left", p.eta_seconds) : "")
           << std::flush;
  };
  const CompareOutcome outcome = run_compare(plan, &InterruptGuard::flag(), progress);
  if (io.err_is_terminal && plan.latency) io.err << '\n';
  const MachineInfo machine = this_machine();
  const auto& base = outcome.baseline_cost;
  const std::string heading = fmt::format(
      "Scaling strategies for {} ({} MACs at {}x{}){}", plan.baseline.name, human_si(static_cast<double>(base.total.macs)),
      plan.baseline.resolution, plan.baseline.resolution,
      outcome.measurement ? fmt::format("\nmeasured on {}; {}", machine.text(), measure_words(plan.measure, *outcome.measurement))
                          : "; latency not measured (--no-latency)");

  std::ostringstream out;
  switch (format) {
    case Format::kTable:
      out << to_text(outcome.rows, heading);
      if (outcome.measurement)
        for (const auto& w : measure_warnings(*outcome.measurement)) out << "warning: " << w << '\n';
      break;
    case Format::kCsv: write_csv(compare_data(outcome.rows, machine.text(), plan.measure.threads), out); break;
    case Format::kJson: {
      std::vector<std::pair<std::string, Cell>> meta = {{"baseline", plan.baseline.name}, {"baseline_macs", base.total.macs}};
      if (outcome.measurement) {
        meta.insert(meta.end(), {{"machine", machine.text()},
                                 {"threads", std::int64_t(plan.measure.threads)},
                                 {"baseline_latency_ms", outcome.measurement->reference.median_ms},
                                 {"drift", outcome.measurement->drift},
                                 {"timing", measure_words(plan.measure, *outcome.measurement)}});
      }
      write_json_tables(out, meta, {{"rows", compare_data(outcome.rows, machine.text(), plan.measure.threads)}});
      break;
    }
  }
  std::vector<std::pair<std::string, std::string>> contents;
  if (plot_path) {
    const std::string title = fmt::format("Scaling strategies for {}{}", plan.baseline.name,
                                          plan.latency ? fmt::format(" on {} ({} threads)", machine.cpu, plan.measure.threads)
                                                       : " (latency not measured)");
    contents.emplace_back("plot", plot(outcome.rows, title, plan.latency));
  }
  if (outputs.has("output")) contents.emplace_back("output", out.str());
  outputs.write(contents, io);
  for (const auto& [name, content] : contents)
    if (!outputs.to_stdout(name)) io.err << "wrote " << outputs.path(name) << '\n';
  if (!outputs.has("output")) {
    io.out << out.str();
    io.out.flush();
  }
  if (outcome.interrupted) {
    io.err << "effscale: interrupted; the rows measured so far are shown\n";
    return kExitInterrupted;
  }
  return kExitOk;
}

}  // namespace effscale
