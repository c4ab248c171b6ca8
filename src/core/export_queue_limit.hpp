// The max queue size of a batch processor (OTEL_BSP_MAX_QUEUE_SIZE,
// OTEL_BLRP_MAX_QUEUE_SIZE): how many items may be buffered for export, in
// the batch being built plus the batches handed to the destination and not
// yet resolved (delivered, dropped or moved to the disk spool). An item
// beyond it is dropped and counted `queue_full`, as the OpenTelemetry SDK
// specification has it.
//
// Items handed over are counted here; items resolved are read from the
// destination's health (delivered + dropped + spooled), but only when the
// count says the queue might be full and at most once a millisecond, so the
// common case costs an addition. Records an earlier run left in the spool
// are delivered through the same counters and can make the limit looser
// for a while, never stricter.
//
// Thread-safety: one thread (the pipeline's) calls everything.
#pragma once

#include <chrono>
#include <cstdint>

#include "emp/telemetry/health.hpp"

namespace emp::telemetry::core {

class ExportQueueLimit {
 public:
  explicit ExportQueueLimit(std::uint64_t max_items) noexcept : max_(max_items) {}

  // True when one more item may join a batch that holds `in_batch` items.
  // `health` returns the destination's DestinationHealth.
  template <typename HealthFn>
  bool admit(std::uint64_t in_batch, HealthFn&& health) noexcept {
    if (pending() + in_batch < max_) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now - refreshed_ < std::chrono::milliseconds(1)) return false;
    refreshed_ = now;
    try {
      const DestinationHealth h = health();
      const std::uint64_t resolved = h.delivered + h.spooled + dropped_total(h);
      if (resolved > resolved_) resolved_ = resolved;
    } catch (...) {
      return false;
    }
    return pending() + in_batch < max_;
  }
  // `n` items were handed to the destination.
  void submitted(std::uint64_t n) noexcept { submitted_ += n; }
  std::uint64_t max_items() const noexcept { return max_; }

 private:
  std::uint64_t pending() const noexcept {
    return submitted_ > resolved_ ? submitted_ - resolved_ : 0;
  }
  static std::uint64_t dropped_total(const DestinationHealth& h) noexcept {
    std::uint64_t n = 0;
    for (auto d : h.dropped) n += d;
    return n;
  }

  const std::uint64_t max_;
  std::uint64_t submitted_ = 0;
  std::uint64_t resolved_ = 0;
  std::chrono::steady_clock::time_point refreshed_{};
};

}  // namespace emp::telemetry::core
