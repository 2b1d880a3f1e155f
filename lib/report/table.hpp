#pragma once
// Printers of result tables: one data table (exact values) printed as CSV or JSON, and one text
// table (human units, aligned) for the terminal. Commands build the tables from result structs.

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace effscale {

/// A yes/no value of a data table (CSV "true"/"false", JSON true/false).
struct Boolean {
  bool value = false;
};

/// An exact decimal number kept as its text ("1.15", "1.92027"): CSV prints the text, JSON prints
/// it as a number (not a string), so that no digit is lost to a double.
struct Numeral {
  std::string text;
};

/// One value of a data table: empty (CSV "", JSON null), an exact integer, a number, an exact
/// decimal, text or a yes/no.
using Cell = std::variant<std::monostate, std::int64_t, double, std::string, Boolean, Numeral>;

/// Rows of exact values under lower-case column names.
struct DataTable {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

/// Text of a cell: integers exactly, doubles in their shortest round-trip form, "" for empty.
std::string cell_text(const Cell& cell);

/// RFC 4180 CSV with a header line; fields with commas, quotes or newlines are quoted.
void write_csv(const DataTable& table, std::ostream& out);

/// A CSV field, quoted when needed.
std::string csv_field(const std::string& text);

/// A JSON string literal with escapes.
std::string json_string(const std::string& text);

/// JSON: {"<meta key>": value, ..., "<rows_key>": [{column: value, ...}, ...]}.
/// Non-finite doubles become null.
void write_json(const DataTable& table, std::ostream& out, const std::string& rows_key,
                const std::vector<std::pair<std::string, Cell>>& meta = {});

/// JSON object with scalar fields followed by several named tables, each an array of row objects.
void write_json_tables(std::ostream& out, const std::vector<std::pair<std::string, Cell>>& meta,
                       const std::vector<std::pair<std::string, DataTable>>& tables);

/// A terminal table: headers, per-column alignment, rows of already formatted text. A row with
/// no cells prints as a blank separator line.
struct TextTable {
  std::vector<std::string> headers;
  std::vector<bool> right_aligned;  ///< per column; numbers are right-aligned
  std::vector<std::vector<std::string>> rows;
};

/// Aligned columns separated by two spaces, a rule under the header.
void write_text(const TextTable& table, std::ostream& out);

}  // namespace effscale
