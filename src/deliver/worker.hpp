// The delivery worker: one destination's queue of encoded batches and the
// delivery policy every protocol shares (OTLP/HTTP, Fluentd forward, Sentry).
// A protocol brings a Destination (transport + classifier of one attempt);
// everything that decides whether and when to send again lives here:
//   - batches wait in memory, in order, while the destination fails or its
//     circuit breaker is open, up to `memory_cap` bytes; past that they go to
//     the disk spool when there is one, and only then is the oldest dropped
//     (`memory_cap`). An open breaker stops traffic, never data;
//   - the batch at the head is retried with exponential backoff, full jitter
//     and the server's Retry-After, for at most retry.max_elapsed
//     (`retry_exhausted`, or the spool);
//   - the circuit breaker opens after consecutive failures; its probes back
//     off with jitter from about a second up to the cooldown, so a short
//     outage ends quickly and a long one costs one request per cooldown;
//   - after a failure the backlog is replayed paced (slow start): the send
//     rate starts at the rate batches were arriving and doubles every
//     circuit.recovery_ramp while answers are good, up to 1.75 times that
//     rate; any failure (429 and 503 with their Retry-After included) starts
//     it over. A fleet of clients that failed together thus comes back
//     spread by the jittered probes, and offers its collector less than
//     twice its usual load instead of every backlog at once;
//   - the optional crash-safe spool is replayed oldest first when the
//     destination answers again and on the next start of the process;
//   - failover: a destination may have several endpoints, each with its own
//     circuit breaker and backoff, tried in the order given. Batches go to
//     the first that is not backing off and whose breaker lets them
//     through. A batch whose attempt failed goes to another endpoint that
//     answers at once (no backoff: that was the failed endpoint's); the
//     failed one gets new batches again after its backoff until its breaker
//     opens, then only its probes, which carry real batches: the first it
//     answers takes it back. Backoff and the paced replay apply when every
//     endpoint fails;
//   - flush and shutdown keep their deadlines: shutdown first tells every
//     worker to stop (begin_shutdown), then waits, so all destinations use
//     the same deadline in parallel. Data safely in the spool is a finished
//     state for shutdown.
// docs/delivery.md describes the policy and the measured outage figures.
//
// Accounting: each payload's items end written (delivered), dropped with a
// reason (`rejected`, `rate_limited`, `retry_exhausted`, `memory_cap`,
// `spool_full`, `io_error`, `shutdown`) or spooled (still on disk). Items
// found in the spool at start-up were offered by an earlier run; they are
// counted `recovered` (and offered) in this one, and damage found in that
// spool is counted `io_error` there too.
//
// Threads: submit() is called by the producing track's thread; the worker
// has one thread of its own that sends. In manual mode (Options::manual) no
// thread is started and step() drives the policy with time passed in, which
// is how the policy is unit-tested without sockets or sleeps.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

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
    // No thread: the owner calls step() (tests, simulations).
    bool manual = false;
    // Seed of the jitter of retries and probes; 0 = from the system.
    std::uint64_t seed = 0;
  };

  DeliveryWorker(Track track, std::unique_ptr<deliver::Destination> destination,
                 core::Accounting& accounting, Options options);
  // Several endpoints of one destination, in order of preference: the first
  // is the primary, the others take over while it fails (see failover above).
  // At least one; null entries are skipped.
  DeliveryWorker(Track track, std::vector<std::unique_ptr<deliver::Destination>> endpoints,
                 core::Accounting& accounting, Options options);
  ~DeliveryWorker();
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  // Queues a payload (called by the producing track's thread). Over the
  // memory cap the oldest waiting batches are dropped (`memory_cap`); the
  // worker moves batches to the spool before that when it has one.
  void submit(deliver::Payload payload) noexcept;
  // The same at `now` (manual mode: the simulated time the batch arrives,
  // which dates it for retry.max_elapsed and measures the arrival rate).
  void submit(deliver::Payload payload, std::chrono::steady_clock::time_point now) noexcept;
  // Items submitted that are no longer in memory: delivered, dropped or on
  // disk (delivered + dropped + spooled). Cheap: one uncontended lock, no
  // allocation; a batch processor's queue limit reads it per record.
  std::uint64_t resolved_items() const noexcept;
  // Counts `n` items its producer dropped before submitting them (a batch
  // processor's queue limit): they show in this destination's health, and in
  // the track's when it is the primary destination. They count as resolved.
  void count_dropped_upstream(DropReason r, std::size_t n) noexcept { count_dropped(r, n); }
  // Waits until everything submitted has been delivered or dropped (and,
  // unless the worker is stopping, the spool is empty too), or `deadline`.
  // False when something is still pending.
  bool wait_idle(std::chrono::steady_clock::time_point deadline) noexcept;
  // Tells the worker to stop by `deadline` and returns at once: it delivers
  // what it can until then, spools what it cannot (at once when the
  // destination is failing), and counts the rest `shutdown`.
  void begin_shutdown(std::chrono::steady_clock::time_point deadline) noexcept;
  // begin_shutdown(), then waits until the worker is done or `deadline`,
  // then cuts the request in flight. True when nothing was lost to the
  // deadline (everything delivered, dropped for other reasons, or spooled).
  // Idempotent.
  bool shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  // Manual mode: runs the policy once at `now` (one attempt at most) and
  // returns when it next has something to do (time_point::max() when idle).
  // The attempt takes the destination's DeliveryResult::elapsed of
  // simulated time: the worker is busy until now + elapsed.
  std::chrono::steady_clock::time_point step(std::chrono::steady_clock::time_point now) noexcept;

  deliver::ContentType content_type() const noexcept { return content_type_; }
  void set_content_type(deliver::ContentType t) noexcept { content_type_ = t; }
  std::string description() const;
  const std::string& stream() const noexcept { return options_.stream; }
  // Summed over the endpoints.
  deliver::DestinationStats stats() const noexcept;
  // The primary endpoint's breaker (the only one without failover endpoints).
  CircuitBreaker::State breaker_state() const noexcept { return endpoints_[0]->breaker.state(); }
  std::size_t endpoint_count() const noexcept { return endpoints_.size(); }
  // The endpoint the last attempt went to (0: the primary).
  std::size_t active_endpoint() const noexcept { return active_.load(std::memory_order_relaxed); }
  deliver::DestinationStats endpoint_stats(std::size_t i) const noexcept {
    return endpoints_[i]->destination->stats();
  }
  // Times batches moved from one endpoint to another.
  std::uint64_t endpoint_switches() const noexcept {
    return switches_.load(std::memory_order_relaxed);
  }
  // Encoded bytes waiting in memory, the batch being sent included. Cheap.
  std::size_t queued_bytes() const noexcept;
  // An empty string, with the capacity of a batch this worker has finished
  // with when one is at hand: the producer encodes the next batch into it
  // instead of allocating (and faulting in) a fresh buffer of the same size
  // for every batch. The buffer given is the one finished longest ago: the
  // worker's thread read it on its own core, and a buffer reused at once is
  // still in that core's caches, so the producer's core has to take every
  // line back from it while encoding (gen's encoding took 1.26-1.37 µs a
  // span that way against 0.78-1.07 µs with the oldest of 8; BENCHMARKS.md).
  // At most kSpareBuffers are kept, together at most kMaxSpareBytes, and
  // none before the first call: a worker whose producer never asks keeps no
  // memory for it.
  std::string take_buffer() noexcept;
  static constexpr std::size_t kSpareBuffers = 8;
  static constexpr std::size_t kMaxSpareBytes = 8u << 20;
  // True while a backlog is replayed paced after a failure (worker thread,
  // or the owner in manual mode).
  bool replay_paced() const noexcept { return pacing_ && ramping_; }
  // Batches arriving per second (a moving average over about 5 s).
  double arrival_rate() const noexcept;

  // fork(): see core::RecordHandler. after_fork_child() drops the parent's
  // queued payloads and starts this worker's thread again in the child (the
  // spool directory stays the parent's: the child runs without one).
  void prepare_fork() noexcept { mu_.lock(); }
  void release_fork_locks() noexcept { mu_.unlock(); }
  void after_fork_child() noexcept;

  // This destination's counters; thread-safe.
  DestinationHealth health() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    deliver::Payload payload;
    Clock::time_point queued_at;
  };
  enum class Source : std::uint8_t { kNone, kQueue, kSpool };
  // One endpoint of the destination: its transport and its own breaker.
  struct Endpoint {
    Endpoint(std::unique_ptr<deliver::Destination> d, const CircuitSettings& c,
             const RetrySettings& r, std::uint64_t seed)
        : destination(std::move(d)), breaker(c, seed), backoff(endless(r), seed ^ 0x5bd1e995u) {}
    static RetrySettings endless(RetrySettings r) {
      r.max_elapsed = std::chrono::milliseconds(0);  // batches have the budget
      return r;
    }
    std::unique_ptr<deliver::Destination> destination;
    deliver::CircuitBreaker breaker;
    // Worker thread only: this endpoint's own backoff, which grows with its
    // consecutive failures whatever the other endpoints do.
    deliver::RetryState backoff;
    std::atomic<bool> last_failed{false};
    std::atomic<bool> tried{false};
    std::atomic<std::uint64_t> delivered{0};  // items it accepted
    std::string last_error;                   // guarded by mu_
    // Worker thread only: after a failure, this endpoint's backoff (or
    // Retry-After) ends here; other endpoints carry batches meanwhile.
    std::chrono::steady_clock::time_point not_before{};
  };

  void run() noexcept;
  void account(const deliver::Payload& p, const deliver::DeliveryResult& r,
               bool from_spool) noexcept;
  void count_written(std::size_t n, bool from_spool) noexcept;
  void count_dropped(DropReason r, std::size_t n) noexcept;
  // Worker thread only: move one batch to the spool, or drop it with
  // `reason_without_spool`. True when it is on disk.
  bool spill(const deliver::Payload& p, DropReason reason_without_spool) noexcept;
  // After batches left the queue for the spool: commits it, counts them
  // spooled, then stops counting the worker busy (and wakes a waiting flush
  // if nothing is left).
  void end_spill(bool spilled) noexcept;
  // Moves queued batches to the spool (or drops them) until at most
  // `keep_bytes` wait in memory, oldest first.
  void spill_queue(std::size_t keep_bytes, DropReason reason_without_spool) noexcept;
  // Keeps a finished batch's buffer for take_buffer() within its bounds
  // (under mu_).
  void keep_spare(std::string& bytes) noexcept;
  // Drops or spools waiting batches older than retry.max_elapsed.
  void expire_queue(Clock::time_point now) noexcept;
  void update_spool_stats() noexcept;
  // Every endpoint's last attempt failed, or its breaker is not closed.
  bool failing() const noexcept;
  // Every endpoint's breaker is open: the destination is known to be down.
  bool all_open() const noexcept;
  // Some endpoint other than `i` is closed, did not fail last and is not
  // backing off at `now`: a batch that failed on `i` can go there now.
  bool other_endpoint_ready(std::size_t i, Clock::time_point now) const noexcept;
  // Why the active endpoint is in use (health()): mu_ held.
  std::string active_reason() const;
  // Closes the arrival-rate windows that ended by `now` (mu_ held).
  void roll_arrivals(Clock::time_point now) const noexcept;
  // The paced send rate (batches/s) of the replay at `now`.
  double ramp_rate(Clock::time_point now) const noexcept;

  const Track track_;
  core::Accounting& accounting_;
  const Options options_;
  // Never empty; [0] is the primary. The vector itself never changes.
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<std::size_t> active_{0};
  std::atomic<std::uint64_t> switches_{0};
  deliver::ContentType content_type_ = deliver::ContentType::kProtobuf;
  std::unique_ptr<deliver::Spool> spool_;  // worker thread only

  // Worker thread only: the head batch's retry state and when it may go next.
  deliver::RetryState head_retry_;
  Clock::time_point next_attempt_{};
  // Worker thread only: the paced replay after a failure. pacing_ is set by
  // a failure and cleared once the backlog is gone; ramping_ once the
  // destination answered again, from ramp_from_ at ramp_base_ batches/s.
  bool pacing_ = false;
  bool ramping_ = false;
  Clock::time_point ramp_from_{};
  Clock::time_point failing_since_{};  // the first failure before this replay
  double ramp_base_ = 0;
  Clock::time_point next_paced_{};

  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the worker
  std::condition_variable idle_cv_;  // wakes wait_idle() and shutdown()
  std::deque<Entry> queue_;
  std::deque<std::string> spare_;  // finished batches' buffers, oldest first (take_buffer)
  bool spares_wanted_ = false;     // take_buffer() has been called
  std::size_t queued_bytes_ = 0;
  std::size_t inflight_bytes_ = 0;  // the batch being sent (counts in the cap)
  // Arrival rate: batches per one-second window, averaged (mutable: reading
  // the rate closes the windows that have ended).
  mutable double arrivals_per_s_ = 0;
  mutable Clock::time_point arrival_window_{};
  mutable std::uint32_t arrivals_in_window_ = 0;
  bool busy_ = false;
  bool wake_ = false;
  bool stopping_ = false;
  bool finished_ = false;  // the worker thread has ended (or never runs)
  Clock::time_point stop_deadline_{Clock::time_point::max()};
  std::atomic<bool> cancel_{false};
  std::thread thread_;

  // Destination health (guarded by mu_).
  std::uint64_t delivered_ = 0;
  std::uint64_t retried_ = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped_{};
  std::int64_t last_success_ = 0;
  std::string last_error_;
  std::uint64_t spool_items_ = 0;  // items on disk now
  std::uint64_t spool_bytes_ = 0;
  std::uint64_t recovered_left_ = 0;      // items from an earlier run not yet resolved
  std::uint64_t spool_damaged_seen_ = 0;  // worker thread only
};

}  // namespace emp::telemetry::deliver
