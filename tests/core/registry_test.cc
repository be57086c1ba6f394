// Tests of core/registry on a test-only axis: self-registration, lookup errors listing the
// candidates, and instantiate() setting the canonical spec with every default.

#include "core/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace cube {

// A test-only axis, so that the registries of the real axes are untouched.
class Gadget : public Module {
 public:
  virtual double output() const = 0;
};

template <>
struct AxisName<Gadget> {
  static constexpr const char* value = "gadget";
};

// A second test-only axis whose registry is filled by hand, to watch when entries are built.
class Widget : public Module {};

template <>
struct AxisName<Widget> {
  static constexpr const char* value = "widget";
};

namespace {

struct ScaleConfig {
  double factor = 2.5;
  std::int64_t repeats = 1;
  std::string label = "plain";
  template <class V>
  void visit(V& v) {
    v("repeats", repeats, "times to apply").at_least(1);
    v("factor", factor, "multiplier").greater_than(0.0);
    v("label", label, "a tag").one_of({"plain", "fancy"});
  }
};

class ScaleGadget : public Gadget {
 public:
  explicit ScaleGadget(ScaleConfig config) : config_(config) {}
  double output() const override { return config_.factor * static_cast<double>(config_.repeats); }
  const ScaleConfig& config() const { return config_; }

 private:
  ScaleConfig config_;
};

class ConstantGadget : public Gadget {
 public:
  explicit ConstantGadget(NoParams) {}
  double output() const override { return 1; }
};

CUBE_REGISTER(Gadget, ScaleGadget, ScaleConfig, "scale", "multiplies");
CUBE_REGISTER(Gadget, ConstantGadget, NoParams, "constant", "always one");

using GadgetRegistry = Registry<Gadget>;

TEST(RegistryTest, ModulesRegisterThemselvesWithDocAndSchema) {
  EXPECT_EQ(GadgetRegistry::instance().names(), (std::vector<std::string>{"constant", "scale"}));
  const auto* entry = GadgetRegistry::instance().find("scale");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->name, "scale");
  EXPECT_EQ(entry->doc, "multiplies");
  EXPECT_EQ(entry->schema.names(), (std::vector<std::string>{"factor", "label", "repeats"}));
  EXPECT_EQ(GadgetRegistry::instance().find("nope"), nullptr);
  auto entries = GadgetRegistry::instance().entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]->name, "constant");  // sorted by name
}

TEST(RegistryTest, RegisteringANameTwiceIsAProgrammingError) {
  EXPECT_THROW(GadgetRegistry::instance().add(
                   make_entry<Gadget, ConstantGadget, NoParams>("constant", "again")),
               Error);
  EXPECT_EQ(GadgetRegistry::instance().find("constant")->doc, "always one");
}

TEST(RegistryTest, UnknownNameListsTheCandidates) {
  try {
    instantiate<Gadget>(parse_spec("scael(factor=2)", SourceLocation{"cell.yaml", 5, 9}),
                        "gadgets[1]");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().str(), "cell.yaml:5:9");
    EXPECT_EQ(e.message(),
              "gadgets[1].name: unknown gadget 'scael'; valid choices: constant, scale");
  }
  EXPECT_THROW(canonical_of<Gadget>(parse_spec("nope"), "gadget"), ConfigError);
}

TEST(RegistryTest, InstantiateSetsTheCanonicalSpecWithAllDefaults) {
  auto gadget = instantiate<Gadget>(parse_spec("scale(repeats=3)"), "gadget");
  EXPECT_EQ(gadget->name(), "scale");
  EXPECT_EQ(gadget->spec(), "scale(factor=2.5,label=plain,repeats=3)");
  EXPECT_EQ(gadget->output(), 7.5);
  auto* scale = dynamic_cast<ScaleGadget*>(gadget.get());
  ASSERT_NE(scale, nullptr);
  EXPECT_EQ(scale->config().label, "plain");

  auto constant = instantiate<Gadget>(parse_spec("constant"), "gadget");
  EXPECT_EQ(constant->spec(), "constant");
  EXPECT_EQ(constant->output(), 1);

  EXPECT_EQ(canonical_of<Gadget>(parse_spec("scale(label=fancy, factor=0.1)"), "gadget"),
            "scale(factor=0.1,label=fancy,repeats=1)");
  // The canonical spec instantiates to the same canonical spec.
  EXPECT_EQ(instantiate<Gadget>(parse_spec(gadget->spec()), "gadget")->spec(), gadget->spec());
}

TEST(RegistryTest, InstantiateValidatesParametersAgainstTheSchema) {
  try {
    instantiate<Gadget>(parse_spec("scale(repeats=0)", SourceLocation{"cell.yaml", 2, 1}),
                        "gadget");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.what(), std::string("cell.yaml:2:1: gadget.repeats: 0 is out of range [1, inf)"));
  }
  try {
    instantiate<Gadget>(parse_spec("constant(x=1)"), "gadget");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.message(),
              "gadget.x: unknown parameter of gadget 'constant'; valid parameters: (none)");
  }
}

class PlainWidget : public Widget {
 public:
  explicit PlainWidget(NoParams) {}
};

std::atomic<int> widget_builds{0};

Registry<Widget>::Entry counted_entry(const char* name, const char* doc) {
  ++widget_builds;
  return make_entry<Widget, PlainWidget, NoParams>(name, doc);
}

// Registration costs no entry: each is built on its first lookup, once, even when threads look
// it up together; listing builds the rest; a name taken by a pending registration stays taken.
TEST(RegistryTest, EntriesAreBuiltOnFirstLookupOnly) {
  static Registry<Widget>::Registration first{"first", "one", &counted_entry};
  static Registry<Widget>::Registration second{"second", "two", &counted_entry};
  auto& registry = Registry<Widget>::instance();
  registry.add(first);
  registry.add(second);
  EXPECT_EQ(widget_builds, 0);
  EXPECT_THROW(registry.add(make_entry<Widget, PlainWidget, NoParams>("second", "again")), Error);
  EXPECT_EQ(registry.find("third"), nullptr);
  EXPECT_EQ(widget_builds, 0);

  std::vector<const Registry<Widget>::Entry*> seen(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < seen.size(); ++t)
    threads.emplace_back([&, t] { seen[t] = registry.find("first"); });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(widget_builds, 1);
  ASSERT_NE(seen[0], nullptr);
  EXPECT_EQ(std::set<const Registry<Widget>::Entry*>(seen.begin(), seen.end()).size(), 1u);
  EXPECT_EQ(seen[0]->doc, "one");

  EXPECT_EQ(registry.names(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(widget_builds, 2);
  EXPECT_EQ(registry.find("second")->doc, "two");
  EXPECT_EQ(widget_builds, 2);
  EXPECT_EQ(instantiate<Widget>(parse_spec("second"), "widget")->spec(), "second");
}

}  // namespace
}  // namespace cube
