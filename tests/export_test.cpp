// effscale export (baseline file, timm / torchvision Python, JSON) and --from-report, through the
// commands a user runs. ONNX export: onnx_test.cpp.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace effscale;

namespace {

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string ok(const std::vector<std::string>& args) {
  const test::CliRun r = test::run(args);
  INFO("effscale " << [&] {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    return joined;
  }() << "\nstderr: " << r.err);
  REQUIRE(r.status == 0);
  return r.out;
}

// A custom baseline in both block-string syntaxes: ReLU6, fractional expansion (4.5 gives a whole
// 108 channels from 24, 2.3 does not and is rounded by make_divisible), a noskip stage, no SE in
// some stages, 10 classes.
const char* kCustom =
    "name custom-net\nresolution 96\nactivation relu6\nstem 24 k3 s2\nds_r1_k3_s1_c16\n"
    "ir_r2_k5_s2_e4.5_c24_se0.25\nr2_k3_s22_e2.3_i24_o40_noskip\nir_r1_k3_s1_e6_c48\nhead 640\nclasses 10\n";

}  // namespace

TEST_CASE("export --format baseline loads back to the same layer list, params and MACs", "[export]") {
  test::TempDir dir;
  const std::string custom = dir.write("custom.txt", kCustom);
  const std::string tiny = test::tiny_baseline(dir);
  // MODEL as every model command takes it (a name, or flags), and the baseline when it is not B0.
  struct Case {
    std::vector<std::string> baseline, model;
  };
  std::vector<Case> cases;
  for (int b = 0; b <= 7; ++b) cases.push_back({{}, {"b" + std::to_string(b)}});
  const std::vector<std::string> mobilenet = {"--baseline", "mobilenet-v2"};
  cases.push_back({mobilenet, {"base"}});
  cases.push_back({mobilenet, {"--width", "0.75", "--depth", "1.3", "--resolution", "192"}});
  cases.push_back({mobilenet, {"--phi", "2"}});
  cases.push_back({{"--baseline", custom}, {"--width", "1.3", "--depth", "1.5", "--resolution", "128"}});
  cases.push_back({{"--baseline", custom}, {"--phi", "-1"}});
  cases.push_back({{"--baseline", tiny}, {"--phi", "1", "--alpha", "1.4", "--beta", "1.05", "--gamma", "1.1"}});
  for (const Case& c : cases) {
    const std::vector<std::string> model = concat(c.baseline, c.model);
    std::string shown;
    for (const auto& a : model) shown += a + " ";
    INFO("model: " << shown);
    const std::string file = dir.file("exported.txt");
    std::remove(file.c_str());
    ok(concat({"export", "--format", "baseline", "-o", file}, model));

    // The same layers, each with the same shapes, params and MACs (describe's CSV lists them all).
    const std::string expected_layers = ok(concat({"describe", "--format", "csv"}, model));
    const std::string actual_layers = ok({"describe", "base", "--baseline", file, "--format", "csv"});
    CHECK(actual_layers == expected_layers);

    // table takes names with --models.
    const bool named = c.model.size() == 1;
    const test::Csv expected = test::parse(
        ok(concat(concat({"table", "--format", "csv"}, c.baseline), named ? concat({"--models"}, c.model) : c.model)));
    const test::Csv actual = test::parse(ok({"table", "--baseline", file, "--models", "base", "--format", "csv"}));
    // (table adds the unscaled baseline beside a --phi model of a baseline other than B0: the model is last.)
    REQUIRE(!expected.rows.empty());
    const size_t row = expected.rows.size() - 1;
    REQUIRE(actual.rows.size() == 1);
    for (const char* column : {"params", "macs", "flops", "activations", "peak_memory_bytes", "resolution"}) {
      INFO(column);
      CHECK(actual.at(0, column) == expected.at(row, column));
    }
    // Named after the baseline and the model (the unscaled model keeps the baseline's name); the
    // header says what it is.
    const std::string text = test::read_file(file);
    CHECK(text.rfind("# ", 0) == 0);
    const std::string name = expected.at(row, "model") == "base"
                                 ? expected.at(row, "baseline")
                                 : expected.at(row, "baseline") + "-" + expected.at(row, "model");
    CHECK(actual.at(0, "baseline") == name);
  }
}

TEST_CASE("export --format timm names B4's multipliers and resolution, JSON agrees", "[export]") {
  // B4 = (width 1.4, depth 1.8, resolution 380): efficientnet_params of tensorflow/tpu
  // efficientnet_builder.py, timm's _gen_efficientnet(channel_multiplier=1.4, depth_multiplier=1.8)
  // and torchvision's efficientnet_b4 (width_mult=1.4, depth_mult=1.8).
  const std::string snippet = ok({"export", "b4", "--format", "timm"});
  CHECK(snippet.find("\nWIDTH = 1.4 ") != std::string::npos);
  CHECK(snippet.find("\nDEPTH = 1.8 ") != std::string::npos);
  CHECK(snippet.find("\nRESOLUTION = 380 ") != std::string::npos);
  CHECK(snippet.find("\nPARAMS = 19341616 ") != std::string::npos);  // torchvision efficientnet_b4 num_params
  CHECK(snippet.find("\"ir_r2_k3_s2_e6_c24_se0.25\"") != std::string::npos);  // timm's B0 arch_def, stage 2
  CHECK(snippet.find("def timm_model") != std::string::npos);
  CHECK(snippet.find("def torchvision_model") != std::string::npos);

  const auto j = nlohmann::json::parse(ok({"export", "b4", "--format", "json"}));
  CHECK(j["width_multiplier"] == 1.4);
  CHECK(j["depth_multiplier"] == 1.8);
  CHECK(j["resolution"] == 380);
  CHECK(j["params"] == 19341616);
  CHECK(j["timm"]["exact"] == true);
  CHECK(j["timm"]["model_name"] == "efficientnet_b4");
  CHECK(j["timm"]["channel_multiplier"] == 1.4);
  CHECK(j["timm"]["num_features"] == 1792);  // round_filters(1280 * 1.4)
  CHECK(j["timm"]["arch_def"][0][0] == "ds_r1_k3_s1_c16_se0.25");
  CHECK(j["torchvision"]["exact"] == true);
  CHECK(j["torchvision"]["width_mult"] == 1.4);
  CHECK(j["torchvision"]["depth_mult"] == 1.8);
  CHECK(j["torchvision"]["last_channel"] == 1792);
}

TEST_CASE("export --format timm says which library would build another network, and why", "[export]") {
  test::TempDir dir;
  const std::string custom = dir.write("custom.txt", kCustom);
  const auto j = nlohmann::json::parse(
      ok({"export", "--baseline", custom, "--width", "1.3", "--depth", "1.5", "--resolution", "128", "--format", "json"}));
  CHECK(j["timm"]["exact"] == false);
  CHECK(j["torchvision"]["exact"] == false);
  // timm's InvertedResidual rounds every expansion with make_divisible: 24 x 4.5 = 108 -> 112, where
  // the reference (tensorflow/tpu efficientnet_model.py: input_filters * expand_ratio) keeps 108.
  CHECK(j["timm"]["differences"].dump().find("112") != std::string::npos);
  CHECK(j["torchvision"]["differences"].dump().find("relu6") != std::string::npos);
  // Its arch_def is the baseline in timm's syntax, fractional expansion included.
  CHECK(j["timm"]["arch_def"][1][0] == "ir_r2_k5_s2_e4.5_c24_se0.25");
  CHECK(j["timm"]["arch_def"][2][0] == "ir_r2_k3_s2_e2.3_c40_noskip");
  const std::string snippet =
      ok({"export", "--baseline", custom, "--width", "1.3", "--depth", "1.5", "--resolution", "128", "--format", "timm"});
  CHECK(snippet.find("timm_model = None") != std::string::npos);
  CHECK(snippet.find("torchvision_model = None") != std::string::npos);

  // MobileNetV2 is torchvision's MobileNetV2 (width_mult; depth is not one of its parameters, so it
  // is written out as the inverted_residual_setting).
  const auto mb = nlohmann::json::parse(ok({"export", "--baseline", "mobilenet-v2", "--width", "0.75", "--format", "json"}));
  CHECK(mb["torchvision"]["exact"] == true);
  CHECK(mb["torchvision"]["builder"] == "torchvision.models.MobileNetV2");
}

TEST_CASE("a search report gives its model and triple to export, table, describe and compare (--from-report)", "[export]") {
  test::TempDir dir;
  const std::string report = dir.file("search.csv");
  // The search ranked by MACs alone (no timing): quick and deterministic.
  ok({"search", "--no-latency", "--alpha", "1:1.4:0.1", "--beta", "1:1.2:0.1", "--gamma", "1:1.2:0.1", "--tolerance",
      "0.15", "-o", report});
  const test::Csv rows = test::report_rows(report);
  REQUIRE(rows.rows.size() >= 2);
  REQUIRE(rows.at(0, "rank") == "1");
  const auto winner = [&](const std::string& column) { return rows.at(0, column); };

  // export: the winner's scaled depth, width and resolution (the timm snippet names its factors).
  const auto j = nlohmann::json::parse(ok({"export", "--from-report", report, "--format", "json"}));
  CHECK(j["model"] == "rank1");
  CHECK(j["width_multiplier"].dump() == winner("width"));
  CHECK(j["depth_multiplier"].dump() == winner("depth"));
  CHECK(std::to_string(j["resolution"].get<int>()) == winner("resolution"));
  CHECK(std::to_string(j["params"].get<long long>()) == winner("params"));
  const std::string snippet = ok({"export", "--from-report", report, "--format", "timm"});
  CHECK(snippet.find("\nWIDTH = " + winner("width") + " ") != std::string::npos);
  CHECK(snippet.find("\nDEPTH = " + winner("depth") + " ") != std::string::npos);
  CHECK(snippet.find("\nRESOLUTION = " + winner("resolution") + " ") != std::string::npos);

  // table and describe: the same network; --rank picks another row.
  const test::Csv table = test::parse(ok({"table", "--from-report", report, "--format", "csv"}));
  REQUIRE(table.rows.size() == 1);
  CHECK(table.at(0, "macs") == winner("macs"));
  const auto second = [&](const std::string& column) { return rows.at(1, column); };
  const test::Csv ranked =
      test::parse(ok({"table", "--from-report", report, "--rank", second("rank"), "--format", "csv"}));
  CHECK(ranked.at(0, "macs") == second("macs"));
  CHECK(ranked.at(0, "width") == second("width"));
  const std::string layers = ok({"describe", "--from-report", report, "--format", "csv"});
  CHECK(layers == ok({"describe", "--width", winner("width"), "--depth", winner("depth"), "--resolution",
                      winner("resolution"), "--format", "csv"}));

  // compare: the compound strategy takes the row's alpha, beta, gamma.
  const test::Csv compared = test::parse(ok({"compare", "--from-report", report, "--no-latency", "--targets", "2",
                                             "--strategies", "compound", "--format", "csv"}));
  REQUIRE(compared.rows.size() == 1);
  CHECK(compared.at(0, "strategy") ==
        "compound:" + winner("alpha") + "," + winner("beta") + "," + winner("gamma"));

  // Errors say what to fix.
  test::expect_error({"export", "--from-report", report, "--rank", "100000"}, 2, "no candidate has rank 100000");
  test::expect_error({"export", "--rank", "2"}, 2, "give --from-report REPORT too");
  test::expect_error({"export", "--from-report", dir.file("missing.csv")}, 2, "missing.csv");
  test::expect_error({"export", "--from-report", dir.write("not-a-report.csv", "a,b\n1,2\n")}, 2,
                    "not an effscale search report");
}

TEST_CASE("the exported Python snippets build the same network in torchvision", "[torchvision][.]") {
  // Hidden: needs Debian's python3-torchvision, which the CTest fixture torch_setup installs.
  const std::string install = "bash " EFFSCALE_SOURCE_DIR "/scripts/torch_setup.sh";
  test::TempDir dir;
  const test::ProcessRun probe = test::run_program({"/usr/bin/python3", "-c", "import torchvision"}, dir);
  if (probe.status != 0) FAIL("/usr/bin/python3 cannot import torchvision: run `" << install << "`");

  const std::string tiny = test::tiny_baseline(dir);
  const std::vector<std::vector<std::string>> models = {
      {"b0"},
      {"b4"},
      {"--phi", "1.5", "--alpha", "1.3", "--beta", "1.05", "--gamma", "1.1"},
      {"--baseline", "mobilenet-v2", "--width", "0.75", "--depth", "1.3", "--resolution", "192"},
      {"--baseline", "mobilenet-v2", "--width", "1.4"},
      {"--baseline", tiny, "--width", "1.2", "--depth", "1.4", "--resolution", "80"},
  };
  for (const auto& model : models) {
    std::string shown;
    for (const auto& a : model) shown += a + " ";
    INFO("model: " << shown);
    const std::string snippet = dir.file("model.py");
    std::remove(snippet.c_str());
    ok(concat({"export", "--format", "timm", "-o", snippet}, model));
    test::ProcessSetup setup;
    setup.timeout_seconds = 300;
    const test::ProcessRun run = test::run_program({"/usr/bin/python3", snippet}, dir, setup);
    INFO("stdout: " << run.out << "\nstderr: " << run.err);
    CHECK(run.status == 0);
    // torchvision's model has effscale's parameter count (the snippet checks it too, and fails if not).
    const auto j = nlohmann::json::parse(ok(concat({"export", "--format", "json"}, model)));
    CHECK(j["torchvision"]["exact"] == true);
    CHECK(run.out.find("torchvision: params " + j["params"].dump() + " (matches effscale)") != std::string::npos);
  }
}
