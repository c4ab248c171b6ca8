// One OTLP destination's delivery thread: a bounded in-memory queue of
// encoded export requests in front of a deliver::Destination, with the
// delivery policy every destination shares:
//   - retry of retryable failures (429/502/503/504, connection errors,
//     timeouts) with exponential backoff, full jitter and Retry-After;
//   - a circuit breaker: after consecutive failures the destination is left
//     alone for a cooldown, then one probe decides;
//   - a memory cap on bytes waiting: past it the oldest batches go first
//     (counted `memory_cap`), or to the spool when there is one;
//   - an optional crash-safe disk spool: batches that cannot be delivered now
//     (breaker open, retries exhausted, shutdown deadline) are written to
//     disk, replayed oldest first when the destination recovers and on the
//     next start of the process.
// The pipeline's background thread batches and encodes; only this thread
// sends, so a slow or hung collector never delays files or other tracks.
//
// Accounting: each payload's items end written (delivered), dropped with a
// reason (`rejected`, `retry_exhausted`, `circuit_open`, `memory_cap`,
// `spool_full`, `shutdown`, `queue_full`) or spooled (still on disk).
// Items found in the spool at start-up were offered by an earlier run; they
// are counted as `recovered` (and offered) in this one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "core/pipeline.hpp"
#include "deliver/circuit_breaker.hpp"
#include "deliver/delivery.hpp"
#include "deliver/retry.hpp"
#include "deliver/spool.hpp"
#include "emp/telemetry/health.hpp"

namespace emp::telemetry::deliver {

class DeliveryWorker {
 public:
  struct Options {
    std::size_t memory_cap = 32u << 20;               // encoded bytes waiting in memory
    std::chrono::milliseconds export_timeout{10000};  // per request; 0 = no limit
    // When true, outcomes count in the track's own counters (the track's
    // main destination); when false only in this destination's health (e.g.
    // OTLP export of log records that are also written to files).
    bool primary = true;
    RetrySettings retry{};
    CircuitSettings circuit{};
    // The stream this worker carries, "<protocol>/<what>" (e.g. "otlp/traces",
    // "fluentd/logs", "sentry/errors"): names it in diagnostics.
    std::string stream;
    std::string spool_dir;  // empty = no spool
    deliver::SpoolOptions spool{};
  };

  DeliveryWorker(Track track, std::unique_ptr<deliver::Destination> destination,
                 core::Accounting& accounting, Options options);
  ~DeliveryWorker();
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  // Queues a payload (called by the pipeline's background thread).
  void submit(deliver::Payload payload) noexcept;
  // Waits until everything submitted (and spooled) has been delivered or
  // dropped, or `deadline`. False when something is still pending.
  bool wait_idle(std::chrono::steady_clock::time_point deadline) noexcept;
  // Delivers what it can until `deadline`, then cuts the request in flight;
  // what is left goes to the spool, or is counted `shutdown`. Idempotent.
  void shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  deliver::ContentType content_type() const noexcept { return content_type_; }
  void set_content_type(deliver::ContentType t) noexcept { content_type_ = t; }
  std::string description() const;
  deliver::DestinationStats stats() const noexcept { return destination_->stats(); }

  // fork(): see core::RecordHandler. after_fork_child() drops the parent's
  // queued payloads and starts this sink's thread again in the child (the
  // spool directory stays the parent's: the child runs without one).
  void prepare_fork() noexcept { mu_.lock(); }
  void release_fork_locks() noexcept { mu_.unlock(); }
  void after_fork_child() noexcept;

  // This destination's counters; thread-safe.
  DestinationHealth health() const;

 private:
  void run() noexcept;
  void account(const deliver::Payload& p, const deliver::DeliveryResult& r,
               bool from_spool) noexcept;
  void count_written(std::size_t n, bool from_spool) noexcept;
  void count_dropped(DropReason r, std::size_t n) noexcept;
  // Sends one payload with retries. Returns true when it reached a final
  // outcome, false when it is still pending (breaker open, retries exhausted
  // or stopping) and the caller must keep or spool it.
  bool deliver_with_retry(const deliver::Payload& p, bool from_spool) noexcept;
  // Moves queued payloads to the spool (or drops them with `reason` when
  // there is none). Called on this sink's thread only.
  void spill_queue(DropReason reason_without_spool) noexcept;
  bool spill(const deliver::Payload& p, DropReason reason_without_spool) noexcept;
  void update_spool_stats() noexcept;
  bool stop_due() noexcept;

  const Track track_;
  std::unique_ptr<deliver::Destination> destination_;
  core::Accounting& accounting_;
  const Options options_;
  deliver::ContentType content_type_ = deliver::ContentType::kProtobuf;
  deliver::CircuitBreaker breaker_;
  std::unique_ptr<deliver::Spool> spool_;  // this sink's thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<deliver::Payload> queue_;
  std::size_t queued_bytes_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::atomic<bool> cancel_{false};
  std::thread thread_;

  // Destination health (guarded by mu_).
  std::uint64_t delivered_ = 0;
  std::uint64_t retried_ = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped_{};
  std::int64_t last_success_ = 0;
  std::string last_error_;
  bool degraded_ = false;
  std::uint64_t spool_items_ = 0;  // items on disk now
  std::uint64_t spool_bytes_ = 0;
  std::uint64_t recovered_left_ = 0;      // items from an earlier run not yet resolved
  std::uint64_t spool_damaged_seen_ = 0;  // this sink's thread only
};

}  // namespace emp::telemetry::deliver
