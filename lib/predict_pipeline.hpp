#pragma once
// The latency table of a machine (latency_table.hpp), measured on demand: a plan names the
// networks whose latency is wanted; every unit of theirs the table lacks is built alone and timed
// next to the reference by the measurement engine, the overhead is fitted on calibration networks
// when the table has no fit yet, and the table file is written back (atomically). Then every
// prediction is arithmetic.

#include <atomic>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "bench_pipeline.hpp"
#include "latency_table.hpp"
#include "measure_onednn.hpp"
#include "units.hpp"

namespace effscale {

/// The key of the table for `baseline` (its reference network) measured as `config` says.
SearchKey latency_table_key(const NetworkSpec& baseline, const MeasureConfig& config);

/// Where the table for `key` lives by default: $XDG_CACHE_HOME/effscale/latency-<hash>.tsv, else
/// $HOME/.cache/effscale/latency-<hash>.tsv (hash: 16 hex digits of the key). `env` reads the
/// environment. Throws Error when neither variable is set.
std::string default_latency_table_path(const SearchKey& key, const std::function<const char*(const char*)>& env);

/// How units are measured for a table: fewer runs than whole networks get (units are small and
/// many), three replicates for the pooled intervals.
MeasureSettings table_measure_settings(std::uint64_t seed);

/// How a predicted search times the calibration networks alone when its table is cached: two
/// replicates of 6 paired runs (the fit pools thirteen networks), so that the refit takes a few
/// seconds.
MeasureSettings refit_measure_settings(std::uint64_t seed);

/// The calibration networks of `baseline` (their depth, width and resolution; the reference is
/// the thirteenth): one dimension at a time, two at once, and compound models from 0.3x to about
/// 5x the reference's latency and 0.6x to 2x its resolution. The overhead fit uses them.
std::vector<ScaleFactors> calibration_models(const NetworkSpec& baseline);

/// Units of the table timed again whenever new units are added to it (anchors).
inline constexpr size_t kAnchorUnits = 24;

/// How latencies measured now map to the table's own state: log(now) = offset + slope x
/// log(table), fitted on the anchors (identity without anchors).
struct AnchorMap {
  double offset = 0, slope = 1;
  /// A latency measured now, in the table's state.
  double to_table(double now) const { return std::exp((std::log(now) - offset) / slope); }
};

/// Least squares on (log table, log now) pairs; the slope is 1 with fewer than 4 anchors, too
/// little spread, or a slope outside (0.5, 2).
AnchorMap fit_anchor_map(const std::vector<std::pair<double, double>>& logs);

struct TablePlan {
  NetworkSpec baseline;
  MeasureConfig measure;        ///< threads, batch, layout, lowering, runs (command: refused; no racing)
  std::string path;             ///< the table file
  bool create_folder = false;   ///< create its folder when missing (the default cache folder)
  /// Measure the calibration networks again and refit even when the table has a fit: the fit then
  /// holds for the machine's state now (latency_table.hpp, OverheadFit).
  bool recalibrate = true;
  std::vector<Graph> networks;  ///< whose units the table must have
  /// Networks to measure whole in the same run as the calibration networks (recalibrate then
  /// applies), so that their measurement and the fit share the machine's state: predict's models,
  /// search's --verify. Their latencies are TableOutcome::measured.
  std::vector<Graph> measure_too;
  /// Settings for a run that times only the calibration networks (every unit in the table, nothing
  /// in measure_too): a lighter refit, for a search that predicts from a cached table in seconds.
  /// Unset: `measure`'s settings.
  std::optional<MeasureSettings> refit_settings;
};

struct TableOutcome {
  LatencyTable table;
  std::string path;
  bool existed = false;           ///< a usable table was read from `path`
  std::string rebuilt;            ///< why an existing file was not used ("" when it was, or none existed)
  int units_measured = 0;         ///< units measured in this run
  int anchors = 0;                ///< units already in the table timed again with them
  AnchorMap anchor_map;           ///< what carried the new units into the table's state
  int calibration_networks = 0;   ///< networks the fit of this run used, the reference included (0: the fit was cached)
  std::vector<std::string> failures;  ///< units that could not be measured: "<name>: <reason>"
  double seconds = 0;             ///< measuring in this run
  /// The reference's median in this run when anything was measured, else the table's: what
  /// relative latencies are multiplied by to show milliseconds.
  double reference_ms = 0;
  bool interrupted = false;       ///< what completed was kept in the file
  std::optional<MeasureOutcome> measurement;
  /// The latency of each of plan.measure_too (nullopt: it failed, reason in measured_failures).
  std::vector<std::optional<Latency>> measured;
  std::vector<std::string> measured_failures;
};

/// A plan for the table at `path` (create_folder: its folder is the default cache folder), its
/// units measured as `measure` says within `max_memory` per batch.
TablePlan make_table_plan(const NetworkSpec& baseline, const MeasureConfig& measure, std::int64_t max_memory,
                          const std::string& path, bool create_folder, bool recalibrate);

/// Reads the table at plan.path (a missing file is an empty table; a file of another key, or an
/// unreadable one, is rebuilt, and `rebuilt` says why; a file that is not a table at all is an
/// Error and is left alone), measures what it lacks, and writes it back when anything was added.
TableOutcome ensure_latency_table(const TablePlan& plan, const std::atomic<bool>* stop,
                                  const std::function<void(const MeasureProgress&)>& progress);

/// The prediction for `graph` from `table` (units.hpp, latency_table.hpp).
Prediction predict_graph(const Graph& graph, const LatencyTable& table);

/// How well predictions agree with measurements.
struct Agreement {
  int networks = 0;
  double within_10 = 0;     ///< fraction with |predicted / measured - 1| <= 10%
  double max_error = 0;     ///< largest |predicted / measured - 1|
  double spearman = 0;      ///< between predicted and measured relative latencies
};

/// Agreement of predicted[i] with measured[i] (relative latencies).
Agreement prediction_agreement(const std::vector<double>& predicted, const std::vector<double>& measured);

/// effscale predict: models in; their predicted latency out, and (unless `measure_models` is
/// off) their measured latency next to the reference, so that the prediction can be judged.
struct PredictPlan {
  NetworkSpec baseline;
  std::vector<BenchModel> models;
  MeasureConfig measure;        ///< for the table's units and the models' measurement
  std::string table_path;
  bool create_folder = false;
  bool recalibrate = true;
  bool measure_models = true;
  bool units = false;           ///< also split each measured model's time over its units (a profile)
  std::int64_t max_memory = 0;
};

struct PredictRow {
  BenchModel model;
  NetworkCost cost;
  std::string network;
  Prediction prediction;
  std::optional<Latency> measured;
  /// units: each unit's share of the measured network, as rel latency (its primitives' share of
  /// the profile x the measured rel); empty without units.
  std::vector<double> unit_measured_rel;
};

struct PredictOutcome {
  TableOutcome table;
  std::vector<PredictRow> rows;
  Agreement agreement;  ///< over the measured models
  bool interrupted = false;
};

/// The table for the models (ensure_latency_table), their predictions, then their measurement
/// (run_bench). Throws Error when a model is over the memory limit or a unit cannot be measured.
PredictOutcome run_predict(const PredictPlan& plan, const std::atomic<bool>* stop,
                           const std::function<void(const MeasureProgress&)>& progress);

/// The unit a profiled primitive belongs to ("stage2.block1.expand" -> "stage2.block1",
/// "pool" -> "head"); "" for a reorder between layers.
std::string unit_of_primitive(const std::string& primitive_name);

}  // namespace effscale
