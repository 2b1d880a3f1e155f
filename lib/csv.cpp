#include "csv.hpp"

#include <fmt/format.h>

#include "error.hpp"

namespace effscale {

std::vector<std::vector<std::string>> parse_csv(std::string_view text, std::string_view source) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;       // inside a quoted field
  bool was_quoted = false;   // the current field was quoted (so it exists even if empty)
  int line = 1;
  int quote_line = 0;
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    was_quoted = false;
  };
  auto end_row = [&] {
    const bool blank = row.empty() && field.empty() && !was_quoted;
    if (!blank) {
      end_field();
      rows.push_back(std::move(row));
    }
    row.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
          if (i + 1 < text.size() && text[i + 1] != ',' && text[i + 1] != '\n' && text[i + 1] != '\r')
            throw Error(fmt::format("{}:{}: text after a closing quote", source, line));
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        if (!field.empty()) throw Error(fmt::format("{}:{}: a quote inside an unquoted field", source, line));
        quoted = was_quoted = true;
        quote_line = line;
        break;
      case ',': end_field(); break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') break;
        end_row();
        ++line;
        break;
      case '\n':
        end_row();
        ++line;
        break;
      default: field += c;
    }
  }
  if (quoted) throw Error(fmt::format("{}:{}: unterminated quoted field", source, quote_line));
  end_row();
  return rows;
}

}  // namespace effscale
