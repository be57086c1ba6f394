// cube/core/params.cc: parsing, validation and printing of declared parameters.
// Not here: where values come from (YAML, CLI); that is experiments/.

#include "core/params.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace cube {

std::string SourceLocation::str() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

ConfigError::ConfigError(const SourceLocation& where, const std::string& message)
    : std::runtime_error(where.str().empty() ? message : where.str() + ": " + message),
      where_(where),
      message_(message) {}

const char* to_string(ParamType type) {
  switch (type) {
    case ParamType::kBool:
      return "bool";
    case ParamType::kInt:
      return "int";
    case ParamType::kFloat:
      return "float";
    case ParamType::kString:
      return "string";
  }
  return "?";
}

namespace {

std::string format_double(double v) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, result.ptr);
}

std::string format_bound(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return format_double(v);
}

}  // namespace

std::string format_value(const ParamValue& value) {
  struct Printer {
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(std::int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return format_double(v); }
    std::string operator()(const std::string& v) const { return v; }
  };
  return std::visit(Printer{}, value);
}

std::string ParamSpec::bounds_text() const {
  if (!choices.empty()) return "{" + join(choices) + "}";
  if (!lower && !upper) return "";
  std::string out = (lower && !lower_open) ? "[" : "(";
  out += lower ? format_bound(*lower) : "-inf";
  out += ", ";
  out += upper ? format_bound(*upper) : "inf";
  out += (upper && !upper_open) ? "]" : ")";
  return out;
}

const ParamSpec* ParamSchema::find(const std::string& name) const {
  for (const auto& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> ParamSchema::names() const {
  std::vector<std::string> out;
  for (const auto& p : params) out.push_back(p.name);
  std::sort(out.begin(), out.end());
  return out;
}

const ParamValue& ResolvedParams::at(const std::string& name) const {
  auto it = values_.find(name);
  CUBE_CHECK(it != values_.end(), "parameter '" << name << "' was not resolved");
  return it->second;
}

ParamValue parse_value(const ParamSpec& spec, const ParamInput& input,
                       const std::string& key_path) {
  const std::string& text = input.text;
  auto fail = [&](const std::string& expected) -> ConfigError {
    return ConfigError(input.where, key_path + ": expected " + expected + ", got '" + text + "'");
  };
  switch (spec.type) {
    case ParamType::kBool:
      if (text == "true" || text == "True" || text == "yes" || text == "1") return true;
      if (text == "false" || text == "False" || text == "no" || text == "0") return false;
      throw fail("a bool (true or false)");
    case ParamType::kInt: {
      std::int64_t v = 0;
      const char* end = text.data() + text.size();
      auto result = std::from_chars(text.data(), end, v);
      if (result.ec == std::errc::result_out_of_range) throw fail("an integer in 64-bit range");
      if (text.empty() || result.ec != std::errc() || result.ptr != end) throw fail("an integer");
      return v;
    }
    case ParamType::kFloat: {
      double v = 0;
      const char* begin = text.data();
      const char* end = begin + text.size();
      if (!text.empty() && *begin == '+') ++begin;
      auto result = std::from_chars(begin, end, v);
      if (text.empty() || result.ec != std::errc() || result.ptr != end || !std::isfinite(v))
        throw fail("a finite number");
      return v;
    }
    case ParamType::kString:
      // A canonical spec quotes a value with the quote character it does not contain; one
      // holding both could not be written back (and read again) as a spec.
      if (text.find('\'') != std::string::npos && text.find('"') != std::string::npos)
        throw fail("a string that does not hold both ' and \"");
      return text;
  }
  throw Error("unknown parameter type");
}

namespace {

void check_bounds(const ParamSpec& spec, const ParamValue& value, const ParamInput& input,
                  const std::string& key_path) {
  if (spec.type == ParamType::kString) {
    const auto& s = std::get<std::string>(value);
    if (!spec.choices.empty() &&
        std::find(spec.choices.begin(), spec.choices.end(), s) == spec.choices.end())
      throw ConfigError(input.where, key_path + ": '" + s + "' is not one of the valid choices " +
                                         spec.bounds_text());
    return;
  }
  if (spec.type == ParamType::kBool) return;
  double v = spec.type == ParamType::kInt ? static_cast<double>(std::get<std::int64_t>(value))
                                          : std::get<double>(value);
  bool below = spec.lower && (spec.lower_open ? v <= *spec.lower : v < *spec.lower);
  bool above = spec.upper && (spec.upper_open ? v >= *spec.upper : v > *spec.upper);
  if (below || above)
    throw ConfigError(input.where,
                      key_path + ": " + input.text + " is out of range " + spec.bounds_text());
}

}  // namespace

ResolvedParams resolve(const ParamSchema& schema, const ParamInputs& inputs,
                       const std::string& owner, const std::string& key_prefix) {
  for (const auto& [key, input] : inputs) {
    if (!schema.find(key)) {
      std::string valid = schema.params.empty() ? "(none)" : join(schema.names());
      throw ConfigError(input.where, key_prefix + "." + key + ": unknown parameter of " + owner +
                                         "; valid parameters: " + valid);
    }
  }
  ResolvedParams out;
  for (const auto& spec : schema.params) {
    auto it = inputs.find(spec.name);
    if (it == inputs.end()) {
      out.set(spec.name, spec.default_value);
      continue;
    }
    std::string key_path = key_prefix + "." + spec.name;
    ParamValue value = parse_value(spec, it->second, key_path);
    check_bounds(spec, value, it->second, key_path);
    out.set(spec.name, std::move(value));
  }
  return out;
}

// --- declarations ------------------------------------------------------------------------------

ParamDeclaration& ParamDeclaration::at_least(double v) {
  if (spec_) spec_->lower = v, spec_->lower_open = false;
  return *this;
}
ParamDeclaration& ParamDeclaration::greater_than(double v) {
  if (spec_) spec_->lower = v, spec_->lower_open = true;
  return *this;
}
ParamDeclaration& ParamDeclaration::at_most(double v) {
  if (spec_) spec_->upper = v, spec_->upper_open = false;
  return *this;
}
ParamDeclaration& ParamDeclaration::less_than(double v) {
  if (spec_) spec_->upper = v, spec_->upper_open = true;
  return *this;
}
ParamDeclaration& ParamDeclaration::one_of(std::vector<std::string> choices) {
  if (spec_) spec_->choices = std::move(choices);
  return *this;
}

ParamDeclaration SchemaCollector::add(const char* name, ParamType type, ParamValue value,
                                      const char* doc) {
  CUBE_CHECK(schema.find(name) == nullptr, "parameter '" << name << "' declared twice");
  ParamSpec spec;
  spec.name = name;
  spec.type = type;
  spec.default_value = std::move(value);
  spec.doc = doc;
  schema.params.push_back(std::move(spec));
  return ParamDeclaration(&schema.params.back());
}

ParamDeclaration SchemaCollector::operator()(const char* name, bool& field, const char* doc) {
  return add(name, ParamType::kBool, field, doc);
}
ParamDeclaration SchemaCollector::operator()(const char* name, std::int64_t& field,
                                             const char* doc) {
  return add(name, ParamType::kInt, field, doc);
}
ParamDeclaration SchemaCollector::operator()(const char* name, double& field, const char* doc) {
  return add(name, ParamType::kFloat, field, doc);
}
ParamDeclaration SchemaCollector::operator()(const char* name, std::string& field,
                                             const char* doc) {
  return add(name, ParamType::kString, field, doc);
}

ParamDeclaration ParamBinder::operator()(const char* name, bool& field, const char*) {
  field = std::get<bool>(values_.at(name));
  return ParamDeclaration(nullptr);
}
ParamDeclaration ParamBinder::operator()(const char* name, std::int64_t& field, const char*) {
  field = std::get<std::int64_t>(values_.at(name));
  return ParamDeclaration(nullptr);
}
ParamDeclaration ParamBinder::operator()(const char* name, double& field, const char*) {
  field = std::get<double>(values_.at(name));
  return ParamDeclaration(nullptr);
}
ParamDeclaration ParamBinder::operator()(const char* name, std::string& field, const char*) {
  field = std::get<std::string>(values_.at(name));
  return ParamDeclaration(nullptr);
}

}  // namespace cube
