// Clock reads used on the application's threads: one wall-clock read per
// record; formatting happens later, on the background thread.
//
// clock_gettime(CLOCK_REALTIME) costs about 25 ns through the vDSO, a third
// of a log call, mostly because the vDSO orders its TSC read with a fence.
// Where the kernel itself keeps time with the CPU's time-stamp counter (its
// clocksource is "tsc": invariant and synchronised across cores, checked by
// the kernel at boot), now_unix_nano() reads the counter without a fence and
// converts it with a mapping the background threads refresh against
// CLOCK_REALTIME on every tick (recalibrate_clock()), so a timestamp stays
// within a few microseconds of the system clock and follows its steps and
// NTP's slewing within one tick. Until the first calibration (about 10 ms
// after start), elsewhere than x86-64, with another clocksource, or when a
// client was made with EMP_CLOCK_TSC=false, it is clock_gettime. The same
// idea as the TSC clocks of low-latency loggers such as quill.
#pragma once

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace emp::telemetry::core {

inline std::int64_t system_unix_nano() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace clock_detail {

// The published TSC -> Unix time mapping, behind a sequence lock: `seq` is
// odd while the one writer (under TscCalibration::mu) changes it.
// ns = base_ns + ((tsc - base_tsc) * mult) >> 32.
struct alignas(64) TscMapping {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<bool> enabled{false};
  std::atomic<std::uint64_t> base_tsc{0};
  std::atomic<std::int64_t> base_ns{0};
  std::atomic<std::uint64_t> mult{0};
};
inline TscMapping g_tsc;

// Calibration state, touched only under `mu` (a leaf lock, also taken
// around fork() by the pipeline so that a child never inherits it locked).
struct TscCalibration {
  std::mutex mu;
  int usable = -1;  // -1: not checked yet; 0: never use the TSC; 1: may
  bool anchored = false;
  std::uint64_t anchor_tsc = 0;
  std::int64_t anchor_ns = 0;
};
inline TscCalibration& calibration() noexcept {
  static TscCalibration c;
  return c;
}

// True when the kernel's current clocksource is the TSC.
inline bool kernel_uses_tsc() noexcept {
  const int fd = ::open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                        O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[32] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n >= 3 && std::memcmp(buf, "tsc", 3) == 0 && (n == 3 || buf[3] == '\n');
}

// The mapping applied to a counter reading. Signed: a core may read a
// tick or two before the base was taken.
inline std::int64_t ticks_to_ns(std::uint64_t tsc, std::uint64_t base_tsc, std::int64_t base_ns,
                                std::uint64_t mult) noexcept {
  const auto ticks = static_cast<std::int64_t>(tsc - base_tsc);
  return base_ns +
         static_cast<std::int64_t>((static_cast<__int128>(ticks) * static_cast<__int128>(mult)) >> 32);
}

}  // namespace clock_detail

inline std::int64_t now_unix_nano() noexcept {
#if defined(__x86_64__)
  const auto& m = clock_detail::g_tsc;
  if (m.enabled.load(std::memory_order_relaxed)) [[likely]] {
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::uint32_t s0 = m.seq.load(std::memory_order_acquire);
      const std::uint64_t base_tsc = m.base_tsc.load(std::memory_order_relaxed);
      const std::int64_t base_ns = m.base_ns.load(std::memory_order_relaxed);
      const std::uint64_t mult = m.mult.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if ((s0 & 1) != 0 || m.seq.load(std::memory_order_relaxed) != s0) continue;
      return clock_detail::ticks_to_ns(__rdtsc(), base_tsc, base_ns, mult);
    }
  }
#endif
  return system_unix_nano();
}

// Stops the TSC path for the rest of the process (EMP_CLOCK_TSC=false).
inline void use_system_clock() noexcept {
  auto& c = clock_detail::calibration();
  std::lock_guard<std::mutex> lock(c.mu);
  c.usable = 0;
  clock_detail::g_tsc.enabled.store(false, std::memory_order_relaxed);
}

// Takes a (TSC, CLOCK_REALTIME) pair and, once the pairs span 10 ms or
// more, publishes the mapping: the rate from the oldest pair kept (at most a
// minute old, so that NTP's frequency corrections are followed), the base
// from the newest. A pair more than 1 ms from what the mapping predicts
// means the clock was set: readings go back to clock_gettime until a new
// rate is measured. Called by the background threads every 100 ms; cheap.
// `read_clock` is CLOCK_REALTIME except in tests.
inline void recalibrate_clock(std::int64_t (*read_clock)() noexcept = system_unix_nano) noexcept {
#if defined(__x86_64__)
  auto& c = clock_detail::calibration();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.usable < 0) c.usable = clock_detail::kernel_uses_tsc() ? 1 : 0;
  if (c.usable == 0) return;
  // The tightest of three bracketed reads: a preemption between the two
  // counter reads would otherwise skew the pair.
  std::uint64_t best_tsc = 0, best_span = ~std::uint64_t{0};
  std::int64_t best_ns = 0;
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t t0 = __rdtsc();
    const std::int64_t ns = read_clock();
    const std::uint64_t t1 = __rdtsc();
    if (t1 >= t0 && t1 - t0 < best_span) {
      best_span = t1 - t0;
      best_tsc = t0 + (t1 - t0) / 2;
      best_ns = ns;
    }
  }
  if (best_span == ~std::uint64_t{0}) return;
  auto& m = clock_detail::g_tsc;
  bool stepped = false;
  if (c.anchored && m.enabled.load(std::memory_order_relaxed)) {
    // What the published mapping says now, against the clock: more than
    // 1 ms apart means the clock was set (a step, not NTP's slewing).
    // (The only writer is this thread, under `mu`: no sequence check.)
    const std::int64_t predicted = clock_detail::ticks_to_ns(
        best_tsc, m.base_tsc.load(std::memory_order_relaxed),
        m.base_ns.load(std::memory_order_relaxed), m.mult.load(std::memory_order_relaxed));
    const std::int64_t off = predicted - best_ns;
    stepped = off > 1'000'000 || off < -1'000'000;
  }
  if (!c.anchored || stepped || best_tsc <= c.anchor_tsc || best_ns <= c.anchor_ns) {
    // First pair, or the clock was set: back to clock_gettime until a new
    // rate is measured from here.
    if (stepped) m.enabled.store(false, std::memory_order_relaxed);
    c.anchored = true;
    c.anchor_tsc = best_tsc;
    c.anchor_ns = best_ns;
    return;
  }
  const std::int64_t span_ns = best_ns - c.anchor_ns;
  if (span_ns < 10'000'000) return;
  const auto mult = static_cast<std::uint64_t>((static_cast<unsigned __int128>(span_ns) << 32) /
                                               (best_tsc - c.anchor_tsc));
  const std::uint32_t s = m.seq.load(std::memory_order_relaxed);
  m.seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  m.base_tsc.store(best_tsc, std::memory_order_relaxed);
  m.base_ns.store(best_ns, std::memory_order_relaxed);
  m.mult.store(mult, std::memory_order_relaxed);
  m.seq.store(s + 2, std::memory_order_release);
  m.enabled.store(mult != 0, std::memory_order_relaxed);
  if (span_ns > 60'000'000'000) {
    c.anchor_tsc = best_tsc;
    c.anchor_ns = best_ns;
  }
#endif
}

using SteadyClock = std::chrono::steady_clock;

}  // namespace emp::telemetry::core
