// effscale table: params, MACs, FLOPs, activations and peak memory of a list of scaled models,
// beside the figures the papers published.

#include <fmt/format.h>

#include <sstream>

#include "cli.hpp"
#include "cost.hpp"
#include "measure_onednn.hpp"
#include "options.hpp"
#include "report/table.hpp"
#include "text.hpp"

namespace effscale {

namespace {

struct TableRow {
  ModelChoice model;
  NetworkCost cost;
  std::optional<PublishedFigures> paper;
};

std::vector<TableRow> compute(const ModelOptions& options, const std::vector<ModelChoice>& models) {
  std::vector<TableRow> rows;
  Graph graph;
  for (const auto& m : models) {
    TableRow row{m, evaluate(options.baseline, m.factors, graph), std::nullopt};
    check_network_memory(graph, row.cost.total.params, NetworkOptions{}, 1, options.max_memory, m.name);
    if (m.kind == ModelKind::kBase || m.kind == ModelKind::kPublished) {
      row.paper = published_figures(options.baseline.name, m.name == "base" ? "b0" : m.name);
    }
    rows.push_back(row);
  }
  return rows;
}

double relative(double ours, double theirs) { return (ours - theirs) / theirs; }

DataTable to_data(const std::vector<TableRow>& rows, const ModelOptions& options) {
  DataTable t;
  t.columns = {"model", "width", "depth", "resolution", "params", "macs", "flops", "activations",
               "peak_memory_bytes", "paper_params", "paper_params_diff", "paper_macs",
               "paper_macs_diff", "kind", "phi", "baseline"};
  for (const auto& r : rows) {
    const auto& c = r.cost;
    std::vector<Cell> row = {r.model.name, r.model.factors.width, r.model.factors.depth,
                             std::int64_t{r.model.factors.resolution}, c.total.params, c.total.macs,
                             c.total.flops, c.total.activations, c.peak_activation_bytes};
    if (r.paper) {
      row.insert(row.end(), {r.paper->params, relative(c.total.params, r.paper->params),
                             r.paper->macs, relative(c.total.macs, r.paper->macs)});
    } else {
      row.insert(row.end(), {Cell{}, Cell{}, Cell{}, Cell{}});
    }
    row.push_back(std::string(to_string(r.model.kind)));
    row.push_back(std::isnan(r.model.phi) ? Cell{} : Cell{r.model.phi});
    row.push_back(options.baseline.name);
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string percent(double fraction) { return fmt::format("{:+.1f}%", fraction * 100); }

std::string to_text(const std::vector<TableRow>& rows, const ModelOptions& options) {
  TextTable t;
  t.headers = {"model", "width", "depth", "res", "params", "MACs", "FLOPs", "activations",
               "peak memory", "paper params", "paper FLOPs"};
  t.right_aligned = {false, true, true, true, true, true, true, true, true, true, true};
  const char* source = nullptr;
  for (const auto& r : rows) {
    const auto& c = r.cost;
    std::string paper_params, paper_macs;
    if (r.paper) {
      paper_params = fmt::format("{}M ({})", shortest(r.paper->params / 1e6), percent(relative(c.total.params, r.paper->params)));
      paper_macs = fmt::format("{}B ({})", shortest(r.paper->macs / 1e9), percent(relative(c.total.macs, r.paper->macs)));
      source = r.paper->source;
    }
    t.rows.push_back({r.model.name, fmt::format("{:.4g}", r.model.factors.width),
                      fmt::format("{:.4g}", r.model.factors.depth), std::to_string(r.model.factors.resolution),
                      human(c.total.params, 1e6) + "M", human(c.total.macs, 1e9) + "B",
                      human(c.total.flops, 1e9) + "B", human(c.total.activations, 1e6) + "M",
                      human_bytes(c.peak_activation_bytes), paper_params, paper_macs});
  }
  std::ostringstream out;
  out << fmt::format("Models scaled from {} (batch 1, float32)\n\n", options.baseline.name);
  write_text(t, out);
  out << "\nMACs: multiply-adds of every convolution (depthwise and SE included) and the classifier.\n"
      << kFlopsDefinition << ".\n"
      << "Peak memory: largest total size of the activation tensors alive at once in a forward pass.\n";
  if (source) {
    out << fmt::format("Paper figures: {}; the paper's FLOPs are multiply-adds and are compared with MACs.\n", source);
  }
  if (!options.phis.empty()) {
    out << fmt::format("phi models: d = {}^phi, w = {}^phi, r = round({} * {}^phi). The published B1-B7 "
                       "are not exactly these models.\n",
                       options.coefficients.alpha, options.coefficients.beta, options.baseline.resolution,
                       options.coefficients.gamma);
  }
  return out.str();
}

}  // namespace

int cmd_table(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale table", "Params, MACs, FLOPs, activations and peak memory of scaled models.\n"
                        "Rows: --models (default b0..b7 unless a custom model is given), then one formula "
                        "model per --phi value, then the custom model of --width/--depth/--resolution, then the\n"
                        "model of --from-report.\n"
                        "MACs are multiply-adds; " + std::string(kFlopsDefinition) + ".");
  opts.add_options("Model")("models", "Comma list of models: b0..b8, l2, base", cxxopts::value<std::string>(), "LIST");
  add_model_options(opts);
  add_report_options(opts, "a model (the row's depth, width and resolution)");
  add_output_options(opts);
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Output"});
    return kExitOk;
  }
  const Format format = read_format(result);
  Outputs outputs(result, {"output"}, input_files(result));
  const ModelOptions options = read_model_options(result);
  // EfficientNet-B0: b0..b7; any other baseline: base and the formula models phi = 1..7 (the
  // published b1..b7 scale B0 only). --models or a custom model say otherwise; --phi models add.
  ModelOptions chosen = options;
  std::vector<std::string> names = {"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"};
  if (auto list = option_text(result, "models")) {
    names = list_option(*list, "--models");
  } else if (options.custom || options.report) {
    names.clear();
  } else if (!has_published_presets(options.baseline)) {
    names = {"base"};
    if (chosen.phis.empty()) chosen.phis = {1, 2, 3, 4, 5, 6, 7};
  }
  const std::vector<ModelChoice> models = collect_models(names, chosen, "");

  const auto rows = compute(options, models);
  std::ostringstream out;
  switch (format) {
    case Format::kTable: out << to_text(rows, options); break;
    case Format::kCsv: write_csv(to_data(rows, options), out); break;
    case Format::kJson:
      write_json(to_data(rows, options), out, "models",
                 {{"baseline", options.baseline.name},
                  {"macs_definition", std::string("multiply-adds of every convolution and the classifier")},
                  {"flops_definition", std::string(kFlopsDefinition)}});
      break;
  }
  outputs.emit(out.str(), io);
  return kExitOk;
}

}  // namespace effscale
