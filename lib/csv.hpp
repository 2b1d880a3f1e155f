#pragma once
// Reading CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF). Writing is in report/.

#include <string>
#include <string_view>
#include <vector>

namespace effscale {

/// Rows of fields. Throws Error "<source>:<line>: ..." on an unterminated quote or text after a
/// closing quote. A trailing newline does not make an empty row; blank lines are skipped.
std::vector<std::vector<std::string>> parse_csv(std::string_view text, std::string_view source);

}  // namespace effscale
