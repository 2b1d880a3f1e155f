#pragma once
// Latency from the user's own runtime (--latency-cmd): every network, the reference too, is
// exported as ONNX into a private temporary folder and timed by a command the user gives, e.g.
//
//     node scripts/ort_latency.js {onnx} {resolution} {threads}
//
// which prints its latency in milliseconds on the last line of its stdout (a word `median_ms=X`,
// or a bare number). The measurement engine drives it as it drives oneDNN (measure.hpp): the reference and
// the candidates alternate in randomized interleaved rounds, one command run per visit (the
// command warms up and takes its own median), and each round is a replicate: every command run is
// a fresh process, so the spread between runs already holds what a fresh build would change.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "graph.hpp"
#include "measure.hpp"

namespace effscale {

/// A latency command as the user gave it.
struct LatencyCommand {
  std::string text;              ///< a /bin/sh command line with placeholders
  double timeout_seconds = 600;  ///< one run of it is killed (with its process group) after this
};

/// Runs of every network with a latency command, and replicates (one round each), unless the user
/// says otherwise: a command run costs a process start and a session, and is a median already.
inline constexpr int kCommandRuns = 5;

/// The placeholders a command may use: {onnx} (required), {resolution}, {threads}, {batch}.
const std::vector<std::string>& latency_command_placeholders();

/// Checks `text`: {onnx} present, and no {word} that looks like a misspelt placeholder (other
/// braces, such as ${VAR} or awk's {print $1}, are the shell's). Throws Error saying what to fix.
void check_latency_command(const std::string& text);

/// Values of the placeholders for one network.
struct CommandValues {
  std::string onnx;  ///< path of the model
  int resolution = 0, threads = 1, batch = 1;
};

/// `text` with its placeholders replaced: the path single-quoted for the shell, numbers as they are.
std::string expand_latency_command(const std::string& text, const CommandValues& values);

/// What one run of a shell command did.
struct CommandRun {
  int status = -1;          ///< exit status; -1 when it did not exit normally
  int signal = 0;           ///< the signal that ended it
  bool timed_out = false;   ///< killed after the timeout
  bool stopped = false;     ///< killed because `stop` was set
  std::string out, err;     ///< the last kCommandTail bytes of its stdout and stderr
  double seconds = 0;
};

/// Bytes of stdout and stderr a run keeps (the last ones).
inline constexpr std::size_t kCommandTail = 16384;

/// Runs `command_line` with /bin/sh -c in a process group of its own, stdin from /dev/null,
/// stdout and stderr captured (bounded: their tails), the environment inherited. Kills the whole
/// group (SIGTERM, then SIGKILL) after `timeout_seconds` or when `stop` is set; whatever the command
/// left running in its group when it exits is killed too. Throws Error when it cannot start.
CommandRun run_command(const std::string& command_line, double timeout_seconds, const std::atomic<bool>* stop);

/// The latency a command printed, from its last non-empty stdout line: a word `median_ms=X`
/// anywhere on it (other words are ignored), else the line is a bare number of milliseconds
/// (finite, > 0). Throws Error quoting the line otherwise.
double parse_latency_output(const std::string& out);

/// The last non-empty line of `text`, at most 200 characters (for one-line error messages).
std::string last_line(const std::string& text);

/// Exported models kept between replicates (beyond this, unload deletes them and the next load
/// exports again).
inline constexpr std::int64_t kKeptModelBytes = std::int64_t{1} << 30;

/// Times networks with a latency command. Network `id` is exported from graph_of(id) when loaded
/// (ONNX with the synthetic weights of `seed`) into a fresh folder of $TMPDIR; unload keeps the
/// files while they add up to kKeptModelBytes; the folder is removed when the timer dies. Not for
/// concurrent use.
class CommandTimer : public Timer {
 public:
  CommandTimer(std::function<Graph(int)> graph_of, LatencyCommand command, int threads, int batch, std::uint64_t seed,
               const std::atomic<bool>* stop);
  ~CommandTimer() override;
  CommandTimer(const CommandTimer&) = delete;
  CommandTimer& operator=(const CommandTimer&) = delete;

  std::vector<std::string> load(const std::vector<int>& ids) override;
  void unload(const std::vector<int>& ids) override;
  double run(int id) override;
  double seconds() override;
  double foreign_cpu_seconds() override;
  /// A command run is a whole measurement (its own warm-up and median): none is discarded.
  bool discards_first_pass() const override { return false; }

  /// The folder holding the exported models.
  const std::string& folder() const { return folder_; }
  /// Runs of the command so far.
  int runs() const { return runs_; }

 private:
  struct Exported {
    std::string path;
    int resolution = 0;
    std::int64_t bytes = 0;
  };
  std::function<Graph(int)> graph_of_;
  LatencyCommand command_;
  int threads_, batch_;
  std::uint64_t seed_;
  const std::atomic<bool>* stop_;
  std::string folder_;
  std::map<int, Exported> exported_;
  double start_;
  int runs_ = 0;
};

}  // namespace effscale
