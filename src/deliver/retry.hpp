// Retry policy of one payload: exponential backoff with full jitter, the
// server's Retry-After, and a limit on the total time spent retrying.
//
// The delay before retry number n (0-based) is drawn uniformly from
//   [0, min(max_interval, initial_interval * multiplier^n)]
// ("full jitter": clients that failed together spread over the whole window
// instead of returning together), then raised to the server's Retry-After
// when it asked for longer (capped at retry_after_max). Once the first
// failure is older than max_elapsed (counting the next delay), the payload is
// given up (retry_exhausted, or the disk spool when there is one).
//
// Defaults (RetrySettings, EMP_RETRY_*): 1 s initial, x1.5, 30 s max interval,
// 300 s max elapsed, Retry-After capped at 60 s. The interval, multiplier and
// elapsed limits are the OpenTelemetry Collector's exporterhelper values
// except the initial interval: the collector waits 5 s (+/-50 %), which is
// longer than a whole default shutdown (EMP_SHUTDOWN_TIMEOUT=5s) of a short-
// lived worker; with 1 s and full jitter the first retries land within about
// a second, so a collector restart during a flush still gets a few retries.
//
// Usage, on the destination's thread:
//   RetryState retry(config.retry);
//   for (;;) {
//     DeliveryResult r = destination.deliver(payload, deadline);
//     auto delay = retry.next_delay(r, SteadyClock::now());
//     if (!delay) break;          // delivered, permanent, partial or exhausted
//     wait_for(*delay);           // interruptible by flush/shutdown
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "deliver/delivery.hpp"
#include "emp/telemetry/config.hpp"

namespace emp::telemetry::deliver {

// The capped exponential bound for retry number `attempt` (0-based):
// min(max_interval, initial_interval * multiplier^attempt), never negative.
// A multiplier below 1 is treated as 1.
std::chrono::milliseconds backoff_bound(const RetrySettings& settings,
                                        std::uint32_t attempt) noexcept;

// Maps 64 random bits uniformly onto [0, bound] (both ends included):
// 0 gives 0 and UINT64_MAX gives `bound`. Negative bounds give 0.
std::chrono::milliseconds full_jitter(std::chrono::milliseconds bound,
                                      std::uint64_t random_bits) noexcept;

// One payload's retry bookkeeping: a small copyable value (settings, attempt
// count, time of the first failure and the state of its own random source).
// Deterministic for a given seed, so tests can replay a sequence.
// Thread-safety: none; owned by the thread that delivers the payload.
class RetryState {
 public:
  // Seeds the random source from the operating system.
  explicit RetryState(const RetrySettings& settings) noexcept;
  RetryState(const RetrySettings& settings, std::uint64_t seed) noexcept;

  // What to do after `result`, observed at `now`:
  //  - nullopt for kDelivered, kPartial and kPermanent (never retried), when
  //    retries are disabled, and when the next delay would end after
  //    first failure + max_elapsed (exhausted() becomes true);
  //  - otherwise the delay before the next attempt: the full-jitter backoff,
  //    or the result's retry_after (capped at retry_after_max) when longer.
  // Each retryable result counts one attempt. The caller's own deadline is
  // not considered here: it decides whether it can wait that long.
  std::optional<std::chrono::milliseconds> next_delay(const DeliveryResult& result,
                                                      SteadyClock::time_point now) noexcept;

  // Forgets the failures (e.g. to reuse the state for the next payload).
  void reset() noexcept;

  // Retryable failures seen since construction or reset().
  std::uint32_t attempts() const noexcept { return attempts_; }
  // When the first retryable failure was seen; nullopt before any.
  std::optional<SteadyClock::time_point> first_failure() const noexcept { return first_failure_; }
  // True once next_delay() gave up because of max_elapsed (until reset()).
  bool exhausted() const noexcept { return exhausted_; }
  const RetrySettings& settings() const noexcept { return settings_; }

 private:
  std::uint64_t next_random() noexcept;

  RetrySettings settings_;
  std::uint64_t rng_;  // splitmix64 state
  std::uint32_t attempts_ = 0;
  std::optional<SteadyClock::time_point> first_failure_;
  bool exhausted_ = false;
};

}  // namespace emp::telemetry::deliver
