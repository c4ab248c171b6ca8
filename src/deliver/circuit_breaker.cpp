#include "deliver/circuit_breaker.hpp"

namespace emp::telemetry::deliver {
namespace {

// Compared in milliseconds so that no cooldown, however large, overflows.
std::chrono::milliseconds since(SteadyClock::time_point then, SteadyClock::time_point now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - then);
}

}  // namespace

bool CircuitBreaker::allow(SteadyClock::time_point now) noexcept {
  switch (state()) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (since(opened_at_, now) < settings_.cooldown) return false;
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
  state_.store(State::kClosed, std::memory_order_release);
}

void CircuitBreaker::on_failure(SteadyClock::time_point now) noexcept {
  switch (state()) {
    case State::kClosed:
      if (failures_ < UINT32_MAX) ++failures_;
      if (settings_.failure_threshold > 0 && failures_ >= settings_.failure_threshold) open(now);
      return;
    case State::kHalfOpen:
      open(now);
      return;
    case State::kOpen:
      opened_at_ = now;
      return;
  }
}

void CircuitBreaker::open(SteadyClock::time_point now) noexcept {
  opened_at_ = now;
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
