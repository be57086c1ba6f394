// cube/experiments/table.h: one table type, four renderings (--format=table|md|csv|json).
//
// Every command that prints results (run, results, diff, list) builds a Table and renders it, so
// the four formats stay consistent across commands (DVC's --md/--json, Google Benchmark's CSV).
//   table     aligned plain text: title line, header, dashes, rows (numbers right-aligned), notes
//   md        GitHub markdown: "### title", a pipe table ('|' escaped, numeric columns
//             right-aligned), then each note as a "- " line
//   csv       RFC 4180 quoting, header row then rows; no title, no notes; n/a is an empty field
//   json      {"title": ..., "columns": [...], "rows": [{column: value, ...}], "notes": [...]},
//             numbers as JSON numbers, n/a as null
// Doubles: in table/md "readable" (below); in csv/json the shortest form that reads back to the
// same double (std::to_chars), non-finite as nan/inf in csv and null in json.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cube {

enum class Format { kTable, kMarkdown, kCsv, kJson, kHtml };

// "table" | "md" | "csv" | "json" | "html". Throws ConfigError
// "--format: unknown format 'x'; valid choices: table, md, csv, json, html".
Format parse_format(const std::string& text);

// One cell of a table. monostate = n/a (JSON null).
using Value = std::variant<std::monostate, std::string, double, std::int64_t>;

struct Table {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;  // a short row is padded with n/a; a long one is an Error
  std::vector<std::string> notes;
};

// The whole rendering, ending with a newline. O(cells). kHtml is a self-contained page
// (html.h): the title as heading, the table, the notes as a list; every text escaped.
std::string render(const Table& table, Format format);

// A double for people: integral values with |x| < 1e15 exactly ("123456789"); other values with
// |x| in [1e-4, 1e15) in fixed notation with 6 significant digits, trailing zeros dropped
// ("0.000123457", "3.14159"); the rest in %.6g exponent form ("1.5e-07"); "nan", "inf", "-inf".
std::string readable(double x);

// The shortest text that parses back to exactly `x` (std::to_chars): "0.1", "3", "1e+20".
std::string round_trip(double x);

// The text of a cell as table/md show it: "n/a", the string, readable(double), the integer.
std::string to_text(const Value& value);

}  // namespace cube
