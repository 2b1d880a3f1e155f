#pragma once
// The measurement engine's Timer for oneDNN networks: builds them in parallel on TBB workers
// (nothing is timed meanwhile), times them on the calling thread and its OpenMP team, and
// accounts the CPU time every other thread of the process uses while timing.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "graph.hpp"
#include "latency_command.hpp"
#include "measure.hpp"
#include "onednn/network.hpp"
#include "scaling.hpp"
#include "spec.hpp"

namespace effscale {

/// Activation bytes a network built with `network` for `threads` threads needs: channels padded to
/// 16, times the batch; the liveness peak when it reuses buffers (reuses_buffers), else every
/// tensor's size added up.
std::int64_t activation_bytes_estimate(const Graph& graph, const NetworkOptions& network, int threads);

/// Bytes a built network needs: activation_bytes_estimate, the weights, and the layer list. The one
/// estimate that every command checks --max-memory against.
std::int64_t network_memory_bytes(const Graph& graph, std::int64_t params, const NetworkOptions& network, int threads);

/// Throws a runtime Error when building `name` with `network` (its batch) for `threads` threads
/// would need more than `limit` bytes (network_memory_bytes), naming the estimate and the limit.
void check_network_memory(const Graph& graph, std::int64_t params, const NetworkOptions& network, int threads,
                          std::int64_t limit, const std::string& name);

/// The machine a measurement is made on.
struct MachineInfo {
  std::string cpu;     ///< model name from /proc/cpuinfo
  int cores = 0;       ///< cores available to this process
  std::string onednn;  ///< "2.6.3 (cpu: omp)"
  std::string isa;     ///< what oneDNN dispatches to, e.g. "avx512_core_bf16"
  /// "AMD EPYC (2 cores), oneDNN 2.6.3 (cpu: omp), ISA avx512_core_bf16".
  std::string text() const;
};

/// This machine.
MachineInfo this_machine();

/// How a command measures: how networks are built and run, and how much the engine times them.
struct MeasureConfig {
  int threads = 1;          ///< oneDNN threads per forward pass ({threads} of a latency command)
  NetworkOptions network;   ///< batch, layout, seed, lowering switches
  MeasureSettings settings;
  /// When set, networks are exported as ONNX and timed by this command instead of oneDNN
  /// (latency_command.hpp); layout and lowering switches do not apply.
  std::optional<LatencyCommand> command;
};

/// What a measurement did, in words for reports and terminals: the pairing, the runs each
/// network got, racing, threads, batch and layout.
std::string measure_words(const MeasureConfig& config, const MeasureOutcome& outcome);

/// Warnings a measurement deserves (the reference drifted beyond kDriftWarning; other threads
/// of the process used CPU while timing), each one line; empty when none.
std::vector<std::string> measure_warnings(const MeasureOutcome& outcome);

/// Times oneDNN networks. Network `id` is built from graph_of(id) when loaded (id 0 is the
/// reference). Make it, and call run(), on one thread: the one that times.
class OnednnTimer : public Timer {
 public:
  /// `threads`: oneDNN (OpenMP) threads for every forward pass.
  OnednnTimer(std::function<Graph(int)> graph_of, const NetworkOptions& options, int threads);
  ~OnednnTimer() override;

  std::vector<std::string> load(const std::vector<int>& ids) override;
  void unload(const std::vector<int>& ids) override;
  double run(int id) override;
  double seconds() override;
  double foreign_cpu_seconds() override;

  /// What building network `id` gave (kept after unload).
  struct BuildInfo {
    double build_ms = 0;
    std::int64_t activation_bytes = 0, weight_bytes = 0;
  };
  const BuildInfo* build_info(int id) const;

 private:
  std::function<Graph(int)> graph_of_;
  NetworkOptions options_;
  int threads_;
  std::map<int, std::unique_ptr<OnednnNetwork>> networks_;
  std::map<int, BuildInfo> info_;
  std::set<long> timing_threads_;  ///< Linux thread ids of this thread and its OpenMP team
  double start_;
};

/// Measures networks 1..`networks` next to the reference 0, network id being graph_of(id): with
/// oneDNN, or with config.command when set, or (failpoint simulated-machine, for tests) on the
/// simulated machine at 25 GMAC/s plus 3 us per layer. objective_scale and `builds` as below.
MeasureOutcome measure_graphs(const std::function<Graph(int)>& graph_of, int networks, const MeasureConfig& config,
                              std::vector<double> objective_scale, const std::atomic<bool>* stop,
                              const std::function<void(const MeasureProgress&)>& progress,
                              std::vector<OnednnTimer::BuildInfo>* builds = nullptr);

/// Measures scaled networks of `baseline`: candidates[i] is network i + 1, the unscaled baseline
/// is the reference; with oneDNN, or with config.command when set (builds then stay empty). Networks must fit config.settings.memory_limit each (with the reference);
/// objective_scale as in MeasurePlan (empty: no racing). `builds`, if given, receives what building
/// each network gave, by id.
MeasureOutcome measure_networks(const NetworkSpec& baseline, const std::vector<ScaleFactors>& candidates,
                                const MeasureConfig& config, std::vector<double> objective_scale,
                                const std::atomic<bool>* stop,
                                const std::function<void(const MeasureProgress&)>& progress,
                                std::vector<OnednnTimer::BuildInfo>* builds = nullptr);

}  // namespace effscale
