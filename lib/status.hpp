#pragma once
// Whether a row of a report (a candidate, a strategy's model) could be evaluated, and why not.

#include <string>
#include <string_view>

namespace effscale {

/// What happened to a row.
enum class RowState {
  kOk,       ///< evaluated
  kSkipped,  ///< not attempted: out of the ranges effscale builds, or over --max-memory
  kFailed,   ///< attempted and failed (oneDNN refused a layer, ...)
};

/// A row's state and, unless ok, the reason.
struct RowStatus {
  RowState state = RowState::kOk;
  std::string reason;

  bool ok() const { return state == RowState::kOk; }
  static RowStatus skipped(std::string why) { return {RowState::kSkipped, std::move(why)}; }
  static RowStatus failed(std::string why) { return {RowState::kFailed, std::move(why)}; }
  /// "ok", "skipped: <reason>" or "failed: <reason>": the report's status column.
  std::string text() const;
  /// Reads text(); throws Error for anything else.
  static RowStatus parse(std::string_view text);
};

}  // namespace effscale
