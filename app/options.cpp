#include "options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "error.hpp"
#include "limits.hpp"
#include "bench.hpp"
#include "io.hpp"
#include "latency_command.hpp"
#include "text.hpp"

namespace effscale {

namespace {

// "--long" and "-s" spellings of every option.
std::vector<std::string> option_spellings(const cxxopts::Options& options) {
  std::vector<std::string> names;
  for (const auto& group : options.groups()) {
    for (const auto& o : options.group_help(group).options) {
      if (!o.s.empty()) names.push_back("-" + o.s);
      for (const auto& l : o.l) names.push_back("--" + l);
    }
  }
  return names;
}

}  // namespace

cxxopts::ParseResult parse_options(cxxopts::Options& options, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::string program = "effscale " + args.at(0);
  argv.push_back(program.c_str());
  for (size_t i = 1; i < args.size(); ++i) argv.push_back(args[i].c_str());
  try {
    auto result = options.parse(static_cast<int>(argv.size()), argv.data());
    if (!result.unmatched().empty()) {
      throw Error(fmt::format("unexpected argument '{}' (see 'effscale {} --help')",
                              result.unmatched().front(), args[0]));
    }
    return result;
  } catch (const cxxopts::exceptions::no_such_option&) {
    // Name the unknown argument and suggest the closest option.
    const auto names = option_spellings(options);
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a.size() < 2 || a[0] != '-') continue;
      const std::string name = a.substr(0, a.find('='));
      if (std::find(names.begin(), names.end(), name) != names.end()) continue;
      if (name[1] != '-' && (std::isdigit(static_cast<unsigned char>(name[1])) || name[1] == '.'))
        throw Error(fmt::format("'{}' looks like a negative number: write it as --option={}", a, a));
      const std::string hint = closest_match(name, names);
      throw Error(fmt::format("unknown option '{}' for 'effscale {}'{}", name, args[0],
                              hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint)));
    }
    throw;
  } catch (const cxxopts::exceptions::exception& e) {
    throw Error(fmt::format("{} (see 'effscale {} --help')", e.what(), args[0]));
  }
}

std::optional<std::string> option_text(const cxxopts::ParseResult& result, const std::string& name) {
  if (!result.count(name)) return std::nullopt;
  return result[name].as<std::string>();
}

void add_baseline_options(cxxopts::Options& options) {
  options.add_options("Model")
      ("baseline", "Network to scale: efficientnet-b0, mobilenet-v2, or a baseline file (format in README.md)",
       cxxopts::value<std::string>()->default_value("efficientnet-b0"), "NAME|FILE")
      ("max-memory", "Refuse models whose build would need more than this: activations x batch, weights and the "
                     "layer list (e.g. 8G; default half of RAM)",
       cxxopts::value<std::string>(), "SIZE");
}

void add_model_options(cxxopts::Options& options, bool one_model) {
  add_baseline_options(options);
  options.add_options("Model")
      ("phi", one_model ? "A formula model d=alpha^phi, w=beta^phi, r=round(base*gamma^phi), e.g. 1 (negative values "
                          "scale down)"
                        : "Formula models d=alpha^phi, w=beta^phi, r=round(base*gamma^phi); comma list, e.g. 0,1,2 "
                          "(negative values scale down). The published B1-B7 are not exactly these models: "
                          "the tool shows both",
       cxxopts::value<std::string>(), one_model ? "PHI" : "LIST")
      ("alpha", "Depth coefficient of formula models", cxxopts::value<std::string>()->default_value("1.2"), "A")
      ("beta", "Width coefficient of formula models", cxxopts::value<std::string>()->default_value("1.1"), "B")
      ("gamma", "Resolution coefficient of formula models", cxxopts::value<std::string>()->default_value("1.15"), "G")
      ("width", "Custom model: width multiplier (default 1)", cxxopts::value<std::string>(), "W")
      ("depth", "Custom model: depth multiplier (default 1)", cxxopts::value<std::string>(), "D")
      ("resolution", "Custom model: input resolution in pixels (default the baseline's)",
       cxxopts::value<std::string>(), "R");
}

void add_report_options(cxxopts::Options& options, const std::string& what) {
  options.add_options("Model")
      ("from-report", "Take " + what + " from a search report (its baseline too: give --baseline when the "
                      "report scales a baseline file)", cxxopts::value<std::string>(), "REPORT")
      ("rank", "With --from-report: the row of this rank (1 = the winner)", cxxopts::value<std::string>(), "N");
}

ModelOptions read_baseline_options(const cxxopts::ParseResult& result) {
  ModelOptions m;
  if (auto report = option_text(result, "from-report")) {
    const int rank = int_option(result, "rank", 1, 1, static_cast<int>(kMaxCandidates));
    std::optional<NetworkSpec> given;
    if (result.count("baseline")) given = load_baseline(result["baseline"].as<std::string>());
    m.report = model_from_report(read_text_file(*report, "report", kMaxReportBytes), *report, rank, given);
    m.baseline = m.report->baseline;
  } else {
    if (result.count("rank")) throw Error("--rank picks a row of a search report: give --from-report REPORT too");
    m.baseline = load_baseline(result["baseline"].as<std::string>());
  }
  if (auto limit = option_text(result, "max-memory")) {
    auto bytes = parse_bytes(*limit);
    if (!bytes || *bytes <= 0)
      throw Error(fmt::format("--max-memory: '{}' is not a positive size (e.g. 512M, 8G)", *limit));
    m.max_memory = *bytes;
  } else {
    const std::int64_t ram = physical_memory_bytes();
    m.max_memory = ram > 0 ? ram / 2 : (std::int64_t{8} << 30);
  }
  return m;
}

ModelOptions read_model_options(const cxxopts::ParseResult& result) {
  ModelOptions m = read_baseline_options(result);
  auto coefficient = [&](const char* name) {
    const double v = require_double(result[name].as<std::string>(), fmt::format("--{}", name));
    check_coefficient(v, fmt::format("--{}", name));
    return v;
  };
  m.coefficients.alpha = coefficient("alpha");
  m.coefficients.beta = coefficient("beta");
  m.coefficients.gamma = coefficient("gamma");
  if ((result.count("alpha") || result.count("beta") || result.count("gamma")) && !result.count("phi"))
    throw Error("--alpha, --beta and --gamma shape the --phi models: give --phi too (e.g. --phi 1)");
  if (auto phi = option_text(result, "phi")) {
    for (const auto& item : list_option(*phi, "--phi")) {
      const double v = require_double(item, "--phi");
      check_phi(v, "--phi");
      m.phis.push_back(v);
    }
  }
  const auto width = option_text(result, "width");
  const auto depth = option_text(result, "depth");
  const auto resolution = option_text(result, "resolution");
  if (width || depth || resolution) {
    ScaleFactors f{1.0, 1.0, m.baseline.resolution};
    if (width) f.width = require_double(*width, "--width");
    if (depth) f.depth = require_double(*depth, "--depth");
    if (resolution) {
      const auto r = require_int(*resolution, "--resolution");
      check_resolution(r);
      f.resolution = static_cast<int>(r);
    }
    check_factors(f);
    m.custom = f;
  }
  return m;
}

std::string_view to_string(ModelKind kind) {
  switch (kind) {
    case ModelKind::kBase: return "base";
    case ModelKind::kPublished: return "published";
    case ModelKind::kFormula: return "formula";
    case ModelKind::kCustom: return "custom";
    case ModelKind::kReport: return "report";
  }
  return "?";
}

ModelChoice resolve_model(const std::string& raw_name, const ModelOptions& options) {
  std::string name = raw_name;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "base" || name == options.baseline.name) {
    return {"base", ModelKind::kBase, {1.0, 1.0, options.baseline.resolution}, NAN};
  }
  // "w1.1d1.2r260": width, depth and resolution in the name (many custom models in one command).
  if (name.size() > 1 && name[0] == 'w' && name.find('d') != std::string::npos && name.find('r') != std::string::npos) {
    const size_t d = name.find('d'), r = name.find('r');
    const auto width = parse_double(std::string_view(name).substr(1, d - 1));
    const auto depth = d < r ? parse_double(std::string_view(name).substr(d + 1, r - d - 1)) : std::nullopt;
    const auto resolution = parse_int(std::string_view(name).substr(r + 1));
    if (!width || !depth || !resolution || *resolution < 1 || *resolution > 1000000000)
      throw Error(fmt::format("model '{}' is not w<width>d<depth>r<resolution> (e.g. w1.1d1.2r260)", raw_name));
    const ScaleFactors f{*width, *depth, static_cast<int>(*resolution)};
    check_factors(f);
    return {name, ModelKind::kCustom, f, NAN};
  }
  const bool presets = has_published_presets(options.baseline);
  if (auto preset = find_preset(name)) {
    if (preset->name == "b0") return {"b0", ModelKind::kBase, {1.0, 1.0, options.baseline.resolution}, NAN};
    if (!presets)
      throw Error(fmt::format("{} is EfficientNet's published {}, a scaling of the efficientnet-b0 baseline only; for "
                              "{} use base, --phi, or --width/--depth/--resolution",
                              preset->name, preset->name, options.baseline.name));
    return {preset->name, ModelKind::kPublished, preset->factors, NAN};
  }
  std::vector<std::string> valid;
  if (presets)
    for (const auto& p : official_presets()) valid.push_back(p.name);
  valid.push_back("base");
  std::string hint = closest_match(name, valid);
  throw Error(fmt::format("unknown model '{}'{} (valid: {}; or w<width>d<depth>r<resolution>, --phi, or "
                          "--width/--depth/--resolution)",
                          raw_name, hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint),
                          join(valid, ", ")));
}

std::vector<ModelChoice> formula_models(const ModelOptions& options) {
  std::vector<ModelChoice> models;
  for (double phi : options.phis) {
    ModelChoice m{"phi" + shortest(phi), ModelKind::kFormula,
                  compound_factors(phi, options.coefficients, options.baseline.resolution), phi};
    try {
      check_factors(m.factors);
    } catch (const Error& e) {
      throw Error(fmt::format("phi {} with alpha {}, beta {}, gamma {}: {}", phi, options.coefficients.alpha,
                              options.coefficients.beta, options.coefficients.gamma, e.what()));
    }
    models.push_back(m);
  }
  return models;
}

ModelChoice custom_model(const ModelOptions& options) {
  return {"custom", ModelKind::kCustom, options.custom.value(), NAN};
}

ModelChoice report_model(const ReportModel& report) {
  return {fmt::format("rank{}", report.rank), ModelKind::kReport, report.row.factors, report.row.phi_star};
}

std::vector<ModelChoice> collect_models(const std::vector<std::string>& names, const ModelOptions& options,
                                        const std::string& fallback) {
  std::vector<ModelChoice> models;
  for (const auto& name : names) models.push_back(resolve_model(name, options));
  for (const auto& m : formula_models(options)) models.push_back(m);
  if (options.custom) models.push_back(custom_model(options));
  if (options.report) models.push_back(report_model(*options.report));
  if (models.empty() && !fallback.empty()) models.push_back(resolve_model(fallback, options));
  return models;
}

std::vector<std::string> positional_models(const cxxopts::ParseResult& result, const std::string& option) {
  if (!result.count(option)) return {};
  return result[option].as<std::vector<std::string>>();
}

void add_single_model_options(cxxopts::Options& options) {
  options.positional_help("[MODEL]");
  options.add_options("Model")("model", "Model name", cxxopts::value<std::vector<std::string>>());
  options.parse_positional({"model"});
  add_model_options(options, true);
  add_report_options(options, "the model (the row's depth, width and resolution)");
}

ModelChoice single_model(const cxxopts::ParseResult& result, const ModelOptions& options, const std::string& does) {
  const std::vector<ModelChoice> models = collect_models(positional_models(result, "model"), options, "base");
  if (models.size() != 1)
    throw Error(does + " one model: give one name, one --phi value, --width/--depth/--resolution, or --from-report");
  return models[0];
}

void add_output_options(cxxopts::Options& options) {
  options.add_options("Output")
      ("format", "table (aligned, human units), csv or json (exact integers)",
       cxxopts::value<std::string>()->default_value("table"), "FMT")
      ("o,output", "Write to FILE (atomically; '-' is standard output) instead of standard output",
       cxxopts::value<std::string>(), "FILE")
      ("h,help", "Show this help");
}

Format read_format(const cxxopts::ParseResult& result) {
  const std::string f = result["format"].as<std::string>();
  if (f == "table") return Format::kTable;
  if (f == "csv") return Format::kCsv;
  if (f == "json") return Format::kJson;
  throw Error(fmt::format("--format '{}' is not one of: table, csv, json", f));
}

Outputs::Outputs(const cxxopts::ParseResult& result, const std::vector<std::string>& names,
                 const std::vector<std::pair<std::string, std::string>>& inputs) {
  std::vector<std::pair<std::string, std::string>> outputs;
  for (const auto& name : names)
    if (auto path = option_text(result, name)) outputs.emplace_back(name, *path);
  prepare(outputs, inputs);
}

Outputs::Outputs(const std::vector<std::pair<std::string, std::string>>& outputs,
                 const std::vector<std::pair<std::string, std::string>>& inputs) {
  prepare(outputs, inputs);
}

void Outputs::prepare(const std::vector<std::pair<std::string, std::string>>& outputs,
                      const std::vector<std::pair<std::string, std::string>>& inputs) {
  std::vector<std::pair<std::string, std::string>> labelled;
  for (const auto& [name, path] : outputs) labelled.emplace_back("--" + name, path);
  check_distinct_paths(labelled, inputs);
  for (const auto& [name, path] : outputs) {
    paths_[name] = path;
    if (path == "-") files_.emplace(name, std::nullopt);
    else files_.emplace(name, OutputFile(path, name == "plot" ? "plot" : "output"));
  }
}

void Outputs::write(const std::vector<std::pair<std::string, std::string>>& contents, Io& io) {
  for (const auto& [name, content] : contents)
    if (auto& f = files_.at(name)) f->stage(content);
  for (const auto& [name, content] : contents)
    if (auto& f = files_.at(name)) f->commit();
  for (const auto& [name, content] : contents) {
    if (files_.at(name)) continue;
    io.out << content;
    io.out.flush();
  }
}

void Outputs::checkpoint(const std::string& name, const std::string& content) {
  if (auto& f = files_.at(name); f && !f->is_stream()) f->write(content, false);
}

void Outputs::emit(const std::string& text, Io& io) {
  if (has("output")) {
    write({{"output", text}}, io);
    if (!to_stdout("output")) io.err << "wrote " << path("output") << '\n';
  } else {
    io.out << text;
    io.out.flush();
  }
}

std::vector<std::pair<std::string, std::string>> input_files(const cxxopts::ParseResult& result) {
  std::vector<std::pair<std::string, std::string>> inputs;
  if (result.count("baseline")) {
    const std::string b = result["baseline"].as<std::string>();
    const auto names = builtin_baseline_names();
    if (std::find(names.begin(), names.end(), b) == names.end()) inputs.emplace_back("--baseline file", b);
  }
  for (const char* name : {"accuracy", "resume", "from-report", "latency-table"})
    if (auto path = option_text(result, name)) inputs.emplace_back(fmt::format("--{} file", name), *path);
  return inputs;
}

TableChoice latency_table_choice(const cxxopts::ParseResult& result, const NetworkSpec& baseline,
                                 const MeasureConfig& config) {
  if (auto path = option_text(result, "latency-table")) {
    if (path->empty() || *path == "-") throw Error("--latency-table needs a file name (the table is read and written back)");
    return {*path, false};
  }
  return {default_latency_table_path(latency_table_key(baseline, config), [](const char* n) { return std::getenv(n); }),
          true};
}

int int_option(const cxxopts::ParseResult& result, const std::string& name, int fallback, int min, int max) {
  auto text = option_text(result, name);
  if (!text) return fallback;
  const auto v = require_int(*text, "--" + name);
  if (v < min || v > max) throw Error(fmt::format("--{} {} is out of range [{}, {}]", name, v, min, max));
  return static_cast<int>(v);
}

ActivationLayout read_layout(const cxxopts::ParseResult& result) {
  const std::string layout = result["layout"].as<std::string>();
  if (layout == "blocked") return ActivationLayout::kBlocked;
  if (layout == "nhwc") return ActivationLayout::kNhwc;
  throw Error(fmt::format("--layout '{}' is not one of: blocked, nhwc", layout));
}

void add_measure_options(cxxopts::Options& opts, const MeasureDefaults& d) {
  opts.add_options("Measurement")
      ("threads", "oneDNN threads per forward pass (default: every core)", cxxopts::value<std::string>(), "N")
      ("batch", "Images per forward pass", cxxopts::value<std::string>()->default_value("1"), "N")
      ("layout", "Activation layout: blocked (nChw16c) or nhwc", cxxopts::value<std::string>()->default_value("blocked"), "L")
      ("seed", "Seed of the synthetic weights, the input and the measurement order", cxxopts::value<std::string>()->default_value("1"), "N")
      ("lowering", "Lowering switches, to measure their effect: no-inplace-scale, separate-residual, "
                   "library-scratchpad, no-buffer-reuse, reuse-buffers-with-threads (buffers shared by liveness with several "
                   "threads too), se-inner-product, no-own-depthwise (oneDNN's depthwise "
                   "and SE primitives instead of the own kernels), no-gate-in-weights, no-fused-expand (oneDNN's expansion conv before every "
                   "depthwise step), fused-expand-all (every expansion conv fused), "
                   "no-own-pointwise (oneDNN's expansion and head convs), own-pointwise-all (the own kernel for every expansion and head conv), "
                   "no-small-map-pointwise (oneDNN's expansion convs under 15x15 and head conv), "
                   "no-fused-project (the projection conv after a fused step without SE as its own step), "
                   "no-pixel-pairs (a fused projection's padding channels computed as real ones), "
                   "no-fused-classifier (the head conv apart from the pool and classifier), "
                   "no-own-stem (oneDNN's stem conv), no-own-classifier (oneDNN's pooling and inner product for the "
                   "classifier), "
                   "kernels-avx512|avx2|portable (the own kernels' path)", cxxopts::value<std::string>(), "LIST")
      ("runs", fmt::format("Runs per network, each timed between two runs of the reference (the unscaled baseline) "
                           "(default: {}; {} with --latency-cmd)", d.runs, kCommandRuns),
       cxxopts::value<std::string>(), "N")
      ("min-time", "Keep timing each network until its own timed runs add up to this many seconds (0 with --latency-cmd)",
       cxxopts::value<std::string>()->default_value(shortest(d.min_seconds)), "S")
      ("warmup", "Untimed runs of each network after building it (default: 2; 0 with --latency-cmd, whose command "
                 "warms up itself)", cxxopts::value<std::string>(), "N")
      ("replicates", "Times every network (and the reference) is built afresh and timed again: a build's memory "
                     "placement shifts its speed for as long as it lives (default: 3; 5 with --latency-cmd)",
       cxxopts::value<std::string>(), "K")
      ("latency-cmd", "Time with your own runtime instead of oneDNN: each network is exported as ONNX and CMD is run "
                      "with /bin/sh; {onnx} (required), {resolution}, {threads}, {batch} are replaced; its last stdout "
                      "line gives milliseconds (median_ms=X or a number). Example in README.md",
       cxxopts::value<std::string>(), "CMD")
      ("latency-timeout", "With --latency-cmd: seconds one run of the command may take before it is killed",
       cxxopts::value<std::string>()->default_value("600"), "S");
  if (d.racing) {
    opts.add_options("Measurement")
        ("budget", "Seconds the whole measurement may take: once every network has its runs, the rest goes to "
                   "timing the candidates still tied with the leader (0: no racing)",
         cxxopts::value<std::string>()->default_value(shortest(d.budget_seconds)), "S");
  }
}

MeasureConfig read_measure_options(const cxxopts::ParseResult& result, const MeasureDefaults& d) {
  MeasureConfig c;
  c.threads = int_option(result, "threads", available_cores(), 1, kMaxThreads);
  c.network.batch = int_option(result, "batch", 1, 1, kMaxBatch);
  c.network.layout = read_layout(result);
  c.network.seed = static_cast<std::uint64_t>(int_option(result, "seed", 1, 0, 2147483647));
  if (auto lowering = option_text(result, "lowering")) apply_lowering_switches(*lowering, c.network);
  c.settings.seed = c.network.seed;
  // A latency command warms up and takes its own median, and every run of it is a fresh process:
  // fewer runs, no warm-up, and each round its own replicate.
  if (auto text = option_text(result, "latency-cmd")) {
    check_latency_command(*text);
    LatencyCommand command;
    command.text = *text;
    const double timeout = require_double(result["latency-timeout"].as<std::string>(), "--latency-timeout");
    if (!(timeout > 0 && timeout <= 24 * 3600))
      throw Error(fmt::format("--latency-timeout {} is out of range (0, 86400] (seconds)", timeout));
    command.timeout_seconds = timeout;
    c.command = command;
    if (option_text(result, "layout") && result["layout"].as<std::string>() != "blocked")
      throw Error("--layout applies to oneDNN, not to --latency-cmd (the command's runtime picks its own)");
    if (option_text(result, "lowering")) throw Error("--lowering applies to oneDNN, not to --latency-cmd");
  } else if (result.count("latency-timeout")) {
    throw Error("--latency-timeout needs --latency-cmd");
  }
  const bool command = c.command.has_value();
  c.settings.min_runs = int_option(result, "runs", command ? kCommandRuns : d.runs, 1, 1000000);
  const double seconds = command && !result.count("min-time")
                            ? 0.0
                            : require_double(result["min-time"].as<std::string>(), "--min-time");
  if (!(seconds >= 0 && seconds <= 3600)) throw Error(fmt::format("--min-time {} is out of range [0, 3600]", seconds));
  c.settings.min_seconds = seconds;
  c.settings.warmup = int_option(result, "warmup", command ? 0 : 2, 0, 10000);
  c.settings.replicates = int_option(result, "replicates", command ? kCommandRuns : 3, 1, 1000);
  if (d.racing) {
    const double budget = require_double(result["budget"].as<std::string>(), "--budget");
    if (!(budget >= 0 && budget <= 7 * 24 * 3600))
      throw Error(fmt::format("--budget {} is out of range [0, 604800] (seconds)", budget));
    c.settings.budget_seconds = budget;
  }
  return c;
}

std::vector<std::string> list_option(const std::string& text, const std::string& what) {
  std::vector<std::string> items;
  for (std::string_view item : split(text, ',')) {
    item = trim(item);
    if (item.empty()) throw Error(fmt::format("{}: '{}' has an empty item", what, text));
    items.emplace_back(item);
  }
  return items;
}

}  // namespace effscale
