#include "report/svg_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>

namespace effscale {

namespace {

// Okabe-Ito colours without the yellow, which is too pale on white. Series past the seventh reuse
// the colours with a dash pattern; the marker shape cycles independently.
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                    "#CC79A7", "#56B4E9", "#000000"};
constexpr int kPaletteSize = 7;
constexpr const char* kDashes[] = {"", "7 3", "2 2", "7 2 2 2"};
constexpr int kShapes = 5;

// Geometry in pixels.
constexpr double kPlotWidth = 400;
constexpr double kPlotHeight = 300;
constexpr double kTitleBand = 40;
constexpr double kPanelTitleBand = 28;
constexpr double kBottomBand = 52;
constexpr double kTickFont = 11;
constexpr double kLegendFont = 11;
constexpr double kLegendRow = 18;
constexpr double kLegendSample = 26;
constexpr double kMarkerRadius = 3.2;

std::string xml_escape(const std::string& text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': s += "&amp;"; break;
      case '<': s += "&lt;"; break;
      case '>': s += "&gt;"; break;
      case '"': s += "&quot;"; break;
      case '\'': s += "&apos;"; break;
      case '\t':
      case '\n':
      case '\r': s += ' '; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) s += c;
    }
  }
  return s;
}

/// Pixel coordinate with at most one decimal; never "nan", "inf" or "-0".
std::string num(double v) {
  if (!std::isfinite(v)) return "0";
  std::string s = fmt::format("{:.1f}", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

/// Rough width of sans-serif text: UTF-8 characters times an average advance.
double text_width(const std::string& text, double font_size) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
  return static_cast<double>(chars) * font_size * 0.55;
}

int floor_log10(double v) { return static_cast<int>(std::floor(std::log10(v) + 1e-9)); }

/// A tick label precise to `step`: "0.5", "20", "1000", or in exponent form "2.5e9", "1e-5".
std::string tick_label(double value, double step, bool exponent) {
  if (value == 0 || !std::isfinite(value)) return "0";
  const double a = std::fabs(value);
  step = std::fabs(step);
  if (!(step > 0) || !std::isfinite(step)) step = a;
  if (exponent) {
    const int digits = std::clamp(floor_log10(a) - floor_log10(step), 0, 6);
    std::string s = fmt::format("{:.{}e}", value, digits);
    const size_t e = s.find('e');
    std::string mantissa = s.substr(0, e);
    if (mantissa.find('.') != std::string::npos) {
      while (mantissa.back() == '0') mantissa.pop_back();
      if (mantissa.back() == '.') mantissa.pop_back();
    }
    return mantissa + "e" + std::to_string(std::stoi(s.substr(e + 1)));
  }
  const int decimals = std::clamp(-floor_log10(step), 0, 8);
  return fmt::format("{:.{}f}", value, decimals);
}

struct Tick {
  double pos;    // in axis coordinates: the value, or its log10 on log axes
  double value;
  double step;   // the precision the label needs
  std::string label;
};

/// Labels the ticks of one axis, all in exponent form if any is long in fixed form.
std::vector<Tick> labelled(std::vector<Tick> ticks) {
  bool exponent = false;
  for (const Tick& t : ticks) {
    const double a = std::fabs(t.value);
    exponent = exponent || (a != 0 && (a >= 1e5 || a < 1e-3));
  }
  for (Tick& t : ticks) t.label = tick_label(t.value, t.step, exponent);
  return ticks;
}

struct Axis {
  bool log = false;
  double lo = 0, hi = 1;  // in axis coordinates
  std::vector<Tick> ticks;
  std::vector<double> minor;

  bool drawable(double v) const { return std::isfinite(v) && (!log || v > 0); }
  double coord(double v) const { return log ? std::log10(v) : std::clamp(v, -1e300, 1e300); }
  double unit(double c) const { return hi > lo ? (c - lo) / (hi - lo) : 0.5; }
};

/// Whether tick labels fit along an axis of `length` pixels without crowding.
bool ticks_fit(const std::vector<Tick>& ticks, double lo, double hi, double length, bool horizontal) {
  if (ticks.size() > 8) return false;
  for (size_t i = 1; i < ticks.size(); ++i) {
    const double gap = (ticks[i].pos - ticks[i - 1].pos) / (hi - lo) * length;
    const double need = horizontal ? std::max(36.0, (text_width(ticks[i].label, kTickFont) +
                                                     text_width(ticks[i - 1].label, kTickFont)) / 2 + 12)
                                   : 30.0;
    if (gap < need) return false;
  }
  return true;
}

/// The 1-2-5 step nearest to `raw`.
double nice_step(double raw) {
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

double next_step(double step) {
  const double mag = std::pow(10.0, floor_log10(step));
  const double r = std::round(step / mag);
  return (r < 1.5 ? 2 : r < 3.5 ? 5 : 10) * mag;
}

/// Multiples of a 1-2-5 step covering [lo, hi]; the axis is widened to the outer ticks.
Axis linear_axis(const std::vector<double>& values, double length, bool horizontal) {
  double lo = 0, hi = 1;
  if (!values.empty()) {
    const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    lo = std::clamp(*mn, -1e300, 1e300);
    hi = std::clamp(*mx, -1e300, 1e300);
    const double magnitude = std::max(std::fabs(lo), std::fabs(hi));
    if (hi - lo <= magnitude * 1e-9) {
      const double centre = (lo + hi) / 2;
      const double half = centre == 0 ? 1 : std::fabs(centre) * 0.1;
      lo = centre - half;
      hi = centre + half;
    } else {
      const double pad = (hi - lo) * 0.04;
      const double padded_lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
      const double padded_hi = hi <= 0 && hi + pad > 0 ? 0 : hi + pad;
      lo = padded_lo;
      hi = padded_hi;
    }
  }
  Axis axis;
  double step = nice_step((hi - lo) / 6);
  for (int attempt = 0; attempt < 64; ++attempt, step = next_step(step)) {
    const double first = std::floor(lo / step), last = std::ceil(hi / step);
    std::vector<Tick> ticks;
    for (double i = first; i <= last && ticks.size() < 64; ++i) ticks.push_back({i * step, i * step, step, {}});
    ticks = labelled(std::move(ticks));
    if (ticks.size() <= 2 || ticks_fit(ticks, first * step, last * step, length, horizontal)) {
      axis.lo = first * step;
      axis.hi = last * step;
      axis.ticks = std::move(ticks);
      break;
    }
  }
  if (axis.ticks.empty()) {
    axis.lo = lo;
    axis.hi = hi;
    axis.ticks = labelled({{lo, lo, std::fabs(lo) / 100, {}}, {hi, hi, std::fabs(hi) / 100, {}}});
  }
  return axis;
}

/// Ticks at m * 10^k for m in `multiples` within [lo, hi] (log10 coordinates).
std::vector<Tick> log_multiples(double lo, double hi, const std::vector<int>& multiples) {
  std::vector<Tick> ticks;
  for (int k = static_cast<int>(std::floor(lo)) - 1; k <= static_cast<int>(std::ceil(hi)); ++k) {
    for (int m : multiples) {
      const double pos = k + std::log10(static_cast<double>(m));
      if (pos < lo - 1e-9 || pos > hi + 1e-9) continue;
      const double decade = std::pow(10.0, k);
      ticks.push_back({pos, m * decade, decade, {}});
    }
  }
  return labelled(std::move(ticks));
}

/// Powers of ten every `every` decades within [lo, hi] (log10 coordinates).
std::vector<Tick> log_powers(double lo, double hi, int every) {
  std::vector<Tick> ticks;
  for (long k = static_cast<long>(std::ceil(lo / every - 1e-9)) * every; k <= hi + 1e-9; k += every) {
    const double value = std::pow(10.0, static_cast<double>(k));
    ticks.push_back({static_cast<double>(k), value, value, {}});
  }
  return labelled(std::move(ticks));
}

/// Powers of ten, or 1-2-5 (then 1-3) multiples when the range spans few decades, or plain
/// 1-2-5 steps when it spans less than about half a decade. The axis is not widened.
Axis log_axis(const std::vector<double>& values, double length, bool horizontal) {
  Axis axis;
  axis.log = true;
  double lo = 0, hi = 1;
  if (!values.empty()) {
    const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    lo = std::log10(*mn);
    hi = std::log10(*mx);
    if (hi - lo < 1e-9) {
      lo -= 0.5;
      hi += 0.5;
    } else {
      const double pad = (hi - lo) * 0.04;
      lo -= pad;
      hi += pad;
    }
  }
  axis.lo = lo;
  axis.hi = hi;
  const double span = hi - lo;
  auto accept = [&](std::vector<Tick> ticks) {
    if (ticks.size() < 2 || !ticks_fit(ticks, lo, hi, length, horizontal)) return false;
    axis.ticks = std::move(ticks);
    return true;
  };
  if (span < 1 && accept(log_multiples(lo, hi, {1, 2, 3, 4, 5, 6, 7, 8, 9}))) return axis;
  if (span < 2.5 && accept(log_multiples(lo, hi, {1, 2, 5}))) return axis;
  if (span < 3.5 && accept(log_multiples(lo, hi, {1, 3}))) return axis;
  if (span < 1) {
    const double vlo = std::pow(10.0, lo), vhi = std::pow(10.0, hi);
    double step = nice_step((vhi - vlo) / 6);
    for (int attempt = 0; attempt < 64; ++attempt, step = next_step(step)) {
      std::vector<Tick> ticks;
      for (double i = std::ceil(vlo / step); i * step <= vhi && ticks.size() < 64; ++i) {
        if (i * step > 0) ticks.push_back({std::log10(i * step), i * step, step, {}});
      }
      ticks = labelled(std::move(ticks));
      if (ticks.size() < 2) break;
      if (accept(std::move(ticks))) return axis;
    }
  }
  for (int every : {1, 2, 3, 5, 10, 20, 50, 100}) {
    if (span / every > 12) continue;
    if (accept(log_powers(lo, hi, every))) {
      if (every == 1 && span <= 4) {
        for (const Tick& t : log_multiples(lo, hi, {2, 3, 4, 5, 6, 7, 8, 9})) axis.minor.push_back(t.pos);
      }
      return axis;
    }
  }
  const double vlo = std::pow(10.0, lo), vhi = std::pow(10.0, hi);
  axis.ticks = labelled({{lo, vlo, vlo / 100, {}}, {hi, vhi, vhi / 100, {}}});
  return axis;
}

Axis make_axis(bool log, const std::vector<double>& values, double length, bool horizontal) {
  return log ? log_axis(values, length, horizontal) : linear_axis(values, length, horizontal);
}

/// A closed marker outline centred on (x, y) for the SVG path data of a series.
std::string marker_path(int shape, double x, double y) {
  const double r = kMarkerRadius;
  switch (shape) {
    case 0:
      return fmt::format("M{} {}a{} {} 0 1 0 {} 0a{} {} 0 1 0 {} 0z", num(x - r), num(y), num(r), num(r),
                         num(2 * r), num(r), num(r), num(-2 * r));
    case 1: {
      const double s = r * 0.88;
      return fmt::format("M{} {}h{}v{}h{}z", num(x - s), num(y - s), num(2 * s), num(2 * s), num(-2 * s));
    }
    case 2:
      return fmt::format("M{} {}L{} {}L{} {}z", num(x), num(y - 1.25 * r), num(x + 1.15 * r), num(y + 0.8 * r),
                         num(x - 1.15 * r), num(y + 0.8 * r));
    case 3:
      return fmt::format("M{} {}L{} {}L{} {}L{} {}z", num(x), num(y - 1.3 * r), num(x + 1.3 * r), num(y), num(x),
                         num(y + 1.3 * r), num(x - 1.3 * r), num(y));
    default:
      return fmt::format("M{} {}L{} {}L{} {}z", num(x), num(y + 1.25 * r), num(x + 1.15 * r), num(y - 0.8 * r),
                         num(x - 1.15 * r), num(y - 0.8 * r));
  }
}

struct Style {
  const char* colour;
  const char* dash;
  int shape;
};

Style style_of(int index) {
  return {kPalette[index % kPaletteSize], kDashes[(index / kPaletteSize) % 4], index % kShapes};
}

struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

/// A panel with its axes and horizontal layout computed; y positions are shared by all panels.
struct PreparedPanel {
  const PlotPanel* panel;
  Axis x, y;
  bool has_data = false;
  double plot_left = 0;     // from the panel's left edge
  double legend_left = 0;   // from the panel's left edge
  double legend_column = 0; // width of one legend column
  int legend_rows = 0;
  double width = 0;
};

constexpr double kPlotTop = kTitleBand + kPanelTitleBand;
constexpr double kPlotBottom = kPlotTop + kPlotHeight;

PreparedPanel prepare(const PlotPanel& panel) {
  PreparedPanel p;
  p.panel = &panel;
  std::vector<double> xs, ys;
  auto drawable = [](double v, bool log) { return std::isfinite(v) && (!log || v > 0); };
  auto add = [&](double x, double y) {
    if (!drawable(x, panel.log_x) || !drawable(y, panel.log_y)) return;
    xs.push_back(x);
    ys.push_back(y);
  };
  for (const PlotSeries& s : panel.series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) add(s.x[i], s.y[i]);
  }
  for (const PlotMark& m : panel.marks) add(m.x, m.y);
  p.has_data = !xs.empty();
  p.x = make_axis(panel.log_x, xs, kPlotWidth, true);
  p.y = make_axis(panel.log_y, ys, kPlotHeight, false);

  double tick_width = 0;
  for (const Tick& t : p.y.ticks) tick_width = std::max(tick_width, text_width(t.label, kTickFont));
  p.plot_left = std::ceil(44 + tick_width);

  double name_width = 0;
  for (const PlotSeries& s : panel.series) name_width = std::max(name_width, text_width(s.name, kLegendFont));
  p.legend_column = std::ceil(kLegendSample + 6 + name_width + 16);
  p.legend_rows = std::max(1, static_cast<int>(kPlotHeight / kLegendRow));
  const int columns = (static_cast<int>(panel.series.size()) + p.legend_rows - 1) / p.legend_rows;
  p.legend_left = p.plot_left + kPlotWidth + 18;
  p.width = p.legend_left + columns * p.legend_column + 12;
  p.width = std::max(p.width, p.plot_left + kPlotWidth + 24);
  p.width = std::ceil(std::max(p.width, text_width(panel.title, 13) + 24));
  return p;
}

using Out = std::back_insert_iterator<std::string>;

void draw_axes(Out out, const PreparedPanel& p) {
  const double left = p.plot_left, right = left + kPlotWidth;
  auto px = [&](double c) { return left + p.x.unit(c) * kPlotWidth; };
  auto py = [&](double c) { return kPlotBottom - p.y.unit(c) * kPlotHeight; };

  std::string minor, major;
  for (double c : p.x.minor) minor += fmt::format("M{} {}V{}", num(px(c)), num(kPlotTop), num(kPlotBottom));
  for (double c : p.y.minor) minor += fmt::format("M{} {}H{}", num(left), num(py(c)), num(right));
  for (const Tick& t : p.x.ticks) major += fmt::format("M{} {}V{}", num(px(t.pos)), num(kPlotTop), num(kPlotBottom));
  for (const Tick& t : p.y.ticks) major += fmt::format("M{} {}H{}", num(left), num(py(t.pos)), num(right));
  if (!minor.empty()) fmt::format_to(out, "<path class=\"grid-minor\" d=\"{}\" stroke=\"#f0f0f0\" fill=\"none\"/>\n", minor);
  if (!major.empty()) fmt::format_to(out, "<path class=\"grid\" d=\"{}\" stroke=\"#dedede\" fill=\"none\"/>\n", major);
}

void draw_frame_and_labels(Out out, const PreparedPanel& p) {
  const PlotPanel& panel = *p.panel;
  const double left = p.plot_left;
  auto px = [&](double c) { return left + p.x.unit(c) * kPlotWidth; };
  auto py = [&](double c) { return kPlotBottom - p.y.unit(c) * kPlotHeight; };

  std::string tick_marks;
  for (const Tick& t : p.x.ticks) tick_marks += fmt::format("M{} {}v5", num(px(t.pos)), num(kPlotBottom));
  for (const Tick& t : p.y.ticks) tick_marks += fmt::format("M{} {}h-5", num(left), num(py(t.pos)));
  fmt::format_to(out, "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#555\"/>\n",
                 num(left), num(kPlotTop), num(kPlotWidth), num(kPlotHeight));
  if (!tick_marks.empty()) fmt::format_to(out, "<path class=\"ticks\" d=\"{}\" stroke=\"#555\" fill=\"none\"/>\n", tick_marks);

  fmt::format_to(out, "<g class=\"tick-labels\" font-size=\"{}\" fill=\"#333\">\n", num(kTickFont));
  for (const Tick& t : p.x.ticks) {
    fmt::format_to(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(px(t.pos)),
                   num(kPlotBottom + 18), xml_escape(t.label));
  }
  for (const Tick& t : p.y.ticks) {
    fmt::format_to(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", num(left - 8),
                   num(py(t.pos) + 4), xml_escape(t.label));
  }
  fmt::format_to(out, "</g>\n");

  fmt::format_to(out, "<text class=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                 num(left + kPlotWidth / 2), num(kPlotBottom + 40), xml_escape(panel.x_label));
  fmt::format_to(out,
                 "<text class=\"y-label\" transform=\"translate({} {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                 num(20), num(kPlotTop + kPlotHeight / 2), xml_escape(panel.y_label));
  const bool centred = text_width(panel.title, 13) <= kPlotWidth;
  fmt::format_to(out, "<text class=\"panel-title\" x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\"{}>{}</text>\n",
                 num(centred ? left + kPlotWidth / 2 : 12), num(kTitleBand + 16),
                 centred ? " text-anchor=\"middle\"" : "", xml_escape(panel.title));
  if (!p.has_data) {
    fmt::format_to(out, "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777\">no data</text>\n",
                   num(left + kPlotWidth / 2), num(kPlotTop + kPlotHeight / 2 + 4));
  }
}

void draw_series(Out out, const PreparedPanel& p, const std::map<std::string, int>& colour_index) {
  auto px = [&](double v) { return p.plot_left + p.x.unit(p.x.coord(v)) * kPlotWidth; };
  auto py = [&](double v) { return kPlotBottom - p.y.unit(p.y.coord(v)) * kPlotHeight; };
  for (const PlotSeries& s : p.panel->series) {
    const Style style = style_of(colour_index.at(s.name));
    std::string line, markers;
    bool pen_down = false;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!p.x.drawable(s.x[i]) || !p.y.drawable(s.y[i])) {
        pen_down = false;
        continue;
      }
      const double x = px(s.x[i]), y = py(s.y[i]);
      line += fmt::format("{}{} {}", pen_down ? "L" : "M", num(x), num(y));
      pen_down = true;
      if (s.markers) markers += marker_path(style.shape, x, y);
    }
    fmt::format_to(out, "<g class=\"series\" data-name=\"{}\">\n", xml_escape(s.name));
    if (s.line && line.find('L') != std::string::npos) {
      fmt::format_to(out, "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" stroke-linejoin=\"round\"{}/>\n",
                     line, style.colour,
                     *style.dash ? fmt::format(" stroke-dasharray=\"{}\"", style.dash) : std::string());
    }
    if (!markers.empty()) {
      fmt::format_to(out, "<path d=\"{}\" fill=\"{}\"{} stroke=\"#fff\" stroke-width=\"0.6\"/>\n", markers, style.colour,
                     s.line ? "" : " fill-opacity=\"0.75\"");
    }
    fmt::format_to(out, "</g>\n");
  }
}

/// Marks as black rings with labels placed where they collide least with each other.
void draw_marks(Out out, const PreparedPanel& p) {
  struct Placement {
    double dx, dy;
    const char* anchor;
  };
  static const Placement kPlacements[] = {{9, -7, "start"},  {9, 14, "start"},   {-9, -7, "end"},  {-9, 14, "end"},
                                          {0, -13, "middle"}, {0, 22, "middle"},  {9, -20, "start"}, {9, 27, "start"},
                                          {-9, -20, "end"},  {-9, 27, "end"}};
  constexpr int kCount = sizeof(kPlacements) / sizeof(kPlacements[0]);
  const double left = p.plot_left, right = left + kPlotWidth;
  std::vector<Box> rings_taken, labels_taken, points;
  for (const PlotSeries& s : p.panel->series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!p.x.drawable(s.x[i]) || !p.y.drawable(s.y[i])) continue;
      const double x = left + p.x.unit(p.x.coord(s.x[i])) * kPlotWidth;
      const double y = kPlotBottom - p.y.unit(p.y.coord(s.y[i])) * kPlotHeight;
      points.push_back({x - 2, y - 2, x + 2, y + 2});
    }
  }
  std::string rings, labels;
  for (const PlotMark& m : p.panel->marks) {
    if (!p.x.drawable(m.x) || !p.y.drawable(m.y)) continue;
    const double x = left + p.x.unit(p.x.coord(m.x)) * kPlotWidth;
    const double y = kPlotBottom - p.y.unit(p.y.coord(m.y)) * kPlotHeight;
    rings_taken.push_back({x - 7, y - 7, x + 7, y + 7});
  }
  size_t ring = 0;
  for (const PlotMark& m : p.panel->marks) {
    if (!p.x.drawable(m.x) || !p.y.drawable(m.y)) continue;
    const double x = left + p.x.unit(p.x.coord(m.x)) * kPlotWidth;
    const double y = kPlotBottom - p.y.unit(p.y.coord(m.y)) * kPlotHeight;
    rings += fmt::format("M{} {}a7 7 0 1 0 14 0a7 7 0 1 0 -14 0z", num(x - 7), num(y));
    ++ring;
    if (m.label.empty()) continue;
    const double w = text_width(m.label, 11);
    int best = -1;
    int best_score = 1 << 30;
    for (int i = 0; i < kCount; ++i) {
      const Placement& c = kPlacements[i];
      const double tx = x + c.dx;
      const double x0 = c.anchor[0] == 's' ? tx : c.anchor[0] == 'e' ? tx - w : tx - w / 2;
      const Box box{x0, y + c.dy - 10, x0 + w, y + c.dy + 3};
      int score = i;
      if (box.x0 < left || box.x1 > right || box.y0 < kPlotTop || box.y1 > kPlotBottom) score += 100;
      for (const Box& b : labels_taken) score += b.overlaps(box) ? 50 : 0;
      for (const Box& b : rings_taken) score += b.overlaps(box) ? 12 : 0;
      for (const Box& b : points) score += b.overlaps(box) ? 2 : 0;
      if (score < best_score) {
        best_score = score;
        best = i;
      }
    }
    const Placement& c = kPlacements[best];
    const double tx = x + c.dx;
    const double x0 = c.anchor[0] == 's' ? tx : c.anchor[0] == 'e' ? tx - w : tx - w / 2;
    labels_taken.push_back({x0, y + c.dy - 10, x0 + w, y + c.dy + 3});
    const std::string text = xml_escape(m.label);
    labels += fmt::format(
        "<text x=\"{0}\" y=\"{1}\" text-anchor=\"{2}\" stroke=\"#fff\" stroke-width=\"3\" stroke-linejoin=\"round\">{3}</text>"
        "<text x=\"{0}\" y=\"{1}\" text-anchor=\"{2}\">{3}</text>\n",
        num(tx), num(y + c.dy), c.anchor, text);
  }
  if (ring == 0) return;
  fmt::format_to(out, "<g class=\"marks\" font-size=\"11\">\n<path d=\"{}\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\"/>\n{}</g>\n",
                 rings, labels);
}

void draw_legend(Out out, const PreparedPanel& p, const std::map<std::string, int>& colour_index) {
  const auto& series = p.panel->series;
  if (series.empty()) return;
  fmt::format_to(out, "<g class=\"legend\" font-size=\"{}\">\n", num(kLegendFont));
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& s = series[i];
    const Style style = style_of(colour_index.at(s.name));
    const double x = p.legend_left + static_cast<double>(i / p.legend_rows) * p.legend_column;
    const double y = kPlotTop + 10 + static_cast<double>(i % p.legend_rows) * kLegendRow;
    if (s.line) {
      fmt::format_to(out, "<path d=\"M{} {}h{}\" stroke=\"{}\" stroke-width=\"1.8\"{}/>\n", num(x), num(y),
                     num(kLegendSample), style.colour,
                     *style.dash ? fmt::format(" stroke-dasharray=\"{}\"", style.dash) : std::string());
    }
    if (s.markers || !s.line) {
      fmt::format_to(out, "<path d=\"{}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.6\"/>\n",
                     marker_path(style.shape, x + kLegendSample / 2, y), style.colour);
    }
    fmt::format_to(out, "<text x=\"{}\" y=\"{}\">{}</text>\n", num(x + kLegendSample + 6), num(y + 4),
                   xml_escape(s.name));
  }
  fmt::format_to(out, "</g>\n");
}

}  // namespace

std::string render_svg(const std::string& title, const std::vector<PlotPanel>& panels) {
  std::map<std::string, int> colour_index;
  for (const PlotPanel& panel : panels) {
    for (const PlotSeries& s : panel.series) colour_index.emplace(s.name, static_cast<int>(colour_index.size()));
  }
  std::vector<PreparedPanel> prepared;
  double width = 0;
  for (const PlotPanel& panel : panels) {
    prepared.push_back(prepare(panel));
    width += prepared.back().width;
  }
  width = std::ceil(std::max({width, text_width(title, 16) + 32, 200.0}));
  const double height = panels.empty() ? kTitleBand + 8 : kPlotBottom + kBottomBand;

  std::string svg;
  Out out(svg);
  fmt::format_to(out,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
                 "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
                 "<rect width=\"{0}\" height=\"{1}\" fill=\"#fff\"/>\n"
                 "<text class=\"title\" x=\"16\" y=\"26\" font-size=\"16\" font-weight=\"bold\">{2}</text>\n",
                 num(width), num(height), xml_escape(title));
  double x0 = 0;
  for (const PreparedPanel& p : prepared) {
    fmt::format_to(out, "<g class=\"panel\" transform=\"translate({} 0)\">\n", num(x0));
    draw_axes(out, p);
    draw_series(out, p, colour_index);
    draw_marks(out, p);
    draw_frame_and_labels(out, p);
    draw_legend(out, p, colour_index);
    fmt::format_to(out, "</g>\n");
    x0 += p.width;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace effscale
