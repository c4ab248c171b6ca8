// X-Sentry-Rate-Limits parsing and the per-category limits; see rate_limits.hpp.
#include "sentry/rate_limits.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/strings.hpp"

namespace emp::telemetry::sentry {

namespace {

// Splits on `sep`, keeping empty fields.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const std::size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

std::optional<double> parse_seconds(std::string_view s) {
  s = core::trim(s);
  if (s.empty() || s.size() > 32) return std::nullopt;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.')) return std::nullopt;
  const std::string text(s);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

}  // namespace

std::vector<RateLimit> parse_rate_limits(std::string_view header, std::chrono::seconds cap) {
  std::vector<RateLimit> out;
  for (std::string_view member : split(header, ',')) {
    member = core::trim(member);
    if (member.empty()) continue;
    const std::vector<std::string_view> fields = split(member, ':');
    const std::optional<double> seconds = parse_seconds(fields[0]);
    if (!seconds) continue;
    RateLimit limit;
    const double capped = std::min(*seconds, static_cast<double>(cap.count()));
    limit.retry_after = std::chrono::milliseconds(static_cast<std::int64_t>(capped * 1000.0));
    if (fields.size() > 1) {
      for (std::string_view c : split(fields[1], ';')) {
        c = core::trim(c);
        if (!c.empty()) limit.categories.push_back(core::to_lower(c));
      }
    }
    if (fields.size() > 3) limit.reason = std::string(core::trim(fields[3]));
    out.push_back(std::move(limit));
  }
  return out;
}

void RateLimits::update(long status, const std::optional<std::string>& header,
                        std::optional<std::chrono::milliseconds> retry_after,
                        Clock::time_point now) {
  if (header) {
    for (const RateLimit& l : parse_rate_limits(*header)) {
      const Clock::time_point until = now + l.retry_after;
      if (l.categories.empty()) {
        all_until_ = std::max(all_until_, until);
        continue;
      }
      for (const std::string& c : l.categories) {
        auto it = std::find_if(by_category_.begin(), by_category_.end(),
                               [&](const auto& e) { return e.first == c; });
        if (it == by_category_.end())
          by_category_.emplace_back(c, until);
        else
          it->second = std::max(it->second, until);
      }
    }
    return;
  }
  if (status == 429)
    all_until_ = std::max(all_until_, now + retry_after.value_or(std::chrono::seconds(60)));
}

RateLimits::Clock::time_point RateLimits::until(std::string_view category) const {
  Clock::time_point t = all_until_;
  for (const auto& [name, when] : by_category_)
    if (name == category) t = std::max(t, when);
  return t;
}

bool RateLimits::limited(std::string_view category, Clock::time_point now) const {
  return until(category) > now;
}

}  // namespace emp::telemetry::sentry
