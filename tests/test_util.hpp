#pragma once
// Helpers shared by the tests: run the real CLI entry point with captured streams, temporary
// directories, parsing of CSV output.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "csv.hpp"

extern char** environ;

namespace effscale::test {

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

inline CliRun run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Io io{out, err, false};
  CliRun r;
  r.status = run_cli(args, io);
  r.out = out.str();
  r.err = err.str();
  return r;
}

/// Runs `args` and checks the contract for bad input: exit `status`, nothing on stdout, exactly
/// one line "effscale: error: ..." on stderr that contains `message`.
inline void expect_error(const std::vector<std::string>& args, int status, const std::string& message) {
  const CliRun r = run(args);
  INFO("effscale " << [&] {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    return joined;
  }() << "\nstderr: " << r.err);
  CHECK(r.status == status);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("effscale: error: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(message) != std::string::npos);
}

/// A fresh directory under /tmp, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "effscale-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name), std::ios::binary) << text;
    return file(name);
  }
  const std::filesystem::path& path() const { return path_; }
  /// Names of the entries in the directory.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    return names;
  }

 private:
  std::filesystem::path path_;
};

/// EfficientNet-B0 at 64 pixels as a baseline file in `dir`: the same blocks as B0, forward
/// passes of about a millisecond, so that measured searches stay quick. Returns its path.
inline std::string tiny_baseline(const TempDir& dir) {
  return dir.write("tiny.txt",
                   "name tiny-b0\nresolution 64\nstem 32 k3 s2\nr1_k3_s11_e1_i32_o16_se0.25\nr2_k3_s22_e6_i16_o24_se0.25\n"
                   "r2_k5_s22_e6_i24_o40_se0.25\nr3_k3_s22_e6_i40_o80_se0.25\nr3_k5_s11_e6_i80_o112_se0.25\n"
                   "r4_k5_s22_e6_i112_o192_se0.25\nr1_k3_s11_e6_i192_o320_se0.25\nhead 1280\n");
}

/// A small grid on the tiny baseline at phi 1: 11 candidates, 7 distinct networks once calibrated.
inline std::vector<std::string> tiny_grid(const std::string& baseline) {
  return {"--baseline", baseline, "--alpha", "1:1.4:0.2", "--beta", "1:1.2:0.1", "--gamma", "1:1.2:0.1", "--tolerance", "0.15"};
}

/// What a run of the real binary did.
struct ProcessRun {
  int status = -1;      ///< exit status, or -1 when killed by a signal
  int signal = 0;       ///< the signal that killed it
  std::string out, err;
  double seconds = 0;
};

/// How the real binary's standard streams are set up.
struct ProcessSetup {
  std::vector<std::string> env;  ///< extra NAME=VALUE entries
  std::string stdin_path = "/dev/null";
  std::string stdout_path;       ///< "" = captured; "-" = closed
  double timeout_seconds = 60;   ///< killed (SIGKILL) after this: a hang fails the test
};

/// Runs `argv` (argv[0] looked up on PATH) in `dir` (its working directory), stdout and stderr
/// captured; setup.env entries replace the environment's variables of the same name.
inline ProcessRun run_program(const std::vector<std::string>& args, const TempDir& dir, const ProcessSetup& setup = {}) {
  const std::string out_file = dir.file(".stdout"), err_file = dir.file(".stderr");
  std::vector<std::string> argv_s = args;
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  const auto replaced = [&](const std::string& entry) {
    const std::string name = entry.substr(0, entry.find('=') + 1);
    for (const auto& e : setup.env)
      if (e.compare(0, name.size(), name) == 0) return true;
    return false;
  };
  for (char** e = environ; *e; ++e)
    if (!replaced(*e)) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), setup.env.begin(), setup.env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, setup.stdin_path.c_str(), O_RDONLY, 0);
  if (setup.stdout_path == "-") posix_spawn_file_actions_addclose(&actions, 1);
  else posix_spawn_file_actions_addopen(&actions, 1, setup.stdout_path.empty() ? out_file.c_str() : setup.stdout_path.c_str(),
                                        O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const std::string cwd = std::filesystem::current_path().string();
  std::filesystem::current_path(dir.path());
  pid_t pid = -1;
  const auto start = std::chrono::steady_clock::now();
  const int rc = posix_spawnp(&pid, argv_s[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  std::filesystem::current_path(cwd);
  posix_spawn_file_actions_destroy(&actions);
  ProcessRun r;
  if (rc != 0) {
    r.err = "cannot start " + argv_s[0] + ": " + std::strerror(rc);
    return r;
  }
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > setup.timeout_seconds) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.err = "(killed after the timeout: the run hung)";
      r.seconds = setup.timeout_seconds;
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) r.status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  r.out = setup.stdout_path.empty() ? slurp(out_file) : "";
  r.err = slurp(err_file);
  std::filesystem::remove(out_file);
  std::filesystem::remove(err_file);
  return r;
}

/// Runs the effscale binary with `args` in `dir` (its working directory), stdout and stderr captured.
inline ProcessRun run_binary(const std::vector<std::string>& args, const TempDir& dir, const ProcessSetup& setup = {}) {
  std::vector<std::string> argv = {EFFSCALE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, dir, setup);
}

/// The contract for bad input through the real binary: `status`, nothing on stdout, exactly one line
/// "effscale: error: ..." on stderr containing `message`.
inline void expect_process_error(const ProcessRun& r, int status, const std::string& message) {
  INFO("stderr: " << r.err << "\nstdout: " << r.out.substr(0, 200));
  CHECK(r.status == status);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("effscale: error: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(message) != std::string::npos);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The CSV text as a header plus rows of name -> value.
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string at(size_t row, const std::string& column) const {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == column) return rows.at(row).at(i);
    throw std::runtime_error("no column " + column);
  }
};

inline Csv parse(const std::string& text) {
  auto rows = parse_csv(text, "output");
  Csv csv;
  if (rows.empty()) return csv;
  csv.header = rows[0];
  csv.rows.assign(rows.begin() + 1, rows.end());
  for (const auto& r : csv.rows)
    if (r.size() != csv.header.size()) throw std::runtime_error("ragged CSV row");
  return csv;
}

/// The CSV part of a report's text (its '#' lines dropped).
inline Csv parse_report_text(const std::string& text) {
  std::string body;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("#", 0) != 0) body += line + "\n";
  return parse(body);
}

/// The CSV part of the report file at `path`.
inline Csv report_rows(const std::string& path) { return parse_report_text(read_file(path)); }

}  // namespace effscale::test
