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

#include "emp/telemetry/health.hpp"

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

  // One more item for a batch that holds `in_batch`: true when it may join;
  // otherwise it is dropped as queue_full on `sink` (a DeliveryWorker) and
  // false. A limit of 0 admits everything (the destination's memory cap
  // bounds the backlog then).
  template <typename Sink>
  bool admit_or_drop(std::uint64_t in_batch, Sink& sink) noexcept {
    if (max_ == 0 || admit(in_batch, [&sink] { return sink.resolved_items(); })) return true;
    drop(sink, DropReason::kQueueFull, 1);
    return false;
  }
  // `n` items dropped before they reached `sink`: the destination counts them
  // (and resolves them), so they count as handed over here too, which keeps
  // the arithmetic even.
  template <typename Sink>
  void drop(Sink& sink, DropReason reason, std::uint64_t n) noexcept {
    submitted(n);
    sink.count_dropped_upstream(reason, n);
  }
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
