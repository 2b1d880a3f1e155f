#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>

#include "cli.hpp"

namespace {

// Writes a whole C string to stderr with raw syscalls (usable before libc is initialized).
void say(const char* text) {
  size_t n = std::strlen(text);
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, text, n);
    if (w <= 0) return;
    text += w;
    n -= static_cast<size_t>(w);
  }
}

bool positive_integer_list(const char* v) {  // "4" or "4,2"
  if (!*v) return false;
  bool digit = false;
  for (; *v; ++v) {
    if (*v >= '0' && *v <= '9') {
      digit = true;
    } else if (*v == ',' && digit) {
      digit = false;
    } else {
      return false;
    }
  }
  return digit;
}

bool one_of(const char* v, std::initializer_list<const char*> words) {
  for (const char* w : words)
    if (strcasecmp(v, w) == 0) return true;
  return false;
}

// Runs from the executable's .preinit_array, before any shared library's initializer: libgomp
// reads the OpenMP environment in its own initializer and prints a warning line of its own for a
// bad value. Checked here first, a bad value is one effscale error line and exit status 2.
void check_openmp_environment(int, char**, char** envp) {
  for (char** e = envp; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    const std::string_view name(*e, static_cast<size_t>(eq - *e));
    const char* value = eq + 1;
    bool ok = true;
    if (name == "OMP_NUM_THREADS" || name == "OMP_THREAD_LIMIT") ok = positive_integer_list(value);
    else if (name == "OMP_DYNAMIC") ok = one_of(value, {"true", "false"});
    else if (name == "OMP_WAIT_POLICY") ok = one_of(value, {"active", "passive"});
    else continue;
    if (ok) continue;
    say("effscale: error: environment variable ");
    say(std::string(name).c_str());
    say(" has an invalid value for OpenMP (unset it; effscale sets its threads with --threads)\n");
    ::_exit(2);
  }
}

__attribute__((section(".preinit_array"), used)) void (*const preinit_check)(int, char**, char**) =
    &check_openmp_environment;

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  // Descriptors 0-2 must be open, or a file this run opens could land on one of them (and then
  // "standard output" would write into a report). A closed standard output stays an error to write.
  const bool stdout_open = ::fcntl(STDOUT_FILENO, F_GETFD) != -1;
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) == -1) ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

  // Standard output is collected and written at the end, so that a write error (a full disk, a
  // closed descriptor) is seen and becomes exit status 1. A closed pipe still ends the process by
  // SIGPIPE, as for any filter.
  std::ostringstream out;
  effscale::Io io{out, std::cerr, ::isatty(STDERR_FILENO) == 1};
  int status = effscale::run_cli(std::vector<std::string>(argv + 1, argv + argc), io);
  const std::string text = out.str();
  size_t written = 0;
  int error = stdout_open ? 0 : EBADF;
  while (error == 0 && written < text.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = errno;
    else written += static_cast<size_t>(n);
  }
  if (error != 0 && !text.empty()) {
    std::cerr << "effscale: error: cannot write to standard output: " << std::strerror(error) << '\n';
    if (status == effscale::kExitOk) status = effscale::kExitRuntime;
  }
  return status;
}
