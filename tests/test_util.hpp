#pragma once
// Helpers shared by the tests: run the real CLI entry point with captured streams, temporary
// directories, parsing of CSV output.

#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "csv.hpp"

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

}  // namespace effscale::test
