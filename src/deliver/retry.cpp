#include "deliver/retry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace emp::telemetry::deliver {

using std::chrono::milliseconds;

milliseconds backoff_bound(const RetrySettings& settings, std::uint32_t attempt) noexcept {
  const double initial =
      static_cast<double>(std::max<std::int64_t>(0, settings.initial_interval.count()));
  const double max_interval =
      static_cast<double>(std::max<std::int64_t>(0, settings.max_interval.count()));
  // NaN and values below 1 would shrink the backoff: treat them as 1.
  const double multiplier = settings.multiplier >= 1.0 ? settings.multiplier : 1.0;
  const double grown = initial * std::pow(multiplier, static_cast<double>(attempt));
  // Also catches +inf from a large attempt count.
  if (!(grown < max_interval)) return milliseconds(static_cast<std::int64_t>(max_interval));
  return milliseconds(static_cast<std::int64_t>(grown));
}

milliseconds full_jitter(milliseconds bound, std::uint64_t random_bits) noexcept {
  if (bound.count() <= 0) return milliseconds(0);
  // (bits * (bound + 1)) >> 64 is uniform over [0, bound] up to a bias of
  // bound / 2^64, and reaches both ends.
  const auto span = static_cast<unsigned __int128>(bound.count()) + 1;
  const auto scaled = (static_cast<unsigned __int128>(random_bits) * span) >> 64;
  return milliseconds(static_cast<std::int64_t>(scaled));
}

namespace {

std::uint64_t os_seed() noexcept {
  try {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
  } catch (...) {
    // No entropy source: the clock still separates processes well enough
    // for jitter, which needs spread, not secrecy.
    return static_cast<std::uint64_t>(SteadyClock::now().time_since_epoch().count()) ^
           reinterpret_cast<std::uintptr_t>(&os_seed);
  }
}

}  // namespace

RetryState::RetryState(const RetrySettings& settings) noexcept : RetryState(settings, os_seed()) {}

RetryState::RetryState(const RetrySettings& settings, std::uint64_t seed) noexcept
    : settings_(settings), rng_(seed) {}

std::uint64_t RetryState::next_random() noexcept {
  // splitmix64: tiny state, full period, good enough to spread retries.
  std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::optional<milliseconds> RetryState::next_delay(const DeliveryResult& result,
                                                   SteadyClock::time_point now) noexcept {
  if (result.outcome != Outcome::kRetryable || !settings_.enabled) return std::nullopt;
  if (exhausted_) return std::nullopt;
  if (!first_failure_) first_failure_ = now;
  const std::uint32_t attempt = attempts_;
  if (attempts_ < UINT32_MAX) ++attempts_;

  milliseconds delay = full_jitter(backoff_bound(settings_, attempt), next_random());
  if (result.retry_after && settings_.retry_after_max.count() > 0) {
    const milliseconds asked =
        std::clamp(*result.retry_after, milliseconds(0), settings_.retry_after_max);
    delay = std::max(delay, asked);
  }
  if (settings_.max_elapsed.count() > 0) {
    const auto elapsed = std::chrono::duration_cast<milliseconds>(now - *first_failure_);
    // Compared as "delay > budget left" so that no sum can overflow.
    if (elapsed >= settings_.max_elapsed || delay > settings_.max_elapsed - elapsed) {
      exhausted_ = true;
      return std::nullopt;
    }
  }
  return delay;
}

void RetryState::reset() noexcept {
  attempts_ = 0;
  first_failure_.reset();
  exhausted_ = false;
}

}  // namespace emp::telemetry::deliver
