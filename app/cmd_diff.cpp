// effscale diff: do two runs agree? Two search reports, or two compare CSVs (lib/agreement.hpp).

#include <fmt/format.h>

#include <sstream>

#include "agreement.hpp"
#include "cli.hpp"
#include "error.hpp"
#include "io.hpp"
#include "options.hpp"
#include "text.hpp"

namespace effscale {

namespace {

bool is_search_report(const std::string& text) { return text.rfind("# effscale search report", 0) == 0; }

// "(1, 1.4, 1)" for a network of the report, the triples that build it.
std::string triples_of(const Report& r, const std::string& network) {
  std::vector<std::string> names;
  for (const auto& c : r.results)
    if (c.network == network)
      names.push_back(fmt::format("({}, {}, {})", c.candidate.alpha.text(), c.candidate.beta.text(), c.candidate.gamma.text()));
  if (names.size() > 2) return fmt::format("{} and {} more", names[0], names.size() - 1);
  return names.empty() ? network : join(names, " = ");
}

std::string met(bool ok) { return ok ? "met" : "NOT met"; }

}  // namespace

int cmd_diff(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options opts("effscale diff",
                        "Do two runs agree? For two search reports: the Spearman correlation of the relative latencies of\n"
                        "the networks both measured, the median and 90th percentile of |difference| / relative latency, and\n"
                        "whether each run's winner lies in the other's tie group. For two compare CSVs (compare --format\n"
                        "csv): per target, whether the strategies come in the same order except where a run declared a tie.");
  opts.positional_help("A B");
  opts.add_options()("reports", "Two reports", cxxopts::value<std::vector<std::string>>())
      ("min-spearman", "Goal for the rank correlation", cxxopts::value<std::string>()->default_value("0.9"), "R")
      ("max-median", "Goal for the median relative difference", cxxopts::value<std::string>()->default_value("0.02"), "X")
      ("max-p90", "Goal for its 90th percentile", cxxopts::value<std::string>()->default_value("0.05"), "X")
      ("check", "Exit with status 1 when a goal is not met")
      ("h,help", "Show this help");
  opts.parse_positional({"reports"});
  auto result = parse_options(opts, args);
  if (result.count("help")) {
    io.out << opts.help();
    return kExitOk;
  }
  const auto paths = result.count("reports") ? result["reports"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (paths.size() != 2) throw Error("diff takes exactly two reports (effscale diff A.csv B.csv)");
  auto goal = [&](const char* name) {
    const double v = require_double(result[name].as<std::string>(), fmt::format("--{}", name));
    if (!(v >= 0 && v <= 1)) throw Error(fmt::format("--{} {} is out of range [0, 1]", name, v));
    return v;
  };
  const double min_spearman = goal("min-spearman"), max_median = goal("max-median"), max_p90 = goal("max-p90");
  const std::string a_text = read_text_file(paths[0], "report", kMaxReportBytes),
                    b_text = read_text_file(paths[1], "report", kMaxReportBytes);
  if (is_search_report(a_text) != is_search_report(b_text))
    throw Error(fmt::format("'{}' and '{}' are not the same kind of report (one search report, one compare CSV)", paths[0], paths[1]));

  std::ostringstream out;
  bool ok = true;
  if (is_search_report(a_text)) {
    const Report a = parse_report(a_text, paths[0]), b = parse_report(b_text, paths[1]);
    const std::string difference = a.header.key.difference(b.header.key, machine_key_fields());
    if (!difference.empty())
      throw Error(fmt::format("'{}' and '{}' come from different searches ({})", paths[0], paths[1], difference));
    const SearchAgreement s = search_agreement(a, b);
    const bool spearman_ok = s.spearman >= min_spearman, median_ok = s.median_delta <= max_median,
               p90_ok = s.p90_delta <= max_p90;
    ok = spearman_ok && median_ok && p90_ok && s.winners_consistent();
    out << fmt::format("search reports {} (A) and {} (B): {} networks measured in both\n", paths[0], paths[1], s.networks);
    out << fmt::format("  Spearman of relative latency: {:.3f} (goal >= {}: {})\n", s.spearman, shortest(min_spearman),
                       met(spearman_ok));
    out << fmt::format("  |rel_B - rel_A| / rel_A: median {:.2f}%, p90 {:.2f}%, max {:.2f}% (goals <= {}%, <= {}%: {}, {})\n",
                       100 * s.median_delta, 100 * s.p90_delta, 100 * s.max_delta, shortest(100 * max_median),
                       shortest(100 * max_p90), met(median_ok), met(p90_ok));
    auto winner = [&](const char* run, const Report& r, const std::string& network, bool in_other, const char* other) {
      out << fmt::format("  winner of {}: {}: {}\n", run, triples_of(r, network),
                         in_other ? fmt::format("{}'s winner or tied with it", other)
                                  : fmt::format("NOT in {}'s tie group", other));
    };
    winner("A", a, s.winner_a, s.a_winner_in_b, "B");
    winner("B", b, s.winner_b, s.b_winner_in_a, "A");
  } else {
    const auto a = parse_compare_measurements(a_text, paths[0]), b = parse_compare_measurements(b_text, paths[1]);
    const auto targets = compare_agreement(a, b);
    if (targets.empty()) throw Error("the two compare reports share no measured target");
    out << fmt::format("compare reports {} (A) and {} (B):\n", paths[0], paths[1]);
    for (const auto& t : targets) {
      ok = ok && t.agrees();
      out << fmt::format("  target {}: {}\n", shortest(t.target),
                         t.agrees() ? "the same order, except where a run declared a tie"
                                    : "ordered differently, tied in neither run: " + join(t.disagreements, ", "));
    }
  }
  out << (ok ? "verdict: the runs agree\n" : "verdict: the runs disagree\n");
  io.out << out.str();
  io.out.flush();
  return result.count("check") && !ok ? kExitRuntime : kExitOk;
}

}  // namespace effscale
