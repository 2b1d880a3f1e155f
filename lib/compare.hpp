#pragma once
// The compare pipeline: scaling strategies side by side at the same FLOPs multipliers. A plan
// in (baseline, strategies, targets, measurement), an outcome out (one row per strategy and
// target, measured next to the baseline, ordered within each target with ties declared).

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cost.hpp"
#include "measure_onednn.hpp"
#include "status.hpp"
#include "strategy.hpp"

namespace effscale {

/// Everything a comparison needs.
struct ComparePlan {
  NetworkSpec baseline;
  std::vector<Strategy> strategies;
  std::vector<double> targets;   ///< FLOPs multipliers s
  bool calibrate = true;         ///< build each formula model where its rounded MACs come closest to s
  bool latency = true;
  MeasureConfig measure;
  std::int64_t max_memory = 0;   ///< bytes a network may need (network_memory_bytes)
};

/// One strategy at one target.
struct CompareRow {
  Strategy strategy;
  double target = 1;
  StrategyPoint point;
  LayerCost cost;
  std::int64_t peak_memory_bytes = 0;
  double mac_ratio = 0;          ///< MACs / baseline MACs
  std::string network;           ///< network_id(): rows with the same id are the same network
  std::optional<Latency> latency;
  RowStatus status;
  int order = 0;      ///< rank by latency among the rows of its target (1 = fastest; 0 = not measured)
  bool tied = false;  ///< cannot be told apart from the fastest of its target
};

/// What a comparison produced.
struct CompareOutcome {
  std::vector<CompareRow> rows;  ///< grouped by target, strategies in the plan's order
  NetworkCost baseline_cost;
  std::optional<MeasureOutcome> measurement;
  bool interrupted = false;      ///< rows not measured were dropped
};

/// Builds, costs and (if plan.latency) measures every row. A row that cannot be built or measured
/// keeps its reason; stops early when `stop` is set.
CompareOutcome run_compare(const ComparePlan& plan, const std::atomic<bool>* stop,
                           const std::function<void(const MeasureProgress&)>& progress);

}  // namespace effscale
