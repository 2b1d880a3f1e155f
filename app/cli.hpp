#pragma once
// The effscale command line: a table of subcommands and the one place where errors become
// "effscale: error: ..." and an exit status.

#include <ostream>
#include <string>
#include <vector>

namespace effscale {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;   ///< the work failed (I/O, oneDNN, resources)
inline constexpr int kExitUsage = 2;     ///< bad options, values or input files
inline constexpr int kExitInterrupted = 130;

/// Streams of one CLI invocation; tests pass string streams.
struct Io {
  std::ostream& out;
  std::ostream& err;
  bool err_is_terminal = false;  ///< progress lines go to err only when it is a terminal
};

/// A subcommand: `args[0]` is its name, the rest its arguments.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args, Io& io);
};

/// Every subcommand, in help order.
const std::vector<Command>& commands();

/// Runs effscale with `args` (without the program name) and returns the exit status. Never
/// throws: errors print one line on io.err.
int run_cli(const std::vector<std::string>& args, Io& io);

int cmd_table(const std::vector<std::string>& args, Io& io);
int cmd_describe(const std::vector<std::string>& args, Io& io);
int cmd_bench(const std::vector<std::string>& args, Io& io);
int cmd_predict(const std::vector<std::string>& args, Io& io);
int cmd_search(const std::vector<std::string>& args, Io& io);
int cmd_merge(const std::vector<std::string>& args, Io& io);
int cmd_compare(const std::vector<std::string>& args, Io& io);
int cmd_export(const std::vector<std::string>& args, Io& io);
int cmd_run(const std::vector<std::string>& args, Io& io);
int cmd_diff(const std::vector<std::string>& args, Io& io);
int cmd_baselines(const std::vector<std::string>& args, Io& io);

}  // namespace effscale
