// cube/core/energy_meter.h: real energy, read from the machine's counters over named windows.
//
// What: EnergyMeter::detect() finds the energy counters the process can read; begin(name) and
// end(name) bracket a window and end() returns the joules of each domain spent in it. Backends
// (all optional; every one that works is used, except perf when RAPL works, as both read the
// same RAPL hardware counters):
//   rapl  Linux powercap: <root>/sys/class/powercap/intel-rapl:P/energy_uj (zone name
//         "package-P") and its sub-zone named "dram" (domain "dram-P"); core, uncore and psys
//         zones are skipped because they overlap the package. Counters are microjoules that wrap
//         at max_energy_range_uj: a reading below the previous one adds max_range - prev + now.
//         energy_uj is root-only on kernels since 5.10 (CVE-2020-8694): unreadable zones are
//         unavailable.
//   perf  perf_event_open on the "power" PMU (<root>/sys/bus/event_source/devices/power: type,
//         events/energy-pkg and energy-ram with their .scale in joules, cpumask with one CPU per
//         package); domains "package-I", "dram-I" for the I-th CPU of the mask. 64-bit counts.
//         Needs perf_event_paranoid <= 0 or CAP_PERFMON.
//   nvml  NVIDIA GPUs through dlopen("libnvidia-ml.so.1") (no link-time dependency):
//         nvmlDeviceGetTotalEnergyConsumption, millijoules since the driver loaded (Volta and
//         newer); domains "gpu-I". Not tied to `root`.
// Where nothing works, available() is false and every value is std::nullopt ("n/a"), never 0.
//
// Math: joules(window, domain) = scale * sum over consecutive readings r_i of delta(r_{i-1}, r_i),
// delta(a, b) = b - a when b >= a, else (period - a) + b for wrapping counters (period =
// max_energy_range_uj); a domain whose read fails, or whose non-wrapping counter goes backwards,
// is nullopt for every window open at the time. Every begin/end/poll reads each counter once
// and advances every open window, so a counter that wraps more than once within a window is
// counted right as long as poll() (or any begin/end) runs at least once per wrap period
// (max_energy_range_uj / power: about 262 kJ, over 20 min at 200 W, on current Intel parts).
//
// Units: joules, seconds (steady clock). Cost: one file read (rapl), read() syscall (perf) or
// NVML call per domain per begin/end/poll; nothing between calls. Not thread-safe.
// References: Linux Documentation/power/powercap/powercap.rst; perf_event_open(2); NVML API
// reference, nvmlDeviceGetTotalEnergyConsumption.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cube {

// Which backends detect() may use (bit flags).
enum EnergyBackend : unsigned {
  kEnergyRapl = 1u,
  kEnergyPerf = 2u,
  kEnergyNvml = 4u,
  kEnergyAllBackends = 7u,
};

// The energy of one window.
struct EnergyWindow {
  std::map<std::string, std::optional<double>> joules;  // per domain; nullopt = read failed
  double seconds = 0;                                   // wall time of the window

  // Sum over the domains (they are disjoint: package, dram, gpu); nullopt when there is no
  // domain or any domain is nullopt.
  std::optional<double> total() const;
};

// One counter of a backend: monotonically increasing `scale`-joule counts, wrapping at
// `period` counts (0: does not wrap).
struct EnergyCounter {
  std::string domain;
  double scale = 1e-6;
  std::uint64_t period = 0;
};

// A backend: a set of counters read together. Implementations live in energy_meter.cc.
class EnergySource {
 public:
  virtual ~EnergySource() = default;
  virtual std::string name() const = 0;
  virtual const std::vector<EnergyCounter>& counters() const = 0;
  // Current counts, one per counter, nullopt where the read failed.
  virtual std::vector<std::optional<std::uint64_t>> read() = 0;
};

// The RAPL powercap backend under `root`, or nullptr (with a reason appended to `why`) when no
// package or dram zone is readable.
std::unique_ptr<EnergySource> open_rapl(const std::filesystem::path& root,
                                        std::vector<std::string>& why);
// The perf "power" PMU backend under `root`, or nullptr with a reason.
std::unique_ptr<EnergySource> open_perf_power(const std::filesystem::path& root,
                                              std::vector<std::string>& why);
// The NVML backend, or nullptr with a reason (no library, no GPU, no energy counter).
std::unique_ptr<EnergySource> open_nvml(std::vector<std::string>& why);

// Parsing helpers of the perf backend. "event=0x02" or "event=0x02,umask=0x1" -> the config
// word (event | umask << 8), nullopt when malformed. "0", "0,28", "0-3,8" -> CPU numbers.
std::optional<std::uint64_t> parse_perf_event_config(const std::string& text);
std::vector<int> parse_cpu_list(const std::string& text);

// The counts between two readings of a counter (see Math above); nullopt when a non-wrapping
// counter went backwards (a reset).
std::optional<std::uint64_t> counter_delta(std::uint64_t before, std::uint64_t after,
                                           std::uint64_t period);

class EnergyMeter {
 public:
  // Probes the backends selected by `backends`; sysfs paths are read under `root` ("/" on a
  // real machine, a fake tree in tests). Never throws for missing or unreadable counters.
  static EnergyMeter detect(const std::filesystem::path& root = "/",
                            unsigned backends = kEnergyAllBackends);
  // A meter over the given sources (tests); sources that have no counters are dropped.
  explicit EnergyMeter(std::vector<std::unique_ptr<EnergySource>> sources,
                       std::vector<std::string> why = {});

  EnergyMeter(EnergyMeter&&) noexcept;
  EnergyMeter& operator=(EnergyMeter&&) noexcept;
  ~EnergyMeter();

  // True when at least one domain can be read.
  bool available() const;
  // "rapl", "perf", "nvml", "rapl+nvml", ... or "none".
  std::string backend() const;
  // Domain names, in backend then counter order.
  std::vector<std::string> domains() const;
  // Why each unused backend was not used, one line each (for logs and `n/a` explanations).
  const std::vector<std::string>& notes() const { return why_; }

  // Starts (or restarts) the window `name`.
  void begin(const std::string& name);
  // Closes the window `name` and returns its energy per domain (an empty map when unavailable).
  // Throws cube::Error when no window of that name is open.
  EnergyWindow end(const std::string& name);
  // Reads every counter once and advances every open window (call once per wrap period in
  // very long windows; begin and end do this too).
  void poll();

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    std::vector<std::optional<std::uint64_t>> last;  // previous reading per domain
    std::vector<std::optional<std::uint64_t>> sum;   // counts so far; nullopt once a read fails
  };
  std::vector<std::optional<std::uint64_t>> read_all();
  void advance(const std::vector<std::optional<std::uint64_t>>& now);

  std::vector<std::unique_ptr<EnergySource>> sources_;
  std::vector<EnergyCounter> counters_;  // all counters, flattened in source order
  std::vector<std::string> why_;
  std::map<std::string, Window> windows_;
};

}  // namespace cube
