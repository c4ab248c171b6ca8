// The max queue size of a batch processor (OTEL_BSP_MAX_QUEUE_SIZE,
// OTEL_BLRP_MAX_QUEUE_SIZE): how many items may be buffered for export, in
// the batch being built plus the batches handed to the destination and not
// yet resolved (delivered, dropped or moved to the disk spool). An item
// beyond it is dropped and counted `queue_full`, as the OpenTelemetry SDK
// specification has it.
//
// Items handed over are counted here; items resolved (delivered, dropped or
// spooled) are read from the destination only when the count says the queue
// might be full, so the common case costs an addition. The read is exact,
// not throttled: a stale count would drop records from a queue that has
// emptied (a fast loopback collector resolves a batch in well under a
// millisecond). Records an earlier run left in the spool are delivered
// through the same counters and can make the limit looser for a while,
// never stricter.
//
// Thread-safety: one thread (the pipeline's) calls everything.
#pragma once

#include <cstdint>

namespace emp::telemetry::core {

class ExportQueueLimit {
 public:
  explicit ExportQueueLimit(std::uint64_t max_items) noexcept : max_(max_items) {}

  // True when one more item may join a batch that holds `in_batch` items.
  // `resolved` returns the destination's count of items delivered, dropped
  // or spooled (DeliveryWorker::resolved_items).
  template <typename ResolvedFn>
  bool admit(std::uint64_t in_batch, ResolvedFn&& resolved) noexcept {
    if (pending() + in_batch < max_) return true;
    const std::uint64_t r = resolved();
    if (r > resolved_) resolved_ = r;
    return pending() + in_batch < max_;
  }
  // `n` items were handed to the destination.
  void submitted(std::uint64_t n) noexcept { submitted_ += n; }
  std::uint64_t max_items() const noexcept { return max_; }

 private:
  std::uint64_t pending() const noexcept {
    return submitted_ > resolved_ ? submitted_ - resolved_ : 0;
  }

  const std::uint64_t max_;
  std::uint64_t submitted_ = 0;
  std::uint64_t resolved_ = 0;
};

}  // namespace emp::telemetry::core
