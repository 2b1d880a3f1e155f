// effscale describe: every layer of one scaled model with shapes, params and MACs; per-stage
// totals; the share of MACs in depthwise, pointwise and other layers.
// effscale baselines: the built-in baselines, in the baseline-file format.

#include <fmt/format.h>

#include <cmath>

#include <sstream>

#include "cli.hpp"
#include "cost.hpp"
#include "error.hpp"
#include "measure_onednn.hpp"
#include "options.hpp"
#include "report/table.hpp"
#include "text.hpp"

namespace effscale {

namespace {

struct Description {
  ModelChoice model;
  NetworkSpec spec;  ///< scaled
  Graph graph;
  NetworkCost cost;
  std::vector<LayerCost> groups;  ///< stage_costs()
};

std::string shape(int c, int h, int w) { return fmt::format("{}x{}x{}", c, h, w); }

double share(std::int64_t part, std::int64_t total) { return total ? static_cast<double>(part) / total : 0.0; }

std::string group_name(size_t i, size_t groups) {
  if (i == 0) return "stem";
  if (i + 1 == groups) return "head";
  return fmt::format("stage{}", i);
}

DataTable layer_data(const Description& d) {
  DataTable t;
  t.columns = {"index", "layer", "op", "stage", "block", "in_c", "in_h", "in_w", "out_c", "out_h",
               "out_w", "kernel", "stride", "groups", "activation", "params", "macs", "flops",
               "activations", "mac_share"};
  for (size_t i = 0; i < d.graph.layers.size(); ++i) {
    const Layer& l = d.graph.layers[i];
    const LayerCost c = layer_cost(l);
    t.rows.push_back({std::int64_t(i), layer_name(l), std::string(to_string(l.kind)),
                      l.stage < 0 ? Cell{} : Cell{std::int64_t(l.stage + 1)},
                      l.block < 0 ? Cell{} : Cell{std::int64_t(l.block + 1)}, std::int64_t(l.in_c),
                      std::int64_t(l.in_h), std::int64_t(l.in_w), std::int64_t(l.out_c), std::int64_t(l.out_h),
                      std::int64_t(l.out_w), std::int64_t(l.kernel), std::int64_t(l.stride),
                      std::int64_t(l.groups), std::string(to_string(l.activation)), c.params, c.macs,
                      c.flops, c.activations, share(c.macs, d.cost.total.macs)});
  }
  return t;
}

DataTable stage_data(const Description& d) {
  DataTable t;
  t.columns = {"group", "blocks", "kernel", "stride", "expand", "in_c", "out_c", "se_ratio", "params",
               "macs", "mac_share"};
  const size_t n = d.groups.size();
  for (size_t i = 0; i < n; ++i) {
    const LayerCost& c = d.groups[i];
    std::vector<Cell> row = {group_name(i, n)};
    if (i > 0 && i + 1 < n) {
      const BlockArgs& s = d.spec.stages[i - 1];
      row.insert(row.end(), {std::int64_t(s.repeats), std::int64_t(s.kernel), std::int64_t(s.stride),
                             s.expand_ratio == std::floor(s.expand_ratio) ? Cell{std::int64_t(s.expand_ratio)} : Cell{s.expand_ratio},
                             std::int64_t(s.in_channels),
                             std::int64_t(s.out_channels), s.se_ratio ? Cell{*s.se_ratio} : Cell{}});
    } else {
      row.insert(row.end(), 7, Cell{});
    }
    row.insert(row.end(), {c.params, c.macs, share(c.macs, d.cost.total.macs)});
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string pct(double fraction) { return fmt::format("{:.1f}%", fraction * 100); }

std::string to_text(const Description& d) {
  std::ostringstream out;
  const auto& f = d.model.factors;
  out << fmt::format("{}: {} scaled by width {}, depth {}, resolution {} ({} layers)\n\n", d.model.name,
                     d.spec.name, shortest(f.width), shortest(f.depth), f.resolution, d.graph.layers.size());
  TextTable layers;
  layers.headers = {"#", "layer", "op", "input", "output", "k", "s", "groups", "act", "params", "MACs", "share"};
  layers.right_aligned = {true, false, false, true, true, true, true, true, false, true, true, true};
  for (size_t i = 0; i < d.graph.layers.size(); ++i) {
    const Layer& l = d.graph.layers[i];
    const LayerCost c = layer_cost(l);
    const bool has_kernel = l.kind == LayerKind::kConv || l.kind == LayerKind::kDepthwiseConv;
    std::string act(to_string(l.activation));
    if (l.residual >= 0) act += "+add";
    layers.rows.push_back({std::to_string(i), layer_name(l), std::string(to_string(l.kind)),
                           shape(l.in_c, l.in_h, l.in_w), shape(l.out_c, l.out_h, l.out_w),
                           has_kernel ? std::to_string(l.kernel) : "", has_kernel ? std::to_string(l.stride) : "",
                           has_kernel ? std::to_string(l.groups) : "", act == "none" ? "" : act,
                           human_si(c.params), human_si(c.macs),
                           pct(share(c.macs, d.cost.total.macs))});
  }
  write_text(layers, out);

  out << "\nPer stage\n";
  TextTable stages;
  stages.headers = {"group", "blocks", "k", "s", "e", "in", "out", "se", "params", "MACs", "share"};
  stages.right_aligned = {false, true, true, true, true, true, true, true, true, true, true};
  for (const auto& row : stage_data(d).rows) {
    std::vector<std::string> cells;
    for (size_t i = 0; i < 8; ++i) cells.push_back(cell_text(row[i]));
    cells.push_back(human_si(static_cast<double>(std::get<std::int64_t>(row[8]))));
    cells.push_back(human_si(static_cast<double>(std::get<std::int64_t>(row[9]))));
    cells.push_back(pct(std::get<double>(row[10])));
    stages.rows.push_back(cells);
  }
  write_text(stages, out);

  const auto& t = d.cost.total;
  const std::int64_t other = t.macs - d.cost.depthwise_macs - d.cost.pointwise_macs;
  out << fmt::format("\nMACs by layer type: depthwise {} ({}), pointwise 1x1 {} ({}), other {} ({})\n",
                     human(d.cost.depthwise_macs, 1e6) + "M", pct(share(d.cost.depthwise_macs, t.macs)),
                     human(d.cost.pointwise_macs, 1e6) + "M", pct(share(d.cost.pointwise_macs, t.macs)),
                     human(other, 1e6) + "M", pct(share(other, t.macs)));
  out << "  (pointwise: expand, project and head 1x1 convs; other: stem, SE convs, classifier)\n";
  out << fmt::format("Total: params {} ({}), MACs {} ({}), FLOPs {}, activations {}, peak activation "
                     "memory {} (batch 1, float32)\n",
                     human(t.params, 1e6) + "M", t.params, human(t.macs, 1e9) + "B", t.macs,
                     human(t.flops, 1e9) + "B", human(t.activations, 1e6) + "M",
                     human_bytes(d.cost.peak_activation_bytes));
  return out.str();
}

}  // namespace

int cmd_describe(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale describe",
                        "Every layer of one scaled model: shapes, kernel, stride, groups, params, MACs.\n"
                        "The model is a name (b0..b8, l2, base), one --phi value, --width/--depth/--resolution, or\n"
                        "--from-report.");
  add_single_model_options(opts);
  add_output_options(opts);
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Output"});
    return kExitOk;
  }
  const Format format = read_format(result);
  Outputs outputs(result, {"output"}, input_files(result));
  const ModelOptions options = read_model_options(result);
  const ModelChoice model = single_model(result, options, "describe shows");

  Description d{model, scale(options.baseline, model.factors), {}, {}, {}};
  expand(d.spec, d.graph);
  d.cost = network_cost(d.graph);
  check_network_memory(d.graph, d.cost.total.params, NetworkOptions{}, 1, options.max_memory, d.model.name);
  d.groups = stage_costs(d.graph, static_cast<int>(d.spec.stages.size()));

  std::ostringstream out;
  switch (format) {
    case Format::kTable: out << to_text(d); break;
    case Format::kCsv: write_csv(layer_data(d), out); break;
    case Format::kJson: {
      const auto& t = d.cost.total;
      write_json_tables(out,
                        {{"model", d.model.name}, {"baseline", d.spec.name}, {"width", d.model.factors.width},
                         {"depth", d.model.factors.depth}, {"resolution", std::int64_t(d.model.factors.resolution)},
                         {"params", t.params}, {"macs", t.macs}, {"flops", t.flops},
                         {"activations", t.activations}, {"peak_memory_bytes", d.cost.peak_activation_bytes},
                         {"depthwise_macs", d.cost.depthwise_macs}, {"pointwise_macs", d.cost.pointwise_macs}},
                        {{"stages", stage_data(d)}, {"layers", layer_data(d)}});
      break;
    }
  }
  outputs.emit(out.str(), io);
  return kExitOk;
}

int cmd_baselines(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale baselines",
                        "Lists the built-in baselines; with a NAME (or a file), prints it in the baseline-file "
                        "format, ready to copy and edit for --baseline FILE.");
  opts.positional_help("[NAME|FILE]");
  opts.add_options()("name", "Baseline", cxxopts::value<std::vector<std::string>>())("h,help", "Show this help");
  opts.parse_positional({"name"});
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help();
    return kExitOk;
  }
  if (!result.count("name")) {
    for (const auto& name : builtin_baseline_names()) {
      const NetworkSpec s = builtin_baseline(name);
      io.out << fmt::format("{:<16} {} stages, stem {}, head {}, {}, {}x{}\n", name, s.stages.size(),
                            s.stem.channels, s.head_channels, to_string(s.activation), s.resolution, s.resolution);
    }
    return kExitOk;
  }
  const auto names = result["name"].as<std::vector<std::string>>();
  if (names.size() != 1) throw Error("baselines prints one baseline at a time");
  io.out << format_baseline_text(load_baseline(names[0]));
  return kExitOk;
}

}  // namespace effscale
