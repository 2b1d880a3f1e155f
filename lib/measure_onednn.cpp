#include "measure_onednn.hpp"

#include <dirent.h>
#include <omp.h>
#include <sys/syscall.h>
#include <tbb/parallel_for.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "bench.hpp"
#include "cost.hpp"
#include "error.hpp"
#include "failpoint.hpp"
#include "limits.hpp"
#include "machine.hpp"
#include "text.hpp"
#include "weights.hpp"

namespace effscale {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long this_thread_id() { return static_cast<long>(::syscall(SYS_gettid)); }

// CPU seconds (user + system) of thread `tid` of this process, from /proc; 0 if unreadable.
double thread_cpu_seconds(long tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char buffer[1024];
  const size_t n = std::fread(buffer, 1, sizeof buffer - 1, f);
  std::fclose(f);
  buffer[n] = '\0';
  // Fields after the command name, which ends at the last ')': state is field 3, utime 14, stime 15.
  const char* p = std::strrchr(buffer, ')');
  if (!p) return 0;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return 0;
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return static_cast<double>(utime + stime) / (tick > 0 ? tick : 100.0);
}

std::vector<long> process_threads() {
  std::vector<long> tids;
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) return tids;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    tids.push_back(std::strtol(e->d_name, nullptr, 10));
  }
  ::closedir(dir);
  return tids;
}

}  // namespace

std::int64_t activation_bytes_estimate(const Graph& graph, const NetworkOptions& network, int threads) {
  std::int64_t per_image = 0;
  if (reuses_buffers(network, threads)) {
    per_image = peak_activation_bytes(graph, 16);
  } else {
    // Every tensor its own buffer (fresh_buffers_with_threads): the sum over the tensors.
    per_image = total_activation_bytes(graph, 16);
  }
  return checked_mul(network.batch, per_image, "activation bytes");
}

std::int64_t network_memory_bytes(const Graph& graph, std::int64_t params, const NetworkOptions& network,
                                  int threads) {
  const std::int64_t activations = activation_bytes_estimate(graph, network, threads);
  const std::int64_t weights = checked_mul(params, static_cast<std::int64_t>(sizeof(float)), "weight bytes");
  const std::int64_t list = static_cast<std::int64_t>(graph.layers.size() * sizeof(Layer) + graph.tensors.size() * sizeof(TensorInfo));
  return checked_add(checked_add(activations, weights, "bytes"), list, "bytes");
}

void check_network_memory(const Graph& graph, std::int64_t params, const NetworkOptions& network, int threads,
                          std::int64_t limit, const std::string& name) {
  const std::int64_t activations = activation_bytes_estimate(graph, network, threads);
  const std::int64_t weights = params * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t total = network_memory_bytes(graph, params, network, threads);
  if (total > limit) {
    throw runtime_failure(fmt::format("model {} at batch {} needs an estimated {} ({} of activations, {} of weights), "
                                      "over the limit of {} (raise it with --max-memory)",
                                      name, network.batch, human_bytes(total), human_bytes(activations),
                                      human_bytes(weights), human_bytes(limit)));
  }
}

OnednnTimer::OnednnTimer(std::function<Graph(int)> graph_of, const NetworkOptions& options, int threads)
    : graph_of_(std::move(graph_of)), options_(options), threads_(threads), start_(now_seconds()) {
  omp_set_num_threads(threads_);
  set_flush_denormals();
  std::mutex m;
#pragma omp parallel
  {
    const long tid = this_thread_id();
    std::lock_guard<std::mutex> lock(m);
    timing_threads_.insert(tid);
  }
  timing_threads_.insert(this_thread_id());
}

OnednnTimer::~OnednnTimer() = default;

std::vector<std::string> OnednnTimer::load(const std::vector<int>& ids) {
  std::vector<std::string> failures(ids.size());
  std::vector<std::unique_ptr<OnednnNetwork>> built(ids.size());
  std::vector<BuildInfo> info(ids.size());
  // Build in parallel; nothing is timed meanwhile. Each network is built for the timing team's
  // thread count (a TBB worker's own count is the machine's cores, and oneDNN primitives keep the
  // count they were created with), and building runs no OpenMP team of its own (its reorders use one
  // thread: OpenmpThreads), so the timing team stays the only one.
  tbb::parallel_for(size_t{0}, ids.size(), [&](size_t i) {
    if (networks_.count(ids[i])) return;
    const OpenmpThreads built_for(threads_);
    try {
      const double t0 = now_seconds();
      const Graph g = graph_of_(ids[i]);
      auto net = std::make_unique<OnednnNetwork>(g, options_);
      const TensorInfo& image = g.tensors.at(0);
      net->set_input(make_input(options_.batch, image.c, image.h, image.w, options_.seed));
      info[i] = {(now_seconds() - t0) * 1000.0, net->activation_bytes(), net->weight_bytes()};
      built[i] = std::move(net);
    } catch (const std::bad_alloc&) {
      failures[i] = "out of memory while building";
    } catch (const std::exception& e) {
      failures[i] = e.what();
    }
  });
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!built[i]) continue;
    networks_[ids[i]] = std::move(built[i]);
    info_[ids[i]] = info[i];
  }
  return failures;
}

void OnednnTimer::unload(const std::vector<int>& ids) {
  for (int id : ids) networks_.erase(id);
}

double OnednnTimer::run(int id) {
  auto it = networks_.find(id);
  if (it == networks_.end()) throw runtime_failure(fmt::format("network {} is not built", id));
  const double t0 = now_seconds();
  it->second->run();
  return (now_seconds() - t0) * 1000.0;
}

double OnednnTimer::seconds() { return now_seconds() - start_; }

double OnednnTimer::foreign_cpu_seconds() {
  double total = 0;
  for (long tid : process_threads())
    if (!timing_threads_.count(tid)) total += thread_cpu_seconds(tid);
  return total;
}

const OnednnTimer::BuildInfo* OnednnTimer::build_info(int id) const {
  auto it = info_.find(id);
  return it == info_.end() ? nullptr : &it->second;
}

std::string MachineInfo::text() const {
  return fmt::format("{} ({} cores), oneDNN {}, ISA {}", cpu, cores, onednn, isa);
}

MachineInfo this_machine() { return {cpu_model(), available_cores(), onednn_version(), onednn_isa()}; }

std::string measure_words(const MeasureConfig& c, const MeasureOutcome& m) {
  int candidates = 0, min_runs = 0, max_runs = 0, raced = 0;
  for (size_t id = 1; id < m.networks.size(); ++id) {
    const auto& n = m.networks[id];
    if (!n.ok()) continue;
    min_runs = candidates == 0 ? n.runs : std::min(min_runs, n.runs);
    max_runs = std::max(max_runs, n.runs);
    raced += n.raced_runs > 0;
    ++candidates;
  }
  std::string words =
      c.command
          ? fmt::format("each network exported as ONNX and timed by the command '{}' (its latency read from the last "
                        "line of its stdout), next to the reference (the unscaled baseline, {:.3f} ms median over {} "
                        "runs) in randomized interleaved rounds, one command run per visit; {} replicate(s)",
                        c.command->text, m.reference.median_ms, m.reference.runs, std::max(1, c.settings.replicates))
          : fmt::format("each network timed next to the reference (the unscaled baseline, {:.3f} ms median over {} "
                        "runs) in randomized interleaved rounds, a visit being 1 untimed + 1 timed run; {} "
                        "replicate(s), each building every network afresh",
                        m.reference.median_ms, m.reference.runs, std::max(1, c.settings.replicates));
  if (candidates > 0) {
    words += fmt::format("; {} network(s), {} runs each", candidates,
                         min_runs == max_runs ? std::to_string(min_runs) : fmt::format("{}-{}", min_runs, max_runs));
    words += m.pooled ? fmt::format("; 95% intervals from the replicate variance pooled over the networks (sd {:.2f}% "
                                    "per replicate, {} degrees of freedom)",
                                    100 * m.replicate_sd, m.degrees_of_freedom)
                      : "; 95% intervals from a bootstrap of each network's runs (too few networks to pool the replicate "
                        "variance: they miss the spread between builds)";
  }
  if (raced > 0) {
    words += fmt::format("; racing {:.0f} s gave {} contender(s) more replicates, {}", m.racing_seconds, raced,
                         m.separated ? "until the leader separated" : fmt::format("{} still tied at the end", m.contenders));
  } else if (m.separated) {
    words += "; no racing needed (the leader separated in the first pass)";
  }
  double timing = 0, foreign = 0;
  for (const auto& b : m.batches) {
    timing += b.timing_seconds;
    foreign += b.foreign_cpu_seconds;
  }
  if (c.command)
    words += fmt::format("; {{threads}} {}, {{batch}} {}; {:.0f} s in all, {:.0f} s of it timing, during which effscale "
                         "itself used {:.2f} s of CPU",
                         c.threads, c.network.batch, m.seconds, timing, foreign);
  else
    words += fmt::format("; {} thread(s), batch {}, layout {}; {:.0f} s in all, {:.0f} s of it timing, during which the "
                         "process's other threads used {:.2f} s of CPU",
                         c.threads, c.network.batch, to_string(c.network.layout), m.seconds, timing, foreign);
  return words;
}

std::vector<std::string> measure_warnings(const MeasureOutcome& m) {
  std::vector<std::string> warnings;
  if (m.drift > kDriftWarning)
    warnings.push_back(fmt::format("the reference's median moved by x{:.2f} between rounds: the machine changed "
                                   "speed during the run; relative latencies absorb most of it, but repeat the run "
                                   "before trusting close calls",
                                   m.drift));
  if (m.pooled && m.replicate_sd > kNoiseWarning)
    warnings.push_back(fmt::format("the machine was noisy: networks moved by {:.1f}% between replicates (about 1% on a "
                                   "calm machine); the intervals are wider for it, and a second run may order close "
                                   "candidates differently: raise --runs or repeat the run",
                                   100 * m.replicate_sd));
  double timing = 0, foreign = 0;
  for (const auto& b : m.batches) {
    timing += b.timing_seconds;
    foreign += b.foreign_cpu_seconds;
  }
  if (timing > 0 && foreign > 0.05 * timing)
    warnings.push_back(fmt::format("other threads of effscale used {:.1f} s of CPU during {:.1f} s of timing: "
                                   "measurements may be disturbed",
                                   foreign, timing));
  return warnings;
}

MeasureOutcome measure_graphs(const std::function<Graph(int)>& graph_of, int networks, const MeasureConfig& config,
                              std::vector<double> objective_scale, const std::atomic<bool>* stop,
                              const std::function<void(const MeasureProgress&)>& progress,
                              std::vector<OnednnTimer::BuildInfo>* builds) {
  MeasurePlan plan;
  plan.networks = networks;
  plan.settings = config.settings;
  plan.objective_scale = std::move(objective_scale);
  std::vector<double> simulated_ms;  // the simulated machine's true times
  for (int id = 0; id <= plan.networks; ++id) {
    const Graph g = graph_of(id);
    const NetworkCost cost = network_cost(g);
    plan.bytes.push_back(network_memory_bytes(g, cost.total.params, config.network, config.threads));
    // The reference is built in every batch: it must fit the limit like any candidate.
    if (id == kReference && config.settings.memory_limit > 0)
      check_network_memory(g, cost.total.params, config.network, config.threads, config.settings.memory_limit,
                           "base (the reference every network is timed next to)");
    // Tests: a deterministic machine instead of this one (measure.hpp): 25 GMAC/s, 3 us per layer.
    simulated_ms.push_back(static_cast<double>(cost.total.macs) * config.network.batch / 25e6 +
                           0.003 * static_cast<double>(g.layers.size()));
  }
  if (builds) builds->assign(static_cast<size_t>(plan.networks) + 1, {});
  if (config.command) {
    // The user's runtime; it takes precedence over the simulated machine (tests time commands).
    CommandTimer timer(graph_of, *config.command, config.threads, config.network.batch, config.network.seed, stop);
    return measure(plan, timer, stop, progress);
  }
  if (failpoint("simulated-machine")) {
    SimulatedTimer::Settings simulated;
    simulated.seed = config.settings.seed;
    SimulatedTimer timer([&](int id) { return simulated_ms.at(static_cast<size_t>(id)); }, simulated);
    return measure(plan, timer, stop, progress);
  }
  OnednnTimer timer(graph_of, config.network, config.threads);
  MeasureOutcome outcome = measure(plan, timer, stop, progress);
  if (builds)
    for (int id = 0; id <= plan.networks; ++id)
      if (const auto* info = timer.build_info(id)) (*builds)[static_cast<size_t>(id)] = *info;
  return outcome;
}

MeasureOutcome measure_networks(const NetworkSpec& baseline, const std::vector<ScaleFactors>& candidates,
                                const MeasureConfig& config, std::vector<double> objective_scale,
                                const std::atomic<bool>* stop,
                                const std::function<void(const MeasureProgress&)>& progress,
                                std::vector<OnednnTimer::BuildInfo>* builds) {
  auto graph_of = [&](int id) {
    return expand(scale(baseline, id == kReference ? ScaleFactors{1.0, 1.0, baseline.resolution}
                                                   : candidates.at(static_cast<size_t>(id) - 1)));
  };
  return measure_graphs(graph_of, static_cast<int>(candidates.size()), config, std::move(objective_scale), stop,
                        progress, builds);
}

}  // namespace effscale
