#include "latency_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

#include "error.hpp"
#include "onnx_export.hpp"
#include "text.hpp"

extern char** environ;

namespace effscale {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Calls f(start, end, word) for every "{word}" of text (word: letters, digits, '_'), skipping
// "${word}" (the shell's).
template <typename F>
void for_each_braced_word(const std::string& text, F f) {
  for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
    if (open > 0 && text[open - 1] == '$') continue;
    size_t end = open + 1;
    while (end < text.size() && word_char(text[end])) ++end;
    if (end == open + 1 || end >= text.size() || text[end] != '}') continue;
    f(open, end + 1, text.substr(open + 1, end - open - 1));
  }
}

// Keeps the last kCommandTail bytes of a stream.
void append_tail(std::string& tail, const char* data, size_t n) {
  tail.append(data, n);
  if (tail.size() > 2 * kCommandTail) tail.erase(0, tail.size() - kCommandTail);
}

void trim_tail(std::string& tail) {
  if (tail.size() > kCommandTail) tail.erase(0, tail.size() - kCommandTail);
}

}  // namespace

const std::vector<std::string>& latency_command_placeholders() {
  static const std::vector<std::string> names = {"onnx", "resolution", "threads", "batch"};
  return names;
}

void check_latency_command(const std::string& text) {
  if (trim(text).empty()) throw Error("--latency-cmd is empty: give a command such as 'node scripts/ort_latency.js {onnx} {resolution} {threads}'");
  if (text.size() > 4096) throw Error(fmt::format("--latency-cmd is {} characters long; at most 4096", text.size()));
  if (text.find('\0') != std::string::npos) throw Error("--latency-cmd contains a NUL character");
  bool onnx = false;
  const auto& known = latency_command_placeholders();
  for_each_braced_word(text, [&](size_t, size_t, const std::string& word) {
    if (word == "onnx") onnx = true;
    if (std::find(known.begin(), known.end(), word) != known.end()) return;
    const std::string hint = closest_match(word, known);
    if (!hint.empty())
      throw Error(fmt::format("--latency-cmd: unknown placeholder {{{}}}; did you mean {{{}}}? (placeholders: {{onnx}}, "
                              "{{resolution}}, {{threads}}, {{batch}})",
                              word, hint));
  });
  if (!onnx)
    throw Error("--latency-cmd has no {onnx}: the command must name the model it times, e.g. "
                "'node scripts/ort_latency.js {onnx} {resolution} {threads}'");
}

std::string expand_latency_command(const std::string& text, const CommandValues& v) {
  std::string out;
  size_t copied = 0;
  for_each_braced_word(text, [&](size_t start, size_t end, const std::string& word) {
    std::string value;
    if (word == "onnx") value = shell_quote(v.onnx);
    else if (word == "resolution") value = std::to_string(v.resolution);
    else if (word == "threads") value = std::to_string(v.threads);
    else if (word == "batch") value = std::to_string(v.batch);
    else return;
    out.append(text, copied, start - copied);
    out += value;
    copied = end;
  });
  out.append(text, copied, std::string::npos);
  return out;
}

CommandRun run_command(const std::string& command_line, double timeout_seconds, const std::atomic<bool>* stop) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw runtime_failure(fmt::format("cannot make a pipe: {}", std::strerror(errno)));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw runtime_failure(fmt::format("cannot make a pipe: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own process group: killed as a whole
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT}) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::string shell = "/bin/sh", dash_c = "-c", line = command_line;
  char* argv[] = {shell.data(), dash_c.data(), line.data(), nullptr};
  pid_t pid = -1;
  const double start = now_seconds();
  const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw runtime_failure(fmt::format("cannot start /bin/sh: {}", std::strerror(rc)));
  }

  CommandRun r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* tails[2] = {&r.out, &r.err};
  int open_fds = 2;
  bool exited = false, killed = false;
  int status = 0;
  double kill_time = 0, exit_time = 0;
  char buffer[8192];
  while (true) {
    if (!exited) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) {
        exited = true;
        exit_time = now_seconds();
      }
    }
    // Done when the command has exited and its pipes are closed, or (something it left running
    // holds them) half a second after it exited.
    if (exited && (open_fds == 0 || now_seconds() - exit_time > 0.5)) break;
    const double t = now_seconds();
    if (!killed && (t - start > timeout_seconds || (stop && stop->load(std::memory_order_relaxed)))) {
      (t - start > timeout_seconds ? r.timed_out : r.stopped) = true;
      ::kill(-pid, SIGTERM);
      killed = true;
      kill_time = t;
    }
    if (killed && t - kill_time > 2.0) ::kill(-pid, SIGKILL);
    if (open_fds == 0) {
      ::usleep(10000);
      continue;
    }
    const int ready = ::poll(fds, 2, 50);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        append_tail(*tails[i], buffer, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& fd : fds)
    if (fd.fd >= 0) ::close(fd.fd);
  ::kill(-pid, SIGKILL);  // anything the command left running in its group
  if (!exited) ::waitpid(pid, &status, 0);
  trim_tail(r.out);
  trim_tail(r.err);
  r.seconds = now_seconds() - start;
  if (WIFEXITED(status)) r.status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

std::string last_line(const std::string& text) {
  size_t end = text.size();
  while (end > 0) {
    const size_t start = text.rfind('\n', end - 1);
    const size_t from = start == std::string::npos ? 0 : start + 1;
    std::string line(trim(std::string_view(text).substr(from, end - from)));
    if (!line.empty()) {
      for (char& c : line)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';
      return line.size() > 200 ? line.substr(0, 197) + "..." : line;
    }
    if (start == std::string::npos) break;
    end = start;
  }
  return {};
}

double parse_latency_output(const std::string& out) {
  const std::string line = last_line(out);
  if (line.empty())
    throw runtime_failure("the command printed nothing on stdout (its last line must hold median_ms=X or be a number of "
                          "milliseconds)");
  // A median_ms=X word anywhere on the line (other words are the command's own), else the whole
  // line is the number.
  std::optional<std::string_view> value;
  for (std::string_view word : split(line, ' ')) {
    word = trim(word);
    if (word.rfind("median_ms=", 0) == 0) value = word.substr(10);
  }
  const auto ms = parse_double(trim(value.value_or(std::string_view(line))));
  if (!ms || !std::isfinite(*ms) || *ms <= 0 || *ms > 1e9)
    throw runtime_failure(fmt::format("the command's last line '{}' is not a latency (it must hold median_ms=X or be a "
                                      "number of milliseconds, > 0)",
                                      line));
  return *ms;
}

CommandTimer::CommandTimer(std::function<Graph(int)> graph_of, LatencyCommand command, int threads, int batch,
                           std::uint64_t seed, const std::atomic<bool>* stop)
    : graph_of_(std::move(graph_of)),
      command_(std::move(command)),
      threads_(threads),
      batch_(batch),
      seed_(seed),
      stop_(stop),
      start_(now_seconds()) {
  check_latency_command(command_.text);
  std::string pattern = (std::filesystem::temp_directory_path() / "effscale-latency-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw runtime_failure(fmt::format("cannot make a temporary folder for the ONNX models: {}", std::strerror(errno)));
  folder_ = pattern;
}

CommandTimer::~CommandTimer() {
  for (const auto& [id, e] : exported_) ::unlink(e.path.c_str());
  ::rmdir(folder_.c_str());
}

std::vector<std::string> CommandTimer::load(const std::vector<int>& ids) {
  std::vector<std::string> failures;
  for (int id : ids) {
    if (exported_.count(id)) {
      failures.emplace_back();
      continue;
    }
    try {
      const Graph graph = graph_of_(id);
      OnnxExportOptions options;
      options.seed = seed_;
      options.graph_name = id == kReference ? "reference" : fmt::format("network{}", id);
      const std::string bytes = export_onnx(graph, options);
      Exported e;
      e.path = fmt::format("{}/{}.onnx", folder_, id == kReference ? "reference" : fmt::format("network{}", id));
      e.resolution = graph.tensors.at(0).h;
      e.bytes = static_cast<std::int64_t>(bytes.size());
      // Our own fresh folder: a new file, never one that exists.
      const int fd = ::open(e.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (fd < 0) throw runtime_failure(fmt::format("cannot write {}: {}", e.path, std::strerror(errno)));
      size_t written = 0;
      while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          const int saved = errno;
          ::close(fd);
          ::unlink(e.path.c_str());
          throw runtime_failure(fmt::format("cannot write {}: {}", e.path, std::strerror(saved)));
        }
        written += static_cast<size_t>(n);
      }
      if (::close(fd) != 0) {
        ::unlink(e.path.c_str());
        throw runtime_failure(fmt::format("cannot write {}: {}", e.path, std::strerror(errno)));
      }
      exported_[id] = e;
      failures.emplace_back();
    } catch (const std::exception& e) {
      failures.emplace_back(fmt::format("ONNX export failed: {}", e.what()));
    }
  }
  return failures;
}

void CommandTimer::unload(const std::vector<int>& ids) {
  // A command run is a fresh build anyway: the files stay for the next replicate, as long as they
  // add up to at most kKeptModelBytes (the folder may be a tmpfs, in RAM).
  std::int64_t kept = 0;
  for (const auto& [id, e] : exported_) kept += e.bytes;
  if (kept <= kKeptModelBytes) return;
  for (int id : ids) {
    const auto it = exported_.find(id);
    if (it == exported_.end()) continue;
    ::unlink(it->second.path.c_str());
    exported_.erase(it);
  }
}

double CommandTimer::run(int id) {
  const auto it = exported_.find(id);
  if (it == exported_.end()) throw std::logic_error("CommandTimer::run before load");
  const std::string line = expand_latency_command(command_.text, {it->second.path, it->second.resolution, threads_, batch_});
  const CommandRun r = run_command(line, command_.timeout_seconds, stop_);
  ++runs_;
  if (r.stopped) throw runtime_failure("interrupted");
  const std::string err = last_line(r.err);
  const std::string why = err.empty() ? "" : fmt::format(" (stderr: {})", err);
  if (r.timed_out) throw runtime_failure(fmt::format("the latency command timed out after {} s{}", command_.timeout_seconds, why));
  if (r.signal) throw runtime_failure(fmt::format("the latency command was killed by signal {}{}", r.signal, why));
  if (r.status != 0) throw runtime_failure(fmt::format("the latency command exited with status {}{}", r.status, why));
  try {
    return parse_latency_output(r.out);
  } catch (const Error& e) {
    throw runtime_failure(e.what() + why);
  }
}

double CommandTimer::seconds() { return now_seconds() - start_; }

double CommandTimer::foreign_cpu_seconds() {
  // Nothing of this process runs the networks: all of its CPU time is foreign to them.
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

}  // namespace effscale
