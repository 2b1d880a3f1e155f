#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <set>

#include "test_util.hpp"
#include "text.hpp"

using namespace effscale;
using effscale::test::run;

namespace {

struct BadInput {
  std::vector<std::string> args;
  int status;
  const char* message;
};

}  // namespace

TEST_CASE("table --format csv: B0-B7 with exact integers", "[cli]") {
  const auto r = run({"table", "--format", "csv"});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() == 8);
  CHECK(csv.header[0] == "model");
  CHECK(csv.header[1] == "width");
  CHECK(csv.header[2] == "depth");
  CHECK(csv.header[3] == "resolution");
  CHECK(csv.header[4] == "params");
  CHECK(csv.header[5] == "macs");
  CHECK(csv.at(0, "model") == "b0");
  CHECK(csv.at(0, "params") == "5288548");  // torchvision / lukemelas EfficientNet-B0
  CHECK(csv.at(7, "model") == "b7");
  CHECK(csv.at(7, "resolution") == "600");
  CHECK(csv.at(7, "paper_params") == "66000000");  // Tan & Le 2019 Table 2
}

TEST_CASE("table --format json parses and carries the definitions", "[cli]") {
  const auto r = run({"table", "--format", "json", "--models", "b0,b3,l2", "--phi", "1"});
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["models"].size() == 4);
  CHECK(j["models"][0]["params"] == 5288548);
  CHECK(j["models"][2]["model"] == "l2");
  CHECK(j["models"][3]["model"] == "phi1");
  CHECK(j["models"][3]["resolution"] == 258);
  CHECK(j["models"][3]["kind"] == "formula");
  CHECK(j["flops_definition"].get<std::string>().find("2 x MACs") != std::string::npos);
}

TEST_CASE("table: --phi adds formula models beside the official ones", "[cli]") {
  const auto r = run({"table", "--phi", "0,1,2", "--format", "csv"});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() == 11);
  CHECK(csv.at(8, "model") == "phi0");
  CHECK(csv.at(8, "params") == csv.at(0, "params"));
  CHECK(csv.at(10, "width") == "1.2100000000000002");
}

TEST_CASE("table: the terminal format uses human units", "[cli]") {
  const auto r = run({"table"});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("5.29M") != std::string::npos);
  CHECK(r.out.find("0.386B") != std::string::npos);
  CHECK(r.out.find("Tan & Le 2019") != std::string::npos);
}

TEST_CASE("table: custom model and a user baseline file", "[cli]") {
  test::TempDir dir;
  const auto path = dir.write("net.txt", effscale::test::read_file(std::string(EFFSCALE_SOURCE_DIR) +
                                                                  "/tests/data/tiny_baseline.txt"));
  const auto r = run({"table", "--baseline", path, "--width", "2", "--depth", "2", "--resolution", "64",
                      "--format", "csv"});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() == 1);
  CHECK(csv.at(0, "model") == "custom");
  CHECK(csv.at(0, "baseline") == "tiny");
}

TEST_CASE("describe lists every layer and the MAC split", "[cli]") {
  const auto r = run({"describe", "b0"});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("stage6.block4.project") != std::string::npos);
  CHECK(r.out.find("MACs by layer type: depthwise") != std::string::npos);
  const auto csv_run = run({"describe", "b0", "--format", "csv"});
  REQUIRE(csv_run.status == 0);
  const auto csv = test::parse(csv_run.out);
  CHECK(csv.rows.size() == 115);
  std::int64_t macs = 0;
  for (size_t i = 0; i < csv.rows.size(); ++i) macs += std::stoll(csv.at(i, "macs"));
  CHECK(macs == 385814752);
  const auto json_run = run({"describe", "--phi", "1", "--format", "json"});
  REQUIRE(json_run.status == 0);
  const auto j = nlohmann::json::parse(json_run.out);
  CHECK(j["resolution"] == 258);
  CHECK(j["stages"].size() == 9);
}

TEST_CASE("baselines prints a file that --baseline reads back", "[cli]") {
  test::TempDir dir;
  const auto printed = run({"baselines", "mobilenet-v2"});
  REQUIRE(printed.status == 0);
  const auto path = dir.write("mb.txt", printed.out);
  const auto from_file = run({"table", "--baseline", path, "--models", "b0", "--format", "csv"});
  const auto builtin = run({"table", "--baseline", "mobilenet-v2", "--models", "b0", "--format", "csv"});
  REQUIRE(from_file.status == 0);
  CHECK(test::parse(from_file.out).at(0, "params") == test::parse(builtin.out).at(0, "params"));
}

TEST_CASE("output files are written the file atomically and prints nothing on stdout", "[cli]") {
  test::TempDir dir;
  const auto path = dir.file("t.csv");
  const auto r = run({"table", "--format", "csv", "--output", path});
  REQUIRE(r.status == 0);
  CHECK(r.out.empty());
  CHECK(test::parse(test::read_file(path)).rows.size() == 8);
  CHECK(dir.entries().size() == 1);  // no temporary file left behind
}

TEST_CASE("help and version", "[cli]") {
  auto r = run({"--help"});
  CHECK(r.status == 0);
  CHECK(r.out.find("table") != std::string::npos);
  r = run({"table", "--help"});
  CHECK(r.status == 0);
  CHECK(r.out.find("--phi") != std::string::npos);
  CHECK(r.out.find("not exactly") != std::string::npos);
  r = run({"help", "describe"});
  CHECK(r.status == 0);
  CHECK(r.out.find("effscale describe") != std::string::npos);
  CHECK(run({"--version"}).status == 0);
  CHECK(run({}).status == 2);
}

TEST_CASE("bad input: one error line, the right exit status, nothing written", "[cli]") {
  test::TempDir dir;
  const auto bad_file = dir.write("bad.txt", "stem 32\nr1_k3_s11_e1_i32_o16\nr2_k3_s22_e6_i16_o24_se0.2x5\nhead 1280\n");
  const auto out = dir.file("out.csv");
  const std::vector<BadInput> cases = {
      {{"tabel"}, 2, "unknown command 'tabel', did you mean 'table'?"},
      {{"table", "--models", "b9"}, 2, "unknown model 'b9'"},
      {{"table", "--models", "b1,,b2"}, 2, "--models: 'b1,,b2' has an empty item"},
      {{"table", "--baseline", "resnet50"}, 2, "unknown baseline 'resnet50'"},
      {{"table", "--baseline", bad_file}, 2, "bad.txt:3: block string 'r2_k3_s22_e6_i16_o24_se0.2x5': field 7"},
      {{"table", "--baseline", dir.path().string()}, 2, "is a directory"},
      {{"table", "--width", "abc"}, 2, "--width: 'abc' is not a finite number"},
      {{"table", "--width", "nan"}, 2, "--width: 'nan' is not a finite number"},
      {{"table", "--width", "0"}, 2, "width multiplier 0 is out of range (0, 16]"},
      {{"table", "--width=-1"}, 2, "width multiplier -1 is out of range"},
      {{"table", "--depth", "0"}, 2, "depth multiplier 0 is out of range"},
      {{"table", "--resolution", "15"}, 2, "resolution 15 is out of range [16, 8192]"},
      {{"table", "--resolution", "224.5"}, 2, "--resolution: '224.5' is not an integer"},
      {{"table", "--phi", "1,x"}, 2, "--phi: 'x' is not a finite number"},
      {{"table", "--phi", "40"}, 2, "--phi 40 is out of range"},
      {{"table", "--alpha", "0.5", "--phi", "1"}, 2, "--alpha 0.5 is out of range [1, 16] (compound scaling grows every dimension)"},
      {{"table", "--format", "xml"}, 2, "--format 'xml' is not one of: table, csv, json"},
      {{"table", "--fromat", "csv"}, 2, "unknown option '--fromat' for 'effscale table', did you mean '--format'?"},
      {{"table", "extra"}, 2, "unexpected argument 'extra'"},
      {{"table", "--models"}, 2, "models"},
      {{"table", "--max-memory", "10M", "--models", "b7"}, 1, "model b7 at batch 1 needs an estimated"},
      {{"table", "--max-memory", "lots"}, 2, "--max-memory: 'lots' is not a positive size"},
      {{"table", "--width", "16", "--resolution", "8192", "--format", "csv", "--output", out}, 1, "over the limit"},
      {{"table", "--output", dir.path().string()}, 2, "is a directory"},
      {{"table", "--output", "/nonexistent-dir/x.csv"}, 1, "cannot write '/nonexistent-dir/x.csv'"},
      {{"describe", "b0", "b1"}, 2, "describe shows one model"},
      {{"describe", "b0", "--phi", "1"}, 2, "describe shows one model"},
      {{"baselines", "nope"}, 2, "unknown baseline 'nope'"},
  };
  for (const auto& c : cases) test::expect_error(c.args, c.status, c.message);
  const auto left = dir.entries();
  CHECK(left == std::vector<std::string>{"bad.txt"});
}

TEST_CASE("an unwritable output leaves the previous report intact", "[cli]") {
  // Unwritable for anyone: a folder made immutable (chattr +i; root ignores permission bits).
  test::TempDir dir;
  const auto folder = dir.path() / "locked";
  std::filesystem::create_directory(folder);
  const auto path = (folder / "t.csv").string();
  std::ofstream(path) << "previous\n";
  if (std::system(("chattr +i '" + folder.string() + "' 2>/dev/null").c_str()) != 0)
    FAIL("cannot run here: chattr +i is not supported on " << dir.path() << " (needs root and an ext4-like filesystem)");
  const auto r = run({"table", "--format", "csv", "--output", path});
  std::system(("chattr -i '" + folder.string() + "'").c_str());
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot write '" + path + "'") != std::string::npos);
  CHECK(test::read_file(path) == "previous\n");
  CHECK(std::distance(std::filesystem::directory_iterator(folder), std::filesystem::directory_iterator{}) == 1);
}

TEST_CASE("bench --format csv prints one parseable row per model", "[cli][onednn]") {
  const auto r = run({"bench", "b0", "--format", "csv", "--runs", "3", "--min-time", "0", "--warmup", "1"});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() == 1);
  for (const char* column : {"model", "resolution", "batch", "threads", "macs", "median_ms", "p10_ms", "p90_ms",
                             "runs", "gmacs_per_s"}) {
    CHECK(std::find(csv.header.begin(), csv.header.end(), column) != csv.header.end());
  }
  CHECK(csv.at(0, "macs") == "385814752");
  CHECK(std::stod(csv.at(0, "median_ms")) > 0);
  CHECK(std::stoi(csv.at(0, "runs")) >= 3);
  CHECK(std::stod(csv.at(0, "p10_ms")) <= std::stod(csv.at(0, "p90_ms")));
}

TEST_CASE("bench times several models next to the baseline: relative latency with intervals", "[cli][onednn]") {
  test::TempDir dir;
  const auto tiny = test::tiny_baseline(dir);
  const auto r = run({"bench", "base", "--phi", "1,2", "--baseline", tiny, "--runs", "6", "--min-time", "0", "--warmup", "1",
                      "--format", "csv"});
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() == 3);
  // The baseline is the reference itself: relative latency exactly 1.
  CHECK(csv.at(0, "model") == "base");
  CHECK(csv.at(0, "rel_latency") == "1");
  CHECK(csv.at(0, "rel_ci_low") == "1");
  for (size_t i = 1; i < 3; ++i) {
    const double rel = std::stod(csv.at(i, "rel_latency"));
    CHECK(rel > 0);
    CHECK(std::stod(csv.at(i, "rel_ci_low")) <= rel);
    CHECK(rel <= std::stod(csv.at(i, "rel_ci_high")));
    // Absolute latency is the relative one times the baseline's median.
    CHECK(std::stod(csv.at(i, "median_ms")) == Approx(rel * std::stod(csv.at(0, "median_ms"))).epsilon(1e-9));
    CHECK(std::stoi(csv.at(i, "runs")) >= 6);
  }
}

TEST_CASE("bench --layers breaks the time down by layer kind", "[cli][onednn]") {
  const auto r = run({"bench", "--width", "0.5", "--resolution", "96", "--layers", "--runs", "3", "--min-time", "0",
                      "--format", "json", "--threads", "1"});
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["models"].size() == 1);
  CHECK(j["threads"] == 1);
  std::set<std::string> groups;
  double share = 0;
  for (const auto& row : j["profile"]) {
    groups.insert(row["group"].get<std::string>());
    share += row["share"].get<double>();
  }
  CHECK(groups == std::set<std::string>{"stem", "pointwise conv", "depthwise conv", "squeeze-excite", "head"});
  CHECK(share == Approx(1.0));
  // Every primitive, in execution order: the stem first, the classifier last; their times add up
  // to the groups'.
  const auto& primitives = j["primitives"];
  REQUIRE(primitives.size() >= 20);
  CHECK(primitives.front()["layer"] == "stem");
  CHECK(primitives.front()["group"] == "stem");
  CHECK(primitives.back()["group"] == "head");
  double primitive_ms = 0, group_ms = 0;
  std::int64_t macs = 0;
  for (const auto& row : primitives) {
    CHECK(row["model"] == j["models"][0]["model"]);
    CHECK(!row["impl"].get<std::string>().empty());
    primitive_ms += row["ms"].get<double>();
    macs += row["macs"].get<std::int64_t>();
  }
  for (const auto& row : j["profile"]) group_ms += row["ms"].get<double>();
  CHECK(primitive_ms == Approx(group_ms));
  CHECK(macs > 0);
  const auto text = run({"bench", "--width", "0.5", "--resolution", "96", "--layers", "--runs", "2", "--min-time", "0"});
  REQUIRE(text.status == 0);
  CHECK(text.out.find("where the time goes") != std::string::npos);
  CHECK(text.out.find("oneDNN 2.") != std::string::npos);
  CHECK(text.out.find("ISA ") != std::string::npos);
}

TEST_CASE("bench: bad input gets one error line", "[cli]") {
  const std::vector<BadInput> cases = {
      {{"bench", "--batch", "0"}, 2, "--batch 0 is out of range [1, 4096]"},
      {{"bench", "--batch", "-3"}, 2, "--batch -3 is out of range"},
      {{"bench", "--threads", "0"}, 2, "--threads 0 is out of range"},
      {{"bench", "--threads", "two"}, 2, "--threads: 'two' is not an integer"},
      {{"bench", "--runs", "0"}, 2, "--runs 0 is out of range"},
      {{"bench", "--min-time", "inf"}, 2, "--min-time: 'inf' is not a finite number"},
      {{"bench", "--layout", "nchw"}, 2, "--layout 'nchw' is not one of: blocked, nhwc"},
      {{"bench", "b7", "--batch", "64", "--max-memory", "1G"}, 1,
       "model b7 at batch 64 needs an estimated"},
      {{"bench", "b0", "zz"}, 2, "unknown model 'zz'"},
  };
  for (const auto& c : cases) test::expect_error(c.args, c.status, c.message);
}
