// The wall clock of the application's threads (core/clock.hpp): with the TSC
// mapping in use, every reading lies between two CLOCK_REALTIME reads taken
// around it, give or take what one calibration window can be off by; the
// mapping is published only where the kernel itself keeps time with the TSC;
// readers racing a recalibrating thread never see a torn mapping; a clock
// step is noticed and followed; and use_system_clock() turns the TSC path
// off for good.
#include "core/clock.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <chrono>
#include <thread>
#include <vector>

namespace emp::telemetry::core {
namespace {

using namespace std::chrono_literals;

// Readings bracketed by CLOCK_REALTIME reads, with `slack_ns` either side.
void expect_bracketed(int n, std::int64_t slack_ns) {
  std::int64_t worst = 0;
  for (int i = 0; i < n; ++i) {
    const std::int64_t a = system_unix_nano();
    const std::int64_t b = now_unix_nano();
    const std::int64_t c = system_unix_nano();
    if (b < a) worst = std::max(worst, a - b);
    if (b > c) worst = std::max(worst, b - c);
  }
  EXPECT_LE(worst, slack_ns) << "a reading left its CLOCK_REALTIME bracket by " << worst << " ns";
  std::printf("%d readings: farthest outside the bracket %lld ns\n", n, static_cast<long long>(worst));
}

TEST(Clock, FollowsTheSystemClock) {
  expect_bracketed(1000, 0);  // not calibrated yet: it is the system clock
  recalibrate_clock();
  std::this_thread::sleep_for(15ms);
  recalibrate_clock();
#if defined(__x86_64__)
  EXPECT_EQ(clock_detail::g_tsc.enabled.load(), clock_detail::kernel_uses_tsc());
#else
  EXPECT_FALSE(clock_detail::g_tsc.enabled.load());
#endif
  // A 15 ms window and a bracket of tens of ns: microseconds at worst.
  expect_bracketed(100000, 50'000);
  // Later refreshes keep it there.
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(20ms);
    recalibrate_clock();
    expect_bracketed(20000, 50'000);
  }
}

TEST(Clock, ReadersRacingRecalibrationStayBracketed) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) {
      recalibrate_clock();
      std::this_thread::sleep_for(1ms);
    }
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) readers.emplace_back([] { expect_bracketed(200000, 50'000); });
  for (auto& r : readers) r.join();
  stop = true;
  writer.join();
}

std::atomic<std::int64_t> g_offset{0};
std::int64_t offset_clock() noexcept { return system_unix_nano() + g_offset.load(); }

// The system clock set 5 s ahead: the next calibration sees the step and
// readings go back to clock_gettime at once; once a new rate is measured,
// the mapping follows the new time.
TEST(Clock, AClockStepIsFollowed) {
#if defined(__x86_64__)
  if (!clock_detail::kernel_uses_tsc()) GTEST_SKIP() << "the kernel's clocksource is not the TSC";
  recalibrate_clock(offset_clock);
  std::this_thread::sleep_for(15ms);
  recalibrate_clock(offset_clock);
  ASSERT_TRUE(clock_detail::g_tsc.enabled.load());
  g_offset = 5'000'000'000;
  recalibrate_clock(offset_clock);
  EXPECT_FALSE(clock_detail::g_tsc.enabled.load());
  expect_bracketed(1000, 0);
  std::this_thread::sleep_for(15ms);
  recalibrate_clock(offset_clock);
  ASSERT_TRUE(clock_detail::g_tsc.enabled.load());
  const std::int64_t a = offset_clock();
  const std::int64_t b = now_unix_nano();
  const std::int64_t c = offset_clock();
  EXPECT_GE(b, a - 50'000);
  EXPECT_LE(b, c + 50'000);
  // And back.
  g_offset = 0;
  recalibrate_clock();
  EXPECT_FALSE(clock_detail::g_tsc.enabled.load());
  std::this_thread::sleep_for(15ms);
  recalibrate_clock();
  expect_bracketed(10000, 50'000);
#else
  GTEST_SKIP() << "no TSC clock on this architecture";
#endif
}

// Last in this binary: the switch is for the rest of the process.
TEST(Clock, SystemClockOnRequestStaysOn) {
  recalibrate_clock();
  use_system_clock();
  EXPECT_FALSE(clock_detail::g_tsc.enabled.load());
  std::this_thread::sleep_for(15ms);
  recalibrate_clock();
  EXPECT_FALSE(clock_detail::g_tsc.enabled.load());
  expect_bracketed(1000, 0);
}

}  // namespace
}  // namespace emp::telemetry::core
