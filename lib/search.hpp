#pragma once
// Compound-scaling grid search: exact decimal grids for alpha (depth), beta (width) and gamma
// (resolution), the constraint alpha * beta^2 * gamma^2 ~ T, candidate evaluation (cost, and
// latency through the bench harness), ranking, and the report format that resume and merge read.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "bench.hpp"
#include "cost.hpp"
#include "report/table.hpp"
#include "scaling.hpp"
#include "spec.hpp"

namespace effscale {

/// An exact decimal number: units / 10^digits. Grid values are kept this way so that 1.15 stays
/// 1.15 (its text and its nearest double), never 1.1500000000000001.
struct Decimal {
  std::int64_t units = 0;
  int digits = 0;
  /// The nearest double to the exact value.
  double value() const;
  /// Shortest exact spelling: "1.15", "1.2", "1".
  std::string text() const;
  bool operator==(const Decimal& o) const;
  bool operator<(const Decimal& o) const;
};

/// A non-negative decimal spelled with digits and at most one point ("1.15", "2", "0.005"), at
/// most `max_digits` decimals. Throws Error naming `what`.
Decimal parse_decimal(std::string_view text, std::string_view what, int max_digits = 6);

/// One axis of the grid: start:stop:step (or a single value), exact.
struct GridAxis {
  std::string name;  ///< "alpha", "beta", "gamma"
  int digits = 0;    ///< common decimals of start, stop, step
  std::int64_t start = 0, stop = 0, step = 1;  ///< in units of 10^-digits
  size_t size() const { return static_cast<size_t>((stop - start) / step) + 1; }
  Decimal at(size_t i) const { return {start + static_cast<std::int64_t>(i) * step, digits}; }
  /// "1:2:0.05", canonical.
  std::string spec() const;
};

/// Parses "start:stop:step" or a single value "1.2". Values must be >= 1 (compound scaling never
/// shrinks a dimension), step > 0, start <= stop, at most 4 decimals and 100,000 values. Throws
/// Error naming the axis and what is allowed.
GridAxis parse_grid_axis(std::string_view text, std::string_view name);

/// A triple that satisfies the constraint.
struct Candidate {
  Decimal alpha, beta, gamma;
  std::string product;  ///< alpha * beta^2 * gamma^2, exact decimal text ("1.92027")
  double product_value = 0;
  std::int64_t index = 0;  ///< position in the full grid enumeration (alpha-major)
};

/// The constraint |alpha beta^2 gamma^2 - T| / T <= tolerance, evaluated exactly.
struct Constraint {
  Decimal target{2, 0};
  Decimal tolerance{5, 2};
};

/// Candidates of the grid that satisfy the constraint, in enumeration order. Throws Error when the
/// target is outside (0, 1e6), the tolerance outside [0, 1], or either has more than 4 decimals. `nearest`, if given,
/// receives the closest products found (for an "empty set" message), closest first.
std::vector<Candidate> enumerate_candidates(const GridAxis& alpha, const GridAxis& beta, const GridAxis& gamma,
                                            const Constraint& constraint, std::vector<Candidate>* nearest = nullptr);

/// The evaluation of one candidate.
struct CandidateResult {
  Candidate candidate;
  ScaleFactors factors;      ///< depth alpha^phi, width beta^phi, resolution round(base * gamma^phi)
  LayerCost cost;
  std::int64_t peak_memory_bytes = 0;
  double mac_ratio = 0;      ///< MACs / baseline MACs
  double target_ratio = 0;   ///< T^phi
  double mac_error = 0;      ///< mac_ratio / target_ratio - 1
  std::optional<TimingStats> latency;
  std::optional<double> top1;   ///< from --accuracy
  std::string status = "ok";    ///< "ok", or "failed: <reason>" / "skipped: <reason>"
  bool ok() const { return status == "ok"; }
  /// latency * target MACs / achieved MACs (fair across the tolerance band).
  std::optional<double> norm_latency_ms() const;
};

/// What the search ranks by.
enum class Objective { kNormLatency, kLatency, kMacsError, kParams, kActivations, kScore };

std::string_view to_string(Objective objective);

/// "norm-latency", "latency", "macs-error", "params", "activations", "score".
Objective parse_objective(std::string_view text);

bool needs_latency(Objective objective);

/// Inputs of the MnasNet objective ACC * (LAT / T)^w.
struct ScoreSettings {
  double latency_target_ms = 0;  ///< T
  double weight = -0.07;         ///< w
};

/// The objective value of a result, if it has one (lower is better, except score).
std::optional<double> objective_value(const CandidateResult& r, Objective objective, const ScoreSettings& score);

/// Sorts results best first: results with the objective by value (score descending, the others
/// ascending), then ok results without it, then failed ones; ties by alpha, beta, gamma.
void rank_results(std::vector<CandidateResult>& results, Objective objective, const ScoreSettings& score);

/// Everything that defines a search (which results are comparable). Reports carry it; resume and
/// merge refuse reports whose key differs.
struct SearchKey {
  std::vector<std::pair<std::string, std::string>> fields;  ///< in a fixed order
  std::string text() const;                                   ///< "k=v;k=v"
  static SearchKey parse(std::string_view text);
  /// The first field that differs, as "phi: 1 vs 2", or "" when equal.
  std::string difference(const SearchKey& other) const;
};

/// Header lines of a report ("# key: value").
struct ReportHeader {
  std::string command;       ///< how it was made
  std::string machine;       ///< CPU, cores, oneDNN, ISA
  std::string date;
  std::string timing;        ///< measurement settings in words
  SearchKey key;
  std::int64_t baseline_macs = 0;
  std::optional<double> baseline_latency_ms;
  std::string objective;
};

/// Column names of a report.
const std::vector<std::string>& report_columns();

/// The rows of a report as a data table (report_columns()), ranks filled for results that have
/// the objective.
DataTable report_table(const std::vector<CandidateResult>& results, Objective objective, const ScoreSettings& score);

/// A full report: '#' header lines, the CSV header, one row per result in the given order.
std::string format_report(const ReportHeader& header, const std::vector<CandidateResult>& results,
                          Objective objective, const ScoreSettings& score);

/// Reads a report written by format_report. Throws Error naming the file and line.
struct Report {
  ReportHeader header;
  std::vector<CandidateResult> results;
};
Report parse_report(std::string_view text, std::string_view source);

/// The user's measured accuracies: CSV with columns alpha,beta,gamma,top1 (any order, extra
/// columns ignored). Keyed by exact decimal triples.
using AccuracyTable = std::map<std::tuple<Decimal, Decimal, Decimal>, double>;
AccuracyTable parse_accuracy(std::string_view text, std::string_view source);

/// Scale factors of a candidate at phi.
ScaleFactors candidate_factors(const Candidate& c, double phi, int base_resolution);

/// Fills cost, ratios and (when the model is over `max_memory`) a "skipped" status for every
/// result, in parallel on TBB workers. `results[i].candidate` must be set.
void evaluate_costs(const NetworkSpec& baseline, double phi, double target, std::int64_t max_memory,
                    std::vector<CandidateResult>& results);

/// How candidates are measured.
struct MeasureOptions {
  int cores = 0;             ///< cores to use in all (0 = every core)
  int parallel = 1;          ///< candidates timed at once, each with cores / parallel threads
  int warmup_runs = 2;
  int runs = 20;             ///< timed runs per candidate ...
  int rounds = 4;            ///< ... in this many interleaved rounds
  int batch = 1;             ///< images per forward pass
  ActivationLayout layout = ActivationLayout::kBlocked;
  std::uint64_t seed = 1;
  std::int64_t max_memory = 0;  ///< bytes for the networks of one batch
};

/// Measures the latency of every result whose status is ok (include the unscaled baseline as
/// a result to time it under the same conditions). Candidates are built in batches in
/// parallel on TBB workers, then timed with no other work of the tool running; within a batch,
/// timing rounds interleave candidates. A candidate that fails is marked "failed: <reason>" and
/// the rest go on. Stops early (leaving later results without latency) when `stop` is set.
/// `progress(done, total)` is called after each batch.
void measure_latencies(const NetworkSpec& baseline, std::vector<CandidateResult*> results, const MeasureOptions& options,
                       const std::atomic<bool>* stop, const std::function<void(size_t, size_t)>& progress);

}  // namespace effscale
