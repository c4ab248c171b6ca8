#include "metrics/machine_metrics.hpp"

#include <dirent.h>
#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include "core/diagnostics.hpp"
#include "metrics/gpu_metrics.hpp"
#include "metrics/metrics_core.hpp"

namespace emp::telemetry::metrics {

namespace {

InstrumentOptions opts(std::string_view unit, std::string_view description = {}) {
  InstrumentOptions o;
  o.unit = unit;
  o.description = description;
  return o;
}

using Clock = std::chrono::steady_clock;

// Two readers (the OTLP reader and a scrape) close together would see a
// tiny, noisy delta: below this the previous value is reported again.
constexpr auto kMinDelta = std::chrono::milliseconds(100);

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double ticks_per_second() {
  static const double t = [] {
    const long v = ::sysconf(_SC_CLK_TCK);
    return v > 0 ? static_cast<double>(v) : 100.0;
  }();
  return t;
}

unsigned cpus_available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

struct CpuState {
  std::mutex mu;
  Clock::time_point process_at;
  double process_seconds = 0;
  double process_utilization = 0;
  SystemCpu system_prev;
  Clock::time_point system_at;
  double system_percent = 0;
};

}  // namespace

std::optional<CpuTimes> read_process_cpu() {
  const std::string s = read_file("/proc/self/stat");
  const auto close = s.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(s.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After the command: state is field 3; utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && (in >> field); ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  if (!in) return std::nullopt;
  return CpuTimes{static_cast<double>(utime) / ticks_per_second(),
                  static_cast<double>(stime) / ticks_per_second()};
}

std::optional<SystemCpu> read_system_cpu() {
  const std::string s = read_file("/proc/stat");
  if (s.rfind("cpu ", 0) != 0) return std::nullopt;
  std::istringstream in(s.substr(4, s.find('\n') - 4));
  unsigned long long v[8] = {0};
  for (auto& x : v)
    if (!(in >> x)) break;
  // user nice system idle iowait irq softirq steal (guest is inside user)
  SystemCpu c;
  const unsigned long long idle = v[3] + v[4];
  c.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  c.total = c.busy + idle;
  if (c.total == 0) return std::nullopt;
  return c;
}

std::optional<std::uint64_t> read_process_rss_bytes() {
  const std::string s = read_file("/proc/self/statm");
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(s.c_str(), "%llu %llu", &size, &resident) != 2) return std::nullopt;
  const long page = ::sysconf(_SC_PAGESIZE);
  return resident * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

std::optional<MemInfo> read_meminfo() {
  const std::string s = read_file("/proc/meminfo");
  MemInfo m;
  bool total = false, available = false;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "MemTotal: %llu kB", &kb) == 1) {
      m.total = kb * 1024;
      total = true;
    } else if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kb) == 1) {
      m.available = kb * 1024;
      available = true;
    }
  }
  if (!total || !available) return std::nullopt;
  return m;
}

std::optional<DiskUsage> read_disk(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return std::nullopt;
  const std::uint64_t f = st.f_frsize ? st.f_frsize : st.f_bsize;
  DiskUsage d;
  d.total = static_cast<std::uint64_t>(st.f_blocks) * f;
  d.used = static_cast<std::uint64_t>(st.f_blocks - st.f_bfree) * f;
  d.available = static_cast<std::uint64_t>(st.f_bavail) * f;
  return d;
}

std::optional<std::uint64_t> count_open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return std::nullopt;
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n > 0 ? n - 1 : 0;  // the directory stream's own descriptor
}

void register_machine_metrics(MetricsCore& core, const std::string& disk_path) {
  Metrics& m = core.facade();
  auto cpu = std::make_shared<CpuState>();
  {
    const auto now = Clock::now();
    if (auto p = read_process_cpu())
      cpu->process_seconds = p->process_seconds_user + p->process_seconds_system;
    cpu->process_at = now;
    if (auto s = read_system_cpu()) cpu->system_prev = *s;
    cpu->system_at = now;
  }

  m.create_observable_gauge(
      "process.cpu.utilization",
      [cpu](ObservableResult& r) {
        auto p = read_process_cpu();
        if (!p) return;
        std::lock_guard<std::mutex> lock(cpu->mu);
        const auto now = Clock::now();
        const double secs = p->process_seconds_user + p->process_seconds_system;
        const auto elapsed = now - cpu->process_at;
        if (elapsed >= kMinDelta) {
          const double wall = std::chrono::duration<double>(elapsed).count();
          cpu->process_utilization =
              std::max(0.0, (secs - cpu->process_seconds) / wall / cpus_available());
          cpu->process_seconds = secs;
          cpu->process_at = now;
        }
        r.observe(cpu->process_utilization);
      },
      opts("1",
           "CPU time used by this process since the last collection, divided by the "
           "elapsed time and the CPUs available to it"));
  m.create_observable_counter(
      "process.cpu.time",
      [](ObservableResult& r) {
        if (auto p = read_process_cpu()) {
          r.observe(p->process_seconds_user, {{"cpu.mode", "user"}});
          r.observe(p->process_seconds_system, {{"cpu.mode", "system"}});
        }
      },
      opts("s", "Total CPU time of this process"));
  m.create_observable_gauge(
      "machine.cpu.percent",
      [cpu](ObservableResult& r) {
        auto s = read_system_cpu();
        if (!s) return;
        std::lock_guard<std::mutex> lock(cpu->mu);
        const auto now = Clock::now();
        if (now - cpu->system_at >= kMinDelta && s->total > cpu->system_prev.total) {
          const double busy =
              static_cast<double>(s->busy - std::min(s->busy, cpu->system_prev.busy));
          const double total = static_cast<double>(s->total - cpu->system_prev.total);
          cpu->system_percent = std::min(100.0, 100.0 * busy / total);
          cpu->system_prev = *s;
          cpu->system_at = now;
        }
        r.observe(cpu->system_percent);
      },
      opts("%", "CPU busy time of the whole machine since the last collection"));
  m.create_observable_up_down_counter(
      "process.memory.usage",
      [](ObservableResult& r) {
        if (auto v = read_process_rss_bytes()) r.observe(*v);
      },
      opts("By", "Resident memory of this process (RSS)"));
  m.create_observable_gauge(
      "machine.memory.used_bytes",
      [](ObservableResult& r) {
        if (auto mi = read_meminfo()) r.observe(mi->total - std::min(mi->total, mi->available));
      },
      opts("By", "Memory in use on the machine (MemTotal - MemAvailable)"));
  m.create_observable_gauge(
      "machine.memory.available_bytes",
      [](ObservableResult& r) {
        if (auto mi = read_meminfo()) r.observe(mi->available);
      },
      opts("By", "Memory available for new work (MemAvailable)"));
  m.create_observable_gauge(
      "machine.memory.total_bytes",
      [](ObservableResult& r) {
        if (auto mi = read_meminfo()) r.observe(mi->total);
      },
      opts("By", "Physical memory of the machine (MemTotal)"));
  const std::string path = disk_path;
  m.create_observable_gauge(
      "machine.disk.used_bytes",
      [path](ObservableResult& r) {
        if (auto d = read_disk(path)) r.observe(d->used, {{"path", path}});
      },
      opts("By", "Used space of the file system holding the output directory"));
  m.create_observable_gauge(
      "machine.disk.available_bytes",
      [path](ObservableResult& r) {
        if (auto d = read_disk(path)) r.observe(d->available, {{"path", path}});
      },
      opts("By",
           "Space available to the service on the file system holding the output "
           "directory"));
  m.create_observable_gauge(
      "machine.disk.total_bytes",
      [path](ObservableResult& r) {
        if (auto d = read_disk(path)) r.observe(d->total, {{"path", path}});
      },
      opts("By", "Size of the file system holding the output directory"));
  m.create_observable_up_down_counter(
      "process.open_file_descriptor.count",
      [](ObservableResult& r) {
        if (auto n = count_open_fds()) r.observe(*n);
      },
      opts("{file_descriptor}", "File descriptors open in this process"));

  register_gpu_metrics(m);
}

}  // namespace emp::telemetry::metrics
