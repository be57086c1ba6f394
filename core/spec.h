// cube/core/spec.h: module spec strings, `name` or `name(key=value,...)`.
//
// The canonical form writes out every parameter (defaults included), sorts keys alphabetically
// and prints numbers in their shortest round-trip form, so one cell always has one name:
//   sgd(batch=32,hidden=200,lr=0.1,max_epochs=200,wd=0.01)
// A cell is identified by "<problem spec>/<solver spec>"; seeds and metrics are columns.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/params.h"

namespace cube {

// A module name with raw (not yet validated) parameter values.
struct Spec {
  std::string name;
  ParamInputs params;
  SourceLocation where;  // where the name was written
};

// Parses "name" or "name(k=v,k=v)". Values may be bare or 'single'/"double" quoted.
// Throws ConfigError at `where` on a malformed string.
Spec parse_spec(std::string_view text, const SourceLocation& where = {});

// Splits a comma-separated list of specs at top-level commas:
// "ard,cache(capacity=64,x=1)" -> {"ard", "cache(capacity=64,x=1)"}. Items are trimmed.
std::vector<std::string> split_spec_list(std::string_view text);

// "name(k=v,...)" with keys sorted; "name" when there are no parameters.
std::string canonical_spec(const std::string& name, const ResolvedParams& params);

}  // namespace cube
