// Small vocabulary shared by the delivery layer: which OTLP signal a payload
// carries, how it is encoded, and the deadline a delivery must keep.
//
// A Deadline is an absolute steady-clock instant plus an optional cancel flag
// owned by the caller (flush/shutdown). Delivery code checks both while it
// waits on the network, so a peer that accepts and never answers cannot hold
// a flush or shutdown past its deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace emp::telemetry::deliver {

// The three OTLP signals; each has its own URL path (/v1/<name>).
enum class Signal : std::uint8_t { kTraces = 0, kMetrics, kLogs };

// "traces", "metrics", "logs": the path segment and the env-variable infix.
std::string_view to_string(Signal signal) noexcept;

// Body encoding of an OTLP request.
enum class ContentType : std::uint8_t { kProtobuf = 0, kJson };

// The HTTP media type: "application/x-protobuf" or "application/json".
std::string_view mime_type(ContentType type) noexcept;

using SteadyClock = std::chrono::steady_clock;

// When a delivery must give up, and an optional flag that ends it early.
// Copyable and cheap; `cancel` (if set) must outlive every use of the Deadline.
// Thread-safety: the flag may be set from any thread.
struct Deadline {
  SteadyClock::time_point at = SteadyClock::time_point::max();
  const std::atomic<bool>* cancel = nullptr;

  // No deadline and no cancel flag.
  static Deadline none() noexcept { return {}; }
  // `d` from now (saturating), with an optional cancel flag.
  static Deadline after(std::chrono::milliseconds d,
                        const std::atomic<bool>* cancel = nullptr) noexcept {
    Deadline out;
    const auto now = SteadyClock::now();
    if (d.count() < 0) d = std::chrono::milliseconds(0);
    const auto room =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::time_point::max() - now);
    if (d < room) out.at = now + d;
    out.cancel = cancel;
    return out;
  }

  bool unlimited() const noexcept { return at == SteadyClock::time_point::max(); }
  bool cancelled() const noexcept {
    return cancel != nullptr && cancel->load(std::memory_order_acquire);
  }
  // True once the instant has passed or the flag is set.
  bool expired() const noexcept { return cancelled() || SteadyClock::now() >= at; }
  // Time left (zero when expired, max() when unlimited).
  std::chrono::milliseconds remaining() const noexcept {
    if (unlimited()) return std::chrono::milliseconds::max();
    const auto now = SteadyClock::now();
    if (now >= at) return std::chrono::milliseconds(0);
    return std::chrono::ceil<std::chrono::milliseconds>(at - now);
  }
};

}  // namespace emp::telemetry::deliver
