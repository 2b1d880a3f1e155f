#include "bench.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>

#include <oneapi/dnnl/dnnl.hpp>

#include "error.hpp"
#include "weights.hpp"

namespace effscale {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

std::vector<double> time_runs(const std::function<void()>& fn, const TimingOptions& o, const std::atomic<bool>* stop) {
  auto stopped = [&] { return stop && stop->load(std::memory_order_relaxed); };
  for (int i = 0; i < o.warmup_runs && !stopped(); ++i) fn();
  std::vector<double> samples;
  const auto begin = Clock::now();
  while (!stopped() && static_cast<int>(samples.size()) < o.max_runs &&
         (static_cast<int>(samples.size()) < o.min_runs || ms_since(begin) < o.min_seconds * 1000.0)) {
    const auto t = Clock::now();
    fn();
    samples.push_back(ms_since(t));
  }
  return samples;
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::vector<GroupTime> group_times(const std::vector<PrimitiveInfo>& primitives, const std::vector<double>& ms) {
  std::vector<GroupTime> groups;
  for (ProfileGroup g : {ProfileGroup::kStem, ProfileGroup::kPointwise, ProfileGroup::kDepthwise,
                         ProfileGroup::kSqueezeExcite, ProfileGroup::kHead, ProfileGroup::kReorder}) {
    GroupTime t{g, 0, 0};
    for (size_t i = 0; i < primitives.size() && i < ms.size(); ++i) {
      if (primitives[i].group != g) continue;
      t.ms += ms[i];
      ++t.primitives;
    }
    if (t.primitives > 0) groups.push_back(t);
  }
  return groups;
}

double measure_peak_gflops(int threads, int size, const TimingOptions& options) {
  omp_set_num_threads(threads);
  set_flush_denormals();
  using dnnl::memory;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::dim n = size;
  const memory::desc a({n, n}, memory::data_type::f32, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, a, a), engine);
  const dnnl::matmul matmul(pd);
  memory x(a, engine), y(a, engine), z(a, engine);
  std::fill_n(static_cast<float*>(x.get_data_handle()), n * n, 0.5f);
  std::fill_n(static_cast<float*>(y.get_data_handle()), n * n, 0.25f);
  const auto samples = time_runs(
      [&] {
        matmul.execute(stream, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, y}, {DNNL_ARG_DST, z}});
        stream.wait();
      },
      options);
  const double ms = summarize(samples).median_ms;
  return ms > 0 ? 2.0 * static_cast<double>(n) * n * n / (ms * 1e6) : 0.0;
}

std::vector<float> forward_pass(const Graph& graph, const BenchOptions& options, const std::vector<float>& input) {
  omp_set_num_threads(options.threads > 0 ? options.threads : available_cores());
  set_flush_denormals();
  OnednnNetwork net(graph, options.network);
  net.set_input(input);
  net.run();
  return net.output();
}

BenchResult bench_graph(const Graph& graph, const BenchOptions& options, const std::atomic<bool>* stop) {
  BenchResult r;
  r.threads = options.threads > 0 ? options.threads : available_cores();
  omp_set_num_threads(r.threads);
  set_flush_denormals();

  const auto build_start = Clock::now();
  OnednnNetwork net(graph, options.network);
  const TensorInfo& image = graph.tensors.at(0);
  net.set_input(make_input(options.network.batch, image.c, image.h, image.w, options.network.seed));
  r.build_ms = ms_since(build_start);
  r.activation_bytes = net.activation_bytes();
  r.weight_bytes = net.weight_bytes();
  r.primitives = net.primitives();

  r.latency = summarize(time_runs([&] { net.run(); }, options.timing, stop));

  if (options.profile) {
    const size_t n = r.primitives.size();
    std::vector<std::vector<double>> per(n);
    TimingOptions o = options.timing;
    o.warmup_runs = 1;
    time_runs(
        [&] {
          for (size_t i = 0; i < n; ++i) {
            const auto t = Clock::now();
            net.run_primitive(i);
            per[i].push_back(ms_since(t));
          }
        },
        o, stop);
    r.primitive_ms.resize(n);
    for (size_t i = 0; i < n; ++i) r.primitive_ms[i] = summarize(per[i]).median_ms;
    r.groups = group_times(r.primitives, r.primitive_ms);
    r.profile_total_ms = std::accumulate(r.primitive_ms.begin(), r.primitive_ms.end(), 0.0);
  }
  return r;
}

}  // namespace effscale
