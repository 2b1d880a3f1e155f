#pragma once
// Errors thrown by the effscale library. The CLI turns them into one line on stderr.

#include <stdexcept>
#include <string>

namespace effscale {

/// Why an operation failed; decides the CLI's exit status.
enum class ErrorKind {
  kUsage,    ///< bad input from the user (option, value, file contents): exit 2
  kRuntime,  ///< the input was fine but the work failed (I/O, oneDNN, resources): exit 1
};

/// The one exception type of the library. The message names the bad value and what is allowed,
/// e.g. "width multiplier 0 is out of range (0, 16]".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ErrorKind kind = ErrorKind::kUsage)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

/// Shorthand for an error in the work rather than in the user's input.
inline Error runtime_failure(const std::string& message) {
  return Error(message, ErrorKind::kRuntime);
}

}  // namespace effscale
