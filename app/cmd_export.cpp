// effscale export: one scaled model out to train or deploy it: a baseline file, timm/torchvision
// arguments (Python or JSON), or an ONNX model with effscale's synthetic weights.

#include <fmt/format.h>
#include <unistd.h>

#include "cli.hpp"
#include "cost.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "measure_onednn.hpp"
#include "model_export.hpp"
#include "onnx_export.hpp"
#include "options.hpp"
#include "text.hpp"

namespace effscale {

namespace {

enum class ExportFormat { kBaseline, kTimm, kJson, kOnnx };

ExportFormat read_export_format(const std::string& text) {
  if (text == "baseline") return ExportFormat::kBaseline;
  if (text == "timm" || text == "python") return ExportFormat::kTimm;
  if (text == "json") return ExportFormat::kJson;
  if (text == "onnx") return ExportFormat::kOnnx;
  throw Error(fmt::format("--format '{}' is not one of: baseline, timm, json, onnx", text));
}

}  // namespace

int cmd_export(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts(
      "effscale export",
      "One scaled model, out of effscale:\n"
      "  baseline  the scaled network as a baseline file (loads back with --baseline to the same layers)\n"
      "  timm      a runnable Python snippet that builds it in timm and torchvision (width and depth\n"
      "            multipliers, resolution, the baseline's timm block strings) and checks its parameters\n"
      "  json      the same arguments as JSON\n"
      "  onnx      an ONNX model (opset 13; input 'input' float32 NCHW, output 'logits') with effscale's\n"
      "            synthetic weights for --seed, BatchNorm folded: the network bench and run time\n"
      "The model is a name (b0..b8, l2, base), one --phi value, --width/--depth/--resolution, or --from-report.");
  add_single_model_options(opts);
  opts.add_options("Output")
      ("format", "baseline, timm (Python), json or onnx", cxxopts::value<std::string>()->default_value("baseline"), "FMT")
      ("seed", "onnx: seed of the synthetic weights (as bench and run take it)",
       cxxopts::value<std::string>()->default_value("1"), "N")
      ("o,output", "Write to FILE (atomically; '-' is standard output) instead of standard output",
       cxxopts::value<std::string>(), "FILE")
      ("h,help", "Show this help");
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Output"});
    return kExitOk;
  }
  const ExportFormat format = read_export_format(result["format"].as<std::string>());
  const auto seed = static_cast<std::uint64_t>(int_option(result, "seed", 1, 0, 2147483647));
  if (result.count("seed") && format != ExportFormat::kOnnx)
    throw Error("--seed sets the synthetic weights of --format onnx; the other formats carry no weights");
  if (format == ExportFormat::kOnnx && !result.count("output") && ::isatty(STDOUT_FILENO))
    throw Error("an ONNX model is binary: give --output FILE.onnx (or redirect standard output)");
  Outputs outputs(result, {"output"}, input_files(result));
  const ModelOptions options = read_model_options(result);
  const ModelChoice choice = single_model(result, options, "export writes");
  if (options.report && options.report->tied_with > 0)
    io.err << fmt::format("note: rank {} of {} is tied with {} other network(s): the measurement could not tell them apart\n",
                          options.report->rank, options.report->source, options.report->tied_with);

  const ExportModel model{options.baseline, choice.factors, choice.name};
  const Graph graph = expand(scale(options.baseline, choice.factors));
  const NetworkCost cost = network_cost(graph);
  check_network_memory(graph, cost.total.params, NetworkOptions{}, 1, options.max_memory, choice.name);
  std::string text;
  switch (format) {
    case ExportFormat::kBaseline: text = export_baseline_file(model); break;
    case ExportFormat::kTimm: text = export_python(model).snippet; break;
    case ExportFormat::kJson: text = export_python(model).json; break;
    case ExportFormat::kOnnx: {
      OnnxExportOptions o;
      o.seed = seed;
      o.graph_name = fmt::format("{}-{}", options.baseline.name, choice.name);
      o.doc_string = fmt::format("effscale export: {} scaled to {} (width {}, depth {}, resolution {}), synthetic weights "
                                 "seed {}, BatchNorm folded",
                                 options.baseline.name, choice.name, shortest(choice.factors.width),
                                 shortest(choice.factors.depth), choice.factors.resolution, seed);
      OnnxExportSummary summary;
      text = export_onnx(graph, o, &summary);
      io.err << fmt::format("{}: {} nodes, {} parameters in initializers = {} (table's params) - {} BatchNorm channels "
                            "(gamma and beta fold into one bias per channel)\n",
                            choice.name, summary.nodes, summary.initializer_elements, cost.total.params,
                            summary.folded_batch_norm_channels);
      break;
    }
  }
  outputs.emit(text, io);
  return kExitOk;
}

}  // namespace effscale
