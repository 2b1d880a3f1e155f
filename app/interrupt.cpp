#include "interrupt.hpp"

#include <csignal>

namespace effscale {

namespace {

std::atomic<bool> g_interrupted{false};
struct sigaction g_old_int, g_old_term, g_old_hup;

extern "C" void on_signal(int signal) {
  if (g_interrupted.exchange(true)) {
    // Second signal: the user insists; die the default way.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupted = false;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  sigaction(SIGHUP, &sa, &g_old_hup);  // an ssh session that drops: keep what was measured
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGHUP, &g_old_hup, nullptr);
}

const std::atomic<bool>& InterruptGuard::flag() { return g_interrupted; }

void InterruptGuard::raise_for_testing() { g_interrupted = true; }

}  // namespace effscale
