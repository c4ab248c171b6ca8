#include "deliver/circuit_breaker.hpp"

#include <algorithm>
#include <random>

namespace emp::telemetry::deliver {
namespace {

// Compared in milliseconds so that no cooldown, however large, overflows.
std::chrono::milliseconds since(SteadyClock::time_point then, SteadyClock::time_point now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - then);
}

std::uint64_t splitmix(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

CircuitBreaker::CircuitBreaker(const CircuitSettings& settings, std::uint64_t seed) noexcept
    : settings_(settings), rng_(seed) {
  if (rng_ == 0) {
    try {
      std::random_device rd;
      rng_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
      rng_ = static_cast<std::uint64_t>(SteadyClock::now().time_since_epoch().count());
    }
  }
}

bool CircuitBreaker::allow(SteadyClock::time_point now) noexcept {
  switch (state()) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (now < probe_at_) return false;
      probe_started_ = now;
      state_.store(State::kHalfOpen, std::memory_order_release);
      return true;
    case State::kHalfOpen:
      // One probe at a time. A probe whose outcome was never reported (cut
      // by shutdown) would otherwise hold the breaker half-open for good:
      // after another cooldown a new probe is allowed.
      if (since(probe_started_, now) < settings_.cooldown) return false;
      probe_started_ = now;
      return true;
  }
  return true;
}

void CircuitBreaker::on_success() noexcept {
  failures_ = 0;
  failed_probes_ = 0;
  state_.store(State::kClosed, std::memory_order_release);
}

void CircuitBreaker::on_failure(SteadyClock::time_point now) noexcept {
  switch (state()) {
    case State::kClosed:
      if (failures_ < UINT32_MAX) ++failures_;
      if (settings_.failure_threshold > 0 && failures_ >= settings_.failure_threshold) open(now);
      return;
    case State::kHalfOpen:
      if (failed_probes_ < 32) ++failed_probes_;
      open(now);
      return;
    case State::kOpen:
      // An attempt made before the breaker opened: wait from now on.
      schedule_probe(now);
      return;
  }
}

void CircuitBreaker::schedule_probe(SteadyClock::time_point now) noexcept {
  opened_at_ = now;
  const auto cap = std::max(settings_.cooldown, std::chrono::milliseconds(1));
  auto bound = std::min(cap, kFirstProbe);
  for (std::uint32_t i = 0; i < failed_probes_ && bound < cap; ++i)
    bound = bound > cap / 2 ? cap : bound * 2;
  // Jitter in [bound/2, bound]: never a zero wait, never two clients in step.
  const auto half = bound / 2;
  const auto span = static_cast<std::uint64_t>((bound - half).count()) + 1;
  const auto wait = half + std::chrono::milliseconds(splitmix(rng_) % span);
  // Saturate instead of overflowing the clock with a huge cooldown.
  const auto room =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::time_point::max() - now);
  probe_at_ = wait < room ? now + wait : SteadyClock::time_point::max();
}

void CircuitBreaker::open(SteadyClock::time_point now) noexcept {
  schedule_probe(now);
  state_.store(State::kOpen, std::memory_order_release);
  times_opened_.fetch_add(1, std::memory_order_relaxed);
}

std::string_view to_string(CircuitBreaker::State state) noexcept {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

}  // namespace emp::telemetry::deliver
