#include <catch2/catch.hpp>
#include <tinyxml2.h>

#include <cmath>
#include <map>
#include <set>

#include "error.hpp"
#include "strategy.hpp"
#include "test_util.hpp"
#include "text.hpp"

using namespace effscale;
using effscale::test::run;

TEST_CASE("strategy formulas against hand-computed values", "[strategy]") {
  // Hand-computed: compound phi = ln 4 / ln(1.2 * 1.1^2 * 1.15^2) = ln 4 / ln 1.92027 = 2.124700;
  // d = 1.2^phi = 1.473114, w = 1.1^phi = 1.224467, r = 1.15^phi = 1.345751.
  const Multipliers c = strategy_multipliers(parse_strategy("compound"), 4);
  CHECK(c.depth == Approx(1.473114).epsilon(1e-6));
  CHECK(c.width == Approx(1.224467).epsilon(1e-6));
  CHECK(c.resolution == Approx(1.345751).epsilon(1e-6));
  const Multipliers w = strategy_multipliers(parse_strategy("width"), 4);
  CHECK(w.depth == 1);
  CHECK(w.width == 2);
  CHECK(w.resolution == 1);
  const Multipliers d = strategy_multipliers(parse_strategy("depth"), 4);
  CHECK(d.depth == 4);
  CHECK(d.width == 1);
  const Multipliers r = strategy_multipliers(parse_strategy("resolution"), 4);
  CHECK(r.resolution == 2);
  const Multipliers u = strategy_multipliers(parse_strategy("uniform"), 64);
  CHECK(u.depth == Approx(4));       // 64^(1/3)
  CHECK(u.width == Approx(2));       // 64^(1/6)
  CHECK(u.resolution == Approx(2));
  // Dollar, Singh & Girshick 2021, dWr with alpha = 0.8 at s = 1024: d = 2, w = 16, r = 1024^0.05.
  const Multipliers f = strategy_multipliers(parse_strategy("fast"), 1024);
  CHECK(f.depth == Approx(2));
  CHECK(f.width == Approx(16));
  CHECK(f.resolution == Approx(std::pow(2.0, 0.5)));
  const Multipliers custom = strategy_multipliers(parse_strategy("compound:1.4,1.2,1.05"), 1.4 * 1.44 * 1.1025);
  CHECK(custom.depth == Approx(1.4));
  CHECK(custom.width == Approx(1.2));
  CHECK(custom.resolution == Approx(1.05));
}

TEST_CASE("every formula strategy keeps d * w^2 * r^2 = s", "[strategy]") {
  for (const char* name : {"compound", "compound:1.3,1.05,1.2", "width", "depth", "resolution", "uniform", "fast"}) {
    for (double s : {0.5, 1.0, 2.0, 3.7, 16.0, 128.0}) {
      INFO(name << " at s = " << s);
      const Multipliers m = strategy_multipliers(parse_strategy(name), s);
      CHECK(m.depth * m.width * m.width * m.resolution * m.resolution == Approx(s).epsilon(1e-12));
    }
  }
}

TEST_CASE("official points are the published b0..b8 at phi = round(log2 s)", "[strategy]") {
  const Strategy official = parse_strategy("official");
  CHECK(strategy_point(official, 1, 224)->model == "b0");
  CHECK(strategy_point(official, 8, 224)->model == "b3");
  CHECK(strategy_point(official, 8, 224)->factors.resolution == 300);
  CHECK(strategy_point(official, 11, 224)->model == "b3");  // log2 11 = 3.46
  CHECK(strategy_point(official, 256, 224)->model == "b8");
  CHECK_FALSE(strategy_point(official, 1024, 224));
  CHECK_FALSE(strategy_point(official, 0.25, 224));
}

TEST_CASE("calibration brings the rounded MACs to the target", "[strategy]") {
  const NetworkSpec base = builtin_baseline("efficientnet-b0");
  Graph g;
  const double base_macs = static_cast<double>(network_cost(expand(base)).total.macs);
  // Without calibration, ceil(d * repeats) adds a block to every stage: compound at s = 2 builds
  // d = 1.21, w = 1.11, r = 260 and achieves 2.62x.
  const auto raw = strategy_point(parse_strategy("compound"), 2, 224);
  CHECK(raw->factors.resolution == 260);
  // d = 1.21 turns each stage's repeats r into ceil(1.21 r) (1,2,2,3,3,4,1 -> 2,3,3,4,4,5,2); 2.62 is the
  // architecture's own ratio at those factors, a regression guard.
  CHECK(evaluate(base, raw->factors, g).total.macs / base_macs == Approx(2.62).epsilon(0.01));
  const auto fitted = calibrated_point(parse_strategy("compound"), 2, base, g);
  CHECK(fitted->formula.depth == Approx(raw->multipliers.depth));  // the formula at s is still reported
  CHECK(fitted->nominal < 2);
  CHECK(evaluate(base, fitted->factors, g).total.macs / base_macs == Approx(2).epsilon(0.05));
}

TEST_CASE("strategy names are validated", "[strategy]") {
  CHECK(parse_strategy("compound:1.2,1.1,1.15").name() == "compound");
  CHECK(parse_strategy("compound:1.3,1.05,1.15").name() == "compound:1.3,1.05,1.15");
  CHECK_THROWS_WITH(parse_strategy("widht"), Catch::Contains("did you mean 'width'"));
  CHECK_THROWS_WITH(parse_strategy("compound:1.2,1.1"), Catch::Contains("expected compound:ALPHA,BETA,GAMMA"));
  CHECK_THROWS_WITH(parse_strategy("compound:1,1,1"), Catch::Contains("must be above 1"));
  CHECK_THROWS_WITH(parse_strategy("compound:0.9,1.1,1.1"), Catch::Contains("alpha 0.9 is out of range [1, 16]"));
  CHECK_THROWS_WITH(parse_strategy("width:2"), Catch::Contains("takes no parameters"));
}

TEST_CASE("compare --no-latency: 7 strategies x 8 targets, within 4% of each target", "[strategy][cli]") {
  const auto r = run({"compare", "--no-latency", "--format", "csv"});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() == 56);
  std::map<std::string, int> per_strategy;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    const std::string strategy = csv.at(i, "strategy");
    ++per_strategy[strategy];
    const double target = std::stod(csv.at(i, "target"));
    const double ratio = std::stod(csv.at(i, "mac_ratio"));
    INFO(strategy << " at " << target << ": " << ratio);
    CHECK(csv.at(i, "status") == "ok");
    if (strategy != "official") {
      // Calibrated to the nearest step of the rounding: the worst row measures 3.4% off; 4% leaves 0.6%.
      CHECK(ratio / target == Approx(1).epsilon(0.04));
      const double d = std::stod(csv.at(i, "d")), w = std::stod(csv.at(i, "w")), res = std::stod(csv.at(i, "r"));
      CHECK(d * w * w * res * res == Approx(target).epsilon(1e-9));
    }
  }
  CHECK(per_strategy.size() == 7);
  for (const auto& [name, count] : per_strategy) CHECK(count == 8);
  // Pinned rows. Official b3: torchvision's EfficientNet_B3 GFLOPS 1.83 (the exact integer guards it); resolution-only at s = 4 lands exactly on
  // 448 = 2 x 224 (MACs scale with r^2 except SE convs and the classifier); official rows keep
  // the published factors.
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    if (csv.at(i, "strategy") == "official" && csv.at(i, "target") == "8") {
      CHECK(csv.at(i, "model") == "b3");
      CHECK(csv.at(i, "macs") == "1827141392");
    }
    if (csv.at(i, "strategy") == "resolution" && csv.at(i, "target") == "4") {
      CHECK(csv.at(i, "resolution") == "448");
      CHECK(csv.at(i, "params") == "5288548");
    }
    if (csv.at(i, "strategy") == "width" && csv.at(i, "target") == "1") CHECK(csv.at(i, "macs") == "385814752");
  }
}

TEST_CASE("compare --plot writes SVG that parses as XML with one series per strategy", "[strategy][cli]") {
  test::TempDir dir;
  const auto svg = dir.file("c.svg");
  const auto r = run({"compare", "--no-latency", "--targets", "1,2,4", "--plot", svg, "--strategies", "compound,width,fast"});
  REQUIRE(r.status == 0);
  tinyxml2::XMLDocument doc;
  REQUIRE(doc.LoadFile(svg.c_str()) == tinyxml2::XML_SUCCESS);
  std::set<std::string> series;
  int groups = 0;
  std::function<void(const tinyxml2::XMLElement*)> walk = [&](const tinyxml2::XMLElement* e) {
    for (; e; e = e->NextSiblingElement()) {
      const char* cls = e->Attribute("class");
      if (cls && std::string(cls) == "series") {
        ++groups;
        series.insert(e->Attribute("data-name"));
      }
      walk(e->FirstChildElement());
    }
  };
  walk(doc.RootElement());
  CHECK(std::string(doc.RootElement()->Name()) == "svg");
  CHECK(series == std::set<std::string>{"compound", "width", "fast"});
  CHECK(groups == 3);  // one panel (activations) without latency
}

TEST_CASE("compare measures each distinct model once next to the baseline and orders each target", "[strategy][cli][onednn]") {
  test::TempDir dir;
  const auto r = run({"compare", "--baseline", test::tiny_baseline(dir), "--strategies", "width,depth,resolution",
                      "--targets", "1,2", "--runs", "3", "--warmup", "1", "--format", "csv"});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() == 6);
  std::map<std::string, std::string> rel_of_network;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    INFO(csv.at(i, "strategy") << " at " << csv.at(i, "target"));
    CHECK(csv.at(i, "status") == "ok");
    const double rel = std::stod(csv.at(i, "rel_latency"));
    CHECK(std::stod(csv.at(i, "rel_ci_low")) <= rel);
    CHECK(rel <= std::stod(csv.at(i, "rel_ci_high")));
    if (csv.at(i, "target") == "1") {
      // At s = 1 every strategy builds the baseline itself: the reference, relative latency 1, one rank.
      CHECK(rel == 1);
      CHECK(csv.at(i, "order") == "1");
      CHECK(csv.at(i, "tied") == "false");
    } else {
      CHECK(std::stoi(csv.at(i, "order")) >= 1);
    }
    auto [it, inserted] = rel_of_network.emplace(csv.at(i, "network"), csv.at(i, "rel_latency"));
    if (!inserted) CHECK(it->second == csv.at(i, "rel_latency"));  // the same network, measured once
  }
  std::set<std::string> orders;
  for (size_t i = 3; i < 6; ++i) orders.insert(csv.at(i, "order"));
  CHECK(orders.count("1") == 1);
}

TEST_CASE("compare: bad input", "[strategy][cli]") {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"--strategies", "compound,widht"}, "unknown strategy 'widht', did you mean 'width'?"},
      {{"--strategies", "width,width"}, "'width' is listed twice"},
      {{"--strategies", ""}, "has an empty item"},
      {{"--targets", "1,0"}, "--targets: 0 is out of range (0, 1024]"},
      {{"--targets", "1,two"}, "--targets: 'two' is not a finite number"},
      {{"--targets", "1,inf"}, "--targets: 'inf' is not a finite number"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"compare", "--no-latency"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    test::expect_error(args, 2, c.message);
  }
}
