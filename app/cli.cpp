#include "cli.hpp"

#include <cxxopts.hpp>
#include <fmt/format.h>

#include <new>

#include "error.hpp"
#include "text.hpp"

#ifndef EFFSCALE_VERSION
#define EFFSCALE_VERSION "dev"
#endif

namespace effscale {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"table", "params, MACs, FLOPs and memory of EfficientNet B0-B7 or any scaled model", cmd_table},
      {"describe", "every layer of one scaled model, per-stage totals, depthwise/pointwise split",
       cmd_describe},
      {"bench", "build scaled models with oneDNN and measure their latency (median, p10, p90)", cmd_bench},
      {"predict", "predict models' latency from this machine's unit latency table, beside the measured latency",
       cmd_predict},
      {"search", "grid-search alpha, beta, gamma under alpha*beta^2*gamma^2 ~ 2: cost, latency, ranking", cmd_search},
      {"merge", "join the reports of a sharded search and re-rank", cmd_merge},
      {"compare", "scaling strategies side by side (compound, official, width, depth, resolution, uniform, fast)",
       cmd_compare},
      {"export", "write one scaled model as a baseline file, timm/torchvision arguments or an ONNX model", cmd_export},
      {"run", "one forward pass of a model's oneDNN network on a raw float32 input (checks an export)", cmd_run},
      {"diff", "do two runs agree? rank correlation, differences and ties of two search or compare reports", cmd_diff},
      {"baselines", "list the built-in baselines, or print one in the baseline-file format",
       cmd_baselines},
  };
  return table;
}

namespace {

// Arguments this long are a mistake (or an attack on the option parser's regex, which overflows
// its stack near 30,000 characters).
constexpr size_t kMaxArgumentBytes = 4096;

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 4;
    if (n == 4 || i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

void print_usage(std::ostream& out) {
  out << "effscale " EFFSCALE_VERSION
         " - EfficientNet-style compound model scaling, measured on real hardware\n\n"
         "usage: effscale <command> [options]\n\ncommands:\n";
  for (const auto& c : commands()) out << fmt::format("  {:<10} {}\n", c.name, c.summary);
  out << "\nRun 'effscale <command> --help' for a command's options.\n";
}

std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const auto& c : commands()) names.emplace_back(c.name);
  return names;
}

}  // namespace

std::string one_line(std::string message) {
  for (auto& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  return message;
}

void check_arguments(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > kMaxArgumentBytes)
      throw Error(fmt::format("argument {} is {} bytes long; effscale takes arguments of at most {} bytes", i + 1,
                              a.size(), kMaxArgumentBytes));
    if (!valid_utf8(a)) throw Error(fmt::format("argument {} is not valid UTF-8 text", i + 1));
  }
}

int run_cli(const std::vector<std::string>& args, Io& io) {
  try {
    check_arguments(args);
    if (args.empty()) {
      print_usage(io.err);
      return kExitUsage;
    }
    const std::string& name = args[0];
    if (name == "-h" || name == "--help" || name == "help") {
      if (name == "help" && args.size() > 1) return run_cli({args[1], "--help"}, io);
      print_usage(io.out);
      return kExitOk;
    }
    if (name == "--version" || name == "version") {
      io.out << "effscale " EFFSCALE_VERSION "\n";
      return kExitOk;
    }
    for (const auto& c : commands()) {
      if (name == c.name) return c.run(args, io);
    }
    std::string hint = closest_match(name, command_names());
    throw Error(fmt::format("unknown command '{}'{} (commands: {}; see 'effscale --help')", name,
                            hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint),
                            join(command_names(), ", ")));
  } catch (const Error& e) {
    io.err << "effscale: error: " << one_line(e.what()) << '\n';
    return e.kind() == ErrorKind::kUsage ? kExitUsage : kExitRuntime;
  } catch (const cxxopts::exceptions::exception& e) {
    io.err << "effscale: error: " << one_line(e.what()) << '\n';
    return kExitUsage;
  } catch (const std::bad_alloc&) {
    io.err << "effscale: error: out of memory\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    io.err << "effscale: error: " << one_line(e.what()) << '\n';
    return kExitRuntime;
  }
}

}  // namespace effscale
