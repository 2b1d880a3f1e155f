#pragma once
// Ctrl-C handling for long runs: the first SIGINT, SIGTERM or SIGHUP (a dropped ssh session) sets a
// flag that the work polls, so it can stop cleanly and keep what it finished; a second one
// terminates at once.

#include <atomic>

namespace effscale {

/// While alive, SIGINT, SIGTERM and SIGHUP set interrupted() instead of killing the process.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  /// The flag the signal handler sets; pass it to loops that should stop early.
  static const std::atomic<bool>& flag();
  static bool interrupted() { return flag().load(); }

  /// Sets the flag as a signal would (tests).
  static void raise_for_testing();
};

}  // namespace effscale
