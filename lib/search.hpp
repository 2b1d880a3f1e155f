#pragma once
// The pure parts of the compound-scaling search: a candidate's result, the ranking objectives
// (with their intervals and ties), the search key that decides which reports are comparable,
// and the report format (one table of columns, written and read back by the same code).
// No oneDNN, no TBB: the pipeline that fills these is search_pipeline.hpp.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "cost.hpp"
#include "grid.hpp"
#include "measure.hpp"
#include "report/table.hpp"
#include "scaling.hpp"
#include "status.hpp"

namespace effscale {

/// The evaluation of one candidate.
struct CandidateResult {
  Candidate candidate;
  double phi = 1;            ///< the search's phi
  double phi_star = 1;       ///< the phi the model was built at (= phi unless calibrated)
  ScaleFactors factors;      ///< depth alpha^phi*, width beta^phi*, resolution round(base * gamma^phi*)
  LayerCost cost;
  std::int64_t peak_memory_bytes = 0;
  double mac_ratio = 0;      ///< MACs / baseline MACs
  double target_ratio = 0;   ///< T^phi
  double mac_error = 0;      ///< mac_ratio / target_ratio - 1
  std::string network;       ///< network_id() of its layer list: same id, same network
  std::optional<Latency> latency;
  std::optional<double> top1;   ///< from --accuracy
  RowStatus status;
  int rank = 0;              ///< set by rank_results: 1 = best; 0 = not ranked
  bool tied = false;         ///< set by rank_results: cannot be told apart from the winner
  bool ok() const { return status.ok(); }
  /// latency x target MACs / achieved MACs (fair across the tolerance band).
  std::optional<double> norm_latency_ms() const;
};

/// What the search ranks by.
enum class Objective { kRelLatency, kNormLatency, kLatency, kMacsError, kParams, kActivations, kScore };

std::string_view to_string(Objective objective);

/// "rel-latency", "norm-latency", "latency", "macs-error", "params", "activations", "score".
Objective parse_objective(std::string_view text);

/// Every objective, in help order.
const std::vector<Objective>& all_objectives();

bool needs_latency(Objective objective);

/// Inputs of the MnasNet objective ACC * (LAT / T)^w.
struct ScoreSettings {
  double latency_target_ms = 0;  ///< T
  double weight = -0.07;         ///< w
};

/// The objective of a result with its 95% interval (exact objectives: a zero-width interval),
/// if it has one. Lower is better, except score.
std::optional<Interval> objective_interval(const CandidateResult& r, Objective objective, const ScoreSettings& score);

/// The objective's point value.
std::optional<double> objective_value(const CandidateResult& r, Objective objective, const ScoreSettings& score);

/// Sorts results best first and sets rank and tied. Results with the objective come by value
/// (score descending, the others ascending); equal values (the same network) share a rank;
/// then ok results without it, then failed or skipped ones. `tied` marks every result whose
/// interval overlaps the winner's, the winner included, when at least two networks do.
/// Equal values are ordered by (alpha, beta, gamma) only to make the output deterministic.
void rank_results(std::vector<CandidateResult>& results, Objective objective, const ScoreSettings& score);

/// Number of distinct networks among ranked results tied with the winner (1: the winner stands
/// alone; 0: nothing ranked).
int tie_group_networks(const std::vector<CandidateResult>& ranked);

/// Everything that defines a search (which results are comparable). Reports carry it; resume
/// refuses a report whose key differs; merge tolerates different machines (kMachineKeyFields).
struct SearchKey {
  std::vector<std::pair<std::string, std::string>> fields;  ///< in a fixed order
  std::string text() const;                                   ///< "k=v;k=v", '%', ';' and '=' escaped
  static SearchKey parse(std::string_view text);
  /// The value of `name`, or "".
  std::string get(std::string_view name) const;
  /// The first field that differs, as "phi: 1 vs 2", or "" when equal. Fields named in `ignore`
  /// are not compared.
  std::string difference(const SearchKey& other, const std::vector<std::string>& ignore = {}) const;
};

/// Key fields that name the machine: CPU model, cores, oneDNN version.
const std::vector<std::string>& machine_key_fields();

/// Header lines of a report ("# key: value").
struct ReportHeader {
  std::string command;       ///< how it was made
  std::string machine;       ///< CPU, cores, oneDNN, ISA
  std::string date;
  std::string timing;        ///< measurement settings and what they achieved, in words
  SearchKey key;
  int shard_index = 0, shard_count = 1;
  std::int64_t baseline_macs = 0;
  std::optional<double> baseline_latency_ms;  ///< the reference's median over the run
  std::optional<double> drift;                ///< max / min of the reference's median per batch
  std::string objective;
  std::vector<std::string> warnings;
  std::vector<std::string> verified;  ///< --verify: predicted beside measured, one line per network
};

/// A report's rows and how they were ranked.
struct Report {
  ReportHeader header;
  std::vector<CandidateResult> results;
  std::vector<int> lines;  ///< the line of each row in its file
};

/// Column names of a report, in order.
std::vector<std::string> report_columns();

/// The rows of a report as a data table (report_columns()); results must be ranked.
DataTable report_table(const std::vector<CandidateResult>& ranked, Objective objective, const ScoreSettings& score);

/// A full report: '#' header lines, the CSV header, one row per result in the given order.
std::string format_report(const ReportHeader& header, const std::vector<CandidateResult>& ranked,
                          Objective objective, const ScoreSettings& score);

/// Reads a report written by format_report. Throws Error naming the source and line.
Report parse_report(std::string_view text, std::string_view source);

/// Checks every row of `report` against its own key and `baseline` (whose spec must be the key's):
/// the triple lies on the key's grids and satisfies its constraint, with its exact product; unless
/// skipped, the row's model (phi*, depth, width, resolution, params, MACs, activations, peak
/// memory, MAC ratios, network id) is what the triple builds; a measured row's latencies are
/// positive and consistent, and a search with latency has one for every ok row. Throws Error
/// naming the source, the line and the field: an edited row, or one of another search.
void validate_report(const Report& report, const NetworkSpec& baseline, std::string_view source);

/// The key's fingerprint of a baseline spec (the `baseline_spec` field).
std::string baseline_fingerprint(const NetworkSpec& baseline);

/// The user's measured accuracies: CSV with columns alpha,beta,gamma,top1 (any order, extra
/// columns ignored). Keyed by exact decimal triples.
using AccuracyTable = std::map<std::tuple<Decimal, Decimal, Decimal>, double>;
AccuracyTable parse_accuracy(std::string_view text, std::string_view source);

/// Which share of the candidates a process evaluates: candidates index, index + count, ...
struct Shard {
  int index = 0;
  int count = 1;
};

/// Reads --shard: "i/n" (0 <= i < n <= 1,000,000), or "auto", which takes i and n from a job
/// array's environment (read through `env`): Slurm's SLURM_ARRAY_TASK_ID, minus
/// SLURM_ARRAY_TASK_MIN when set, with n from SLURM_ARRAY_TASK_COUNT (or MAX - MIN + 1); or
/// Kubernetes' JOB_COMPLETION_INDEX, with n from `shards` (--shards), which also overrides
/// Slurm's count. Throws Error saying what is missing.
Shard parse_shard(std::string_view text, std::optional<int> shards, const std::function<const char*(const char*)>& env);

/// A model taken from a search report (--from-report): a ranked row and the baseline it scales.
struct ReportModel {
  NetworkSpec baseline;
  CandidateResult row;   ///< its factors (depth, width, resolution), triple and phi*
  int rank = 1;
  std::string source;
  int tied_with = 0;     ///< when the row is tied with the winner: other networks in that tie
};

/// Parses a report (`text`, named `source` in errors), checks it against its baseline
/// (validate_report) — `baseline` when the user named one, else the built-in one the report's key
/// names (a report of a baseline file needs that file) — and takes the first row of rank `rank`
/// as the report shows it. Throws Error naming the ranks the report has.
ReportModel model_from_report(std::string_view text, std::string_view source, int rank,
                              const std::optional<NetworkSpec>& baseline);

/// Scale factors of a candidate at phi.
ScaleFactors candidate_factors(const Candidate& c, double phi, int base_resolution);

}  // namespace effscale
