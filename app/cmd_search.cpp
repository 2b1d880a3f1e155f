// effscale search: enumerate (alpha, beta, gamma) under alpha * beta^2 * gamma^2 ~ T, cost every
// candidate, measure latency, rank, and write a report that resume and merge read.
// effscale merge: join shard reports of one search and re-rank.

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <set>
#include <sstream>

#include "bench.hpp"
#include "cli.hpp"
#include "error.hpp"
#include "failpoint.hpp"
#include "interrupt.hpp"
#include "io.hpp"
#include "machine.hpp"
#include "options.hpp"
#include "report/table.hpp"
#include "search.hpp"
#include "search_output.hpp"
#include "text.hpp"

namespace effscale {

namespace {

struct SearchSettings {
  ModelOptions model;
  GridAxis alpha, beta, gamma;
  Constraint constraint;
  double phi = 1;
  bool latency = true;
  Objective objective = Objective::kNormLatency;
  std::optional<std::string> accuracy_path;
  std::optional<double> latency_target_ms;
  int top = 10;
  int shard_index = 0, shard_count = 1;
  std::optional<std::string> resume_path;
  std::string output_path;
  MeasureOptions measure;
};

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

SearchKey make_key(const SearchSettings& s) {
  SearchKey k;
  k.fields = {{"baseline", s.model.baseline.name},
              {"baseline_spec", fmt::format("{:016x}", fnv1a(format_baseline_text(s.model.baseline)))},
              {"phi", shortest(s.phi)},
              {"target", s.constraint.target.text()},
              {"tolerance", s.constraint.tolerance.text()},
              {"alpha", s.alpha.spec()},
              {"beta", s.beta.spec()},
              {"gamma", s.gamma.spec()},
              {"latency", s.latency ? "on" : "off"}};
  if (s.latency) {
    const auto& m = s.measure;
    k.fields.insert(k.fields.end(), {{"cores", std::to_string(m.cores)},
                                     {"measure_parallel", std::to_string(m.parallel)},
                                     {"batch", std::to_string(m.batch)},
                                     {"layout", std::string(to_string(m.layout))},
                                     {"runs", std::to_string(m.runs)},
                                     {"rounds", std::to_string(m.rounds)},
                                     {"warmup", std::to_string(m.warmup_runs)},
                                     {"seed", std::to_string(m.seed)}});
  }
  return k;
}

std::string command_line(const SearchSettings& s) {
  std::string c = fmt::format("effscale search --baseline {} --phi {} --target {} --tolerance {} --alpha {} --beta {} "
                              "--gamma {} --rank-by {}",
                              s.model.baseline.name, shortest(s.phi), s.constraint.target.text(),
                              s.constraint.tolerance.text(), s.alpha.spec(), s.beta.spec(), s.gamma.spec(),
                              to_string(s.objective));
  if (!s.latency) {
    c += " --no-latency";
  } else {
    const auto& m = s.measure;
    c += fmt::format(" --threads {} --measure-parallel {} --batch {} --layout {} --runs {} --rounds {} --warmup {} --seed {}",
                     m.cores, m.parallel, m.batch, to_string(m.layout), m.runs, m.rounds, m.warmup_runs, m.seed);
  }
  if (s.accuracy_path) c += " --accuracy " + *s.accuracy_path;
  if (s.latency_target_ms) c += " --latency-target " + shortest(*s.latency_target_ms);
  if (s.shard_count > 1) c += fmt::format(" --shard {}/{}", s.shard_index, s.shard_count);
  c += " --output " + s.output_path;
  return c;
}

std::string timing_words(const SearchSettings& s) {
  if (!s.latency) return "latency not measured (--no-latency)";
  const auto& m = s.measure;
  return fmt::format("{} warm-up runs, then {} timed runs in {} interleaved rounds per candidate (fewer than "
                     "bench's default of at least 10 runs and 1 s); {} candidate(s) timed at once with {} thread(s) "
                     "each; batch {}, layout {}",
                     m.warmup_runs, m.runs, m.rounds, m.parallel, std::max(1, m.cores / m.parallel), m.batch,
                     to_string(m.layout));
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

SearchSettings read_settings(const cxxopts::ParseResult& r) {
  SearchSettings s;
  s.model = read_baseline_options(r);
  s.alpha = parse_grid_axis(r["alpha"].as<std::string>(), "alpha");
  s.beta = parse_grid_axis(r["beta"].as<std::string>(), "beta");
  s.gamma = parse_grid_axis(r["gamma"].as<std::string>(), "gamma");
  if (static_cast<double>(s.alpha.size()) * static_cast<double>(s.beta.size()) * static_cast<double>(s.gamma.size()) > 1e8)
    throw Error("the grid has more than 100,000,000 triples; use coarser steps or --shard");
  auto decimal_option = [&](const char* name) {
    const std::string text = r[name].as<std::string>();
    if (!text.empty() && text[0] == '-') throw Error(fmt::format("--{} {} must not be negative", name, text));
    return parse_decimal(text, fmt::format("--{}", name), 4);
  };
  s.constraint.target = decimal_option("target");
  if (s.constraint.target.units == 0) throw Error("--target must be greater than 0");
  s.constraint.tolerance = decimal_option("tolerance");
  if (s.constraint.tolerance.value() > 1) throw Error(fmt::format("--tolerance {} is out of range [0, 1]", s.constraint.tolerance.text()));
  s.phi = require_double(r["phi"].as<std::string>(), "--phi");
  if (!(s.phi >= -8 && s.phi <= 16)) throw Error(fmt::format("--phi {} is out of range [-8, 16]", s.phi));
  s.latency = r.count("no-latency") == 0;
  if (auto rank = option_text(r, "rank-by")) {
    s.objective = parse_objective(*rank);
  } else {
    s.objective = s.latency ? Objective::kNormLatency : Objective::kMacsError;
  }
  if (needs_latency(s.objective) && !s.latency)
    throw Error(fmt::format("--rank-by {} needs latency; with --no-latency rank by macs-error, params or activations",
                            to_string(s.objective)));
  s.accuracy_path = option_text(r, "accuracy");
  if (s.objective == Objective::kScore && !s.accuracy_path)
    throw Error("--rank-by score needs --accuracy FILE (CSV with alpha,beta,gamma,top1)");
  if (auto target = option_text(r, "latency-target")) {
    const double v = require_double(*target, "--latency-target");
    if (!(v > 0)) throw Error(fmt::format("--latency-target {} must be greater than 0 (milliseconds)", v));
    s.latency_target_ms = v;
  }
  s.top = int_option(r, "top", 10, 1, 1000000);
  if (auto shard = option_text(r, "shard")) {
    const auto parts = split(*shard, '/');
    const auto i = parts.size() == 2 ? parse_int(parts[0]) : std::nullopt;
    const auto n = parts.size() == 2 ? parse_int(parts[1]) : std::nullopt;
    if (!i || !n) throw Error(fmt::format("--shard '{}' is not i/n (e.g. 0/4: the first of 4 shards)", *shard));
    if (*n < 1 || *n > 1000000) throw Error(fmt::format("--shard: n {} is out of range [1, 1000000]", *n));
    if (*i < 0 || *i >= *n) throw Error(fmt::format("--shard: i {} must be in [0, {}) (shards are numbered from 0)", *i, *n));
    s.shard_index = static_cast<int>(*i);
    s.shard_count = static_cast<int>(*n);
  }
  s.resume_path = option_text(r, "resume");
  auto& m = s.measure;
  m.cores = int_option(r, "threads", available_cores(), 1, 1024);
  m.parallel = int_option(r, "measure-parallel", 1, 1, 1024);
  if (m.parallel > m.cores)
    throw Error(fmt::format("--measure-parallel {} is more than the {} threads available (--threads)", m.parallel, m.cores));
  m.batch = int_option(r, "batch", 1, 1, 4096);
  m.runs = int_option(r, "runs", 20, 1, 100000);
  m.rounds = int_option(r, "rounds", 4, 1, 1000);
  if (m.rounds > m.runs) throw Error(fmt::format("--rounds {} is more than --runs {}", m.rounds, m.runs));
  m.warmup_runs = int_option(r, "warmup", 2, 0, 10000);
  m.layout = read_layout(r);
  m.seed = static_cast<std::uint64_t>(int_option(r, "seed", 1, 0, 2147483647));
  m.max_memory = s.model.max_memory;
  if (auto out = option_text(r, "output")) {
    s.output_path = *out;
  } else {
    s.output_path = fmt::format("results/search-{}-phi{}{}.csv", s.model.baseline.name, shortest(s.phi),
                                s.shard_count > 1 ? fmt::format("-shard{}of{}", s.shard_index, s.shard_count) : "");
  }
  return s;
}

std::string format_duration(double seconds) {
  const int total = static_cast<int>(seconds + 0.5);
  return total >= 3600 ? fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
                       : fmt::format("{}:{:02}", total / 60, total % 60);
}

}  // namespace

int cmd_search(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts(
      "effscale search",
      "Grid search of compound-scaling coefficients: every (alpha, beta, gamma) of the grids with\n"
      "|alpha*beta^2*gamma^2 - T| / T <= tolerance is scaled at phi (d = alpha^phi, w = beta^phi, r = round(base*gamma^phi)),\n"
      "costed, built with oneDNN and timed, then ranked. The full ranked report (one row per candidate) is written to\n"
      "results/ (or --output); the terminal shows the top candidates.");
  add_baseline_options(opts);
  opts.add_options("Search")
      ("alpha", "Depth grid start:stop:step", cxxopts::value<std::string>()->default_value("1.0:2.0:0.05"), "RANGE")
      ("beta", "Width grid start:stop:step", cxxopts::value<std::string>()->default_value("1.0:1.5:0.05"), "RANGE")
      ("gamma", "Resolution grid start:stop:step", cxxopts::value<std::string>()->default_value("1.0:1.5:0.05"), "RANGE")
      ("target", "T: the FLOPs multiplier per unit of phi", cxxopts::value<std::string>()->default_value("2"), "T")
      ("tolerance", "Keep triples with |product - T| / T within this", cxxopts::value<std::string>()->default_value("0.05"), "X")
      ("phi", "Scale every candidate to this phi", cxxopts::value<std::string>()->default_value("1"), "PHI")
      ("no-latency", "Skip the latency measurement (fast; ranks by macs-error unless --rank-by says otherwise)")
      ("rank-by", "norm-latency (latency x target MACs / achieved MACs; default), latency, macs-error, params, "
                  "activations, score (needs --accuracy)", cxxopts::value<std::string>(), "OBJ")
      ("accuracy", "CSV alpha,beta,gamma,top1 of your measured accuracies: enables --rank-by score, the MnasNet "
                   "objective top1 * (latency / target)^-0.07", cxxopts::value<std::string>(), "FILE")
      ("latency-target", "Latency target T of the score in ms (default: the baseline's latency x target^phi)",
       cxxopts::value<std::string>(), "MS")
      ("top", "Candidates shown on the terminal", cxxopts::value<std::string>()->default_value("10"), "K")
      ("resume", "Skip candidates already in this earlier report of the same search, and include its rows",
       cxxopts::value<std::string>(), "FILE")
      ("shard", "Evaluate only candidates i, i+n, i+2n, ... (0 <= i < n); join the reports with 'effscale merge'",
       cxxopts::value<std::string>(), "i/n");
  opts.add_options("Measurement")
      ("threads", "Cores to use for timing (default: every core)", cxxopts::value<std::string>(), "N")
      ("measure-parallel", "Candidates timed at once, each with threads/K oneDNN threads", cxxopts::value<std::string>()->default_value("1"), "K")
      ("runs", "Timed runs per candidate", cxxopts::value<std::string>()->default_value("20"), "N")
      ("rounds", "Interleaved timing rounds the runs are split into", cxxopts::value<std::string>()->default_value("4"), "N")
      ("warmup", "Untimed runs per candidate", cxxopts::value<std::string>()->default_value("2"), "N")
      ("batch", "Images per forward pass", cxxopts::value<std::string>()->default_value("1"), "N")
      ("layout", "Activation layout: blocked or nhwc", cxxopts::value<std::string>()->default_value("blocked"), "L")
      ("seed", "Seed of the synthetic weights", cxxopts::value<std::string>()->default_value("1"), "N");
  opts.add_options("Output")
      ("format", "Standard output: table (top candidates), csv or json (every candidate)",
       cxxopts::value<std::string>()->default_value("table"), "FMT")
      ("o,output", "The full report (default results/search-<baseline>-phi<phi>.csv)", cxxopts::value<std::string>(), "FILE")
      ("plot", "Also draw the candidates' MAC ratio vs latency, top ones marked, as SVG", cxxopts::value<std::string>(), "FILE")
      ("h,help", "Show this help");
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help({"Model", "Search", "Measurement", "Output"});
    return kExitOk;
  }
  const Format format = read_format(result);
  check_output_options(result, {"output", "plot"});
  const SearchSettings s = read_settings(result);
  const auto plot_path = option_text(result, "plot");
  if (plot_path && !s.latency) throw Error("--plot draws latency; it cannot be used with --no-latency");
  AccuracyTable accuracy;
  if (s.accuracy_path) accuracy = parse_accuracy(read_text_file(*s.accuracy_path, "accuracy file"), *s.accuracy_path);

  // Candidates.
  std::vector<Candidate> nearest;
  std::vector<Candidate> candidates = enumerate_candidates(s.alpha, s.beta, s.gamma, s.constraint, &nearest);
  const size_t grid_size = s.alpha.size() * s.beta.size() * s.gamma.size();
  if (candidates.empty()) {
    std::vector<std::string> near;
    for (const auto& c : nearest)
      near.push_back(fmt::format("{} ({}, {}, {})", c.product, c.alpha.text(), c.beta.text(), c.gamma.text()));
    throw Error(fmt::format("no (alpha, beta, gamma) of the {} grid triples has alpha*beta^2*gamma^2 within {} of {}; "
                            "nearest products: {}",
                            grid_size, s.constraint.tolerance.text(), s.constraint.target.text(),
                            near.empty() ? "none" : join(near, ", ")));
  }
  if (s.shard_count > 1) {
    std::vector<Candidate> mine;
    for (size_t i = static_cast<size_t>(s.shard_index); i < candidates.size(); i += static_cast<size_t>(s.shard_count))
      mine.push_back(candidates[i]);
    candidates = std::move(mine);
  }

  ReportHeader header;
  header.key = make_key(s);
  header.command = command_line(s);
  header.machine = fmt::format("{} ({} cores), oneDNN {}, ISA {}", cpu_model(), available_cores(), onednn_version(), onednn_isa());
  header.date = utc_now();
  header.timing = timing_words(s);
  header.objective = std::string(to_string(s.objective));
  const LayerCost baseline_cost = network_cost(expand(s.model.baseline)).total;
  header.baseline_macs = baseline_cost.macs;

  // Resume: rows of an earlier report of the same search are kept and not measured again.
  std::vector<CandidateResult> results;
  std::set<std::tuple<Decimal, Decimal, Decimal>> done;
  if (s.resume_path) {
    const Report earlier = parse_report(read_text_file(*s.resume_path, "resume report"), *s.resume_path);
    const std::string difference = header.key.difference(earlier.header.key);
    if (!difference.empty())
      throw Error(fmt::format("resume report '{}' was made by a different search ({}, this search vs the report)",
                              *s.resume_path, difference));
    for (const auto& r : earlier.results) {
      if (done.insert({r.candidate.alpha, r.candidate.beta, r.candidate.gamma}).second) results.push_back(r);
    }
    if (earlier.header.baseline_latency_ms) header.baseline_latency_ms = earlier.header.baseline_latency_ms;
  }
  std::vector<CandidateResult> todo;
  for (const auto& c : candidates) {
    if (done.count({c.alpha, c.beta, c.gamma})) continue;
    CandidateResult r;
    r.candidate = c;
    todo.push_back(r);
  }

  // Everything the report needs is known to be valid: check the output is writable before working.
  if (s.output_path.empty()) throw Error("--output is empty");
  const auto slash = s.output_path.rfind('/');
  if (!result.count("output") && slash != std::string::npos) {
    ensure_directory(s.output_path.substr(0, slash));
  }

  const auto started = std::chrono::steady_clock::now();
  evaluate_costs(s.model.baseline, s.phi, s.constraint.target.value(), s.model.max_memory, todo);
  InterruptGuard guard;
  bool interrupted = false;
  if (s.latency) {
    if (io.err_is_terminal)
      io.err << fmt::format("search: {} candidates ({} of {} grid triples{}), {} to measure\n", candidates.size(),
                            candidates.size(), grid_size, s.shard_count > 1 ? ", this shard" : "", todo.size());
    // The baseline is timed with the candidates, under the same conditions.
    CandidateResult base;
    base.factors = {1.0, 1.0, s.model.baseline.resolution};
    base.cost = baseline_cost;
    std::vector<CandidateResult*> pointers;
    if (!header.baseline_latency_ms && !todo.empty()) pointers.push_back(&base);
    for (auto& r : todo) pointers.push_back(&r);
    const auto measure_start = std::chrono::steady_clock::now();
    const bool interrupt_after_batch = failpoint("interrupt-after-batch");
    measure_latencies(s.model.baseline, pointers, s.measure, &InterruptGuard::flag(), [&](size_t done_count, size_t total) {
      if (interrupt_after_batch) InterruptGuard::raise_for_testing();
      if (!io.err_is_terminal) return;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - measure_start).count();
      const double eta = done_count > 0 ? elapsed / static_cast<double>(done_count) * static_cast<double>(total - done_count) : 0;
      io.err << fmt::format("\rsearch: measured {}/{} candidates, {} elapsed, about {} left   ", done_count, total,
                            format_duration(elapsed), format_duration(eta))
             << std::flush;
    });
    if (io.err_is_terminal) io.err << '\n';
    if (base.latency) header.baseline_latency_ms = base.latency->median_ms;
    interrupted = InterruptGuard::interrupted();
  }
  for (auto& r : todo) {
    // An interrupted run keeps only what completed.
    if (interrupted && r.ok() && !r.latency) continue;
    results.push_back(std::move(r));
  }
  for (auto& r : results) {
    auto it = accuracy.find({r.candidate.alpha, r.candidate.beta, r.candidate.gamma});
    r.top1 = it == accuracy.end() ? std::nullopt : std::optional<double>(it->second);
  }
  ScoreSettings score;
  if (s.latency_target_ms) {
    score.latency_target_ms = *s.latency_target_ms;
  } else if (header.baseline_latency_ms) {
    score.latency_target_ms = *header.baseline_latency_ms * std::pow(s.constraint.target.value(), s.phi);
  }
  rank_results(results, s.objective, score);
  write_file_atomic(s.output_path, format_report(header, results, s.objective, score));
  if (plot_path) write_file_atomic(*plot_path, search_plot_svg(header, results, s.objective, score, s.top));

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (interrupted) {
    io.err << fmt::format("effscale: interrupted; {} completed rows kept in {}\nresume with: {} --resume {}\n",
                          results.size(), s.output_path, join(args_for_resume(args), " "), s.output_path);
    return kExitInterrupted;
  }
  std::ostringstream out;
  switch (format) {
    case Format::kTable:
      out << search_summary_text(header, results, s.objective, score, s.top, SearchCounts{grid_size, candidates.size(), todo.size(), seconds},
                                 s.output_path);
      break;
    case Format::kCsv: write_csv(search_data(results, s.objective, score), out); break;
    case Format::kJson:
      write_json_tables(out, search_meta(header), {{"candidates", search_data(results, s.objective, score)}});
      break;
  }
  io.out << out.str();
  io.out.flush();
  return kExitOk;
}

int cmd_merge(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale merge",
                        "Joins reports of one search (e.g. its shards) into one ranked report. Refuses reports made\n"
                        "with different options; a candidate in several reports is kept once.");
  opts.positional_help("REPORT.csv...");
  opts.add_options()("reports", "Reports", cxxopts::value<std::vector<std::string>>())
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
  const auto paths = result["reports"].as<std::vector<std::string>>();
  const int top = int_option(result, "top", 10, 1, 1000000);
  std::optional<double> latency_target;
  if (auto t = option_text(result, "latency-target")) {
    latency_target = require_double(*t, "--latency-target");
    if (!(*latency_target > 0)) throw Error(fmt::format("--latency-target {} must be greater than 0", *latency_target));
  }

  std::vector<Report> reports;
  for (const auto& p : paths) reports.push_back(parse_report(read_text_file(p, "report"), p));
  for (size_t i = 1; i < reports.size(); ++i) {
    const std::string difference = reports[0].header.key.difference(reports[i].header.key);
    if (!difference.empty())
      throw Error(fmt::format("'{}' and '{}' come from different searches ({})", paths[0], paths[i], difference));
  }
  const Objective objective =
      parse_objective(option_text(result, "rank-by").value_or(reports[0].header.objective.empty() ? "norm-latency"
                                                                                                 : reports[0].header.objective));
  ReportHeader header = reports[0].header;
  std::vector<double> baseline_latencies;
  std::vector<CandidateResult> merged;
  std::set<std::tuple<Decimal, Decimal, Decimal>> seen;
  for (const auto& r : reports) {
    if (r.header.baseline_latency_ms) baseline_latencies.push_back(*r.header.baseline_latency_ms);
    for (const auto& c : r.results)
      if (seen.insert({c.candidate.alpha, c.candidate.beta, c.candidate.gamma}).second) merged.push_back(c);
  }
  if (!baseline_latencies.empty()) header.baseline_latency_ms = summarize(baseline_latencies).median_ms;
  header.command = fmt::format("effscale merge {}", join(paths, " "));
  header.date = utc_now();
  header.objective = std::string(to_string(objective));
  ScoreSettings score;
  if (latency_target) {
    score.latency_target_ms = *latency_target;
  } else if (header.baseline_latency_ms) {
    const auto& f = header.key.fields;
    double target = 2, phi = 1;
    for (const auto& [k, v] : f) {
      if (k == "target") target = require_double(v, "report target");
      if (k == "phi") phi = require_double(v, "report phi");
    }
    score.latency_target_ms = *header.baseline_latency_ms * std::pow(target, phi);
  }
  if (needs_latency(objective)) {
    const bool any = std::any_of(merged.begin(), merged.end(), [](const CandidateResult& c) { return c.latency.has_value(); });
    if (!any) throw Error(fmt::format("--rank-by {} needs latency, and these reports have none", to_string(objective)));
  }
  rank_results(merged, objective, score);
  const std::string report = format_report(header, merged, objective, score);
  if (auto out = option_text(result, "output")) write_file_atomic(*out, report);
  std::ostringstream out;
  switch (format) {
    case Format::kTable:
      out << search_summary_text(header, merged, objective, score, top, SearchCounts{0, merged.size(), 0, 0},
                                 option_text(result, "output").value_or(""));
      break;
    case Format::kCsv: write_csv(search_data(merged, objective, score), out); break;
    case Format::kJson: write_json_tables(out, search_meta(header), {{"candidates", search_data(merged, objective, score)}}); break;
  }
  io.out << out.str();
  io.out.flush();
  return kExitOk;
}

}  // namespace effscale
