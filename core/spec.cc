// cube/core/spec.cc: the `name(k=v,...)` grammar, parsed and printed.

#include "core/spec.h"

#include <algorithm>
#include <cctype>

namespace cube {

namespace {

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool needs_quotes(const std::string& v) {
  if (v.empty()) return true;
  for (char c : v)
    if (c == ',' || c == '(' || c == ')' || c == '=' || c == '\'' || c == '"' ||
        std::isspace(static_cast<unsigned char>(c)))
      return true;
  return false;
}

}  // namespace

Spec parse_spec(std::string_view text, const SourceLocation& where) {
  Spec spec;
  spec.where = where;
  std::string s = trim(text);
  auto fail = [&](const std::string& why) {
    return ConfigError(
        where, "malformed spec '" + s + "': " + why + " (expected name or name(key=value,...))");
  };
  size_t i = 0;
  while (i < s.size() && is_name_char(s[i])) ++i;
  spec.name = s.substr(0, i);
  if (spec.name.empty()) throw fail("missing name");
  if (i == s.size()) return spec;
  if (s[i] != '(' || s.back() != ')') throw fail("unexpected '" + std::string(1, s[i]) + "'");
  std::string body = s.substr(i + 1, s.size() - i - 2);
  size_t pos = 0;
  while (pos < body.size()) {
    size_t eq = body.find('=', pos);
    if (eq == std::string::npos) throw fail("a parameter has no '='");
    std::string key = trim(std::string_view(body).substr(pos, eq - pos));
    if (key.empty() || !std::all_of(key.begin(), key.end(), is_name_char))
      throw fail("bad parameter name '" + key + "'");
    pos = eq + 1;
    while (pos < body.size() && body[pos] == ' ') ++pos;
    std::string value;
    if (pos < body.size() && (body[pos] == '\'' || body[pos] == '"')) {
      char quote = body[pos];
      size_t close = body.find(quote, pos + 1);
      if (close == std::string::npos) throw fail("unterminated quote");
      value = body.substr(pos + 1, close - pos - 1);
      pos = close + 1;
      while (pos < body.size() && body[pos] == ' ') ++pos;
    } else {
      size_t comma = body.find(',', pos);
      if (comma == std::string::npos) comma = body.size();
      value = trim(std::string_view(body).substr(pos, comma - pos));
      pos = comma;
    }
    if (pos < body.size()) {
      if (body[pos] != ',') throw fail("expected ',' after the value of '" + key + "'");
      ++pos;
    }
    if (spec.params.count(key)) throw fail("parameter '" + key + "' given twice");
    spec.params[key] = ParamInput{value, where};
  }
  return spec;
}

std::vector<std::string> split_spec_list(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(trim(current));
  return out;
}

std::string canonical_spec(const std::string& name, const ResolvedParams& params) {
  if (params.values().empty()) return name;
  std::string out = name + "(";
  bool first = true;
  for (const auto& [key, value] : params.values()) {  // std::map: sorted keys
    if (!first) out += ",";
    first = false;
    std::string text = format_value(value);
    if (std::holds_alternative<std::string>(value) && needs_quotes(text)) {
      // parse_spec has no escapes: quote with the character the value does not hold (parameter
      // parsing refuses strings holding both).
      const char quote = text.find('\'') == std::string::npos ? '\'' : '"';
      text = quote + text + quote;
    }
    out += key + "=" + text;
  }
  return out + ")";
}

}  // namespace cube
