// Retry policy: the full-jitter window (both ends reachable, never exceeded,
// spread over the window), exponential growth up to the cap, Retry-After
// dominance and its cap, no retry for non-retryable outcomes, exhaustion
// after the elapsed-time budget, determinism for a seed, and reset().
#include "deliver/retry.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

namespace emp::telemetry::deliver {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

DeliveryResult retryable(std::optional<milliseconds> retry_after = std::nullopt) {
  DeliveryResult r;
  r.outcome = Outcome::kRetryable;
  r.retry_after = retry_after;
  return r;
}

RetrySettings settings(milliseconds initial, double multiplier, milliseconds max_interval,
                       milliseconds max_elapsed) {
  RetrySettings s;
  s.initial_interval = initial;
  s.multiplier = multiplier;
  s.max_interval = max_interval;
  s.max_elapsed = max_elapsed;
  return s;
}

TEST(BackoffBound, GrowsByTheMultiplierUntilTheCap) {
  const RetrySettings s = settings(1000ms, 1.5, 30000ms, 300000ms);
  EXPECT_EQ(backoff_bound(s, 0), 1000ms);
  EXPECT_EQ(backoff_bound(s, 1), 1500ms);
  EXPECT_EQ(backoff_bound(s, 2), 2250ms);
  EXPECT_EQ(backoff_bound(s, 3), 3375ms);
  // 1000 * 1.5^8 = 25628; 1.5^9 = 38443 > 30000.
  EXPECT_EQ(backoff_bound(s, 8), 25628ms);
  EXPECT_EQ(backoff_bound(s, 9), 30000ms);
  EXPECT_EQ(backoff_bound(s, 1000), 30000ms);
  EXPECT_EQ(backoff_bound(s, UINT32_MAX), 30000ms);  // pow() overflows to inf: still the cap
  milliseconds previous{0};
  for (std::uint32_t a = 0; a < 64; ++a) {
    EXPECT_GE(backoff_bound(s, a), previous) << a;
    previous = backoff_bound(s, a);
  }
}

TEST(BackoffBound, OddSettingsStaySane) {
  // A multiplier below 1 (or NaN) would shrink the backoff: treated as 1.
  EXPECT_EQ(backoff_bound(settings(800ms, 0.5, 30s, 0ms), 5), 800ms);
  EXPECT_EQ(backoff_bound(settings(800ms, std::nan(""), 30s, 0ms), 5), 800ms);
  // max_interval below initial: the cap wins.
  EXPECT_EQ(backoff_bound(settings(5s, 2.0, 1s, 0ms), 0), 1000ms);
  EXPECT_EQ(backoff_bound(settings(-5s, 2.0, 1s, 0ms), 3), 0ms);
}

TEST(FullJitter, MapsRandomBitsOntoTheClosedWindow) {
  EXPECT_EQ(full_jitter(1000ms, 0), 0ms);
  EXPECT_EQ(full_jitter(1000ms, UINT64_MAX), 1000ms);
  EXPECT_EQ(full_jitter(1000ms, UINT64_MAX / 2), 500ms);
  EXPECT_EQ(full_jitter(0ms, UINT64_MAX), 0ms);
  EXPECT_EQ(full_jitter(-5ms, UINT64_MAX), 0ms);
  EXPECT_EQ(full_jitter(milliseconds::max(), UINT64_MAX), milliseconds::max());
}

TEST(RetryState, JitterStaysInTheWindowAndSpreadsOverIt) {
  const RetrySettings s = settings(1000ms, 1.5, 30000ms, 0ms);  // no elapsed limit
  RetryState state(s, 12345);
  const auto now = SteadyClock::now();
  for (std::uint32_t attempt = 0; attempt < 12; ++attempt) {
    const milliseconds bound = backoff_bound(s, attempt);
    // Samples for this attempt number: a fresh state per sample, advanced
    // to `attempt`, each with its own seed.
    constexpr int kSamples = 2000;
    milliseconds lo = milliseconds::max(), hi{-1};
    std::int64_t sum = 0;
    int low_quarter = 0, high_quarter = 0;
    for (int i = 0; i < kSamples; ++i) {
      RetryState st(s,
                    static_cast<std::uint64_t>(attempt) * 1000003u + static_cast<std::uint64_t>(i));
      std::optional<milliseconds> d;
      for (std::uint32_t k = 0; k <= attempt; ++k) d = st.next_delay(retryable(), now);
      ASSERT_TRUE(d.has_value());
      ASSERT_GE(*d, 0ms);
      ASSERT_LE(*d, bound) << "attempt " << attempt;
      lo = std::min(lo, *d);
      hi = std::max(hi, *d);
      sum += d->count();
      if (*d < bound / 4) ++low_quarter;
      if (*d > bound * 3 / 4) ++high_quarter;
    }
    // Full jitter: both ends of the window are used, the mean is near half.
    EXPECT_LT(lo, bound / 20) << attempt;
    EXPECT_GT(hi, bound * 19 / 20) << attempt;
    const double mean = static_cast<double>(sum) / kSamples;
    EXPECT_NEAR(mean, bound.count() / 2.0, bound.count() * 0.05) << attempt;
    EXPECT_GT(low_quarter, kSamples / 6) << attempt;
    EXPECT_GT(high_quarter, kSamples / 6) << attempt;
  }
  (void)state;
}

TEST(RetryState, SameSeedSameDelaysDifferentSeedDifferentDelays) {
  const RetrySettings s = settings(1000ms, 1.5, 30000ms, 0ms);
  const auto now = SteadyClock::now();
  RetryState a(s, 7), b(s, 7), c(s, 8);
  std::vector<milliseconds> da, db, dc;
  for (int i = 0; i < 20; ++i) {
    da.push_back(*a.next_delay(retryable(), now));
    db.push_back(*b.next_delay(retryable(), now));
    dc.push_back(*c.next_delay(retryable(), now));
  }
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
  EXPECT_EQ(a.attempts(), 20u);
}

TEST(RetryState, RetryAfterDominatesWhenLongerAndIsCapped) {
  RetrySettings s = settings(100ms, 2.0, 1000ms, 0ms);
  s.retry_after_max = 60s;
  const auto now = SteadyClock::now();
  RetryState st(s, 1);
  // The backoff is at most 100 ms here: Retry-After 5 s wins.
  EXPECT_EQ(st.next_delay(retryable(5s), now), 5000ms);
  // Above the cap: the cap.
  EXPECT_EQ(st.next_delay(retryable(600s), now), 60000ms);
  // Shorter than the backoff: the backoff (which is at least the Retry-After).
  for (int i = 0; i < 20; ++i) {
    const auto d = st.next_delay(retryable(1ms), now);
    ASSERT_TRUE(d);
    EXPECT_GE(*d, 1ms);
    EXPECT_LE(*d, 1000ms);
  }
  // A cap of 0 ignores Retry-After.
  s.retry_after_max = 0ms;
  RetryState ignoring(s, 1);
  const auto d = ignoring.next_delay(retryable(5s), now);
  ASSERT_TRUE(d);
  EXPECT_LE(*d, 100ms);
}

TEST(RetryState, NeverRetriesWhatMustNotBeRetried) {
  const RetrySettings s = settings(100ms, 2.0, 1000ms, 10s);
  const auto now = SteadyClock::now();
  for (Outcome o : {Outcome::kDelivered, Outcome::kPartial, Outcome::kPermanent}) {
    RetryState st(s, 3);
    DeliveryResult r;
    r.outcome = o;
    r.retry_after = 1s;  // ignored for these outcomes
    EXPECT_FALSE(st.next_delay(r, now).has_value()) << static_cast<int>(o);
    EXPECT_EQ(st.attempts(), 0u);
    EXPECT_FALSE(st.exhausted());
  }
  RetrySettings off = s;
  off.enabled = false;
  RetryState disabled(off, 3);
  EXPECT_FALSE(disabled.next_delay(retryable(), now).has_value());
}

TEST(RetryState, ExhaustsWhenTheNextWaitWouldPassTheElapsedBudget) {
  // Retry-After makes every delay exactly 4 s: with a 10 s budget, retries
  // at 0+4 and 4+4 fit, 8+4 = 12 s does not.
  RetrySettings s = settings(1ms, 1.0, 1ms, 10s);
  s.retry_after_max = 60s;
  const auto t0 = SteadyClock::now();
  RetryState st(s, 9);
  auto t = t0;
  EXPECT_EQ(st.next_delay(retryable(4s), t), 4000ms);
  EXPECT_EQ(st.first_failure(), t0);
  t += 4s;
  EXPECT_EQ(st.next_delay(retryable(4s), t), 4000ms);
  t += 4s;
  EXPECT_FALSE(st.next_delay(retryable(4s), t).has_value());
  EXPECT_TRUE(st.exhausted());
  EXPECT_EQ(st.attempts(), 3u);
  // Stays exhausted, even for a short wait, until reset().
  EXPECT_FALSE(st.next_delay(retryable(), t).has_value());
  st.reset();
  EXPECT_FALSE(st.exhausted());
  EXPECT_EQ(st.attempts(), 0u);
  EXPECT_FALSE(st.first_failure().has_value());
  EXPECT_TRUE(st.next_delay(retryable(), t + 1h).has_value());
  EXPECT_EQ(st.first_failure(), t + 1h);
}

TEST(RetryState, ExhaustionWithBackoffOnlyAndNoLimit) {
  // Default settings: the budget ends within 300 s of simulated time.
  const RetrySettings s;
  EXPECT_EQ(s.initial_interval, 1000ms);
  EXPECT_EQ(s.max_elapsed, 300000ms);
  RetryState st(s, 42);
  auto t = SteadyClock::now();
  const auto t0 = t;
  int retries = 0;
  for (; retries < 10000; ++retries) {
    const auto d = st.next_delay(retryable(), t);
    if (!d) break;
    t += *d;
  }
  EXPECT_TRUE(st.exhausted());
  EXPECT_LE(t - t0, 300s);
  EXPECT_GT(retries, 10);  // at least a dozen retries fit into five minutes
  // max_elapsed = 0: never exhausted.
  RetrySettings unlimited = s;
  unlimited.max_elapsed = 0ms;
  RetryState forever(unlimited, 42);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(forever.next_delay(retryable(), t0 + std::chrono::hours(i)).has_value());
  }
}

}  // namespace
}  // namespace emp::telemetry::deliver
