// GPU metrics of an NVIDIA machine, read through NVML (libnvidia-ml.so.1)
// loaded with dlopen at the first registration: the library never links
// against the driver, and a machine without it simply has no GPU metrics
// (one informational line says so). Each reading is taken only where the
// driver exports the call and at least one GPU answers it; a call a GPU does
// not support (NVML_ERROR_NOT_SUPPORTED and the like) skips that reading for
// that GPU and never affects the others. docs/machine-metrics.md lists every
// name, unit and NVML source.
#pragma once

namespace emp::telemetry {
class Metrics;
}

namespace emp::telemetry::metrics {

// Registers the machine.gpu.* and process.gpu.* instruments on `m`; does
// nothing (after one notice) when NVML or a usable GPU is missing.
void register_gpu_metrics(Metrics& m);

}  // namespace emp::telemetry::metrics
