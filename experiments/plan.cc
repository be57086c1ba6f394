// cube/experiments/plan.cc: YAML plans and --set overrides -> validated jobs.
// The only translation unit that includes yaml-cpp: everything past this file sees typed specs.

#include "experiments/plan.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "metrics/metric.h"
#include "problems/problem.h"
#include "solvers/solver.h"

namespace cube {

namespace {

const std::vector<std::string> kTopLevelKeys = {"description", "metrics", "name", "problem",
                                                "seeds",       "solver",  "sweep"};
constexpr std::uint64_t kDefaultSeed = 42;

// A sweep axis: a dotted key and its values.
struct Axis {
  std::string key;  // "problem.n", "solver.name"
  std::vector<ParamInput> values;
};

struct RawPlan {
  std::string source;
  Spec problem;
  Spec solver;
  bool has_problem = false;
  bool has_solver = false;
  std::vector<Spec> metrics;
  bool has_metrics = false;
  std::vector<std::uint64_t> seeds{kDefaultSeed};
  std::vector<Axis> axes;
};

// YAML::Load with cube's diagnostics: a NUL byte (a binary file, or UTF-16) is refused at its
// line, as yaml-cpp would report it as a garbled escape; nesting past yaml-cpp's depth guard
// is named as such rather than as its "bad file".
YAML::Node load_yaml_text(std::string_view text, const std::string& source) {
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    const auto line =
        std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
    throw ConfigError(SourceLocation{source, static_cast<int>(line) + 1, 0},
                      "contains a NUL byte: not a UTF-8 YAML text file");
  }
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    throw ConfigError(SourceLocation{source, e.mark.line + 1, e.mark.column + 1},
                      "YAML nesting deeper than " + std::to_string(e.depth() - 1) +
                          " levels; cube files need a few");
  } catch (const YAML::ParserException& e) {
    throw ConfigError(SourceLocation{source, e.mark.line + 1, e.mark.column + 1},
                      "YAML syntax error: " + e.msg);
  }
}

SourceLocation location(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return SourceLocation{source, 0, 0};
  return SourceLocation{source, mark.line + 1, mark.column + 1};
}

// YAML maps keep one value per key and yaml-cpp takes one of two duplicates without a word; a
// file that says `lr:` twice means something its reader cannot know, so it is refused.
void reject_duplicate_keys(const YAML::Node& map, const std::string& source,
                           const std::string& key_path) {
  std::map<std::string, int> first_line;
  for (const auto& item : map) {
    if (!item.first.IsScalar()) continue;
    const SourceLocation where = location(source, item.first);
    const auto [it, fresh] = first_line.emplace(item.first.Scalar(), where.line);
    if (!fresh)
      throw ConfigError(where, key_path + (key_path.empty() ? "" : ".") + it->first +
                                   ": duplicated key (first at line " + std::to_string(it->second) +
                                   "); keep one");
  }
}

const char* node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a scalar";
  }
}

template <class Base>
std::string valid_names() {
  return join(Registry<Base>::instance().names());
}

// A module written as a string spec or as a {name: ..., key: value} map.
template <class Base>
Spec read_module(const YAML::Node& node, const std::string& source, const std::string& key_path) {
  SourceLocation where = location(source, node);
  if (node.IsScalar()) return parse_spec(node.Scalar(), where);
  if (!node.IsMap())
    throw ConfigError(where, key_path +
                                 ": expected a name or a {name: ..., param: value} map, got " +
                                 node_kind(node) + "; valid " + AxisName<Base>::value +
                                 "s: " + valid_names<Base>());
  Spec spec;
  spec.where = where;
  bool has_name = false;
  reject_duplicate_keys(node, source, key_path);
  for (const auto& item : node) {
    std::string key = item.first.Scalar();
    const YAML::Node& value = item.second;
    SourceLocation value_where = location(source, value);
    if (!value.IsScalar())
      throw ConfigError(value_where, key_path + "." + key + ": expected a single value, got " +
                                         node_kind(value) + " (lists of values go under sweep:)");
    if (key == "name") {
      spec.name = value.Scalar();
      spec.where = value_where;
      has_name = true;
    } else {
      spec.params[key] = ParamInput{value.Scalar(), value_where};
    }
  }
  if (!has_name)
    throw ConfigError(where, key_path + ".name: missing; valid " + AxisName<Base>::value +
                                 "s: " + valid_names<Base>());
  return spec;
}

std::uint64_t parse_seed(const std::string& text, const SourceLocation& where,
                         const std::string& key_path) {
  std::uint64_t seed = 0;
  const char* end = text.data() + text.size();
  auto result = std::from_chars(text.data(), end, seed);
  if (text.empty() || result.ec != std::errc() || result.ptr != end)
    throw ConfigError(where,
                      key_path + ": expected a non-negative integer seed, got '" + text + "'");
  return seed;
}

std::vector<std::uint64_t> read_seeds(const YAML::Node& node, const std::string& source) {
  std::vector<std::uint64_t> seeds;
  if (node.IsScalar()) {
    seeds.push_back(parse_seed(node.Scalar(), location(source, node), "seeds"));
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node& item = node[i];
      std::string key_path = "seeds[" + std::to_string(i) + "]";
      if (!item.IsScalar())
        throw ConfigError(location(source, item),
                          key_path + ": expected an integer, got " + node_kind(item));
      seeds.push_back(parse_seed(item.Scalar(), location(source, item), key_path));
    }
  } else {
    throw ConfigError(location(source, node),
                      std::string("seeds: expected a list of integers, got ") + node_kind(node));
  }
  if (seeds.empty()) throw ConfigError(location(source, node), "seeds: the list is empty");
  return seeds;
}

void check_axis_key(const std::string& key, const SourceLocation& where,
                    const std::string& key_path) {
  auto dot = key.find('.');
  std::string axis = key.substr(0, dot);
  if ((axis != "problem" && axis != "solver") || dot == std::string::npos || dot + 1 == key.size())
    throw ConfigError(where, key_path + ": cannot sweep '" + key +
                                 "'; sweep keys are problem.<param>, problem.name, "
                                 "solver.<param> or solver.name (seeds and metrics are lists "
                                 "of their own)");
}

RawPlan read_yaml(std::string_view text, const std::string& source) {
  const YAML::Node root = load_yaml_text(text, source);
  if (root.IsNull())
    throw ConfigError(SourceLocation{source},
                      "the file is empty; expected a map with problem, "
                      "solver and metrics");
  if (!root.IsMap())
    throw ConfigError(location(source, root), std::string("expected a map with problem, solver "
                                                          "and metrics at the top level, got ") +
                                                  node_kind(root));
  RawPlan plan;
  plan.source = source;
  reject_duplicate_keys(root, source, "");
  for (const auto& item : root) {
    std::string key = item.first.Scalar();
    const YAML::Node& value = item.second;
    SourceLocation key_where = location(source, item.first);
    if (key == "problem") {
      plan.problem = read_module<Problem>(value, source, "problem");
      plan.has_problem = true;
    } else if (key == "solver") {
      plan.solver = read_module<Solver>(value, source, "solver");
      plan.has_solver = true;
    } else if (key == "metrics") {
      if (value.IsScalar()) {
        plan.metrics.push_back(read_module<Metric>(value, source, "metrics[0]"));
      } else if (value.IsSequence()) {
        for (std::size_t i = 0; i < value.size(); ++i)
          plan.metrics.push_back(
              read_module<Metric>(value[i], source, "metrics[" + std::to_string(i) + "]"));
      } else {
        throw ConfigError(location(source, value),
                          std::string("metrics: expected a list of metric names, got ") +
                              node_kind(value) + "; valid metrics: " + valid_names<Metric>());
      }
      if (plan.metrics.empty())
        throw ConfigError(location(source, value),
                          "metrics: the list is empty; valid metrics: " + valid_names<Metric>());
      plan.has_metrics = true;
    } else if (key == "seeds") {
      plan.seeds = read_seeds(value, source);
    } else if (key == "sweep") {
      if (!value.IsMap())
        throw ConfigError(
            location(source, value),
            std::string("sweep: expected a map of key: [values], got ") + node_kind(value));
      if (value.size() == 0)
        throw ConfigError(location(source, value),
                          "sweep: is empty; list at least one key: [values], or remove it");
      reject_duplicate_keys(value, source, "sweep");
      for (const auto& axis_item : value) {
        Axis axis;
        axis.key = axis_item.first.Scalar();
        SourceLocation where = location(source, axis_item.first);
        check_axis_key(axis.key, where, "sweep." + axis.key);
        const YAML::Node& values = axis_item.second;
        if (values.IsScalar()) {
          axis.values.push_back(ParamInput{values.Scalar(), location(source, values)});
        } else if (values.IsSequence()) {
          for (const auto& v : values) {
            if (!v.IsScalar())
              throw ConfigError(
                  location(source, v),
                  "sweep." + axis.key + ": expected scalar values, got " + node_kind(v));
            axis.values.push_back(ParamInput{v.Scalar(), location(source, v)});
          }
        } else {
          throw ConfigError(
              location(source, values),
              "sweep." + axis.key + ": expected a list of values, got " + node_kind(values));
        }
        if (axis.values.empty())
          throw ConfigError(location(source, values),
                            "sweep." + axis.key +
                                ": empty list of values; a sweep axis needs "
                                "at least one value");
        plan.axes.push_back(std::move(axis));
      }
    } else if (key == "name" || key == "description") {
      // Free-text metadata for the reader of the file.
    } else {
      throw ConfigError(key_where, "unknown key '" + key + "'; valid keys: " + join(kTopLevelKeys));
    }
  }
  return plan;
}

void apply_override(RawPlan& plan, const std::string& raw) {
  SourceLocation where{"--set " + raw};
  auto eq = raw.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(where, "expected key=value (for example solver.lr=0.05 or problem.n=20,30)");
  std::string key = raw.substr(0, eq);
  std::string value = raw.substr(eq + 1);
  std::vector<std::string> values = split_spec_list(value);
  for (const auto& v : values)
    if (v.empty()) throw ConfigError(where, key + ": empty value in '" + value + "'");
  if (key == "seeds") {
    plan.seeds.clear();
    for (const auto& v : values) plan.seeds.push_back(parse_seed(v, where, "seeds"));
    return;
  }
  if (key == "metrics") {
    plan.metrics.clear();
    for (std::size_t i = 0; i < values.size(); ++i)
      plan.metrics.push_back(parse_spec(values[i], where));
    plan.has_metrics = true;
    return;
  }
  check_axis_key(key, where, key);
  std::erase_if(plan.axes, [&](const Axis& a) { return a.key == key; });
  if (values.size() > 1) {
    Axis axis{key, {}};
    for (const auto& v : values) axis.values.push_back(ParamInput{v, where});
    plan.axes.push_back(std::move(axis));
    return;
  }
  Spec& spec = key.starts_with("problem.") ? plan.problem : plan.solver;
  bool& present = key.starts_with("problem.") ? plan.has_problem : plan.has_solver;
  std::string param = key.substr(key.find('.') + 1);
  if (param == "name") {
    spec.name = value;
    spec.where = where;
    present = true;
  } else {
    spec.params[param] = ParamInput{value, where};
  }
}

// Parameter names declared by any module of this axis that the plan names.
template <class Base>
std::set<std::string> keys_of_named_modules(const Spec& base, const std::vector<Axis>& axes,
                                            const std::string& axis_name) {
  std::set<std::string> names{base.name};
  for (const auto& axis : axes)
    if (axis.key == axis_name + ".name")
      for (const auto& v : axis.values) names.insert(v.text);
  std::set<std::string> keys;
  for (const auto& name : names)
    if (const auto* entry = Registry<Base>::instance().find(name))
      for (const auto& p : entry->schema.params) keys.insert(p.name);
  return keys;
}

// Drops parameters that another module of the sweep declares but this one does not.
template <class Base>
void drop_foreign_keys(Spec& spec, const std::set<std::string>& axis_keys) {
  const auto* entry = Registry<Base>::instance().find(spec.name);
  if (!entry) return;  // reported as an unknown name by instantiate()
  std::erase_if(spec.params, [&](const auto& item) {
    return !entry->schema.find(item.first) && axis_keys.count(item.first);
  });
}

// Constructs the module to validate it; a constructor's ConfigError ("problem.k: ...") is
// re-anchored at the location of the key it names.
template <class Base>
std::string validate_module(const Spec& spec, const std::string& key_path) {
  try {
    return instantiate<Base>(spec, key_path)->spec();
  } catch (const ConfigError& e) {
    if (!e.where().file.empty()) throw;
    const std::string& message = e.message();
    std::string prefix = key_path + ".";
    SourceLocation where = spec.where;
    if (message.starts_with(prefix)) {
      std::string param = message.substr(prefix.size(), message.find(':') - prefix.size());
      if (auto it = spec.params.find(param); it != spec.params.end()) where = it->second.where;
    }
    throw ConfigError(where, message);
  }
}

// Advances the odometer over the axes (the last axis varies fastest); false when done.
bool next_combination(std::vector<std::size_t>& index, const std::vector<Axis>& axes) {
  for (std::size_t a = axes.size(); a-- > 0;) {
    if (++index[a] < axes[a].values.size()) return true;
    index[a] = 0;
  }
  return false;
}

// Cells x seeds is counted before anything is expanded: a sweep of a few long axes multiplies
// into billions of jobs, which would exhaust memory instead of saying what is wrong.
void check_plan_size(const RawPlan& raw) {
  double jobs = static_cast<double>(raw.seeds.size());
  std::string factors;
  for (const Axis& axis : raw.axes) {
    jobs *= static_cast<double>(axis.values.size());
    factors += std::to_string(axis.values.size()) + " " + axis.key + " x ";
  }
  if (jobs <= static_cast<double>(kMaxPlanJobs)) return;
  char count[32];
  std::snprintf(count, sizeof count, "%.3g", jobs);
  const SourceLocation where = raw.axes.empty() || raw.axes.front().values.empty()
                                   ? SourceLocation{raw.source}
                                   : raw.axes.front().values.front().where;
  throw ConfigError(where, std::string("the plan expands to ") + count + " jobs (" + factors +
                               std::to_string(raw.seeds.size()) + " seeds); at most " +
                               std::to_string(kMaxPlanJobs) +
                               " are allowed in one plan: split it into several files");
}

ExperimentPlan expand(RawPlan raw) {
  SourceLocation file{raw.source};
  if (!raw.has_problem)
    throw ConfigError(file, "problem: missing; valid problems: " + valid_names<Problem>());
  if (!raw.has_solver)
    throw ConfigError(file, "solver: missing; valid solvers: " + valid_names<Solver>());
  if (!raw.has_metrics)
    throw ConfigError(file, "metrics: missing; valid metrics: " + valid_names<Metric>());

  ExperimentPlan plan;
  plan.source = raw.source;
  std::vector<std::string> metrics;
  std::set<std::string> metric_names;
  for (std::size_t i = 0; i < raw.metrics.size(); ++i) {
    std::string canonical =
        validate_module<Metric>(raw.metrics[i], "metrics[" + std::to_string(i) + "]");
    if (metric_names.insert(canonical).second) metrics.push_back(canonical);
  }

  check_plan_size(raw);
  auto problem_keys = keys_of_named_modules<Problem>(raw.problem, raw.axes, "problem");
  auto solver_keys = keys_of_named_modules<Solver>(raw.solver, raw.axes, "solver");

  std::vector<std::size_t> index(raw.axes.size(), 0);
  std::set<std::string> seen_cells;
  while (true) {
    Spec problem = raw.problem;
    Spec solver = raw.solver;
    for (std::size_t a = 0; a < raw.axes.size(); ++a) {
      const Axis& axis = raw.axes[a];
      const ParamInput& value = axis.values[index[a]];
      Spec& spec = axis.key.starts_with("problem.") ? problem : solver;
      std::string param = axis.key.substr(axis.key.find('.') + 1);
      if (param == "name") {
        spec.name = value.text;
        spec.where = value.where;
      } else {
        spec.params[param] = value;
      }
    }
    drop_foreign_keys<Problem>(problem, problem_keys);
    drop_foreign_keys<Solver>(solver, solver_keys);
    std::string problem_spec = validate_module<Problem>(problem, "problem");
    std::string solver_spec = validate_module<Solver>(solver, "solver");
    if (seen_cells.insert(problem_spec + "/" + solver_spec).second) {
      ++plan.cells;
      for (std::uint64_t seed : raw.seeds)
        plan.jobs.push_back(Job{problem_spec, solver_spec, metrics, seed});
    }
    if (!next_combination(index, raw.axes)) break;
  }
  return plan;
}

}  // namespace

ExperimentPlan parse_plan(std::string_view yaml, const std::string& source,
                          const std::vector<std::string>& overrides) {
  RawPlan raw = read_yaml(yaml, source);
  for (const auto& o : overrides) apply_override(raw, o);
  return expand(std::move(raw));
}

namespace {

std::string read_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw ConfigError(SourceLocation{file.string()}, "cannot read: is a directory");
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw ConfigError(SourceLocation{file.string()},
                      std::string("cannot read: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

ExperimentPlan load_plan(const std::filesystem::path& file,
                         const std::vector<std::string>& overrides) {
  if (is_json_plan(file)) {
    if (!overrides.empty())
      throw ConfigError(SourceLocation{file.string()},
                        "--set applies to YAML plans; an expanded JSON plan is fixed");
    return read_plan_json(file);
  }
  return parse_plan(read_file(file), file.string(), overrides);
}

bool is_json_plan(const std::filesystem::path& file) {
  std::ifstream in(file);
  char c = 0;
  while (in.get(c))
    if (!std::isspace(static_cast<unsigned char>(c))) return c == '{';
  return false;
}

std::string plan_to_json(const ExperimentPlan& plan) {
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& job : plan.jobs)
    jobs.push_back({{"problem", job.problem},
                    {"solver", job.solver},
                    {"metrics", job.metrics},
                    {"seed", job.seed}});
  nlohmann::json out = {{"format", "cube-plan"},
                        {"version", 1},
                        {"source", plan.source},
                        {"cells", plan.cells},
                        {"jobs", jobs}};
  return out.dump(2) + "\n";
}

ExperimentPlan read_plan_json(const std::filesystem::path& file) {
  return parse_plan_json(read_file(file), file.string());
}

ExperimentPlan parse_plan_json(std::string_view text, const std::string& source) {
  SourceLocation where{source};
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range (huge numbers)
    throw ConfigError(where, std::string("not a valid JSON plan: ") + e.what());
  }
  const auto member = [&](const nlohmann::json& object, const char* name,
                          const std::string& key) -> const nlohmann::json& {
    const auto it = object.find(name);
    if (it == object.end()) throw ConfigError(where, key + ": missing");
    return *it;
  };
  const auto text_at = [&](const nlohmann::json& value, const std::string& key) {
    if (!value.is_string())
      throw ConfigError(where, key + ": expected a string, got " + value.type_name());
    return value.get<std::string>();
  };
  if (!json.is_object() || !json.contains("format") || json.at("format") != "cube-plan" ||
      !json.contains("jobs") || !json.at("jobs").is_array())
    throw ConfigError(where,
                      "not a cube plan (expected {\"format\": \"cube-plan\", \"jobs\": "
                      "[...]}, as written by `cube plan -o`)");
  if (json.contains("version") && json.at("version") != 1)
    throw ConfigError(where, "version: " + json.at("version").dump() +
                                 " is not supported; valid versions: 1 (re-run `cube plan -o`)");
  ExperimentPlan plan;
  plan.source = json.contains("source") ? text_at(json.at("source"), "source") : source;
  std::set<std::string> cells;
  const auto& jobs = json.at("jobs");
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const std::string key = "jobs[" + std::to_string(i) + "]";
    const nlohmann::json& entry = jobs[i];
    if (!entry.is_object())
      throw ConfigError(where, key +
                                   ": expected an object with problem, solver, metrics and "
                                   "seed, got " +
                                   std::string(entry.type_name()));
    Job job;
    job.problem = validate_module<Problem>(
        parse_spec(text_at(member(entry, "problem", key + ".problem"), key + ".problem"), where),
        key + ".problem");
    job.solver = validate_module<Solver>(
        parse_spec(text_at(member(entry, "solver", key + ".solver"), key + ".solver"), where),
        key + ".solver");
    const nlohmann::json& metrics = member(entry, "metrics", key + ".metrics");
    if (!metrics.is_array() || metrics.empty())
      throw ConfigError(where, key + ".metrics: expected a non-empty list of metric specs, got " +
                                   metrics.dump());
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      const std::string metric_key = key + ".metrics[" + std::to_string(m) + "]";
      job.metrics.push_back(
          validate_module<Metric>(parse_spec(text_at(metrics[m], metric_key), where), metric_key));
    }
    const nlohmann::json& seed = member(entry, "seed", key + ".seed");
    if (!seed.is_number_unsigned())
      throw ConfigError(where,
                        key + ".seed: expected a non-negative integer seed, got " + seed.dump());
    job.seed = seed.get<std::uint64_t>();
    cells.insert(job.cell());
    plan.jobs.push_back(std::move(job));
  }
  plan.cells = cells.size();
  return plan;
}

}  // namespace cube

namespace cube {
namespace {

std::string scalar_text(const YAML::Node& node, const std::string& source, const std::string& key) {
  if (!node.IsScalar())
    throw ConfigError(
        location(source, node),
        std::string(key) + ": " + std::string("expected a scalar, got ") + node_kind(node));
  return node.Scalar();
}

double number_at(const YAML::Node& node, const std::string& source, const std::string& key) {
  const std::string text = scalar_text(node, source, key);
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end)
    throw ConfigError(location(source, node),
                      std::string(key) + ": " + "expected a number, got '" + text + "'");
  return value;
}

void check_keys(const YAML::Node& map, const std::string& source, const std::string& where,
                const std::vector<std::string>& allowed) {
  if (!map.IsMap())
    throw ConfigError(
        location(source, map),
        std::string(where) + ": " + std::string("expected a map, got ") + node_kind(map));
  for (const auto& item : map) {
    const std::string key = item.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw ConfigError(location(source, item.first),
                        std::string(where.empty() ? key : where + "." + key) + ": " +
                            "unknown key; valid keys: " + join(allowed));
  }
}

PublishedFigure read_figure(const YAML::Node& node, const std::string& source,
                            const std::string& key) {
  check_keys(node, source, key, {"match", "values", "note", "source"});
  PublishedFigure figure;
  if (!node["match"] || !node["match"].IsMap())
    throw ConfigError(
        location(source, node),
        std::string(key + ".match") + ": " + "expected a map such as {solver: gf2, problem.n: 20}");
  for (const auto& item : node["match"]) {
    const std::string k = item.first.Scalar();
    if (k != "solver" && k != "problem" && k.rfind("solver.", 0) != 0 &&
        k.rfind("problem.", 0) != 0)
      throw ConfigError(location(source, item.first),
                        std::string(key + ".match." + k) + ": " +
                            "valid keys: solver, problem, solver.<param>, problem.<param>");
    figure.match[k] = scalar_text(item.second, source, key + ".match." + k);
  }
  if (node["values"]) {
    if (!node["values"].IsMap())
      throw ConfigError(
          location(source, node["values"]),
          std::string(key + ".values") + ": " + "expected a map of value name -> number");
    for (const auto& item : node["values"]) {
      const std::string k = item.first.Scalar();
      figure.values[k] = number_at(item.second, source, key + ".values." + k);
    }
  }
  if (node["note"]) figure.note = scalar_text(node["note"], source, key + ".note");
  if (node["source"]) figure.source = scalar_text(node["source"], source, key + ".source");
  return figure;
}

}  // namespace

ReportSpec load_report_spec(const std::filesystem::path& file) {
  const std::string source = file.string();
  const YAML::Node root = load_yaml_text(read_file(file), source);
  check_keys(root, source, "", {"title", "intro", "sections"});
  ReportSpec spec;
  spec.source = source;
  if (root["title"]) spec.title = scalar_text(root["title"], source, "title");
  if (root["intro"]) spec.intro = scalar_text(root["intro"], source, "intro");
  const YAML::Node sections = root["sections"];
  if (!sections || !sections.IsSequence() || sections.size() == 0)
    throw ConfigError(location(source, sections ? sections : root),
                      std::string("sections") + ": " + "expected a non-empty list of sections");
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const std::string key = "sections[" + std::to_string(i) + "]";
    const YAML::Node node = sections[i];
    check_keys(node, source, key,
               {"title", "sweep", "columns", "published", "notes", "curves", "reuse_distances"});
    ReportSection section;
    if (node["title"]) section.title = scalar_text(node["title"], source, key + ".title");
    if (node["notes"]) section.notes = scalar_text(node["notes"], source, key + ".notes");
    if (node["curves"]) section.curves = scalar_text(node["curves"], source, key + ".curves");
    if (node["reuse_distances"])
      section.reuse_distances =
          scalar_text(node["reuse_distances"], source, key + ".reuse_distances");
    if (!node["sweep"])
      throw ConfigError(location(source, node), std::string(key + ".sweep") + ": " +
                                                    "missing: the sweep YAML of this section");
    const std::string sweep = scalar_text(node["sweep"], source, key + ".sweep");
    section.sweep_file = (file.parent_path() / sweep).lexically_normal().string();
    if (!std::filesystem::exists(section.sweep_file))
      throw ConfigError(location(source, node["sweep"]),
                        std::string(key + ".sweep") + ": " + "no such file: " + section.sweep_file);
    section.plan = load_plan(section.sweep_file, {});
    if (node["columns"]) {
      if (!node["columns"].IsSequence())
        throw ConfigError(location(source, node["columns"]),
                          std::string(key + ".columns") + ": " + "expected a list of value names");
      for (std::size_t c = 0; c < node["columns"].size(); ++c)
        section.columns.push_back(
            scalar_text(node["columns"][c], source, key + ".columns[" + std::to_string(c) + "]"));
    }
    if (node["published"]) {
      if (!node["published"].IsSequence())
        throw ConfigError(
            location(source, node["published"]),
            std::string(key + ".published") + ": " + "expected a list of published figures");
      for (std::size_t f = 0; f < node["published"].size(); ++f)
        section.published.push_back(read_figure(node["published"][f], source,
                                                key + ".published[" + std::to_string(f) + "]"));
    }
    spec.sections.push_back(std::move(section));
  }
  return spec;
}

}  // namespace cube
