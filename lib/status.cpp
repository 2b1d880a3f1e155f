#include "status.hpp"

#include <fmt/format.h>

#include "error.hpp"

namespace effscale {

std::string RowStatus::text() const {
  switch (state) {
    case RowState::kOk: return "ok";
    case RowState::kSkipped: return "skipped: " + reason;
    case RowState::kFailed: return "failed: " + reason;
  }
  return "ok";
}

RowStatus RowStatus::parse(std::string_view text) {
  if (text == "ok") return {};
  for (auto [prefix, state] : {std::pair<std::string_view, RowState>{"skipped: ", RowState::kSkipped},
                               std::pair<std::string_view, RowState>{"failed: ", RowState::kFailed}}) {
    if (text.substr(0, prefix.size()) == prefix) return {state, std::string(text.substr(prefix.size()))};
  }
  throw Error(fmt::format("status '{}' is not 'ok', 'skipped: <reason>' or 'failed: <reason>'", text));
}

}  // namespace effscale
