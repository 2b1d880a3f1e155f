#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>
#include <filesystem>
#include <thread>

#include "search.hpp"
#include "test_util.hpp"
#include "text.hpp"

// Failure injection: a full disk while writing a report, Ctrl-C in the middle of a search, a
// candidate that fails inside oneDNN, and a model too big to build. Nothing may crash, hang or
// leave a partial file; completed work must survive.

using namespace effscale;
using effscale::test::run;

extern char** environ;

namespace {

/// Sets EFFSCALE_FAILPOINTS for the scope.
class Failpoints {
 public:
  explicit Failpoints(const char* list) { ::setenv("EFFSCALE_FAILPOINTS", list, 1); }
  ~Failpoints() { ::unsetenv("EFFSCALE_FAILPOINTS"); }
};

/// The CSV rows of a report file.
/// Starts the real effscale binary with `args`, stdout and stderr to files.
pid_t spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  std::vector<char*> argv;
  std::string binary = EFFSCALE_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

}  // namespace

TEST_CASE("a full disk while writing a report leaves the previous report intact", "[failure]") {
  test::TempDir dir;
  const auto path = dir.write("report.csv", "previous report\n");
  {
    Failpoints fp("write-enospc");
    const auto r = run({"table", "--format", "csv", "--output", path});
    CHECK(r.status == 1);
    CHECK(r.err == "effscale: error: cannot write '" + path + "' (write): No space left on device\n");
    const auto s = run({"search", "--no-latency", "--output", path});
    CHECK(s.status == 1);
    CHECK(s.err.find("No space left on device") != std::string::npos);
    CHECK(s.out.empty());
  }
  CHECK(test::read_file(path) == "previous report\n");
  CHECK(dir.entries() == std::vector<std::string>{"report.csv"});  // no temporary file left
}

TEST_CASE("a real tmpfs keeps the previous report when the new one does not fit", "[failure]") {
  test::TempDir dir;
  const std::string mount_point = dir.file("small");
  ::mkdir(mount_point.c_str(), 0755);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=16k") != 0) {
    FAIL("cannot run here: mounting a 16 KiB tmpfs needs root (CAP_SYS_ADMIN): " << std::strerror(errno)
                                                                                << "; run the suite as root");
  }
  const std::string path = mount_point + "/report.csv";
  std::ofstream(path) << "previous report\n";
  // The no-latency report of the default grid is about 25 KiB: more than fits.
  const auto r = run({"search", "--no-latency", "--output", path});
  const std::string kept = test::read_file(path);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(mount_point)) left.push_back(e.path().filename().string());
  ::umount(mount_point.c_str());
  CHECK(r.status == 1);
  CHECK(r.err.find("No space left on device") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(kept == "previous report\n");
  CHECK(left == std::vector<std::string>{"report.csv"});
}

TEST_CASE("Ctrl-C during a search keeps exactly the rows on disk, exits 130, and resume measures only the rest",
          "[failure][onednn]") {
  test::TempDir dir;
  const auto report = dir.file("r.csv");
  // --max-memory 100M: two tiny networks (about 25-40 MB each) fit a batch beside the reference, so the first
  // checkpoint holds some networks and not others.
  std::vector<std::string> args = {"search", "--runs", "3", "--warmup", "0", "--budget", "0", "--max-memory", "100M",
                                   "--output", report};
  const auto grid = test::tiny_grid(test::tiny_baseline(dir));
  args.insert(args.end(), grid.begin(), grid.end());
  ::setenv("EFFSCALE_FAILPOINTS", "pause-after-checkpoint", 1);
  const pid_t pid = spawn(args, dir.file("out"), dir.file("err"));
  ::unsetenv("EFFSCALE_FAILPOINTS");
  // The signal goes after the first rows are on disk: the process holds still there until it arrives.
  std::string on_disk;
  for (int i = 0; i < 6000 && on_disk.empty(); ++i) {
    int early = 0;
    REQUIRE(::waitpid(pid, &early, WNOHANG) == 0);  // still running
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (std::filesystem::exists(report)) on_disk = test::read_file(report);
  }
  REQUIRE(!on_disk.empty());
  REQUIRE(::kill(pid, SIGINT) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO(test::read_file(dir.file("err")));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const std::string err = test::read_file(dir.file("err"));
  CHECK(err.find("effscale: interrupted;") != std::string::npos);
  CHECK(err.find("resume with: effscale search") != std::string::npos);
  // Exactly the rows that were on disk when the signal came, each measured.
  const auto kept = test::report_rows(report);
  const auto checkpoint = test::report_rows(dir.write("checkpoint.csv", on_disk));
  CHECK(kept.rows == checkpoint.rows);
  REQUIRE(kept.rows.size() > 0);
  REQUIRE(kept.rows.size() < 11);
  std::set<std::string> kept_networks;
  for (size_t i = 0; i < kept.rows.size(); ++i) {
    CHECK(kept.at(i, "status") == "ok");
    CHECK(!kept.at(i, "rel_latency").empty());
    kept_networks.insert(kept.at(i, "network"));
  }
  // Resume (into a new report: the old one is its input) measures the rest; the kept rows are not measured again.
  CHECK(err.find("--resume " + report + " --output " + dir.file("r-resumed.csv")) != std::string::npos);
  auto resume = args;
  resume[std::find(resume.begin(), resume.end(), report) - resume.begin()] = dir.file("r-resumed.csv");
  resume.insert(resume.end(), {"--resume", report, "--format", "csv"});
  const auto finished = run(resume);
  INFO(finished.err);
  REQUIRE(finished.status == 0);
  const auto full = test::parse(finished.out);
  CHECK(full.rows.size() == 11);
  std::set<std::string> triples;
  for (size_t i = 0; i < full.rows.size(); ++i) {
    triples.insert(full.at(i, "alpha") + "," + full.at(i, "beta") + "," + full.at(i, "gamma"));
    CHECK(full.at(i, "status") == "ok");
  }
  CHECK(triples.size() == 11);
  for (size_t i = 0; i < kept.rows.size(); ++i) {
    for (size_t j = 0; j < full.rows.size(); ++j) {
      if (full.at(j, "alpha") == kept.at(i, "alpha") && full.at(j, "beta") == kept.at(i, "beta") &&
          full.at(j, "gamma") == kept.at(i, "gamma")) {
        CHECK(full.at(j, "rel_latency") == kept.at(i, "rel_latency"));
        CHECK(full.at(j, "runs") == kept.at(i, "runs"));
      }
    }
  }
}

TEST_CASE("an interrupt after the first batch keeps exactly that batch", "[failure][onednn]") {
  test::TempDir dir;
  const auto report = dir.file("r.csv");
  std::vector<std::string> args = {"search", "--runs", "3", "--warmup", "0", "--budget", "0", "--max-memory", "100M",
                                   "--output", report};
  const auto grid = test::tiny_grid(test::tiny_baseline(dir));
  args.insert(args.end(), grid.begin(), grid.end());
  {
    Failpoints fp("interrupt-after-batch");
    const auto r = run(args);
    CHECK(r.status == 130);
    CHECK(r.err.find("completed rows kept in " + report) != std::string::npos);
  }
  const auto kept = test::report_rows(report);
  CHECK(kept.rows.size() > 0);
  CHECK(kept.rows.size() < 11);
  args[std::find(args.begin(), args.end(), report) - args.begin()] = dir.file("r2.csv");
  args.insert(args.end(), {"--resume", report, "--format", "csv"});
  const auto finished = run(args);
  INFO(finished.err);
  REQUIRE(finished.status == 0);
  CHECK(test::parse(finished.out).rows.size() == 11);
}

TEST_CASE("a candidate that fails inside oneDNN is recorded and the search goes on", "[failure][onednn]") {
  test::TempDir dir;
  std::vector<std::string> args = {"search", "--runs", "3", "--warmup", "0", "--budget", "0", "--format", "csv",
                                   "--output", dir.file("r.csv")};
  const auto grid = test::tiny_grid(test::tiny_baseline(dir));
  args.insert(args.end(), grid.begin(), grid.end());
  // Three of the seven networks of the tiny grid take 65 pixels.
  Failpoints fp("onednn-resolution=65");
  const auto r = run(args);
  REQUIRE(r.status == 0);
  const auto csv = test::parse(r.out);
  REQUIRE(csv.rows.size() == 11);
  int failed = 0, ok = 0;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    if (csv.at(i, "resolution") == "65") {
      ++failed;
      CHECK(csv.at(i, "status").rfind("failed: oneDNN refused layer stem (runtime_error)", 0) == 0);
      CHECK(csv.at(i, "latency_ms").empty());
      CHECK(csv.at(i, "rank").empty());
    } else {
      ++ok;
      CHECK(csv.at(i, "status") == "ok");
      CHECK(!csv.at(i, "latency_ms").empty());
    }
  }
  CHECK(failed > 0);
  CHECK(ok > 0);
  // The failed candidates rank last.
  CHECK(csv.at(csv.rows.size() - 1, "status") != "ok");
}

TEST_CASE("a huge model is refused by the memory guard before anything is allocated", "[failure]") {
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  const auto start = std::chrono::steady_clock::now();
  const auto r = run({"bench", "--width", "16", "--depth", "8", "--resolution", "8192"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::getrusage(RUSAGE_SELF, &after);
  CHECK(r.status == 1);
  CHECK(r.err.find("needs an estimated") != std::string::npos);
  CHECK(r.err.find("over the limit of") != std::string::npos);
  CHECK(seconds < 5);
  CHECK(after.ru_maxrss - before.ru_maxrss < 200 * 1024);  // KiB: nothing near the estimate was touched
  // In a search the same model is skipped with its reason, and the rest goes on.
  test::TempDir dir;
  const auto s = run({"search", "--no-latency", "--alpha", "1:2:0.5", "--beta", "1", "--gamma", "1:1.5:0.5", "--tolerance",
                      "1", "--phi", "4", "--max-memory", "64M", "--format", "csv", "--output", dir.file("r.csv")});
  REQUIRE(s.status == 0);
  const auto csv = test::parse(s.out);
  bool skipped = false, kept = false;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    skipped |= csv.at(i, "status").rfind("skipped: needs", 0) == 0;
    kept |= csv.at(i, "status") == "ok";
  }
  CHECK(skipped);
  CHECK(kept);
}
