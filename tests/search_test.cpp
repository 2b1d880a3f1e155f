#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <tinyxml2.h>

#include <set>

#include "error.hpp"
#include "search.hpp"
#include "test_util.hpp"
#include "text.hpp"

using namespace effscale;
using effscale::test::run;

namespace {

std::set<std::tuple<std::string, std::string, std::string>> triples(const test::Csv& csv) {
  std::set<std::tuple<std::string, std::string, std::string>> out;
  for (size_t i = 0; i < csv.rows.size(); ++i) out.insert({csv.at(i, "alpha"), csv.at(i, "beta"), csv.at(i, "gamma")});
  return out;
}

// The CSV part of a report file (its '#' lines dropped).
test::Csv report_rows(const std::string& path) {
  std::string text = test::read_file(path), body;
  for (auto line : split(text, '\n'))
    if (line.substr(0, 1) != "#") body += std::string(line) + "\n";
  return test::parse(body);
}

CandidateResult row(const char* a, const char* b, const char* g, double latency, double mac_ratio, std::int64_t params,
                    std::int64_t activations) {
  CandidateResult r;
  r.candidate.alpha = parse_decimal(a, "a");
  r.candidate.beta = parse_decimal(b, "b");
  r.candidate.gamma = parse_decimal(g, "g");
  r.mac_ratio = mac_ratio;
  r.target_ratio = 2;
  r.mac_error = mac_ratio / 2 - 1;
  r.cost.macs = static_cast<std::int64_t>(mac_ratio * 1e9);
  r.cost.params = params;
  r.cost.activations = activations;
  if (latency > 0) {
    TimingStats t;
    t.median_ms = latency;
    t.runs = 10;
    r.latency = t;
  }
  return r;
}

std::vector<std::string> order(const std::vector<CandidateResult>& rs) {
  std::vector<std::string> names;
  for (const auto& r : rs) names.push_back(r.candidate.alpha.text() + "/" + r.candidate.beta.text() + "/" + r.candidate.gamma.text());
  return names;
}

}  // namespace

TEST_CASE("grid axes are exact decimals", "[search]") {
  const GridAxis a = parse_grid_axis("1.0:2.0:0.05", "alpha");
  CHECK(a.size() == 21);
  CHECK(a.at(3).text() == "1.15");
  CHECK(a.at(3).value() == 1.15);  // the double nearest to 1.15, not 1.0 + 3 * 0.05
  CHECK(a.at(20).text() == "2");
  CHECK(a.spec() == "1:2:0.05");
  const GridAxis b = parse_grid_axis("1:1.5:0.005", "beta");
  CHECK(b.size() == 101);
  CHECK(b.at(1).text() == "1.005");
  const GridAxis single = parse_grid_axis("1.2", "gamma");
  CHECK(single.size() == 1);
  CHECK(single.at(0).text() == "1.2");
  CHECK(parse_grid_axis("1:1.12:0.05", "alpha").size() == 3);  // stop need not lie on the grid
}

TEST_CASE("malformed grids are refused with the reason", "[search]") {
  struct Case { const char* text; const char* message; };
  const Case cases[] = {
      {"1:2", "is not start:stop:step"},
      {"1:2:0", "step 0 must be greater than 0"},
      {"2:1:0.1", "start 2 is greater than stop 1"},
      {"0.5:1.5:0.1", "values must be at least 1"},
      {"1:x:0.1", "'x' is not a plain decimal number"},
      {"1:2:-0.1", "'-0.1' is not a plain decimal number"},
      {"1:2:1e-2", "'1e-2' is not a plain decimal number"},
      {"1:2:0.00001", "more than 4 decimals"},
      {"1:100:0.0001", "values must be at most 16"},
      {"1:16:0.0001", "more than 100,000 values"},
      {"", "is empty"},
      {"1:2:0.1:5", "is not start:stop:step"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK_THROWS_WITH(parse_grid_axis(c.text, "alpha"), Catch::Contains(c.message));
  }
}

TEST_CASE("the constraint filter is exact at the band's edges", "[search]") {
  const GridAxis a = parse_grid_axis("1.9:2.1:0.1", "alpha");
  const GridAxis one = parse_grid_axis("1", "beta");
  // 1.9 and 2.1 are exactly 5% from 2: kept (in doubles |1.9 - 2| / 2 > 0.05).
  auto kept = enumerate_candidates(a, one, one, Constraint{});
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].product == "1.9");
  CHECK(kept[2].product == "2.1");
  Constraint tight;
  tight.tolerance = parse_decimal("0.0499", "t");
  CHECK(enumerate_candidates(a, one, one, tight).size() == 1);
  // The paper's triple: 1.2 * 1.1^2 * 1.15^2 = 1.92027 exactly.
  auto paper = enumerate_candidates(parse_grid_axis("1.2", "a"), parse_grid_axis("1.1", "b"), parse_grid_axis("1.15", "g"), Constraint{});
  REQUIRE(paper.size() == 1);
  CHECK(paper[0].product == "1.92027");
  std::vector<Candidate> nearest;
  CHECK(enumerate_candidates(parse_grid_axis("1:1.1:0.1", "a"), one, one, Constraint{}, &nearest).empty());
  REQUIRE(nearest.size() == 2);
  CHECK(nearest[0].product == "1.1");
}

TEST_CASE("the constraint refuses targets and tolerances that would overflow exact arithmetic", "[search]") {
  // Found by fuzzing (tests/fuzz/corpus/grid/regression-int128-overflow.txt): a tolerance of
  // 99990.99 with 4-decimal axes overflowed the __int128 products.
  const GridAxis a = parse_grid_axis("15.9999:16:0.0001", "alpha");
  Constraint c;
  c.target = parse_decimal("999999.9999", "t", 4);
  c.tolerance = parse_decimal("99990.99", "l", 4);
  CHECK_THROWS_WITH(enumerate_candidates(a, a, a, c), "tolerance 99990.99 is out of range [0, 1]");
  c.tolerance = parse_decimal("1", "l");
  c.target = Decimal{10000000000, 4};  // 1000000.0000: parse_decimal would refuse 7 digits already
  CHECK_THROWS_WITH(enumerate_candidates(a, a, a, c), "target 1000000 is out of range (0, 1000000)");
  c.target = parse_decimal("2.00001", "t");
  CHECK_THROWS_WITH(enumerate_candidates(a, a, a, c), "the target and the tolerance take at most 4 decimals");
  // The largest allowed values still compute exactly: 16^5 = 1048576 is within 100% of 999999.9999.
  c.target = parse_decimal("999999.9999", "t");
  const auto all = enumerate_candidates(parse_grid_axis("16", "a"), parse_grid_axis("16", "b"), parse_grid_axis("16", "g"), c);
  REQUIRE(all.size() == 1);
  CHECK(all[0].product == "1048576");
}

TEST_CASE("each ranking objective orders hand-made rows", "[search]") {
  // a: slow but on target; b: fast with few MACs; c: no latency (failed measurement); d: failed.
  std::vector<CandidateResult> rows = {row("1.2", "1.1", "1.15", 10, 2.0, 300, 50), row("1.1", "1.2", "1.1", 8, 1.6, 200, 90),
                                       row("1.3", "1", "1.2", 0, 2.1, 100, 10), row("1", "1.4", "1", 9, 2.0, 50, 5)};
  rows[3].status = "failed: oneDNN refused";
  ScoreSettings score;
  auto ranked = [&](Objective o) {
    auto copy = rows;
    rank_results(copy, o, score);
    return order(copy);
  };
  // norm-latency = latency * 2 / mac_ratio: a 10, b 10 -> tie broken by (alpha, beta, gamma).
  CHECK(ranked(Objective::kNormLatency) == std::vector<std::string>{"1.1/1.2/1.1", "1.2/1.1/1.15", "1.3/1/1.2", "1/1.4/1"});
  CHECK(ranked(Objective::kLatency) == std::vector<std::string>{"1.1/1.2/1.1", "1.2/1.1/1.15", "1.3/1/1.2", "1/1.4/1"});
  CHECK(ranked(Objective::kMacsError) == std::vector<std::string>{"1.2/1.1/1.15", "1.3/1/1.2", "1.1/1.2/1.1", "1/1.4/1"});
  CHECK(ranked(Objective::kParams) == std::vector<std::string>{"1.3/1/1.2", "1.1/1.2/1.1", "1.2/1.1/1.15", "1/1.4/1"});
  CHECK(ranked(Objective::kActivations) == std::vector<std::string>{"1.3/1/1.2", "1.2/1.1/1.15", "1.1/1.2/1.1", "1/1.4/1"});
  // MnasNet score: top1 * (lat / T)^-0.07 with T = 10 ms; higher is better.
  rows[0].top1 = 0.80;  // (10/10)^-0.07 = 1 -> 0.8
  rows[1].top1 = 0.78;  // 0.78 * 0.8^-0.07 = 0.7922
  score.latency_target_ms = 10;
  CHECK(objective_value(rows[1], Objective::kScore, score).value() == Approx(0.78 * std::pow(0.8, -0.07)));
  CHECK(ranked(Objective::kScore) == std::vector<std::string>{"1.2/1.1/1.15", "1.1/1.2/1.1", "1.3/1/1.2", "1/1.4/1"});
}

TEST_CASE("reports read back what was written", "[search]") {
  std::vector<CandidateResult> rows = {row("1.2", "1.1", "1.15", 10.5, 2.57, 9109994, 13778962),
                                       row("1.05", "1.3", "1.1", 0, 2.1, 100, 10)};
  rows[0].factors = {1.1, 1.2, 258};
  rows[0].candidate.product = "1.92027";
  rows[0].candidate.product_value = 1.92027;
  rows[1].candidate.product = "2.0449";
  rows[1].status = "failed: x, \"quoted\"";
  ReportHeader h;
  h.command = "effscale search";
  h.key.fields = {{"phi", "1"}, {"alpha", "1:2:0.05"}};
  h.baseline_macs = 385814752;
  h.baseline_latency_ms = 3.25;
  const std::string text = format_report(h, rows, Objective::kLatency, {});
  const Report back = parse_report(text, "r.csv");
  CHECK(back.header.key.text() == "phi=1;alpha=1:2:0.05");
  CHECK(back.header.baseline_latency_ms == 3.25);
  REQUIRE(back.results.size() == 2);
  CHECK(back.results[0].candidate.gamma.text() == "1.15");
  CHECK(back.results[0].candidate.product == "1.92027");
  CHECK(back.results[0].latency->median_ms == 10.5);
  CHECK(back.results[0].cost.params == 9109994);
  CHECK(back.results[0].factors.resolution == 258);
  CHECK_FALSE(back.results[1].latency);
  CHECK(back.results[1].status == "failed: x, \"quoted\"");
  CHECK(format_report(back.header, back.results, Objective::kLatency, {}) == text);
  CHECK_THROWS_WITH(parse_report("a,b\n1,2\n", "x.csv"), Catch::Contains("not an effscale search report"));
}

TEST_CASE("search --no-latency lists the paper's triple with its product", "[search][cli]") {
  test::TempDir dir;
  const auto r = run({"search", "--no-latency", "--format", "csv", "--output", dir.file("r.csv")});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  CHECK(csv.rows.size() == 109);
  bool found = false;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    if (csv.at(i, "alpha") == "1.2" && csv.at(i, "beta") == "1.1" && csv.at(i, "gamma") == "1.15") {
      found = true;
      CHECK(std::stod(csv.at(i, "product")) == Approx(1.9203).margin(5e-5));
      CHECK(csv.at(i, "resolution") == "258");
    }
  }
  CHECK(found);
  CHECK(report_rows(dir.file("r.csv")).rows.size() == 109);
}

TEST_CASE("search: a fine grid of 2 million triples without latency", "[search][cli]") {
  test::TempDir dir;
  const auto r = run({"search", "--no-latency", "--alpha", "1:2:0.005", "--beta", "1:1.5:0.005", "--gamma", "1:1.5:0.005",
                      "--format", "json", "--output", dir.file("fine.csv"), "--top", "3"});
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["candidates"].size() == 79232);  // 201 * 101 * 101 = 2,050,401 raw triples
  CHECK(j["candidates"][0]["rank"] == 1);
}

TEST_CASE("search with latency: ranked report; resume measures nothing new", "[search][cli][onednn]") {
  test::TempDir dir;
  const std::vector<std::string> grid = {"search", "--alpha", "1.1:1.3:0.1", "--beta", "1:1.2:0.1", "--gamma", "1.1:1.2:0.05",
                                         "--tolerance", "0.1", "--runs", "2", "--rounds", "2", "--warmup", "0",
                                         "--phi", "0.5", "--format", "csv"};
  auto args = grid;
  args.insert(args.end(), {"--output", dir.file("a.csv"), "--plot", dir.file("a.svg")});
  const auto first = run(args);
  REQUIRE(first.status == 0);
  tinyxml2::XMLDocument svg;
  REQUIRE(svg.LoadFile(dir.file("a.svg").c_str()) == tinyxml2::XML_SUCCESS);
  CHECK(test::read_file(dir.file("a.svg")).find("#1 (") != std::string::npos);  // the winner is marked
  const auto a = report_rows(dir.file("a.csv"));
  REQUIRE(a.rows.size() == 9);
  for (size_t i = 0; i < a.rows.size(); ++i) {
    CHECK(a.at(i, "rank") == std::to_string(i + 1));
    CHECK(std::stod(a.at(i, "latency_ms")) > 0);
    CHECK(a.at(i, "status") == "ok");
    if (i > 0) CHECK(std::stod(a.at(i, "norm_latency_ms")) >= std::stod(a.at(i - 1, "norm_latency_ms")));
  }
  args = grid;
  args.insert(args.end(), {"--output", dir.file("b.csv"), "--resume", dir.file("a.csv")});
  const auto again = run(args);
  REQUIRE(again.status == 0);
  const auto b = report_rows(dir.file("b.csv"));
  CHECK(b.rows == a.rows);  // same latencies: nothing was measured again
  // A different search refuses the report.
  args = grid;
  args.insert(args.end(), {"--output", dir.file("c.csv"), "--resume", dir.file("a.csv"), "--tolerance", "0.2"});
  const auto other = run(args);
  CHECK(other.status == 2);
  CHECK(other.err.find("made by a different search (tolerance: 0.2 vs 0.1") != std::string::npos);
}

TEST_CASE("two shards merged equal the unsharded candidate set", "[search][cli]") {
  test::TempDir dir;
  const std::vector<std::string> base = {"search", "--no-latency", "--alpha", "1:2:0.1", "--format", "csv"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  REQUIRE(run(with({"--output", dir.file("all.csv")})).status == 0);
  REQUIRE(run(with({"--shard", "0/2", "--output", dir.file("s0.csv")})).status == 0);
  REQUIRE(run(with({"--shard", "1/2", "--output", dir.file("s1.csv")})).status == 0);
  const auto merged = run({"merge", dir.file("s0.csv"), dir.file("s1.csv"), "--format", "csv", "--output", dir.file("m.csv")});
  REQUIRE(merged.status == 0);
  const auto all = report_rows(dir.file("all.csv"));
  const auto s0 = report_rows(dir.file("s0.csv"));
  const auto s1 = report_rows(dir.file("s1.csv"));
  CHECK(s0.rows.size() + s1.rows.size() == all.rows.size());
  CHECK(triples(test::parse(merged.out)) == triples(all));
  CHECK(report_rows(dir.file("m.csv")).rows == all.rows);  // same ranking too
  // Reports of different searches are refused.
  REQUIRE(run({"search", "--no-latency", "--alpha", "1:2:0.2", "--output", dir.file("x.csv")}).status == 0);
  const auto refused = run({"merge", dir.file("s0.csv"), dir.file("x.csv")});
  CHECK(refused.status == 2);
  CHECK(refused.err.find("come from different searches (alpha: 1:2:0.1 vs 1:2:0.2)") != std::string::npos);
}

TEST_CASE("search --rank-by score reads the accuracy file", "[search][cli]") {
  test::TempDir dir;
  const auto acc = dir.write("acc.csv", "alpha,beta,gamma,top1\n1.2,1.1,1.15,0.81\n1,1.4,1,0.79\n");
  const auto r = run({"search", "--alpha", "1:1.2:0.2", "--beta", "1.1:1.4:0.3", "--gamma", "1:1.15:0.15", "--tolerance",
                      "0.1", "--accuracy", acc, "--rank-by", "score", "--runs", "2", "--rounds", "1", "--warmup", "0",
                      "--latency-target", "10", "--format", "csv", "--output", dir.file("s.csv")});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() >= 2);
  CHECK(csv.at(0, "top1") != "");
  CHECK(csv.at(1, "top1") != "");
  CHECK(std::stod(csv.at(0, "score")) >= std::stod(csv.at(1, "score")));
  const double expected = std::stod(csv.at(0, "top1")) * std::pow(std::stod(csv.at(0, "latency_ms")) / 10, -0.07);
  CHECK(std::stod(csv.at(0, "score")) == Approx(expected));
}

TEST_CASE("search: bad input gets one line, exit 2, and nothing written", "[search][cli]") {
  test::TempDir dir;
  const auto out = dir.file("r.csv");
  const auto bad_acc = dir.write("acc.csv", "alpha,beta,top1\n1.2,1.1,0.8\n");
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"--alpha", "1:2"}, "--alpha: '1:2' is not start:stop:step"},
      {{"--beta", "1:2:0"}, "--beta: step 0 must be greater than 0"},
      {{"--gamma", "1.5:1:0.1"}, "--gamma: start 1.5 is greater than stop 1"},
      {{"--alpha", "0.8:2:0.1"}, "--alpha: values must be at least 1"},
      {{"--tolerance", "-0.1"}, "--tolerance -0.1 must not be negative"},
      {{"--tolerance", "abc"}, "--tolerance: 'abc' is not a plain decimal number"},
      {{"--tolerance", "2"}, "--tolerance 2 is out of range [0, 1]"},
      {{"--target", "1.00001"}, "--target: '1.00001' has more than 4 decimals"},
      {{"--target", "0"}, "--target must be greater than 0"},
      {{"--target", "50", "--alpha", "1:1.1:0.1", "--beta", "1", "--gamma", "1"},
       "no (alpha, beta, gamma) of the 2 grid triples has alpha*beta^2*gamma^2 within 0.05 of 50; nearest products: 1.1 (1.1, 1, 1), 1 (1, 1, 1)"},
      {{"--accuracy", dir.file("missing.csv"), "--rank-by", "score"}, "cannot read accuracy file"},
      {{"--accuracy", bad_acc, "--rank-by", "score"}, "no 'gamma' column"},
      {{"--rank-by", "score"}, "--rank-by score needs --accuracy FILE"},
      {{"--rank-by", "speed"}, "--rank-by 'speed' is not one of"},
      {{"--rank-by", "latency"}, "--rank-by latency needs latency"},
      {{"--shard", "2/2"}, "--shard: i 2 must be in [0, 2)"},
      {{"--shard", "1-2"}, "--shard '1-2' is not i/n"},
      {{"--shard", "0/0"}, "--shard: n 0 is out of range"},
      {{"--resume", dir.file("nope.csv")}, "cannot read resume report"},
      {{"--resume", bad_acc}, "not an effscale search report"},
      {{"--phi", "nan"}, "--phi: 'nan' is not a finite number"},
      {{"--top", "0"}, "--top 0 is out of range"},
      {{"--plot", dir.file("p.svg")}, "--plot draws latency"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"search", "--no-latency", "--output", out};
    // Drop --no-latency where the case is about latency or score.
    if (std::find(c.args.begin(), c.args.end(), "score") != c.args.end() ||
        std::find(c.args.begin(), c.args.end(), "speed") != c.args.end())
      args = {"search", "--output", out};
    args.insert(args.end(), c.args.begin(), c.args.end());
    test::expect_error(args, 2, c.message);
  }
  auto left = dir.entries();
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"acc.csv"});
}
