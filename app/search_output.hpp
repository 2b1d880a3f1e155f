#pragma once
// Printers of search results, shared by `search` and `merge`: the terminal summary (with the
// ties said in words), the report's metadata as JSON fields, and the SVG plot.

#include <string>
#include <utility>
#include <vector>

#include "report/table.hpp"
#include "search_pipeline.hpp"

namespace effscale {

/// Sizes for the summary line (zeros after a merge).
struct SummaryCounts {
  SearchCounts counts;
  double seconds = 0;
};

/// The terminal summary: how the report was made, the top-K table (tied ranks marked '='),
/// which candidates the measurement cannot order, where the paper's triple ranks, the report's
/// path.
std::string search_summary_text(const ReportHeader& header, const std::vector<CandidateResult>& ranked,
                                Objective objective, const ScoreSettings& score, int top, const SummaryCounts& counts,
                                const std::string& report_path);

/// How the report was made, as JSON fields.
std::vector<std::pair<std::string, Cell>> search_meta(const ReportHeader& header);

/// SVG: MAC ratio vs latency of every measured candidate, the top `top` (at most 5) marked.
std::string search_plot_svg(const ReportHeader& header, const std::vector<CandidateResult>& ranked,
                            Objective objective, const ScoreSettings& score, int top);

/// The command that resumes from `report`: `args` without --resume and --output, then
/// --resume REPORT --output REPORT-resumed (an output must not be the report it reads).
std::vector<std::string> args_for_resume(const std::vector<std::string>& args, const std::string& report);

}  // namespace effscale
