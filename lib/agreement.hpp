#pragma once
// Do two runs agree? The statistics behind `effscale diff` and bench/reproducibility.sh: for two
// search reports, the rank correlation and relative differences of the networks both measured, and
// whether each run's winner lies in the other's tie group; for two compare reports, per target,
// whether the strategies come in the same order except where a run declared them tied.

#include <string>
#include <string_view>
#include <vector>

#include "measure.hpp"
#include "search.hpp"

namespace effscale {

/// Agreement of two search reports over the networks both measured.
struct SearchAgreement {
  size_t networks = 0;          ///< networks with a relative latency in both
  double spearman = 0;          ///< of their relative latencies
  double median_delta = 0;      ///< median of |rel_b - rel_a| / rel_a
  double p90_delta = 0;         ///< its 90th percentile
  double max_delta = 0;
  std::string winner_a, winner_b;  ///< network ids of each run's rank 1
  bool a_winner_in_b = false;   ///< run a's winner is run b's winner or in b's tie group
  bool b_winner_in_a = false;
  bool winners_consistent() const { return a_winner_in_b && b_winner_in_a; }
};

/// Compares two search reports. Throws Error when they share no measured network.
SearchAgreement search_agreement(const Report& a, const Report& b);

/// A strategy's measured row of a compare report (the CSV `effscale compare --format csv` prints).
struct CompareMeasurement {
  std::string strategy;
  double target = 0;
  std::string network;
  Interval rel;
};

/// Reads the rows with a relative latency from a compare CSV; throws Error naming `source` when a
/// column is missing.
std::vector<CompareMeasurement> parse_compare_measurements(std::string_view csv, std::string_view source);

/// One target's verdict.
struct TargetAgreement {
  double target = 0;
  std::vector<std::string> disagreements;  ///< "width vs fast": ordered differently, tied in neither run
  bool agrees() const { return disagreements.empty(); }
};

/// Compares two compare reports target by target, over the strategies both measured.
std::vector<TargetAgreement> compare_agreement(const std::vector<CompareMeasurement>& a,
                                               const std::vector<CompareMeasurement>& b);

}  // namespace effscale
