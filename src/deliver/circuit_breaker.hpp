// Circuit breaker of one destination: stops sending to a destination that
// keeps failing, so a dead collector costs one probe per cooldown instead of
// a connection attempt (and its timeout) per payload.
//
//   closed    -- failure_threshold consecutive failures -->  open
//   open      -- cooldown has passed, allow() -->             half-open (one probe)
//   half-open -- probe succeeds -->                           closed
//   half-open -- probe fails -->                              open (a new cooldown)
//
// The time to the next probe grows: about 1 s after the breaker first opens,
// then doubling with every failed probe up to `cooldown` (30 s by default),
// each drawn with jitter from [bound/2, bound]. A short outage is noticed as
// over within a second or two; a long one costs one request per cooldown;
// and clients that failed together do not probe together.
//
// What counts as a failure is the caller's call; the intended mapping is:
// on_failure() for kRetryable results (connection refused or reset, 429,
// 502-504, timeouts), except attempts cut by our own flush/shutdown cancel
// flag, which say nothing about the destination (report neither);
// on_success() for every answer that proves the destination works
// (kDelivered, kPartial, and kPermanent, whose cause is the payload).
//
// Time is passed in, so tests drive every transition without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "deliver/signal.hpp"
#include "emp/telemetry/config.hpp"

namespace emp::telemetry::deliver {

// Thread-safety: allow(), on_success() and on_failure() are called by one
// thread (the destination's delivery thread); state(), times_opened() and
// settings() may be read from any thread.
class CircuitBreaker {
 public:
  enum class State : std::uint8_t { kClosed = 0, kOpen, kHalfOpen };

  // `seed` feeds the probe jitter; 0 draws one from the system.
  explicit CircuitBreaker(const CircuitSettings& settings, std::uint64_t seed = 0) noexcept;

  // May an attempt be made at `now`? Closed: always. Open: no, until the
  // cooldown since opening has passed; then the breaker turns half-open and
  // this call returns true once (the probe). Half-open: false while the
  // probe's outcome is unknown, for at most one more cooldown (a probe whose
  // outcome is never reported does not block the destination for good).
  bool allow(SteadyClock::time_point now) noexcept;
  // The attempt succeeded: closed, failure count cleared.
  void on_success() noexcept;
  // The attempt failed at `now`. Closed: counts, and opens at the threshold
  // (never with a threshold of 0). Half-open: the probe failed, opens again.
  // Open (a result of an attempt made before opening): restarts the cooldown.
  void on_failure(SteadyClock::time_point now) noexcept;

  State state() const noexcept { return state_.load(std::memory_order_acquire); }
  // Transitions into the open state so far (including re-opening after a probe).
  std::uint64_t times_opened() const noexcept {
    return times_opened_.load(std::memory_order_relaxed);
  }
  // Consecutive failures while closed (delivery thread only).
  std::uint32_t consecutive_failures() const noexcept { return failures_; }
  // When an open breaker lets the next probe through (delivery thread only;
  // meaningful in the open state).
  SteadyClock::time_point retry_at() const noexcept { return probe_at_; }
  // The first probe comes about this long after the breaker opens.
  static constexpr std::chrono::milliseconds kFirstProbe{1000};
  const CircuitSettings& settings() const noexcept { return settings_; }

 private:
  void open(SteadyClock::time_point now) noexcept;
  void schedule_probe(SteadyClock::time_point now) noexcept;

  const CircuitSettings settings_;
  std::atomic<State> state_{State::kClosed};
  std::atomic<std::uint64_t> times_opened_{0};
  std::uint32_t failures_ = 0;
  SteadyClock::time_point opened_at_{};      // when it last opened
  SteadyClock::time_point probe_at_{};       // when an open breaker lets a probe through
  std::uint32_t failed_probes_ = 0;          // since the breaker last closed
  std::uint64_t rng_;                        // splitmix64 state of the jitter
  SteadyClock::time_point probe_started_{};  // when the half-open probe was allowed
};

// "closed", "open", "half_open".
std::string_view to_string(CircuitBreaker::State state) noexcept;

}  // namespace emp::telemetry::deliver
