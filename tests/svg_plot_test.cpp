#include <catch2/catch.hpp>

#include <cctype>
#include <limits>
#include <string>
#include <vector>

#include "report/svg_plot.hpp"

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
