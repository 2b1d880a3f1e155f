// effscale bench: build scaled models as oneDNN primitive graphs and measure their latency.

#include <fmt/format.h>

#include <sstream>

#include "bench.hpp"
#include "bench_pipeline.hpp"
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

const MeasureDefaults kBenchMeasure{10, 1.0, false, 0.0};

struct BenchSetup {
  int batch = 1;
  MeasureConfig measure;
  std::optional<double> peak_gflops;  ///< --peak
  MeasureOutcome measurement;
};

double gmacs_per_s(const BenchRow& r, int batch) {
  return r.latency.ms > 0 ? static_cast<double>(r.cost.total.macs) * batch / (r.latency.ms * 1e6) : 0.0;
}

double peak_fraction(const BenchRow& r, const BenchSetup& s) {
  return s.peak_gflops && *s.peak_gflops > 0 ? 2 * gmacs_per_s(r, s.batch) / *s.peak_gflops : 0.0;
}


std::string machine_line(const BenchSetup& s) {
  if (s.measure.command)
    return fmt::format("{}; timed by --latency-cmd with {{threads}} {}, {{batch}} {}", this_machine().text(),
                       s.measure.threads, s.batch);
  return fmt::format("{}; {} threads, batch {}, layout {}", this_machine().text(), s.measure.threads, s.batch,
                     to_string(s.measure.network.layout));
}

// What building a network gave; nothing when a latency command timed it (effscale built nothing).
Cell build_cell(const BenchSetup& s, double value) { return s.measure.command ? Cell{} : Cell{value}; }
Cell build_cell(const BenchSetup& s, std::int64_t value) { return s.measure.command ? Cell{} : Cell{value}; }
std::string build_bytes(const BenchSetup& s, std::int64_t bytes) { return s.measure.command ? "-" : human_bytes(bytes); }

DataTable model_data(const std::vector<BenchRow>& rows, const BenchSetup& s) {
  DataTable t;
  t.columns = {"model", "resolution", "batch", "threads", "macs", "median_ms", "rel_latency", "rel_ci_low",
               "rel_ci_high", "p10_ms", "p90_ms", "min_ms", "runs", "gmacs_per_s", "peak_fraction", "params",
               "activation_bytes", "weight_bytes", "build_ms", "network", "layout", "onednn", "isa", "cpu"};
  const MachineInfo machine = this_machine();
  for (const auto& r : rows) {
    const auto& l = r.latency;
    t.rows.push_back({r.model.name, std::int64_t(r.model.factors.resolution), std::int64_t(s.batch),
                      std::int64_t(s.measure.threads), r.cost.total.macs, l.ms, l.rel.estimate, l.rel.low, l.rel.high,
                      l.p10_ms, l.p90_ms, l.min_ms, std::int64_t(l.runs), gmacs_per_s(r, s.batch),
                      s.peak_gflops ? Cell{peak_fraction(r, s)} : Cell{}, r.cost.total.params,
                      build_cell(s, r.build.activation_bytes), build_cell(s, r.build.weight_bytes),
                      build_cell(s, r.build.build_ms), r.network,
                      s.measure.command ? std::string("command") : std::string(to_string(s.measure.network.layout)),
                      machine.onednn, machine.isa, machine.cpu});
  }
  return t;
}

DataTable profile_data(const std::vector<BenchRow>& rows) {
  DataTable t;
  t.columns = {"model", "group", "primitives", "ms", "share", "network_median_ms"};
  for (const auto& r : rows) {
    for (const auto& g : r.profile.groups) {
      t.rows.push_back({r.model.name, std::string(to_string(g.group)), std::int64_t(g.primitives), g.ms,
                        r.profile.profile_total_ms > 0 ? g.ms / r.profile.profile_total_ms : 0.0,
                        r.profile.latency.median_ms});
    }
  }
  return t;
}

// Every primitive of each profiled model, in execution order (JSON only: the groups above are the
// CSV's rows).
DataTable primitive_data(const std::vector<BenchRow>& rows) {
  DataTable t;
  t.columns = {"model", "layer", "primitive", "impl", "group", "ms", "macs"};
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.profile.primitives.size() && i < r.profile.primitive_ms.size(); ++i) {
      const auto& p = r.profile.primitives[i];
      t.rows.push_back({r.model.name, p.name, p.primitive, p.impl, std::string(to_string(p.group)),
                        r.profile.primitive_ms[i], p.macs});
    }
  }
  return t;
}

std::string to_text(const std::vector<BenchRow>& rows, const BenchSetup& s) {
  std::ostringstream out;
  out << machine_line(s) << '\n' << "timing: " << measure_words(s.measure, s.measurement) << '\n';
  for (const auto& w : measure_warnings(s.measurement)) out << "warning: " << w << '\n';
  if (s.peak_gflops)
    out << fmt::format("float32 peak: {:.0f} GFLOP/s (median of a 2048^3 oneDNN matmul, {} threads); "
                       "% peak = 2 x MACs / latency / peak\n", *s.peak_gflops, s.measure.threads);
  out << '\n';
  TextTable t;
  t.headers = {"model", "res", "MACs", "latency ms", "rel latency [95%]", "p10-p90 ms", "runs", "GMAC/s", "activation memory", "weight memory"};
  if (s.peak_gflops) t.headers.push_back("% peak");
  t.right_aligned.assign(t.headers.size(), true);
  t.right_aligned[0] = false;
  for (const auto& r : rows) {
    const auto& l = r.latency;
    t.rows.push_back({r.model.name, std::to_string(r.model.factors.resolution), human(r.cost.total.macs, 1e9) + "B",
                      fmt::format("{:.3f}", l.ms), fmt::format("{:.3f} [{:.3f}, {:.3f}]", l.rel.estimate, l.rel.low, l.rel.high),
                      fmt::format("{:.2f}-{:.2f}", l.p10_ms, l.p90_ms), std::to_string(l.runs),
                      fmt::format("{:.1f}", gmacs_per_s(r, s.batch)), build_bytes(s, r.build.activation_bytes),
                      build_bytes(s, r.build.weight_bytes)});
    if (s.peak_gflops) t.rows.back().push_back(fmt::format("{:.0f}%", 100 * peak_fraction(r, s)));
  }
  write_text(t, out);
  out << "latency: relative latency x the baseline's median over the run (every model is timed next to the baseline);\n"
         "p10-p90: the spread of the model's own timed runs.\n";
  for (const auto& r : rows) {
    if (r.profile.groups.empty()) continue;
    const double total = r.profile.profile_total_ms;
    const double whole = r.profile.latency.median_ms;
    out << fmt::format("\n{}: where the time goes (per-primitive medians sum to {:.3f} ms, {:.0f}% of the {:.3f} ms "
                       "network median in the same profile run)\n",
                       r.model.name, total, 100 * total / whole, whole);
    TextTable g;
    g.headers = {"group", "primitives", "ms", "share"};
    g.right_aligned = {false, true, true, true};
    for (const auto& group : r.profile.groups) {
      g.rows.push_back({std::string(to_string(group.group)), std::to_string(group.primitives),
                        fmt::format("{:.3f}", group.ms), fmt::format("{:.1f}%", 100 * group.ms / total)});
    }
    write_text(g, out);
    std::vector<size_t> order(r.profile.primitive_ms.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r.profile.primitive_ms[a] > r.profile.primitive_ms[b]; });
    out << "slowest primitives:\n";
    for (size_t k = 0; k < std::min<size_t>(5, order.size()); ++k) {
      const auto& p = r.profile.primitives[order[k]];
      out << fmt::format("  {:<28} {:<14} {:>8.3f} ms  {}\n", p.name, p.primitive, r.profile.primitive_ms[order[k]], p.impl);
    }
  }
  return out.str();
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale bench",
                        "Builds each model as a oneDNN primitive graph (synthetic weights) and measures its latency next to\n"
                        "the unscaled baseline, in randomized interleaved rounds: latency (relative latency x the baseline's\n"
                        "median), the relative latency with its 95% interval, and the spread of the model's own runs.\n"
                        "Models: names (b0..b8, l2, base, w1.1d1.2r260), --phi values, or --width/--depth/--resolution; default b0.");
  opts.positional_help("[MODEL...]");
  opts.add_options("Model")("model", "Model names", cxxopts::value<std::vector<std::string>>());
  opts.parse_positional({"model"});
  add_model_options(opts);
  add_report_options(opts, "a model (the row's depth, width and resolution)");
  add_measure_options(opts, kBenchMeasure);
  opts.add_options("Measurement")("layers", "Also time every primitive and show where the time goes")
      ("peak", "Also measure the float32 peak (a 2048^3 oneDNN matmul) and show each model's fraction of it");
  add_output_options(opts);
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Measurement", "Output"});
    return kExitOk;
  }
  const Format format = read_format(result);
  Outputs outputs(result, {"output"}, input_files(result));
  const ModelOptions options = read_model_options(result);
  BenchSetup setup;
  setup.measure = read_measure_options(result, kBenchMeasure);
  setup.batch = setup.measure.network.batch;
  BenchPlan plan;
  plan.baseline = options.baseline;
  plan.measure = setup.measure;
  plan.profile = result.count("layers") > 0;
  plan.max_memory = options.max_memory;
  for (const auto& m : collect_models(positional_models(result, "model"), options, "b0"))
    plan.models.push_back({m.name, m.factors});

  if (result.count("peak") && setup.measure.command)
    throw Error("--peak measures oneDNN's matmul peak, which says nothing of --latency-cmd's runtime");
  InterruptGuard guard;
  if (result.count("peak")) {
    TimingOptions peak_timing;
    peak_timing.min_runs = 10;
    peak_timing.min_seconds = 1;
    setup.peak_gflops = measure_peak_gflops(setup.measure.threads, 2048, peak_timing);
  }
  auto progress = [&](const MeasureProgress& p) {
    if (io.err_is_terminal)
      io.err << fmt::format("\rmeasuring: {}/{} models done      ", p.complete, p.total) << std::flush;
  };
  BenchOutcome outcome = run_bench(plan, &InterruptGuard::flag(), progress);
  if (io.err_is_terminal) io.err << std::string(60, ' ') << '\r' << std::flush;
  if (outcome.interrupted) {
    io.err << "effscale: interrupted; nothing written\n";
    return kExitInterrupted;
  }
  setup.measurement = std::move(outcome.measurement);
  const auto& rows = outcome.rows;

  std::ostringstream out;
  switch (format) {
    case Format::kTable: out << to_text(rows, setup); break;
    case Format::kCsv: write_csv(plan.profile ? profile_data(rows) : model_data(rows, setup), out); break;
    case Format::kJson: {
      const MachineInfo machine = this_machine();
      write_json_tables(out,
                        {{"onednn", machine.onednn}, {"isa", machine.isa}, {"cpu", machine.cpu},
                         {"peak_gflops", setup.peak_gflops ? Cell{*setup.peak_gflops} : Cell{}},
                         {"cores", std::int64_t(machine.cores)}, {"threads", std::int64_t(setup.measure.threads)},
                         {"batch", std::int64_t(setup.batch)},
                         {"baseline_latency_ms", setup.measurement.reference.median_ms},
                         {"drift", setup.measurement.drift},
                         {"timing", measure_words(setup.measure, setup.measurement)}},
                        {{"models", model_data(rows, setup)},
                         {"profile", profile_data(rows)},
                         {"primitives", primitive_data(rows)}});
      break;
    }
  }
  outputs.emit(out.str(), io);
  return kExitOk;
}

}  // namespace effscale
