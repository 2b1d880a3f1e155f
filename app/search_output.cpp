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
    case Objective::kNormLatency: return "norm-latency (latency x target MACs / achieved MACs; lower is better)";
    case Objective::kLatency: return "latency (median; lower is better)";
    case Objective::kMacsError: return "macs-error (|achieved MAC ratio / target - 1|; lower is better)";
    case Objective::kParams: return "params (lower is better)";
    case Objective::kActivations: return "activations (lower is better)";
    case Objective::kScore: return "score (MnasNet: top1 x (latency / target)^-0.07; higher is better)";
  }
  return "";
}

}  // namespace

std::string search_summary_text(const ReportHeader& h, const std::vector<CandidateResult>& ranked, Objective objective,
                                const ScoreSettings& score, int top, const SearchCounts& counts,
                                const std::string& report_path) {
  std::ostringstream out;
  out << h.command << '\n';
  out << "machine: " << h.machine << '\n';
  out << "timing: " << h.timing << '\n';
  std::string baseline = fmt::format("baseline: {} MACs", human(static_cast<double>(h.baseline_macs), 1e9) + "B");
  if (h.baseline_latency_ms) baseline += fmt::format(", {:.3f} ms", *h.baseline_latency_ms);
  if (objective == Objective::kScore) baseline += fmt::format("; latency target {:.3f} ms", score.latency_target_ms);
  out << baseline << '\n';
  if (counts.grid > 0) {
    out << fmt::format("{} of {} grid triples satisfy the constraint; {} evaluated in this run ({:.1f} s)\n",
                       counts.candidates, counts.grid, counts.measured, counts.seconds);
  }
  out << "ranked by " << objective_words(objective) << "\n\n";

  const bool with_latency = std::any_of(ranked.begin(), ranked.end(), [](const auto& r) { return r.latency.has_value(); });
  TextTable t;
  t.headers = {"rank", "alpha", "beta", "gamma", "product", "res", "MAC ratio", "params"};
  if (with_latency) t.headers.insert(t.headers.end(), {"latency ms", "p10-p90 ms", "norm ms"});
  t.headers.push_back("objective");
  t.right_aligned.assign(t.headers.size(), true);
  int shown = 0;
  int rank = 0;
  for (const auto& r : ranked) {
    const auto value = objective_value(r, objective, score);
    if (value) ++rank;
    if (shown >= top) continue;
    ++shown;
    std::vector<std::string> row = {value ? std::to_string(rank) : "-", r.candidate.alpha.text(), r.candidate.beta.text(),
                                    r.candidate.gamma.text(), fmt::format("{:.4f}", r.candidate.product_value),
                                    std::to_string(r.factors.resolution),
                                    fmt::format("{:.3f} ({:+.1f}%)", r.mac_ratio, 100 * r.mac_error),
                                    human(static_cast<double>(r.cost.params), 1e6) + "M"};
    if (with_latency) {
      const auto n = r.norm_latency_ms();
      row.push_back(r.latency ? fmt::format("{:.3f}", r.latency->median_ms) : "");
      row.push_back(r.latency ? fmt::format("{:.2f}-{:.2f}", r.latency->p10_ms, r.latency->p90_ms) : "");
      row.push_back(n ? fmt::format("{:.3f}", *n) : "");
    }
    row.push_back(value ? fmt::format("{:.4g}", *value) : r.status);
    t.rows.push_back(row);
  }
  write_text(t, out);

  rank = 0;
  for (const auto& r : ranked) {
    const auto value = objective_value(r, objective, score);
    if (value) ++rank;
    if (!is_paper_triple(r.candidate)) continue;
    const auto best = ranked.empty() ? std::nullopt : objective_value(ranked.front(), objective, score);
    if (value && best && *best != 0) {
      out << fmt::format("\nthe paper's (1.2, 1.1, 1.15): rank {} of {}, objective {:.4g} vs the winner's {:.4g} ({:+.1f}%)\n",
                         rank, ranked.size(), *value, *best, 100 * (*value / *best - 1));
    }
  }
  const size_t failed = static_cast<size_t>(std::count_if(ranked.begin(), ranked.end(), [](const auto& r) { return !r.ok(); }));
  if (failed) out << fmt::format("{} candidate(s) failed or were skipped; see the status column of the report\n", failed);
  if (!report_path.empty()) out << fmt::format("\nreport: {} ({} rows)\n", report_path, ranked.size());
  return out.str();
}

DataTable search_data(const std::vector<CandidateResult>& ranked, Objective objective, const ScoreSettings& score) {
  return report_table(ranked, objective, score);
}

std::vector<std::pair<std::string, Cell>> search_meta(const ReportHeader& h) {
  std::vector<std::pair<std::string, Cell>> meta = {{"command", h.command}, {"machine", h.machine}, {"date", h.date},
                                                    {"timing", h.timing},   {"key", h.key.text()},  {"baseline_macs", h.baseline_macs},
                                                    {"objective", h.objective}};
  if (h.baseline_latency_ms) meta.emplace_back("baseline_latency_ms", *h.baseline_latency_ms);
  return meta;
}

std::string search_plot_svg(const ReportHeader& h, const std::vector<CandidateResult>& ranked, Objective objective,
                            const ScoreSettings& score, int top) {
  PlotPanel panel;
  panel.title = "Candidates: MAC ratio vs latency";
  panel.x_label = "MAC ratio to the baseline";
  panel.y_label = "latency (ms, median)";
  panel.log_y = true;
  PlotSeries all;
  all.name = "candidates";
  all.line = false;
  int rank = 0;
  for (const auto& r : ranked) {
    const auto value = objective_value(r, objective, score);
    if (value) ++rank;
    if (!r.latency) continue;
    all.x.push_back(r.mac_ratio);
    all.y.push_back(r.latency->median_ms);
    if (value && rank <= std::min(top, 5)) {
      panel.marks.push_back({r.mac_ratio, r.latency->median_ms,
                             fmt::format("#{} ({}, {}, {})", rank, r.candidate.alpha.text(), r.candidate.beta.text(),
                                         r.candidate.gamma.text())});
    }
    if (is_paper_triple(r.candidate)) {
      PlotSeries paper;
      paper.name = "paper (1.2, 1.1, 1.15)";
      paper.line = false;
      paper.x = {r.mac_ratio};
      paper.y = {r.latency->median_ms};
      panel.series.push_back(paper);
    }
  }
  panel.series.insert(panel.series.begin(), all);
  return render_svg(fmt::format("effscale search, ranked by {} - {}", to_string(objective), h.machine), {panel});
}

std::vector<std::string> args_for_resume(const std::vector<std::string>& args) {
  std::vector<std::string> out = {"effscale"};
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--resume") {
      ++i;
      continue;
    }
    if (args[i].rfind("--resume=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

}  // namespace effscale
