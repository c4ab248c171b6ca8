// Fuzzes the X-Sentry-Rate-Limits parser and the limits it sets with
// arbitrary header values (the server's bytes). Properties: nothing crashes;
// every limit is within the cap; categories are non-empty and lowercase; a
// limit applied is in force just before it ends and over just after.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sentry/rate_limits.hpp"

using namespace emp::telemetry;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto cap = std::chrono::seconds(3600);
  const auto limits = sentry::parse_rate_limits(input, cap);
  for (const auto& l : limits) {
    check(l.retry_after >= std::chrono::milliseconds(0) && l.retry_after <= cap);
    for (const std::string& c : l.categories) {
      check(!c.empty());
      for (char ch : c) check(!(ch >= 'A' && ch <= 'Z'));
    }
  }
  sentry::RateLimits rl;
  const auto now = sentry::RateLimits::Clock::now();
  rl.update(429, std::string(input), std::nullopt, now);
  for (const auto& l : limits) {
    const std::string category = l.categories.empty() ? "error" : l.categories[0];
    if (l.retry_after >= std::chrono::milliseconds(2))
      check(rl.limited(category, now + l.retry_after - std::chrono::milliseconds(1)));
  }
  check(!rl.limited("error", now + cap + std::chrono::seconds(1)));
  return 0;
}
