// effscale bench: build scaled models as oneDNN primitive graphs and measure their latency.

#include <fmt/format.h>

#include <sstream>

#include "bench.hpp"
#include "cli.hpp"
#include "cost.hpp"
#include "error.hpp"
#include "interrupt.hpp"
#include "machine.hpp"
#include "options.hpp"
#include "report/table.hpp"
#include "text.hpp"

namespace effscale {

namespace {

struct BenchRow {
  ModelChoice model;
  NetworkCost cost;
  BenchResult result;
};

struct BenchSetup {
  int batch = 1;
  BenchOptions options;
  std::optional<double> peak_gflops;  ///< --peak
};

double gmacs_per_s(const BenchRow& r, int batch) {
  return r.result.latency.median_ms > 0
             ? static_cast<double>(r.cost.total.macs) * batch / (r.result.latency.median_ms * 1e6)
             : 0.0;
}

double peak_fraction(const BenchRow& r, const BenchSetup& s) {
  return s.peak_gflops && *s.peak_gflops > 0 ? 2 * gmacs_per_s(r, s.batch) / *s.peak_gflops : 0.0;
}


std::string machine_line(const BenchSetup& s) {
  return fmt::format("oneDNN {}, ISA {}, {} ({} cores); {} threads, batch {}, layout {}", onednn_version(),
                     onednn_isa(), cpu_model(), available_cores(), s.options.threads, s.batch,
                     to_string(s.options.network.layout));
}

DataTable model_data(const std::vector<BenchRow>& rows, const BenchSetup& s) {
  DataTable t;
  t.columns = {"model", "resolution", "batch", "threads", "macs", "median_ms", "p10_ms", "p90_ms", "min_ms",
               "runs", "gmacs_per_s", "peak_fraction", "params", "activation_bytes", "weight_bytes", "build_ms", "layout",
               "onednn", "isa", "cpu"};
  for (const auto& r : rows) {
    const auto& l = r.result.latency;
    t.rows.push_back({r.model.name, std::int64_t(r.model.factors.resolution), std::int64_t(s.batch),
                      std::int64_t(r.result.threads), r.cost.total.macs, l.median_ms, l.p10_ms, l.p90_ms, l.min_ms,
                      std::int64_t(l.runs), gmacs_per_s(r, s.batch),
                      s.peak_gflops ? Cell{peak_fraction(r, s)} : Cell{}, r.cost.total.params, r.result.activation_bytes,
                      r.result.weight_bytes, r.result.build_ms, std::string(to_string(s.options.network.layout)),
                      onednn_version(), onednn_isa(), cpu_model()});
  }
  return t;
}

DataTable profile_data(const std::vector<BenchRow>& rows) {
  DataTable t;
  t.columns = {"model", "group", "primitives", "ms", "share", "network_median_ms"};
  for (const auto& r : rows) {
    for (const auto& g : r.result.groups) {
      t.rows.push_back({r.model.name, std::string(to_string(g.group)), std::int64_t(g.primitives), g.ms,
                        r.result.profile_total_ms > 0 ? g.ms / r.result.profile_total_ms : 0.0,
                        r.result.latency.median_ms});
    }
  }
  return t;
}

std::string to_text(const std::vector<BenchRow>& rows, const BenchSetup& s) {
  std::ostringstream out;
  const auto& timing = s.options.timing;
  out << machine_line(s) << '\n'
      << fmt::format("timing: {} warm-up runs, then at least {} runs and {} s per model\n", timing.warmup_runs,
                     timing.min_runs, shortest(timing.min_seconds));
  if (s.peak_gflops)
    out << fmt::format("float32 peak: {:.0f} GFLOP/s (median of a 2048^3 oneDNN matmul, {} threads); "
                       "% peak = 2 x MACs / latency / peak\n", *s.peak_gflops, s.options.threads);
  out << '\n';
  TextTable t;
  t.headers = {"model", "res", "MACs", "median ms", "p10 ms", "p90 ms", "runs", "GMAC/s", "activations", "weights"};
  if (s.peak_gflops) t.headers.push_back("% peak");
  t.right_aligned.assign(t.headers.size(), true);
  t.right_aligned[0] = false;
  for (const auto& r : rows) {
    const auto& l = r.result.latency;
    t.rows.push_back({r.model.name, std::to_string(r.model.factors.resolution), human(r.cost.total.macs, 1e9) + "B",
                      fmt::format("{:.3f}", l.median_ms), fmt::format("{:.3f}", l.p10_ms),
                      fmt::format("{:.3f}", l.p90_ms), std::to_string(l.runs), fmt::format("{:.1f}", gmacs_per_s(r, s.batch)),
                      human_bytes(r.result.activation_bytes), human_bytes(r.result.weight_bytes)});
    if (s.peak_gflops) t.rows.back().push_back(fmt::format("{:.0f}%", 100 * peak_fraction(r, s)));
  }
  write_text(t, out);
  for (const auto& r : rows) {
    if (r.result.groups.empty()) continue;
    const double total = r.result.profile_total_ms;
    out << fmt::format("\n{}: where the time goes (per-primitive medians sum to {:.3f} ms, {:.0f}% of the {:.3f} ms "
                       "network median)\n",
                       r.model.name, total, 100 * total / r.result.latency.median_ms, r.result.latency.median_ms);
    TextTable g;
    g.headers = {"group", "primitives", "ms", "share"};
    g.right_aligned = {false, true, true, true};
    for (const auto& group : r.result.groups) {
      g.rows.push_back({std::string(to_string(group.group)), std::to_string(group.primitives),
                        fmt::format("{:.3f}", group.ms), fmt::format("{:.1f}%", 100 * group.ms / total)});
    }
    write_text(g, out);
    std::vector<size_t> order(r.result.primitive_ms.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r.result.primitive_ms[a] > r.result.primitive_ms[b]; });
    out << "slowest primitives:\n";
    for (size_t k = 0; k < std::min<size_t>(5, order.size()); ++k) {
      const auto& p = r.result.primitives[order[k]];
      out << fmt::format("  {:<28} {:<14} {:>8.3f} ms  {}\n", p.name, p.primitive, r.result.primitive_ms[order[k]], p.impl);
    }
  }
  return out.str();
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale bench",
                        "Builds each model as a oneDNN primitive graph (synthetic weights) and measures its latency:\n"
                        "median, p10, p90 and min over timed runs after warm-up. Models: names (b0..b8, l2, base), "
                        "--phi values, or --width/--depth/--resolution; default b0.");
  opts.positional_help("[MODEL...]");
  opts.add_options("Model")("model", "Model names", cxxopts::value<std::vector<std::string>>());
  opts.parse_positional({"model"});
  add_model_options(opts);
  add_bench_options(opts, 10, 1.0);
  opts.add_options("Measurement")("layers", "Also time every primitive and show where the time goes")
      ("peak", "Also measure the float32 peak (a 2048^3 oneDNN matmul) and show each model's fraction of it");
  add_output_options(opts);
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Measurement", "Output"});
    return kExitOk;
  }
  const Format format = read_format(result);
  check_output_options(result, {"output"});
  const ModelOptions options = read_model_options(result);
  BenchSetup setup;
  setup.options = read_bench_options(result);
  setup.options.profile = result.count("layers") > 0;
  setup.batch = setup.options.network.batch;

  const std::vector<ModelChoice> models = collect_models(positional_models(result, "model"), options, "b0");

  // Check every model before measuring any.
  std::vector<Graph> graphs;
  std::vector<NetworkCost> costs;
  for (const auto& m : models) {
    graphs.push_back(expand(scale(options.baseline, m.factors)));
    costs.push_back(network_cost(graphs.back()));
    check_bench_memory(graphs.back(), costs.back(), setup.batch, options.max_memory, m.name);
  }

  InterruptGuard guard;
  if (result.count("peak")) {
    TimingOptions peak_timing;
    peak_timing.min_runs = 10;
    peak_timing.min_seconds = 1;
    setup.peak_gflops = measure_peak_gflops(setup.options.threads, 2048, peak_timing);
  }
  std::vector<BenchRow> rows;
  for (size_t i = 0; i < models.size(); ++i) {
    if (io.err_is_terminal) io.err << fmt::format("measuring {} ({}/{})...\r", models[i].name, i + 1, models.size()) << std::flush;
    rows.push_back({models[i], costs[i], bench_graph(graphs[i], setup.options, &InterruptGuard::flag())});
    if (InterruptGuard::interrupted()) {
      io.err << "effscale: interrupted; nothing written\n";
      return kExitInterrupted;
    }
  }
  if (io.err_is_terminal) io.err << std::string(60, ' ') << '\r' << std::flush;

  std::ostringstream out;
  switch (format) {
    case Format::kTable: out << to_text(rows, setup); break;
    case Format::kCsv: write_csv(setup.options.profile ? profile_data(rows) : model_data(rows, setup), out); break;
    case Format::kJson:
      write_json_tables(out,
                        {{"onednn", onednn_version()}, {"isa", onednn_isa()}, {"cpu", cpu_model()},
                         {"peak_gflops", setup.peak_gflops ? Cell{*setup.peak_gflops} : Cell{}},
                         {"cores", std::int64_t(available_cores())}, {"threads", std::int64_t(setup.options.threads)},
                         {"batch", std::int64_t(setup.batch)}},
                        {{"models", model_data(rows, setup)}, {"profile", profile_data(rows)}});
      break;
  }
  emit(out.str(), result, io);
  return kExitOk;
}

}  // namespace effscale
