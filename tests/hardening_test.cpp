// Adversarial cases through the real binary, as root where it matters: outputs that are devices,
// FIFOs, symlinks or immutable; planted symlinks; inputs that never end or never start; arguments
// that crash parsers; standard output that is full or closed; signals. The rule each case proves:
// never replace what is not a regular file effscale created, cap what it reads, bound what it
// builds, and answer bad input with one line.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>

#include "test_util.hpp"
#include "text.hpp"

using namespace effscale;
using test::expect_process_error;
using test::ProcessSetup;
using test::run_binary;

namespace {

bool is_char_device(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

bool is_symlink(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

// The names in `dir`, hidden ones included (a left-over temporary file would be hidden).
std::vector<std::string> names(const test::TempDir& dir) {
  auto v = dir.entries();
  std::sort(v.begin(), v.end());
  return v;
}

// Starts the real binary with `args` (the current environment), stdout and stderr to files.
pid_t spawn_for_signals(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  std::vector<std::string> argv_s = {EFFSCALE_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv_s[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

const std::vector<std::string> kQuickSearch = {"search", "--no-latency", "--alpha", "1:1.4:0.2", "--beta", "1:1.2:0.1",
                                               "--gamma", "1:1.2:0.1", "--tolerance", "0.15"};

std::vector<std::string> quick_search(std::vector<std::string> extra) {
  auto a = kQuickSearch;
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("an output that is a device node is written, never replaced", "[hardening]") {
  test::TempDir dir;
  const auto node = dir.file("null-device");
  // A device node made in the temporary folder (major 1, minor 3: /dev/null), never a real /dev path.
  REQUIRE(::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  const auto r = run_binary(quick_search({"--output", node}), dir);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(is_char_device(node));  // still the device
  CHECK(names(dir) == std::vector<std::string>{"null-device"});  // no temporary file, no replacement
  // A symlink to a device is followed to it, and stays a symlink.
  const auto link = dir.file("link-to-device");
  REQUIRE(::symlink(node.c_str(), link.c_str()) == 0);
  const auto t = run_binary({"table", "--format", "csv", "--output", link}, dir);
  CHECK(t.status == 0);
  CHECK(is_symlink(link));
  CHECK(is_char_device(node));
}

TEST_CASE("a FIFO output is written to its reader, or refused before work without one", "[hardening]") {
  test::TempDir dir;
  const auto fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  const auto refused = run_binary(quick_search({"--output", fifo}), dir, ProcessSetup{{}, "/dev/null", "", 20});
  expect_process_error(refused, 1, "a FIFO with no reader");
  struct stat st {};
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  // With a reader, the report flows through the FIFO.
  std::string received;
  std::thread reader([&] { received = test::read_file(fifo); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the reader open its end
  const auto r = run_binary({"table", "--format", "csv", "--output", fifo}, dir, ProcessSetup{{}, "/dev/null", "", 20});
  reader.join();
  CHECK(r.status == 0);
  CHECK(received.rfind("model,width,depth", 0) == 0);
}

TEST_CASE("a symlinked output is followed, a planted temporary name redirects nothing", "[hardening]") {
  test::TempDir dir;
  const auto target = dir.write("real.csv", "old\n");
  const auto link = dir.file("out.csv");
  REQUIRE(::symlink("real.csv", link.c_str()) == 0);
  const auto r = run_binary({"table", "--format", "csv", "--output", link}, dir);
  CHECK(r.status == 0);
  CHECK(is_symlink(link));  // the link stays ...
  CHECK(test::read_file(target).rfind("model,width,depth", 0) == 0);  // ... and its file has the table
  // Names that a predictable temporary file would take, planted as symlinks to a victim: the victim
  // stays untouched (the temporary file has a random name, created with O_EXCL).
  const auto victim = dir.write("victim", "precious\n");
  for (int pid = 1; pid < 2000; pid += 1) ::symlink(victim.c_str(), dir.file("new.csv.tmp." + std::to_string(pid)).c_str());
  const auto s = run_binary({"table", "--format", "csv", "--output", dir.file("new.csv")}, dir);
  CHECK(s.status == 0);
  CHECK(test::read_file(victim) == "precious\n");
  struct stat st {};
  REQUIRE(::lstat(dir.file("new.csv").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
}

TEST_CASE("an immutable output is refused before any work, and left as it was", "[hardening]") {
  test::TempDir dir;
  const auto path = dir.write("report.csv", "previous\n");
  if (std::system(("chattr +i '" + path + "' 2>/dev/null").c_str()) != 0) {
    FAIL("cannot run here: chattr +i is not supported on " << dir.path() << " (this test needs an ext4-like filesystem)");
  }
  const auto r = run_binary(quick_search({"--output", path}), dir);
  std::system(("chattr -i '" + path + "'").c_str());
  expect_process_error(r, 1, "the file is immutable (chattr +i)");
  CHECK(test::read_file(path) == "previous\n");
  CHECK(names(dir) == std::vector<std::string>{"report.csv"});
}

TEST_CASE("outputs must differ from each other and from the inputs", "[hardening]") {
  test::TempDir dir;
  const auto report = dir.file("r.csv");
  REQUIRE(run_binary(quick_search({"--output", report}), dir).status == 0);
  const std::string before = test::read_file(report);
  expect_process_error(run_binary({"compare", "--no-latency", "--output", dir.file("c.txt"), "--plot", dir.file("c.txt")}, dir),
                       2, "are the same file: give each output its own path");
  expect_process_error(run_binary({"compare", "--no-latency", "--output", "-", "--plot", "-"}, dir), 2,
                       "are the same standard output");
  expect_process_error(run_binary(quick_search({"--output", report, "--resume", report}), dir), 2,
                       "writing it would destroy the input");
  expect_process_error(run_binary({"merge", report, "--output", report}, dir), 2, "writing it would destroy the input");
  // A symlink to the input is the same file.
  REQUIRE(::symlink(report.c_str(), dir.file("alias.csv").c_str()) == 0);
  expect_process_error(run_binary(quick_search({"--output", dir.file("alias.csv"), "--resume", report}), dir), 2,
                       "writing it would destroy the input");
  CHECK(test::read_file(report) == before);
}

TEST_CASE("arguments of any length or encoding get one error line, never a crash", "[hardening]") {
  test::TempDir dir;
  const std::string long_value(64 * 1024, 'a');
  expect_process_error(run_binary({"table", "--output=" + long_value}, dir), 2, "effscale takes arguments of at most 4096 bytes");
  expect_process_error(run_binary({"table", "--" + long_value}, dir), 2, "at most 4096 bytes");
  expect_process_error(run_binary({"search", long_value}, dir), 2, "at most 4096 bytes");
  expect_process_error(run_binary({"table", "--models", "b\xff"}, dir), 2, "is not valid UTF-8");
  // A newline inside a path still makes one line.
  expect_process_error(run_binary({"table", "--baseline", "no\nsuch"}, dir), 2, "unknown baseline");
}

TEST_CASE("inputs are read with a cap on the bytes actually read, and a silent FIFO does not hang", "[hardening]") {
  test::TempDir dir;
  ProcessSetup quick{{}, "/dev/null", "", 30};
  expect_process_error(run_binary({"table", "--baseline", "/dev/zero"}, dir, quick), 2, "is larger than 1048576 bytes");
  expect_process_error(run_binary({"merge", "/dev/zero"}, dir, quick), 2, "is larger than 268435456 bytes");
  expect_process_error(run_binary({"search", "--accuracy", "/dev/zero"}, dir, quick), 2, "is larger than 67108864 bytes");
  // Standard input fed forever. effscale stops reading at its cap: the feeding thread then gets EPIPE
  // (not the signal, which would end the test process).
  REQUIRE(::mkfifo(dir.file("endless").c_str(), 0644) == 0);
  struct sigaction ignore {}, previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  std::thread writer([&] {
    FILE* f = std::fopen(dir.file("endless").c_str(), "w");
    if (!f) return;
    std::string line(4096, 'y');
    for (int i = 0; i < 1000 && std::fputs(line.c_str(), f) >= 0; ++i) {
    }
    std::fclose(f);
  });
  const auto fed = run_binary({"table", "--baseline", "/dev/stdin"}, dir, ProcessSetup{{}, dir.file("endless"), "", 30});
  writer.join();
  ::sigaction(SIGPIPE, &previous, nullptr);
  expect_process_error(fed, 2, "is larger than 1048576 bytes");
  // A FIFO that nobody writes: opening does not block, and after 10 s without a byte it is an error.
  REQUIRE(::mkfifo(dir.file("silent").c_str(), 0644) == 0);
  const auto silent = run_binary({"table", "--baseline", dir.file("silent")}, dir, quick);
  CHECK(silent.seconds < 20);
  expect_process_error(silent, 2, "gave no data for 10 s");
}

TEST_CASE("bounded work: a huge layer list, overflowing counts and batches over the memory limit", "[hardening]") {
  test::TempDir dir;
  // 7,000 stages of 40 blocks, scaled by depth 256: tens of millions of layers, refused before building.
  std::string big = "name wide\nstem 32\n";
  int channels = 32;
  for (int i = 0; i < 7000; ++i) big += "r40_k3_s11_e1_i32_o32\n";
  big += "head 1280\n";
  (void)channels;
  const auto big_file = dir.write("big.txt", big);
  const auto r = run_binary({"table", "--baseline", big_file, "--width", "1", "--depth", "256"}, dir);
  expect_process_error(r, 2, "layers; effscale builds at most 1000000");
  CHECK(r.seconds < 10);
  // Counts that overflow 64-bit integers: an error, never a wrapped number.
  const auto huge = dir.write("huge.txt", "stem 100000\nr1_k31_s11_e32_i100000_o100000\nhead 100000\nresolution 8192\n");
  expect_process_error(run_binary({"table", "--baseline", huge, "--width", "16", "--resolution", "8192",
                                   "--max-memory", "1000000G"},
                                  dir),
                       2, "overflow 64-bit integers");
  // A batch over the memory limit: the search refuses its reference before building anything ...
  expect_process_error(run_binary({"search", "--batch", "16", "--max-memory", "50M", "--alpha", "1.2", "--beta", "1.1",
                                   "--gamma", "1.15"},
                                  dir),
                       1, "base (the reference every network is timed next to) at batch 16 needs an estimated");
  // ... and bench refuses a batch of 4096 before allocating.
  const auto b = run_binary({"bench", "b0", "--batch", "4096"}, dir);
  expect_process_error(b, 1, "model b0 at batch 4096 needs an estimated");
  CHECK(b.seconds < 10);
}

TEST_CASE("standard output that is full or closed is an error, exit 1", "[hardening]") {
  test::TempDir dir;
  const auto full = run_binary({"table"}, dir, ProcessSetup{{}, "/dev/null", "/dev/full", 30});
  CHECK(full.status == 1);
  CHECK(full.err == "effscale: error: cannot write to standard output: No space left on device\n");
  const auto closed = run_binary({"table"}, dir, ProcessSetup{{}, "/dev/null", "-", 30});
  CHECK(closed.status == 1);
  CHECK(closed.err == "effscale: error: cannot write to standard output: Bad file descriptor\n");
  // Writing a file with standard output closed: the file never lands on descriptor 1.
  const auto to_file = run_binary({"table", "--format", "csv", "--output", dir.file("t.csv")}, dir,
                                  ProcessSetup{{}, "/dev/null", "-", 30});
  CHECK(to_file.status == 0);
  CHECK(test::read_file(dir.file("t.csv")).rfind("model,", 0) == 0);
}

TEST_CASE("a bad OpenMP environment is one effscale error line", "[hardening]") {
  test::TempDir dir;
  for (const char* env : {"OMP_NUM_THREADS=garbage", "OMP_NUM_THREADS=", "OMP_WAIT_POLICY=sometimes", "OMP_DYNAMIC=maybe"}) {
    INFO(env);
    expect_process_error(run_binary({"table"}, dir, ProcessSetup{{env}, "/dev/null", "", 30}), 2,
                         "has an invalid value for OpenMP");
  }
  CHECK(run_binary({"table"}, dir, ProcessSetup{{"OMP_NUM_THREADS=2"}, "/dev/null", "", 30}).status == 0);
}

TEST_CASE("names from data never become paths, a baseline named a-semicolon-b=c resumes its own report", "[hardening]") {
  test::TempDir dir;
  std::string text = test::read_file(test::tiny_baseline(dir));
  text.replace(text.find("name tiny-b0"), 12, "name ../../../../x;a=b%");
  const auto file = dir.write("odd.txt", text);
  const auto r = run_binary({"search", "--no-latency", "--baseline", file}, dir);
  INFO(r.err);
  REQUIRE(r.status == 0);
  // The default report lands inside results/, under a name made of the baseline's letters.
  const auto made = std::filesystem::directory_iterator(dir.path() / "results");
  std::vector<std::string> reports;
  for (const auto& e : made) reports.push_back(e.path().filename().string());
  REQUIRE(reports.size() == 1);
  CHECK(reports[0] == "search-.._.._.._.._x_a_b_-phi1-costs.csv");
  // Its key escapes the name, and the report resumes.
  const std::string report = "results/" + reports[0];
  const auto again = run_binary({"search", "--no-latency", "--baseline", file, "--resume", report, "--output", "r2.csv"}, dir);
  INFO(again.err);
  CHECK(again.status == 0);
  // The command recorded in the report names the baseline file, and runs as written.
  const std::string header = test::read_file(dir.file(report));
  CHECK(header.find("--baseline " + file) != std::string::npos);
}

TEST_CASE("edited or foreign report rows are refused by merge and resume", "[hardening]") {
  test::TempDir dir;
  const auto report = dir.file("r.csv");
  REQUIRE(run_binary(quick_search({"--output", report}), dir).status == 0);
  const std::string text = test::read_file(report);
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const auto at = t.find(from);
    REQUIRE(at != std::string::npos);
    t.replace(at, from.size(), to);
    return dir.write("edited.csv", t);
  };
  // params of the paper-free first data row, changed.
  const auto lines = split(text, '\n');
  std::string row;
  for (auto l : lines)
    if (!l.empty() && l[0] != '#' && l.substr(0, 4) != "rank") {
      row = std::string(l);
      break;
    }
  REQUIRE(!row.empty());
  const auto fields = split(row, ',');
  std::string changed = row;
  const std::string params(fields[11]);  // the params column
  changed.replace(changed.find("," + params + ","), params.size() + 2, "," + std::to_string(std::stoll(params) + 1) + ",");
  expect_process_error(run_binary({"merge", edited(row, changed)}, dir), 2, "does not match the triple");
  // A triple off the grid.
  std::string off = row;
  off.replace(off.find("," + std::string(fields[2]) + ","), fields[2].size() + 2, ",1.13,");
  expect_process_error(run_binary({"merge", edited(row, off)}, dir), 2, "is not a candidate of the report's grid");
  expect_process_error(run_binary(quick_search({"--resume", edited(row, off), "--output", "x.csv"}), dir), 2,
                       "is not a candidate of the report's grid");
}

TEST_CASE("resume evaluates again the rows an earlier --max-memory skipped", "[hardening]") {
  test::TempDir dir;
  const auto first = run_binary({"search", "--no-latency", "--phi", "3", "--max-memory", "150M", "--format", "csv",
                                 "--output", "a.csv"},
                                dir);
  REQUIRE(first.status == 0);
  const auto a = test::parse(first.out);
  size_t skipped = 0;
  for (size_t i = 0; i < a.rows.size(); ++i) skipped += a.at(i, "status").rfind("skipped", 0) == 0;
  REQUIRE(skipped > 0);
  REQUIRE(skipped < a.rows.size());
  const auto second = run_binary({"search", "--no-latency", "--phi", "3", "--max-memory", "8G", "--format", "csv",
                                  "--output", "b.csv", "--resume", "a.csv"},
                                 dir);
  REQUIRE(second.status == 0);
  const auto b = test::parse(second.out);
  CHECK(b.rows.size() == a.rows.size());
  for (size_t i = 0; i < b.rows.size(); ++i) CHECK(b.at(i, "status") == "ok");
}

TEST_CASE("SIGTERM and SIGHUP keep the rows like SIGINT, a second signal ends the run at once", "[hardening][onednn]") {
  test::TempDir dir;
  const auto tiny = test::tiny_baseline(dir);
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) {
    INFO("signal " << sig);
    const auto report = dir.file("r" + std::to_string(sig) + ".csv");
    std::vector<std::string> args = {"search", "--runs", "3", "--warmup", "0", "--budget", "0", "--max-memory", "100M",
                                     "--output", report};
    for (const auto& a : test::tiny_grid(tiny)) args.push_back(a);
    ::setenv("EFFSCALE_FAILPOINTS", sig == SIGINT ? "hang-after-checkpoint" : "pause-after-checkpoint", 1);
    const pid_t pid = spawn_for_signals(args, dir.file("out"), dir.file("err"));
    ::unsetenv("EFFSCALE_FAILPOINTS");
    for (int i = 0; i < 6000 && !std::filesystem::exists(report); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(std::filesystem::exists(report));
    REQUIRE(::kill(pid, sig) == 0);
    int status = 0;
    if (sig == SIGINT) {
      // Held after the first signal: only a second one ends it, by the default action.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      REQUIRE(::waitpid(pid, &status, WNOHANG) == 0);
      REQUIRE(::kill(pid, SIGINT) == 0);
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      CHECK(WIFSIGNALED(status));
      CHECK(WTERMSIG(status) == SIGINT);
    } else {
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      REQUIRE(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 130);
      CHECK(test::read_file(dir.file("err")).find("completed rows kept in " + report) != std::string::npos);
    }
    CHECK(test::read_file(report).find("# key:") != std::string::npos);  // the checkpoint is whole
  }
}
