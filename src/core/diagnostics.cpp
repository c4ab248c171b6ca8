#include "core/diagnostics.hpp"

#include <cstdio>

namespace emp::telemetry::core {

void Diagnostics::report(std::string_view key, std::string message) noexcept {
  try {
    reports_.fetch_add(1, std::memory_order_relaxed);
    Callback cb;
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = message;
      if (seen_.size() < 1024 && seen_.find(key) == seen_.end()) {
        seen_.emplace(key);
        first = true;
      }
      cb = callback_;
    }
    if (first && stderr_.load(std::memory_order_relaxed)) {
      std::fprintf(stderr, "emp-telemetry: %s\n", message.c_str());
    }
    if (cb) cb(key, message);
  } catch (...) {
    // Diagnostics must never fail the caller; losing one report is acceptable.
  }
}

namespace {
std::atomic<bool> g_notices{true};
}  // namespace

void Diagnostics::set_notices(bool enabled) noexcept {
  g_notices.store(enabled, std::memory_order_relaxed);
}

void Diagnostics::notice_once(const std::string& message) noexcept {
  if (!g_notices.load(std::memory_order_relaxed)) return;
  static std::mutex mu;
  static std::set<std::string>* seen =
      new std::set<std::string>();  // never destroyed: usable at exit
  try {
    std::lock_guard<std::mutex> lock(mu);
    if (seen->insert(message).second)
      std::fprintf(stderr, "emp-telemetry: note: %s\n", message.c_str());
  } catch (...) {
  }
}

void Diagnostics::set_callback(Callback cb) {
  std::lock_guard<std::mutex> lock(mu_);
  callback_ = std::move(cb);
}

std::string Diagnostics::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

}  // namespace emp::telemetry::core
