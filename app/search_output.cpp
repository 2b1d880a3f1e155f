#include "search_output.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "report/svg_plot.hpp"
#include "text.hpp"

namespace effscale {

namespace {

bool is_paper_triple(const Candidate& c) {
  return c.alpha == Decimal{12, 1} && c.beta == Decimal{11, 1} && c.gamma == Decimal{115, 2};
}

std::string objective_words(Objective o) {
  switch (o) {
    case Objective::kRelLatency:
      return "rel-latency (latency / the baseline's, each timed next to it; at equal MACs; lower is better)";
    case Objective::kNormLatency: return "norm-latency (latency x target MACs / achieved MACs; lower is better)";
    case Objective::kLatency: return "latency (lower is better)";
    case Objective::kMacsError: return "macs-error (|achieved MAC ratio / target - 1|; lower is better)";
    case Objective::kParams: return "params (lower is better)";
    case Objective::kActivations: return "activations (lower is better)";
    case Objective::kScore: return "score (MnasNet: top1 x (latency / target)^-0.07; higher is better)";
  }
  return "";
}

std::string triple(const Candidate& c) { return fmt::format("({}, {}, {})", c.alpha.text(), c.beta.text(), c.gamma.text()); }

}  // namespace

std::string search_summary_text(const ReportHeader& h, const std::vector<CandidateResult>& ranked, Objective objective,
                                const ScoreSettings& score, int top, const SummaryCounts& counts,
                                const std::string& report_path) {
  std::ostringstream out;
  out << h.command << '\n';
  if (!h.machine.empty()) out << "machine: " << h.machine << '\n';
  out << "timing: " << h.timing << '\n';
  std::string baseline = fmt::format("baseline: {} MACs", human(static_cast<double>(h.baseline_macs), 1e9) + "B");
  if (h.baseline_latency_ms) baseline += fmt::format(", {:.3f} ms", *h.baseline_latency_ms);
  if (objective == Objective::kScore) baseline += fmt::format("; latency target {:.3f} ms", score.latency_target_ms);
  out << baseline << '\n';
  if (counts.counts.grid > 0) {
    out << fmt::format("{} of {} grid triples satisfy the constraint ({} distinct networks); {} evaluated in this run, "
                       "{} networks timed ({:.1f} s)\n",
                       counts.counts.candidates, counts.counts.grid, counts.counts.networks, counts.counts.evaluated,
                       counts.counts.measured, counts.seconds);
  }
  for (const auto& w : h.warnings) out << "warning: " << w << '\n';
  out << "ranked by " << objective_words(objective) << "\n\n";

  const bool with_latency = std::any_of(ranked.begin(), ranked.end(), [](const auto& r) { return r.latency.has_value(); });
  TextTable t;
  t.headers = {"rank", "alpha", "beta", "gamma", "phi*", "res", "MAC ratio", "params"};
  if (with_latency) t.headers.insert(t.headers.end(), {"rel latency [95%]", "ms", "runs"});
  t.headers.push_back("objective");
  t.right_aligned.assign(t.headers.size(), true);
  int shown = 0;
  for (const auto& r : ranked) {
    if (shown >= top) break;
    ++shown;
    const auto value = objective_value(r, objective, score);
    std::vector<std::string> row = {r.rank > 0 ? std::to_string(r.rank) + (r.tied ? "=" : " ") : "- ",
                                    r.candidate.alpha.text(), r.candidate.beta.text(), r.candidate.gamma.text(),
                                    fmt::format("{:.3f}", r.phi_star), std::to_string(r.factors.resolution),
                                    fmt::format("{:.3f} ({:+.1f}%)", r.mac_ratio, 100 * r.mac_error),
                                    human(static_cast<double>(r.cost.params), 1e6) + "M"};
    if (with_latency) {
      const auto& l = r.latency;
      row.push_back(l ? fmt::format("{:.3f} [{:.3f}, {:.3f}]", l->rel.estimate, l->rel.low, l->rel.high) : "");
      row.push_back(l ? fmt::format("{:.3f}", l->ms) : "");
      row.push_back(l ? (l->runs > 0 ? std::to_string(l->runs) : "pred") : "");
    }
    row.push_back(value ? fmt::format("{:.4g}", *value) : r.status.text());
    t.rows.push_back(row);
  }
  write_text(t, out);

  // Ties, in words.
  if (!ranked.empty() && ranked.front().rank > 0 && needs_latency(objective)) {
    const int networks = tie_group_networks(ranked);
    const auto winner = objective_interval(ranked.front(), objective, score);
    if (networks > 1) {
      size_t candidates = 0;
      int last_rank = 0;
      for (const auto& r : ranked)
        if (r.tied) {
          ++candidates;
          last_rank = std::max(last_rank, r.rank);
        }
      if (h.key.get("latency") == "predicted")
        out << fmt::format("\ntied: the prediction cannot order the first {} networks ({} candidates, ranks 1-{}, marked "
                           "'='): their 95% intervals overlap the winner's [{:.4g}, {:.4g}]; --verify K measures the "
                           "top K.\n",
                           networks, candidates, last_rank, winner->low, winner->high);
      else
        out << fmt::format("\ntied: the measurement cannot order the first {} networks ({} candidates, ranks 1-{}, marked "
                           "'='): their 95% intervals overlap the winner's [{:.4g}, {:.4g}]. Any of them is as fast as "
                           "the winner on this machine; more --budget narrows the intervals.\n",
                           networks, candidates, last_rank, winner->low, winner->high);
    } else if (ranked.size() > 1 && winner) {
      out << fmt::format("\nthe winner {} stands alone: its 95% interval [{:.4g}, {:.4g}] overlaps no other network's.\n",
                         triple(ranked.front().candidate), winner->low, winner->high);
    }
  }
  for (const auto& r : ranked) {
    if (!is_paper_triple(r.candidate)) continue;
    const auto value = objective_value(r, objective, score);
    const auto best = objective_value(ranked.front(), objective, score);
    if (value && best && *best != 0 && r.rank > 0) {
      out << fmt::format("the paper's (1.2, 1.1, 1.15): rank {} of {}{}, objective {:.4g} vs the winner's {:.4g} ({:+.1f}%)\n",
                         r.rank, ranked.size(), r.tied ? " (tied with the winner)" : "", *value, *best,
                         100 * (*value / *best - 1));
    }
  }
  if (!h.verified.empty()) {
    out << "\nverified: " << h.verified.front() << '\n';
    for (size_t i = 1; i < h.verified.size(); ++i) out << "  " << h.verified[i] << '\n';
  }
  const size_t failed = static_cast<size_t>(std::count_if(ranked.begin(), ranked.end(), [](const auto& r) { return !r.ok(); }));
  if (failed) out << fmt::format("{} candidate(s) failed or were skipped; see the status column of the report\n", failed);
  if (!report_path.empty()) out << fmt::format("\nreport: {} ({} rows)\n", report_path, ranked.size());
  return out.str();
}

std::vector<std::pair<std::string, Cell>> search_meta(const ReportHeader& h) {
  std::vector<std::pair<std::string, Cell>> meta = {{"command", h.command}, {"machine", h.machine}, {"date", h.date},
                                                    {"timing", h.timing},   {"key", h.key.text()},  {"baseline_macs", h.baseline_macs},
                                                    {"objective", h.objective}};
  if (h.baseline_latency_ms) meta.emplace_back("baseline_latency_ms", *h.baseline_latency_ms);
  if (h.drift) meta.emplace_back("drift", *h.drift);
  for (const auto& w : h.warnings) meta.emplace_back("warning", w);
  return meta;
}

std::string search_plot_svg(const ReportHeader& h, const std::vector<CandidateResult>& ranked, Objective objective,
                            const ScoreSettings& /*score*/, int top) {
  PlotPanel panel;
  panel.title = "Candidates: MAC ratio vs latency";
  panel.x_label = "MAC ratio to the baseline";
  panel.y_label = "latency (ms, relative latency x the baseline's median; bars: 95% interval)";
  panel.log_y = true;
  PlotSeries all;
  all.name = "candidates";
  all.line = false;
  for (const auto& r : ranked) {
    if (!r.latency) continue;
    const Interval ms = r.latency->ms_interval();
    all.x.push_back(r.mac_ratio);
    all.y.push_back(r.latency->ms);
    all.y_low.push_back(ms.low);
    all.y_high.push_back(ms.high);
    if (r.rank > 0 && r.rank <= std::min(top, 5)) {
      panel.marks.push_back({r.mac_ratio, r.latency->ms, fmt::format("#{}{} {}", r.rank, r.tied ? "=" : "", triple(r.candidate))});
    }
    if (is_paper_triple(r.candidate)) {
      PlotSeries paper;
      paper.name = "paper (1.2, 1.1, 1.15)";
      paper.line = false;
      paper.x = {r.mac_ratio};
      paper.y = {r.latency->ms};
      panel.series.push_back(paper);
    }
  }
  panel.series.insert(panel.series.begin(), all);
  // Every candidate aims at the same MAC ratio T^phi (render_svg skips a line it cannot draw).
  if (!ranked.empty() && ranked.front().target_ratio > 0) {
    panel.x_lines.push_back({ranked.front().target_ratio, fmt::format("target {:.3g}x", ranked.front().target_ratio)});
  }
  return render_svg(fmt::format("effscale search, ranked by {}", to_string(objective)), {panel}, h.machine);
}

std::vector<std::string> args_for_resume(const std::vector<std::string>& args, const std::string& report) {
  std::vector<std::string> out = {"effscale"};
  const std::vector<std::string> dropped = {"--resume", "--output", "-o"};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string name = args[i].substr(0, args[i].find('='));
    if (std::find(dropped.begin(), dropped.end(), name) == dropped.end()) {
      out.push_back(args[i]);
    } else if (name == args[i]) {
      ++i;  // the option's value follows it
    }
  }
  // The resumed run writes a new report beside the old one, which it reads.
  const auto dot = report.rfind('.');
  const bool extension = dot != std::string::npos && report.find('/', dot) == std::string::npos && dot > 0;
  const std::string next_report =
      extension ? report.substr(0, dot) + "-resumed" + report.substr(dot) : report + "-resumed";
  out.insert(out.end(), {"--resume", report, "--output", next_report});
  return out;
}

}  // namespace effscale
