#pragma once
// Latency prediction from a table of unit latencies (the pure part; measuring the table is
// predict_pipeline.hpp).
//
// A network is the sum of its units (units.hpp: stem, blocks, head). Each distinct unit is built
// and timed alone, its input already in the layout the network hands it, next to the reference
// network (the unscaled baseline) in the measurement engine's interleaved rounds: the table keeps
// its latency RELATIVE to the reference, never an absolute time, because the machine's speed
// drifts 2x within seconds and only times taken side by side compare (bench/MEASUREMENT.md).
//
//     predicted rel latency = scale x sum of unit rels + constant + per_unit x units
//
// The overhead terms (what a network costs beyond its units run alone: switching between units,
// the caches one unit leaves to the next) are fitted by least squares on calibration networks
// measured in the same run as their units. Every prediction carries a 95% interval: the units'
// own intervals plus the fit's residual spread.
//
// The table is one text file, keyed by everything that changes a unit's relative latency: CPU
// model, cores, oneDNN version, ISA, threads, batch, layout, lowering switches and the reference
// network. A table of another key is rebuilt, never used.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "measure.hpp"
#include "search.hpp"

namespace effscale {

/// A table file is read with this cap.
inline constexpr std::int64_t kMaxLatencyTableBytes = std::int64_t{64} << 20;

/// The first line of every table file.
inline constexpr std::string_view kLatencyTableMagic = "# effscale latency table v1";

/// One unit's measured latency.
struct UnitLatency {
  Interval rel;      ///< relative to the reference, with its 95% interval
  int runs = 0;      ///< samples it got
  std::string name;  ///< where it was first seen ("stage2.block1"), for people
};

/// measured rel = scale x sum of unit rels + constant + per_unit x units, fitted on calibration
/// networks measured next to the reference in the run that uses the table: the units may have been
/// measured in another state of the machine, which moves relative latencies too (a slow spell made
/// B0 1.9x and B4 1.3x slower, so B4 relative to B0 moved from 5.6 to 8.2 within minutes here), and
/// the fit carries them over to the current one.
struct OverheadFit {
  double scale = 1, constant = 0, per_unit = 0;
  int terms = 1;           ///< fitted terms: 1 (constant; scale 1), 2 (+ per_unit), 3 (+ scale)
  double residual_sd = 0;  ///< sd of log(measured / predicted) over the calibration networks
  int networks = 0;        ///< calibration networks the fit used (0: not fitted)
};

/// "rel = 1.012 x units + 0.0342 + 0.00121 x n", the fit in words.
std::string fit_words(const OverheadFit& fit);

/// A calibration network's measurement, the fit's input.
struct CalibrationPoint {
  double measured_rel = 0;  ///< the whole network, relative to the reference
  double unit_sum = 0;      ///< sum of its units' rels
  int units = 0;
};

/// Least-squares fit of measured_rel = scale x unit_sum + constant + per_unit x units, minimizing
/// the relative residuals (weights 1 / measured_rel^2): all three
/// terms from 5 points on, constant and per_unit (scale 1) from 3, the constant alone below, and
/// fewer terms when the points do not determine them. Throws Error for no points.
OverheadFit fit_overhead(const std::vector<CalibrationPoint>& points);

struct LatencyTable {
  SearchKey key;                           ///< what the units' latencies hold for
  double reference_ms = 0;                 ///< the reference's median while the table was measured
  double build_seconds = 0;                ///< measuring time spent on it, over every run that added to it
  OverheadFit overhead;
  std::map<std::string, UnitLatency> units;  ///< by unit key (units.hpp)
};

/// The table as text (kLatencyTableMagic first; tab-separated lines; `end N` last, so that a
/// truncated file is recognized).
std::string format_latency_table(const LatencyTable& table);

/// Reads format_latency_table's text. Throws Error naming `source`, the line and what is wrong.
LatencyTable parse_latency_table(std::string_view text, std::string_view source);

/// Whether `text` starts like a table file (a file that does not is never replaced).
bool is_latency_table_text(std::string_view text);

/// One unit of a prediction.
struct UnitPrediction {
  std::string name;  ///< in this network ("stage3.block2")
  std::string key;
  std::optional<UnitLatency> latency;  ///< empty when the table does not have it
};

/// A network's predicted latency.
struct Prediction {
  Interval rel;            ///< relative to the reference, with its 95% interval
  double unit_sum = 0;     ///< sum of the units' rels
  double overhead = 0;     ///< constant + per_unit x units
  std::vector<UnitPrediction> units;
  int missing = 0;         ///< units the table does not have (then rel is not set)
  bool ok() const { return missing == 0; }
};

/// The prediction for a network whose units have these names and keys (units.hpp). Interval:
/// estimate +/- the units' half-widths (summed, times scale) and t x residual_sd x estimate, in
/// quadrature.
Prediction predict_latency(const std::vector<std::string>& names, const std::vector<std::string>& keys,
                           const LatencyTable& table);

}  // namespace effscale
