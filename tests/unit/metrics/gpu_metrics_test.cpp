// GPU metrics against a scripted NVML (fake_nvml.cpp, loaded as
// libnvidia-ml.so.1 through LD_LIBRARY_PATH): the v2 memory call's numbers
// win over v1's, every reading carries its GPU, a call one GPU does not
// support skips only that GPU's point, a call no GPU supports (or the driver
// does not export) registers no metric, and this process's own GPU memory is
// picked out of the driver's process list.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "metrics/machine_metrics.hpp"
#include "metrics/metrics_core.hpp"

namespace emp::telemetry::metrics {
namespace {

using namespace std::chrono_literals;
namespace otlp = encode::otlp;
constexpr double kMiB = 1024.0 * 1024.0;

// Points of one metric by "gpu.index[/extra attribute value]".
std::map<std::string, double> points(const std::vector<otlp::MetricData>& v,
                                     std::string_view name) {
  std::map<std::string, double> out;
  for (auto& m : v) {
    if (m.name != name) continue;
    for (auto& p : m.number_points) {
      std::string key;
      for (auto& a : p.attributes) {
        if (a.key == "gpu.index")
          key = std::to_string(a.value.int_value) + key;
        else if (a.key != "gpu.name")
          key += "/" + a.value.str;
      }
      out[key] = p.is_int ? static_cast<double>(p.int_value) : p.double_value;
    }
  }
  return out;
}

class GpuMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    diag_.set_stderr(false);
    CoreOptions o;
    o.callback_timeout = 5s;
    core_ = std::make_unique<MetricsCore>(o, nullptr, &diag_);
    register_machine_metrics(*core_, "/tmp");
    ASSERT_TRUE(core_->collect(CollectFor::kOtlp, v_, std::chrono::steady_clock::now() + 60s));
  }
  core::Diagnostics diag_;
  std::unique_ptr<MetricsCore> core_;
  std::vector<otlp::MetricData> v_;
};

TEST_F(GpuMetrics, MemoryComesFromTheV2CallWithTheDriversReserveApart) {
  auto used = points(v_, "machine.gpu.memory.used_bytes");
  ASSERT_EQ(used.size(), 2u);
  EXPECT_EQ(used["0"], 21363 * kMiB);  // v1 would say 21978 MiB
  EXPECT_EQ(used["1"], 1024 * kMiB);   // GPU 1 has no v2 call: v1's number
  auto reserved = points(v_, "machine.gpu.memory.reserved_bytes");
  ASSERT_EQ(reserved.size(), 1u);  // v1 cannot tell the reserve apart
  EXPECT_EQ(reserved["0"], 615 * kMiB);
  auto total = points(v_, "machine.gpu.memory.total_bytes");
  EXPECT_EQ(total["0"], 143771 * kMiB);
  auto free = points(v_, "machine.gpu.memory.free_bytes");
  EXPECT_EQ(free["0"], (143771 - 615 - 21363) * kMiB);
  for (auto& m : v_)
    if (m.name == "machine.gpu.memory.used_bytes") {
      EXPECT_EQ(m.unit, "By");
      bool named = false;
      for (auto& a : m.number_points.at(0).attributes)
        if (a.key == "gpu.name") named = a.value.str == "Fake H200" || a.value.str == "Fake T4";
      EXPECT_TRUE(named);
    }
}

TEST_F(GpuMetrics, EveryReadingOfTheFleetSetWithItsUnit) {
  EXPECT_EQ(points(v_, "machine.gpu.utilization"),
            (std::map<std::string, double>{{"0", 87}, {"1", 12}}));
  EXPECT_EQ(points(v_, "machine.gpu.memory.utilization"),
            (std::map<std::string, double>{{"0", 40}, {"1", 3}}));
  EXPECT_EQ(points(v_, "machine.gpu.power.draw"),
            (std::map<std::string, double>{{"0", 412.345}, {"1", 70.0}}));
  EXPECT_EQ(points(v_, "machine.gpu.clock.sm"),
            (std::map<std::string, double>{{"0", 1980}, {"1", 1590}}));
  EXPECT_EQ(points(v_, "machine.gpu.clock.memory"),
            (std::map<std::string, double>{{"0", 2619}, {"1", 5001}}));
  for (auto& m : v_) {
    if (m.name == "machine.gpu.power.draw") {
      EXPECT_EQ(m.unit, "W");
    }
    if (m.name == "machine.gpu.clock.sm") {
      EXPECT_EQ(m.unit, "MHz");
    }
    if (m.name == "machine.gpu.temperature") {
      EXPECT_EQ(m.unit, "Cel");
    }
    if (m.name == "machine.gpu.ecc.errors") {
      EXPECT_TRUE(m.monotonic);
    }
  }
}

TEST_F(GpuMetrics, AnUnsupportedCallSkipsOnlyThatGpu) {
  EXPECT_EQ(points(v_, "machine.gpu.temperature"), (std::map<std::string, double>{{"0", 63}}));
  EXPECT_EQ(points(v_, "machine.gpu.power.limit"), (std::map<std::string, double>{{"0", 700}}));
  EXPECT_EQ(points(v_, "machine.gpu.ecc.errors"),
            (std::map<std::string, double>{{"0/corrected", 5}, {"0/uncorrected", 0}}));
  EXPECT_EQ(core_->stats().callback_errors, 0u);
}

TEST_F(GpuMetrics, CallsNoGpuAnswersOrTheDriverLacksRegisterNothing) {
  EXPECT_TRUE(points(v_, "machine.gpu.pcie.throughput").empty());  // unsupported everywhere
  EXPECT_TRUE(points(v_, "machine.gpu.energy").empty());           // not exported
  for (auto& m : v_) EXPECT_NE(m.name, "machine.gpu.pcie.throughput");
}

TEST_F(GpuMetrics, ThrottleReasonsOnePointPerReason) {
  auto t = points(v_, "machine.gpu.throttle.active");
  EXPECT_EQ(t["0/sw_power_cap"], 1);
  EXPECT_EQ(t["0/hw_thermal_slowdown"], 1);
  EXPECT_EQ(t["0/gpu_idle"], 0);
  EXPECT_EQ(t["1/gpu_idle"], 1);
  EXPECT_EQ(t["1/sw_power_cap"], 0);
  EXPECT_EQ(t.size(), 18u);  // nine reasons on each of two GPUs
}

TEST_F(GpuMetrics, ThisProcessGpuMemoryFromTheDriversProcessList) {
  // GPU 0 lists this process with 123 MiB (and another with 999 MiB, not
  // counted); GPU 1 lists it without a figure, which counts as nothing.
  EXPECT_EQ(points(v_, "process.gpu.memory.used_bytes"),
            (std::map<std::string, double>{{"0", 123 * kMiB}, {"1", 0}}));
}

}  // namespace
}  // namespace emp::telemetry::metrics
