// The parallel parts of the search: cost of every candidate on TBB workers, and latency
// measurement with networks built on TBB workers and timed with no other work of the tool running.

#include <omp.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "error.hpp"
#include "search.hpp"
#include "text.hpp"
#include "weights.hpp"

namespace effscale {

void evaluate_costs(const NetworkSpec& baseline, double phi, double target, std::int64_t max_memory,
                    std::vector<CandidateResult>& results) {
  const NetworkCost base = network_cost(expand(baseline));
  const double target_ratio = std::pow(target, phi);
  tbb::enumerable_thread_specific<Graph> graphs;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, results.size(), 64), [&](const tbb::blocked_range<size_t>& range) {
    Graph& g = graphs.local();
    for (size_t i = range.begin(); i != range.end(); ++i) {
      CandidateResult& r = results[i];
      try {
        r.factors = candidate_factors(r.candidate, phi, baseline.resolution);
        const NetworkCost c = evaluate(baseline, r.factors, g);
        r.cost = c.total;
        r.peak_memory_bytes = c.peak_activation_bytes;
        r.mac_ratio = static_cast<double>(c.total.macs) / static_cast<double>(base.total.macs);
        r.target_ratio = target_ratio;
        r.mac_error = r.mac_ratio / target_ratio - 1;
        if (c.peak_activation_bytes > max_memory) {
          r.status = fmt::format("skipped: needs {} of activation memory, over the limit of {}",
                                 human_bytes(c.peak_activation_bytes), human_bytes(max_memory));
        }
      } catch (const Error& e) {
        r.status = std::string("skipped: ") + e.what();  // out of the ranges effscale builds
      } catch (const std::exception& e) {
        r.status = std::string("failed: ") + e.what();
      }
    }
  });
}

namespace {

struct Member {
  CandidateResult* result = nullptr;
  std::unique_ptr<OnednnNetwork> network;
  std::vector<double> samples;
  std::string failure;
};

// K persistent timing threads. They live for the whole measurement so that libgomp keeps exactly
// one team per slot (cores threads in all) and never falls back to sleeping between primitives.
class SlotPool {
 public:
  explicit SlotPool(int slots) : slots_(slots) {
    for (int k = 0; k < slots_; ++k) threads_.emplace_back([this, k] { loop(k); });
  }
  ~SlotPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  /// Runs job(k) on slot k, for every slot at once, and waits for all.
  void run(const std::function<void(int)>& job) {
    std::unique_lock<std::mutex> lock(mutex_);
    job_ = &job;
    pending_ = slots_;
    ++generation_;
    wake_.notify_all();
    done_.wait(lock, [&] { return pending_ == 0; });
  }

 private:
  void loop(int slot) {
    std::uint64_t seen = 0;
    while (true) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
        job = job_;
      }
      (*job)(slot);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
  }

  int slots_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int pending_ = 0;
  std::uint64_t generation_ = 0;
  bool quit_ = false;
};

std::int64_t memory_estimate(const NetworkSpec& baseline, const CandidateResult& r, int batch) {
  const Graph g = expand(scale(baseline, r.factors));
  return batch * peak_activation_bytes(g, 16) + r.cost.params * static_cast<std::int64_t>(sizeof(float));
}

}  // namespace

void measure_latencies(const NetworkSpec& baseline, std::vector<CandidateResult*> results, const MeasureOptions& o,
                       const std::atomic<bool>* stop, const std::function<void(size_t, size_t)>& progress) {
  auto stopped = [&] { return stop && stop->load(); };
  const int cores = o.cores > 0 ? o.cores : available_cores();
  const int slots = std::max(1, std::min(o.parallel, cores));
  const int threads = std::max(1, cores / slots);
  const int rounds = std::max(1, std::min(o.rounds, o.runs));
  const int per_round = (o.runs + rounds - 1) / rounds;

  results.erase(std::remove_if(results.begin(), results.end(), [](const CandidateResult* r) { return !r->ok(); }),
                results.end());
  // Batches small enough that every network of a batch fits in the memory limit at once.
  std::int64_t largest = 1;
  for (const auto* r : results) largest = std::max(largest, memory_estimate(baseline, *r, o.batch));
  const std::int64_t fit = o.max_memory > 0 ? std::max<std::int64_t>(1, o.max_memory / largest) : 4 * slots;
  const size_t batch_size = static_cast<size_t>(std::max<std::int64_t>(slots, std::min<std::int64_t>(4 * slots, fit)));

  std::unique_ptr<SlotPool> pool;
  if (slots > 1) pool = std::make_unique<SlotPool>(slots);
  size_t done = 0;
  for (size_t begin = 0; begin < results.size() && !stopped(); begin += batch_size) {
    const size_t end = std::min(results.size(), begin + batch_size);
    std::vector<Member> members(end - begin);
    for (size_t i = 0; i < members.size(); ++i) members[i].result = results[begin + i];

    // Build: parallel, nothing is timed meanwhile.
    tbb::parallel_for(size_t{0}, members.size(), [&](size_t i) {
      if (stopped()) return;
      Member& m = members[i];
      try {
        omp_set_num_threads(threads);
        const Graph g = expand(scale(baseline, m.result->factors));
        NetworkOptions n;
        n.batch = o.batch;
        n.layout = o.layout;
        n.seed = o.seed;
        m.network = std::make_unique<OnednnNetwork>(g, n);
        const TensorInfo& image = g.tensors[0];
        m.network->set_input(make_input(o.batch, image.c, image.h, image.w, o.seed));
      } catch (const std::exception& e) {
        m.failure = e.what();
        m.network.reset();
      }
    });

    // Time: `slots` threads, each timing its members in interleaved rounds (A B C A B C ...).
    const std::function<void(int)> time_slot = [&](int slot) {
      omp_set_num_threads(threads);
      set_flush_denormals();
      std::vector<Member*> mine;
      for (size_t i = static_cast<size_t>(slot); i < members.size(); i += static_cast<size_t>(slots))
        if (members[i].network) mine.push_back(&members[i]);
      TimingOptions round;
      round.warmup_runs = 0;
      round.min_runs = per_round;
      round.max_runs = per_round;
      round.min_seconds = 0;
      for (Member* m : mine) {
        try {
          for (int w = 0; w < o.warmup_runs && !stopped(); ++w) m->network->run();
        } catch (const std::exception& e) {
          m->failure = e.what();
          m->network.reset();
        }
      }
      for (int r = 0; r < rounds && !stopped(); ++r) {
        for (Member* m : mine) {
          if (!m->network) continue;
          try {
            const auto s = time_runs([&] { m->network->run(); }, round, stop);
            m->samples.insert(m->samples.end(), s.begin(), s.end());
          } catch (const std::exception& e) {
            m->failure = e.what();
            m->network.reset();
          }
        }
      }
    };
    if (pool) {
      pool->run(time_slot);
    } else {
      time_slot(0);
    }

    for (Member& m : members) {
      if (!m.failure.empty()) {
        m.result->status = "failed: " + m.failure;
      } else if (m.network && !stopped() && static_cast<int>(m.samples.size()) >= per_round * rounds) {
        m.result->latency = summarize(m.samples);
        ++done;
      }
      m.network.reset();
    }
    if (progress) progress(done, results.size());
  }
}

}  // namespace effscale
