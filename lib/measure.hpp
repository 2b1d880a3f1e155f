#pragma once
// The measurement engine: every latency comparison effscale makes (bench, compare, search) goes
// through it, so that its answers survive a machine whose speed drifts 2x within seconds.
//
// Networks are never compared by times taken at different moments. Each candidate is timed next
// to a reference network (the unscaled baseline), in rounds whose order is reshuffled from the
// seed every round:
//
//     round 1:  R c3 R c1 R c2 R        round 2:  R c2 R c3 R c1 R        ...
//
// A visit is one untimed pass (the first pass after switching networks refills the caches: it
// measured 3-5% slower and twice as noisy as the next ones; bench/MEASUREMENT.md) and then one
// timed pass. A candidate's sample is its time over the geometric mean of the two reference visits
// around it, which cancels drift that is linear over the three visits.
//
// A network built once keeps its memory placement, which shifts its speed by about 0.5-1% for the
// whole run, and the machine's character drifts over tens of seconds: neither shows within one
// build's samples. So the first pass is split into replicates: each builds every network (the
// reference too) afresh and times them together. A network's relative latency comes from a
// two-way model on the log of its per-replicate medians (network effect + replicate effect, the
// latter absorbing what moved every network alike); its 95% interval from the residual variance
// pooled over all networks, which holds placement and drift between replicates. With too few
// networks to pool, the interval is a bootstrap of the network's own samples (narrower than it
// should be; the report says which).
//
// Networks of a replicate are built in batches (each with the reference) that fit the memory
// limit, never while anything is timed. After the first pass, racing spends the rest of the budget
// where it can change the answer: the candidates whose interval overlaps the leader's get further
// replicates, together, until the leader separates, their intervals are as narrow as the machine
// allows, or the budget is spent.
//
// The schedule and the statistics are pure functions; a Timer runs the networks (oneDNN in
// measure_onednn.hpp; a simulated drifting machine in the tests).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace effscale {

/// Network id of the reference in every plan and schedule; candidates are 1..n.
inline constexpr int kReference = 0;

/// Statistics of timed runs, in milliseconds. Percentiles interpolate between ranks.
struct TimingStats {
  double median_ms = 0, p10_ms = 0, p90_ms = 0, min_ms = 0, max_ms = 0, mean_ms = 0;
  int runs = 0;
};

/// Statistics of `samples_ms` (any order; empty gives zeros).
TimingStats summarize(std::vector<double> samples_ms);

/// The median (mean of the middle two for an even count); 0 for no samples.
double median(std::vector<double> values);

/// An estimate with its 95% interval.
struct Interval {
  double estimate = 0, low = 0, high = 0;
  /// The intervals share at least one point.
  bool overlaps(const Interval& other) const { return low <= other.high && other.low <= high; }
  /// Every bound multiplied by k > 0.
  Interval scaled(double k) const { return {estimate * k, low * k, high * k}; }
  /// (high - low) / 2 / estimate.
  double relative_half_width() const;
};

/// The median of `samples` with a percentile-bootstrap interval at `confidence`: `resamples`
/// resamples with replacement, drawn from a generator seeded by `seed` (same input, same
/// interval, on any machine). One sample gives a zero-width interval.
Interval median_interval(const std::vector<double>& samples, std::uint64_t seed, double confidence = 0.95,
                         int resamples = 2000);

/// The rank and tie mark of one value of a ranking.
struct RankMark {
  int rank = 0;       ///< 1 = best; 0 = unranked
  bool tied = false;  ///< its interval overlaps the best one's, and at least two networks do
};

/// Ranks of values already sorted best first, the unranked (nullopt) last: equal estimates (the
/// same network) share a rank, the next gets its position (1, 1, 3); `tied` marks every value
/// whose interval overlaps the first's, the first included, when they span at least two distinct
/// `networks` (empty ids count by estimate).
std::vector<RankMark> mark_ranks(const std::vector<std::optional<Interval>>& sorted,
                                 const std::vector<std::string>& networks);

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom (df >= 1).
double t_quantile_95(int df);

/// Spearman's rank correlation of two equally long lists (average ranks for ties); 0 when either
/// list is constant or shorter than 2.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

/// The visits of one round: the reference before, between and after the `networks` (ids >= 1,
/// each once), in an order shuffled by (seed, round): R c R c ... c R. Pure; the shuffle is
/// Fisher-Yates on splitmix64, identical on every platform.
std::vector<int> round_order(const std::vector<int>& networks, std::uint64_t seed, std::uint64_t round);

/// Groups `networks` into batches built together: each batch's bytes plus the reference's stay
/// within `limit` (0 = no limit) and hold at most `max_networks`; order is kept. A network too
/// big to share gets a batch of its own (the caller refuses networks that do not fit alone).
std::vector<std::vector<int>> plan_batches(const std::vector<int>& networks, const std::vector<std::int64_t>& bytes,
                                           std::int64_t limit, int max_networks);

/// What the engine times. Implementations: OnednnTimer (measure_onednn.hpp), a simulated machine
/// in the tests.
class Timer {
 public:
  virtual ~Timer() = default;
  /// Builds networks `ids` so that run() can time them; an id already built is kept as it is.
  /// Returns one failure reason per id ("" when ready).
  virtual std::vector<std::string> load(const std::vector<int>& ids) = 0;
  /// Frees networks `ids` (the reference too: the next load builds it afresh).
  virtual void unload(const std::vector<int>& ids) = 0;
  /// One forward pass of network `id`: its time in milliseconds. Throws on failure.
  virtual double run(int id) = 0;
  /// Wall-clock seconds since the timer was made.
  virtual double seconds() = 0;
  /// CPU seconds used so far by threads of the process that do not run the networks (a build
  /// still going, a spinning worker pool): should not grow while timing.
  virtual double foreign_cpu_seconds() = 0;
  /// Whether a visit starts with an untimed pass (the first pass after switching networks refills
  /// the caches). A timer whose run() is a whole measurement of its own says no.
  virtual bool discards_first_pass() const { return true; }
};

/// A machine that exists only in arithmetic, for tests: network `id` runs in true_ms(id) x drift x
/// placement x noise, plus `cold_penalty` for the first run after a switch. Drift goes from 1 to
/// `drift_range` and back over `period_seconds` of its own (virtual) time; every build gets its own
/// placement factor; every run a lognormal noise. Its clock advances by what it runs and by
/// `build_seconds` per network built, never by real time. Deterministic from `seed` on every platform.
class SimulatedTimer : public Timer {
 public:
  struct Settings {
    double drift_range = 2.0;
    double period_seconds = 3.0;
    double noise_sd = 0.03;
    double placement_sd = 0.007;
    double cold_penalty = 0.05;
    double build_seconds = 0.05;
    std::uint64_t seed = 7;
    int fail_id = -1;  ///< this network throws when run
  };
  SimulatedTimer(std::function<double(int)> true_ms, const Settings& settings);
  std::vector<std::string> load(const std::vector<int>& ids) override;
  void unload(const std::vector<int>& ids) override;
  double run(int id) override;
  double seconds() override { return clock_; }
  double foreign_cpu_seconds() override { return 0; }
  /// Every load() call's ids, in order.
  const std::vector<std::vector<int>>& loads() const { return loads_; }
  int runs() const { return runs_; }
  /// Sets *stop once this many runs have been made (-1: never).
  void stop_after(int runs, std::atomic<bool>* stop) {
    stop_after_ = runs;
    stop_ = stop;
  }

 private:
  double normal();
  std::function<double(int)> true_ms_;
  Settings s_;
  std::uint64_t state_;
  std::map<int, double> placement_;
  std::vector<std::vector<int>> loads_;
  double clock_ = 0;
  int last_ = -1;
  int runs_ = 0;
  int stop_after_ = -1;
  std::atomic<bool>* stop_ = nullptr;
};

/// How much to measure.
struct MeasureSettings {
  int min_runs = 10;            ///< samples every network gets before racing, over all replicates
  double min_seconds = 0;       ///< ... and at least this much of its own timed time
  int replicates = 3;           ///< fresh builds of every network (and the reference) in the first pass
  double budget_seconds = 0;    ///< racing continues until the run has taken this long; 0: no racing
  int warmup = 2;               ///< untimed passes of each network after it is built
  int max_batch = 1000;         ///< networks built at once (besides the reference)
  std::int64_t memory_limit = 0;  ///< bytes of the networks of one batch, reference included; 0: no limit
  std::uint64_t seed = 1;       ///< shuffles and bootstrap
  double racing_resolution = 0.003;  ///< contenders whose relative half-width is below this are not timed again
  int racing_chunk = 0;         ///< rounds of a racing replicate; 0: min_runs / replicates
};

/// What to measure: candidates 1..networks next to the reference 0.
struct MeasurePlan {
  int networks = 0;
  std::vector<std::int64_t> bytes;  ///< memory of each id, the reference's at [0]; empty: no memory plan
  /// Racing ranks by objective = relative latency x objective_scale[id] (lower is better);
  /// empty: no racing.
  std::vector<double> objective_scale;
  MeasureSettings settings;
};

/// The measurement of one network.
struct NetworkMeasurement {
  std::vector<double> samples;   ///< paired ratios to the reference, in measurement order
  std::vector<int> replicate;    ///< the replicate of each sample
  std::vector<double> times_ms;  ///< its own timed passes (not drift-corrected)
  Interval rel;                  ///< relative latency (1 for the reference)
  int runs = 0;                  ///< samples.size()
  int replicates = 0;            ///< replicates it has samples in
  bool measured = false;         ///< has at least one whole replicate: worth keeping if the run stops
  bool complete = false;         ///< has every first-pass replicate (min_runs, min_seconds)
  int raced_runs = 0;            ///< of runs, those taken while racing
  std::string failure;           ///< why it could not be measured ("" when fine)
  bool ok() const { return measured && failure.empty(); }
};

/// One period of timing over a set of built networks.
struct BatchRecord {
  int networks = 0;          ///< candidates timed (besides the reference)
  bool racing = false;
  int rounds = 0;
  double build_seconds = 0;
  double timing_seconds = 0;
  double foreign_cpu_seconds = 0;  ///< CPU time of other threads of the process while timing
  double reference_median_ms = 0;
};

/// Everything the engine measured.
struct MeasureOutcome {
  std::vector<NetworkMeasurement> networks;  ///< [0] is the reference
  TimingStats reference;                     ///< the reference's timed passes over the whole run
  std::vector<BatchRecord> batches;
  double drift = 1;           ///< max / min of the reference's median per round (per batch when rounds are short)
  bool pooled = false;        ///< intervals from the pooled replicate model (at least 4 degrees of freedom), else per-network bootstrap
  int degrees_of_freedom = 0; ///< of the pooled residual variance
  double replicate_sd = 0;    ///< pooled residual standard deviation of a per-replicate log median
  double seconds = 0;         ///< the whole run, builds included
  double racing_seconds = 0;
  int contenders = 0;         ///< candidates still tied with the leader when racing ended
  bool separated = false;     ///< racing ended with the leader's interval apart from every other
  bool interrupted = false;   ///< `stop` was set: incomplete networks have complete == false
  /// Absolute latency of id in ms: its relative latency times the reference's median.
  double absolute_ms(int id) const { return networks.at(id).rel.estimate * reference.median_ms; }
};

/// Fits relative latencies from `networks` (index 0, the reference, is skipped; each network's
/// samples carry their replicate): the two-way model of the header, intervals at 95%. Sets
/// rel for every network with samples, and `pooled`, `degrees_of_freedom` and `replicate_sd` of
/// `outcome`. Pure; `seed` seeds the bootstrap fallback.
void fit_relative_latencies(MeasureOutcome& outcome, std::uint64_t seed);

/// A network's latency as reports show it.
struct Latency {
  Interval rel;     ///< relative to the reference, paired (1 for the reference itself)
  double ms = 0;    ///< absolute: rel.estimate x the reference's median over the run
  double p10_ms = 0, p90_ms = 0, min_ms = 0;  ///< spread of its own timed passes (not drift-corrected)
  int runs = 0;     ///< samples
  /// The absolute latency with its interval.
  Interval ms_interval() const { return rel.estimate > 0 ? rel.scaled(ms / rel.estimate) : Interval{ms, ms, ms}; }
};

/// The latency of network `id` of a finished measurement.
Latency latency_of(const MeasureOutcome& outcome, int id);

/// Progress of a measurement, reported after every round.
struct MeasureProgress {
  bool racing = false;
  int batch = 0, batches = 0;   ///< first pass: batch (1-based) of batches
  int complete = 0, total = 0;  ///< networks with their runs, of all candidates
  int contenders = 0;           ///< racing
  double elapsed_seconds = 0;
  double eta_seconds = -1;      ///< first pass: estimated seconds left; -1 unknown
  bool batch_done = false;      ///< a first-pass batch has just finished
  const MeasureOutcome* so_far = nullptr;  ///< results so far (statistics of complete networks set)
};

/// Measures `plan` with `timer`. A network that fails to build or run is recorded with its reason
/// and the rest go on; the reference failing is an Error. Stops between visits when `stop` is set
/// (keeping what completed). `progress` may be empty.
MeasureOutcome measure(const MeasurePlan& plan, Timer& timer, const std::atomic<bool>* stop,
                       const std::function<void(const MeasureProgress&)>& progress);

/// The drift above which a run's report warns: the reference's median moved by more than this
/// factor between rounds (see measure.cpp for why this value).
inline constexpr double kDriftWarning = 2.0;

/// The pooled spread between replicates (sd of a per-replicate log median) above which a run's
/// report warns that the machine was noisy (see measure.cpp for why this value).
inline constexpr double kNoiseWarning = 0.02;

}  // namespace effscale
