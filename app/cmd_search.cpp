// effscale search: options into a SearchPlan, run_search (lib/search_pipeline.hpp), and the
// outcome printed and written. effscale merge: reports into a MergePlan, merge_reports, printed.

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>
#include <sstream>

#include "bench.hpp"
#include "cli.hpp"
#include "error.hpp"
#include "failpoint.hpp"
#include "interrupt.hpp"
#include "io.hpp"
#include "limits.hpp"
#include "options.hpp"
#include "report/table.hpp"
#include "search_output.hpp"
#include "search_pipeline.hpp"
#include "text.hpp"

namespace effscale {

namespace {

const MeasureDefaults kSearchMeasure{36, 0.0, true, 110.0};

// A baseline name from data (a file's `name` line) as a piece of a file name: letters, digits,
// '.', '-' and '_' only, never "." or "..".
std::string file_name_piece(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  if (out.empty() || out.find_first_not_of('.') == std::string::npos) out = "baseline";
  return out;
}

std::string command_line(const SearchPlan& p, const std::string& output, const std::vector<double>& phis) {
  std::vector<std::string> phi_names;
  for (double phi : phis) phi_names.push_back(shortest(phi));
  std::string c = fmt::format("effscale search --baseline {} --phi {} --target {} --tolerance {} --alpha {} --beta {} "
                              "--gamma {}{} --rank-by {}",
                              p.baseline_arg, join(phi_names, ","), p.constraint.target.text(), p.constraint.tolerance.text(),
                              p.alpha.spec(), p.beta.spec(), p.gamma.spec(), p.calibrate ? "" : " --no-calibrate",
                              to_string(p.objective));
  if (!p.latency) {
    c += " --latency none";
  } else if (p.source == LatencySource::kPredicted) {
    const auto& m = p.measure;
    c += fmt::format(" --latency predicted --latency-table {} --threads {} --batch {} --layout {} --seed {}",
                     shell_quote(p.table_path), m.threads, m.network.batch, to_string(m.network.layout), m.network.seed);
    const std::string lowering = lowering_switches(m.network);
    if (!lowering.empty()) c += " --lowering " + lowering;
    if (!p.recalibrate) c += " --no-recalibrate";
    if (p.verify > 0)
      c += fmt::format(" --verify {} --runs {} --min-time {} --warmup {} --replicates {}", p.verify, m.settings.min_runs,
                       shortest(m.settings.min_seconds), m.settings.warmup, m.settings.replicates);
  } else {
    const auto& m = p.measure;
    c += fmt::format(" --threads {} --batch {}", m.threads, m.network.batch);
    if (!m.command) c += fmt::format(" --layout {}", to_string(m.network.layout));
    c += fmt::format(" --seed {} --runs {} --min-time {} --warmup {} --replicates {} --budget {}", m.network.seed,
                     m.settings.min_runs, shortest(m.settings.min_seconds), m.settings.warmup, m.settings.replicates,
                     shortest(m.settings.budget_seconds));
    const std::string lowering = lowering_switches(m.network);
    if (!lowering.empty()) c += " --lowering " + lowering;
    if (m.command)
      c += fmt::format(" --latency-cmd {} --latency-timeout {}", shell_quote(m.command->text),
                       shortest(m.command->timeout_seconds));
  }
  if (p.latency_target_ms) c += " --latency-target " + shortest(*p.latency_target_ms);
  if (p.shard_count > 1) c += fmt::format(" --shard {}/{}", p.shard_index, p.shard_count);
  c += " --output " + output;
  return c;
}

std::string format_duration(double seconds) {
  const int total = static_cast<int>(seconds + 0.5);
  return total >= 3600 ? fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
                       : fmt::format("{}:{:02}", total / 60, total % 60);
}

// Reads the options into a plan; `output` receives the report's path.
SearchPlan read_plan(const cxxopts::ParseResult& r, std::string& output, std::vector<double>& phis) {
  SearchPlan p;
  const ModelOptions model = read_baseline_options(r);
  p.baseline = model.baseline;
  p.baseline_arg = r["baseline"].as<std::string>();
  p.max_memory = model.max_memory;
  p.alpha = parse_grid_axis(r["alpha"].as<std::string>(), "alpha");
  p.beta = parse_grid_axis(r["beta"].as<std::string>(), "beta");
  p.gamma = parse_grid_axis(r["gamma"].as<std::string>(), "gamma");
  if (static_cast<double>(p.alpha.size()) * static_cast<double>(p.beta.size()) * static_cast<double>(p.gamma.size()) > 1e8)
    throw Error("the grid has more than 100,000,000 triples; use coarser steps or --shard");
  auto decimal_option = [&](const char* name) {
    const std::string text = r[name].as<std::string>();
    if (!text.empty() && text[0] == '-') throw Error(fmt::format("--{} {} must not be negative", name, text));
    return parse_decimal(text, fmt::format("--{}", name), 4);
  };
  p.constraint.target = decimal_option("target");
  if (p.constraint.target.units == 0) throw Error("--target must be greater than 0");
  p.constraint.tolerance = decimal_option("tolerance");
  if (p.constraint.tolerance.value() > 1)
    throw Error(fmt::format("--tolerance {} is out of range [0, 1]", p.constraint.tolerance.text()));
  for (const auto& item : list_option(r["phi"].as<std::string>(), "--phi")) {
    const double phi = require_double(item, "--phi");
    check_phi(phi, "--phi");
    if (phi == 0)
      throw Error("--phi 0 builds the unscaled baseline for every triple: nothing to rank (use a phi other than 0)");
    if (std::find(phis.begin(), phis.end(), phi) != phis.end()) throw Error(fmt::format("--phi {} is listed twice", item));
    phis.push_back(phi);
  }
  if (phis.size() > 8) throw Error("--phi takes at most 8 values");
  p.phi = phis.front();
  const std::string latency = r["latency"].as<std::string>();
  if (latency == "measured") p.source = LatencySource::kMeasured;
  else if (latency == "predicted") p.source = LatencySource::kPredicted;
  else if (latency == "none") p.source = LatencySource::kNone;
  else throw Error(fmt::format("--latency {}: expected measured, predicted or none", latency));
  if (r.count("no-latency")) {
    if (r.count("latency") && p.source != LatencySource::kNone)
      throw Error(fmt::format("--no-latency and --latency {} contradict each other", latency));
    p.source = LatencySource::kNone;
  }
  p.latency = p.source != LatencySource::kNone;
  p.calibrate = p.latency && r.count("no-calibrate") == 0;
  if (auto rank = option_text(r, "rank-by")) {
    p.objective = parse_objective(*rank);
  } else {
    p.objective = !p.latency ? Objective::kMacsError : p.calibrate ? Objective::kRelLatency : Objective::kNormLatency;
  }
  if (needs_latency(p.objective) && !p.latency)
    throw Error(fmt::format("--rank-by {} needs latency; with --latency none rank by macs-error, params or activations",
                            to_string(p.objective)));
  if (auto accuracy = option_text(r, "accuracy")) {
    if (!p.latency)
      throw Error("--accuracy feeds the score, which needs latency: drop --latency none (or --accuracy)");
    p.accuracy = parse_accuracy(read_text_file(*accuracy, "accuracy file", kMaxAccuracyFileBytes), *accuracy);
  } else if (p.objective == Objective::kScore) {
    throw Error("--rank-by score needs --accuracy FILE (CSV with alpha,beta,gamma,top1)");
  }
  if (auto target = option_text(r, "latency-target")) {
    const double v = require_double(*target, "--latency-target");
    if (!(v > 0)) throw Error(fmt::format("--latency-target {} must be greater than 0 (milliseconds)", v));
    p.latency_target_ms = v;
  }
  std::optional<int> shards;
  if (r.count("shards")) shards = int_option(r, "shards", 1, 1, 1000000);
  if (auto shard = option_text(r, "shard")) {
    const Shard s = parse_shard(*shard, shards, [](const char* name) { return std::getenv(name); });
    p.shard_index = s.index;
    p.shard_count = s.count;
  } else if (shards) {
    throw Error("--shards N goes with --shard auto (the index comes from the job array)");
  }
  if (auto resume = option_text(r, "resume")) {
    p.resume = parse_report(read_text_file(*resume, "resume report", kMaxReportBytes), *resume);
    p.resume_source = *resume;
  }
  if (p.latency) p.measure = read_measure_options(r, kSearchMeasure);
  else if (r.count("latency-cmd")) throw Error("--latency-cmd times the networks: drop --latency none");
  if (r.count("verify")) {
    p.verify = int_option(r, "verify", 0, 1, 100000);
    if (p.source != LatencySource::kPredicted)
      throw Error("--verify measures the top predicted networks: it goes with --latency predicted");
  }
  if (p.source == LatencySource::kPredicted) {
    if (p.measure.command)
      throw Error("--latency predicted adds up oneDNN unit latencies; --latency-cmd times whole networks with your "
                  "runtime: use --latency measured with it");
    if (p.resume) throw Error("--resume continues a measured search; a predicted search is fast enough to run again");
    const TableChoice table = latency_table_choice(r, p.baseline, p.measure);
    p.table_path = table.path;
    p.table_default = table.is_default;
    p.recalibrate = r.count("no-recalibrate") == 0;
  } else if (r.count("latency-table") || r.count("no-recalibrate")) {
    throw Error(fmt::format("--{} goes with --latency predicted", r.count("latency-table") ? "latency-table" : "no-recalibrate"));
  }
  if (auto out = option_text(r, "output")) {
    output = *out;
  } else {
    // A search without latency writes its own file: it must not replace a measured report.
    std::vector<std::string> phi_names;
    for (double phi : phis) phi_names.push_back(shortest(phi));
    output = fmt::format("results/search-{}-phi{}{}{}.csv", file_name_piece(p.baseline.name),
                         join(phi_names, "-") + (phis.size() > 1 ? "-family" : ""),
                         !p.latency ? "-costs" : p.source == LatencySource::kPredicted ? "-predicted" : "",
                         p.shard_count > 1 ? fmt::format("-shard{}of{}", p.shard_index, p.shard_count) : "");
  }
  p.command = command_line(p, output, phis);
  return p;
}

}  // namespace

int cmd_search(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts(
      "effscale search",
      "Grid search of compound-scaling coefficients: every (alpha, beta, gamma) of the grids with\n"
      "|alpha*beta^2*gamma^2 - T| / T <= tolerance is scaled to the same MAC budget (T^phi x the baseline's; each triple\n"
      "at its own phi*, or at phi itself with --no-calibrate), costed, built with oneDNN and timed next to the unscaled\n"
      "baseline, then ranked with 95% intervals. The full report (one row per candidate) goes to results/ (or --output);\n"
      "the terminal shows the top candidates and which of them are tied.");
  add_baseline_options(opts);
  opts.add_options("Search")
      ("alpha", "Depth grid start:stop:step", cxxopts::value<std::string>()->default_value("1.0:2.0:0.05"), "RANGE")
      ("beta", "Width grid start:stop:step", cxxopts::value<std::string>()->default_value("1.0:1.5:0.05"), "RANGE")
      ("gamma", "Resolution grid start:stop:step", cxxopts::value<std::string>()->default_value("1.0:1.5:0.05"), "RANGE")
      ("target", "T: the FLOPs multiplier per unit of phi", cxxopts::value<std::string>()->default_value("2"), "T")
      ("tolerance", "Keep triples with |product - T| / T within this", cxxopts::value<std::string>()->default_value("0.05"), "X")
      ("phi", "Scale every candidate to the MACs of T^phi x the baseline's; a list (1,2,3) ranks each triple by the "
              "geometric mean of its relative latency over those phi (the family it generates)",
       cxxopts::value<std::string>()->default_value("1"), "PHI")
      ("no-calibrate", "Build each triple at phi itself, not at the phi* that matches the MAC budget (the paper's "
                       "procedure; ranks by norm-latency)")
      ("latency", "measured (default): time every distinct network next to the baseline; predicted: add up this "
                  "machine's unit latency table (units it lacks are measured first and kept; see effscale predict); none: "
                  "costs only (fast; the models at phi itself, ranked by macs-error unless --rank-by says otherwise)",
       cxxopts::value<std::string>()->default_value("measured"), "SRC")
      ("no-latency", "The same as --latency none")
      ("verify", "With --latency predicted: measure the top K distinct networks next to the baseline, show predicted "
                 "beside measured and rank those K by the measurement", cxxopts::value<std::string>(), "K")
      ("no-recalibrate", "With --latency predicted: use the table's stored fit instead of measuring its calibration "
                         "networks again (about 10 s saved; the fit then holds for the machine as it was)")
      ("latency-table", "With --latency predicted: the table to read and extend (default: this machine's and "
                        "setting's file under $XDG_CACHE_HOME/effscale, else ~/.cache/effscale)",
       cxxopts::value<std::string>(), "FILE")
      ("rank-by", "rel-latency (default: latency relative to the baseline timed next to it), norm-latency (latency x "
                  "target MACs / achieved MACs; default with --no-calibrate), latency, macs-error, params, activations, "
                  "score (needs --accuracy)", cxxopts::value<std::string>(), "OBJ")
      ("accuracy", "CSV alpha,beta,gamma,top1 of your measured accuracies: enables --rank-by score, the MnasNet "
                   "objective top1 * (latency / target)^-0.07", cxxopts::value<std::string>(), "FILE")
      ("latency-target", "Latency target T of the score in ms (default: the baseline's latency x target^phi)",
       cxxopts::value<std::string>(), "MS")
      ("top", "Candidates shown on the terminal", cxxopts::value<std::string>()->default_value("10"), "K")
      ("resume", "Skip candidates already in this earlier report of the same search, and include its rows",
       cxxopts::value<std::string>(), "FILE")
      ("shard", "Evaluate only candidates i, i+n, i+2n, ... (0 <= i < n); 'auto' takes i and n from a job array "
                "(SLURM_ARRAY_TASK_ID/COUNT, or JOB_COMPLETION_INDEX with --shards); join with 'effscale merge'",
       cxxopts::value<std::string>(), "i/n|auto")
      ("shards", "With --shard auto: the number of shards n", cxxopts::value<std::string>(), "N");
  add_measure_options(opts, kSearchMeasure);
  opts.add_options("Output")
      ("format", "Standard output: table (top candidates), csv or json (every candidate)",
       cxxopts::value<std::string>()->default_value("table"), "FMT")
      ("o,output", "The full report (default results/search-<baseline>-phi<phi>.csv; -costs.csv with --latency none, -predicted.csv with predicted; "
                   "'-' is standard output)", cxxopts::value<std::string>(), "FILE")
      ("plot", "Also draw the candidates' MAC ratio vs latency, top ones marked, as SVG", cxxopts::value<std::string>(), "FILE")
      ("h,help", "Show this help");
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Search", "Measurement", "Output"});
    return kExitOk;
  }
  const Format format = read_format(result);
  std::string output;
  std::vector<double> phis;
  const SearchPlan plan = read_plan(result, output, phis);
  if (output == "-" && format != Format::kTable)
    throw Error("--output - and --format csv|json would both write standard output; choose one");
  const int top = int_option(result, "top", 10, 1, 1000000);
  const auto plot_path = option_text(result, "plot");
  if (plot_path && !plan.latency) throw Error("--plot draws latency; it cannot be used with --latency none");
  InterruptGuard guard;
  const bool interrupt_after_batch = failpoint("interrupt-after-batch");
  // The outputs are prepared once the plan is known to be valid, before any work (the default
  // report folder is created then, not for a command that fails).
  std::optional<Outputs> outputs;
  std::vector<std::pair<std::string, std::string>> paths = {{"output", output}};
  if (plot_path) paths.emplace_back("plot", *plot_path);
  SearchCallbacks callbacks;
  callbacks.ready = [&] {
    const auto slash = output.rfind('/');
    if (!result.count("output") && slash != std::string::npos) ensure_directory(output.substr(0, slash));
    outputs.emplace(paths, input_files(result));
  };
  callbacks.progress = [&](const MeasureProgress& p) {
    if (p.batch_done && interrupt_after_batch) InterruptGuard::raise_for_testing();
    if (!io.err_is_terminal) return;
    if (p.racing) {
      io.err << fmt::format("\rsearch: racing {} contenders, {} of the {} budget used        ", p.contenders,
                            format_duration(p.elapsed_seconds), format_duration(plan.measure.settings.budget_seconds));
    } else {
      io.err << fmt::format("\rsearch: batch {}/{}, {}/{} networks measured, {} elapsed{}        ", p.batch, p.batches,
                            p.complete, p.total, format_duration(p.elapsed_seconds),
                            p.eta_seconds >= 0 ? ", about " + format_duration(p.eta_seconds) + " left" : "");
    }
    io.err << std::flush;
  };
  const bool pause_after_checkpoint = failpoint("pause-after-checkpoint");
  const bool hang_after_checkpoint = failpoint("hang-after-checkpoint");
  callbacks.checkpoint = [&](const SearchOutcome& partial) {
    outputs->checkpoint("output", format_report(partial.header, partial.results, partial.objective, partial.score));
    // Tests: hold still until a real signal arrives, so that it lands right after these rows are on
    // disk; or (hang) stay put whatever arrives, so that only a second signal can end the process.
    while ((pause_after_checkpoint && !InterruptGuard::interrupted()) || hang_after_checkpoint)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  if (io.err_is_terminal && plan.latency)
    io.err << "search: costing and calibrating the candidates, then measuring (Ctrl-C keeps what is measured)\n";
  if (phis.size() > 1) {
    if (plot_path) throw Error("--plot draws one phi's candidates; with several --phi values it is not available");
    if (format == Format::kJson) throw Error("--phi with several values writes CSV; use --format table or csv");
    callbacks.checkpoint = nullptr;
    const FamilyOutcome family = run_family_search(plan, phis, &InterruptGuard::flag(), callbacks);
    if (io.err_is_terminal) io.err << '\n';
    std::ostringstream report;
    std::vector<std::string> phi_names;
    for (double phi : phis) phi_names.push_back(shortest(phi));
    report << "# effscale family search: triples ranked by the geometric mean of their relative latency over phi "
           << join(phi_names, ", ") << '\n';
    report << "# command: " << plan.command << '\n';
    for (size_t i = 0; i < family.searches.size(); ++i)
      report << "# phi " << phi_names[i] << ": " << family.searches[i].header.timing << '\n';
    const DataTable table = family_table(family);
    write_csv(table, report);
    outputs->write({{"output", report.str()}}, io);
    if (family.interrupted) {
      io.err << "effscale: interrupted; the family report holds the phi values that completed\n";
      return kExitInterrupted;
    }
    std::ostringstream out;
    if (format == Format::kCsv) {
      write_csv(table, out);
    } else {
      out << plan.command << '\n';
      for (size_t i = 0; i < family.searches.size(); ++i)
        out << "phi " << phi_names[i] << ": " << family.searches[i].header.timing << '\n';
      out << fmt::format("{} triples ranked by the geometric mean over phi {} of their relative latency ({:.1f} s)\n\n",
                         family.rows.size(), join(phi_names, ", "), family.seconds);
      TextTable t;
      t.headers = {"rank", "alpha", "beta", "gamma", "geomean rel [95%]"};
      for (const auto& name : phi_names) t.headers.push_back("phi " + name);
      t.right_aligned.assign(t.headers.size(), true);
      for (size_t k = 0; k < family.rows.size() && static_cast<int>(k) < top; ++k) {
        const FamilyRow& r = family.rows[k];
        std::vector<std::string> row = {r.rank > 0 ? std::to_string(r.rank) + (r.tied ? "=" : " ") : "- ",
                                        r.candidate.alpha.text(), r.candidate.beta.text(), r.candidate.gamma.text(),
                                        r.geomean ? fmt::format("{:.3f} [{:.3f}, {:.3f}]", r.geomean->estimate,
                                                                r.geomean->low, r.geomean->high)
                                                  : r.status};
        for (const auto& p : r.per_phi)
          row.push_back(p.latency ? fmt::format("{:.3f} @{}", p.latency->rel.estimate, p.factors.resolution) : "-");
        t.rows.push_back(std::move(row));
      }
      write_text(t, out);
      out << fmt::format("\nreport: {} ({} rows)\n", output, family.rows.size());
    }
    io.out << out.str();
    io.out.flush();
    return kExitOk;
  }
  const SearchOutcome outcome = run_search(plan, &InterruptGuard::flag(), callbacks);
  if (io.err_is_terminal && plan.latency) io.err << '\n';

  std::vector<std::pair<std::string, std::string>> contents = {
      {"output", format_report(outcome.header, outcome.results, outcome.objective, outcome.score)}};
  if (plot_path)
    contents.emplace_back("plot", search_plot_svg(outcome.header, outcome.results, outcome.objective, outcome.score, top));
  outputs->write(contents, io);
  if (outcome.interrupted) {
    io.err << fmt::format("effscale: interrupted; {} completed rows kept in {}\nresume with: {}\n",
                          outcome.results.size(), output, join(args_for_resume(args, output), " "));
    return kExitInterrupted;
  }
  std::ostringstream out;
  switch (format) {
    case Format::kTable:
      // With the report on standard output, the summary goes to standard error.
      (output == "-" ? io.err : out) << search_summary_text(outcome.header, outcome.results, outcome.objective,
                                                           outcome.score, top,
                                                           SummaryCounts{outcome.counts, outcome.seconds}, output);
      break;
    case Format::kCsv: write_csv(report_table(outcome.results, outcome.objective, outcome.score), out); break;
    case Format::kJson:
      write_json_tables(out, search_meta(outcome.header),
                        {{"candidates", report_table(outcome.results, outcome.objective, outcome.score)}});
      break;
  }
  io.out << out.str();
  io.out.flush();
  return kExitOk;
}

int cmd_merge(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale merge",
                        "Joins reports of one search (e.g. its shards, run on any machines) into one ranked report.\n"
                        "Refuses reports of different searches; a candidate in several reports is kept once; says when\n"
                        "the reports come from different machines (then ranks by relative latency) or a shard is missing.");
  opts.positional_help("REPORT.csv...");
  opts.add_options()("reports", "Reports", cxxopts::value<std::vector<std::string>>())
      ("baseline", "The reports' baseline, to check their rows against (default: the one their command line names)",
       cxxopts::value<std::string>(), "NAME|FILE")
      ("rank-by", "Objective (default: the reports' own)", cxxopts::value<std::string>(), "OBJ")
      ("latency-target", "Latency target of the score in ms", cxxopts::value<std::string>(), "MS")
      ("top", "Candidates shown on the terminal", cxxopts::value<std::string>()->default_value("10"), "K")
      ("format", "table, csv or json", cxxopts::value<std::string>()->default_value("table"), "FMT")
      ("o,output", "Write the merged report here", cxxopts::value<std::string>(), "FILE")
      ("h,help", "Show this help");
  opts.parse_positional({"reports"});
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help();
    return kExitOk;
  }
  const Format format = read_format(result);
  if (!result.count("reports")) throw Error("merge needs at least one report (effscale merge A.csv B.csv ...)");
  MergePlan plan;
  plan.sources = result["reports"].as<std::vector<std::string>>();
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const auto& p : plan.sources) inputs.emplace_back("report", p);
  Outputs outputs(result, {"output"}, inputs);
  if (outputs.to_stdout("output") && format != Format::kTable)
    throw Error("--output - and --format csv|json would both write standard output; choose one");
  const int top = int_option(result, "top", 10, 1, 1000000);
  if (auto t = option_text(result, "latency-target")) {
    plan.latency_target_ms = require_double(*t, "--latency-target");
    if (!(*plan.latency_target_ms > 0))
      throw Error(fmt::format("--latency-target {} must be greater than 0", *plan.latency_target_ms));
  }
  if (auto rank = option_text(result, "rank-by")) plan.objective = parse_objective(*rank);
  for (const auto& p : plan.sources) plan.reports.push_back(parse_report(read_text_file(p, "report", kMaxReportBytes), p));
  std::string baseline = option_text(result, "baseline").value_or("");
  if (baseline.empty()) {
    // The command line the first report records names its baseline (a built-in name or a file).
    const std::string& command = plan.reports[0].header.command;
    const auto at = command.find(" --baseline ");
    if (at == std::string::npos)
      throw Error(fmt::format("'{}' does not say which baseline it used: give it with --baseline", plan.sources[0]));
    const auto start = at + 12;
    baseline = command.substr(start, command.find(' ', start) - start);
  }
  plan.baseline = load_baseline(baseline);
  const MergeOutcome merged = merge_reports(plan);
  const std::string report = format_report(merged.header, merged.results, merged.objective, merged.score);
  const auto output = option_text(result, "output");
  if (output) outputs.write({{"output", report}}, io);
  for (const auto& note : merged.notes) io.err << "effscale: note: " << note << '\n';
  std::ostringstream out;
  switch (format) {
    case Format::kTable:
      (outputs.to_stdout("output") ? io.err : out)
          << search_summary_text(merged.header, merged.results, merged.objective, merged.score, top, SummaryCounts{},
                                 output.value_or(""));
      break;
    case Format::kCsv: write_csv(report_table(merged.results, merged.objective, merged.score), out); break;
    case Format::kJson:
      write_json_tables(out, search_meta(merged.header),
                        {{"candidates", report_table(merged.results, merged.objective, merged.score)}});
      break;
  }
  io.out << out.str();
  io.out.flush();
  return kExitOk;
}

}  // namespace effscale
