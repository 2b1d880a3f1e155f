#pragma once
// Printers of search results, shared by `search` and `merge`: the terminal summary, the data
// table for CSV/JSON on standard output, and the SVG plot.

#include <string>
#include <utility>
#include <vector>

#include "report/table.hpp"
#include "search.hpp"

namespace effscale {

/// Sizes for the summary line.
struct SearchCounts {
  size_t grid = 0;        ///< raw grid triples (0: unknown, e.g. after a merge)
  size_t candidates = 0;  ///< triples that satisfy the constraint (this shard's)
  size_t measured = 0;    ///< candidates evaluated in this run
  double seconds = 0;
};

/// The terminal summary: how the report was made, the top-K table, where the paper's triple
/// ranks, and the report's path.
std::string search_summary_text(const ReportHeader& header, const std::vector<CandidateResult>& ranked,
                                Objective objective, const ScoreSettings& score, int top, const SearchCounts& counts,
                                const std::string& report_path);

/// Every result, ranked, with the report's columns.
DataTable search_data(const std::vector<CandidateResult>& ranked, Objective objective, const ScoreSettings& score);

/// How the report was made, as JSON fields.
std::vector<std::pair<std::string, Cell>> search_meta(const ReportHeader& header);

/// SVG: MAC ratio vs latency of every measured candidate, the top `top` (at most 5) marked.
std::string search_plot_svg(const ReportHeader& header, const std::vector<CandidateResult>& ranked,
                            Objective objective, const ScoreSettings& score, int top);

/// The command-line arguments without any --resume option (to print a resume command).
std::vector<std::string> args_for_resume(const std::vector<std::string>& args);

}  // namespace effscale
