#include "metrics/gpu_metrics.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "core/diagnostics.hpp"
#include "emp/telemetry/metrics.hpp"

namespace emp::telemetry::metrics {

namespace {

// ---- The slice of the NVML C ABI this file uses (NVML API reference,
// https://docs.nvidia.com/deploy/nvml-api/). Layouts are the vendor's; the
// versioned structs carry their size and version in the first word.
using NvmlDevice = void*;
constexpr int kNvmlSuccess = 0;
constexpr int kNvmlInsufficientSize = 7;

struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlMemoryV1 {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct NvmlMemoryV2 {
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};
// NVML_STRUCT_VERSION(Memory, 2): the struct's size in the low bits, the
// version in the top byte.
constexpr unsigned int kNvmlMemoryV2Version =
    static_cast<unsigned int>(sizeof(NvmlMemoryV2)) | (2u << 24);
struct NvmlProcessInfoV1 {
  unsigned int pid;
  unsigned long long used_gpu_memory;
};
struct NvmlProcessInfoV2 {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};
// usedGpuMemory when the driver cannot tell (NVML_VALUE_NOT_AVAILABLE).
constexpr unsigned long long kNvmlValueNotAvailable = ~0ull;

constexpr unsigned int kTemperatureGpu = 0;  // NVML_TEMPERATURE_GPU
constexpr unsigned int kClockSm = 1;         // NVML_CLOCK_SM
constexpr unsigned int kClockMem = 2;        // NVML_CLOCK_MEM
constexpr unsigned int kEccCorrected = 0;    // NVML_MEMORY_ERROR_TYPE_CORRECTED
constexpr unsigned int kEccUncorrected = 1;  // NVML_MEMORY_ERROR_TYPE_UNCORRECTED
constexpr unsigned int kEccVolatile = 0;     // NVML_VOLATILE_ECC: since the driver loaded
constexpr unsigned int kPcieTx = 0;          // NVML_PCIE_UTIL_TX_BYTES
constexpr unsigned int kPcieRx = 1;          // NVML_PCIE_UTIL_RX_BYTES

// nvmlClocksEventReasons (formerly ClocksThrottleReasons) bits, named as the
// DCGM exporter and nvidia-smi name them.
struct ThrottleReason {
  unsigned long long bit;
  const char* name;
};
constexpr ThrottleReason kThrottleReasons[] = {
    {0x1ull, "gpu_idle"},
    {0x2ull, "applications_clocks_setting"},
    {0x4ull, "sw_power_cap"},
    {0x8ull, "hw_slowdown"},
    {0x10ull, "sync_boost"},
    {0x20ull, "sw_thermal_slowdown"},
    {0x40ull, "hw_thermal_slowdown"},
    {0x80ull, "hw_power_brake_slowdown"},
    {0x100ull, "display_clock_setting"},
};

struct Nvml {
  int (*init)() = nullptr;
  int (*device_count)(unsigned int*) = nullptr;
  int (*device_handle)(unsigned int, NvmlDevice*) = nullptr;
  int (*name)(NvmlDevice, char*, unsigned int) = nullptr;
  int (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  int (*memory_v1)(NvmlDevice, NvmlMemoryV1*) = nullptr;
  int (*memory_v2)(NvmlDevice, NvmlMemoryV2*) = nullptr;
  int (*temperature)(NvmlDevice, unsigned int, unsigned int*) = nullptr;
  int (*power_usage)(NvmlDevice, unsigned int*) = nullptr;
  int (*power_limit)(NvmlDevice, unsigned int*) = nullptr;
  int (*energy)(NvmlDevice, unsigned long long*) = nullptr;
  int (*clock)(NvmlDevice, unsigned int, unsigned int*) = nullptr;
  int (*throttle)(NvmlDevice, unsigned long long*) = nullptr;
  int (*ecc)(NvmlDevice, unsigned int, unsigned int, unsigned long long*) = nullptr;
  int (*pcie)(NvmlDevice, unsigned int, unsigned int*) = nullptr;
  int (*processes_v2)(NvmlDevice, unsigned int*, NvmlProcessInfoV2*) = nullptr;
  int (*processes_v1)(NvmlDevice, unsigned int*, NvmlProcessInfoV1*) = nullptr;
  int (*graphics_processes_v2)(NvmlDevice, unsigned int*, NvmlProcessInfoV2*) = nullptr;
  struct Gpu {
    NvmlDevice handle;
    std::string name;
  };
  std::vector<Gpu> gpus;
};

template <typename F>
void resolve(void* lib, F& fn, const char* symbol, const char* fallback = nullptr) {
  void* p = ::dlsym(lib, symbol);
  if (p == nullptr && fallback != nullptr) p = ::dlsym(lib, fallback);
  fn = reinterpret_cast<F>(p);
}

// Loaded once per process and never unloaded (the driver library keeps
// threads of its own).
const Nvml* nvml() {
  static const Nvml* loaded = []() -> const Nvml* {
    void* lib = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      core::Diagnostics::notice_once(
          "GPU metrics off: NVML (libnvidia-ml.so.1) is not installed on this machine");
      return nullptr;
    }
    auto n = std::make_unique<Nvml>();
    resolve(lib, n->init, "nvmlInit_v2", "nvmlInit");
    resolve(lib, n->device_count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    resolve(lib, n->device_handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    resolve(lib, n->name, "nvmlDeviceGetName");
    resolve(lib, n->utilization, "nvmlDeviceGetUtilizationRates");
    resolve(lib, n->memory_v1, "nvmlDeviceGetMemoryInfo");
    resolve(lib, n->memory_v2, "nvmlDeviceGetMemoryInfo_v2");
    resolve(lib, n->temperature, "nvmlDeviceGetTemperature");
    resolve(lib, n->power_usage, "nvmlDeviceGetPowerUsage");
    resolve(lib, n->power_limit, "nvmlDeviceGetEnforcedPowerLimit");
    resolve(lib, n->energy, "nvmlDeviceGetTotalEnergyConsumption");
    resolve(lib, n->clock, "nvmlDeviceGetClockInfo");
    // Renamed in CUDA 12 drivers; both names take the same arguments.
    resolve(lib, n->throttle, "nvmlDeviceGetCurrentClocksEventReasons",
            "nvmlDeviceGetCurrentClocksThrottleReasons");
    resolve(lib, n->ecc, "nvmlDeviceGetTotalEccErrors");
    resolve(lib, n->pcie, "nvmlDeviceGetPcieThroughput");
    // The _v2 process list has a stable 24-byte entry; _v3's entry has grown
    // in some headers, so it is not used.
    resolve(lib, n->processes_v2, "nvmlDeviceGetComputeRunningProcesses_v2");
    resolve(lib, n->processes_v1, "nvmlDeviceGetComputeRunningProcesses");
    resolve(lib, n->graphics_processes_v2, "nvmlDeviceGetGraphicsRunningProcesses_v2");
    unsigned int count = 0;
    if (!n->init || !n->device_count || !n->device_handle || n->init() != kNvmlSuccess ||
        n->device_count(&count) != kNvmlSuccess || count == 0) {
      core::Diagnostics::notice_once(
          "GPU metrics off: NVML is installed but reports no usable GPU");
      return nullptr;
    }
    for (unsigned int i = 0; i < count && i < 64; ++i) {
      NvmlDevice h = nullptr;
      if (n->device_handle(i, &h) != kNvmlSuccess) continue;
      char name[96] = {0};
      if (n->name) n->name(h, name, sizeof name - 1);
      n->gpus.push_back({h, name});
    }
    if (n->gpus.empty()) return nullptr;
    return n.release();
  }();
  return loaded;
}

// The framebuffer numbers nvidia-smi shows: the v2 call separates memory the
// driver reserves for itself, which the v1 call reports as used (about
// 600 MiB on a data-centre GPU).
struct FrameBuffer {
  unsigned long long total = 0, reserved = 0, free = 0, used = 0;
  bool has_reserved = false;
};
bool read_framebuffer(const Nvml& n, NvmlDevice h, FrameBuffer& out) {
  if (n.memory_v2) {
    NvmlMemoryV2 m{};
    m.version = kNvmlMemoryV2Version;
    if (n.memory_v2(h, &m) == kNvmlSuccess) {
      out = {m.total, m.reserved, m.free, m.used, true};
      return true;
    }
  }
  if (n.memory_v1) {
    NvmlMemoryV1 m{};
    if (n.memory_v1(h, &m) == kNvmlSuccess) {
      out = {m.total, 0, m.free, m.used, false};
      return true;
    }
  }
  return false;
}

// GPU memory this process holds on a GPU (compute and graphics contexts);
// nullopt-like false when the driver cannot list processes.
bool read_own_gpu_memory(const Nvml& n, NvmlDevice h, std::uint64_t& bytes) {
  const unsigned int self = static_cast<unsigned int>(::getpid());
  bool listed = false;
  bytes = 0;
  auto sum_v2 = [&](int (*fn)(NvmlDevice, unsigned int*, NvmlProcessInfoV2*)) {
    if (fn == nullptr) return;
    // Sized for the processes a GPU runs; a longer list is asked for again
    // at the size the driver reports.
    std::vector<NvmlProcessInfoV2> infos(64);
    for (int attempt = 0; attempt < 2; ++attempt) {
      unsigned int count = static_cast<unsigned int>(infos.size());
      const int rc = fn(h, &count, infos.data());
      if (rc == kNvmlInsufficientSize && count > infos.size() && count < 4096) {
        infos.resize(count + 8);
        continue;
      }
      if (rc != kNvmlSuccess) return;
      listed = true;
      for (unsigned int i = 0; i < count && i < infos.size(); ++i)
        if (infos[i].pid == self && infos[i].used_gpu_memory != kNvmlValueNotAvailable)
          bytes += infos[i].used_gpu_memory;
      return;
    }
  };
  sum_v2(n.processes_v2);
  sum_v2(n.graphics_processes_v2);
  if (!listed && n.processes_v1) {
    std::vector<NvmlProcessInfoV1> infos(64);
    unsigned int count = static_cast<unsigned int>(infos.size());
    if (n.processes_v1(h, &count, infos.data()) == kNvmlSuccess) {
      listed = true;
      for (unsigned int i = 0; i < count && i < infos.size(); ++i)
        if (infos[i].pid == self && infos[i].used_gpu_memory != kNvmlValueNotAvailable)
          bytes += infos[i].used_gpu_memory;
    }
  }
  return listed;
}

InstrumentOptions opts(std::string_view unit, std::string_view description) {
  InstrumentOptions o;
  o.unit = unit;
  o.description = description;
  return o;
}

// The attributes of every GPU reading; callers may add one of their own.
std::vector<Field> gpu_fields(const Nvml& n, std::size_t i) {
  return {{"gpu.index", static_cast<std::int64_t>(i)}, {"gpu.name", n.gpus[i].name}};
}

// A reading of one GPU: true with `observe` called for each point, false
// when the GPU does not answer it.
using GpuReader = std::function<bool(const Nvml&, std::size_t gpu, ObservableResult* r)>;

// Registers `name` only when at least one GPU answers now, so a fleet of
// GPUs without (say) ECC shows no empty ECC metric.
void add_gauge(Metrics& m, const Nvml* n, const char* name, InstrumentOptions o,
               const GpuReader& read, bool counter = false) {
  bool any = false;
  for (std::size_t i = 0; i < n->gpus.size() && !any; ++i) any = read(*n, i, nullptr);
  if (!any) return;
  auto cb = [n, read](ObservableResult& r) {
    for (std::size_t i = 0; i < n->gpus.size(); ++i) read(*n, i, &r);
  };
  if (counter)
    m.create_observable_counter(name, std::move(cb), std::move(o));
  else
    m.create_observable_gauge(name, std::move(cb), std::move(o));
}

}  // namespace

void register_gpu_metrics(Metrics& m) {
  const Nvml* gpu = nvml();
  if (gpu == nullptr) return;
  using R = ObservableResult;

  if (gpu->utilization) {
    add_gauge(m, gpu, "machine.gpu.utilization",
              opts("%", "GPU busy time over the driver's last sample period"),
              [](const Nvml& n, std::size_t i, R* r) {
                NvmlUtilization u{};
                if (n.utilization(n.gpus[i].handle, &u) != kNvmlSuccess) return false;
                if (r) r->observe(u.gpu, gpu_fields(n, i));
                return true;
              });
    add_gauge(m, gpu, "machine.gpu.memory.utilization",
              opts("%", "Time GPU memory was being read or written over the last sample period"),
              [](const Nvml& n, std::size_t i, R* r) {
                NvmlUtilization u{};
                if (n.utilization(n.gpus[i].handle, &u) != kNvmlSuccess) return false;
                if (r) r->observe(u.memory, gpu_fields(n, i));
                return true;
              });
  }
  struct Fb {
    const char* name;
    const char* description;
    unsigned long long FrameBuffer::*field;
    bool needs_v2;
  };
  for (const Fb& f :
       {Fb{"machine.gpu.memory.used_bytes",
           "GPU memory allocated (not counting what the driver reserves)", &FrameBuffer::used,
           false},
        Fb{"machine.gpu.memory.free_bytes", "GPU memory not allocated", &FrameBuffer::free, false},
        Fb{"machine.gpu.memory.reserved_bytes", "GPU memory reserved by the driver and firmware",
           &FrameBuffer::reserved, true},
        Fb{"machine.gpu.memory.total_bytes", "GPU memory installed", &FrameBuffer::total, false}}) {
    add_gauge(m, gpu, f.name, opts("By", f.description), [f](const Nvml& n, std::size_t i, R* r) {
      FrameBuffer fb;
      if (!read_framebuffer(n, n.gpus[i].handle, fb)) return false;
      if (f.needs_v2 && !fb.has_reserved) return false;
      if (r) r->observe(static_cast<std::uint64_t>(fb.*(f.field)), gpu_fields(n, i));
      return true;
    });
  }
  if (gpu->temperature) {
    add_gauge(m, gpu, "machine.gpu.temperature", opts("Cel", "GPU die temperature"),
              [](const Nvml& n, std::size_t i, R* r) {
                unsigned int t = 0;
                if (n.temperature(n.gpus[i].handle, kTemperatureGpu, &t) != kNvmlSuccess)
                  return false;
                if (r) r->observe(t, gpu_fields(n, i));
                return true;
              });
  }
  if (gpu->power_usage) {
    add_gauge(m, gpu, "machine.gpu.power.draw", opts("W", "Power drawn by the GPU board"),
              [](const Nvml& n, std::size_t i, R* r) {
                unsigned int mw = 0;
                if (n.power_usage(n.gpus[i].handle, &mw) != kNvmlSuccess) return false;
                if (r) r->observe(mw / 1000.0, gpu_fields(n, i));
                return true;
              });
  }
  if (gpu->power_limit) {
    add_gauge(m, gpu, "machine.gpu.power.limit",
              opts("W", "Power limit the driver enforces on the GPU board"),
              [](const Nvml& n, std::size_t i, R* r) {
                unsigned int mw = 0;
                if (n.power_limit(n.gpus[i].handle, &mw) != kNvmlSuccess) return false;
                if (r) r->observe(mw / 1000.0, gpu_fields(n, i));
                return true;
              });
  }
  if (gpu->energy) {
    add_gauge(
        m, gpu, "machine.gpu.energy", opts("J", "Energy used by the GPU since the driver loaded"),
        [](const Nvml& n, std::size_t i, R* r) {
          unsigned long long mj = 0;
          if (n.energy(n.gpus[i].handle, &mj) != kNvmlSuccess) return false;
          if (r) r->observe(static_cast<double>(mj) / 1000.0, gpu_fields(n, i));
          return true;
        },
        /*counter=*/true);
  }
  if (gpu->clock) {
    for (auto [name, type, description] :
         {std::tuple{"machine.gpu.clock.sm", kClockSm, "Current SM clock"},
          std::tuple{"machine.gpu.clock.memory", kClockMem, "Current memory clock"}}) {
      add_gauge(m, gpu, name, opts("MHz", description),
                [type = type](const Nvml& n, std::size_t i, R* r) {
                  unsigned int mhz = 0;
                  if (n.clock(n.gpus[i].handle, type, &mhz) != kNvmlSuccess) return false;
                  if (r) r->observe(mhz, gpu_fields(n, i));
                  return true;
                });
    }
  }
  if (gpu->throttle) {
    add_gauge(m, gpu, "machine.gpu.throttle.active",
              opts("1", "1 while the reason holds the GPU's clocks down (clock event reasons)"),
              [](const Nvml& n, std::size_t i, R* r) {
                unsigned long long bits = 0;
                if (n.throttle(n.gpus[i].handle, &bits) != kNvmlSuccess) return false;
                if (r) {
                  for (const ThrottleReason& t : kThrottleReasons) {
                    auto f = gpu_fields(n, i);
                    f.push_back({"reason", t.name});
                    r->observe(static_cast<std::int64_t>((bits & t.bit) ? 1 : 0), f);
                  }
                }
                return true;
              });
  }
  if (gpu->ecc) {
    add_gauge(
        m, gpu, "machine.gpu.ecc.errors",
        opts("{error}",
             "Memory errors since the driver loaded: corrected (single-bit) and "
             "uncorrected (double-bit)"),
        [](const Nvml& n, std::size_t i, R* r) {
          unsigned long long corrected = 0, uncorrected = 0;
          if (n.ecc(n.gpus[i].handle, kEccCorrected, kEccVolatile, &corrected) != kNvmlSuccess ||
              n.ecc(n.gpus[i].handle, kEccUncorrected, kEccVolatile, &uncorrected) != kNvmlSuccess)
            return false;
          if (r) {
            auto c = gpu_fields(n, i);
            c.push_back({"error.type", "corrected"});
            r->observe(static_cast<std::uint64_t>(corrected), c);
            auto u = gpu_fields(n, i);
            u.push_back({"error.type", "uncorrected"});
            r->observe(static_cast<std::uint64_t>(uncorrected), u);
          }
          return true;
        },
        /*counter=*/true);
  }
  if (gpu->pcie) {
    add_gauge(m, gpu, "machine.gpu.pcie.throughput",
              opts("By/s", "PCIe traffic of the GPU over the driver's last 20 ms sample"),
              [](const Nvml& n, std::size_t i, R* r) {
                unsigned int tx_kb = 0, rx_kb = 0;
                if (n.pcie(n.gpus[i].handle, kPcieTx, &tx_kb) != kNvmlSuccess ||
                    n.pcie(n.gpus[i].handle, kPcieRx, &rx_kb) != kNvmlSuccess)
                  return false;
                if (r) {
                  auto tx = gpu_fields(n, i);
                  tx.push_back({"direction", "transmit"});
                  r->observe(static_cast<std::uint64_t>(tx_kb) * 1024, tx);
                  auto rx = gpu_fields(n, i);
                  rx.push_back({"direction", "receive"});
                  r->observe(static_cast<std::uint64_t>(rx_kb) * 1024, rx);
                }
                return true;
              });
  }
  if (gpu->processes_v2 || gpu->processes_v1 || gpu->graphics_processes_v2) {
    add_gauge(m, gpu, "process.gpu.memory.used_bytes",
              opts("By", "GPU memory held by this process"),
              [](const Nvml& n, std::size_t i, R* r) {
                std::uint64_t bytes = 0;
                if (!read_own_gpu_memory(n, n.gpus[i].handle, bytes)) return false;
                if (r) r->observe(bytes, gpu_fields(n, i));
                return true;
              });
  }
}

}  // namespace emp::telemetry::metrics
