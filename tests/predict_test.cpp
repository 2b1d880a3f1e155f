// The latency predictor: units (units.hpp), the table's arithmetic and file format
// (latency_table.hpp), and its cache as the commands use it (predict_pipeline.hpp), the latter on
// the simulated machine (measure.hpp), whose latencies are MACs / 25 GMAC/s + 3 us per layer, so
// that the sum of a network's units is the network itself and nothing depends on this machine's mood.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cost.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "latency_table.hpp"
#include "predict_pipeline.hpp"
#include "scaling.hpp"
#include "spec.hpp"
#include "test_util.hpp"
#include "units.hpp"

using namespace effscale;

namespace {

/// Sets EFFSCALE_FAILPOINTS for the scope.
struct SimulatedMachine {
  SimulatedMachine() { ::setenv("EFFSCALE_FAILPOINTS", "simulated-machine", 1); }
  ~SimulatedMachine() { ::unsetenv("EFFSCALE_FAILPOINTS"); }
};

LatencyTable synthetic_table() {
  LatencyTable t;
  t.key.fields = {{"cpu", "Test CPU"}, {"onednn", "2.6.3"}};
  t.reference_ms = 4;
  t.units["00000000000000a1"] = {{0.10, 0.09, 0.11}, 12, "stem"};
  t.units["00000000000000b2"] = {{0.30, 0.28, 0.32}, 12, "stage1.block1"};
  t.units["00000000000000c3"] = {{0.50, 0.50, 0.50}, 12, "head"};
  t.overhead = {1.0, 0.05, 0.0, 2, 0.0, 4};
  return t;
}

/// `search` over the tiny grid with predicted latency from the table in `dir`, then `extra`.
std::vector<std::string> predicted_search(const test::TempDir& dir, const std::string& base,
                                          const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"search"};
  const auto grid = test::tiny_grid(base);
  args.insert(args.end(), grid.begin(), grid.end());
  args.insert(args.end(), {"--threads", "1", "--latency-table", dir.file("t.tsv"), "--latency", "predicted"});
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

nlohmann::json predict_json(std::vector<std::string> args) {
  args.insert(args.end(), {"--format", "json"});
  const auto r = test::run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  return nlohmann::json::parse(r.out);
}

}  // namespace

TEST_CASE("units: B0 is its stem, 16 blocks and head, and the units add up to the network", "[predict]") {
  for (const char* name : {"efficientnet-b0", "mobilenet-v2"}) {
    const NetworkSpec base = builtin_baseline(name);
    for (const ScaleFactors f : {ScaleFactors{1, 1, base.resolution}, ScaleFactors{1.8, 1.4, 380}, ScaleFactors{0.5, 0.5, 128}}) {
      INFO(name << " d" << f.depth << " w" << f.width << " r" << f.resolution);
      const Graph g = expand(scale(base, f));
      const std::vector<Unit> units = split_units(g);
      std::int64_t blocks = 0;
      for (const auto& s : scale(base, f).stages) blocks += s.repeats;
      REQUIRE(static_cast<std::int64_t>(units.size()) == blocks + 2);
      CHECK(units.front().name == "stem");
      CHECK(units.back().name == "head");
      CHECK(units[1].name == "stage1.block1");
      size_t layers = 0;
      LayerCost sum;
      for (const auto& u : units) {
        layers += u.graph.layers.size();
        const LayerCost c = network_cost(u.graph).total;
        sum.macs += c.macs;
        sum.params += c.params;
        CHECK(u.key == network_id(u.graph));
        CHECK(u.graph.tensors[0].producer == -1);
      }
      CHECK(layers == g.layers.size());
      const LayerCost whole = network_cost(g).total;
      CHECK(sum.macs == whole.macs);
      CHECK(sum.params == whole.params);
      CHECK(unit_keys(g) == [&] {
        std::vector<std::string> k;
        for (const auto& u : units) k.push_back(u.key);
        return k;
      }());
    }
  }
  // The same shapes are the same unit wherever they are: B0's stage 2 has two blocks (stride 2, then
  // stride 1); at depth 2 it has four, the last three alike, and the first is B0's first.
  const NetworkSpec b0 = builtin_baseline("efficientnet-b0");
  const auto a = split_units(expand(b0));
  const auto b = split_units(expand(scale(b0, {1.0, 2.0, 224})));  // width 1, depth 2
  std::map<std::string, std::string> key;
  for (const auto& u : b) key[u.name] = u.key;
  CHECK(key["stage2.block1"] == a[2].key);
  CHECK(key["stage2.block2"] == a[3].key);
  CHECK(key["stage2.block3"] == a[3].key);
  CHECK(key["stage2.block4"] == a[3].key);
  CHECK(key["stage2.block1"] != key["stage2.block2"]);
}

TEST_CASE("fit_overhead recovers the terms of synthetic calibration networks exactly", "[predict]") {
  // measured = 1.3 x sum + 0.05 + 0.004 x units, on points of varied sums and unit counts.
  std::vector<CalibrationPoint> points;
  const std::vector<std::pair<double, int>> xs = {{0.9, 18}, {1.8, 25}, {2.5, 26}, {4.0, 33}, {0.7, 16}, {6.0, 34}};
  for (const auto& [sum, units] : xs) points.push_back({1.3 * sum + 0.05 + 0.004 * units, sum, units});
  const OverheadFit f = fit_overhead(points);
  CHECK(f.terms == 3);
  CHECK(f.scale == Approx(1.3).epsilon(1e-9));
  CHECK(f.constant == Approx(0.05).epsilon(1e-7));
  CHECK(f.per_unit == Approx(0.004).epsilon(1e-7));
  CHECK(f.residual_sd == Approx(0).margin(1e-9));
  CHECK(f.networks == 6);
  // Three points: constant and per-unit, scale 1.
  const std::vector<CalibrationPoint> three = {{1.0 + 0.1 + 0.01 * 18, 1.0, 18}, {2.0 + 0.1 + 0.01 * 25, 2.0, 25},
                                               {3.0 + 0.1 + 0.01 * 30, 3.0, 30}};
  const OverheadFit g = fit_overhead(three);
  CHECK(g.terms == 2);
  CHECK(g.scale == 1);
  CHECK(g.constant == Approx(0.1).epsilon(1e-9));
  CHECK(g.per_unit == Approx(0.01).epsilon(1e-9));
  // One point: the constant alone; none: an error.
  const OverheadFit h = fit_overhead({{1.0, 0.9, 18}});
  CHECK(h.terms == 1);
  CHECK(h.constant == Approx(0.1));
  CHECK(h.residual_sd == 0);
  CHECK_THROWS_AS(fit_overhead({}), Error);
  // Points that cannot tell the terms apart (one unit count, sums proportional) fall back to fewer.
  const OverheadFit same = fit_overhead({{1.1, 1, 5}, {2.1, 2, 5}, {3.1, 3, 5}, {4.1, 4, 5}, {5.1, 5, 5}});
  CHECK(same.terms < 3);
  // A residual: log(measured / predicted) spread with the terms' degrees of freedom taken off.
  const OverheadFit noisy = fit_overhead({{1.0 * 1.02, 0.9, 18}, {1.0 / 1.02, 0.9, 18}});
  CHECK(noisy.terms == 1);
  CHECK(noisy.residual_sd == Approx(std::sqrt(2 * std::pow(std::log(1.02), 2) / 1)).epsilon(1e-3));
}

TEST_CASE("fit_overhead minimizes the relative residuals, so small networks count as much as large ones", "[predict]") {
  // Calibration networks from 0.3x to 8x the reference that no three-term line fits exactly.
  const std::vector<CalibrationPoint> points = {{0.31, 0.25, 14}, {0.62, 0.5, 16}, {1.0, 0.9, 18}, {1.7, 1.6, 25},
                                                {2.2, 1.9, 30},   {3.1, 2.7, 26},  {5.3, 4.6, 34}, {8.4, 8.1, 40}};
  const OverheadFit f = fit_overhead(points);
  REQUIRE(f.terms == 3);
  auto relative_ss = [&](double scale, double constant, double per_unit) {
    double ss = 0;
    for (const auto& p : points) ss += std::pow((scale * p.unit_sum + constant + per_unit * p.units) / p.measured_rel - 1, 2);
    return ss;
  };
  const double best = relative_ss(f.scale, f.constant, f.per_unit);
  // Any step away from the fit in any term makes the sum of squared relative residuals larger...
  for (double d : {1e-3, -1e-3}) {
    CHECK(relative_ss(f.scale + d, f.constant, f.per_unit) > best);
    CHECK(relative_ss(f.scale, f.constant + d, f.per_unit) > best);
    CHECK(relative_ss(f.scale, f.constant, f.per_unit + d / 10) > best);
  }
  // ... while plain least squares (absolute residuals) leaves the smallest network further off.
  auto smallest_error = [&](double scale, double constant, double per_unit) {
    const auto& p = points.front();
    return std::fabs((scale * p.unit_sum + constant + per_unit * p.units) / p.measured_rel - 1);
  };
  double a[3][4] = {};
  for (const auto& p : points) {
    const double x[3] = {1.0, static_cast<double>(p.units), p.unit_sum};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) a[i][j] += x[i] * x[j];
      a[i][3] += x[i] * p.measured_rel;
    }
  }
  for (int c = 0; c < 3; ++c)
    for (int r = 0; r < 3; ++r) {
      if (r == c) continue;
      const double m = a[r][c] / a[c][c];
      for (int k = c; k < 4; ++k) a[r][k] -= m * a[c][k];
    }
  const double plain_constant = a[0][3] / a[0][0], plain_per_unit = a[1][3] / a[1][1], plain_scale = a[2][3] / a[2][2];
  CHECK(relative_ss(plain_scale, plain_constant, plain_per_unit) > best);
  CHECK(smallest_error(f.scale, f.constant, f.per_unit) < smallest_error(plain_scale, plain_constant, plain_per_unit));
}

TEST_CASE("predict_latency on a synthetic table: the sum, the overhead and the interval", "[predict]") {
  const LatencyTable t = synthetic_table();
  const std::vector<std::string> names = {"stem", "stage1.block1", "stage1.block2", "head"};
  const std::vector<std::string> keys = {"00000000000000a1", "00000000000000b2", "00000000000000b2", "00000000000000c3"};
  const Prediction p = predict_latency(names, keys, t);
  REQUIRE(p.ok());
  CHECK(p.unit_sum == Approx(1.2));
  CHECK(p.overhead == Approx(0.05));  // residual sd 0, per unit 0
  CHECK(p.rel.estimate == Approx(1.25));
  // Half-width: the units' half-widths summed (0.01 + 0.02 + 0.02 + 0), no fit spread.
  CHECK(p.rel.low == Approx(1.20));
  CHECK(p.rel.high == Approx(1.30));
  REQUIRE(p.units.size() == 4);
  CHECK(p.units[2].latency->name == "stage1.block1");  // where the table first saw it
  // With a scale, a per-unit term and a residual spread (t at 6 - 3 = 3 degrees of freedom).
  LatencyTable u = t;
  u.overhead = {1.5, 0.1, 0.02, 3, 0.03, 6};
  const Prediction q = predict_latency(names, keys, u);
  const double estimate = 1.5 * 1.2 + 0.1 + 0.02 * 4;
  CHECK(q.rel.estimate == Approx(estimate));
  const double half = std::hypot(1.5 * 0.05, t_quantile_95(3) * 0.03 * estimate);
  CHECK(q.rel.high - q.rel.estimate == Approx(half));
  CHECK(q.rel.estimate - q.rel.low == Approx(half));
  // A unit the table lacks: no estimate, counted.
  const Prediction r = predict_latency({"stem", "x"}, {"00000000000000a1", "00000000000000ff"}, t);
  CHECK_FALSE(r.ok());
  CHECK(r.missing == 1);
  CHECK_THROWS_AS(predict_latency({"stem"}, {}, t), Error);
}

TEST_CASE("fit_anchor_map carries latencies measured now into the table's state", "[predict]") {
  std::vector<std::pair<double, double>> logs;
  for (double x : {-4.0, -3.0, -2.0, -1.0, 0.0}) logs.emplace_back(x, 0.1 + 1.2 * x);
  const AnchorMap m = fit_anchor_map(logs);
  CHECK(m.offset == Approx(0.1));
  CHECK(m.slope == Approx(1.2));
  CHECK(m.to_table(std::exp(0.1 + 1.2 * -2.5)) == Approx(std::exp(-2.5)));
  // Three anchors: a factor only (slope 1, offset the mean difference).
  const AnchorMap f = fit_anchor_map({{-3, -2.9}, {-2, -1.9}, {-1, -0.8}});
  CHECK(f.slope == 1);
  CHECK(f.offset == Approx((0.1 + 0.1 + 0.2) / 3));
  // No anchors: the identity; an implausible slope: a factor.
  CHECK(fit_anchor_map({}).to_table(0.25) == Approx(0.25));
  std::vector<std::pair<double, double>> steep;
  for (double x : {-4.0, -3.0, -2.0, -1.0}) steep.emplace_back(x, 3 * x);
  CHECK(fit_anchor_map(steep).slope == 1);
}

TEST_CASE("latency table files: round trip, and every kind of damage is named", "[predict]") {
  const LatencyTable t = synthetic_table();
  const std::string text = format_latency_table(t);
  CHECK(is_latency_table_text(text));
  const LatencyTable back = parse_latency_table(text, "t.tsv");
  CHECK(format_latency_table(back) == text);
  CHECK(back.key.text() == t.key.text());
  CHECK(back.units.size() == 3);
  CHECK(back.units.at("00000000000000b2").rel.high == 0.32);
  auto damaged = [&](const std::string& from, const std::string& to, const std::string& message) {
    std::string bad = text;
    const auto at = bad.find(from);
    REQUIRE(at != std::string::npos);
    bad.replace(at, from.size(), to);
    try {
      parse_latency_table(bad, "t.tsv");
      FAIL("parsed: " << bad);
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(message) != std::string::npos);
      CHECK(std::string(e.what()).rfind("t.tsv", 0) == 0);
    }
  };
  damaged("end\t3\n", "", "truncated");
  damaged("end\t3", "end\t4", "says it has 4");
  damaged("\t0.3\t", "\tx\t", "'x' is not a number");
  damaged("00000000000000b2", "00000000000000a1", "appears twice");
  damaged("00000000000000c3", "zz", "not 16 hex digits");
  damaged("\t0.5\t0.5\t0.5\t", "\t0.5\t0.6\t0.5\t", "low <= rel <= high");
  damaged("reference_ms\t4", "reference_ms\t-4", "greater than 0");
  damaged("stage1.block1", "stage1 block1", "not a plain name");
  damaged("key\t", "kee\t", "unknown line 'kee'");
  damaged("# effscale latency table v1", "# some other file", "not an effscale latency table");
  damaged("end\t3\n", "end\t3\nunit\t1\n", "after the 'end' line");
  CHECK_FALSE(is_latency_table_text("alpha,beta,gamma\n"));
}

TEST_CASE("the default table path follows XDG_CACHE_HOME, then HOME, and depends on the key", "[predict]") {
  SearchKey a, b;
  a.fields = {{"cpu", "X"}, {"threads", "1"}};
  b.fields = {{"cpu", "X"}, {"threads", "2"}};
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  const std::string pa = default_latency_table_path(a, env({{"XDG_CACHE_HOME", "/c"}, {"HOME", "/h"}}));
  CHECK(pa.rfind("/c/effscale/latency-", 0) == 0);
  CHECK(pa.size() == std::string("/c/effscale/latency-").size() + 16 + 4);
  CHECK(default_latency_table_path(a, env({{"HOME", "/h"}})).rfind("/h/.cache/effscale/latency-", 0) == 0);
  CHECK(default_latency_table_path(b, env({{"XDG_CACHE_HOME", "/c"}})) != pa);
  // A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
  CHECK(default_latency_table_path(a, env({{"XDG_CACHE_HOME", "rel"}, {"HOME", "/h"}})).rfind("/h/", 0) == 0);
  CHECK_THROWS_WITH(default_latency_table_path(a, env({})), Catch::Contains("--latency-table"));
}

TEST_CASE("predict: the table is measured once, reused, rebuilt for another machine or when corrupt", "[predict][cli]") {
  test::TempDir dir;
  SimulatedMachine simulated;
  const std::string base = test::tiny_baseline(dir);
  const std::string table = dir.file("table.tsv");
  const std::vector<std::string> common = {"predict", "--baseline", base, "--latency-table", table, "--threads", "1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  // First run: every unit and the calibration networks are measured; predictions hold on a machine
  // whose networks are exactly the sum of their units.
  const auto first = predict_json(with({"base", "--phi", "1,2", "--width", "1.3"}));
  const int units = first["units_measured"].get<int>();
  CHECK(units > 10);
  CHECK(first["table_units"].get<int>() == units);
  for (const auto& m : first["models"]) {
    INFO(m.dump());
    CHECK(std::fabs(m["error"].get<double>()) < 0.05);
    CHECK(m["predicted_low"].get<double>() <= m["predicted_rel"].get<double>());
  }
  const std::string text = test::read_file(table);
  CHECK(is_latency_table_text(text));
  // Second run, same models: nothing new to measure (the calibration networks are timed again).
  const auto second = predict_json(with({"base", "--phi", "1,2", "--width", "1.3"}));
  CHECK(second["units_measured"].get<int>() == 0);
  CHECK(second["table_units"].get<int>() == units);
  // A model with new shapes: only its new units are measured.
  const auto third = predict_json(with({"--phi", "3", "--no-measure", "--no-recalibrate"}));
  CHECK(third["units_measured"].get<int>() > 0);
  CHECK(third["units_measured"].get<int>() < units);
  CHECK(third["anchors"].get<int>() >= 4);  // units already in the table, timed again beside the new ones
  CHECK(third["models"][0]["measured_rel"].is_null());
  // --no-measure --no-recalibrate with every unit cached measures nothing and leaves the file as it is.
  const std::string before = test::read_file(table);
  const auto cached = predict_json(with({"--phi", "3", "--no-measure", "--no-recalibrate"}));
  CHECK(cached["units_measured"].get<int>() == 0);
  CHECK(test::read_file(table) == before);

  // Another CPU or oneDNN version: the table is rebuilt, and the run says why.
  for (const char* field : {"cpu=", "onednn="}) {
    std::string other = test::read_file(table);
    const auto at = other.find(field);
    REQUIRE(at != std::string::npos);
    other.insert(at + std::string(field).size(), "Other ");
    dir.write("table.tsv", other);
    const auto r = test::run(with({"base", "--no-measure"}));
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("rebuilt the latency table: it was measured for another setting") != std::string::npos);
    CHECK(r.out.find(std::string(field).substr(0, std::string(field).size() - 1) + ":") != std::string::npos);
    CHECK(test::read_file(table).find("Other ") == std::string::npos);
  }
  // Other threads: another key, so the same file is rebuilt too.
  {
    auto args = with({"base", "--no-measure"});
    args[6] = "2";
    const auto r = test::run(args);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("threads: 2 vs 1") != std::string::npos);
  }
  // A corrupt (truncated) table: rebuilt, with the reason.
  const std::string good = test::read_file(table);
  dir.write("table.tsv", good.substr(0, good.size() / 2));
  const auto r = test::run(with({"base", "--no-measure"}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("rebuilt the latency table: it is unreadable") != std::string::npos);
  CHECK_NOTHROW(parse_latency_table(test::read_file(table), "table.tsv"));
  // A file that is not a table is never replaced.
  dir.write("notes.txt", "my notes\n");
  test::expect_error({"predict", "--baseline", base, "--latency-table", dir.file("notes.txt"), "--no-measure"}, 2,
                     "is not an effscale latency table");
  CHECK(test::read_file(dir.file("notes.txt")) == "my notes\n");
}

TEST_CASE("predict: the default table goes to $XDG_CACHE_HOME/effscale", "[predict][cli]") {
  test::TempDir dir;
  SimulatedMachine simulated;
  ::setenv("XDG_CACHE_HOME", dir.path().c_str(), 1);
  const auto r = test::run({"predict", "--baseline", test::tiny_baseline(dir), "--threads", "1", "--no-measure"});
  ::unsetenv("XDG_CACHE_HOME");
  INFO(r.err);
  REQUIRE(r.status == 0);
  std::vector<std::string> tables;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "effscale")) tables.push_back(e.path().string());
  REQUIRE(tables.size() == 1);
  CHECK(tables[0].find("/effscale/latency-") != std::string::npos);
  CHECK(r.out.find(tables[0]) != std::string::npos);  // the path is shown
}

TEST_CASE("search --latency predicted ranks by the table, --verify measures the top, none is --no-latency",
          "[predict][search][cli]") {
  test::TempDir dir;
  SimulatedMachine simulated;
  const std::string base = test::tiny_baseline(dir);
  const auto grid = test::tiny_grid(base);
  const auto r = test::run(predicted_search(dir, base, {"--verify", "3", "--runs", "12", "--output", dir.file("p.csv")}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("verified: top 3 networks") != std::string::npos);
  const std::string report = test::read_file(dir.file("p.csv"));
  CHECK(report.find("latency=predicted") != std::string::npos);
  CHECK(report.find("# timing: latency predicted from the unit latency table") != std::string::npos);
  int verified = 0;
  for (size_t at = report.find("# verified: measured rank"); at != std::string::npos;
       at = report.find("# verified: measured rank", at + 1))
    ++verified;
  CHECK(verified == 3);
  // The report reads back and validates (export --from-report takes its winner).
  const auto exported = test::run({"export", "--from-report", dir.file("p.csv"), "--baseline", base, "--format", "json"});
  INFO(exported.err);
  CHECK(exported.status == 0);
  // Every ok row has a predicted latency; the ranking follows it.
  const auto rows = test::report_rows(dir.file("p.csv"));
  REQUIRE(rows.rows.size() == 11);
  double last = 0;
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    const double rel = std::stod(rows.at(i, "rel_latency"));
    CHECK(rel >= last);
    last = rel;
  }
  // --latency none is --no-latency.
  std::vector<std::string> none = {"search", "--format", "csv"}, old = {"search", "--format", "csv"};
  none.insert(none.end(), grid.begin(), grid.end());
  old.insert(old.end(), grid.begin(), grid.end());
  none.insert(none.end(), {"--latency", "none", "--output", dir.file("n.csv")});
  old.insert(old.end(), {"--no-latency", "--output", dir.file("o.csv")});
  const auto a = test::run(none), b = test::run(old);
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  CHECK(a.out == b.out);
  test::expect_error({"search", "--latency", "guessed"}, 2, "expected measured, predicted or none");
  test::expect_error({"search", "--verify", "3"}, 2, "goes with --latency predicted");
  test::expect_error({"search", "--latency", "measured", "--latency-table", "x"}, 2, "goes with --latency predicted");
  test::expect_error({"search", "--no-latency", "--latency", "predicted"}, 2, "contradict");
  test::expect_error({"predict", "--units", "--no-measure"}, 2, "drop --no-measure");
}

TEST_CASE("search --phi 1,2: triples ranked by the geometric mean of their relative latency over the family",
          "[predict][search][cli]") {
  test::TempDir dir;
  SimulatedMachine simulated;
  const std::string base = test::tiny_baseline(dir);
  const auto r = test::run(predicted_search(dir, base, {"--phi", "1,2", "--output", dir.file("family.csv")}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("11 triples ranked by the geometric mean over phi 1, 2") != std::string::npos);
  const auto rows = test::report_rows(dir.file("family.csv"));
  REQUIRE(rows.rows.size() == 11);
  double last = 0;
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    const double g = std::stod(rows.at(i, "geomean_rel"));
    const double a = std::stod(rows.at(i, "rel_latency_phi1")), b = std::stod(rows.at(i, "rel_latency_phi2"));
    CHECK(g == Approx(std::sqrt(a * b)).epsilon(1e-9));
    CHECK(b > a);  // phi 2 is the bigger model
    CHECK(g >= last);
    last = g;
    CHECK(rows.at(i, "status") == "ok");
  }
  CHECK(rows.at(0, "rank") == "1");
  // The options that a family search cannot honour are refused.
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"search", "--phi", "1,2", "--latency", "predicted"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  test::expect_error({"search", "--phi", "1,1"}, 2, "listed twice");
  test::expect_error(with({"--plot", dir.file("p.svg"), "--latency-table", dir.file("t.tsv")}), 2, "--plot");
  test::expect_error({"search", "--phi", "1,2", "--latency", "none", "--output", dir.file("x.csv")}, 2,
                     "geometric mean of their relative latency");
}

TEST_CASE("network_id is FNV-1a over every field's 8 bytes (its fast path changes no id)", "[predict]") {
  auto plain = [](const Graph& g) {  // the definition, byte by byte
    std::uint64_t h = 1469598103934665603ull;
    auto add = [&](std::int64_t v) {
      auto u = static_cast<std::uint64_t>(v);
      for (int i = 0; i < 8; ++i, u >>= 8) {
        h ^= u & 0xff;
        h *= 1099511628211ull;
      }
    };
    add(static_cast<std::int64_t>(g.layers.size()));
    for (const Layer& l : g.layers)
      for (std::int64_t v : {std::int64_t(l.kind), std::int64_t(l.role), std::int64_t(l.input), std::int64_t(l.gate),
                             std::int64_t(l.residual), std::int64_t(l.output), std::int64_t(l.in_c), std::int64_t(l.in_h),
                             std::int64_t(l.in_w), std::int64_t(l.out_c), std::int64_t(l.out_h), std::int64_t(l.out_w),
                             std::int64_t(l.kernel), std::int64_t(l.stride), std::int64_t(l.groups),
                             std::int64_t(l.pad_top), std::int64_t(l.pad_left), std::int64_t(l.pad_bottom),
                             std::int64_t(l.pad_right), std::int64_t(l.activation), std::int64_t(l.batch_norm),
                             std::int64_t(l.bias)})
        add(v);
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
    return std::string(text);
  };
  for (const char* name : {"efficientnet-b0", "mobilenet-v2"}) {
    const NetworkSpec base = builtin_baseline(name);
    for (const ScaleFactors f : {ScaleFactors{1, 1, 224}, ScaleFactors{1.4, 1.8, 380}, ScaleFactors{0.25, 0.5, 97}}) {
      const Graph g = expand(scale(base, f));
      CHECK(network_id(g) == plain(g));
      for (const auto& u : split_units(g)) CHECK(u.key == plain(u.graph));
    }
  }
  Graph odd;
  odd.tensors = {{3, 8, 8, -1, 0}, {1 << 20, 1, 1, 0, -1}};
  Layer l;
  l.input = 0;
  l.output = 1;
  l.gate = -1;
  l.in_c = 0x7fffffff;
  l.out_c = 1 << 20;
  odd.layers = {l};
  CHECK(network_id(odd) == plain(odd));
}
