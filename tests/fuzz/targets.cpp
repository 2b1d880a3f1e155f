#include "targets.hpp"

#include <cmath>
#include <stdexcept>
#include <string_view>

#include "cost.hpp"
#include "error.hpp"
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

void baseline_file(const std::uint8_t* data, std::size_t size) {
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
  } catch (const Error&) {
  }
}

void block_string(const std::uint8_t* data, std::size_t size) {
  try {
    const BlockArgs a = parse_block_string(as_text(data, size));
    require(parse_block_string(encode_block_string(a)) == a, "block string round-trip");
  } catch (const Error&) {
  }
}

void grid(const std::uint8_t* data, std::size_t size) {
  try {
    const auto lines = split(as_text(data, size), '\n');
    if (lines.size() < 3) return;
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
    if (c.target.units == 0) return;
    if (static_cast<double>(a.size()) * static_cast<double>(b.size()) * static_cast<double>(g.size()) > 20000) return;
    for (const auto& candidate : enumerate_candidates(a, b, g, c)) {
      const double p = candidate.product_value, t = c.target.value(), tol = c.tolerance.value();
      require(std::fabs(p - t) <= tol * t * (1 + 1e-9) + 1e-12, "candidate satisfies the constraint");
    }
  } catch (const Error&) {
  }
}

void accuracy_csv(const std::uint8_t* data, std::size_t size) {
  try {
    for (const auto& [key, top1] : parse_accuracy(as_text(data, size), "fuzz")) {
      require(top1 > 0 && top1 <= 100, "top1 in range");
    }
  } catch (const Error&) {
  }
}

void report_csv(const std::uint8_t* data, std::size_t size) {
  try {
    const Report r = parse_report(as_text(data, size), "fuzz");
    // Written again, a report reads back the same, and writes the same bytes.
    const std::string once = format_report(r.header, r.results, Objective::kMacsError, {});
    const Report back = parse_report(once, "fuzz-again");
    require(back.results.size() == r.results.size(), "report rows round-trip");
    require(format_report(back.header, back.results, Objective::kMacsError, {}) == once, "report text round-trip");
  } catch (const Error&) {
  }
}

void numbers(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  if (auto d = parse_double(text)) require(std::isfinite(*d), "finite doubles");
  parse_int(text);
  if (auto b = parse_bytes(text)) require(*b >= 0, "non-negative sizes");
  try {
    parse_decimal(text, "x");
  } catch (const Error&) {
  }
  closest_match(text.substr(0, 64), {"table", "describe", "bench", "search"});
}

const std::vector<NamedTarget>& targets() {
  static const std::vector<NamedTarget> all = {
      {"baseline_file", baseline_file}, {"block_string", block_string}, {"grid", grid},
      {"accuracy_csv", accuracy_csv},   {"report_csv", report_csv},     {"numbers", numbers},
  };
  return all;
}

}  // namespace effscale::fuzz
