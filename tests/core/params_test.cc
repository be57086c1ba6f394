// Tests of core/params: the schema a visit() declares, parsing of each type, bounds (open and
// closed), messages that name location and key, shortest round-trip printing, and bind.

#include "core/params.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"

namespace cube {
namespace {

struct TestConfig {
  bool flag = false;
  std::int64_t count = 3;
  double rate = 0.1;
  double fraction = 0.5;
  std::string mode = "fast";
  std::string label = "x";
  template <class V>
  void visit(V& v) {
    v("flag", flag, "a switch");
    v("count", count, "how many").at_least(1).at_most(10);
    v("rate", rate, "step size").greater_than(0.0);
    v("fraction", fraction, "a share").greater_than(0.0).less_than(1.0);
    v("mode", mode, "speed").one_of({"fast", "slow"});
    v("label", label, "free text");
  }
};

struct TwiceConfig {
  double a = 0;
  template <class V>
  void visit(V& v) {
    v("a", a, "first");
    v("a", a, "again");
  }
};

const ParamSpec& spec_named(const ParamSchema& schema, const std::string& name) {
  const ParamSpec* spec = schema.find(name);
  EXPECT_NE(spec, nullptr) << name;
  return *spec;
}

ParamInputs inputs(std::initializer_list<std::pair<std::string, std::string>> values) {
  ParamInputs out;
  int column = 1;
  for (const auto& [key, text] : values)
    out[key] = ParamInput{text, SourceLocation{"cell.yaml", 3, column++}};
  return out;
}

ResolvedParams resolve_test(const ParamInputs& in) {
  return resolve(schema_of<TestConfig>(), in, "solver 'test'", "solver");
}

ConfigError resolve_error(const ParamInputs& in) {
  try {
    resolve_test(in);
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError";
  return ConfigError("none");
}

ParamValue parse_as(ParamType type, const std::string& text) {
  ParamSpec spec;
  spec.type = type;
  return parse_value(spec, ParamInput{text, {}}, "k");
}

TEST(ParamsTest, SchemaKeepsDeclarationOrderTypesDefaultsAndDocs) {
  ParamSchema schema = schema_of<TestConfig>();
  ASSERT_EQ(schema.params.size(), 6u);
  std::vector<std::string> order;
  for (const auto& p : schema.params) order.push_back(p.name);
  EXPECT_EQ(order,
            (std::vector<std::string>{"flag", "count", "rate", "fraction", "mode", "label"}));
  EXPECT_EQ(schema.names(),
            (std::vector<std::string>{"count", "flag", "fraction", "label", "mode", "rate"}));
  EXPECT_EQ(spec_named(schema, "flag").type, ParamType::kBool);
  EXPECT_EQ(spec_named(schema, "count").type, ParamType::kInt);
  EXPECT_EQ(spec_named(schema, "rate").type, ParamType::kFloat);
  EXPECT_EQ(spec_named(schema, "mode").type, ParamType::kString);
  EXPECT_EQ(spec_named(schema, "count").default_value, ParamValue(std::int64_t{3}));
  EXPECT_EQ(spec_named(schema, "rate").default_value, ParamValue(0.1));
  EXPECT_EQ(spec_named(schema, "mode").default_value, ParamValue(std::string("fast")));
  EXPECT_EQ(spec_named(schema, "rate").doc, "step size");
  EXPECT_EQ(schema.find("missing"), nullptr);
  EXPECT_STREQ(to_string(ParamType::kBool), "bool");
  EXPECT_STREQ(to_string(ParamType::kInt), "int");
  EXPECT_STREQ(to_string(ParamType::kFloat), "float");
  EXPECT_STREQ(to_string(ParamType::kString), "string");
}

TEST(ParamsTest, BoundsTextShowsOpenAndClosedEnds) {
  ParamSchema schema = schema_of<TestConfig>();
  EXPECT_EQ(spec_named(schema, "count").bounds_text(), "[1, 10]");
  EXPECT_EQ(spec_named(schema, "rate").bounds_text(), "(0, inf)");
  EXPECT_EQ(spec_named(schema, "fraction").bounds_text(), "(0, 1)");
  EXPECT_EQ(spec_named(schema, "mode").bounds_text(), "{fast, slow}");
  EXPECT_EQ(spec_named(schema, "label").bounds_text(), "");
  EXPECT_EQ(spec_named(schema, "flag").bounds_text(), "");
  ParamSpec upper_only;
  upper_only.upper = 5;
  EXPECT_EQ(upper_only.bounds_text(), "(-inf, 5]");
}

TEST(ParamsTest, DeclaringAParameterTwiceIsAProgrammingError) {
  EXPECT_THROW(schema_of<TwiceConfig>(), Error);
}

TEST(ParamsTest, ParsesBools) {
  for (const char* t : {"true", "True", "yes", "1"})
    EXPECT_EQ(parse_as(ParamType::kBool, t), ParamValue(true)) << t;
  for (const char* t : {"false", "False", "no", "0"})
    EXPECT_EQ(parse_as(ParamType::kBool, t), ParamValue(false)) << t;
  for (const char* t : {"", "TRUE", "2", "on"})
    EXPECT_THROW(parse_as(ParamType::kBool, t), ConfigError) << t;
}

TEST(ParamsTest, ParsesIntegersInSixtyFourBits) {
  EXPECT_EQ(parse_as(ParamType::kInt, "42"), ParamValue(std::int64_t{42}));
  EXPECT_EQ(parse_as(ParamType::kInt, "-7"), ParamValue(std::int64_t{-7}));
  EXPECT_EQ(parse_as(ParamType::kInt, "9223372036854775807"),
            ParamValue(std::numeric_limits<std::int64_t>::max()));
  for (const char* t : {"", "1.5", "1e3", "12abc", " 1", "0x10"})
    EXPECT_THROW(parse_as(ParamType::kInt, t), ConfigError) << t;
  try {
    parse_as(ParamType::kInt, "9223372036854775808");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.message(), "k: expected an integer in 64-bit range, got '9223372036854775808'");
  }
  try {
    parse_as(ParamType::kInt, "1.5");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.message(), "k: expected an integer, got '1.5'");
  }
}

TEST(ParamsTest, ParsesFiniteFloats) {
  EXPECT_EQ(parse_as(ParamType::kFloat, "0.1"), ParamValue(0.1));
  EXPECT_EQ(parse_as(ParamType::kFloat, "1e-3"), ParamValue(1e-3));
  EXPECT_EQ(parse_as(ParamType::kFloat, "+2"), ParamValue(2.0));
  EXPECT_EQ(parse_as(ParamType::kFloat, "-2.5"), ParamValue(-2.5));
  EXPECT_EQ(parse_as(ParamType::kFloat, "7"), ParamValue(7.0));
  for (const char* t : {"", "inf", "nan", "1e999", "abc", "1.0x", "--1"})
    EXPECT_THROW(parse_as(ParamType::kFloat, t), ConfigError) << t;
}

TEST(ParamsTest, StringsAreTakenVerbatim) {
  EXPECT_EQ(parse_as(ParamType::kString, "a b,c"), ParamValue(std::string("a b,c")));
  EXPECT_EQ(parse_as(ParamType::kString, ""), ParamValue(std::string()));
}

TEST(ParamsTest, ResolveFillsDefaultsAndBindsIntoTheConfig) {
  ResolvedParams r = resolve_test(inputs({{"count", "7"}, {"mode", "slow"}, {"flag", "yes"}}));
  EXPECT_EQ(r.values().size(), 6u);
  EXPECT_EQ(r.at("count"), ParamValue(std::int64_t{7}));
  EXPECT_EQ(r.at("rate"), ParamValue(0.1));
  TestConfig c = bind<TestConfig>(r);
  EXPECT_TRUE(c.flag);
  EXPECT_EQ(c.count, 7);
  EXPECT_EQ(c.rate, 0.1);
  EXPECT_EQ(c.fraction, 0.5);
  EXPECT_EQ(c.mode, "slow");
  EXPECT_EQ(c.label, "x");
  EXPECT_THROW(r.at("nope"), Error);
}

TEST(ParamsTest, SchemaAndBindRoundTripEveryDefault) {
  TestConfig defaults;
  TestConfig bound = bind<TestConfig>(resolve_test({}));
  EXPECT_EQ(bound.flag, defaults.flag);
  EXPECT_EQ(bound.count, defaults.count);
  EXPECT_EQ(bound.rate, defaults.rate);
  EXPECT_EQ(bound.fraction, defaults.fraction);
  EXPECT_EQ(bound.mode, defaults.mode);
  EXPECT_EQ(bound.label, defaults.label);
  // Printing each resolved value and resolving the text again gives the same values.
  ResolvedParams r =
      resolve_test(inputs({{"count", "10"}, {"rate", "3e-05"}, {"fraction", "0.999"}}));
  ParamInputs again;
  for (const auto& [key, value] : r.values()) again[key] = ParamInput{format_value(value), {}};
  EXPECT_EQ(resolve_test(again).values(), r.values());
}

TEST(ParamsTest, ClosedBoundsIncludeTheirEnds) {
  EXPECT_NO_THROW(resolve_test(inputs({{"count", "1"}})));
  EXPECT_NO_THROW(resolve_test(inputs({{"count", "10"}})));
  EXPECT_THROW(resolve_test(inputs({{"count", "0"}})), ConfigError);
  EXPECT_THROW(resolve_test(inputs({{"count", "11"}})), ConfigError);
}

TEST(ParamsTest, OpenBoundsExcludeTheirEnds) {
  EXPECT_THROW(resolve_test(inputs({{"rate", "0"}})), ConfigError);
  EXPECT_NO_THROW(resolve_test(inputs({{"rate", "1e-300"}})));
  EXPECT_NO_THROW(resolve_test(inputs({{"rate", "1e300"}})));
  EXPECT_THROW(resolve_test(inputs({{"fraction", "0"}})), ConfigError);
  EXPECT_THROW(resolve_test(inputs({{"fraction", "1"}})), ConfigError);
  EXPECT_NO_THROW(resolve_test(inputs({{"fraction", "0.999"}})));
  EXPECT_THROW(resolve_test(inputs({{"fraction", "-0.5"}})), ConfigError);
}

TEST(ParamsTest, ErrorsNameTheLocationAndKeyPath) {
  ConfigError e = resolve_error(inputs({{"count", "0"}}));
  EXPECT_EQ(e.where().file, "cell.yaml");
  EXPECT_EQ(e.where().line, 3);
  EXPECT_EQ(e.message(), "solver.count: 0 is out of range [1, 10]");
  EXPECT_EQ(std::string(e.what()), "cell.yaml:3:1: solver.count: 0 is out of range [1, 10]");

  EXPECT_EQ(resolve_error(inputs({{"rate", "abc"}})).message(),
            "solver.rate: expected a finite number, got 'abc'");
  EXPECT_EQ(resolve_error(inputs({{"mode", "medium"}})).message(),
            "solver.mode: 'medium' is not one of the valid choices {fast, slow}");
  EXPECT_EQ(resolve_error(inputs({{"fraction", "1"}})).message(),
            "solver.fraction: 1 is out of range (0, 1)");
}

TEST(ParamsTest, UnknownKeyListsTheValidKeys) {
  ConfigError e = resolve_error(inputs({{"bogus", "1"}}));
  EXPECT_EQ(e.message(),
            "solver.bogus: unknown parameter of solver 'test'; valid parameters: count, flag, "
            "fraction, label, mode, rate");
  EXPECT_EQ(e.where().str(), "cell.yaml:3:1");
  try {
    resolve(ParamSchema{}, inputs({{"x", "1"}}), "metric 'm'", "metrics[0]");
    FAIL();
  } catch (const ConfigError& none) {
    EXPECT_EQ(none.message(),
              "metrics[0].x: unknown parameter of metric 'm'; valid parameters: (none)");
  }
}

TEST(ParamsTest, FormatsValuesInShortestRoundTripForm) {
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(200.0), "200");
  EXPECT_EQ(format_value(0.5), "0.5");
  EXPECT_EQ(format_value(1e-7), "1e-07");
  EXPECT_EQ(format_value(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(format_value(std::int64_t{200}), "200");
  EXPECT_EQ(format_value(std::int64_t{-3}), "-3");
  EXPECT_EQ(format_value(true), "true");
  EXPECT_EQ(format_value(false), "false");
  EXPECT_EQ(format_value(std::string("sgd")), "sgd");
  ParamSpec spec;
  spec.type = ParamType::kFloat;
  for (double v :
       {0.1, 0.2 + 0.1, 1.0 / 3.0, 6.02214076e23, 5e-324, 1.7976931348623157e308, -123.456, 0.0}) {
    std::string text = format_value(v);
    EXPECT_EQ(std::get<double>(parse_value(spec, ParamInput{text, {}}, "k")), v) << text;
  }
}

TEST(ParamsTest, SourceLocationPrintsWhatIsKnown) {
  EXPECT_EQ((SourceLocation{"a.yaml", 3, 27}).str(), "a.yaml:3:27");
  EXPECT_EQ((SourceLocation{"a.yaml", 3, 0}).str(), "a.yaml:3");
  EXPECT_EQ((SourceLocation{"--set solver.lr=0.05", 0, 0}).str(), "--set solver.lr=0.05");
  EXPECT_EQ(SourceLocation{}.str(), "");
  EXPECT_EQ(std::string(ConfigError("plain").what()), "plain");
}

}  // namespace
}  // namespace cube
