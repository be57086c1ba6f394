// cube/core/params.h: typed module parameters, declared once per module.
//
// A module declares its parameters in one `visit` function on its config struct:
//
//   struct SgdConfig {
//     std::int64_t hidden = 200;
//     double lr = 0.1;
//     template <class V> void visit(V& v) {
//       v("hidden", hidden, "hidden units").at_least(1);
//       v("lr", lr, "step size").greater_than(0.0);
//     }
//   };
//
// That one declaration drives the schema (cube list), parsing and validation of user input
// (resolve), binding into the struct (bind<Config>), and the canonical spec string.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/error.h"

namespace cube {

enum class ParamType { kBool, kInt, kFloat, kString };
const char* to_string(ParamType type);

// A typed value. Integers are 64-bit, floats are IEEE doubles.
using ParamValue = std::variant<bool, std::int64_t, double, std::string>;

// Shortest text that parses back to the same value: 0.1, 200, true, sgd.
std::string format_value(const ParamValue& value);

// One declared parameter: name, type, default, bounds and a one-line doc.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kFloat;
  ParamValue default_value;
  std::optional<double> lower;  // numeric bounds (inclusive unless *_open)
  std::optional<double> upper;
  bool lower_open = false;
  bool upper_open = false;
  std::vector<std::string> choices;  // strings: the allowed values (empty = any)
  std::string doc;

  // "[1, inf)", "(0, 1]", "{a, b}" or "" when unbounded.
  std::string bounds_text() const;
};

// The declared parameters of one module, in declaration order.
struct ParamSchema {
  std::vector<ParamSpec> params;

  const ParamSpec* find(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
};

// A raw user value and where it was written.
struct ParamInput {
  std::string text;
  SourceLocation where;
};
using ParamInputs = std::map<std::string, ParamInput>;

// Validated values for every declared parameter (defaults filled in).
class ResolvedParams {
 public:
  void set(const std::string& name, ParamValue value) { values_[name] = std::move(value); }
  const ParamValue& at(const std::string& name) const;
  const std::map<std::string, ParamValue>& values() const { return values_; }

 private:
  std::map<std::string, ParamValue> values_;
};

// Parses and validates `inputs` against `schema`.
// `owner` names the module for messages, e.g. "solver 'sgd'"; `key_prefix` is the dotted path
// of the keys in the user's file, e.g. "solver". Throws ConfigError naming the location and key
// of the first bad value; unknown keys list the valid ones.
ResolvedParams resolve(const ParamSchema& schema, const ParamInputs& inputs,
                       const std::string& owner, const std::string& key_prefix);

// Parses one value of a declared type (no bounds check). Throws ConfigError.
ParamValue parse_value(const ParamSpec& spec, const ParamInput& input, const std::string& key_path);

// ---------------------------------------------------------------------------------------------
// Visitors behind schema_of<Config>() and bind<Config>(); modules only call v(name, field, doc).

// Returned by a visitor call; adds bounds to the declaration. Chainable.
class ParamDeclaration {
 public:
  explicit ParamDeclaration(ParamSpec* spec) : spec_(spec) {}
  ParamDeclaration& at_least(double v);
  ParamDeclaration& greater_than(double v);
  ParamDeclaration& at_most(double v);
  ParamDeclaration& less_than(double v);
  ParamDeclaration& one_of(std::vector<std::string> choices);

 private:
  ParamSpec* spec_;  // nullptr when binding (bounds were already checked by resolve)
};

class SchemaCollector {
 public:
  ParamDeclaration operator()(const char* name, bool& field, const char* doc);
  ParamDeclaration operator()(const char* name, std::int64_t& field, const char* doc);
  ParamDeclaration operator()(const char* name, double& field, const char* doc);
  ParamDeclaration operator()(const char* name, std::string& field, const char* doc);
  ParamSchema schema;

 private:
  ParamDeclaration add(const char* name, ParamType type, ParamValue value, const char* doc);
};

class ParamBinder {
 public:
  explicit ParamBinder(const ResolvedParams& values) : values_(values) {}
  ParamDeclaration operator()(const char* name, bool& field, const char* doc);
  ParamDeclaration operator()(const char* name, std::int64_t& field, const char* doc);
  ParamDeclaration operator()(const char* name, double& field, const char* doc);
  ParamDeclaration operator()(const char* name, std::string& field, const char* doc);

 private:
  const ResolvedParams& values_;
};

template <class Config>
ParamSchema schema_of() {
  Config config;
  SchemaCollector collector;
  config.visit(collector);
  return std::move(collector.schema);
}

template <class Config>
Config bind(const ResolvedParams& values) {
  Config config;
  ParamBinder binder(values);
  config.visit(binder);
  return config;
}

// A config with no parameters.
struct NoParams {
  template <class V>
  void visit(V&) {}
};

}  // namespace cube
