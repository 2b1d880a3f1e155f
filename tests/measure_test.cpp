// The measurement engine without oneDNN: its schedule, its statistics, and the whole engine on a
// simulated machine whose speed drifts 2x over the run.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <set>

#include "measure.hpp"

using namespace effscale;

namespace {

// The library's simulated machine (measure.hpp) with true times per network id, drift from 1 to `range` and
// back over `period` seconds, 3% noise, 0.7% per build, 5% for a cold first run.
SimulatedTimer machine(std::vector<double> true_ms, double range, double period, int fail_id = -1) {
  SimulatedTimer::Settings s;
  s.drift_range = range;
  s.period_seconds = period;
  s.fail_id = fail_id;
  return SimulatedTimer([true_ms](int id) { return true_ms.at(static_cast<size_t>(id)); }, s);
}

std::vector<size_t> order_of(const std::vector<double>& v) {
  std::vector<size_t> o(v.size());
  for (size_t i = 0; i < o.size(); ++i) o[i] = i;
  std::stable_sort(o.begin(), o.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  return o;
}

}  // namespace

TEST_CASE("a round visits every network once, between reference visits, in a seeded shuffled order", "[measure]") {
  const std::vector<int> ids = {1, 2, 3, 4, 5, 6, 7, 8};
  std::set<std::vector<int>> orders;
  for (std::uint64_t round = 0; round < 20; ++round) {
    const auto v = round_order(ids, 42, round);
    REQUIRE(v.size() == 2 * ids.size() + 1);
    std::vector<int> candidates;
    for (size_t k = 0; k < v.size(); ++k) {
      if (k % 2 == 0) CHECK(v[k] == kReference);  // R c R c ... c R: every candidate between two references
      else candidates.push_back(v[k]);
    }
    std::vector<int> sorted = candidates;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == ids);  // each once
    CHECK(round_order(ids, 42, round) == v);  // a pure function of (networks, seed, round)
    orders.insert(candidates);
  }
  CHECK(orders.size() >= 19);  // reshuffled every round (8! orders: repeats are rare)
  CHECK(round_order(ids, 43, 0) != round_order(ids, 42, 0));
  CHECK(round_order({}, 1, 0) == std::vector<int>{kReference});
  // Fixed values: the shuffle is splitmix64 Fisher-Yates, the same on every platform.
  CHECK(round_order({1, 2, 3}, 1, 0).size() == 7);
}

TEST_CASE("batches fit the memory limit with the reference, in order", "[measure]") {
  const std::vector<std::int64_t> bytes = {10, 30, 30, 30, 50, 100};
  CHECK(plan_batches({1, 2, 3, 4, 5}, bytes, 0, 100) == std::vector<std::vector<int>>{{1, 2, 3, 4, 5}});
  CHECK(plan_batches({1, 2, 3, 4, 5}, bytes, 100, 100) == std::vector<std::vector<int>>{{1, 2, 3}, {4}, {5}});
  CHECK(plan_batches({1, 2, 3, 4, 5}, bytes, 0, 2) == std::vector<std::vector<int>>{{1, 2}, {3, 4}, {5}});
  // Too big to share: alone.
  CHECK(plan_batches({1, 5, 2}, bytes, 60, 10) == std::vector<std::vector<int>>{{1}, {5}, {2}});
  CHECK(plan_batches({}, bytes, 60, 10).empty());
}

TEST_CASE("statistics: median, bootstrap interval, Spearman, t quantiles, ranks and ties", "[measure]") {
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 2, 3}) == 2.5);
  CHECK(median({}) == 0);
  std::vector<double> s;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(2.0, 0.05);
  for (int i = 0; i < 200; ++i) s.push_back(n(rng));
  const Interval i = median_interval(s, 9);
  CHECK(i.low <= i.estimate);
  CHECK(i.estimate <= i.high);
  CHECK(i.estimate == median(s));
  // The median's standard error is about 1.2533 sd / sqrt(n) = 0.0044: the 95% half-width about 0.0087.
  CHECK((i.high - i.low) / 2 == Approx(0.0087).margin(0.003));
  CHECK(median_interval(s, 9).low == i.low);  // seeded: the same interval again
  const Interval one = median_interval({1.5}, 1);
  CHECK(one.low == 1.5);
  CHECK(one.high == 1.5);

  CHECK(spearman({1, 2, 3, 4}, {10, 20, 30, 40}) == Approx(1));
  CHECK(spearman({1, 2, 3, 4}, {4, 3, 2, 1}) == Approx(-1));
  // Hand computation: ranks (1, 2, 3, 4) vs (1, 3, 2, 4): 1 - 6 * 2 / (4 * 15) = 0.8.
  CHECK(spearman({1, 2, 3, 4}, {1, 3, 2, 4}) == Approx(0.8));
  CHECK(spearman({1, 1, 1}, {1, 2, 3}) == 0);

  // Student's t, two-sided 95% (any statistics table).
  CHECK(t_quantile_95(1) == Approx(12.706).epsilon(1e-4));
  CHECK(t_quantile_95(4) == Approx(2.776).epsilon(1e-3));
  CHECK(t_quantile_95(10) == Approx(2.228).epsilon(1e-3));
  CHECK(t_quantile_95(30) == Approx(2.042).epsilon(1e-3));
  CHECK(t_quantile_95(120) == Approx(1.980).epsilon(1e-3));

  // Equal estimates share a rank; a tie needs two networks.
  const std::vector<std::optional<Interval>> v = {Interval{1.0, 0.95, 1.05}, Interval{1.0, 0.95, 1.05},
                                                  Interval{1.04, 1.0, 1.08}, Interval{1.2, 1.1, 1.3}, std::nullopt};
  auto marks = mark_ranks(v, {"a", "a", "b", "c", ""});
  CHECK(marks[0].rank == 1);
  CHECK(marks[1].rank == 1);
  CHECK(marks[2].rank == 3);
  CHECK(marks[3].rank == 4);
  CHECK(marks[4].rank == 0);
  CHECK(marks[0].tied);
  CHECK(marks[2].tied);
  CHECK_FALSE(marks[3].tied);
  marks = mark_ranks({Interval{1.0, 0.99, 1.01}, Interval{1.0, 0.99, 1.01}, Interval{1.2, 1.1, 1.3}}, {"a", "a", "b"});
  CHECK_FALSE(marks[0].tied);  // the same network twice is not a tie
}

TEST_CASE("the replicate model recovers network effects and pools the residual spread", "[measure]") {
  // y = a_n + c_k + e with known a, c; e = +-d in a pattern that sums to zero per network and replicate.
  MeasureOutcome o;
  o.networks.resize(5);
  const double a[] = {0, std::log(1.5), std::log(1.6), std::log(1.7), std::log(1.8)};
  const double c[] = {0.03, -0.01, -0.02};
  const double d = 0.01;
  const double e[4][3] = {{d, -d, 0}, {-d, d, 0}, {0, d, -d}, {0, -d, d}};
  for (int n = 1; n <= 4; ++n)
    for (int k = 0; k < 3; ++k)
      for (int run = 0; run < 3; ++run) {  // three samples per cell, median = the middle one
        o.networks[n].samples.push_back(std::exp(a[n] + c[k] + e[n - 1][k] + (run - 1) * 0.001));
        o.networks[n].replicate.push_back(k);
      }
  fit_relative_latencies(o, 1);
  // The network effects come back exactly (the replicate effects are centred; they sum to 0 here).
  for (int n = 1; n <= 4; ++n) CHECK(o.networks[n].rel.estimate == Approx(std::exp(a[n])).epsilon(1e-9));
  // 12 cells - 4 networks - 3 replicates + 1 = 6 degrees of freedom; residual sum 8 d^2: sd = d sqrt(8/6).
  CHECK(o.degrees_of_freedom == 6);
  CHECK(o.pooled);
  CHECK(o.replicate_sd == Approx(d * std::sqrt(8.0 / 6)).epsilon(1e-9));
  const double half = t_quantile_95(6) * o.replicate_sd / std::sqrt(3.0);
  CHECK(o.networks[1].rel.high == Approx(1.5 * std::exp(half)).epsilon(1e-9));
  CHECK(o.networks[1].replicates == 3);
  // A racing replicate holding two networks shifted by its own common offset does not move their level.
  for (int n = 1; n <= 2; ++n)
    for (int run = 0; run < 3; ++run) {
      o.networks[n].samples.push_back(std::exp(a[n] + 0.05));
      o.networks[n].replicate.push_back(3);
    }
  fit_relative_latencies(o, 1);
  CHECK(o.networks[1].rel.estimate / o.networks[2].rel.estimate == Approx(1.5 / 1.6).epsilon(2e-3));
  CHECK(o.networks[1].replicates == 4);
}

TEST_CASE("on a machine drifting 2x, the engine recovers the true order where block medians do not", "[measure]") {
  // Ten candidates 3-4% apart; true ratio to the reference 1.5 ... 1.85, assigned so that the fastest is timed
  // last in id order while the machine slows down.
  const int n = 10;
  std::vector<double> true_ms = {4.0};
  std::vector<double> true_ratio;
  for (int i = 0; i < n; ++i) {
    true_ratio.push_back(1.85 - 0.035 * i);
    true_ms.push_back(4.0 * true_ratio.back());
  }
  // The naive way, as effscale searched before: each candidate timed in one block of 20 runs, in id order,
  // compared by absolute medians. The run takes about 1.5 s, during which the machine slows 2x.
  {
    auto m = machine(true_ms, 2.0, 3.0);
    std::vector<int> ids;
    for (int id = 1; id <= n; ++id) ids.push_back(id);
    m.load(ids);
    std::vector<double> block;
    for (int id = 1; id <= n; ++id) {
      std::vector<double> t;
      for (int r = 0; r < 20; ++r) t.push_back(m.run(id));
      block.push_back(median(t));
    }
    CHECK(order_of(block) != order_of(true_ratio));
  }
  MeasurePlan plan;
  plan.networks = n;
  plan.settings.min_runs = 24;
  plan.settings.replicates = 3;
  auto m = machine(true_ms, 2.0, 3.0);
  const MeasureOutcome out = measure(plan, m, nullptr, {});
  std::vector<double> rel;
  for (int id = 1; id <= n; ++id) {
    const auto& net = out.networks[id];
    INFO("network " << id << ": " << net.rel.estimate << " vs true " << true_ratio[id - 1]);
    CHECK(net.ok());
    CHECK(net.complete);
    CHECK(net.runs == 24);  // every candidate gets its runs: 8 in each of 3 replicates
    CHECK(net.replicates == 3);
    CHECK(net.rel.estimate == Approx(true_ratio[id - 1]).epsilon(0.02));
    CHECK(net.rel.low <= true_ratio[id - 1] * 1.01);
    CHECK(net.rel.high >= true_ratio[id - 1] * 0.99);
    rel.push_back(net.rel.estimate);
  }
  CHECK(order_of(rel) == order_of(true_ratio));
  CHECK(out.pooled);
  CHECK(out.drift > 1.3);  // it saw the machine move
  // The reference was in every batch: each replicate loaded it afresh with the candidates.
  int reference_loads = 0;
  for (const auto& l : m.loads()) reference_loads += std::count(l.begin(), l.end(), kReference);
  CHECK(reference_loads == 3);
  // Absolute latency is relative latency times the reference's median over the run.
  CHECK(out.absolute_ms(3) == Approx(out.networks[3].rel.estimate * out.reference.median_ms));
}

TEST_CASE("racing measures the contenders again and leaves clear losers alone", "[measure]") {
  // Networks 1 and 2 are equally fast (a true tie); 3 and 4 are clearly slower.
  const std::vector<double> true_ms = {4.0, 6.0, 6.0, 8.0, 9.0};
  MeasurePlan plan;
  plan.networks = 4;
  plan.settings.min_runs = 6;
  plan.settings.budget_seconds = 3;
  plan.objective_scale = {0, 1, 1, 1, 1};
  auto m = machine(true_ms, 1.3, 5.0);
  const MeasureOutcome out = measure(plan, m, nullptr, {});
  CHECK(out.networks[1].raced_runs > 0);
  CHECK(out.networks[2].raced_runs > 0);
  CHECK(out.networks[3].raced_runs == 0);
  CHECK(out.networks[4].raced_runs == 0);
  CHECK(out.networks[1].runs > 6);
  CHECK(out.networks[3].runs == 6);
  CHECK(out.networks[1].rel.overlaps(out.networks[2].rel));  // still tied: they are equal
  CHECK_FALSE(out.separated);
  CHECK(out.contenders == 2);
  CHECK(m.seconds() < 3.5);  // the budget holds (one racing round may finish past it)
  // A leader that is clearly ahead stops racing at once.
  const std::vector<double> clear = {4.0, 5.0, 8.0, 9.0};
  MeasurePlan p2 = plan;
  p2.networks = 3;
  p2.objective_scale = {0, 1, 1, 1};
  auto m2 = machine(clear, 1.3, 5.0);
  const MeasureOutcome o2 = measure(p2, m2, nullptr, {});
  CHECK(o2.separated);
  CHECK(o2.networks[1].raced_runs == 0);
}

TEST_CASE("a failing network is recorded and the rest are measured, a stop keeps whole replicates", "[measure]") {
  const std::vector<double> true_ms = {4.0, 6.0, 7.0, 8.0};
  MeasurePlan plan;
  plan.networks = 3;
  plan.settings.min_runs = 6;
  {
    auto m = machine(true_ms, 1.5, 5.0, 2);
    const MeasureOutcome out = measure(plan, m, nullptr, {});
    CHECK(out.networks[2].failure == "simulated failure");
    CHECK_FALSE(out.networks[2].ok());
    CHECK(out.networks[1].ok());
    CHECK(out.networks[3].ok());
  }
  {
    // Stopped in the second replicate: the first replicate's samples stay, the cut one is dropped.
    auto m = machine(true_ms, 1.5, 5.0);
    std::atomic<bool> stop{false};
    m.stop_after(60, &stop);  // the first replicate takes 2 x (2 + 2 x 3 x 3 + 4 ...) runs: about 50
    const MeasureOutcome out = measure(plan, m, &stop, {});
    CHECK(out.interrupted);
    for (int id = 1; id <= 3; ++id) {
      CHECK(out.networks[id].measured);
      CHECK_FALSE(out.networks[id].complete);
      CHECK(out.networks[id].runs == 2);  // one replicate of 6 / 3 runs
    }
  }
  {
    // The reference failing is an error: nothing can be compared without it.
    auto m = machine(true_ms, 1.5, 5.0, kReference);
    CHECK_THROWS_WITH(measure(plan, m, nullptr, {}), Catch::Contains("the reference network failed: simulated failure"));
  }
}
