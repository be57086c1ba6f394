// cube/core/registry.h: name -> (doc, parameter schema, factory) for each axis of the cube.
//
// Modules register themselves at static-initialisation time with one line in their .cc:
//   CUBE_REGISTER(Solver, SgdSolver, SgdConfig, "sgd", "2-layer ReLU MLP, hinge loss, SGD");
// The libraries holding modules are CMake OBJECT libraries, so no registration is dropped by the
// linker. Lookups of unknown names throw ConfigError listing every registered name.
// A registration only links a static record (name, doc, builder) into a list; an entry, with its
// parameter schema, is built the first time it is looked up. Start-up of every command (55
// modules) so allocates nothing and runs none of the modules' schema code, whose pages would each
// fault in (~10 µs apiece on a virtual machine). Lookups are thread-safe.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/params.h"
#include "core/spec.h"

namespace cube {

// Common base of problems, solvers and metrics: each knows its canonical spec string.
class Module {
 public:
  virtual ~Module() = default;
  // Canonical spec, e.g. "sgd(batch=32,hidden=200,lr=0.1,max_epochs=200,wd=0.01)".
  const std::string& spec() const { return spec_; }
  const std::string& name() const { return name_; }
  void set_identity(std::string name, std::string spec) {
    name_ = std::move(name);
    spec_ = std::move(spec);
  }

 private:
  std::string name_;
  std::string spec_;
};

// What a registry calls its members in messages: "problem", "solver", "metric".
template <class Base>
struct AxisName;

template <class Base>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(const ResolvedParams&)>;
  struct Entry {
    std::string name;  // lowercase snake case, as users write it
    std::string doc;   // one line, shown by `cube list`
    ParamSchema schema;
    Factory make;
  };

  // What CUBE_REGISTER leaves in a static: the entry's name and doc and how to build it.
  struct Registration {
    const char* name;
    const char* doc;
    Entry (*build)(const char* name, const char* doc);
    Registration* next = nullptr;  // the registration before this one
  };

  static Registry& instance() {
    static Registry registry;
    return registry;
  }

  // Registers a module whose entry is built on first lookup. `registration` must outlive the
  // registry (a static). A duplicate name is a programming error.
  bool add(Registration& registration) {
    std::lock_guard lock(mutex_);
    check_new_name(registration.name);
    registration.next = pending_;
    pending_ = &registration;
    return true;
  }

  // Registers a built entry; a duplicate name is a programming error.
  bool add(Entry entry) {
    std::lock_guard lock(mutex_);
    check_new_name(entry.name.c_str());
    std::string key = entry.name;
    entries_.emplace(std::move(key), std::move(entry));
    return true;
  }

  const Entry* find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(name); it != entries_.end()) return &it->second;
    for (const Registration* r = pending_; r != nullptr; r = r->next) {
      if (name == r->name) return &build(*r);
    }
    return nullptr;
  }

  // Throws ConfigError at `where` listing the valid names when `name` is unknown.
  const Entry& get(const std::string& name, const SourceLocation& where,
                   const std::string& key_path) const {
    if (const Entry* e = find(name)) return *e;
    throw ConfigError(where, key_path + ": unknown " + AxisName<Base>::value + " '" + name +
                                 "'; valid choices: " + join(names()));
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Entry* entry : entries()) out.push_back(entry->name);
    return out;
  }

  // Every entry, sorted by name (builds those not built yet).
  std::vector<const Entry*> entries() const {
    std::lock_guard lock(mutex_);
    for (const Registration* r = pending_; r != nullptr; r = r->next) build(*r);
    std::vector<const Entry*> out;
    for (const auto& [name, entry] : entries_) out.push_back(&entry);
    return out;
  }

 private:
  void check_new_name(const char* name) const {
    bool taken = entries_.count(name) > 0;
    for (const Registration* r = pending_; r != nullptr && !taken; r = r->next)
      taken = std::strcmp(r->name, name) == 0;
    CUBE_CHECK(!taken, AxisName<Base>::value << " '" << name << "' registered twice");
  }

  // The entry of `r`, built now if it was not (the caller holds mutex_).
  const Entry& build(const Registration& r) const {
    auto it = entries_.find(r.name);
    if (it == entries_.end()) it = entries_.emplace(r.name, r.build(r.name, r.doc)).first;
    return it->second;
  }

  mutable std::mutex mutex_;
  Registration* pending_ = nullptr;               // registered, newest first (built or not)
  mutable std::map<std::string, Entry> entries_;  // built entries, sorted by name
};

// Builds a registry entry for `Class`, constructed from its bound `Config`.
template <class Base, class Class, class Config>
typename Registry<Base>::Entry make_entry(const char* name, const char* doc) {
  typename Registry<Base>::Entry entry;
  entry.name = name;
  entry.doc = doc;
  entry.schema = schema_of<Config>();
  entry.make = [](const ResolvedParams& params) -> std::unique_ptr<Base> {
    return std::make_unique<Class>(bind<Config>(params));
  };
  return entry;
}

// Resolves a spec against the registry and constructs the module, its canonical spec set.
// `key_path` is the user-facing path of the spec ("solver", "metrics[2]").
template <class Base>
std::unique_ptr<Base> instantiate(const Spec& spec, const std::string& key_path) {
  const auto& entry = Registry<Base>::instance().get(spec.name, spec.where, key_path + ".name");
  ResolvedParams params =
      resolve(entry.schema, spec.params,
              std::string(AxisName<Base>::value) + " '" + spec.name + "'", key_path);
  std::unique_ptr<Base> module = entry.make(params);
  module->set_identity(entry.name, canonical_spec(entry.name, params));
  return module;
}

// Canonical spec string of `spec` without constructing the module (validates it too).
template <class Base>
std::string canonical_of(const Spec& spec, const std::string& key_path) {
  const auto& entry = Registry<Base>::instance().get(spec.name, spec.where, key_path + ".name");
  return canonical_spec(
      entry.name, resolve(entry.schema, spec.params,
                          std::string(AxisName<Base>::value) + " '" + spec.name + "'", key_path));
}

}  // namespace cube

#define CUBE_CONCAT_INNER(a, b) a##b
#define CUBE_CONCAT(a, b) CUBE_CONCAT_INNER(a, b)

// Registers `Class` (constructible from `Config`) under `name` in Registry<Base>; its entry is
// built on first lookup.
#define CUBE_REGISTER(Base, Class, Config, name, doc)                                    \
  static ::cube::Registry<Base>::Registration CUBE_CONCAT(cube_registration_, __LINE__){ \
      name, doc, &::cube::make_entry<Base, Class, Config>};                              \
  static const bool CUBE_CONCAT(cube_registered_, __LINE__) [[maybe_unused]] =           \
      ::cube::Registry<Base>::instance().add(CUBE_CONCAT(cube_registration_, __LINE__))
