// Every command README.md shows runs, as written. The commands are extracted from the file's
// ```sh blocks (never copied into this test), and run with bash in a scratch folder laid out like a
// checkout (build/, bench/, scripts/ point at the real ones; results/reproducibility/ is copied), so that a README example can never
// fail again unnoticed. Their measurements run on the simulated machine
// (EFFSCALE_FAILPOINTS=simulated-machine): every option, pipeline and output is real, the timing
// arithmetic. Slurm's sbatch is replaced by tests/data/fake-slurm/sbatch, which runs a job array's
// tasks in turn; bench/compare_ort.sh gets no ONNX Runtime peer (ORT_ANCHOR points nowhere) and
// measures effscale alone; the --latency-cmd examples run ONNX Runtime for real (the CTest fixture
// ort_setup installs it first, which is why this test is hidden from the discovered tests and run
// by its own CTest entry, readme_commands). The set-up half of the README's first two commands
// (`bash scripts/setup.sh && ...`) is what .ci/run runs; the test command itself (ctest) is not run
// from inside ctest.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

struct Command {
  std::string text;
  int block = 0;
};

// The commands of README.md's sh blocks: a block with a here-document is one command (a script);
// any other block, one command per line.
std::vector<Command> readme_commands(const std::string& readme) {
  std::vector<Command> commands;
  size_t at = 0;
  int block = 0;
  while ((at = readme.find("```sh\n", at)) != std::string::npos) {
    const size_t start = at + 6;
    const size_t end = readme.find("```", start);
    REQUIRE(end != std::string::npos);
    const std::string body = readme.substr(start, end - start);
    ++block;
    if (body.find("<<") != std::string::npos) {
      commands.push_back({body, block});
    } else {
      size_t line_start = 0;
      while (line_start < body.size()) {
        size_t line_end = body.find('\n', line_start);
        if (line_end == std::string::npos) line_end = body.size();
        const std::string line = body.substr(line_start, line_end - line_start);
        if (line.find_first_not_of(" \t") != std::string::npos) commands.push_back({line, block});
        line_start = line_end + 1;
      }
    }
    at = end + 3;
  }
  return commands;
}

}  // namespace

TEST_CASE("every command in README.md runs as written", "[readme][cli][.]") {
  const std::filesystem::path source = EFFSCALE_SOURCE_DIR;
  const std::filesystem::path binary_dir = std::filesystem::path(EFFSCALE_BINARY).parent_path();
  const auto commands = readme_commands(effscale::test::read_file((source / "README.md").string()));
  REQUIRE(commands.size() >= 15);

  effscale::test::TempDir dir;
  std::filesystem::create_directory_symlink(binary_dir, dir.path() / "build");
  std::filesystem::create_directory_symlink(source / "bench", dir.path() / "bench");
  std::filesystem::create_directory_symlink(source / "scripts", dir.path() / "scripts");
  // The committed search reports a fresh clone has (copied: an example may write beside them).
  std::filesystem::create_directories(dir.path() / "results");
  std::filesystem::copy(source / "results/reproducibility", dir.path() / "results/reproducibility");
  const std::string setup = "bash scripts/setup.sh && ";
  int ran = 0;
  for (const auto& c : commands) {
    std::string text = c.text;
    if (text.rfind(setup, 0) == 0) {
      text = text.substr(setup.size());
      if (text.rfind("ctest ", 0) == 0) continue;  // the test command: .ci/run runs it
    }
    INFO("README block " << c.block << ": " << text);
    const std::string script = dir.file("command.sh");
    std::ofstream(script) << "set -e\n" << text << "\n";
    const std::string run =
        "cd '" + dir.path().string() + "' && EFFSCALE_FAILPOINTS=simulated-machine ORT_ANCHOR=/nonexistent/anchor " +
        "XDG_CACHE_HOME='" + dir.file("cache") + "' " +
        "PATH='" + (source / "tests/data/fake-slurm").string() + "':\"$PATH\" timeout 600 bash command.sh > out.txt 2> err.txt";
    const int status = std::system(run.c_str());
    INFO("stderr: " << effscale::test::read_file(dir.file("err.txt")).substr(0, 2000));
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    ++ran;
  }
  CHECK(ran >= 15);
  // What the examples say they write is there.
  for (const char* made : {"b0-phi1.csv", "all.csv", "run2.csv", "results/compare.svg", "results/search-all.csv",
                           "results/search-efficientnet-b0-phi1.csv"}) {
    INFO(made);
    CHECK(std::filesystem::exists(dir.path() / made));
  }
}
