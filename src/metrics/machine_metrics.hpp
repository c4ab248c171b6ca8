// Machine resource metrics for the `machine` and `worker` presets
// (EMP_MACHINE_METRICS): observable instruments read at each collection on
// the reader's callback thread, from /proc, statvfs() and, when the NVIDIA
// driver is installed, NVML (libnvidia-ml.so.1 loaded with dlopen; without it
// there are no GPU metrics and one informational line says so).
// docs/machine-metrics.md lists every name, unit and source.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace emp::telemetry::metrics {

class MetricsCore;

// Registers the machine instruments; `disk_path` is the directory whose file
// system is measured (the output directory).
void register_machine_metrics(MetricsCore& core, const std::string& disk_path);

// The readers behind the instruments, exposed for tests. Each returns
// nullopt when its source is unavailable.
struct CpuTimes {
  double process_seconds_user = 0;
  double process_seconds_system = 0;
};
std::optional<CpuTimes> read_process_cpu();  // /proc/self/stat
struct SystemCpu {
  std::uint64_t busy = 0;   // jiffies not idle
  std::uint64_t total = 0;  // all jiffies
};
std::optional<SystemCpu> read_system_cpu();             // /proc/stat
std::optional<std::uint64_t> read_process_rss_bytes();  // /proc/self/statm
struct MemInfo {
  std::uint64_t total = 0;
  std::uint64_t available = 0;
};
std::optional<MemInfo> read_meminfo();  // /proc/meminfo
struct DiskUsage {
  std::uint64_t total = 0;
  std::uint64_t used = 0;
  std::uint64_t available = 0;  // to unprivileged users
};
std::optional<DiskUsage> read_disk(const std::string& path);  // statvfs
std::optional<std::uint64_t> count_open_fds();                // /proc/self/fd

}  // namespace emp::telemetry::metrics
