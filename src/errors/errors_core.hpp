// What the errors track's API (any application thread) shares with its
// handler (the pipeline's background thread): the events captured and not yet
// encoded, the breadcrumb ring, the before_send hook and the client reports.
//
// A capture reserves a record in the calling thread's pipeline ring (that is
// what counts it offered/accepted and wakes the background thread) and puts
// the captured event, already copied, at the back of `pending`; the handler
// takes one event from the front per record. Both queues are bounded: at most
// kMaxPending events wait (more are dropped `queue_full` and reported
// queue_overflow), the ring keeps the latest kMaxBreadcrumbs breadcrumbs.
//
// Thread-safety: every member function may be called from any thread; the
// mutexes guard short copies only, never I/O.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/pipeline.hpp"
#include "emp/telemetry/errors.hpp"
#include "errors/stacktrace.hpp"
#include "sentry/client_reports.hpp"

namespace emp::telemetry::errors {

inline constexpr std::size_t kMaxPending = 1000;
inline constexpr std::size_t kMaxBreadcrumbs = 100;
inline constexpr std::size_t kMaxCapturedFrames = 64;
inline constexpr std::size_t kMaxSpare = 64;

// One captured event, as the caller's thread left it.
struct PendingEvent {
  ErrorEvent event;
  // typeid names (static storage) of event.exceptions, demangled later.
  std::vector<const char*> raw_types;
  std::uintptr_t frames[kMaxCapturedFrames];  // newest first (return addresses)
  std::size_t frame_count = 0;
  bool has_trace = false;
  std::uint8_t trace_id[16] = {};
  std::uint8_t span_id[8] = {};
  // Breadcrumbs up to this time belong to it: log lines written before the
  // capture reach the ring on the background thread, possibly after it.
  double breadcrumbs_until = 0;
  int thread_id = 0;
};

struct ErrorsCore {
  core::Pipeline* pipeline = nullptr;
  bool enabled = false;  // events have somewhere to go
  bool sending = false;  // a SENTRY_DSN is set
  double sample_rate = 1.0;
  std::shared_ptr<sentry::ClientReports> reports = std::make_shared<sentry::ClientReports>();

  // Capture side.
  bool push(std::unique_ptr<PendingEvent> event) noexcept;  // false: full or off
  std::unique_ptr<PendingEvent> pop() noexcept;
  // Pending events are reused: the handler gives each back once it is sent
  // on, and a capture takes one, so a capture does not pay malloc's slow
  // path for memory another thread freed (measured in BENCHMARKS.md).
  std::unique_ptr<PendingEvent> acquire();
  void recycle(std::unique_ptr<PendingEvent> event) noexcept;
  std::size_t pending_count() const noexcept;

  void add_breadcrumb(Breadcrumb crumb) noexcept;
  std::uint64_t breadcrumb_seq() const noexcept {
    return crumb_seq_.load(std::memory_order_acquire);
  }
  // The breadcrumbs still in the ring, oldest first; with `until`, only
  // those stamped at or before it (unix seconds).
  std::vector<Breadcrumb> breadcrumbs(double until = 0) const;

  void set_before_send(BeforeSend hook);
  std::shared_ptr<const BeforeSend> before_send() const;

 private:
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<PendingEvent>> pending_;
  std::vector<std::unique_ptr<PendingEvent>> spare_;  // at most kMaxSpare
  mutable std::mutex crumbs_mu_;
  std::deque<std::pair<std::uint64_t, Breadcrumb>> crumbs_;
  std::atomic<std::uint64_t> crumb_seq_{0};
  mutable std::mutex hook_mu_;
  std::shared_ptr<const BeforeSend> before_send_;
};

// Now as unix seconds (the timestamps of events and breadcrumbs).
double unix_seconds_now() noexcept;

}  // namespace emp::telemetry::errors
