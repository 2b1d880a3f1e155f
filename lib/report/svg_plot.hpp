#pragma once
// A small SVG chart writer: line and scatter panels side by side, with linear or log axes, for
// scaling curves ("latency (ms) vs MACs", one line per strategy) and search candidate scatters.
// No dependencies beyond fmt; the output is deterministic.

#include <string>
#include <vector>

namespace effscale {

/// One named series of points in a panel.
struct PlotSeries {
  std::string name;          ///< legend label; the same name gets the same colour and marker in every panel
  std::vector<double> x, y;  ///< in axis units, same length (extra values are ignored); non-finite or
                             ///< (on log axes) non-positive points are skipped
  bool line = true;          ///< connect the points in the given order; a skipped point breaks the line
  bool markers = true;       ///< draw a marker at each point
};

/// A highlighted point with a text label, e.g. a top-ranked search candidate.
struct PlotMark {
  double x = 0, y = 0;  ///< in axis units; skipped like series points when not drawable
  std::string label;
};

/// One chart: axes with ticks and grid, the series, the marks and a legend beside the plot.
struct PlotPanel {
  std::string title;
  std::string x_label, y_label;  ///< with units, e.g. "MACs (billions)", "latency (ms)"
  bool log_x = false, log_y = false;
  std::vector<PlotSeries> series;
  std::vector<PlotMark> marks;
};

/// A standalone SVG 1.1 document: a title line on top, then the panels side by side, each with
/// axes, ticks, tick labels, grid, axis labels and a legend to the right of the plot. Colours come
/// from a fixed colour-blind-safe palette, assigned by series name in order of first appearance.
/// Each series is one <g class="series" data-name="..."> element. A panel without drawable points
/// still has axes and a "no data" note. Coordinates are in pixels with one decimal.
std::string render_svg(const std::string& title, const std::vector<PlotPanel>& panels);

}  // namespace effscale
