#pragma once
// The timing harness: build a network, warm it up outside the timed region, then time forward
// passes until both a minimum count and a minimum time are reached. Statistics are over
// individual runs; an optional per-primitive profile says where the time goes.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "graph.hpp"
#include "measure.hpp"
#include "onednn/network.hpp"

namespace effscale {

/// When to stop timing.
struct TimingOptions {
  int warmup_runs = 3;       ///< untimed runs first (after building)
  int min_runs = 10;         ///< at least this many timed runs ...
  double min_seconds = 1.0;  ///< ... and at least this much timed time
  int max_runs = 100000;     ///< never more than this many
};

/// Runs `fn` `warmup_runs` times, then times it until the options are met (or `stop` is set).
/// Returns every timed sample in milliseconds.
std::vector<double> time_runs(const std::function<void()>& fn, const TimingOptions& options,
                              const std::atomic<bool>* stop = nullptr);

/// Time spent per profile group, summed over the group's primitives (each the median of its runs).
struct GroupTime {
  ProfileGroup group;
  double ms = 0;
  int primitives = 0;
};

/// How to benchmark a network.
struct BenchOptions {
  int threads = 0;  ///< oneDNN (OpenMP) threads; 0 = every core
  NetworkOptions network;
  TimingOptions timing;
  bool profile = false;  ///< also time each primitive separately
};

/// What a benchmark measured.
struct BenchResult {
  TimingStats latency;               ///< whole forward pass
  int threads = 0;
  double build_ms = 0;               ///< primitive creation and weight reorders
  std::int64_t activation_bytes = 0; ///< allocated activation buffers
  std::int64_t weight_bytes = 0;
  std::vector<PrimitiveInfo> primitives;
  std::vector<double> primitive_ms;  ///< median per primitive (profile only)
  std::vector<GroupTime> groups;     ///< profile only, in ProfileGroup order, groups with primitives
  double profile_total_ms = 0;       ///< sum of primitive medians (profile only)
};

/// Cores available to this process.
int available_cores();

/// Builds `graph` with oneDNN in the calling thread using options.threads OpenMP threads, warms it
/// up, and times it. Flush-to-zero and denormals-are-zero are set in every executing thread.
BenchResult bench_graph(const Graph& graph, const BenchOptions& options, const std::atomic<bool>* stop = nullptr);

/// One forward pass of `graph` as bench_graph builds it (same threads, flush-to-zero, lowering and
/// seed of the synthetic weights) on `input` (NCHW floats, options.network.batch images); returns
/// the logits, batch x classes.
std::vector<float> forward_pass(const Graph& graph, const BenchOptions& options, const std::vector<float>& input);

/// The machine's float32 peak as oneDNN reaches it: the median GFLOP/s (2 * M * N * K / time) of
/// a square `size`^3 matmul with `threads` threads, over `options` runs.
double measure_peak_gflops(int threads, int size, const TimingOptions& options);

/// Groups per-primitive times by profile group.
std::vector<GroupTime> group_times(const std::vector<PrimitiveInfo>& primitives, const std::vector<double>& ms);

}  // namespace effscale
