// cube/core/energy_meter.cc: the RAPL (powercap), perf power-PMU and NVML energy backends and
// the windowed meter over them. Not here: any estimate of energy from a trace (metrics/energy/).

#include "core/energy_meter.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "core/error.h"

namespace cube {
namespace {

namespace fs = std::filesystem;

std::string trim(std::string s) {
  const char* space = " \t\r\n";
  s.erase(0, s.find_first_not_of(space));
  s.erase(s.find_last_not_of(space) + 1);
  return s;
}

// Whole small file (sysfs attribute) through POSIX calls, so that errno says why a read failed
// (EACCES for a root-only energy_uj). On failure returns nullopt and sets `error`.
std::optional<std::string> read_small(const fs::path& path, std::string* error = nullptr) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = path.string() + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buffer[256];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (error) *error = path.string() + ": " + std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return trim(text);
}

std::optional<std::uint64_t> parse_u64(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

std::optional<std::uint64_t> read_u64(const fs::path& path, std::string* error = nullptr) {
  std::optional<std::string> text = read_small(path, error);
  if (!text) return std::nullopt;
  std::optional<std::uint64_t> v = parse_u64(*text);
  if (!v && error) *error = path.string() + ": not an unsigned integer: '" + *text + "'";
  return v;
}

// ---------------------------------------------------------------------------------------------
// RAPL through powercap sysfs.

class RaplSource : public EnergySource {
 public:
  void add(EnergyCounter counter, fs::path file) {
    counters_.push_back(std::move(counter));
    files_.push_back(std::move(file));
  }
  std::string name() const override { return "rapl"; }
  const std::vector<EnergyCounter>& counters() const override { return counters_; }
  std::vector<std::optional<std::uint64_t>> read() override {
    std::vector<std::optional<std::uint64_t>> out;
    out.reserve(files_.size());
    for (const fs::path& file : files_) out.push_back(read_u64(file));
    return out;
  }

 private:
  std::vector<EnergyCounter> counters_;
  std::vector<fs::path> files_;
};

// "intel-rapl:0" -> {0}, "intel-rapl:0:1" -> {0, 1}; empty for other names.
std::vector<std::uint64_t> rapl_zone_indices(const std::string& name) {
  const std::string prefix = "intel-rapl:";
  if (name.rfind(prefix, 0) != 0) return {};
  std::vector<std::uint64_t> out;
  std::size_t pos = prefix.size();
  while (pos <= name.size()) {
    std::size_t colon = name.find(':', pos);
    if (colon == std::string::npos) colon = name.size();
    std::optional<std::uint64_t> v = parse_u64(name.substr(pos, colon - pos));
    if (!v) return {};
    out.push_back(*v);
    pos = colon + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// perf power PMU.

class PerfSource : public EnergySource {
 public:
  ~PerfSource() override {
    for (int fd : fds_) ::close(fd);
  }
  void add(EnergyCounter counter, int fd) {
    counters_.push_back(std::move(counter));
    fds_.push_back(fd);
  }
  std::string name() const override { return "perf"; }
  const std::vector<EnergyCounter>& counters() const override { return counters_; }
  std::vector<std::optional<std::uint64_t>> read() override {
    std::vector<std::optional<std::uint64_t>> out;
    out.reserve(fds_.size());
    for (int fd : fds_) {
      std::uint64_t value = 0;
      if (::read(fd, &value, sizeof value) == static_cast<ssize_t>(sizeof value))
        out.push_back(value);
      else
        out.push_back(std::nullopt);
    }
    return out;
  }

 private:
  std::vector<EnergyCounter> counters_;
  std::vector<int> fds_;
};

// ---------------------------------------------------------------------------------------------
// NVML, declared here rather than from nvml.h so that cube builds without the CUDA toolkit. The
// signatures are those of the NVML API reference (nvmlReturn_t is an int enum, 0 = success).

struct NvmlDevice;
using NvmlDeviceHandle = NvmlDevice*;
using NvmlInitFn = int (*)();
using NvmlShutdownFn = int (*)();
using NvmlCountFn = int (*)(unsigned int*);
using NvmlHandleFn = int (*)(unsigned int, NvmlDeviceHandle*);
using NvmlEnergyFn = int (*)(NvmlDeviceHandle, unsigned long long*);

class NvmlSource : public EnergySource {
 public:
  NvmlSource(void* library, NvmlShutdownFn shutdown, NvmlEnergyFn energy)
      : library_(library), shutdown_(shutdown), energy_(energy) {}
  ~NvmlSource() override {
    shutdown_();
    ::dlclose(library_);
  }
  void add(EnergyCounter counter, NvmlDeviceHandle device) {
    counters_.push_back(std::move(counter));
    devices_.push_back(device);
  }
  std::string name() const override { return "nvml"; }
  const std::vector<EnergyCounter>& counters() const override { return counters_; }
  std::vector<std::optional<std::uint64_t>> read() override {
    std::vector<std::optional<std::uint64_t>> out;
    out.reserve(devices_.size());
    for (NvmlDeviceHandle device : devices_) {
      unsigned long long millijoules = 0;
      if (energy_(device, &millijoules) == 0)
        out.push_back(static_cast<std::uint64_t>(millijoules));
      else
        out.push_back(std::nullopt);
    }
    return out;
  }

 private:
  void* library_;
  NvmlShutdownFn shutdown_;
  NvmlEnergyFn energy_;
  std::vector<EnergyCounter> counters_;
  std::vector<NvmlDeviceHandle> devices_;
};

}  // namespace

std::optional<double> EnergyWindow::total() const {
  if (joules.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& [domain, value] : joules) {
    if (!value) return std::nullopt;
    sum += *value;
  }
  return sum;
}

std::optional<std::uint64_t> counter_delta(std::uint64_t before, std::uint64_t after,
                                           std::uint64_t period) {
  if (after >= before) return after - before;
  if (period > 0 && before <= period) return (period - before) + after;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_perf_event_config(const std::string& text) {
  // The power PMU's format/ directory declares event as config:0-7 and (where present) umask as
  // config:8-15; those are the only two fields its events use.
  std::uint64_t config = 0;
  bool has_event = false;
  std::size_t pos = 0;
  const std::string s = trim(text);
  while (pos < s.size()) {
    std::size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    const std::string item = s.substr(pos, comma - pos);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) return std::nullopt;
    const std::string key = trim(item.substr(0, eq));
    std::optional<std::uint64_t> value = parse_u64(trim(item.substr(eq + 1)));
    if (!value || *value > 0xff) return std::nullopt;
    if (key == "event") {
      config |= *value;
      has_event = true;
    } else if (key == "umask") {
      config |= *value << 8;
    } else {
      return std::nullopt;
    }
    pos = comma + 1;
  }
  if (!has_event) return std::nullopt;
  return config;
}

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  const std::string s = trim(text);
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    const std::string item = s.substr(pos, comma - pos);
    const std::size_t dash = item.find('-');
    std::optional<std::uint64_t> lo = parse_u64(item.substr(0, dash));
    std::optional<std::uint64_t> hi =
        dash == std::string::npos ? lo : parse_u64(item.substr(dash + 1));
    if (!lo || !hi || *lo > *hi || *hi > 1u << 20) return {};
    for (std::uint64_t c = *lo; c <= *hi; ++c) cpus.push_back(static_cast<int>(c));
    pos = comma + 1;
  }
  return cpus;
}

std::unique_ptr<EnergySource> open_rapl(const fs::path& root, std::vector<std::string>& why) {
  const fs::path base = root / "sys/class/powercap";
  std::error_code ec;
  if (!fs::is_directory(base, ec)) {
    why.push_back("rapl: no " + base.string());
    return nullptr;
  }
  struct Zone {
    std::string domain;
    fs::path dir;
  };
  std::vector<Zone> zones;
  for (const fs::directory_entry& entry : fs::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    const std::vector<std::uint64_t> index = rapl_zone_indices(name);
    if (index.empty() || index.size() > 2) continue;
    std::optional<std::string> zone_name = read_small(entry.path() / "name");
    if (!zone_name) continue;
    if (index.size() == 1 && zone_name->rfind("package-", 0) == 0) {
      zones.push_back({*zone_name, entry.path()});
    } else if (index.size() == 2 && *zone_name == "dram") {
      // Name DRAM after its package ("package-1" -> "dram-1"), not after the zone index.
      std::optional<std::string> parent =
          read_small(base / ("intel-rapl:" + std::to_string(index[0])) / "name");
      std::string suffix = std::to_string(index[0]);
      if (parent && parent->rfind("package-", 0) == 0) suffix = parent->substr(8);
      zones.push_back({"dram-" + suffix, entry.path()});
    }
  }
  std::sort(zones.begin(), zones.end(),
            [](const Zone& a, const Zone& b) { return a.domain < b.domain; });
  auto source = std::make_unique<RaplSource>();
  for (const Zone& zone : zones) {
    std::string error;
    if (!read_u64(zone.dir / "energy_uj", &error)) {
      why.push_back("rapl: " + error);
      continue;
    }
    // Without a range the counter cannot be unwrapped: period 0 turns a wrap into n/a.
    const std::uint64_t range = read_u64(zone.dir / "max_energy_range_uj").value_or(0);
    source->add(EnergyCounter{zone.domain, 1e-6, range}, zone.dir / "energy_uj");
  }
  if (source->counters().empty()) {
    if (zones.empty()) why.push_back("rapl: no package or dram zone under " + base.string());
    return nullptr;
  }
  return source;
}

std::unique_ptr<EnergySource> open_perf_power(const fs::path& root, std::vector<std::string>& why) {
  const fs::path pmu = root / "sys/bus/event_source/devices/power";
  std::string error;
  std::optional<std::uint64_t> type = read_u64(pmu / "type", &error);
  if (!type) {
    why.push_back("perf: no power PMU (" + error + ")");
    return nullptr;
  }
  std::vector<int> cpus = parse_cpu_list(read_small(pmu / "cpumask").value_or("0"));
  if (cpus.empty()) cpus = {0};
  auto source = std::make_unique<PerfSource>();
  const std::pair<const char*, const char*> events[] = {{"energy-pkg", "package"},
                                                        {"energy-ram", "dram"}};
  for (const auto& [event, domain] : events) {
    std::optional<std::string> text = read_small(pmu / "events" / event);
    if (!text) continue;
    std::optional<std::uint64_t> config = parse_perf_event_config(*text);
    std::optional<std::string> scale_text =
        read_small(pmu / "events" / (std::string(event) + ".scale"));
    if (!config || !scale_text) {
      why.push_back(std::string("perf: cannot parse the ") + event + " event or its scale");
      continue;
    }
    char* end = nullptr;
    const double scale = std::strtod(scale_text->c_str(), &end);
    if (*end != '\0' || !(scale > 0)) {
      why.push_back(std::string("perf: bad scale for ") + event + ": '" + *scale_text + "'");
      continue;
    }
    for (std::size_t i = 0; i < cpus.size(); ++i) {
      perf_event_attr attr;
      std::memset(&attr, 0, sizeof attr);
      attr.size = sizeof attr;
      attr.type = static_cast<std::uint32_t>(*type);
      attr.config = *config;
      const long fd = ::syscall(SYS_perf_event_open, &attr, -1, cpus[i], -1, PERF_FLAG_FD_CLOEXEC);
      if (fd < 0) {
        why.push_back(std::string("perf: perf_event_open(") + event + ", cpu " +
                      std::to_string(cpus[i]) + "): " + std::strerror(errno));
        continue;
      }
      source->add(EnergyCounter{std::string(domain) + "-" + std::to_string(i), scale, 0},
                  static_cast<int>(fd));
    }
  }
  if (source->counters().empty()) return nullptr;
  return source;
}

std::unique_ptr<EnergySource> open_nvml(std::vector<std::string>& why) {
  void* library = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    why.push_back("nvml: cannot load libnvidia-ml.so.1");
    return nullptr;
  }
  auto init = reinterpret_cast<NvmlInitFn>(::dlsym(library, "nvmlInit_v2"));
  auto shutdown = reinterpret_cast<NvmlShutdownFn>(::dlsym(library, "nvmlShutdown"));
  auto count = reinterpret_cast<NvmlCountFn>(::dlsym(library, "nvmlDeviceGetCount_v2"));
  auto handle = reinterpret_cast<NvmlHandleFn>(::dlsym(library, "nvmlDeviceGetHandleByIndex_v2"));
  auto energy =
      reinterpret_cast<NvmlEnergyFn>(::dlsym(library, "nvmlDeviceGetTotalEnergyConsumption"));
  if (!init || !shutdown || !count || !handle || !energy) {
    why.push_back("nvml: libnvidia-ml.so.1 lacks an energy entry point");
    ::dlclose(library);
    return nullptr;
  }
  if (const int status = init(); status != 0) {
    why.push_back("nvml: nvmlInit_v2 returned " + std::to_string(status));
    ::dlclose(library);
    return nullptr;
  }
  // From here the source owns the library: its destructor shuts NVML down and unloads it.
  auto source = std::make_unique<NvmlSource>(library, shutdown, energy);
  unsigned int devices = 0;
  if (count(&devices) != 0) devices = 0;
  for (unsigned int i = 0; i < devices; ++i) {
    NvmlDeviceHandle device = nullptr;
    unsigned long long millijoules = 0;
    if (handle(i, &device) != 0) continue;
    if (const int status = energy(device, &millijoules); status != 0) {
      why.push_back("nvml: GPU " + std::to_string(i) + " has no energy counter (status " +
                    std::to_string(status) + ")");
      continue;
    }
    source->add(EnergyCounter{"gpu-" + std::to_string(i), 1e-3, 0}, device);
  }
  if (source->counters().empty()) {
    if (devices == 0) why.push_back("nvml: no GPU");
    return nullptr;
  }
  return source;
}

EnergyMeter EnergyMeter::detect(const fs::path& root, unsigned backends) {
  std::vector<std::string> why;
  std::vector<std::unique_ptr<EnergySource>> sources;
  bool have_rapl = false;
  if (backends & kEnergyRapl) {
    if (auto rapl = open_rapl(root, why)) {
      sources.push_back(std::move(rapl));
      have_rapl = true;
    }
  }
  if (backends & kEnergyPerf) {
    if (have_rapl)
      why.push_back("perf: not used, rapl reads the same counters");
    else if (auto perf = open_perf_power(root, why))
      sources.push_back(std::move(perf));
  }
  if (backends & kEnergyNvml) {
    if (auto nvml = open_nvml(why)) sources.push_back(std::move(nvml));
  }
  return EnergyMeter(std::move(sources), std::move(why));
}

EnergyMeter::EnergyMeter(std::vector<std::unique_ptr<EnergySource>> sources,
                         std::vector<std::string> why)
    : why_(std::move(why)) {
  for (auto& source : sources) {
    if (!source || source->counters().empty()) continue;
    for (const EnergyCounter& counter : source->counters()) counters_.push_back(counter);
    sources_.push_back(std::move(source));
  }
}

EnergyMeter::EnergyMeter(EnergyMeter&&) noexcept = default;
EnergyMeter& EnergyMeter::operator=(EnergyMeter&&) noexcept = default;
EnergyMeter::~EnergyMeter() = default;

bool EnergyMeter::available() const { return !counters_.empty(); }

std::string EnergyMeter::backend() const {
  if (sources_.empty()) return "none";
  std::vector<std::string> names;
  for (const auto& source : sources_) names.push_back(source->name());
  return join(names, "+");
}

std::vector<std::string> EnergyMeter::domains() const {
  std::vector<std::string> out;
  for (const EnergyCounter& counter : counters_) out.push_back(counter.domain);
  return out;
}

std::vector<std::optional<std::uint64_t>> EnergyMeter::read_all() {
  std::vector<std::optional<std::uint64_t>> now;
  now.reserve(counters_.size());
  for (auto& source : sources_) {
    std::vector<std::optional<std::uint64_t>> part = source->read();
    CUBE_CHECK(part.size() == source->counters().size(),
               source->name() << " returned " << part.size() << " readings for "
                              << source->counters().size() << " counters");
    now.insert(now.end(), part.begin(), part.end());
  }
  return now;
}

void EnergyMeter::advance(const std::vector<std::optional<std::uint64_t>>& now) {
  for (auto& [name, window] : windows_) {
    for (std::size_t d = 0; d < counters_.size(); ++d) {
      std::optional<std::uint64_t>& sum = window.sum[d];
      if (sum && window.last[d] && now[d]) {
        std::optional<std::uint64_t> delta =
            counter_delta(*window.last[d], *now[d], counters_[d].period);
        if (delta)
          *sum += *delta;
        else
          sum.reset();
      } else {
        sum.reset();
      }
      window.last[d] = now[d];
    }
  }
}

void EnergyMeter::begin(const std::string& name) {
  std::vector<std::optional<std::uint64_t>> now = read_all();
  windows_.erase(name);
  advance(now);
  Window window;
  window.start = std::chrono::steady_clock::now();
  window.last = now;
  window.sum.resize(counters_.size());
  for (std::size_t d = 0; d < counters_.size(); ++d)
    if (now[d]) window.sum[d] = 0;
  windows_.emplace(name, std::move(window));
}

EnergyWindow EnergyMeter::end(const std::string& name) {
  auto it = windows_.find(name);
  CUBE_CHECK(it != windows_.end(), "energy window '" << name << "' was never begun");
  advance(read_all());
  EnergyWindow result;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second.start).count();
  for (std::size_t d = 0; d < counters_.size(); ++d) {
    const std::optional<std::uint64_t>& sum = it->second.sum[d];
    result.joules[counters_[d].domain] =
        sum ? std::optional<double>(static_cast<double>(*sum) * counters_[d].scale) : std::nullopt;
  }
  windows_.erase(it);
  return result;
}

void EnergyMeter::poll() {
  if (windows_.empty()) return;
  advance(read_all());
}

}  // namespace cube
