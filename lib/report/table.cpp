#include "report/table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <string_view>

#include "text.hpp"

namespace effscale {

namespace {

// cell_text(cell) appended to `out`.
void append_cell_text(std::string& out, const Cell& cell) {
  if (std::holds_alternative<std::int64_t>(cell)) {
    fmt::format_to(std::back_inserter(out), "{}", std::get<std::int64_t>(cell));
  } else if (std::holds_alternative<double>(cell)) {
    const double v = std::get<double>(cell);
    if (std::isfinite(v)) append_shortest(out, v);
  } else if (std::holds_alternative<std::string>(cell)) {
    out += std::get<std::string>(cell);
  } else if (std::holds_alternative<Boolean>(cell)) {
    out += std::get<Boolean>(cell).value ? "true" : "false";
  } else if (std::holds_alternative<Numeral>(cell)) {
    out += std::get<Numeral>(cell).text;
  }
}

// csv_field(text) appended to `out`.
void append_csv_field(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) {
    out += text;
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// csv_field(cell_text(cell)) appended to `out`, without a string per number (reports have
// millions of cells): only text can need quotes.
void append_csv_cell(std::string& out, const Cell& cell) {
  if (std::holds_alternative<std::string>(cell)) append_csv_field(out, std::get<std::string>(cell));
  else if (std::holds_alternative<Numeral>(cell)) append_csv_field(out, std::get<Numeral>(cell).text);
  else append_cell_text(out, cell);
}

}  // namespace

std::string cell_text(const Cell& cell) {
  std::string s;
  append_cell_text(s, cell);
  return s;
}

std::string csv_field(const std::string& text) {
  std::string s;
  append_csv_field(s, text);
  return s;
}

void write_csv(const DataTable& table, std::ostream& out) {
  std::string text;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) text += ',';
    append_csv_field(text, table.columns[i]);
  }
  text += '\n';
  for (const auto& row : table.rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) text += ',';
      append_csv_cell(text, row[i]);
    }
    text += '\n';
    if (text.size() > (1u << 20)) {
      out << text;
      text.clear();
    }
  }
  out << text;
}

std::string json_string(const std::string& text) {
  std::string s = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': s += "\\\""; break;
      case '\\': s += "\\\\"; break;
      case '\n': s += "\\n"; break;
      case '\r': s += "\\r"; break;
      case '\t': s += "\\t"; break;
      default:
        if (c < 0x20) s += fmt::format("\\u{:04x}", c);
        else s += static_cast<char>(c);
    }
  }
  s += '"';
  return s;
}

namespace {

std::string json_value(const Cell& cell) {
  if (std::holds_alternative<std::string>(cell)) return json_string(std::get<std::string>(cell));
  if (std::holds_alternative<Numeral>(cell)) {
    // A numeral that is not a plain decimal would break the JSON: print it as a string then.
    const std::string& t = std::get<Numeral>(cell).text;
    const bool plain = !t.empty() && t.find_first_not_of("0123456789.-") == std::string::npos &&
                       std::isdigit(static_cast<unsigned char>(t.back()));
    return plain ? t : json_string(t);
  }
  if (std::holds_alternative<std::monostate>(cell)) return "null";
  if (std::holds_alternative<double>(cell) && !std::isfinite(std::get<double>(cell))) return "null";
  return cell_text(cell);
}

}  // namespace

void write_json_tables(std::ostream& out, const std::vector<std::pair<std::string, Cell>>& meta,
                       const std::vector<std::pair<std::string, DataTable>>& tables) {
  out << "{";
  bool first = true;
  for (const auto& [key, value] : meta) {
    out << (first ? "\n  " : ",\n  ") << json_string(key) << ": " << json_value(value);
    first = false;
  }
  for (const auto& [key, table] : tables) {
    out << (first ? "\n  " : ",\n  ") << json_string(key) << ": [";
    first = false;
    for (size_t r = 0; r < table.rows.size(); ++r) {
      out << (r ? ",\n    {" : "\n    {");
      const auto& row = table.rows[r];
      for (size_t i = 0; i < table.columns.size() && i < row.size(); ++i) {
        out << (i ? ", " : "") << json_string(table.columns[i]) << ": " << json_value(row[i]);
      }
      out << "}";
    }
    out << (table.rows.empty() ? "]" : "\n  ]");
  }
  out << "\n}\n";
}

void write_json(const DataTable& table, std::ostream& out, const std::string& rows_key,
                const std::vector<std::pair<std::string, Cell>>& meta) {
  write_json_tables(out, meta, {{rows_key, table}});
}

void write_text(const TextTable& table, std::ostream& out) {
  const size_t n = table.headers.size();
  std::vector<size_t> width(n, 0);
  auto visible = [](const std::string& s) {
    // UTF-8: count code points, not bytes, so "Δ" and "×" align.
    size_t count = 0;
    for (unsigned char c : s) count += (c & 0xC0) != 0x80;
    return count;
  };
  for (size_t i = 0; i < n; ++i) width[i] = visible(table.headers[i]);
  for (const auto& row : table.rows)
    for (size_t i = 0; i < row.size() && i < n; ++i) width[i] = std::max(width[i], visible(row[i]));
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < n; ++i) {
      const std::string cell = i < row.size() ? row[i] : std::string();
      const size_t pad = width[i] - visible(cell);
      const bool right = i < table.right_aligned.size() && table.right_aligned[i];
      if (i) line += "  ";
      if (right) line += std::string(pad, ' ') + cell;
      else line += cell + (i + 1 < n ? std::string(pad, ' ') : std::string());
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  print_row(table.headers);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += width[i] + (i ? 2 : 0);
  out << std::string(total, '-') << '\n';
  for (const auto& row : table.rows) {
    if (row.empty()) out << '\n';
    else print_row(row);
  }
}

}  // namespace effscale
