// Machine resource metrics read real values from this machine: CPU time that
// grows while the test burns CPU, resident memory, open descriptors (one
// more while the test holds a file open), the file system of a directory,
// and the memory of the machine; all through the observable instruments a
// collection runs.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "metrics/machine_metrics.hpp"
#include "metrics/metrics_core.hpp"

namespace emp::telemetry::metrics {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace otlp = encode::otlp;

// Burns CPU until this process's CPU time grew by at least `seconds`
// (bounded by 20 s of wall time).
void burn(double seconds) {
  auto start = read_process_cpu();
  ASSERT_TRUE(start.has_value());
  const double from = start->process_seconds_user + start->process_seconds_system;
  volatile double x = 1;
  const auto until = Clock::now() + 20s;
  while (Clock::now() < until) {
    for (int i = 0; i < 200000; ++i) x = std::sqrt(x + i);
    auto now = read_process_cpu();
    if (now && now->process_seconds_user + now->process_seconds_system - from >= seconds) return;
  }
}

const otlp::MetricData* find(const std::vector<otlp::MetricData>& v, std::string_view name) {
  for (auto& m : v)
    if (m.name == name) return &m;
  return nullptr;
}
double value(const otlp::NumberPoint& p) {
  return p.is_int ? static_cast<double>(p.int_value) : p.double_value;
}

TEST(MachineReaders, ReadThisMachine) {
  auto rss = read_process_rss_bytes();
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 1u << 20);
  auto mem = read_meminfo();
  ASSERT_TRUE(mem.has_value());
  EXPECT_GT(mem->total, *rss);
  EXPECT_LE(mem->available, mem->total);
  auto disk = read_disk(std::filesystem::temp_directory_path().string());
  ASSERT_TRUE(disk.has_value());
  EXPECT_GT(disk->total, 0u);
  EXPECT_LE(disk->used, disk->total);
  EXPECT_FALSE(read_disk("/nonexistent/dir/for/sure").has_value());
  auto sys = read_system_cpu();
  ASSERT_TRUE(sys.has_value());
  EXPECT_GT(sys->total, sys->busy);

  auto fds = count_open_fds();
  ASSERT_TRUE(fds.has_value());
  EXPECT_GE(*fds, 3u);  // stdin, stdout, stderr at least
  const int fd = ::open("/proc/self/stat", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(count_open_fds().value_or(0), *fds + 1);
  ::close(fd);
}

TEST(MachineMetrics, CollectedAsObservableInstrumentsWithRealValues) {
  core::Diagnostics diag;
  diag.set_stderr(false);
  CoreOptions o;
  o.callback_timeout = 5s;
  MetricsCore core(o, nullptr, &diag);
  const std::string dir = std::filesystem::temp_directory_path().string();
  register_machine_metrics(core, dir);
  burn(0.05);
  std::this_thread::sleep_for(150ms);  // past the 100 ms minimum between CPU samples
  std::vector<otlp::MetricData> v;
  ASSERT_TRUE(core.collect(CollectFor::kOtlp, v, Clock::now() + 60s));

  const auto* util = find(v, "process.cpu.utilization");
  ASSERT_NE(util, nullptr);
  EXPECT_EQ(util->unit, "1");
  EXPECT_GT(value(util->number_points.at(0)), 0.0);
  EXPECT_LE(value(util->number_points.at(0)), 1.0);

  const auto* cpu_time = find(v, "process.cpu.time");
  ASSERT_NE(cpu_time, nullptr);
  EXPECT_TRUE(cpu_time->monotonic);
  double user = 0;
  for (auto& p : cpu_time->number_points)
    if (p.attributes.at(0).value.str == "user") user = value(p);
  EXPECT_GT(user, 0.0);

  const auto* sys = find(v, "machine.cpu.percent");
  ASSERT_NE(sys, nullptr);
  EXPECT_GT(value(sys->number_points.at(0)), 0.0);  // this test itself kept a CPU busy
  EXPECT_LE(value(sys->number_points.at(0)), 100.0);

  const auto* rss = find(v, "process.memory.usage");
  ASSERT_NE(rss, nullptr);
  EXPECT_EQ(rss->unit, "By");
  EXPECT_GT(value(rss->number_points.at(0)), 1 << 20);

  const auto* fds = find(v, "process.open_file_descriptor.count");
  ASSERT_NE(fds, nullptr);
  EXPECT_GE(value(fds->number_points.at(0)), 3);

  for (const char* name :
       {"machine.memory.used_bytes", "machine.memory.available_bytes", "machine.memory.total_bytes",
        "machine.disk.used_bytes", "machine.disk.available_bytes", "machine.disk.total_bytes"}) {
    const auto* m = find(v, name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_GT(value(m->number_points.at(0)), 0) << name;
  }
  const auto& disk = find(v, "machine.disk.total_bytes")->number_points.at(0);
  ASSERT_EQ(disk.attributes.size(), 1u);
  EXPECT_EQ(disk.attributes[0].key, "path");
  EXPECT_EQ(disk.attributes[0].value.str, dir);
  // Without NVML (no NVIDIA driver here) there are simply no GPU metrics.
  if (::access("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", F_OK) != 0) {
    EXPECT_EQ(find(v, "machine.gpu.utilization"), nullptr);
  }
  EXPECT_EQ(core.stats().callback_errors, 0u);
  EXPECT_EQ(core.stats().callback_timeouts, 0u);
}

}  // namespace
}  // namespace emp::telemetry::metrics
