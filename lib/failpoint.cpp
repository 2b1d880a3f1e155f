#include "failpoint.hpp"

#include <cstdlib>

#include "text.hpp"

namespace effscale {

bool failpoint(std::string_view name) {
  const char* list = std::getenv("EFFSCALE_FAILPOINTS");
  if (!list || !*list) return false;
  for (auto item : split(list, ',')) {
    if (trim(item) == name) return true;
  }
  return false;
}

}  // namespace effscale
