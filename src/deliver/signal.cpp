// Names of the delivery vocabulary declared in signal.hpp.
#include "deliver/signal.hpp"

namespace emp::telemetry::deliver {

std::string_view to_string(Signal signal) noexcept {
  switch (signal) {
    case Signal::kTraces:
      return "traces";
    case Signal::kMetrics:
      return "metrics";
    case Signal::kLogs:
      return "logs";
  }
  return "unknown";
}

std::string_view mime_type(ContentType type) noexcept {
  return type == ContentType::kJson ? "application/json" : "application/x-protobuf";
}

}  // namespace emp::telemetry::deliver
