#include "targets.hpp"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string_view>

#include "cost.hpp"
#include "graph.hpp"
#include "error.hpp"
#include "latency_table.hpp"
#include "io.hpp"
#include "search.hpp"
#include "spec.hpp"
#include "text.hpp"

namespace effscale::fuzz {

namespace {

std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A broken invariant: abort loudly so that libFuzzer and the test both see it.
void require(bool condition, const char* what) {
  if (!condition) throw std::logic_error(std::string("fuzz invariant broken: ") + what);
}

}  // namespace

bool baseline_file(const std::uint8_t* data, std::size_t size) {
  try {
    const NetworkSpec spec = parse_baseline_text(as_text(data, size), "fuzz");
    const NetworkSpec again = parse_baseline_text(format_baseline_text(spec), "fuzz-again");
    require(again.stages == spec.stages, "baseline stages round-trip");
    require(again.stem.channels == spec.stem.channels && again.head_channels == spec.head_channels &&
                again.classes == spec.classes && again.activation == spec.activation,
            "baseline fields round-trip");
    // Cost the network small, so that every accepted file also expands and costs without UB.
    std::int64_t blocks = 0;
    for (const auto& s : spec.stages) blocks += s.repeats;
    if (blocks <= 2000) {
      Graph g;
      const NetworkCost c = evaluate(spec, {0.5, 1.0, 16}, g);
      require(c.total.macs > 0 && c.peak_activation_bytes > 0, "positive cost");
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool block_string(const std::uint8_t* data, std::size_t size) {
  try {
    const BlockArgs a = parse_block_string(as_text(data, size));
    if (a.in_channels == 0) {  // timm's syntax: input channels come from the previous stage
      require(parse_block_string(encode_timm_block_string(a)) == a, "timm block string round-trip");
    } else {
      require(parse_block_string(encode_block_string(a)) == a, "block string round-trip");
      BlockArgs timm = parse_block_string(encode_timm_block_string(a));
      timm.in_channels = a.in_channels;
      require(timm == a, "the timm spelling of a reference block string");
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool grid(const std::uint8_t* data, std::size_t size) {
  try {
    const auto lines = split(as_text(data, size), '\n');
    if (lines.size() < 3) return false;
    const GridAxis a = parse_grid_axis(lines[0], "alpha");
    const GridAxis b = parse_grid_axis(lines[1], "beta");
    const GridAxis g = parse_grid_axis(lines[2], "gamma");
    for (const GridAxis* axis : {&a, &b, &g}) {
      require(axis->size() >= 1, "non-empty axis");
      require(parse_grid_axis(axis->spec(), "again").size() == axis->size(), "axis spec round-trip");
      require(axis->at(axis->size() - 1).value() <= 16.0 + 1e-9, "axis within range");
    }
    Constraint c;
    if (lines.size() > 3) c.target = parse_decimal(lines[3], "target");
    if (lines.size() > 4) c.tolerance = parse_decimal(lines[4], "tolerance");
    if (c.target.units == 0) return false;
    if (static_cast<double>(a.size()) * static_cast<double>(b.size()) * static_cast<double>(g.size()) > 20000) return true;
    for (const auto& candidate : enumerate_candidates(a, b, g, c)) {
      const double p = candidate.product_value, t = c.target.value(), tol = c.tolerance.value();
      require(std::fabs(p - t) <= tol * t * (1 + 1e-9) + 1e-12, "candidate satisfies the constraint");
      // The single-triple check that reports are validated with agrees with the enumeration.
      const auto again = grid_candidate(a, b, g, c, candidate.alpha, candidate.beta, candidate.gamma);
      require(again && again->product == candidate.product && again->index == candidate.index, "grid_candidate agrees");
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool accuracy_csv(const std::uint8_t* data, std::size_t size) {
  try {
    for (const auto& [key, top1] : parse_accuracy(as_text(data, size), "fuzz")) {
      require(top1 > 0 && top1 <= 100, "top1 in range");
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool report_csv(const std::uint8_t* data, std::size_t size) {
  try {
    const Report r = parse_report(as_text(data, size), "fuzz");
    // Written again, a report reads back the same, and writes the same bytes.
    const std::string once = format_report(r.header, r.results, Objective::kMacsError, {});
    const Report back = parse_report(once, "fuzz-again");
    require(back.results.size() == r.results.size(), "report rows round-trip");
    require(format_report(back.header, back.results, Objective::kMacsError, {}) == once, "report text round-trip");
    // Rows are checked against the key and the baseline it names (a built-in one here), as merge and
    // --resume check them.
    for (const auto& name : builtin_baseline_names()) {
      const NetworkSpec baseline = builtin_baseline(name);
      if (r.header.key.get("baseline_spec") == baseline_fingerprint(baseline)) {
        validate_report(r, baseline, "fuzz");
        return true;
      }
    }
    return false;
  } catch (const Error&) {
    return false;
  }
}

bool from_report(const std::uint8_t* data, std::size_t size) {
  // First line: the rank asked for; the rest: the report.
  const std::string_view text = as_text(data, size);
  const size_t newline = text.find('\n');
  if (newline == std::string_view::npos) return false;
  const auto rank = parse_int(text.substr(0, newline));
  if (!rank || *rank < 1 || *rank > 1000000) return false;
  try {
    const ReportModel m = model_from_report(text.substr(newline + 1), "fuzz", static_cast<int>(*rank), std::nullopt);
    require(m.rank == *rank && m.row.rank == *rank, "the row of the rank asked for");
    require(m.tied_with >= 0, "tie count");
    // The row's model is what its triple builds (validate_report checked the row's columns).
    Graph g;
    const NetworkCost c = evaluate(m.baseline, m.row.factors, g);
    require(c.total.macs == m.row.cost.macs && network_id(g) == m.row.network, "the row's network");
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool latency_table(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  try {
    const LatencyTable t = parse_latency_table(text, "fuzz");
    // What parses formats to text that parses to the same table, and predicts without failing.
    const std::string once = format_latency_table(t);
    require(format_latency_table(parse_latency_table(once, "fuzz-again")) == once, "table text round-trip");
    std::vector<std::string> names, keys;
    for (const auto& [key, unit] : t.units) {
      names.push_back(unit.name);
      keys.push_back(key);
    }
    const Prediction p = predict_latency(names, keys, t);
    require(p.ok() && p.units.size() == keys.size(), "every unit of the table predicts");
    require(!(p.rel.low > p.rel.estimate) && !(p.rel.estimate > p.rel.high), "the interval holds the estimate");
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool numbers(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  if (auto d = parse_double(text)) require(std::isfinite(*d), "finite doubles");
  parse_int(text);
  if (auto b = parse_bytes(text)) require(*b >= 0, "non-negative sizes");
  try {
    parse_decimal(text, "x");
  } catch (const Error&) {
  }
  closest_match(text.substr(0, 64), {"table", "describe", "bench", "search"});
  return true;
}

namespace {

// A fixed folder of files, folders, symlinks (to a file, to a folder, dangling, a loop) and a FIFO,
// made afresh for every input so that what one input wrote cannot steer the next.
const std::string& reset_sandbox() {
  static const std::string root = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "effscale-fuzz-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    char real[PATH_MAX];
    return std::string(::realpath(pattern.c_str(), real) ? real : pattern.c_str());
  }();
  std::filesystem::remove_all(root + "/s");
  std::filesystem::create_directories(root + "/s/d");
  std::ofstream(root + "/s/f") << "file\n";
  std::ofstream(root + "/s/d/g") << "nested\n";
  std::filesystem::create_symlink("f", root + "/s/lf");
  std::filesystem::create_directory_symlink("d", root + "/s/ld");
  std::filesystem::create_symlink("nowhere", root + "/s/lx");
  std::filesystem::create_symlink("lb", root + "/s/la");
  std::filesystem::create_symlink("la", root + "/s/lb");
  ::mkfifo((root + "/s/p").c_str(), 0644);
  static const std::string s = root + "/s";
  return s;
}

}  // namespace

bool output_path(const std::uint8_t* data, std::size_t size) {
  const std::string& box = reset_sandbox();
  const auto lines = split(as_text(data, size), '\n');
  std::vector<std::string> paths;
  for (size_t i = 0; i < lines.size() && i < 2; ++i) {
    std::string_view p = lines[i];
    while (!p.empty() && p.front() == '/') p.remove_prefix(1);
    if (p.empty() || p.find("..") != std::string_view::npos || p.size() > 200) return false;
    paths.push_back(box + "/" + std::string(p));
  }
  if (paths.empty()) return false;
  try {
    std::vector<std::pair<std::string, std::string>> outputs;
    for (const auto& p : paths) outputs.emplace_back("output", p);
    check_distinct_paths(outputs, {{"input", box + "/d/g"}});
    OutputFile out(paths[0], "output");
    if (!out.is_stream()) {
      out.write("written\n");
      // The file written is a regular file inside the sandbox, holding what was written; no
      // temporary file is left beside it.
      char real[PATH_MAX];
      require(::realpath(out.target().c_str(), real) != nullptr, "the written file exists");
      require(std::string(real).rfind(box + "/", 0) == 0, "the written file is inside the sandbox");
      struct stat st {};
      require(::lstat(real, &st) == 0 && S_ISREG(st.st_mode), "a regular file was written");
      for (const auto& e : std::filesystem::recursive_directory_iterator(box))
        require(e.path().filename().string().find(".effscale-") == std::string::npos, "no temporary file left");
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

const std::vector<NamedTarget>& targets() {
  static const std::vector<NamedTarget> all = {
      {"baseline_file", baseline_file}, {"block_string", block_string}, {"grid", grid},
      {"accuracy_csv", accuracy_csv},   {"report_csv", report_csv},     {"numbers", numbers},
      {"from_report", from_report},     {"output_path", output_path},     {"latency_table", latency_table},
  };
  return all;
}

}  // namespace effscale::fuzz
