#include "report/svg_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>

namespace effscale {

namespace {

// Okabe-Ito colours without the yellow, which is too pale on white. Series past the seventh reuse
// the colours with a dash pattern; the marker shape cycles independently.
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                    "#CC79A7", "#56B4E9", "#000000"};
constexpr int kPaletteSize = kPlotColours;
static_assert(sizeof(kPalette) / sizeof(kPalette[0]) == kPaletteSize);
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
constexpr double kYLabelLine = 15;   // between the lines of a wrapped y label
constexpr double kLegendPad = 8;     // inside the box of a legend drawn in the plot
constexpr double kBarCap = 3;        // half the width of an interval bar's caps

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

/// A conservative width for header text: bold is wider, and a title cut off is worse than one
/// wrapped a little early.
double header_char_width(double font_size, bool bold) { return font_size * (bold ? 0.66 : 0.6); }

/// Text on one line: tabs and line breaks become spaces, as xml_escape writes them.
std::string one_line(const std::string& text) {
  std::string s = text;
  for (char& c : s) c = c == '\t' || c == '\n' || c == '\r' ? ' ' : c;
  return s;
}

/// Byte offset of UTF-8 character number `chars` in `text` (its size when shorter).
size_t utf8_offset(const std::string& text, size_t chars) {
  size_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (seen++ == chars) return i;
  }
  return text.size();
}

size_t utf8_chars(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

/// Greedy word wrap at spaces into lines of at most `max_chars` characters; a longer word is cut.
std::vector<std::string> wrap(const std::string& text, size_t max_chars) {
  max_chars = std::max<size_t>(1, max_chars);
  const std::string s = one_line(text);
  std::vector<std::string> lines;
  std::string line;
  size_t line_chars = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = s.find(' ', i);
    if (end == std::string::npos) end = s.size();
    std::string word = s.substr(i, end - i);
    i = end;
    size_t chars = utf8_chars(word);
    if (line_chars > 0 && line_chars + 1 + chars <= max_chars) {
      line += ' ' + word;
      line_chars += 1 + chars;
      continue;
    }
    if (line_chars > 0) lines.push_back(line);
    while (chars > max_chars) {
      const size_t cut = utf8_offset(word, max_chars);
      lines.push_back(word.substr(0, cut));
      word.erase(0, cut);
      chars -= max_chars;
    }
    line = word;
    line_chars = chars;
  }
  if (line_chars > 0) lines.push_back(line);
  return lines;
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
  index = std::max(0, index);
  return {kPalette[index % kPaletteSize], kDashes[(index / kPaletteSize) % 4], index % kShapes};
}

struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  bool contains(double x, double y) const { return x0 <= x && x <= x1 && y0 <= y && y <= y1; }
};

constexpr double kPlotTop = kTitleBand + kPanelTitleBand;
constexpr double kPlotBottom = kPlotTop + kPlotHeight;

/// A panel with its axes and horizontal layout computed; y positions are shared by all panels.
struct PreparedPanel {
  const PlotPanel* panel;
  Axis x, y;
  bool has_data = false;
  std::vector<std::string> y_label_lines;
  double plot_left = 0;     // from the panel's left edge
  double legend_left = 0;   // from the panel's left edge (legend beside the plot)
  double legend_column = 0; // width of one legend column (legend beside the plot)
  int legend_rows = 0;
  bool legend_inside = false;
  Box legend_box{0, 0, 0, 0};  // the legend's box inside the plot, in panel coordinates
  double width = 0;

  /// Pixel positions of values in axis units (drawable ones).
  double px(double v) const { return plot_left + x.unit(x.coord(v)) * kPlotWidth; }
  double py(double v) const { return kPlotBottom - y.unit(y.coord(v)) * kPlotHeight; }
};

size_t points_of(const PlotSeries& s) { return std::min(s.x.size(), s.y.size()); }

/// The interval bar of point i of a series, ordered low to high, when it has one that can be drawn.
bool bar_of(const PlotSeries& s, size_t i, bool log_x, bool log_y, double& low, double& high) {
  auto drawable = [](double v, bool log) { return std::isfinite(v) && (!log || v > 0); };
  if (i >= points_of(s) || i >= s.y_low.size() || i >= s.y_high.size()) return false;
  if (!drawable(s.x[i], log_x) || !drawable(s.y[i], log_y)) return false;
  if (!drawable(s.y_low[i], log_y) || !drawable(s.y_high[i], log_y)) return false;
  low = std::min(s.y_low[i], s.y_high[i]);
  high = std::max(s.y_low[i], s.y_high[i]);
  return true;
}

/// Pixel positions along what a panel draws (points, lines, bars, marks), for placing its legend.
std::vector<std::pair<double, double>> drawn_pixels(const PreparedPanel& p) {
  const PlotPanel& panel = *p.panel;
  std::vector<std::pair<double, double>> out;
  for (const PlotSeries& s : panel.series) {
    bool previous = false;
    double px0 = 0, py0 = 0;
    for (size_t i = 0; i < points_of(s); ++i) {
      if (!p.x.drawable(s.x[i]) || !p.y.drawable(s.y[i])) {
        previous = false;
        continue;
      }
      const double x = p.px(s.x[i]), y = p.py(s.y[i]);
      out.emplace_back(x, y);
      if (s.line && previous) {
        for (int k = 1; k < 16; ++k) out.emplace_back(px0 + (x - px0) * k / 16, py0 + (y - py0) * k / 16);
      }
      previous = true;
      px0 = x;
      py0 = y;
      double low = 0, high = 0;
      if (bar_of(s, i, panel.log_x, panel.log_y, low, high)) {
        const double y0 = p.py(low), y1 = p.py(high);
        for (int k = 0; k <= 8; ++k) out.emplace_back(x, y0 + (y1 - y0) * k / 8);
      }
    }
  }
  for (const PlotMark& m : panel.marks) {
    if (p.x.drawable(m.x) && p.y.drawable(m.y)) out.emplace_back(p.px(m.x), p.py(m.y));
  }
  return out;
}

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
    for (size_t i = 0; i < points_of(s); ++i) {
      add(s.x[i], s.y[i]);
      double low = 0, high = 0;
      if (bar_of(s, i, panel.log_x, panel.log_y, low, high)) {
        ys.push_back(low);
        ys.push_back(high);
      }
    }
  }
  for (const PlotMark& m : panel.marks) add(m.x, m.y);
  p.has_data = !xs.empty();
  for (const PlotLine& l : panel.x_lines) {
    if (drawable(l.x, panel.log_x)) xs.push_back(l.x);
  }
  p.x = make_axis(panel.log_x, xs, kPlotWidth, true);
  p.y = make_axis(panel.log_y, ys, kPlotHeight, false);

  // The y label runs along the plot's height; a longer one wraps into lines further left.
  p.y_label_lines = wrap(panel.y_label, static_cast<size_t>(kPlotHeight / (12 * 0.55)));
  const double extra_label_lines = p.y_label_lines.size() > 1 ? static_cast<double>(p.y_label_lines.size() - 1) : 0;
  double tick_width = 0;
  for (const Tick& t : p.y.ticks) tick_width = std::max(tick_width, text_width(t.label, kTickFont));
  p.plot_left = std::ceil(44 + tick_width + kYLabelLine * extra_label_lines);

  double name_width = 0;
  for (const PlotSeries& s : panel.series) name_width = std::max(name_width, text_width(s.name, kLegendFont));
  const int count = static_cast<int>(panel.series.size());

  // A few series: the legend goes in the plot's corner that covers the fewest drawn points
  // (top-left when no other covers fewer), so that it does not widen the panel.
  const double box_width = std::ceil(2 * kLegendPad + kLegendSample + 6 + name_width);
  const double box_height = count * kLegendRow + kLegendPad;
  if (count > 0 && count <= kMaxLegendInside && box_width <= kPlotWidth * 0.6) {
    p.legend_inside = true;
    const double left = p.plot_left + kLegendPad, right = p.plot_left + kPlotWidth - kLegendPad - box_width;
    const double top = kPlotTop + kLegendPad, bottom = kPlotBottom - kLegendPad - box_height;
    const Box corners[] = {{left, top, left + box_width, top + box_height},
                           {right, top, right + box_width, top + box_height},
                           {left, bottom, left + box_width, bottom + box_height},
                           {right, bottom, right + box_width, bottom + box_height}};
    const auto pixels = drawn_pixels(p);
    size_t best_covered = std::string::npos;
    for (const Box& corner : corners) {
      const Box near{corner.x0 - 4, corner.y0 - 4, corner.x1 + 4, corner.y1 + 4};
      size_t covered = 0;
      for (const auto& [x, y] : pixels) covered += near.contains(x, y);
      if (covered < best_covered) {
        best_covered = covered;
        p.legend_box = corner;
      }
    }
    p.width = p.plot_left + kPlotWidth + 24;
  } else {
    p.legend_column = std::ceil(kLegendSample + 6 + name_width + 16);
    p.legend_rows = std::max(1, static_cast<int>(kPlotHeight / kLegendRow));
    const int columns = (count + p.legend_rows - 1) / p.legend_rows;
    p.legend_left = p.plot_left + kPlotWidth + 18;
    p.width = p.legend_left + columns * p.legend_column + 12;
    p.width = std::max(p.width, p.plot_left + kPlotWidth + 24);
  }
  p.width = std::ceil(std::max(p.width, text_width(panel.title, 13) + 24));
  return p;
}

using Out = std::back_insert_iterator<std::string>;

/// A value for a data- attribute: the shortest spelling that reads back the same.
std::string data_value(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "0"; }

/// Text with a white halo, so that it stays readable over lines and points.
std::string halo_text(double x, double y, const char* anchor, const std::string& text) {
  const std::string escaped = xml_escape(text);
  return fmt::format(
      "<text x=\"{0}\" y=\"{1}\" text-anchor=\"{2}\" stroke=\"#fff\" stroke-width=\"3\" stroke-linejoin=\"round\">{3}</text>"
      "<text x=\"{0}\" y=\"{1}\" text-anchor=\"{2}\">{3}</text>\n",
      num(x), num(y), anchor, escaped);
}

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

/// Dashed vertical reference lines with their labels near the top, clear of an inside legend.
void draw_x_lines(Out out, const PreparedPanel& p) {
  const double right = p.plot_left + kPlotWidth;
  std::vector<Box> taken;
  if (p.legend_inside) taken.push_back(p.legend_box);
  for (const PlotLine& l : p.panel->x_lines) {
    if (!p.x.drawable(l.x)) continue;
    const double x = p.px(l.x);
    fmt::format_to(out, "<g class=\"x-line\" data-x=\"{}\" font-size=\"11\">\n", data_value(l.x));
    fmt::format_to(out, "<path d=\"M{} {}V{}\" stroke=\"#333\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\" fill=\"none\"/>\n",
                   num(x), num(kPlotTop), num(kPlotBottom));
    if (!l.label.empty()) {
      const double w = text_width(l.label, 11);
      const bool start = x + 4 + w <= right;
      const double x0 = start ? x + 4 : x - 4 - w;
      double y = kPlotTop + 13;
      for (bool moved = true; moved && y < kPlotBottom - 4;) {
        moved = false;
        for (const Box& b : taken) {
          if (b.overlaps({x0, y - 10, x0 + w, y + 3})) {
            y = b.y1 + 13;
            moved = true;
          }
        }
      }
      taken.push_back({x0, y - 10, x0 + w, y + 3});
      fmt::format_to(out, "{}", halo_text(start ? x + 4 : x - 4, y, start ? "start" : "end", l.label));
    }
    fmt::format_to(out, "</g>\n");
  }
}

void draw_frame_and_labels(Out out, const PreparedPanel& p) {
  const PlotPanel& panel = *p.panel;
  const double left = p.plot_left;
  auto px = [&](double c) { return left + p.x.unit(c) * kPlotWidth; };
  auto py = [&](double c) { return kPlotBottom - p.y.unit(c) * kPlotHeight; };

  std::string tick_marks;
  for (const Tick& t : p.x.ticks) tick_marks += fmt::format("M{} {}v5", num(px(t.pos)), num(kPlotBottom));
  for (const Tick& t : p.y.ticks) tick_marks += fmt::format("M{} {}h-5", num(left), num(py(t.pos)));
  fmt::format_to(out,
                 "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#555\" "
                 "data-x-scale=\"{}\" data-x-lo=\"{}\" data-x-hi=\"{}\" data-y-scale=\"{}\" data-y-lo=\"{}\" data-y-hi=\"{}\"/>\n",
                 num(left), num(kPlotTop), num(kPlotWidth), num(kPlotHeight), p.x.log ? "log" : "linear",
                 data_value(p.x.lo), data_value(p.x.hi), p.y.log ? "log" : "linear", data_value(p.y.lo),
                 data_value(p.y.hi));
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
  const size_t y_lines = std::max<size_t>(1, p.y_label_lines.size());
  for (size_t i = 0; i < y_lines; ++i) {
    fmt::format_to(out,
                   "<text class=\"y-label\" transform=\"translate({} {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   num(20 + kYLabelLine * static_cast<double>(i)), num(kPlotTop + kPlotHeight / 2),
                   i < p.y_label_lines.size() ? xml_escape(p.y_label_lines[i]) : std::string());
  }
  const bool centred = text_width(panel.title, 13) <= kPlotWidth;
  fmt::format_to(out, "<text class=\"panel-title\" x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\"{}>{}</text>\n",
                 num(centred ? left + kPlotWidth / 2 : 12), num(kTitleBand + 16),
                 centred ? " text-anchor=\"middle\"" : "", xml_escape(panel.title));
  if (!p.has_data) {
    fmt::format_to(out, "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777\">no data</text>\n",
                   num(left + kPlotWidth / 2), num(kPlotTop + kPlotHeight / 2 + 4));
  }
}

void draw_series(Out out, const PreparedPanel& p, const std::map<std::string, int>& style_index) {
  const PlotPanel& panel = *p.panel;
  for (const PlotSeries& s : panel.series) {
    const Style style = style_of(style_index.at(s.name));
    std::string line, markers, bars;
    bool pen_down = false;
    for (size_t i = 0; i < points_of(s); ++i) {
      if (!p.x.drawable(s.x[i]) || !p.y.drawable(s.y[i])) {
        pen_down = false;
        continue;
      }
      const double x = p.px(s.x[i]), y = p.py(s.y[i]);
      line += fmt::format("{}{} {}", pen_down ? "L" : "M", num(x), num(y));
      pen_down = true;
      if (s.markers) markers += marker_path(style.shape, x, y);
      double low = 0, high = 0;
      if (bar_of(s, i, panel.log_x, panel.log_y, low, high)) {
        const double y0 = p.py(low), y1 = p.py(high);
        bars += fmt::format("<path class=\"bar\" d=\"M{0} {1}V{2}M{3} {1}h{5}M{3} {2}h{5}\"/>\n", num(x), num(y0), num(y1),
                            num(x - kBarCap), num(x + kBarCap), num(2 * kBarCap));
      }
    }
    fmt::format_to(out, "<g class=\"series\" data-name=\"{}\">\n", xml_escape(s.name));
    if (s.line && line.find('L') != std::string::npos) {
      fmt::format_to(out, "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" stroke-linejoin=\"round\"{}/>\n",
                     line, style.colour,
                     *style.dash ? fmt::format(" stroke-dasharray=\"{}\"", style.dash) : std::string());
    }
    if (!bars.empty()) {
      fmt::format_to(out, "<g class=\"bars\" stroke=\"{}\" stroke-width=\"1.1\" stroke-opacity=\"0.7\" fill=\"none\">\n{}</g>\n",
                     style.colour, bars);
    }
    if (!markers.empty()) {
      fmt::format_to(out, "<path d=\"{}\" fill=\"{}\"{} stroke=\"#fff\" stroke-width=\"0.6\"/>\n", markers, style.colour,
                     s.line ? "" : " fill-opacity=\"0.75\"");
    }
    fmt::format_to(out, "</g>\n");
  }
}

/// Marks as black rings with labels placed where they collide least with each other (and with
/// points, and a legend inside the plot).
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
    for (size_t i = 0; i < points_of(s); ++i) {
      if (!p.x.drawable(s.x[i]) || !p.y.drawable(s.y[i])) continue;
      const double x = p.px(s.x[i]), y = p.py(s.y[i]);
      points.push_back({x - 2, y - 2, x + 2, y + 2});
    }
  }
  std::string rings, labels;
  for (const PlotMark& m : p.panel->marks) {
    if (!p.x.drawable(m.x) || !p.y.drawable(m.y)) continue;
    const double x = p.px(m.x), y = p.py(m.y);
    rings_taken.push_back({x - 7, y - 7, x + 7, y + 7});
  }
  size_t ring = 0;
  for (const PlotMark& m : p.panel->marks) {
    if (!p.x.drawable(m.x) || !p.y.drawable(m.y)) continue;
    const double x = p.px(m.x), y = p.py(m.y);
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
      if (p.legend_inside && p.legend_box.overlaps(box)) score += 60;
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
    labels += halo_text(tx, y + c.dy, c.anchor, m.label);
  }
  if (ring == 0) return;
  fmt::format_to(out, "<g class=\"marks\" font-size=\"11\">\n<path d=\"{}\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\"/>\n{}</g>\n",
                 rings, labels);
}

void draw_legend(Out out, const PreparedPanel& p, const std::map<std::string, int>& style_index) {
  const auto& series = p.panel->series;
  if (series.empty()) return;
  fmt::format_to(out, "<g class=\"legend\" font-size=\"{}\">\n", num(kLegendFont));
  if (p.legend_inside) {
    const Box& b = p.legend_box;
    fmt::format_to(out,
                   "<rect class=\"legend-box\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"#fff\" "
                   "fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
                   num(b.x0), num(b.y0), num(b.x1 - b.x0), num(b.y1 - b.y0));
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& s = series[i];
    const Style style = style_of(style_index.at(s.name));
    const double x = p.legend_inside ? p.legend_box.x0 + kLegendPad
                                     : p.legend_left + static_cast<double>(i / p.legend_rows) * p.legend_column;
    const double y = p.legend_inside ? p.legend_box.y0 + kLegendPad / 2 + kLegendRow / 2 + static_cast<double>(i) * kLegendRow
                                     : kPlotTop + 10 + static_cast<double>(i % p.legend_rows) * kLegendRow;
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

/// Style indices by series name: a fixed PlotSeries::colour for the first series of that name
/// that has one, else the next index in order of first appearance whose colour no fixed index
/// takes (while the palette has such colours left).
std::map<std::string, int> style_indices(const std::vector<PlotPanel>& panels) {
  std::map<std::string, int> index;
  std::set<int> fixed, fixed_colours;
  for (const PlotPanel& panel : panels) {
    for (const PlotSeries& s : panel.series) {
      if (s.colour < 0 || !index.emplace(s.name, s.colour).second) continue;
      fixed.insert(s.colour);
      fixed_colours.insert(s.colour % kPaletteSize);
    }
  }
  const bool colours_left = fixed_colours.size() < static_cast<size_t>(kPaletteSize);
  int next = 0;
  for (const PlotPanel& panel : panels) {
    for (const PlotSeries& s : panel.series) {
      if (index.count(s.name)) continue;
      while (fixed.count(next) || (colours_left && fixed_colours.count(next % kPaletteSize))) ++next;
      index.emplace(s.name, next++);
    }
  }
  return index;
}

}  // namespace

std::string render_svg(const std::string& title, const std::vector<PlotPanel>& panels, const std::string& subtitle) {
  const std::map<std::string, int> style_index = style_indices(panels);
  std::vector<PreparedPanel> prepared;
  double width = 0;
  for (const PlotPanel& panel : panels) {
    prepared.push_back(prepare(panel));
    width += prepared.back().width;
  }
  width = std::ceil(std::max(width, 200.0));

  // The title and the subtitle wrap to the document's width, at spaces (a longer word is cut).
  constexpr double kTitleFont = 16, kSubtitleFont = 12, kMargin = 16;
  const auto chars_in = [&](double font, bool bold) {
    return static_cast<size_t>(std::floor((width - 2 * kMargin) / header_char_width(font, bold)));
  };
  const std::vector<std::string> title_lines = wrap(title, chars_in(kTitleFont, true));
  const std::vector<std::string> subtitle_lines = wrap(subtitle, chars_in(kSubtitleFont, false));
  std::string header;
  double baseline = 26 - 20;
  for (const std::string& line : title_lines) {
    baseline += 20;
    header += fmt::format("<text class=\"title\" x=\"{}\" y=\"{}\" font-size=\"{}\" font-weight=\"bold\">{}</text>\n",
                          num(kMargin), num(baseline), num(kTitleFont), xml_escape(line));
  }
  for (const std::string& line : subtitle_lines) {
    baseline += 16;
    header += fmt::format("<text class=\"subtitle\" x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"#444\">{}</text>\n",
                          num(kMargin), num(baseline), num(kSubtitleFont), xml_escape(line));
  }
  const double header_height = title_lines.empty() && subtitle_lines.empty() ? kTitleBand : baseline + 14;
  const double shift = std::max(0.0, header_height - kTitleBand);  // panels move down under a taller header
  const double height = panels.empty() ? kTitleBand + shift + 8 : kPlotBottom + shift + kBottomBand;

  std::string svg;
  Out out(svg);
  fmt::format_to(out,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
                 "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
                 "<rect width=\"{0}\" height=\"{1}\" fill=\"#fff\"/>\n{2}",
                 num(width), num(height), header);
  double x0 = 0;
  for (const PreparedPanel& p : prepared) {
    fmt::format_to(out, "<g class=\"panel\" transform=\"translate({} {})\">\n", num(x0), num(shift));
    draw_axes(out, p);
    draw_x_lines(out, p);
    draw_series(out, p, style_index);
    draw_marks(out, p);
    draw_frame_and_labels(out, p);
    draw_legend(out, p, style_index);
    fmt::format_to(out, "</g>\n");
    x0 += p.width;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace effscale
