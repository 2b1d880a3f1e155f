#pragma once
// The bench pipeline: models in, their measured latency out, each timed next to the unscaled
// baseline by the measurement engine (measure.hpp), optionally with a per-primitive profile.

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "bench.hpp"
#include "cost.hpp"
#include "measure_onednn.hpp"

namespace effscale {

/// A model to benchmark.
struct BenchModel {
  std::string name;
  ScaleFactors factors;
};

/// Everything a benchmark needs.
struct BenchPlan {
  NetworkSpec baseline;
  std::vector<BenchModel> models;
  MeasureConfig measure;
  bool profile = false;         ///< also time every primitive of each model
  std::int64_t max_memory = 0;  ///< bytes a network may need (network_memory_bytes)
};

/// One model's measurement.
struct BenchRow {
  BenchModel model;
  NetworkCost cost;
  std::string network;          ///< network_id()
  Latency latency;
  OnednnTimer::BuildInfo build;
  BenchResult profile;          ///< primitives and per-primitive times (plan.profile only)
};

struct BenchOutcome {
  std::vector<BenchRow> rows;
  MeasureOutcome measurement;
  bool interrupted = false;
};

/// Checks every model against the memory limit (before anything is built), then measures them.
/// A model that fails is an Error: a benchmark reports every model it was given.
BenchOutcome run_bench(const BenchPlan& plan, const std::atomic<bool>* stop,
                       const std::function<void(const MeasureProgress&)>& progress);

}  // namespace effscale
