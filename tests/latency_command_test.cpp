// --latency-cmd (lib/latency_command.hpp): the command line, its output, running it with bounds,
// and searches, benches and compares timed by a command. The commands here are shell arithmetic on
// {resolution}, so every latency is known exactly and the tests do not depend on the machine.

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "error.hpp"
#include "latency_command.hpp"
#include "test_util.hpp"
#include "text.hpp"

using namespace effscale;

TEST_CASE("a latency command names its model, misspelt placeholders are caught", "[latency-cmd]") {
  CHECK_NOTHROW(check_latency_command("node scripts/ort_latency.js {onnx} {resolution} {threads}"));
  CHECK_NOTHROW(check_latency_command("run {onnx} --batch {batch}"));
  // The shell's braces are left alone: ${VAR}, awk programs, brace groups.
  CHECK_NOTHROW(check_latency_command("${HOME}/bin/time {onnx} | awk '{print $1}'"));
  CHECK_NOTHROW(check_latency_command("{ time {onnx}; } 2>&1 | awk '{x=$1} END {print x}'"));
  CHECK_THROWS_WITH(check_latency_command("trtexec --loadEngine=model.plan"), Catch::Contains("has no {onnx}"));
  CHECK_THROWS_WITH(check_latency_command("run {onnx} {resolutoin}"),
                    Catch::Contains("unknown placeholder {resolutoin}; did you mean {resolution}?"));
  CHECK_THROWS_WITH(check_latency_command("run {onx}"), Catch::Contains("did you mean {onnx}?"));
  CHECK_THROWS_WITH(check_latency_command("   "), Catch::Contains("is empty"));
  CHECK_THROWS_WITH(check_latency_command("run {onnx} " + std::string(5000, 'x')), Catch::Contains("at most 4096"));
}

TEST_CASE("placeholders are replaced, the path quoted for the shell", "[latency-cmd]") {
  CommandValues v;
  v.onnx = "/tmp/a b/it's.onnx";
  v.resolution = 380;
  v.threads = 2;
  v.batch = 4;
  CHECK(expand_latency_command("t {onnx} {resolution} {threads} {batch} {resolution}", v) ==
        "t '/tmp/a b/it'\\''s.onnx' 380 2 4 380");
  v.onnx = "/tmp/effscale-latency-Ab12/network3.onnx";  // what the timer makes: plain, so '{onnx}' works too
  CHECK(expand_latency_command("t '{onnx}' ${HOME} {other}", v) ==
        "t '/tmp/effscale-latency-Ab12/network3.onnx' ${HOME} {other}");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("a-b_c.d/e:1,2=3") == "a-b_c.d/e:1,2=3");
  CHECK(shell_quote("$(rm x)") == "'$(rm x)'");
}

TEST_CASE("the latency is read from the last line of stdout", "[latency-cmd]") {
  CHECK(parse_latency_output("median_ms=3.5\n") == 3.5);
  // ../shared/anchors/ort_latency.js prints "onnxruntime 1.30.0 threads=2 median_ms=6.823 min_ms=..."
  CHECK(parse_latency_output("loading\nonnxruntime 1.30.0 threads=2 median_ms=6.823 min_ms=6.6 runs=10\n") == 6.823);
  CHECK(parse_latency_output("warming up\n12.25\n\n  \n") == 12.25);
  CHECK(parse_latency_output("  7e-1 ") == 0.7);
  for (const char* bad : {"", "\n\n", "fast", "median_ms=", "median_ms=-1", "median_ms=0", "nan", "inf", "1e300",
                          "median_ms=2\nDone"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_latency_output(bad), Error);
  }
  CHECK_THROWS_WITH(parse_latency_output("median_ms=2\nDone"), Catch::Contains("last line 'Done' is not a latency"));
  CHECK(last_line("a\nb\n\n") == "b");
  CHECK(last_line(std::string(500, 'x')).size() == 200);
}

TEST_CASE("a command runs with bounds: exit status, output tails, timeout, stop", "[latency-cmd]") {
  CommandRun r = run_command("echo out; echo err >&2; exit 3", 60, nullptr);
  CHECK(r.status == 3);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK_FALSE(r.timed_out);

  // stdin is /dev/null: a command that reads it does not wait for the terminal.
  r = run_command("cat; echo done", 60, nullptr);
  CHECK(r.status == 0);
  CHECK(r.out == "done\n");

  // Output is kept bounded: its tail.
  r = run_command("i=0; while [ $i -lt 3000 ]; do echo line$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done", 60,
                  nullptr);
  CHECK(r.status == 0);
  CHECK(r.out.size() == kCommandTail);
  CHECK(last_line(r.out) == "line2999-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

  // A command that never ends is killed with its whole group (the sleep it started too).
  test::TempDir dir;
  const std::string pid_file = dir.file("pid");
  r = run_command("sleep 300 & echo $! > " + pid_file + "; wait", 0.2, nullptr);
  CHECK(r.timed_out);
  CHECK(r.status == -1);
  CHECK(r.signal == SIGTERM);
  CHECK(r.seconds < 60);
  // The background sleep got the group's SIGTERM: wait for it to be gone (an event, not a guess).
  const pid_t sleeper = std::stoi(test::read_file(pid_file));
  bool gone = false;
  for (int i = 0; i < 3000 && !gone; ++i) {
    gone = ::kill(sleeper, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(gone);

  // One that exits but leaves a process holding its stdout: effscale does not wait for it.
  r = run_command("sleep 300 & echo $! > " + pid_file + "; echo 4.5", 60, nullptr);
  CHECK(r.status == 0);
  CHECK(r.out == "4.5\n");
  CHECK(r.seconds < 60);

  // The stop flag (an interrupt) kills it too.
  std::atomic<bool> stop{true};
  r = run_command("sleep 300", 600, &stop);
  CHECK(r.stopped);
  CHECK_FALSE(r.timed_out);
}

namespace {

std::vector<std::string> b0_grid() {
  // 11 candidates of B0 at phi 1, 10 distinct networks, resolutions 224 to 274.
  return {"--alpha", "1:1.4:0.2", "--beta", "1:1.2:0.1", "--gamma", "1:1.2:0.1", "--tolerance", "0.15"};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("search --latency-cmd ranks by the command's latency, next to the reference's", "[latency-cmd]") {
  test::TempDir dir;
  test::ProcessSetup setup;
  setup.env = {"TMPDIR=" + dir.path().string()};
  // Latency = the resolution in ms, so the reference (224) takes 224 ms and a candidate r / 224 of it.
  // Each run also logs the model it was given (stderr is not read for the latency).
  const std::string command = "ls -l {onnx} >&2; echo \"it took median_ms={resolution} here\"";
  const test::ProcessRun run =
      test::run_binary(with({"search", "--latency-cmd", command, "-o", "r.csv"}, b0_grid()), dir, setup);
  INFO(run.err);
  REQUIRE(run.status == 0);
  const std::string text = test::read_file(dir.file("r.csv"));
  const test::Csv rows = test::parse_report_text(text);
  REQUIRE(rows.rows.size() == 11);
  double previous = 0;
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    INFO("row " << i);
    CHECK(rows.at(i, "status") == "ok");
    const double resolution = std::stod(rows.at(i, "resolution"));
    CHECK(std::stod(rows.at(i, "rel_latency")) == Approx(resolution / 224).epsilon(1e-12));
    CHECK(std::stod(rows.at(i, "latency_ms")) == Approx(resolution).epsilon(1e-12));
    CHECK(std::stoi(rows.at(i, "runs")) >= kCommandRuns);
    CHECK(resolution >= previous);  // ranked by the command's latency
    previous = resolution;
  }
  // The report says how it was timed, and its key keeps it apart from oneDNN searches.
  CHECK(text.find("--latency-cmd " + shell_quote(command)) != std::string::npos);
  CHECK(text.find("latency_cmd=") != std::string::npos);
  CHECK(text.find("timed by the command") != std::string::npos);
  // The exported models are gone with the run.
  for (const auto& entry : dir.entries()) CHECK(entry.rfind("effscale-latency-", 0) != 0);

  // The report reads back (merge checks it against its key and baseline).
  const test::ProcessRun merged = test::run_binary({"merge", "r.csv", "-o", "m.csv"}, dir);
  INFO(merged.err);
  CHECK(merged.status == 0);
}

TEST_CASE("a failing or hanging latency command fails its candidate, not the run", "[latency-cmd]") {
  test::TempDir dir;
  // Resolution 257 fails with a message on stderr, 253 hangs past --latency-timeout; the rest pass.
  const std::string command =
      "case {resolution} in 257) echo 'no kernel for this shape' >&2; exit 3;; 253) exec sleep 300;; esac; "
      "echo {resolution} {onnx} >/dev/null; echo {resolution}";
  const test::ProcessRun run = test::run_binary(
      with({"search", "--latency-cmd", command, "--latency-timeout", "1", "-o", "r.csv"}, b0_grid()), dir);
  INFO(run.err);
  REQUIRE(run.status == 0);
  const test::Csv rows = test::report_rows(dir.file("r.csv"));
  int failed = 0;
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    const std::string resolution = rows.at(i, "resolution"), status = rows.at(i, "status");
    INFO(resolution << ": " << status);
    if (resolution == "257") {
      CHECK(status.find("exited with status 3 (stderr: no kernel for this shape)") != std::string::npos);
      ++failed;
    } else if (resolution == "253") {
      CHECK(status.find("timed out after 1 s") != std::string::npos);
      ++failed;
    } else {
      CHECK(status == "ok");
    }
  }
  CHECK(failed == 2);

  // The reference failing is the run's failure: one line, no report.
  const test::ProcessRun bad = test::run_binary(
      with({"search", "--latency-cmd", "echo {onnx} >/dev/null; echo not-a-number", "-o", "bad.csv"}, b0_grid()), dir);
  test::expect_process_error(bad, 1, "the reference network failed: the command's last line 'not-a-number'");
  CHECK_FALSE(std::filesystem::exists(dir.file("bad.csv")));
}

TEST_CASE("bench and compare time with the command too, options that need oneDNN say so", "[latency-cmd]") {
  const std::string command = "echo {onnx} >/dev/null; echo median_ms={resolution}";
  test::CliRun r = test::run({"bench", "b0", "b2", "--latency-cmd", command, "--format", "csv"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  test::Csv rows = test::parse(r.out);
  REQUIRE(rows.rows.size() == 2);
  CHECK(std::stod(rows.at(1, "rel_latency")) == Approx(260.0 / 224).epsilon(1e-12));  // B2 at 260
  CHECK(rows.at(1, "layout") == "command");
  CHECK(rows.at(1, "weight_bytes").empty());  // effscale built nothing

  r = test::run({"compare", "--strategies", "resolution", "--targets", "2", "--latency-cmd", command, "--format", "csv"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  rows = test::parse(r.out);
  REQUIRE(rows.rows.size() == 1);
  CHECK(std::stod(rows.at(0, "rel_latency")) == Approx(std::stod(rows.at(0, "resolution")) / 224).epsilon(1e-12));

  test::expect_error({"bench", "b0", "--latency-cmd", command, "--layers"}, 2, "--layers times oneDNN's primitives");
  test::expect_error({"bench", "b0", "--latency-cmd", command, "--peak"}, 2, "--peak measures oneDNN's");
  test::expect_error({"bench", "b0", "--latency-cmd", command, "--layout", "nhwc"}, 2, "--layout applies to oneDNN");
  test::expect_error({"search", "--latency-cmd", command, "--no-latency"}, 2, "drop --latency none");
  test::expect_error({"compare", "--latency-cmd", command, "--no-latency"}, 2, "drop --no-latency");
  test::expect_error({"bench", "b0", "--latency-timeout", "3"}, 2, "--latency-timeout needs --latency-cmd");
  test::expect_error({"bench", "b0", "--latency-cmd", command, "--latency-timeout", "0"}, 2, "out of range");
  test::expect_error({"bench", "b0", "--latency-cmd", "echo 1"}, 2, "has no {onnx}");
}

TEST_CASE("an interrupt during a command kills its process group and keeps the rows measured so far", "[latency-cmd]") {
  test::TempDir dir;
  test::ProcessSetup setup;
  setup.env = {"TMPDIR=" + dir.path().string()};
  // The event: the third run of the 274-pixel network interrupts effscale itself (its parent) and
  // then hangs; effscale must kill it and stop. Two whole replicates are done by then.
  const std::string command =
      "case {resolution} in 274) n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; "
      "if [ $n -ge 3 ]; then echo $$ > hung.pid; kill -INT $PPID; exec sleep 300; fi;; esac; "
      "echo {onnx} >/dev/null; echo {resolution}";
  const test::ProcessRun run =
      test::run_binary(with({"search", "--latency-cmd", command, "-o", "r.csv"}, b0_grid()), dir, setup);
  INFO(run.err);
  CHECK(run.status == 130);
  CHECK(run.err.find("effscale: interrupted;") != std::string::npos);
  // Rows of every network, each measured in the replicates that completed, none failed.
  const test::Csv rows = test::report_rows(dir.file("r.csv"));
  REQUIRE(rows.rows.size() == 11);
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    INFO("row " << i);
    CHECK(rows.at(i, "status") == "ok");
    CHECK(std::stoi(rows.at(i, "runs")) >= 2);
  }
  // The hung command is gone, and so are the exported models.
  const pid_t hung = std::stoi(test::read_file(dir.file("hung.pid")));
  bool gone = false;
  for (int i = 0; i < 3000 && !gone; ++i) {
    gone = ::kill(hung, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(gone);
  for (const auto& entry : dir.entries()) CHECK(entry.rfind("effscale-latency-", 0) != 0);
}
