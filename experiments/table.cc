// Renders a Table as aligned text, GitHub markdown, RFC 4180 CSV, JSON or an HTML page; formats
// doubles.
// Not here: what goes into a table (report.cc, diff.cc, main.cc).

#include "experiments/table.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "experiments/html.h"

namespace cube {
namespace {

bool is_number(const Value& value) {
  return std::holds_alternative<double>(value) || std::holds_alternative<std::int64_t>(value);
}

// A row padded with n/a to the column count; a row longer than the header is a caller bug.
std::vector<Value> padded(const std::vector<Value>& row, std::size_t columns) {
  CUBE_CHECK(row.size() <= columns,
             "table row has " << row.size() << " cells for " << columns << " columns");
  std::vector<Value> out = row;
  out.resize(columns);
  return out;
}

// A column whose cells are all numbers or n/a (with at least one number) is right-aligned,
// header and n/a included.
std::vector<bool> numeric_columns(const Table& table) {
  std::vector<bool> numeric(table.columns.size(), false);
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    bool any_number = false;
    bool all_numbers = true;
    for (const auto& row : table.rows) {
      if (c >= row.size() || std::holds_alternative<std::monostate>(row[c])) continue;
      if (is_number(row[c]))
        any_number = true;
      else
        all_numbers = false;
    }
    numeric[c] = any_number && all_numbers;
  }
  return numeric;
}

// Table cells are one line: a newline inside an error message would break the alignment.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return text;
}

// Display width: UTF-8 code points (continuation bytes 10xxxxxx do not count).
std::size_t width(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string pad(const std::string& text, std::size_t to, bool right) {
  std::string fill(to > width(text) ? to - width(text) : 0, ' ');
  return right ? fill + text : text + fill;
}

std::string render_text(const Table& table) {
  const std::size_t n = table.columns.size();
  std::vector<bool> numeric = numeric_columns(table);
  std::vector<std::vector<std::string>> cells;
  std::vector<std::vector<bool>> right;
  std::vector<std::size_t> widths(n);
  for (std::size_t c = 0; c < n; ++c) widths[c] = width(one_line(table.columns[c]));
  for (const auto& raw : table.rows) {
    std::vector<Value> row = padded(raw, n);
    std::vector<std::string> line(n);
    std::vector<bool> align(n);
    for (std::size_t c = 0; c < n; ++c) {
      line[c] = one_line(to_text(row[c]));
      align[c] = is_number(row[c]) || numeric[c];
      widths[c] = std::max(widths[c], width(line[c]));
    }
    cells.push_back(std::move(line));
    right.push_back(std::move(align));
  }
  auto emit = [&](std::ostringstream& out, const std::vector<std::string>& line,
                  const std::vector<bool>& align) {
    std::string text;
    for (std::size_t c = 0; c < n; ++c) {
      if (c > 0) text += "  ";
      text += pad(line[c], widths[c], align[c]);
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << "\n";
  };
  std::ostringstream out;
  if (!table.title.empty()) out << one_line(table.title) << "\n";
  if (n > 0) {
    std::vector<std::string> header(n), dashes(n);
    for (std::size_t c = 0; c < n; ++c) {
      header[c] = one_line(table.columns[c]);
      dashes[c] = std::string(widths[c], '-');
    }
    emit(out, header, numeric);
    emit(out, dashes, numeric);
    for (std::size_t r = 0; r < cells.size(); ++r) emit(out, cells[r], right[r]);
  }
  for (const auto& note : table.notes) out << note << "\n";
  return out.str();
}

std::string markdown_cell(const std::string& text) {
  std::string out;
  for (char c : one_line(text)) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string render_markdown(const Table& table) {
  const std::size_t n = table.columns.size();
  std::vector<bool> numeric = numeric_columns(table);
  std::ostringstream out;
  if (!table.title.empty()) out << "### " << one_line(table.title) << "\n\n";
  if (n > 0) {
    out << "|";
    for (const auto& column : table.columns) out << " " << markdown_cell(column) << " |";
    out << "\n|";
    for (std::size_t c = 0; c < n; ++c) out << (numeric[c] ? " ---: |" : " --- |");
    out << "\n";
    for (const auto& raw : table.rows) {
      out << "|";
      for (const auto& value : padded(raw, n)) out << " " << markdown_cell(to_text(value)) << " |";
      out << "\n";
    }
  }
  if (!table.notes.empty()) {
    out << "\n";
    for (const auto& note : table.notes) out << "- " << one_line(note) << "\n";
  }
  return out.str();
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_text(const Value& value) {
  if (std::holds_alternative<std::monostate>(value)) return "";
  if (const double* x = std::get_if<double>(&value)) return round_trip(*x);
  return to_text(value);
}

std::string render_csv(const Table& table) {
  const std::size_t n = table.columns.size();
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& fields) {
    for (std::size_t c = 0; c < fields.size(); ++c)
      out << (c > 0 ? "," : "") << csv_field(fields[c]);
    out << "\n";
  };
  if (n == 0) return "";
  line(table.columns);
  for (const auto& raw : table.rows) {
    std::vector<std::string> fields;
    for (const auto& value : padded(raw, n)) fields.push_back(csv_text(value));
    line(fields);
  }
  return out.str();
}

// A JSON string literal; invalid UTF-8 is replaced rather than thrown on (messages may carry
// arbitrary bytes from a failed solve).
std::string json_string(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_value(const Value& value) {
  if (const std::string* s = std::get_if<std::string>(&value)) return json_string(*s);
  if (const double* x = std::get_if<double>(&value))
    return std::isfinite(*x) ? round_trip(*x) : "null";
  if (const std::int64_t* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  return "null";
}

std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + json_string(items[i]);
  return out + "]";
}

std::string render_json(const Table& table) {
  const std::size_t n = table.columns.size();
  std::ostringstream out;
  out << "{\n  \"title\": " << json_string(table.title) << ",\n";
  out << "  \"columns\": " << json_list(table.columns) << ",\n";
  out << "  \"rows\": [";
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    std::vector<Value> row = padded(table.rows[r], n);
    out << (r > 0 ? ",\n    {" : "\n    {");
    for (std::size_t c = 0; c < n; ++c)
      out << (c > 0 ? ", " : "") << json_string(table.columns[c]) << ": " << json_value(row[c]);
    out << "}";
  }
  out << (table.rows.empty() ? "],\n" : "\n  ],\n");
  out << "  \"notes\": " << json_list(table.notes) << "\n}\n";
  return out.str();
}

std::string render_html(const Table& table) {
  std::string body;
  if (!table.title.empty()) body += "<h1>" + html_escape(table.title) + "</h1>\n";
  body += "<table>\n<thead><tr>";
  for (const std::string& column : table.columns) body += "<th>" + html_escape(column) + "</th>";
  body += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    body += "<tr>";
    for (const Value& value : padded(row, table.columns.size()))
      body += "<td>" + html_escape(to_text(value)) + "</td>";
    body += "</tr>\n";
  }
  body += "</tbody>\n</table>\n";
  if (!table.notes.empty()) {
    body += "<ul>\n";
    for (const std::string& note : table.notes) body += "<li>" + html_escape(note) + "</li>\n";
    body += "</ul>\n";
  }
  return html_page(table.title.empty() ? "cube" : table.title, body);
}

}  // namespace

Format parse_format(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "md") return Format::kMarkdown;
  if (text == "csv") return Format::kCsv;
  if (text == "json") return Format::kJson;
  if (text == "html") return Format::kHtml;
  throw ConfigError(SourceLocation{"--format"},
                    "unknown format '" + text + "'; valid choices: table, md, csv, json, html");
}

std::string readable(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  double magnitude = std::fabs(x);
  if (magnitude < 1e15 && x == std::trunc(x))
    return std::to_string(static_cast<long long>(x));  // exact; also turns -0 into "0"
  std::array<char, 64> text{};
  if (magnitude < 1e-4 || magnitude >= 1e15) {
    std::snprintf(text.data(), text.size(), "%.6g", x);
    return text.data();
  }
  int decimals = std::max(0, 5 - static_cast<int>(std::floor(std::log10(magnitude))));
  std::snprintf(text.data(), text.size(), "%.*f", decimals, x);
  std::string out = text.data();
  if (out.find('.') != std::string::npos) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  if (out == "-0") out = "0";
  return out;
}

std::string round_trip(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  std::array<char, 64> text{};
  auto result = std::to_chars(text.data(), text.data() + text.size(), x);
  return std::string(text.data(), result.ptr);
}

std::string to_text(const Value& value) {
  if (const std::string* s = std::get_if<std::string>(&value)) return *s;
  if (const double* x = std::get_if<double>(&value)) return readable(*x);
  if (const std::int64_t* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  return "n/a";
}

std::string render(const Table& table, Format format) {
  switch (format) {
    case Format::kTable:
      return render_text(table);
    case Format::kMarkdown:
      return render_markdown(table);
    case Format::kCsv:
      return render_csv(table);
    case Format::kJson:
      return render_json(table);
    case Format::kHtml:
      return render_html(table);
  }
  throw Error("render: unknown format");
}

}  // namespace cube
