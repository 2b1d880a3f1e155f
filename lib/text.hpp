#pragma once
// Strict parsing of numbers and small text helpers shared by every parser of user input.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace effscale {

/// A finite decimal number spelled completely by `text` ("1.15", "2", "1e-3"); nothing else
/// (no spaces, no "nan", no "inf", no trailing characters).
std::optional<double> parse_double(std::string_view text);

/// A decimal integer spelled completely by `text`, within int64.
std::optional<std::int64_t> parse_int(std::string_view text);

/// Like parse_double, but throws Error "<what>: '<text>' is not a number".
double require_double(std::string_view text, std::string_view what);

/// Like parse_int, but throws Error "<what>: '<text>' is not an integer".
std::int64_t require_int(std::string_view text, std::string_view what);

/// A byte count with an optional binary suffix: "512M", "8G", "1.5GiB", "1000000".
std::optional<std::int64_t> parse_bytes(std::string_view text);

/// Splits on `sep`, keeping empty fields.
std::vector<std::string_view> split(std::string_view text, char sep);

/// Removes leading and trailing blanks (space, tab, CR, LF).
std::string_view trim(std::string_view text);

/// The shortest decimal spelling that reads back as the same double ("1.15", "0.25", "2").
std::string shortest(double value);

/// shortest(value) appended to `out` (no string of its own).
void append_shortest(std::string& out, double value);

/// Three significant figures with a fixed unit scale: human(5288548, 1e6) == "5.29",
/// human(385.8e6, 1e9) == "0.386".
std::string human(double value, double unit);

/// Three significant figures with the unit chosen by size: "928", "3.61K", "10.8M", "1.83B".
std::string human_si(double value);

/// A byte count as "12.3 MiB" / "1.50 GiB".
std::string human_bytes(std::int64_t bytes);

/// Levenshtein distance, for "did you mean" suggestions.
int edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// `word` as one word for /bin/sh: as it is when it holds only letters, digits and _./:,=+@%-,
/// else in single quotes (a quote inside becomes '\'').
std::string shell_quote(std::string_view word);

/// Joins strings with a separator.
std::string join(const std::vector<std::string>& parts, std::string_view sep);

}  // namespace effscale
