// effscale run: one forward pass of effscale's oneDNN network on a raw float32 input, so that an
// exported model can be checked against the engine that timed it.

#include <fmt/format.h>

#include <cstring>

#include "bench.hpp"
#include "cli.hpp"
#include "cost.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "io.hpp"
#include "limits.hpp"
#include "measure_onednn.hpp"
#include "options.hpp"

namespace effscale {

int cmd_run(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts(
      "effscale run",
      "One forward pass of a scaled model's oneDNN network (synthetic weights for --seed, as bench builds it)\n"
      "on a raw input: little-endian float32, NCHW, batch x channels x resolution x resolution. Writes the\n"
      "logits (batch x classes, raw float32) to --output. 'export --format onnx' with the same model and seed\n"
      "gives an ONNX model that computes the same logits.\n"
      "The model is a name (b0..b8, l2, base), one --phi value, --width/--depth/--resolution, or --from-report.");
  add_single_model_options(opts);
  opts.add_options("Run")
      ("input", "Raw float32 NCHW input ('-' reads standard input)", cxxopts::value<std::string>(), "FILE")
      ("o,output", "Where to write the raw float32 logits ('-' is standard output)", cxxopts::value<std::string>(), "FILE")
      ("batch", "Images in the input", cxxopts::value<std::string>()->default_value("1"), "N")
      ("seed", "Seed of the synthetic weights", cxxopts::value<std::string>()->default_value("1"), "N")
      ("threads", "oneDNN threads (default: every core)", cxxopts::value<std::string>(), "N")
      ("layout", "Activation layout: blocked (nChw16c) or nhwc", cxxopts::value<std::string>()->default_value("blocked"), "L")
      ("h,help", "Show this help");
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Run"});
    return kExitOk;
  }
  const auto input_path = option_text(result, "input");
  const auto output_path = option_text(result, "output");
  if (!input_path || !output_path) throw Error("run needs --input FILE (raw float32 NCHW) and --output FILE (the logits)");
  auto inputs = input_files(result);
  if (*input_path != "-") inputs.emplace_back("--input file", *input_path);
  Outputs outputs(result, {"output"}, inputs);
  const ModelOptions options = read_model_options(result);
  const ModelChoice model = single_model(result, options, "run takes");

  BenchOptions bench;
  bench.threads = int_option(result, "threads", available_cores(), 1, kMaxThreads);
  bench.network.batch = int_option(result, "batch", 1, 1, kMaxBatch);
  bench.network.seed = static_cast<std::uint64_t>(int_option(result, "seed", 1, 0, 2147483647));
  bench.network.layout = read_layout(result);
  const Graph graph = expand(scale(options.baseline, model.factors));
  const NetworkCost cost = network_cost(graph);
  check_network_memory(graph, cost.total.params, bench.network, bench.threads, options.max_memory, model.name);

  const TensorInfo& image = graph.tensors.at(0);
  const std::int64_t floats = std::int64_t{bench.network.batch} * image.elements();
  const std::int64_t bytes = floats * static_cast<std::int64_t>(sizeof(float));
  const std::string raw = read_text_file(*input_path, "input", bytes);
  if (static_cast<std::int64_t>(raw.size()) != bytes)
    throw Error(fmt::format("input '{}' has {} bytes; {} x {} x {} x {} float32 values are {} bytes", *input_path, raw.size(),
                            bench.network.batch, image.c, image.h, image.w, bytes));
  std::vector<float> input(static_cast<size_t>(floats));
  std::memcpy(input.data(), raw.data(), raw.size());
  const std::vector<float> logits = forward_pass(graph, bench, input);
  std::string out(logits.size() * sizeof(float), '\0');
  std::memcpy(out.data(), logits.data(), out.size());
  outputs.write({{"output", out}}, io);
  if (!outputs.to_stdout("output"))
    io.err << fmt::format("wrote {}: {} x {} float32 logits of {}\n", *output_path, bench.network.batch,
                          logits.size() / static_cast<size_t>(bench.network.batch), model.name);
  return kExitOk;
}

}  // namespace effscale
