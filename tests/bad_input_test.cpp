#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "test_util.hpp"
#include "text.hpp"

// Bad command lines across every subcommand: each gets exit status 2 (bad input) or 1 (the work
// failed), exactly one line "effscale: error: ..." naming the problem, nothing on stdout, and
// nothing written (the runs happen in an empty working directory, where the search would create
// results/ by default).


namespace {

struct Case {
  std::vector<std::string> args;
  int status;
  const char* message;
};

std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) names.push_back(e.path().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("bad command lines: one error line, the right status, nothing written", "[cli][bad-input]") {
  effscale::test::TempDir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  std::filesystem::create_directory("adir");
  dir.write("bad.txt", "stem 32\nr1_k3_s11_e1_i32_o16\nr2_k3_s22_e6_i16_o24_sx\nhead 1280\n");
  dir.write("report.csv", "rank,alpha\n1,1.2\n");
  dir.write("acc.csv", "alpha,beta,gamma,top1\n1.2,1.1,1.15,150\n");
  dir.write("acc-off.csv", "alpha,beta,gamma,top1\n1.23,1.1,1.15,0.8\n3,3,3,0.7\n");
  dir.write("stem2.txt", "stem 32 k3 k5\nr1_k3_s11_e1_i32_o16\nhead 1280\n");
  dir.write("stride2.txt", "stem 32 s2 s1\nr1_k3_s11_e1_i32_o16\nhead 1280\n");
  dir.write("tiny160.txt", "name small\nresolution 160\nstem 16\nr1_k3_s11_e1_i16_o16\nhead 320\n");
  const auto before = listing(dir.path());

  const std::vector<Case> cases = {
      {{"frobnicate"}, 2, "unknown command 'frobnicate'"},
      {{"table", "--width", "nan"}, 2, "--width: 'nan' is not a finite number"},
      {{"table", "--width", "inf"}, 2, "--width: 'inf' is not a finite number"},
      {{"table", "--width", "0"}, 2, "width multiplier 0 is out of range (0, 16]"},
      {{"table", "--width", "-2"}, 2, "width multiplier -2 is out of range"},
      {{"table", "--width", "1e9"}, 2, "width multiplier 1000000000 is out of range"},
      {{"table", "--depth", ""}, 2, "--depth: '' is not a finite number"},
      {{"table", "--resolution", "99999"}, 2, "resolution 99999 is out of range [16, 8192]"},
      {{"table", "--resolution", "0x100"}, 2, "--resolution: '0x100' is not an integer"},
      {{"table", "--models", ""}, 2, "--models: '' has an empty item"},
      {{"table", "--baseline", ""}, 2, "baseline name is empty"},
      {{"table", "--baseline", "adir"}, 2, "baseline file 'adir' is a directory"},
      {{"table", "--baseline", "missing.txt"}, 2, "unknown baseline 'missing.txt'"},
      {{"table", "--baseline", "bad.txt"}, 2, "bad.txt:3: block string 'r2_k3_s22_e6_i16_o24_sx': field 7 'sx' (column 22)"},
      {{"table", "--format", "yaml"}, 2, "--format 'yaml' is not one of: table, csv, json"},
      {{"table", "--output", "adir"}, 2, "output 'adir' is a directory"},
      {{"table", "--output", "/nonexistent/t.csv"}, 1, "cannot write '/nonexistent/t.csv'"},
      {{"table", "--bogus"}, 2, "unknown option '--bogus'"},
      {{"table", "--max-memory", "0"}, 2, "--max-memory: '0' is not a positive size"},
      {{"table", "--phi", "1,,2"}, 2, "--phi: '1,,2' has an empty item"},
      {{"describe", "b0", "--width", "2"}, 2, "describe shows one model"},
      {{"describe", "b99"}, 2, "unknown model 'b99'"},
      {{"bench", "--threads", "0"}, 2, "--threads 0 is out of range [1, 1024]"},
      {{"bench", "--threads", "100000"}, 2, "--threads 100000 is out of range"},
      {{"bench", "--batch", "1.5"}, 2, "--batch: '1.5' is not an integer"},
      {{"bench", "--min-time", "-1"}, 2, "--min-time -1 is out of range [0, 3600]"},
      {{"bench", "--lowering", "turbo"}, 2, "unknown lowering switch 'turbo'"},
      {{"bench", "--layout", ""}, 2, "--layout '' is not one of: blocked, nhwc"},
      {{"bench", "b7", "--batch", "64", "--max-memory", "1G"}, 1, "model b7 at batch 64 needs an estimated"},
      {{"search", "--no-latency", "--alpha", "1:2:0"}, 2, "--alpha: step 0 must be greater than 0"},
      {{"search", "--no-latency", "--beta", "2:1:0.1"}, 2, "--beta: start 2 is greater than stop 1"},
      {{"search", "--no-latency", "--gamma", "0.5:1:0.1"}, 2, "--gamma: values must be at least 1"},
      {{"search", "--no-latency", "--tolerance", "-1"}, 2, "--tolerance -1 must not be negative"},
      {{"search", "--no-latency", "--target", "nan"}, 2, "--target: 'nan' is not a plain decimal number"},
      {{"search", "--no-latency", "--shard", "3/2"}, 2, "--shard: i 3 must be in [0, 2)"},
      {{"search", "--no-latency", "--shard", "1/"}, 2, "--shard '1/' is not i/n"},
      {{"search", "--budget", "-1"}, 2, "--budget -1 is out of range [0, 604800]"},
      {{"search", "--replicates", "0"}, 2, "--replicates 0 is out of range [1, 1000]"},
      {{"bench", "--replicates", "x"}, 2, "--replicates: 'x' is not an integer"},
      {{"search", "--shard", "auto", "--no-latency"}, 2, "--shard auto: no job array here"},
      {{"search", "--shards", "4", "--no-latency"}, 2, "--shards N goes with --shard auto"},
      {{"search", "--accuracy", "missing.csv", "--rank-by", "score"}, 2, "cannot read accuracy file 'missing.csv'"},
      {{"search", "--accuracy", "adir", "--rank-by", "score"}, 2, "accuracy file 'adir' is a directory"},
      {{"search", "--accuracy", "acc.csv", "--rank-by", "score"}, 2, "acc.csv:2: top1 150 is out of range (0, 100]"},
      {{"search", "--rank-by", "score"}, 2, "--rank-by score needs --accuracy FILE"},
      {{"search", "--no-latency", "--resume", "report.csv"}, 2, "report.csv: not an effscale search report"},
      {{"search", "--no-latency", "--plot", "p.svg"}, 2, "--plot draws latency"},
      {{"search", "--no-latency", "--alpha", "1:1.01:0.01", "--beta", "1", "--gamma", "1"}, 2,
       "no (alpha, beta, gamma) of the 2 grid triples has alpha*beta^2*gamma^2 within 0.05 of 2; nearest products: 1.01"},
      {{"merge"}, 2, "merge needs at least one report"},
      {{"merge", "missing.csv"}, 2, "cannot read report 'missing.csv'"},
      {{"merge", "adir"}, 2, "report 'adir' is a directory"},
      {{"merge", "report.csv"}, 2, "report.csv: not an effscale search report"},
      {{"compare", "--no-latency", "--targets", "0"}, 2, "--targets: 0 is out of range (0, 1024]"},
      {{"compare", "--no-latency", "--strategies", "fast,fast"}, 2, "--strategies: 'fast' is listed twice"},
      {{"compare", "--no-latency", "--targets", ""}, 2, "--targets: '' has an empty item"},
      {{"compare", "--no-latency", "--strategies", "compound:1,1"}, 2, "expected compound:ALPHA,BETA,GAMMA"},
      {{"compare", "--no-latency", "--plot", "adir"}, 2, "plot 'adir' is a directory"},
      {{"baselines", "nope"}, 2, "unknown baseline 'nope'"},
      // The workflow rules and hardening of issue 11.
      {{"search", "--phi", "0"}, 2, "--phi 0 builds the unscaled baseline for every triple"},
      {{"search", "--no-latency", "--accuracy", "acc.csv"}, 2, "--accuracy feeds the score, which needs latency"},
      {{"search", "--accuracy", "acc-off.csv", "--rank-by", "score"}, 2,
       "none of the 2 triples of the accuracy file is a candidate of this search"},
      {{"table", "--alpha", "1.3"}, 2, "--alpha, --beta and --gamma shape the --phi models"},
      {{"bench", "--gamma", "1.2"}, 2, "--alpha, --beta and --gamma shape the --phi models"},
      {{"describe", "--beta", "1.2"}, 2, "--alpha, --beta and --gamma shape the --phi models"},
      {{"table", "--baseline", "mobilenet-v2", "--models", "b3"}, 2,
       "b3 is EfficientNet's published b3, a scaling of the efficientnet-b0 baseline only"},
      {{"table", "--baseline", "tiny160.txt", "--models", "b0,b1"}, 2, "for small use base, --phi"},
      {{"compare", "--no-latency", "--baseline", "mobilenet-v2", "--strategies", "official"}, 2,
       "the published b0..b8 scale the efficientnet-b0 baseline only"},
      {{"compare", "--no-latency", "--baseline", "tiny160.txt", "--strategies", "width,official"}, 2,
       "the published b0..b8 scale the efficientnet-b0 baseline only, not small"},
      {{"compare", "--no-latency", "--strategies", "compound:1.05,1.4"}, 2, "expected compound:ALPHA,BETA,GAMMA"},
      {{"compare", "--no-latency", "--strategies", "compound:1.05,1.4,1,fast,compound:1.05,1.4,1"}, 2,
       "'compound:1.05,1.4,1' is listed twice"},
      {{"compare", "--no-latency", "--strategies", "compound:1.05,1.4,x"}, 2, "is not a finite number"},
      {{"search", "--no-latency", "--output", "-", "--format", "csv"}, 2, "would both write standard output"},
      {{"merge", "report.csv", "--output", "-", "--format", "json"}, 2, "would both write standard output"},
      {{"compare", "--no-latency", "--output", "-", "--plot", "-"}, 2, "are the same standard output"},
      {{"table", "--output", "report.csv", "--baseline", "report.csv"}, 2, "writing it would destroy the input"},
      {{"table", "--baseline", "stem2.txt"}, 2, "stem2.txt:1: stem kernel given twice"},
      {{"table", "--baseline", "stride2.txt"}, 2, "stride2.txt:1: stem stride given twice"},
      {{"diff", "report.csv"}, 2, "diff takes exactly two reports"},
      {{"diff", "report.csv", "acc.csv", "--min-spearman", "2"}, 2, "--min-spearman 2 is out of range [0, 1]"},
      {{"diff", "report.csv", "acc.csv"}, 2, "no 'strategy' column"},
      {{"search", "--budget", "x"}, 2, "--budget: 'x' is not a finite number"},
      {{"search", "--replicates", "-1"}, 2, "--replicates -1 is out of range [1, 1000]"},
      {{"bench", "--runs", "0"}, 2, "--runs 0 is out of range"},
      {{"bench", "--min-time", "-1"}, 2, "--min-time -1 is out of range [0, 3600]"},
      {{"bench", "--warmup", "x"}, 2, "--warmup: 'x' is not an integer"},
      {{"bench", "--layout", "nchw"}, 2, "--layout 'nchw' is not one of: blocked, nhwc"},
      {{"bench", "--lowering", "fast"}, 2, "unknown lowering switch 'fast'"},
      {{"search", "--seed", "-3"}, 2, "--seed -3 is out of range"},
      {{"search", "--alpha", "1:17:1"}, 2, "values must be at most 16"},
      {{"search", "--shard", "auto", "--shards", "0", "--no-latency"}, 2, "--shards 0 is out of range"},
      {{"search", "--rank-by", "rel-latency", "--no-latency"}, 2, "--rank-by rel-latency needs latency"},
      {{"search", "--latency-target", "-5"}, 2, "--latency-target -5 must be greater than 0"},
      {{"merge", "report.csv", "--rank-by", "speed"}, 2, "--rank-by 'speed' is not one of"},
      {{"merge", "report.csv", "--latency-target", "0"}, 2, "--latency-target 0 must be greater than 0"},
      {{"compare", "--no-latency", "--targets", "2000"}, 2, "--targets: 2000 is out of range (0, 1024]"},
      {{"table", "--phi", "1,x"}, 2, "--phi: 'x' is not a finite number"},
      {{"table", "--phi", "20"}, 2, "--phi 20 is out of range [-8, 16]"},
      {{"describe", "--phi", "1,2"}, 2, "describe shows one model"},
      {{"describe", "b1", "b2"}, 2, "describe shows one model"},
      {{"table", "--width", "17"}, 2, "width multiplier 17 is out of range (0, 16]"},
      {{"table", "--depth", "300"}, 2, "depth multiplier 300 is out of range (0, 256]"},
      {{"table", "--max-memory", "-1G"}, 2, "--max-memory: '-1G' is not a positive size"},
      {{"search", "--top", "x", "--no-latency"}, 2, "--top: 'x' is not an integer"},
      {{"table", "--baseline", std::string(5000, 'b')}, 2, "effscale takes arguments of at most 4096 bytes"},
  };
  REQUIRE(cases.size() >= 70);
  for (const auto& c : cases) {
    effscale::test::expect_error(c.args, c.status, c.message);
    INFO(effscale::join(c.args, " "));
    CHECK(listing(dir.path()) == before);
  }
  std::filesystem::current_path(cwd);
}
