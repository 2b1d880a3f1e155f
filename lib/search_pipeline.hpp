#pragma once
// The search and merge pipelines: a plan in, an outcome out. The command line reads options into
// a plan and prints the outcome; everything between (grid, constraint, sharding, resume,
// calibration to equal MACs, dedup of identical networks, measurement, accuracy join, ranking and
// ties) happens here.

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "measure_onednn.hpp"
#include "predict_pipeline.hpp"
#include "search.hpp"

namespace effscale {

/// Where a search's latencies come from.
enum class LatencySource {
  kMeasured,   ///< every distinct network timed next to the baseline
  kPredicted,  ///< the latency table's prediction (predict_pipeline.hpp); --verify measures the top K
  kNone,       ///< costs only
};

/// Everything a search needs.
struct SearchPlan {
  NetworkSpec baseline;
  std::string baseline_arg;  ///< as given on the command line (a name or a file path)
  GridAxis alpha, beta, gamma;
  Constraint constraint;
  double phi = 1;
  /// Scale each triple at its own phi* where its rounded model's MACs come closest to T^phi x the
  /// baseline's (equal-MAC comparison); false: at phi itself (the paper's procedure). The command
  /// line turns it off for searches without latency, which rank the literal models' costs.
  bool calibrate = true;
  bool latency = true;                         ///< has latency, measured or predicted (else costs only)
  LatencySource source = LatencySource::kMeasured;
  std::string table_path;                      ///< kPredicted: the latency table
  bool table_default = false;                  ///< ... at its default place (its folder is created)
  bool recalibrate = true;                     ///< kPredicted: refit on calibration networks measured now
  int verify = 0;                              ///< kPredicted: measure the top K distinct networks
  Objective objective = Objective::kRelLatency;
  AccuracyTable accuracy;                      ///< --accuracy, may be empty
  std::optional<double> latency_target_ms;     ///< score's T (default: baseline latency x T^phi)
  int shard_index = 0, shard_count = 1;
  std::optional<Report> resume;                ///< rows of an earlier run of the same search
  std::string resume_source;                   ///< its file name, for messages
  MeasureConfig measure;
  std::int64_t max_memory = 0;                 ///< bytes a network may need (network_memory_bytes)
  std::string command;                         ///< the command line, for the report
};

/// One network of --verify: its best-ranked candidate, predicted beside measured.
struct VerifiedNetwork {
  CandidateResult row;   ///< with the predicted latency, and its rank by prediction
  Latency measured;
  int rank = 0;          ///< by the measurement, among the verified
  bool tied = false;     ///< its measured interval overlaps the measured winner's
};

/// Sizes for summaries.
struct SearchCounts {
  size_t grid = 0;        ///< raw grid triples
  size_t candidates = 0;  ///< triples that satisfy the constraint (this shard's)
  size_t evaluated = 0;   ///< candidates evaluated in this run (not taken from --resume)
  size_t networks = 0;    ///< distinct networks among all rows
  size_t measured = 0;    ///< distinct networks timed in this run
};

/// What a search produced.
struct SearchOutcome {
  ReportHeader header;
  std::vector<CandidateResult> results;  ///< ranked
  Objective objective = Objective::kRelLatency;
  ScoreSettings score;
  SearchCounts counts;
  double seconds = 0;
  bool interrupted = false;  ///< rows of networks not completely measured were dropped
  std::optional<MeasureOutcome> measurement;
  std::optional<TableOutcome> table;           ///< kPredicted: the latency table and what building it took
  double prediction_seconds = 0;               ///< kPredicted: predicting every candidate
  std::vector<VerifiedNetwork> verified;       ///< --verify, ranked by the measurement
  Agreement agreement;                         ///< --verify: predicted vs measured over the verified networks
};

/// Callbacks of a running search (each may be empty).
struct SearchCallbacks {
  /// Once the plan is known to be valid (candidates exist, the resume report fits), before any
  /// work: the place to prepare outputs.
  std::function<void()> ready;
  std::function<void(const MeasureProgress&)> progress;
  /// After each measured batch: the report so far (rows whose measurement is complete), to keep
  /// on disk in case the run is killed.
  std::function<void(const SearchOutcome&)> checkpoint;
};

/// The search key of a plan: what makes two reports comparable.
SearchKey search_key(const SearchPlan& plan);

/// Runs the search. Throws Error for an empty candidate set (naming the nearest products), a
/// resume report of another search, or the reference failing; a failing candidate is recorded.
/// Stops early when `stop` is set (outcome.interrupted).
SearchOutcome run_search(const SearchPlan& plan, const std::atomic<bool>* stop, const SearchCallbacks& callbacks);

/// A search over several phi at once (--phi 1,2,3): every triple is judged on the family it
/// generates, by the geometric mean over those phi of its relative latency (each phi at its own
/// equal-MAC budget, as a single search does).
struct FamilyRow {
  Candidate candidate;
  std::vector<CandidateResult> per_phi;  ///< one result per plan phi, in order
  std::optional<Interval> geomean;       ///< of the relative latencies (bounds: geometric means of the bounds)
  int rank = 0;
  bool tied = false;
  std::string status;                    ///< "ok", or why the triple is not ranked
};

struct FamilyOutcome {
  std::vector<double> phis;
  std::vector<SearchOutcome> searches;   ///< one per phi (their rows unranked by the family)
  std::vector<FamilyRow> rows;           ///< ranked
  double seconds = 0;
  bool interrupted = false;
};

/// Runs `plan` once per phi of `phis` (at least two; rel-latency only), the latency table (if
/// predicted) recalibrated once, and ranks the triples by the geometric mean.
FamilyOutcome run_family_search(const SearchPlan& plan, const std::vector<double>& phis,
                                const std::atomic<bool>* stop, const SearchCallbacks& callbacks);

/// The family's rows as a table: rank, tied, alpha, beta, gamma, product, geomean_rel, its bounds,
/// then rel_latency, resolution and network per phi, and status.
DataTable family_table(const FamilyOutcome& outcome);

/// Joining reports of one search (its shards).
struct MergePlan {
  NetworkSpec baseline;                        ///< the reports' baseline (their rows are checked against it)
  std::vector<Report> reports;
  std::vector<std::string> sources;            ///< file names, for messages
  std::optional<Objective> objective;          ///< default: the reports' own
  std::optional<double> latency_target_ms;
};

struct MergeOutcome {
  ReportHeader header;
  std::vector<CandidateResult> results;  ///< ranked
  Objective objective = Objective::kRelLatency;
  ScoreSettings score;
  std::vector<std::string> notes;        ///< machines that differed, shards missing
};

/// Merges reports: refuses reports of different searches (machines may differ: latencies are
/// relative to each machine's own reference, and the ranking then uses relative latency);
/// keeps a triple once; warns about missing shards.
MergeOutcome merge_reports(const MergePlan& plan);

/// The current UTC time as 2026-11-28T02:26:35Z.
std::string utc_now();

}  // namespace effscale
