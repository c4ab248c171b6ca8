// Circuit breaker: every transition with an injected clock (closed -> open at
// the threshold, open refuses until the first probe about a second later,
// half-open lets exactly one probe through, probe success closes, probe
// failure re-opens with a doubled wait up to the cooldown), jitter that
// spreads breakers which opened together, successes resetting the count,
// threshold 0, a probe whose outcome is never reported, and state() read
// from another thread while it changes.
#include "deliver/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
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
  // The first probe comes after [500 ms, 1 s] (jittered), not a whole cooldown.
  EXPECT_GE(cb.retry_at(), t + 500ms);
  EXPECT_LE(cb.retry_at(), t + 1s);
  EXPECT_FALSE(cb.allow(t));
  EXPECT_FALSE(cb.allow(t + 499ms));
  EXPECT_TRUE(cb.allow(t + 1s));
}

TEST(CircuitBreaker, FailedProbesDoubleTheWaitUpToTheCooldown) {
  CircuitBreaker cb(settings(1, 10s), /*seed=*/42);
  auto now = SteadyClock::now();
  cb.on_failure(now);
  std::chrono::milliseconds bound = 1000ms;
  for (int i = 0; i < 8; ++i) {
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(cb.retry_at() - now);
    EXPECT_GE(wait, bound / 2) << "probe " << i;
    EXPECT_LE(wait, bound) << "probe " << i;
    now = cb.retry_at();
    ASSERT_TRUE(cb.allow(now));
    cb.on_failure(now);  // the probe failed
    bound = std::min<std::chrono::milliseconds>(bound * 2, 10s);
  }
  EXPECT_EQ(bound, 10s);
  cb.on_success();
  cb.on_failure(now);  // after a success the next opening starts small again
  EXPECT_LE(cb.retry_at(), now + 1s);
}

TEST(CircuitBreaker, BreakersThatOpenedTogetherProbeApart) {
  const auto t = SteadyClock::now();
  std::set<SteadyClock::time_point> probes;
  for (std::uint64_t seed = 1; seed <= 1000; ++seed) {
    CircuitBreaker cb(settings(1, 30s), seed);
    cb.on_failure(t);
    probes.insert(cb.retry_at());
  }
  // 1000 clients, a 500 ms window at millisecond resolution: most distinct.
  EXPECT_GT(probes.size(), 300u);
  EXPECT_GE(*probes.begin(), t + 500ms);
  EXPECT_LE(*probes.rbegin(), t + 1s);
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
  // The wait counts from the failed probe, not from the first opening, and
  // doubled: [1 s, 2 s].
  EXPECT_FALSE(cb.allow(t + 13s + 999ms));
  EXPECT_TRUE(cb.allow(t + 15s));
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
  EXPECT_FALSE(cb.allow(t + 5499ms));
  EXPECT_TRUE(cb.allow(t + 6s));
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
  auto now = SteadyClock::now();
  cb.on_failure(now);
  for (int i = 0; i < 80; ++i) {  // the wait doubles far past any real cooldown
    ASSERT_GT(cb.retry_at(), now);
    now = cb.retry_at();
    ASSERT_TRUE(cb.allow(now));
    cb.on_failure(now);
    if (cb.retry_at() == SteadyClock::time_point::max()) break;
  }
  EXPECT_GT(cb.retry_at(), now);
  EXPECT_FALSE(cb.allow(now));
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
