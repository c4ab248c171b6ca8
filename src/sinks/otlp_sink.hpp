// One OTLP destination's delivery thread: a bounded queue of encoded export
// requests in front of a deliver::Destination (OTLP/HTTP, or the OTLP/JSON
// file used in development). The pipeline's background thread batches and
// encodes; this thread only sends, so a slow or hung collector never delays
// log files or the other tracks.
//
// Accounting: each payload's items end written (delivered), dropped
// `rejected` (partial success or a permanent error), `retry_exhausted` (a
// retryable failure: retries come with the delivery layer), `queue_full`
// (the queue's byte cap was reached) or `shutdown` (still queued at the
// shutdown deadline).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "core/pipeline.hpp"
#include "emp/telemetry/health.hpp"
#include "deliver/delivery.hpp"

namespace emp::telemetry::sinks {

class OtlpSink {
 public:
  struct Options {
    std::size_t max_queue_bytes = 16u << 20;  // encoded bytes waiting to be sent
    std::chrono::milliseconds export_timeout{10000};  // per request
    // When true, outcomes count in the track's own counters (the track's
    // main destination); when false only in this destination's health (e.g.
    // OTLP export of log records that are also written to files).
    bool primary = true;
  };

  OtlpSink(Track track, std::unique_ptr<deliver::Destination> destination,
           core::Accounting& accounting, Options options);
  ~OtlpSink();
  OtlpSink(const OtlpSink&) = delete;
  OtlpSink& operator=(const OtlpSink&) = delete;

  // Queues a payload; counts its items `queue_full` when the byte cap is reached.
  void submit(deliver::Payload payload) noexcept;
  // Waits until every submitted payload has been attempted, or `deadline`.
  bool wait_idle(std::chrono::steady_clock::time_point deadline) noexcept;
  // Sends what it can until `deadline`, then cuts the request in flight and
  // counts what is left as `shutdown`. Idempotent.
  void shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  deliver::ContentType content_type() const noexcept { return content_type_; }
  void set_content_type(deliver::ContentType t) noexcept { content_type_ = t; }
  std::string description() const;
  deliver::DestinationStats stats() const noexcept { return destination_->stats(); }
  // fork(): see core::RecordHandler. after_fork_child() drops the parent's
  // queued payloads and starts this sink's thread again in the child.
  void prepare_fork() noexcept { mu_.lock(); }
  void release_fork_locks() noexcept { mu_.unlock(); }
  void after_fork_child() noexcept;

  // This destination's counters; thread-safe.
  DestinationHealth health() const;

 private:
  void run() noexcept;
  void account(const deliver::Payload& p, const deliver::DeliveryResult& r) noexcept;
  void count_written(std::size_t n) noexcept;
  void count_dropped(DropReason r, std::size_t n) noexcept;

  const Track track_;
  std::unique_ptr<deliver::Destination> destination_;
  core::Accounting& accounting_;
  const Options options_;
  deliver::ContentType content_type_ = deliver::ContentType::kProtobuf;

  std::mutex mu_;
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
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped_{};
  std::int64_t last_success_ = 0;
  std::string last_error_;
  bool degraded_ = false;
};

}  // namespace emp::telemetry::sinks
