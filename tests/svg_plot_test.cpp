#include <catch2/catch.hpp>
#include <tinyxml2.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "report/svg_plot.hpp"
#include "test_util.hpp"

using namespace effscale;

namespace {

// A small XML checker, enough for our output: elements close in order, attributes are quoted,
// and no raw '<' or '&' appears in text or attribute values (only the five named entities).
// Returns "" when well-formed, else what went wrong.
std::string xml_problem(const std::string& doc) {
  size_t i = 0;
  if (doc.compare(0, 5, "<?xml") == 0) {
    i = doc.find("?>");
    if (i == std::string::npos) return "unterminated XML declaration";
    i += 2;
  }
  auto check_entity = [&](size_t at) -> bool {
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
      if (doc.compare(at, std::char_traits<char>::length(e), e) == 0) return true;
    }
    return false;
  };
  std::vector<std::string> open;
  bool seen_root = false;
  while (i < doc.size()) {
    const char c = doc[i];
    if (c == '&') {
      if (!check_entity(i)) return "raw '&' in text at " + std::to_string(i);
      ++i;
      continue;
    }
    if (c != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(c))) return "text outside the root element";
      ++i;
      continue;
    }
    ++i;
    const bool closing = i < doc.size() && doc[i] == '/';
    if (closing) ++i;
    size_t name_end = i;
    while (name_end < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[name_end])) ||
                                     doc[name_end] == '-' || doc[name_end] == ':' || doc[name_end] == '_')) {
      ++name_end;
    }
    const std::string name = doc.substr(i, name_end - i);
    if (name.empty()) return "bad tag name at " + std::to_string(i);
    i = name_end;
    if (closing) {
      if (open.empty() || open.back() != name) return "unexpected </" + name + ">";
      open.pop_back();
      if (i >= doc.size() || doc[i] != '>') return "bad closing tag </" + name;
      ++i;
      continue;
    }
    if (open.empty() && seen_root) return "second root element <" + name + ">";
    seen_root = true;
    for (;;) {
      while (i < doc.size() && std::isspace(static_cast<unsigned char>(doc[i]))) ++i;
      if (i >= doc.size()) return "unterminated tag <" + name;
      if (doc.compare(i, 2, "/>") == 0) {
        i += 2;
        break;
      }
      if (doc[i] == '>') {
        open.push_back(name);
        ++i;
        break;
      }
      size_t attr_end = i;
      while (attr_end < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[attr_end])) ||
                                       doc[attr_end] == '-' || doc[attr_end] == ':' || doc[attr_end] == '_')) {
        ++attr_end;
      }
      if (attr_end == i) return "bad attribute in <" + name + ">";
      i = attr_end;
      if (i + 1 >= doc.size() || doc[i] != '=' || doc[i + 1] != '"') return "unquoted attribute in <" + name + ">";
      i += 2;
      while (i < doc.size() && doc[i] != '"') {
        if (doc[i] == '<') return "raw '<' in an attribute of <" + name + ">";
        if (doc[i] == '&' && !check_entity(i)) return "raw '&' in an attribute of <" + name + ">";
        ++i;
      }
      if (i >= doc.size()) return "unterminated attribute in <" + name + ">";
      ++i;
    }
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  if (!seen_root) return "no root element";
  return "";
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The text contents of <text> elements.
std::vector<std::string> texts(const std::string& svg) {
  std::vector<std::string> out;
  for (size_t at = svg.find("<text"); at != std::string::npos; at = svg.find("<text", at + 1)) {
    const size_t open_end = svg.find('>', at);
    const size_t close = svg.find("</text>", open_end);
    out.push_back(svg.substr(open_end + 1, close - open_end - 1));
  }
  return out;
}

bool has_text(const std::string& svg, const std::string& content) {
  for (const auto& t : texts(svg)) {
    if (t == content) return true;
  }
  return false;
}

bool has_non_finite(const std::string& svg) {
  std::string lower;
  for (char c : svg) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("nan") != std::string::npos || lower.find("inf") != std::string::npos;
}

// Parsed SVG, read with tinyxml2 (an independent XML parser).
struct Svg {
  tinyxml2::XMLDocument doc;
  explicit Svg(const std::string& text) { REQUIRE(doc.Parse(text.c_str(), text.size()) == tinyxml2::XML_SUCCESS); }
  const tinyxml2::XMLElement* root() const { return doc.RootElement(); }
  double width() const { return root()->DoubleAttribute("width"); }

  /// Elements whose class attribute is `cls`, in document order, under `from` (default: the root).
  std::vector<const tinyxml2::XMLElement*> all(const std::string& cls, const tinyxml2::XMLElement* from = nullptr) const {
    std::vector<const tinyxml2::XMLElement*> out;
    std::function<void(const tinyxml2::XMLElement*)> walk = [&](const tinyxml2::XMLElement* e) {
      for (; e; e = e->NextSiblingElement()) {
        const char* c = e->Attribute("class");
        if (c && cls == c) out.push_back(e);
        walk(e->FirstChildElement());
      }
    };
    walk((from ? from : root())->FirstChildElement());
    return out;
  }
  const tinyxml2::XMLElement* one(const std::string& cls, const tinyxml2::XMLElement* from = nullptr) const {
    const auto found = all(cls, from);
    REQUIRE(found.size() == 1);
    return found.front();
  }
  /// The series group named `name` (the first one).
  const tinyxml2::XMLElement* series(const std::string& name) const {
    for (const auto* g : all("series")) {
      if (name == g->Attribute("data-name")) return g;
    }
    FAIL("no series " << name);
    return nullptr;
  }
};

std::string text_of(const tinyxml2::XMLElement* e) { return e && e->GetText() ? e->GetText() : ""; }

/// The stroke colour of a series' line path (its first child <path> with fill="none").
std::string line_colour(const tinyxml2::XMLElement* group) {
  for (const auto* e = group->FirstChildElement("path"); e; e = e->NextSiblingElement("path")) {
    if (e->Attribute("fill", "none") && e->Attribute("stroke")) return e->Attribute("stroke");
  }
  return "";
}

/// The vertices of a path made of M and L commands ("M1 2L3 4M5 6"); other commands end it.
std::vector<std::pair<double, double>> vertices(const char* d) {
  std::vector<std::pair<double, double>> out;
  const char* p = d;
  while (p && *p) {
    if (*p != 'M' && *p != 'L') break;
    char* end = nullptr;
    const double x = std::strtod(p + 1, &end);
    const double y = std::strtod(end, &end);
    out.emplace_back(x, y);
    p = end;
  }
  return out;
}

/// The pixel positions of the points of a line series (its line path's vertices).
std::vector<std::pair<double, double>> line_points(const tinyxml2::XMLElement* group) {
  for (const auto* e = group->FirstChildElement("path"); e; e = e->NextSiblingElement("path")) {
    if (e->Attribute("fill", "none") && e->Attribute("stroke")) return vertices(e->Attribute("d"));
  }
  return {};
}

/// A bar's "M x y0 V y1 ..." path: its x and its two ends.
struct BarPixels {
  double x, y0, y1;
};
BarPixels bar_pixels(const tinyxml2::XMLElement* bar) {
  const char* d = bar->Attribute("d");
  REQUIRE(d);
  REQUIRE(d[0] == 'M');
  char* end = nullptr;
  BarPixels b{};
  b.x = std::strtod(d + 1, &end);
  b.y0 = std::strtod(end, &end);
  REQUIRE(*end == 'V');
  b.y1 = std::strtod(end + 1, &end);
  return b;
}

struct Rect {
  double x, y, w, h;
  bool contains(double px, double py) const { return x <= px && px <= x + w && y <= py && py <= y + h; }
};
Rect rect_of(const tinyxml2::XMLElement* e) {
  return {e->DoubleAttribute("x"), e->DoubleAttribute("y"), e->DoubleAttribute("width"), e->DoubleAttribute("height")};
}

/// The y offset of a panel group's "translate(x y)".
double panel_shift(const tinyxml2::XMLElement* panel) {
  std::string t = panel->Attribute("transform");
  double x = 0, y = 0;
  REQUIRE(std::sscanf(t.c_str(), "translate(%lf %lf)", &x, &y) == 2);
  return y;
}

/// The number of characters of UTF-8 text.
size_t chars_of(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

PlotSeries line_series(std::string name, std::vector<double> x, std::vector<double> y) {
  PlotSeries s;
  s.name = std::move(name);
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}

PlotPanel scaling_panel() {
  PlotPanel p;
  p.title = "Latency vs MACs";
  p.x_label = "MACs (billions)";
  p.y_label = "latency (ms)";
  p.log_x = p.log_y = true;
  p.series.push_back({"compound", {0.39, 1.0, 4.0, 40.0}, {5.0, 12.0, 40.0, 400.0}});
  p.series.push_back({"width", {0.39, 2.0, 10.0}, {6.0, 20.0, 90.0}});
  p.series.push_back({"depth", {0.39, 3.0, 30.0}, {5.5, 30.0, 300.0}});
  return p;
}

}  // namespace

TEST_CASE("the XML checker accepts good documents and rejects bad ones", "[report]") {
  CHECK(xml_problem("<?xml version=\"1.0\"?>\n<svg a=\"1\"><g><text>a &amp; b</text></g><rect/></svg>\n") == "");
  CHECK(xml_problem("<svg><g></svg>") != "");
  CHECK(xml_problem("<svg><g></svg></g>") != "");
  CHECK(xml_problem("<svg a=1></svg>") != "");
  CHECK(xml_problem("<svg a=\"<\"></svg>") != "");
  CHECK(xml_problem("<svg><text>a & b</text></svg>") != "");
  CHECK(xml_problem("<svg><text>a < b</text></svg>") != "");
  CHECK(xml_problem("<svg></svg><svg></svg>") != "");
}

TEST_CASE("an SVG plot is a well-formed document with one group per series", "[report]") {
  PlotPanel second = scaling_panel();
  second.title = "Activations vs MACs";
  second.y_label = "activations (millions)";
  second.series.pop_back();
  const std::string svg = render_svg("EfficientNet scaling", {scaling_panel(), second});
  CHECK((svg.rfind("<svg", 0) == 0 || svg.rfind("<?xml", 0) == 0));
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find("xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(svg.find("viewBox=\"0 0 ") != std::string::npos);
  CHECK(svg.find("font-family=\"sans-serif\"") != std::string::npos);
  CHECK(count(svg, "class=\"series\"") == 5);
  CHECK(count(svg, "data-name=\"compound\"") == 2);
  CHECK(has_text(svg, "EfficientNet scaling"));
  CHECK(has_text(svg, "MACs (billions)"));
  CHECK(has_text(svg, "activations (millions)"));
  CHECK_FALSE(has_non_finite(svg));
}

TEST_CASE("the same series name has the same colour in every panel", "[report]") {
  PlotPanel first = scaling_panel();
  PlotPanel second = scaling_panel();
  std::swap(second.series[0], second.series[2]);
  const std::string svg = render_svg("t", {first, second});
  auto colour_of_first_group = [&](size_t from, const std::string& name) {
    const size_t group = svg.find("data-name=\"" + name + "\"", from);
    const size_t stroke = svg.find("stroke=\"#", group);
    return svg.substr(stroke, 16);
  };
  const size_t second_panel = svg.find("class=\"panel\"", svg.find("class=\"panel\"") + 1);
  REQUIRE(second_panel != std::string::npos);
  for (const std::string name : {"compound", "width", "depth"}) {
    CHECK(colour_of_first_group(0, name) == colour_of_first_group(second_panel, name));
  }
  CHECK(colour_of_first_group(0, "compound") != colour_of_first_group(0, "depth"));
}

TEST_CASE("text and attributes are escaped", "[report]") {
  PlotPanel p = scaling_panel();
  p.series[0].name = "a<b & \"c\"";
  p.title = "it's <x> & y";
  p.marks.push_back({1.0, 12.0, "best & <top>"});
  const std::string svg = render_svg("t & \"u\"", {p});
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find("data-name=\"a&lt;b &amp; &quot;c&quot;\"") != std::string::npos);
  CHECK(has_text(svg, "a&lt;b &amp; &quot;c&quot;"));
  CHECK(has_text(svg, "it&apos;s &lt;x&gt; &amp; y"));
  CHECK(has_text(svg, "best &amp; &lt;top&gt;"));
  CHECK(svg.find("a<b") == std::string::npos);
}

TEST_CASE("log axes label powers of ten and 1-2-5 steps over a short range", "[report]") {
  PlotPanel p;
  p.log_x = p.log_y = true;
  p.series.push_back({"s", {0.3, 40.0}, {0.3, 40.0}});
  const std::string svg = render_svg("t", {p});
  CHECK(has_text(svg, "1"));
  CHECK(has_text(svg, "10"));
  CHECK(has_text(svg, "2"));
  CHECK(has_text(svg, "0.5"));

  PlotPanel wide;
  wide.log_y = true;
  wide.series.push_back({"s", {1, 2, 3}, {1e-3, 1.0, 1e6}});
  const std::string wide_svg = render_svg("t", {wide});
  CHECK(has_text(wide_svg, "1e0"));  // one style per axis: not "1" next to "1e6"
  CHECK(has_text(wide_svg, "1e6"));
  CHECK_FALSE(has_text(wide_svg, "1000000"));
  CHECK_FALSE(has_text(wide_svg, "2e3"));  // no 1-2-5 steps over nine decades
  CHECK(xml_problem(wide_svg) == "");
}

TEST_CASE("linear axes use 1-2-5 steps", "[report]") {
  PlotPanel p;
  p.series.push_back({"s", {0, 1, 2, 3}, {0.0, 17.0, 33.0, 48.0}});
  const std::string svg = render_svg("t", {p});
  CHECK(has_text(svg, "0"));
  CHECK((has_text(svg, "10") || has_text(svg, "20")));
  CHECK(has_text(svg, "50"));
  CHECK_FALSE(has_text(svg, "48"));
}

TEST_CASE("degenerate inputs draw axes without NaN or infinity", "[report]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<PlotPanel> cases(7);
  cases[0].series.push_back({"empty", {}, {}});
  cases[1].series.push_back({"single", {5.0}, {7.0}});
  cases[2].log_x = cases[2].log_y = true;
  cases[2].series.push_back({"zeros", {0.0, 0.0, -1.0}, {0.0, 1.0, 2.0}});
  cases[3].log_x = cases[3].log_y = true;
  cases[3].series.push_back({"single log", {3.0}, {3.0}});
  cases[4].series.push_back({"equal", {2.0, 2.0, 2.0}, {0.0, 0.0, 0.0}});
  cases[5].log_y = true;
  cases[5].series.push_back({"non-finite", {nan, 1.0, inf, 2.0}, {1.0, nan, 3.0, -inf}});
  cases[6].series.push_back({"mismatched", {1.0, 2.0, 3.0}, {1.0}});
  cases[6].marks.push_back({nan, 1.0, "lost"});

  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    const std::string svg = render_svg("degenerate", {cases[i]});
    CHECK(xml_problem(svg) == "");
    CHECK_FALSE(has_non_finite(svg));
    CHECK(count(svg, "class=\"series\"") == 1);
    CHECK(svg.find("class=\"frame\"") != std::string::npos);
  }
  const std::string empty = render_svg("degenerate", {cases[0]});
  CHECK(has_text(empty, "no data"));
  CHECK(has_text(render_svg("degenerate", {cases[2]}), "no data"));
  CHECK_FALSE(has_text(render_svg("degenerate", {cases[1]}), "no data"));

  const std::string all = render_svg("", cases);
  CHECK(xml_problem(all) == "");
  CHECK_FALSE(has_non_finite(all));
  CHECK(xml_problem(render_svg("no panels", {})) == "");
  CHECK(xml_problem(render_svg("panel without series", {PlotPanel{}})) == "");
  CHECK(has_text(render_svg("panel without series", {PlotPanel{}}), "no data"));
}

TEST_CASE("extreme values stay finite", "[report]") {
  PlotPanel p;
  p.series.push_back({"huge", {-1e308, 1e308}, {1e-300, 1e300}});
  PlotPanel q;
  q.log_x = q.log_y = true;
  q.series.push_back({"tiny", {5e-324, 1e308}, {1e-300, 1e300}});
  PlotPanel r;
  r.series.push_back({"close", {1e9, 1e9 + 1e-3}, {1.0, 1.0 + 1e-12}});
  const std::string svg = render_svg("t", {p, q, r});
  CHECK(xml_problem(svg) == "");
  CHECK_FALSE(has_non_finite(svg));
}

TEST_CASE("scatter marks are drawn and labelled", "[report]") {
  PlotPanel p;
  p.title = "Search candidates";
  p.x_label = "MACs (billions)";
  p.y_label = "top-1 proxy";
  p.series.push_back({"candidates", {1, 2, 3, 4}, {0.1, 0.4, 0.2, 0.3}, false, true});
  p.marks = {{2, 0.4, "#1"}, {4, 0.3, "#2"}, {3, 0.2, "#3"}};
  const std::string svg = render_svg("t", {p});
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find("class=\"marks\"") != std::string::npos);
  CHECK(has_text(svg, "#1"));
  CHECK(has_text(svg, "#3"));
  CHECK(svg.find("fill=\"none\" stroke=\"#0072B2\"") == std::string::npos);  // markers only, no line
}

TEST_CASE("rendering is deterministic", "[report]") {
  PlotPanel p = scaling_panel();
  p.marks.push_back({4.0, 40.0, "pick"});
  const std::string a = render_svg("t", {p, scaling_panel()});
  const std::string b = render_svg("t", {p, scaling_panel()});
  CHECK(a == b);
}

TEST_CASE("a series with a fixed colour index keeps its colour whatever series come before it", "[report][svg]") {
  auto colour_of = [](const std::vector<PlotSeries>& series, const std::string& name) {
    PlotPanel p;
    p.series = series;
    Svg svg(render_svg("t", {p}));
    return line_colour(svg.series(name));
  };
  PlotSeries width = line_series("width", {1, 2, 4}, {1, 2, 3});
  width.colour = 2;
  const PlotSeries a = line_series("a", {1, 2}, {2, 3});
  const PlotSeries b = line_series("b", {1, 2}, {3, 4});
  PlotSeries fixed_other = line_series("fast", {1, 2}, {4, 5});
  fixed_other.colour = 6;

  const std::string alone = colour_of({width}, "width");
  REQUIRE(!alone.empty());
  CHECK(colour_of({a, width}, "width") == alone);
  CHECK(colour_of({a, b, width}, "width") == alone);
  CHECK(colour_of({fixed_other, a, b, width}, "width") == alone);
  CHECK(colour_of({width, fixed_other}, "fast") == colour_of({fixed_other}, "fast"));
  CHECK(colour_of({fixed_other}, "fast") != alone);  // different indices, different colours

  // Series without a fixed index avoid the colours that fixed ones take.
  PlotPanel mixed;
  mixed.series = {a, b, width, fixed_other};
  Svg svg(render_svg("t", {mixed}));
  CHECK(line_colour(svg.series("a")) != alone);
  CHECK(line_colour(svg.series("b")) != alone);
  CHECK(line_colour(svg.series("a")) != line_colour(svg.series("fast")));
  CHECK(line_colour(svg.series("a")) != line_colour(svg.series("b")));

  // Without the index the colour follows the order of appearance: what the index is for.
  PlotSeries floating = width;
  floating.colour = -1;
  CHECK(colour_of({a, floating}, "width") != colour_of({floating}, "width"));

  // The same index in another panel, next to other series, gives the same colour.
  PlotPanel first, second;
  first.series = {width};
  second.series = {a, b, width};
  Svg two(render_svg("t", {first, second}));
  const auto groups = two.all("series");
  REQUIRE(groups.size() == 4);
  CHECK(line_colour(groups[0]) == alone);
  CHECK(line_colour(groups[3]) == alone);
}

TEST_CASE("the title wraps inside the SVG width and the subtitle is a smaller line below it", "[report][svg]") {
  PlotPanel p = scaling_panel();
  const std::string title =
      "effscale search, ranked by rel-latency (latency / the baseline's, each timed next to it; at equal MACs; lower "
      "is better) with a title that goes on";
  const std::string subtitle = "AMD EPYC 7B13 64-Core Processor (2 cores), oneDNN 2.6.3 (cpu: omp), ISA avx512_core_bf16, "
                               "and more words to need a second line of subtitle";
  Svg svg(render_svg(title, {p}, subtitle));
  const double width = svg.width();
  const auto titles = svg.all("title");
  const auto subtitles = svg.all("subtitle");
  REQUIRE(titles.size() >= 2);
  REQUIRE(!subtitles.empty());
  std::string joined, joined_sub;
  double last_y = 0;
  for (const auto* t : titles) {
    const double size = t->DoubleAttribute("font-size");
    CHECK(size == 16);
    // Bold sans-serif advances about 0.6 em per character.
    CHECK(t->DoubleAttribute("x") + static_cast<double>(chars_of(text_of(t))) * size * 0.6 <= width);
    CHECK(t->DoubleAttribute("y") > last_y);
    last_y = t->DoubleAttribute("y");
    joined += text_of(t) + " ";
  }
  for (const auto* t : subtitles) {
    const double size = t->DoubleAttribute("font-size");
    CHECK(size < 16);
    CHECK(t->DoubleAttribute("x") + static_cast<double>(chars_of(text_of(t))) * size * 0.55 <= width);
    CHECK(t->DoubleAttribute("y") > last_y);  // below the title and each other
    last_y = t->DoubleAttribute("y");
    joined_sub += text_of(t) + " ";
  }
  CHECK(words_of(joined) == words_of(title));
  CHECK(words_of(joined_sub) == words_of(subtitle));
  // The panels move down below the header: the panel title is under the last subtitle line.
  const auto* panel = svg.one("panel");
  CHECK(panel_shift(panel) + svg.one("panel-title", panel)->DoubleAttribute("y") > last_y + 10);
  CHECK(svg.root()->DoubleAttribute("height") >= panel_shift(panel) + rect_of(svg.one("frame")).y + 300);

  // A word longer than the width is cut, not left to overflow.
  const std::string word(300, 'x');
  Svg long_word(render_svg(word, {p}));
  size_t total = 0;
  for (const auto* t : long_word.all("title")) {
    CHECK(t->DoubleAttribute("x") + static_cast<double>(chars_of(text_of(t))) * 16 * 0.6 <= long_word.width());
    total += chars_of(text_of(t));
  }
  CHECK(total == word.size());

  // A short title stays one line, as before, with the panel where it was.
  Svg plain(render_svg("EfficientNet scaling", {p}));
  REQUIRE(plain.all("title").size() == 1);
  CHECK(text_of(plain.one("title")) == "EfficientNet scaling");
  CHECK(plain.all("subtitle").empty());
  CHECK(panel_shift(plain.one("panel")) == 0);
}

TEST_CASE("a panel with few series has its legend inside the plot, many series keep it beside", "[report][svg]") {
  PlotPanel p;
  p.series.push_back(line_series("candidates", {1, 2, 3, 4}, {1, 2, 3, 4}));  // rising: the top-left is empty
  Svg svg(render_svg("t", {p}));
  const Rect frame = rect_of(svg.one("frame"));
  const auto* legend = svg.one("legend");
  const Rect box = rect_of(svg.one("legend-box", legend));
  CHECK(frame.contains(box.x, box.y));
  CHECK(frame.contains(box.x + box.w, box.y + box.h));
  CHECK(box.x + box.w / 2 < frame.x + frame.w / 2);  // top-left
  CHECK(box.y + box.h / 2 < frame.y + frame.h / 2);
  const auto* label = legend->FirstChildElement("text");
  REQUIRE(label);
  CHECK(text_of(label) == "candidates");
  CHECK(box.contains(label->DoubleAttribute("x"), label->DoubleAttribute("y")));
  CHECK(std::string(svg.one("legend-box", legend)->Attribute("fill")) == "#fff");
  CHECK(svg.one("legend-box", legend)->DoubleAttribute("fill-opacity") < 1);
  CHECK(svg.width() <= frame.x + frame.w + 40);  // the panel is not widened for the legend
  for (const auto& [x, y] : line_points(svg.series("candidates"))) CHECK_FALSE(box.contains(x, y));

  // Points in the top-left corner: the legend moves to a corner where it covers neither points
  // nor lines.
  PlotPanel falling;
  falling.series.push_back(line_series("falling", {0.5, 1, 1.5, 2, 2.5, 10}, {11, 11, 10.5, 10.5, 10, 0}));
  falling.series.push_back(line_series("low", {0, 10}, {1, 1}));
  Svg moved(render_svg("t", {falling}));
  const Rect moved_frame = rect_of(moved.one("frame"));
  const Rect moved_box = rect_of(moved.one("legend-box"));
  CHECK(moved_frame.contains(moved_box.x, moved_box.y));
  CHECK(moved_frame.contains(moved_box.x + moved_box.w, moved_box.y + moved_box.h));
  bool top_left_covers = false;
  for (const char* name : {"falling", "low"}) {
    const auto points = line_points(moved.series(name));
    for (size_t i = 0; i + 1 < points.size(); ++i) {
      for (int k = 0; k <= 20; ++k) {  // along each segment
        const double x = points[i].first + (points[i + 1].first - points[i].first) * k / 20;
        const double y = points[i].second + (points[i + 1].second - points[i].second) * k / 20;
        CHECK_FALSE(moved_box.contains(x, y));
        top_left_covers = top_left_covers || Rect{moved_frame.x, moved_frame.y, moved_box.w + 8, moved_box.h + 8}.contains(x, y);
      }
    }
  }
  CHECK(top_left_covers);  // the case this checks: the top-left corner is taken

  // Five series: the legend is beside the plot, without a box.
  PlotPanel many;
  for (int i = 0; i < kMaxLegendInside + 1; ++i) {
    many.series.push_back(line_series("s" + std::to_string(i), {1, 2}, {1.0 + i, 2.0 + i}));
  }
  Svg beside(render_svg("t", {many}));
  const Rect many_frame = rect_of(beside.one("frame"));
  CHECK(beside.all("legend-box").empty());
  int labels = 0;
  for (const auto* t = beside.one("legend")->FirstChildElement("text"); t; t = t->NextSiblingElement("text")) {
    CHECK(t->DoubleAttribute("x") > many_frame.x + many_frame.w);
    ++labels;
  }
  CHECK(labels == kMaxLegendInside + 1);
}

TEST_CASE("interval bars span their point and skip what cannot be drawn", "[report][svg]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  PlotPanel p;
  p.log_y = true;
  PlotSeries s = line_series("latency", {1, 2, 3, 4, 5}, {10, 20, 30, 40, 50});
  s.y_low = {8, 15, nan, 0, 45};     // NaN and 0 (on a log axis) are not drawable
  s.y_high = {13, 90, 33, 44, 55};   // 90 beyond every point: the axis grows to it
  p.series.push_back(s);
  PlotSeries no_bars = line_series("plain", {1, 5}, {12, 12});
  p.series.push_back(no_bars);
  Svg svg(render_svg("t", {p}));
  const auto* group = svg.series("latency");
  const auto bars = svg.all("bar", group);
  REQUIRE(bars.size() == 3);
  CHECK(svg.all("bar").size() == 3);  // none for the series without bars
  const auto points = line_points(group);
  REQUIRE(points.size() == 5);
  const Rect frame = rect_of(svg.one("frame"));
  const size_t with_bar[] = {0, 1, 4};
  for (size_t k = 0; k < 3; ++k) {
    INFO("bar " << k);
    const BarPixels b = bar_pixels(bars[k]);
    const auto [x, y] = points[with_bar[k]];
    CHECK(b.x == Approx(x).margin(0.051));
    CHECK(std::min(b.y0, b.y1) <= y);
    CHECK(y <= std::max(b.y0, b.y1));
    CHECK(b.y1 < b.y0);  // low end below (larger pixel y) the high end
    CHECK(frame.contains(b.x, b.y0));
    CHECK(frame.contains(b.x, b.y1));
  }
  // On a log axis a bar from 15 to 90 around 20 is longer above the point than below it.
  const BarPixels second = bar_pixels(bars[1]);
  CHECK(points[1].second - second.y1 > second.y0 - points[1].second);
  CHECK(xml_problem(render_svg("t", {p})) == "");
  CHECK_FALSE(has_non_finite(render_svg("t", {p})));
}

TEST_CASE("a vertical reference line sits where a point at its x does", "[report][svg]") {
  for (const bool log_x : {false, true}) {
    INFO("log x " << log_x);
    PlotPanel p;
    p.log_x = log_x;
    p.series.push_back(line_series("s", {1.5, 2, 2.5, 3.5}, {1, 3, 2, 4}));
    p.x_lines.push_back({2.5, "target 2.5x"});
    p.x_lines.push_back({6, "beyond"});  // outside the points: the axis grows to show it
    p.x_lines.push_back({std::numeric_limits<double>::infinity(), "lost"});
    Svg svg(render_svg("t", {p}));
    const auto lines = svg.all("x-line");
    REQUIRE(lines.size() == 2);
    const auto points = line_points(svg.series("s"));
    REQUIRE(points.size() == 4);
    const Rect frame = rect_of(svg.one("frame"));
    auto line_x = [](const tinyxml2::XMLElement* g) {
      const auto* path = g->FirstChildElement("path");
      REQUIRE(path);
      CHECK(path->Attribute("stroke-dasharray"));
      const auto v = vertices(path->Attribute("d"));
      REQUIRE(!v.empty());
      return v.front();
    };
    const auto [x, top] = line_x(lines[0]);
    CHECK(x == Approx(points[2].first).margin(0.051));
    CHECK(top == Approx(frame.y));
    CHECK(frame.contains(line_x(lines[1]).first, frame.y));
    CHECK(line_x(lines[1]).first > points[3].first);
    const auto* label = lines[0]->FirstChildElement("text");
    REQUIRE(label);
    CHECK(text_of(label) == "target 2.5x");
    CHECK(label->DoubleAttribute("y") < frame.y + frame.h / 3);  // near the top
    CHECK(std::fabs(label->DoubleAttribute("x") - x) < 10);
    CHECK_FALSE(has_text(render_svg("t", {p}), "lost"));
  }
}

TEST_CASE("points land where the axis range puts them, on linear and log axes", "[report][svg]") {
  auto check_axis = [](bool log) {
    INFO((log ? "log" : "linear") << " axes");
    PlotPanel p;
    p.log_x = p.log_y = log;
    const std::vector<double> xs = log ? std::vector<double>{1, 10, 100, 1000} : std::vector<double>{0, 10, 20, 30};
    const std::vector<double> ys = log ? std::vector<double>{2, 20, 200, 2000} : std::vector<double>{0, 5, 10, 15};
    p.series.push_back(line_series("s", xs, ys));
    Svg svg(render_svg("t", {p}));
    const auto* frame_element = svg.one("frame");
    const Rect frame = rect_of(frame_element);
    CHECK(std::string(frame_element->Attribute("data-x-scale")) == (log ? "log" : "linear"));
    const double x_lo = frame_element->DoubleAttribute("data-x-lo"), x_hi = frame_element->DoubleAttribute("data-x-hi");
    const double y_lo = frame_element->DoubleAttribute("data-y-lo"), y_hi = frame_element->DoubleAttribute("data-y-hi");
    REQUIRE(x_hi > x_lo);
    REQUIRE(y_hi > y_lo);
    auto coord = [&](double v) { return log ? std::log10(v) : v; };
    const auto points = line_points(svg.series("s"));
    REQUIRE(points.size() == xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      INFO("point " << i);
      CHECK(points[i].first == Approx(frame.x + (coord(xs[i]) - x_lo) / (x_hi - x_lo) * frame.w).margin(0.051));
      CHECK(points[i].second == Approx(frame.y + frame.h - (coord(ys[i]) - y_lo) / (y_hi - y_lo) * frame.h).margin(0.051));
      CHECK(frame.contains(points[i].first, points[i].second));
      if (i > 0) {
        CHECK(points[i].first > points[i - 1].first);    // x grows to the right
        CHECK(points[i].second < points[i - 1].second);  // y grows upwards
        if (i > 1) {  // equal steps (equal ratios on log axes) are equal distances
          CHECK(points[i].first - points[i - 1].first ==
                Approx(points[i - 1].first - points[i - 2].first).margin(0.11));
        }
      }
    }
    // The tick labels agree: a point at a tick's value is under its label.
    const std::vector<std::pair<std::string, size_t>> ticked =
        log ? std::vector<std::pair<std::string, size_t>>{{"10", 1}, {"100", 2}}
            : std::vector<std::pair<std::string, size_t>>{{"10", 1}, {"20", 2}};
    for (const auto& [value, index] : ticked) {
      INFO("tick " << value);
      bool found = false;
      for (const auto* t = svg.one("tick-labels")->FirstChildElement("text"); t; t = t->NextSiblingElement("text")) {
        if (text_of(t) != value || t->DoubleAttribute("y") < frame.y + frame.h) continue;  // x-axis labels only
        found = true;
        CHECK(t->DoubleAttribute("x") == Approx(points[index].first).margin(0.051));
      }
      CHECK(found);
    }
    if (!log) {
      // The linear axis starts at 0 for non-negative data: the point at 0 is on the left and bottom edges.
      CHECK(x_lo == 0);
      CHECK(points[0].first == Approx(frame.x).margin(0.051));
      CHECK(points[0].second == Approx(frame.y + frame.h).margin(0.051));
    } else {
      // The log axis pads its range a little: the smallest point is just inside the left edge.
      CHECK(x_lo < 0);
      CHECK(points[0].first > frame.x);
      CHECK(points[0].first < frame.x + 0.05 * frame.w);
    }
  };
  check_axis(false);
  check_axis(true);
}

namespace {

/// Sets EFFSCALE_FAILPOINTS for the scope.
class ScopedFailpoints {
 public:
  explicit ScopedFailpoints(const char* list) { ::setenv("EFFSCALE_FAILPOINTS", list, 1); }
  ~ScopedFailpoints() { ::unsetenv("EFFSCALE_FAILPOINTS"); }
  ScopedFailpoints(const ScopedFailpoints&) = delete;
  ScopedFailpoints& operator=(const ScopedFailpoints&) = delete;
};

/// Series name -> the stroke colour and dash pattern of its line in the first panel of `svg`.
std::map<std::string, std::pair<std::string, std::string>> strategy_styles(const Svg& svg) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  for (const auto* g : svg.all("series", svg.all("panel").front())) {
    const auto* path = g->FirstChildElement("path");
    REQUIRE(path);
    out[g->Attribute("data-name")] = {path->Attribute("stroke") ? path->Attribute("stroke") : "",
                                      path->Attribute("stroke-dasharray") ? path->Attribute("stroke-dasharray") : ""};
  }
  return out;
}

}  // namespace

TEST_CASE("compare --plot gives each strategy the same colour whatever --strategies lists", "[report][svg][cli]") {
  test::TempDir dir;
  auto styles = [&](const std::vector<std::string>& strategies) {
    std::vector<std::string> args = {"compare", "--no-latency", "--targets", "1,2", "--plot", dir.file("c.svg")};
    if (!strategies.empty()) args.insert(args.end(), strategies.begin(), strategies.end());
    const auto r = test::run(args);
    REQUIRE(r.status == 0);
    Svg svg(test::read_file(dir.file("c.svg")));
    return strategy_styles(svg);
  };
  const auto all = styles({});
  REQUIRE(all.size() == 7);
  std::set<std::string> colours;
  for (const auto& [name, style] : all) colours.insert(style.first);
  CHECK(colours.size() == 7);  // seven strategies, seven colours
  const auto two = styles({"--strategies", "width,fast"});
  REQUIRE(two.size() == 2);
  CHECK(two.at("width") == all.at("width"));
  CHECK(two.at("fast") == all.at("fast"));
  const auto mixed = styles({"--strategies", "fast,compound:1.3,1.05,1.15,depth,compound"});
  REQUIRE(mixed.size() == 4);
  CHECK(mixed.at("fast") == all.at("fast"));
  CHECK(mixed.at("depth") == all.at("depth"));
  CHECK(mixed.at("compound") == all.at("compound"));
  // Another compound: compound's colour, another dash pattern.
  CHECK(mixed.at("compound:1.3,1.05,1.15").first == all.at("compound").first);
  CHECK(mixed.at("compound:1.3,1.05,1.15").second != all.at("compound").second);
}

TEST_CASE("the search plot has the machine as subtitle, 95% interval bars and the target line", "[report][svg][cli]") {
  test::TempDir dir;
  ScopedFailpoints simulated("simulated-machine");  // deterministic latencies, no oneDNN timing
  std::vector<std::string> args = {"search"};
  const auto grid = test::tiny_grid(test::tiny_baseline(dir));
  args.insert(args.end(), grid.begin(), grid.end());
  args.insert(args.end(), {"--runs", "5", "--warmup", "1", "--budget", "0", "--format", "csv", "--output",
                           dir.file("s.csv"), "--plot", dir.file("s.svg")});
  const auto r = test::run(args);
  REQUIRE(r.status == 0);
  const std::string text = test::read_file(dir.file("s.svg"));
  Svg svg(text);
  const auto report = test::report_rows(dir.file("s.csv"));
  size_t measured = 0;
  for (size_t i = 0; i < report.rows.size(); ++i) measured += !report.at(i, "latency_ms").empty();
  REQUIRE(measured > 0);

  // The title names the objective; the machine is on the subtitle line; both fit.
  const auto titles = svg.all("title");
  REQUIRE(!titles.empty());
  CHECK(text_of(titles.front()).rfind("effscale search, ranked by ", 0) == 0);
  const auto subtitles = svg.all("subtitle");
  REQUIRE(!subtitles.empty());
  std::string machine;
  for (const auto* t : subtitles) machine += text_of(t) + " ";
  CHECK(machine.find("oneDNN") != std::string::npos);
  for (const auto* t : titles) CHECK(text_of(t).find("oneDNN") == std::string::npos);
  for (const auto* t : svg.all("title")) {
    CHECK(t->DoubleAttribute("x") + static_cast<double>(chars_of(text_of(t))) * 16 * 0.6 <= svg.width());
  }

  // One bar per measured candidate, around its point; the y label says what they are.
  const auto* candidates = svg.series("candidates");
  const auto bars = svg.all("bar", candidates);
  CHECK(bars.size() == measured);
  for (const auto* bar : bars) {
    const BarPixels b = bar_pixels(bar);
    CHECK(b.y1 <= b.y0);
  }
  std::string y_label;
  for (const auto* t : svg.all("y-label")) y_label += text_of(t) + " ";
  CHECK(y_label.find("bars: 95% interval") != std::string::npos);

  // The target line at T^phi = 2, and the legend inside the plot.
  const auto* line = svg.one("x-line");
  CHECK(line->DoubleAttribute("data-x") == Approx(std::stod(report.at(0, "target_ratio"))));
  CHECK(text_of(line->FirstChildElement("text")) == "target 2x");
  const Rect frame = rect_of(svg.one("frame"));
  const Rect box = rect_of(svg.one("legend-box"));
  CHECK(frame.contains(box.x, box.y));
  CHECK(frame.contains(box.x + box.w, box.y + box.h));
  CHECK(svg.width() <= frame.x + frame.w + 40);
}
