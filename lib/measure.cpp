#include "measure.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <cmath>
#include <numeric>

#include "error.hpp"
#include "random.hpp"

namespace effscale {

// Why the warnings sit where they do (bench/MEASUREMENT.md, sections 6 and 8). Pairing cancels
// drift that is slow compared with three visits: default searches whose reference moved by up to
// 1.75x between rounds still agreed with a second run (Spearman 0.94), so drift alone is no sign of
// trouble and kDriftWarning sits beyond anything seen in agreeing runs. The spread between
// replicates is: about 1% on the calm machine, 1.4-2.2% in the hour whose runs disagreed
// (Spearman 0.86); kNoiseWarning flags that.

namespace {

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  SplitMix64 m(a * 0x100000001B3ull ^ (b + 0x632BE59BD9B4E019ull));
  m.next();
  return m.next();
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

// Median of v (reordered in place).
double median_in_place(std::vector<double>& v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double average = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) r[order[k]] = average;
    i = j + 1;
  }
  return r;
}

}  // namespace

TimingStats summarize(std::vector<double> samples) {
  TimingStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.runs = static_cast<int>(samples.size());
  s.median_ms = percentile(samples, 0.5);
  s.p10_ms = percentile(samples, 0.1);
  s.p90_ms = percentile(samples, 0.9);
  s.min_ms = samples.front();
  s.max_ms = samples.back();
  s.mean_ms = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return s;
}

double median(std::vector<double> values) { return median_in_place(values); }

double Interval::relative_half_width() const { return estimate > 0 ? (high - low) / 2 / estimate : 0.0; }

Interval median_interval(const std::vector<double>& samples, std::uint64_t seed, double confidence, int resamples) {
  if (samples.empty()) return {};
  Interval out;
  out.estimate = median(samples);
  if (samples.size() == 1 || resamples < 1) return {out.estimate, out.estimate, out.estimate};
  SplitMix64 rng(seed);
  const size_t n = samples.size();
  std::vector<double> draw(n), medians(static_cast<size_t>(resamples));
  for (auto& m : medians) {
    for (auto& d : draw) d = samples[rng.below(n)];
    m = median_in_place(draw);
  }
  std::sort(medians.begin(), medians.end());
  const double tail = (1 - confidence) / 2;
  out.low = std::min(out.estimate, percentile(medians, tail));
  out.high = std::max(out.estimate, percentile(medians, 1 - tail));
  return out;
}

std::vector<RankMark> mark_ranks(const std::vector<std::optional<Interval>>& sorted,
                                 const std::vector<std::string>& networks) {
  std::vector<RankMark> marks(sorted.size());
  for (size_t i = 0; i < sorted.size() && sorted[i]; ++i) {
    const bool same = i > 0 && sorted[i - 1]->estimate == sorted[i]->estimate;
    marks[i].rank = same ? marks[i - 1].rank : static_cast<int>(i) + 1;
  }
  if (sorted.empty() || !sorted[0]) return marks;
  std::vector<size_t> group;
  std::vector<std::string> distinct;
  for (size_t i = 0; i < sorted.size() && sorted[i]; ++i) {
    if (!sorted[i]->overlaps(*sorted[0])) continue;
    group.push_back(i);
    const std::string id = i < networks.size() && !networks[i].empty() ? networks[i] : fmt::format("{}", sorted[i]->estimate);
    if (std::find(distinct.begin(), distinct.end(), id) == distinct.end()) distinct.push_back(id);
  }
  if (distinct.size() > 1)
    for (size_t i : group) marks[i].tied = true;
  return marks;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2) return 0;
  const auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  const double mean = (n + 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

std::vector<int> round_order(const std::vector<int>& networks, std::uint64_t seed, std::uint64_t round) {
  std::vector<int> shuffled = networks;
  SplitMix64 rng(mix(seed, round));
  for (size_t i = shuffled.size(); i > 1; --i) std::swap(shuffled[i - 1], shuffled[rng.below(i)]);
  std::vector<int> visits;
  visits.reserve(2 * shuffled.size() + 1);
  visits.push_back(kReference);
  for (int id : shuffled) {
    visits.push_back(id);
    visits.push_back(kReference);
  }
  return visits;
}

std::vector<std::vector<int>> plan_batches(const std::vector<int>& networks, const std::vector<std::int64_t>& bytes,
                                           std::int64_t limit, int max_networks) {
  auto size_of = [&](int id) { return static_cast<size_t>(id) < bytes.size() ? bytes[static_cast<size_t>(id)] : 0; };
  const std::int64_t reference = size_of(kReference);
  std::vector<std::vector<int>> batches;
  std::vector<int> current;
  std::int64_t used = reference;
  for (int id : networks) {
    const bool fits = limit <= 0 || used + size_of(id) <= limit;
    if (!current.empty() && (!fits || static_cast<int>(current.size()) >= std::max(1, max_networks))) {
      batches.push_back(std::move(current));
      current.clear();
      used = reference;
    }
    current.push_back(id);
    used += size_of(id);
  }
  if (!current.empty()) batches.push_back(std::move(current));
  return batches;
}

double t_quantile_95(int df) {
  if (df < 1) return std::numeric_limits<double>::infinity();
  // Exact for small df, then the Cornish-Fisher expansion around z = 1.959964 (error < 1e-4 for df >= 8).
  static const double table[] = {0, 12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646};
  if (df < 8) return table[df];
  const double z = 1.959964, n = df;
  return z + (z * z * z + z) / (4 * n) + (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * n * n) +
         (3 * std::pow(z, 7) + 19 * std::pow(z, 5) + 17 * z * z * z - 15 * z) / (384 * n * n * n);
}

void fit_relative_latencies(MeasureOutcome& outcome, std::uint64_t seed) {
  // Cells: the log of each network's median ratio in each replicate it has samples in.
  struct Cell {
    size_t network;
    int replicate;
    double y;
  };
  std::vector<Cell> cells;
  std::map<int, size_t> replicate_index;
  auto& nets = outcome.networks;
  for (size_t n = 1; n < nets.size(); ++n) {
    std::map<int, std::vector<double>> by;
    for (size_t i = 0; i < nets[n].samples.size(); ++i) by[nets[n].replicate.at(i)].push_back(nets[n].samples[i]);
    nets[n].replicates = static_cast<int>(by.size());
    for (auto& [k, v] : by) {
      cells.push_back({n, k, std::log(median_in_place(v))});
      replicate_index.emplace(k, replicate_index.size());
    }
  }
  std::vector<double> a(nets.size(), 0.0), c(replicate_index.size(), 0.0);
  std::vector<int> per_network(nets.size(), 0), per_replicate(c.size(), 0);
  for (const auto& cell : cells) {
    ++per_network[cell.network];
    ++per_replicate[replicate_index.at(cell.replicate)];
  }
  // y = a_network + c_replicate + e, fitted by alternating means (the design may be unbalanced:
  // racing replicates hold only the contenders); sum_k n_k c_k = 0 keeps the level of a.
  for (int iteration = 0; iteration < 200; ++iteration) {
    std::vector<double> sa(nets.size(), 0.0), sc(c.size(), 0.0);
    for (const auto& cell : cells) sa[cell.network] += cell.y - c[replicate_index.at(cell.replicate)];
    double change = 0;
    for (size_t n = 1; n < nets.size(); ++n) {
      if (per_network[n] == 0) continue;
      const double updated = sa[n] / per_network[n];
      change = std::max(change, std::fabs(updated - a[n]));
      a[n] = updated;
    }
    for (const auto& cell : cells) sc[replicate_index.at(cell.replicate)] += cell.y - a[cell.network];
    double weighted = 0, total = 0;
    for (size_t k = 0; k < c.size(); ++k) {
      const double updated = sc[k] / per_replicate[k];
      change = std::max(change, std::fabs(updated - c[k]));
      c[k] = updated;
      weighted += per_replicate[k] * c[k];
      total += per_replicate[k];
    }
    for (auto& v : c) v -= weighted / total;
    if (iteration > 0 && change < 1e-12) break;
  }
  int networks = 0;
  for (size_t n = 1; n < nets.size(); ++n) networks += per_network[n] > 0;
  const int df = static_cast<int>(cells.size()) - networks - static_cast<int>(c.size()) + 1;
  double ss = 0;
  for (const auto& cell : cells) {
    const double e = cell.y - a[cell.network] - c[replicate_index.at(cell.replicate)];
    ss += e * e;
  }
  outcome.degrees_of_freedom = std::max(0, df);
  outcome.pooled = df >= 4;
  outcome.replicate_sd = df > 0 ? std::sqrt(ss / df) : 0.0;
  const double t = outcome.pooled ? t_quantile_95(df) : 0.0;
  for (size_t n = 1; n < nets.size(); ++n) {
    if (per_network[n] == 0) continue;
    const double estimate = std::exp(a[n]);
    if (outcome.pooled) {
      const double half = t * outcome.replicate_sd / std::sqrt(static_cast<double>(per_network[n]));
      nets[n].rel = {estimate, estimate * std::exp(-half), estimate * std::exp(half)};
    } else {
      // Too few networks to pool: the bootstrap of its own samples, around the model's estimate.
      const Interval b = median_interval(nets[n].samples, mix(seed, n));
      // Rescaled around the model's estimate; rounding must not push a bound past it.
      nets[n].rel = b.estimate > 0 ? Interval{estimate, std::min(estimate, estimate * b.low / b.estimate),
                                              std::max(estimate, estimate * b.high / b.estimate)}
                                   : Interval{estimate, estimate, estimate};
    }
  }
}

namespace {

// One measurement run: the state shared by the first pass and racing.
class Engine {
 public:
  Engine(const MeasurePlan& plan, Timer& timer, const std::atomic<bool>* stop,
         const std::function<void(const MeasureProgress&)>& progress)
      : plan_(plan), s_(plan.settings), timer_(timer), stop_(stop), progress_(progress) {
    out_.networks.resize(static_cast<size_t>(plan.networks) + 1);
    replicates_ = std::max(1, s_.replicates);
    per_replicate_runs_ = (std::max(1, s_.min_runs) + replicates_ - 1) / replicates_;
  }

  MeasureOutcome run() {
    start_ = timer_.seconds();
    net(kReference).rel = {1, 1, 1};
    first_pass();
    if (!plan_.objective_scale.empty() && s_.budget_seconds > 0 && !stopped()) race();
    if (stopped()) out_.interrupted = true;
    finish();
    return std::move(out_);
  }

 private:
  bool stopped() const { return stop_ && stop_->load(std::memory_order_relaxed); }
  NetworkMeasurement& net(int id) { return out_.networks[static_cast<size_t>(id)]; }

  void fail(int id, const std::string& why) {
    if (id == kReference) throw runtime_failure("the reference network failed: " + why);
    if (net(id).failure.empty()) net(id).failure = why;
  }

  void warm_up(int id) {
    try {
      for (int i = 0; i < s_.warmup; ++i) timer_.run(id);
    } catch (const std::exception& e) {
      if (!stopped()) fail(id, e.what());
    }
  }

  // Builds `ids` (and the reference when it is not built) and warms them up; the ones that
  // failed drop out of the returned list.
  std::vector<int> load(const std::vector<int>& ids, BatchRecord& record) {
    const double build_start = timer_.seconds();
    if (!reference_loaded_) {
      const auto failed = timer_.load({kReference});
      if (!failed.at(0).empty()) throw runtime_failure("the reference network could not be built: " + failed[0]);
      reference_loaded_ = true;
      warm_up(kReference);
    }
    const auto failures = timer_.load(ids);
    std::vector<int> ready;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!failures.at(i).empty()) fail(ids[i], failures[i]);
      else ready.push_back(ids[i]);
    }
    for (int id : ready) warm_up(id);
    ready.erase(std::remove_if(ready.begin(), ready.end(), [&](int id) { return !net(id).failure.empty(); }), ready.end());
    record.networks = static_cast<int>(ids.size());
    record.build_seconds = timer_.seconds() - build_start;
    build_seconds_ += record.build_seconds;
    built_ += static_cast<int>(ids.size());
    return ready;
  }

  void unload(const std::vector<int>& ids, bool reference) {
    std::vector<int> all = ids;
    if (reference && reference_loaded_) {
      all.push_back(kReference);
      reference_loaded_ = false;
    }
    timer_.unload(all);
  }

  // One visit: the first pass after a switch refills caches and is not kept; the next is timed.
  double visit(int id) {
    if (timer_.discards_first_pass()) timer_.run(id);
    return timer_.run(id);
  }

  // Times one round over `ids`. False when stopped mid-round (that round's samples are dropped).
  bool time_round(const std::vector<int>& ids, bool racing, BatchRecord& record, std::vector<double>& batch_reference) {
    const std::vector<int> order = round_order(ids, s_.seed, round_++);
    std::vector<double> t(order.size(), std::nan(""));
    for (size_t k = 0; k < order.size(); ++k) {
      if (stopped()) return false;
      const int id = order[k];
      if (id != kReference && !net(id).failure.empty()) continue;
      try {
        t[k] = visit(id);
      } catch (const std::exception& e) {
        if (stopped()) return false;  // cut short by the stop, not a failure of the network
        fail(id, e.what());
      }
    }
    for (size_t k = 0; k < order.size(); ++k) {
      const int id = order[k];
      if (std::isnan(t[k])) continue;
      if (id == kReference) {
        reference_times_.push_back(t[k]);
        batch_reference.push_back(t[k]);
        continue;
      }
      NetworkMeasurement& m = net(id);
      m.samples.push_back(t[k] / std::sqrt(t[k - 1] * t[k + 1]));
      m.replicate.push_back(replicate_);
      m.times_ms.push_back(t[k]);
      m.runs = static_cast<int>(m.samples.size());
      if (racing) ++m.raced_runs;
      visits_ += 1;
      timed_ms_ += t[k] + t[k - 1];
    }
    ++record.rounds;
    std::vector<double> round_reference;
    for (size_t k = 0; k < order.size(); k += 2)
      if (!std::isnan(t[k])) round_reference.push_back(t[k]);
    if (round_reference.size() >= 8) round_medians_.push_back(median(round_reference));
    return true;
  }

  // The samples network `id` has in the current replicate, and their own time.
  std::pair<int, double> in_replicate(int id) {
    const NetworkMeasurement& m = net(id);
    int runs = 0;
    double ms = 0;
    for (size_t i = m.replicate.size(); i-- > 0 && m.replicate[i] == replicate_;) {
      ++runs;
      ms += m.times_ms[i];
    }
    return {runs, ms};
  }

  void report(MeasureProgress p) {
    if (!progress_) return;
    p.total = plan_.networks;
    p.elapsed_seconds = timer_.seconds() - start_;
    for (int id = 1; id <= plan_.networks; ++id) p.complete += net(id).measured;
    p.so_far = &out_;
    progress_(p);
  }

  void open_batch(double& timing_start, double& foreign_start) {
    timing_start = timer_.seconds();
    foreign_start = timer_.foreign_cpu_seconds();
  }

  void close_batch(BatchRecord& record, std::vector<double>& batch_reference, double timing_start, double foreign_start) {
    record.timing_seconds = timer_.seconds() - timing_start;
    // A thread that ended meanwhile takes its CPU time with it: never below 0.
    record.foreign_cpu_seconds = std::max(0.0, timer_.foreign_cpu_seconds() - foreign_start);
    record.reference_median_ms = median(batch_reference);
    reference_per_batch_.push_back(batch_reference.size());
    out_.batches.push_back(record);
    out_.reference = summarize(reference_times_);
    net(kReference).complete = net(kReference).measured = !reference_times_.empty();
  }

  // Statistics of everything so far, for progress reports and checkpoints.
  void refresh() {
    fit_relative_latencies(out_, s_.seed);
    NetworkMeasurement& ref = net(kReference);
    ref.times_ms = reference_times_;
    ref.runs = static_cast<int>(reference_times_.size());
  }

  void first_pass() {
    std::vector<int> ids;
    for (int id = 1; id <= plan_.networks; ++id) ids.push_back(id);
    const auto batches = plan_batches(ids, plan_.bytes, s_.memory_limit, s_.max_batch);
    const int total_batches = static_cast<int>(batches.size()) * replicates_;
    int batch_number = 0;
    for (int k = 0; k < replicates_ && !stopped(); ++k, ++replicate_) {
      if (batches.empty()) {
        // No candidate: time the reference alone, for its absolute latency.
        BatchRecord record;
        std::vector<double> batch_reference;
        load({}, record);
        double t0 = 0, f0 = 0;
        open_batch(t0, f0);
        for (int r = 0; r < per_replicate_runs_ && !stopped(); ++r) time_round({}, false, record, batch_reference);
        close_batch(record, batch_reference, t0, f0);
        unload({}, true);
        continue;
      }
      for (size_t b = 0; b < batches.size() && !stopped(); ++b) {
        ++batch_number;
        BatchRecord record;
        std::vector<int> active = load(batches[b], record);
        std::vector<double> batch_reference;
        double timing_start = 0, foreign_start = 0;
        open_batch(timing_start, foreign_start);
        bool whole = true;
        while (!active.empty()) {
          if (!time_round(active, false, record, batch_reference)) {
            whole = false;
            break;
          }
          active.erase(std::remove_if(active.begin(), active.end(),
                                      [&](int id) {
                                        const auto [runs, ms] = in_replicate(id);
                                        return !net(id).failure.empty() ||
                                               (runs >= per_replicate_runs_ && ms >= s_.min_seconds * 1000.0 / replicates_);
                                      }),
                       active.end());
          MeasureProgress p;
          p.batch = batch_number;
          p.batches = total_batches;
          p.eta_seconds = eta(total_batches - batch_number, batches[b].size());
          report(p);
        }
        close_batch(record, batch_reference, timing_start, foreign_start);
        const bool last_batch = b + 1 == batches.size();
        unload(batches[b], last_batch);  // the reference lives through its replicate's batches
        if (!whole) {
          // A cut-short replicate would weigh a few samples like a whole one: drop it.
          for (int id : batches[b]) drop_replicate(id, replicate_);
        } else {
          for (int id : batches[b]) {
            if (!net(id).failure.empty()) continue;
            net(id).measured = true;
            net(id).complete = k + 1 == replicates_;
          }
        }
        refresh();
        MeasureProgress p;
        p.batch = batch_number;
        p.batches = total_batches;
        p.batch_done = true;
        p.eta_seconds = eta(total_batches - batch_number, 0);
        report(p);
      }
    }
    if (reference_loaded_) unload({}, true);
  }

  // Seconds left in the first pass: visits still owed in this batch and the batches to come, at
  // the average visit time, plus their builds.
  double eta(int batches_left, size_t batch_size) {
    if (visits_ == 0 || built_ == 0) return -1;
    const double passes = timer_.discards_first_pass() ? 2 : 1;  // per visit
    const double per_visit = passes * timed_ms_ / static_cast<double>(visits_) / 1000.0;
    const double per_build = build_seconds_ / built_;
    const double networks_per_batch = static_cast<double>(plan_.networks) * replicates_ /
                                      std::max(1.0, static_cast<double>(out_.batches.size() + batches_left + 1));
    double owed = 0;
    for (int id = 1; id <= plan_.networks && batch_size > 0; ++id) {
      const auto [runs, ms] = in_replicate(id);
      (void)ms;
      if (net(id).failure.empty() && runs > 0 && runs < per_replicate_runs_) owed += per_replicate_runs_ - runs;
    }
    return owed * per_visit + batches_left * networks_per_batch * (per_replicate_runs_ * per_visit + per_build);
  }

  void race() {
    const int chunk = s_.racing_chunk > 0 ? s_.racing_chunk : per_replicate_runs_;
    const double racing_start = timer_.seconds();
    refresh();
    while (!stopped() && timer_.seconds() - start_ < s_.budget_seconds) {
      // Contenders: candidates whose objective interval overlaps the leader's.
      std::vector<std::pair<Interval, int>> ok;
      for (int id = 0; id <= plan_.networks; ++id) {
        if (id == kReference && plan_.objective_scale[0] <= 0) continue;
        const NetworkMeasurement& m = net(id);
        if (id != kReference && !m.ok()) continue;
        const Interval rel = id == kReference ? Interval{1, 1, 1} : m.rel;
        ok.emplace_back(rel.scaled(plan_.objective_scale.at(static_cast<size_t>(id))), id);
      }
      if (ok.size() < 2) break;
      std::sort(ok.begin(), ok.end(), [](const auto& x, const auto& y) { return x.first.estimate < y.first.estimate; });
      const Interval leader = ok.front().first;
      std::vector<int> contenders, to_time;
      for (const auto& [interval, id] : ok) {
        if (!interval.overlaps(leader)) continue;
        contenders.push_back(id);
        if (id != kReference && interval.relative_half_width() > s_.racing_resolution) to_time.push_back(id);
      }
      out_.contenders = static_cast<int>(contenders.size());
      if (contenders.size() <= 1) {
        out_.separated = true;
        break;
      }
      // Best first, as many as fit in one batch: a new replicate of them, built afresh.
      const auto fitted = plan_batches(to_time, plan_.bytes, s_.memory_limit, s_.max_batch);
      if (fitted.empty()) break;
      BatchRecord record;
      record.racing = true;
      const std::vector<int> set = fitted.front();
      std::vector<int> active = load(set, record);
      std::vector<double> batch_reference;
      double timing_start = 0, foreign_start = 0;
      open_batch(timing_start, foreign_start);
      bool whole = !active.empty();
      for (int r = 0; r < chunk && whole; ++r) {
        if (stopped() || timer_.seconds() - start_ >= s_.budget_seconds || !time_round(active, true, record, batch_reference))
          whole = false;
      }
      close_batch(record, batch_reference, timing_start, foreign_start);
      unload(set, true);
      if (!whole) {
        // A cut-short racing replicate would weigh a few samples like a whole one: drop it.
        for (int id : set) drop_replicate(id, replicate_);
      }
      ++replicate_;
      refresh();
      MeasureProgress p;
      p.racing = true;
      p.contenders = static_cast<int>(contenders.size());
      report(p);
      if (!whole) break;
    }
    out_.racing_seconds = timer_.seconds() - racing_start;
  }

  void drop_replicate(int id, int replicate) {
    NetworkMeasurement& m = net(id);
    while (!m.replicate.empty() && m.replicate.back() == replicate) {
      m.replicate.pop_back();
      m.samples.pop_back();
      m.times_ms.pop_back();
      if (m.raced_runs > 0) --m.raced_runs;
    }
    m.runs = static_cast<int>(m.samples.size());
  }

  void finish() {
    // Samples of replicates that did not finish (an interrupt) are not kept.
    for (int id = 1; id <= plan_.networks; ++id) {
      NetworkMeasurement& m = net(id);
      if (!m.measured) {
        m.samples.clear();
        m.replicate.clear();
        m.times_ms.clear();
        m.runs = 0;
      }
    }
    refresh();
    // Drift: the reference's median per round (rounds of at least 8 reference visits), else per
    // batch with that many.
    std::vector<double> medians = round_medians_;
    if (medians.empty())
      for (size_t i = 0; i < out_.batches.size(); ++i)
        if (reference_per_batch_[i] >= 8) medians.push_back(out_.batches[i].reference_median_ms);
    out_.drift = medians.empty() ? 1.0
                                 : *std::max_element(medians.begin(), medians.end()) /
                                       *std::min_element(medians.begin(), medians.end());
    out_.seconds = timer_.seconds() - start_;
  }

  const MeasurePlan& plan_;
  const MeasureSettings& s_;
  Timer& timer_;
  const std::atomic<bool>* stop_;
  const std::function<void(const MeasureProgress&)>& progress_;
  MeasureOutcome out_;
  int replicates_ = 1, per_replicate_runs_ = 1;
  int replicate_ = 0;
  bool reference_loaded_ = false;
  std::vector<double> reference_times_;
  std::vector<size_t> reference_per_batch_;
  std::vector<double> round_medians_;
  std::uint64_t round_ = 0;
  double start_ = 0;
  std::int64_t visits_ = 0;
  double timed_ms_ = 0;
  double build_seconds_ = 0;
  int built_ = 0;
};

}  // namespace

SimulatedTimer::SimulatedTimer(std::function<double(int)> true_ms, const Settings& settings)
    : true_ms_(std::move(true_ms)), s_(settings), state_(settings.seed) {}

double SimulatedTimer::normal() {
  SplitMix64 rng(state_);
  state_ = rng.next();
  // Box-Muller on two uniforms in (0, 1].
  const double u1 = (static_cast<double>(rng.next() >> 11) + 1) / 9007199254740992.0;
  const double u2 = static_cast<double>(rng.next() >> 11) / 9007199254740992.0;
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

std::vector<std::string> SimulatedTimer::load(const std::vector<int>& ids) {
  loads_.push_back(ids);
  for (int id : ids) {
    if (placement_.count(id)) continue;
    placement_[id] = std::exp(s_.placement_sd * normal());
    clock_ += s_.build_seconds;
  }
  return std::vector<std::string>(ids.size());
}

void SimulatedTimer::unload(const std::vector<int>& ids) {
  for (int id : ids) placement_.erase(id);
}

double SimulatedTimer::run(int id) {
  auto it = placement_.find(id);
  if (it == placement_.end()) throw runtime_failure(fmt::format("network {} is not built", id));
  if (id == s_.fail_id) throw runtime_failure("simulated failure");
  const double drift = 1 + (s_.drift_range - 1) * (0.5 - 0.5 * std::cos(2 * M_PI * clock_ / s_.period_seconds));
  const double t = true_ms_(id) * drift * it->second * std::exp(s_.noise_sd * normal()) * (id == last_ ? 1.0 : 1 + s_.cold_penalty);
  last_ = id;
  clock_ += t / 1000;
  if (++runs_ == stop_after_ && stop_) stop_->store(true);
  return t;
}

Latency latency_of(const MeasureOutcome& outcome, int id) {
  const NetworkMeasurement& m = outcome.networks.at(static_cast<size_t>(id));
  const TimingStats own = summarize(m.times_ms);
  Latency l;
  l.rel = m.rel;
  l.ms = m.rel.estimate * outcome.reference.median_ms;
  l.p10_ms = own.p10_ms;
  l.p90_ms = own.p90_ms;
  l.min_ms = own.min_ms;
  l.runs = m.runs;
  return l;
}

MeasureOutcome measure(const MeasurePlan& plan, Timer& timer, const std::atomic<bool>* stop,
                       const std::function<void(const MeasureProgress&)>& progress) {
  if (plan.networks < 0) throw Error("a measurement needs a non-negative number of networks");
  if (!plan.objective_scale.empty() && plan.objective_scale.size() != static_cast<size_t>(plan.networks) + 1)
    throw Error("objective_scale needs one entry per network, the reference's included");
  Engine engine(plan, timer, stop, progress);
  return engine.run();
}

}  // namespace effscale
