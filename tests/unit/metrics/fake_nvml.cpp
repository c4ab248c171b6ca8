// A stand-in for the NVIDIA driver's libnvidia-ml.so.1, built as a shared
// library with that soname so the GPU metrics load it through the same
// dlopen/dlsym path as on a GPU machine. It implements the NVML calls the
// client uses with the vendor's C ABI and answers for two scripted GPUs: the
// first supports everything this file exports, the second answers
// NVML_ERROR_NOT_SUPPORTED for several calls, as older or consumer GPUs do.
// nvmlDeviceGetTotalEnergyConsumption is deliberately not exported (a driver
// too old for it), and the PCIe call is unsupported on both GPUs.
#include <unistd.h>

#include <cstring>

namespace {

constexpr int kSuccess = 0;
constexpr int kInvalidArgument = 2;
constexpr int kNotSupported = 3;
constexpr int kInsufficientSize = 7;
constexpr int kArgumentVersionMismatch = 25;
constexpr unsigned long long kMiB = 1024ull * 1024;

struct Utilization {
  unsigned int gpu, memory;
};
struct MemoryV1 {
  unsigned long long total, free, used;
};
struct MemoryV2 {
  unsigned int version;
  unsigned long long total, reserved, free, used;
};
struct ProcessInfoV2 {
  unsigned int pid;
  unsigned long long used;
  unsigned int gpu_instance, compute_instance;
};

int gpus[2];
int index_of(void* d) {
  if (d == &gpus[0]) return 0;
  if (d == &gpus[1]) return 1;
  return -1;
}

}  // namespace

extern "C" {

int nvmlInit_v2() { return kSuccess; }
int nvmlDeviceGetCount_v2(unsigned int* n) {
  *n = 2;
  return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void** d) {
  if (i > 1) return kInvalidArgument;
  *d = &gpus[i];
  return kSuccess;
}
int nvmlDeviceGetName(void* d, char* name, unsigned int len) {
  const char* n = index_of(d) == 0 ? "Fake H200" : "Fake T4";
  std::strncpy(name, n, len);
  return kSuccess;
}
int nvmlDeviceGetUtilizationRates(void* d, Utilization* u) {
  *u = index_of(d) == 0 ? Utilization{87, 40} : Utilization{12, 3};
  return kSuccess;
}
// v1 counts the driver's reserved memory as used (615 MiB on GPU 0).
int nvmlDeviceGetMemoryInfo(void* d, MemoryV1* m) {
  if (index_of(d) == 0) {
    m->total = 143771 * kMiB;
    m->used = (21363 + 615) * kMiB;
  } else {
    m->total = 15360 * kMiB;
    m->used = 1024 * kMiB;
  }
  m->free = m->total - m->used;
  return kSuccess;
}
int nvmlDeviceGetMemoryInfo_v2(void* d, MemoryV2* m) {
  if (m->version != (static_cast<unsigned int>(sizeof(MemoryV2)) | (2u << 24)))
    return kArgumentVersionMismatch;
  if (index_of(d) != 0) return kNotSupported;
  m->total = 143771 * kMiB;
  m->reserved = 615 * kMiB;
  m->used = 21363 * kMiB;
  m->free = m->total - m->reserved - m->used;
  return kSuccess;
}
int nvmlDeviceGetTemperature(void* d, unsigned int sensor, unsigned int* t) {
  if (sensor != 0 || index_of(d) != 0) return kNotSupported;
  *t = 63;
  return kSuccess;
}
int nvmlDeviceGetPowerUsage(void* d, unsigned int* mw) {
  *mw = index_of(d) == 0 ? 412345 : 70000;
  return kSuccess;
}
int nvmlDeviceGetEnforcedPowerLimit(void* d, unsigned int* mw) {
  if (index_of(d) != 0) return kNotSupported;
  *mw = 700000;
  return kSuccess;
}
int nvmlDeviceGetClockInfo(void* d, unsigned int type, unsigned int* mhz) {
  const bool first = index_of(d) == 0;
  if (type == 1)
    *mhz = first ? 1980 : 1590;  // SM
  else if (type == 2)
    *mhz = first ? 2619 : 5001;  // memory
  else
    return kInvalidArgument;
  return kSuccess;
}
int nvmlDeviceGetCurrentClocksThrottleReasons(void* d, unsigned long long* bits) {
  *bits = index_of(d) == 0 ? (0x4ull | 0x40ull) : 0x1ull;
  return kSuccess;
}
int nvmlDeviceGetTotalEccErrors(void* d, unsigned int type, unsigned int counter,
                                unsigned long long* n) {
  if (index_of(d) != 0 || counter != 0) return kNotSupported;
  *n = type == 0 ? 5 : 0;
  return kSuccess;
}
int nvmlDeviceGetPcieThroughput(void*, unsigned int, unsigned int*) { return kNotSupported; }
// GPU 0 runs this process (123 MiB) and another; a caller with room for
// fewer entries is told the size it needs, as the driver does.
int nvmlDeviceGetComputeRunningProcesses_v2(void* d, unsigned int* count, ProcessInfoV2* out) {
  const unsigned int self = static_cast<unsigned int>(::getpid());
  ProcessInfoV2 list0[] = {{1, 999 * kMiB, ~0u, ~0u}, {self, 123 * kMiB, ~0u, ~0u}};
  ProcessInfoV2 list1[] = {{self, ~0ull, ~0u, ~0u}};  // NVML_VALUE_NOT_AVAILABLE
  const bool first = index_of(d) == 0;
  const unsigned int n = first ? 2 : 1;
  if (*count < n) {
    *count = n;
    return kInsufficientSize;
  }
  std::memcpy(out, first ? list0 : list1, n * sizeof(ProcessInfoV2));
  *count = n;
  return kSuccess;
}

}  // extern "C"
