// Circuit breaker: every transition with an injected clock (closed -> open at
// the threshold, open refuses until the cooldown, half-open lets exactly one
// probe through, probe success closes, probe failure re-opens with a new
// cooldown), successes resetting the count, threshold 0, a probe whose outcome
// is never reported, and state() read from another thread while it changes.
#include "deliver/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace emp::telemetry::deliver {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

CircuitSettings settings(std::uint32_t threshold, std::chrono::milliseconds cooldown) {
  CircuitSettings s;
  s.failure_threshold = threshold;
  s.cooldown = cooldown;
  return s;
}

TEST(CircuitBreaker, DefaultsAreFiveFailuresAndThirtySeconds) {
  CircuitSettings s;
  EXPECT_EQ(s.failure_threshold, 5u);
  EXPECT_EQ(s.cooldown, 30s);
  EXPECT_EQ(to_string(State::kClosed), "closed");
  EXPECT_EQ(to_string(State::kOpen), "open");
  EXPECT_EQ(to_string(State::kHalfOpen), "half_open");
}

TEST(CircuitBreaker, OpensAfterThresholdConsecutiveFailures) {
  CircuitBreaker cb(settings(3, 10s));
  const auto t = SteadyClock::now();
  EXPECT_EQ(cb.state(), State::kClosed);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(cb.allow(t));
    cb.on_failure(t);
    EXPECT_EQ(cb.state(), State::kClosed);
  }
  EXPECT_EQ(cb.consecutive_failures(), 2u);
  EXPECT_TRUE(cb.allow(t));
  cb.on_failure(t);
  EXPECT_EQ(cb.state(), State::kOpen);
  EXPECT_EQ(cb.times_opened(), 1u);
  EXPECT_EQ(cb.retry_at(), t + 10s);
  EXPECT_FALSE(cb.allow(t));
  EXPECT_FALSE(cb.allow(t + 9999ms));
}

TEST(CircuitBreaker, SuccessResetsTheConsecutiveCount) {
  CircuitBreaker cb(settings(3, 10s));
  const auto t = SteadyClock::now();
  cb.on_failure(t);
  cb.on_failure(t);
  cb.on_success();
  EXPECT_EQ(cb.consecutive_failures(), 0u);
  cb.on_failure(t);
  cb.on_failure(t);
  EXPECT_EQ(cb.state(), State::kClosed);
  cb.on_failure(t);
  EXPECT_EQ(cb.state(), State::kOpen);
}

TEST(CircuitBreaker, HalfOpenAllowsOneProbeThatClosesOnSuccess) {
  CircuitBreaker cb(settings(1, 10s));
  const auto t = SteadyClock::now();
  cb.on_failure(t);
  ASSERT_EQ(cb.state(), State::kOpen);
  EXPECT_TRUE(cb.allow(t + 10s));  // the probe
  EXPECT_EQ(cb.state(), State::kHalfOpen);
  EXPECT_FALSE(cb.allow(t + 10s));  // only one at a time
  EXPECT_FALSE(cb.allow(t + 15s));
  cb.on_success();
  EXPECT_EQ(cb.state(), State::kClosed);
  EXPECT_TRUE(cb.allow(t + 15s));
  EXPECT_TRUE(cb.allow(t + 15s));
  EXPECT_EQ(cb.consecutive_failures(), 0u);
}

TEST(CircuitBreaker, FailedProbeReopensForAFreshCooldown) {
  CircuitBreaker cb(settings(2, 10s));
  const auto t = SteadyClock::now();
  cb.on_failure(t);
  cb.on_failure(t);
  ASSERT_TRUE(cb.allow(t + 12s));
  cb.on_failure(t + 13s);
  EXPECT_EQ(cb.state(), State::kOpen);
  EXPECT_EQ(cb.times_opened(), 2u);
  // The cooldown counts from the failed probe, not from the first opening.
  EXPECT_FALSE(cb.allow(t + 22s));
  EXPECT_TRUE(cb.allow(t + 23s));
  EXPECT_EQ(cb.state(), State::kHalfOpen);
  // A single failure in half-open re-opens, whatever the threshold.
  cb.on_failure(t + 23s);
  EXPECT_EQ(cb.state(), State::kOpen);
}

TEST(CircuitBreaker, UnreportedProbeDoesNotBlockForever) {
  CircuitBreaker cb(settings(1, 10s));
  const auto t = SteadyClock::now();
  cb.on_failure(t);
  ASSERT_TRUE(cb.allow(t + 10s));  // probe cut by shutdown: no outcome reported
  EXPECT_FALSE(cb.allow(t + 19s));
  EXPECT_TRUE(cb.allow(t + 20s));  // one cooldown later, another probe
  EXPECT_FALSE(cb.allow(t + 20s));
  cb.on_success();
  EXPECT_EQ(cb.state(), State::kClosed);
}

TEST(CircuitBreaker, FailureWhileOpenRestartsTheCooldown) {
  CircuitBreaker cb(settings(1, 10s));
  const auto t = SteadyClock::now();
  cb.on_failure(t);
  cb.on_failure(t + 5s);  // an attempt that started before the breaker opened
  EXPECT_EQ(cb.state(), State::kOpen);
  EXPECT_EQ(cb.times_opened(), 1u);
  EXPECT_FALSE(cb.allow(t + 14s));
  EXPECT_TRUE(cb.allow(t + 15s));
}

TEST(CircuitBreaker, ThresholdZeroNeverOpens) {
  CircuitBreaker cb(settings(0, 10s));
  const auto t = SteadyClock::now();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(cb.allow(t));
    cb.on_failure(t);
  }
  EXPECT_EQ(cb.state(), State::kClosed);
  EXPECT_EQ(cb.times_opened(), 0u);
}

TEST(CircuitBreaker, HugeCooldownDoesNotOverflow) {
  CircuitBreaker cb(settings(1, std::chrono::milliseconds::max()));
  const auto t = SteadyClock::now();
  cb.on_failure(t);
  EXPECT_FALSE(cb.allow(t + std::chrono::hours(24 * 365)));
  EXPECT_EQ(cb.state(), State::kOpen);
}

TEST(CircuitBreaker, StateIsReadableFromAnotherThread) {
  CircuitBreaker cb(settings(2, 1ms));
  std::atomic<bool> done{false};
  std::atomic<int> seen_open{0};
  std::thread reader([&] {
    for (int i = 0; i < 1000000 && !done.load(); ++i) {
      if (cb.state() == State::kOpen) seen_open.fetch_add(1);
      (void)cb.times_opened();
    }
  });
  auto t = SteadyClock::now();
  for (int i = 0; i < 20000; ++i) {
    t += 1ms;
    if (cb.allow(t)) {
      if (i % 3 == 0) {
        cb.on_success();
      } else {
        cb.on_failure(t);
      }
    }
  }
  done = true;
  reader.join();
  EXPECT_GT(cb.times_opened(), 0u);
}

}  // namespace
}  // namespace emp::telemetry::deliver
