#pragma once
// A small SVG chart writer: line and scatter panels side by side, with linear or log axes, for
// scaling curves ("latency (ms) vs MACs", one line per strategy) and search candidate scatters.
// No dependencies beyond fmt; the output is deterministic.

#include <string>
#include <vector>

namespace effscale {

/// Colours in the palette; style index i has colour i % kPlotColours (see PlotSeries::colour).
constexpr int kPlotColours = 7;

/// One named series of points in a panel.
struct PlotSeries {
  std::string name;          ///< legend label; the same name gets the same colour and marker in every panel
  std::vector<double> x, y;  ///< in axis units, same length (extra values are ignored); non-finite or
                             ///< (on log axes) non-positive points are skipped
  bool line = true;          ///< connect the points in the given order; a skipped point breaks the line
  bool markers = true;       ///< draw a marker at each point
  /// A fixed style index (>= 0), e.g. an enum value, so that a series keeps its look whatever other
  /// series a plot has: colour index % kPlotColours, dash pattern index / kPlotColours, and a marker
  /// shape. -1: by order of first appearance, skipping the colours that fixed indices take.
  int colour = -1;
  /// Optional interval bars, e.g. 95% intervals: point i gets a vertical bar from y_low[i] to
  /// y_high[i] (in axis units) with small caps when both vectors have an element i (give them the
  /// length of y); a bar is skipped when its point or either end is not drawable. The y axis
  /// extends to include the bars.
  std::vector<double> y_low{}, y_high{};
};

/// A highlighted point with a text label, e.g. a top-ranked search candidate.
struct PlotMark {
  double x = 0, y = 0;  ///< in axis units; skipped like series points when not drawable
  std::string label;
};

/// A dashed vertical reference line across the plot, e.g. a target, with its label near the top.
struct PlotLine {
  double x = 0;  ///< in x-axis units; skipped when not drawable; the x axis extends to include it
  std::string label;
};

/// One chart: axes with ticks and grid, the series, the marks and a legend.
struct PlotPanel {
  std::string title;
  std::string x_label, y_label;  ///< with units, e.g. "MACs (billions)", "latency (ms)"; a long y label wraps
  bool log_x = false, log_y = false;
  std::vector<PlotSeries> series;
  std::vector<PlotMark> marks;
  std::vector<PlotLine> x_lines;
};

/// Panels with at most this many series draw their legend inside the plot area (in a white,
/// semi-opaque box, top-left unless another corner covers fewer points), others beside it.
constexpr int kMaxLegendInside = 4;

/// A standalone SVG 1.1 document: a title on top (bold, wrapped at spaces to the document's width),
/// an optional subtitle below it (smaller, wrapped the same way), then the panels side by side,
/// each with axes, ticks, tick labels, grid, axis labels and a legend. Colours come from a fixed
/// colour-blind-safe palette: by PlotSeries::colour when set, else assigned by series name in order
/// of first appearance. Each series is one <g class="series" data-name="..."> element, each interval
/// bar one <path class="bar">, each reference line one <g class="x-line">; the plot's frame is a
/// <rect class="frame"> with the axis ranges as data-x-lo, data-x-hi, data-y-lo, data-y-hi (in
/// axis coordinates: the log10 of the value on log axes) and data-x-scale, data-y-scale ("linear"
/// or "log"). A panel without drawable points still has axes and a "no data" note. Coordinates
/// are in pixels with one decimal.
std::string render_svg(const std::string& title, const std::vector<PlotPanel>& panels,
                       const std::string& subtitle = "");

}  // namespace effscale
