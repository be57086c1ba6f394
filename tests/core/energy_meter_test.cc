// Tests of core/energy_meter: the RAPL reader against a fake powercap sysfs tree (zone selection,
// exact joules, counter wrap-around, unreadable counters, several open windows), the perf and
// NVML probes failing cleanly, and the real machine's meter saying n/a rather than 0.

#include "core/energy_meter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>

#include "core/error.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

class FakeSysfs {
 public:
  explicit FakeSysfs(const std::string& tag)
      : root_(fs::temp_directory_path() /
              ("cube_energy_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(powercap());
  }
  ~FakeSysfs() { fs::remove_all(root_); }

  const fs::path& root() const { return root_; }
  fs::path powercap() const { return root_ / "sys/class/powercap"; }

  // A zone directory with its name, counter and range.
  void zone(const std::string& dir, const std::string& name, std::uint64_t energy_uj,
            std::uint64_t max_uj) {
    fs::create_directories(powercap() / dir);
    write(dir + "/name", name);
    write(dir + "/max_energy_range_uj", std::to_string(max_uj));
    set(dir, energy_uj);
  }
  void set(const std::string& dir, std::uint64_t energy_uj) {
    write(dir + "/energy_uj", std::to_string(energy_uj));
  }
  void write(const std::string& relative, const std::string& text) {
    std::ofstream(powercap() / relative) << text << "\n";
  }

 private:
  fs::path root_;
};

constexpr std::uint64_t kRange = 262143328850;  // a real max_energy_range_uj

// package-0 with dram and the zones that must be skipped.
void standard_tree(FakeSysfs& sys) {
  sys.zone("intel-rapl:0", "package-0", 1000000, kRange);
  sys.zone("intel-rapl:0:0", "core", 5, kRange);
  sys.zone("intel-rapl:0:1", "uncore", 5, kRange);
  sys.zone("intel-rapl:0:2", "dram", 2000000, kRange);
  sys.zone("intel-rapl:1", "psys", 7, kRange);
  sys.zone("intel-rapl-mmio:0", "package-0", 9, kRange);
}

void expect_joules(const EnergyWindow& w, const std::string& domain, double joules) {
  auto it = w.joules.find(domain);
  ASSERT_NE(it, w.joules.end()) << domain;
  ASSERT_TRUE(it->second.has_value()) << domain;
  EXPECT_NEAR(*it->second, joules, 1e-9 * std::abs(joules)) << domain;
}

TEST(EnergyMeterTest, RaplReadsPackageAndDramZonesOnly) {
  FakeSysfs sys("zones");
  standard_tree(sys);
  sys.zone("intel-rapl:2", "package-1", 0, kRange);
  sys.zone("intel-rapl:2:0", "dram", 0, kRange);
  EnergyMeter meter = EnergyMeter::detect(sys.root(), kEnergyRapl);
  EXPECT_TRUE(meter.available());
  EXPECT_EQ(meter.backend(), "rapl");
  EXPECT_EQ(meter.domains(),
            (std::vector<std::string>{"dram-0", "dram-1", "package-0", "package-1"}));
}

TEST(EnergyMeterTest, WindowGivesExactJoulesPerDomain) {
  FakeSysfs sys("exact");
  standard_tree(sys);
  EnergyMeter meter = EnergyMeter::detect(sys.root(), kEnergyRapl);
  meter.begin("step");
  sys.set("intel-rapl:0", 1000000 + 12500000);  // +12.5 J
  sys.set("intel-rapl:0:2", 2000000 + 750000);  // +0.75 J
  EnergyWindow w = meter.end("step");
  EXPECT_EQ(w.joules.size(), 2u);
  expect_joules(w, "package-0", 12.5);
  expect_joules(w, "dram-0", 0.75);
  ASSERT_TRUE(w.total().has_value());
  EXPECT_NEAR(*w.total(), 13.25, 1e-12);
  EXPECT_GE(w.seconds, 0.0);
  // A window with no energy spent is a measured 0, not n/a.
  meter.begin("idle");
  EnergyWindow idle = meter.end("idle");
  expect_joules(idle, "package-0", 0.0);
  EXPECT_THROW(meter.end("idle"), Error);  // closed
  EXPECT_THROW(meter.end("never"), Error);
}

TEST(EnergyMeterTest, CounterWrapAroundAddsTheRange) {
  FakeSysfs sys("wrap");
  sys.zone("intel-rapl:0", "package-0", kRange - 1000, kRange);
  EnergyMeter meter = EnergyMeter::detect(sys.root(), kEnergyRapl);
  meter.begin("w");
  sys.set("intel-rapl:0", 500);  // wrapped: 1000 to the top, then 500
  expect_joules(meter.end("w"), "package-0", 1500e-6);

  // Two wraps in one window, each seen by a poll.
  meter.begin("long");
  sys.set("intel-rapl:0", kRange - 10);
  meter.poll();
  sys.set("intel-rapl:0", 20);
  meter.poll();
  sys.set("intel-rapl:0", kRange - 5);
  meter.poll();
  sys.set("intel-rapl:0", 100);
  const double counts =
      static_cast<double>((kRange - 10 - 500) + 10 + 20 + (kRange - 5 - 20) + 5 + 100);
  expect_joules(meter.end("long"), "package-0", counts * 1e-6);
}

TEST(EnergyMeterTest, SeveralWindowsOverlap) {
  FakeSysfs sys("windows");
  sys.zone("intel-rapl:0", "package-0", 0, kRange);
  EnergyMeter meter = EnergyMeter::detect(sys.root(), kEnergyRapl);
  meter.begin("run");
  sys.set("intel-rapl:0", 1000000);
  meter.begin("forward");
  sys.set("intel-rapl:0", 3000000);
  expect_joules(meter.end("forward"), "package-0", 2.0);
  meter.begin("backward");
  sys.set("intel-rapl:0", 7000000);
  EnergyWindow backward = meter.end("backward");
  sys.set("intel-rapl:0", 8000000);
  EnergyWindow run = meter.end("run");
  expect_joules(backward, "package-0", 4.0);
  expect_joules(run, "package-0", 8.0);
  // begin() on an open window restarts it.
  meter.begin("x");
  sys.set("intel-rapl:0", 9000000);
  meter.begin("x");
  sys.set("intel-rapl:0", 9500000);
  expect_joules(meter.end("x"), "package-0", 0.5);
}

TEST(EnergyMeterTest, FailedReadMakesTheDomainNotApplicable) {
  FakeSysfs sys("failed");
  standard_tree(sys);
  EnergyMeter meter = EnergyMeter::detect(sys.root(), kEnergyRapl);
  meter.begin("w");
  sys.set("intel-rapl:0", 4000000);
  fs::remove(sys.powercap() / "intel-rapl:0:2" / "energy_uj");
  meter.poll();
  sys.set("intel-rapl:0:2", 2000000);  // back, but the window already lost a reading
  EnergyWindow w = meter.end("w");
  expect_joules(w, "package-0", 3.0);
  EXPECT_FALSE(w.joules.at("dram-0").has_value());
  EXPECT_FALSE(w.total().has_value());  // n/a, never a partial sum
  meter.begin("after");
  sys.set("intel-rapl:0:2", 2500000);
  expect_joules(meter.end("after"), "dram-0", 0.5);
}

// Runs `body` in a child process as user nobody when this process is root (root reads any file
// whatever its mode), so that a mode-000 file really is unreadable. The child's exit code is
// the result: 0 for success.
int run_unprivileged(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(90);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

TEST(EnergyMeterTest, UnreadableCountersAreUnavailable) {
  FakeSysfs sys("perm");
  standard_tree(sys);
  fs::permissions(sys.root(), fs::perms::all, fs::perm_options::add);  // nobody may traverse
  for (fs::path p = sys.root(); p != p.parent_path() && p != fs::temp_directory_path();
       p = p.parent_path())
    ASSERT_TRUE((fs::status(p).permissions() & fs::perms::others_exec) != fs::perms::none) << p;
  for (const char* zone : {"intel-rapl:0", "intel-rapl:0:2"})
    ::chmod((sys.powercap() / zone / "energy_uj").c_str(), 0400);  // root-only, as since 5.10
  const int code = run_unprivileged([&] {
    EnergyMeter meter = EnergyMeter::detect(sys.root(), kEnergyRapl);
    if (meter.available() || meter.backend() != "none") return 1;
    bool says_why = false;
    for (const std::string& note : meter.notes())
      says_why |= note.find("Permission denied") != std::string::npos;
    if (!says_why) return 2;
    meter.begin("w");
    EnergyWindow w = meter.end("w");
    return (w.joules.empty() && !w.total()) ? 0 : 3;
  });
  EXPECT_EQ(code, 0);

  // One readable domain is enough; the unreadable one is left out.
  ::chmod((sys.powercap() / "intel-rapl:0" / "energy_uj").c_str(), 0444);
  const int partial = run_unprivileged([&] {
    EnergyMeter meter = EnergyMeter::detect(sys.root(), kEnergyRapl);
    return meter.domains() == std::vector<std::string>{"package-0"} ? 0 : 1;
  });
  EXPECT_EQ(partial, 0);
}

TEST(EnergyMeterTest, NoCountersMeansNotApplicableNeverZero) {
  FakeSysfs sys("none");  // an empty powercap directory and no power PMU
  EnergyMeter meter = EnergyMeter::detect(sys.root(), kEnergyRapl | kEnergyPerf);
  EXPECT_FALSE(meter.available());
  EXPECT_EQ(meter.backend(), "none");
  EXPECT_TRUE(meter.domains().empty());
  EXPECT_EQ(meter.notes().size(), 2u);  // one reason per backend tried
  meter.begin("w");
  meter.poll();
  EnergyWindow w = meter.end("w");
  EXPECT_TRUE(w.joules.empty());
  EXPECT_FALSE(w.total().has_value());

  EnergyMeter missing = EnergyMeter::detect(sys.root() / "absent", kEnergyRapl);
  EXPECT_FALSE(missing.available());
}

TEST(EnergyMeterTest, PerfProbeFailsCleanlyOnAFakePmu) {
  FakeSysfs sys("perf");
  const fs::path pmu = sys.root() / "sys/bus/event_source/devices/power";
  fs::create_directories(pmu / "events");
  std::ofstream(pmu / "type") << "4294967295\n";  // no such PMU type: the open must fail
  std::ofstream(pmu / "cpumask") << "0\n";
  std::ofstream(pmu / "events" / "energy-pkg") << "event=0x02\n";
  std::ofstream(pmu / "events" / "energy-pkg.scale") << "2.3283064365386962890625e-10\n";
  std::vector<std::string> why;
  EXPECT_EQ(open_perf_power(sys.root(), why), nullptr);
  ASSERT_FALSE(why.empty());
  EXPECT_NE(why.back().find("perf_event_open(energy-pkg, cpu 0)"), std::string::npos) << why.back();
}

TEST(EnergyMeterTest, PerfParsingHelpers) {
  EXPECT_EQ(parse_perf_event_config("event=0x02\n"), std::optional<std::uint64_t>(2));
  EXPECT_EQ(parse_perf_event_config("event=0x3,umask=0x1"), std::optional<std::uint64_t>(0x103));
  EXPECT_EQ(parse_perf_event_config("umask=0x1"), std::nullopt);
  EXPECT_EQ(parse_perf_event_config("event=zz"), std::nullopt);
  EXPECT_EQ(parse_perf_event_config("config=0x1"), std::nullopt);
  EXPECT_EQ(parse_cpu_list("0\n"), std::vector<int>{0});
  EXPECT_EQ(parse_cpu_list("0,28"), (std::vector<int>{0, 28}));
  EXPECT_EQ(parse_cpu_list("0-2,8"), (std::vector<int>{0, 1, 2, 8}));
  EXPECT_TRUE(parse_cpu_list("3-1").empty());
}

TEST(EnergyMeterTest, CounterDelta) {
  EXPECT_EQ(counter_delta(10, 25, 0), std::optional<std::uint64_t>(15));
  EXPECT_EQ(counter_delta(10, 10, 100), std::optional<std::uint64_t>(0));
  EXPECT_EQ(counter_delta(90, 5, 100), std::optional<std::uint64_t>(15));  // (100 - 90) + 5
  EXPECT_EQ(counter_delta(90, 5, 0), std::nullopt);                        // a reset, not a wrap
  EXPECT_EQ(counter_delta(150, 5, 100), std::nullopt);  // beyond the declared range
}

// A scripted source: checks the meter's scaling and reset handling without sysfs.
class ScriptedSource : public EnergySource {
 public:
  explicit ScriptedSource(std::vector<std::vector<std::optional<std::uint64_t>>> script)
      : script_(std::move(script)) {
    counters_ = {EnergyCounter{"gpu-0", 1e-3, 0}, EnergyCounter{"gpu-1", 1e-3, 0}};
  }
  std::string name() const override { return "nvml"; }
  const std::vector<EnergyCounter>& counters() const override { return counters_; }
  std::vector<std::optional<std::uint64_t>> read() override { return script_.at(next_++); }

 private:
  std::vector<EnergyCounter> counters_;
  std::vector<std::vector<std::optional<std::uint64_t>>> script_;
  std::size_t next_ = 0;
};

TEST(EnergyMeterTest, ScaleAndResetOfNonWrappingCounters) {
  std::vector<std::unique_ptr<EnergySource>> sources;
  sources.push_back(std::make_unique<ScriptedSource>(
      std::vector<std::vector<std::optional<std::uint64_t>>>{{1000, 5000}, {4500, 4000}}));
  EnergyMeter meter(std::move(sources));
  EXPECT_EQ(meter.backend(), "nvml");
  meter.begin("w");
  EnergyWindow w = meter.end("w");
  expect_joules(w, "gpu-0", 3.5);                  // 3500 mJ
  EXPECT_FALSE(w.joules.at("gpu-1").has_value());  // went backwards: a reset, n/a
}

TEST(EnergyMeterTest, RealMachineSaysNotApplicableOrGivesJoules) {
  EnergyMeter meter = EnergyMeter::detect();
  meter.begin("w");
  volatile double sink = 0;
  for (int i = 0; i < 1000000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
  EnergyWindow w = meter.end("w");
  if (!meter.available()) {
    EXPECT_EQ(meter.backend(), "none");
    EXPECT_FALSE(meter.notes().empty());
    EXPECT_TRUE(w.joules.empty());
    EXPECT_FALSE(w.total().has_value());
  } else {
    EXPECT_EQ(w.joules.size(), meter.domains().size());
    for (const auto& [domain, joules] : w.joules) {
      if (joules) {
        EXPECT_GE(*joules, 0.0) << domain;
      }
    }
  }
  std::cout << "energy meter on this machine: " << meter.backend() << "; "
            << join(meter.notes(), "; ") << "\n";
}

}  // namespace
}  // namespace cube
