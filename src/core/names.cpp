// Text names of the health enums, as they appear in health output, the CLI
// and exported self-metrics.
#include "emp/telemetry/health.hpp"

namespace emp::telemetry {

std::string_view to_string(Track t) noexcept {
  switch (t) {
    case Track::kLogs: return "logs";
    case Track::kTraces: return "traces";
    case Track::kMetrics: return "metrics";
    case Track::kEvents: return "events";
    case Track::kErrors: return "errors";
    case Track::kCount: break;
  }
  return "unknown";
}

std::string_view to_string(DropReason r) noexcept {
  switch (r) {
    case DropReason::kQueueFull: return "queue_full";
    case DropReason::kRejected: return "rejected";
    case DropReason::kRetryExhausted: return "retry_exhausted";
    case DropReason::kSpoolFull: return "spool_full";
    case DropReason::kShutdown: return "shutdown";
    case DropReason::kSampledOut: return "sampled_out";
    case DropReason::kRateLimited: return "rate_limited";
    case DropReason::kIoError: return "io_error";
    case DropReason::kMemoryCap: return "memory_cap";
    case DropReason::kCircuitOpen: return "circuit_open";
    case DropReason::kTooLarge: return "too_large";
    case DropReason::kCount: break;
  }
  return "unknown";
}

}  // namespace emp::telemetry
