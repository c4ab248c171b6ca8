// Sentry's rate limits as a client must honour them: the X-Sentry-Rate-Limits
// answer header, parsed, and the per-category "not before" times it sets.
//
// Header syntax (https://develop.sentry.dev/sdk/expected-features/rate-limiting/):
//   X-Sentry-Rate-Limits: <retry_after>:<categories>:<scope>[:<reason_code>...], ...
// retry_after is seconds (a decimal number), categories are ';'-separated and
// an empty list means every category; scope and reason are informative. A 429
// without the header means "everything, for Retry-After seconds (else 60)".
// Unknown categories are kept as written: a later client knows them, this one
// only compares names.
//
// Thread-safety: parse_rate_limits is pure. RateLimits is used by one thread
// (the destination's delivery thread).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emp::telemetry::sentry {

struct RateLimit {
  std::chrono::milliseconds retry_after{0};
  std::vector<std::string> categories;  // lowercase; empty = all categories
  std::string reason;                   // reason code, "" when absent
};

// Parses one header value. Malformed members (a retry_after that is not a
// non-negative number) are skipped; the rest still apply. Each retry_after is
// capped at `cap`.
std::vector<RateLimit> parse_rate_limits(std::string_view header,
                                         std::chrono::seconds cap = std::chrono::hours(1));

class RateLimits {
 public:
  using Clock = std::chrono::steady_clock;

  // Applies an answer: the header when present; else, for a 429, Retry-After
  // (`retry_after`, nullopt when absent: 60 s) for every category.
  void update(long status, const std::optional<std::string>& header,
              std::optional<std::chrono::milliseconds> retry_after, Clock::time_point now);
  // True while `category` may not be sent.
  bool limited(std::string_view category, Clock::time_point now) const;
  // When `category` may be sent again (now or earlier when not limited).
  Clock::time_point until(std::string_view category) const;

 private:
  Clock::time_point all_until_{};
  std::vector<std::pair<std::string, Clock::time_point>> by_category_;
};

}  // namespace emp::telemetry::sentry
