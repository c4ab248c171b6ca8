// Clock reads used on the application's threads. One CLOCK_REALTIME read per
// record; formatting happens later, on the background thread.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace emp::telemetry::core {

inline std::int64_t now_unix_nano() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

using SteadyClock = std::chrono::steady_clock;

}  // namespace emp::telemetry::core
