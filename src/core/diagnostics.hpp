// Internal problems of the telemetry client itself (a log directory that
// cannot be written, a collector that refuses data...) go here, never to the
// application as exceptions. Each distinct problem key is printed to stderr
// once, the latest message is kept for health(), and an optional callback
// receives every report. Messages must already be free of secrets.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace emp::telemetry::core {

class Diagnostics {
 public:
  using Callback = std::function<void(std::string_view key, std::string_view message)>;

  // `key` groups repeats of one problem (e.g. "io_error:/var/log/x.log"):
  // stderr sees the first of each key; the count and last message are kept.
  void report(std::string_view key, std::string message) noexcept;
  // Printed once per process for a given text (used for start-up notices),
  // unless notices are off.
  static void notice_once(const std::string& message) noexcept;
  // OTEL_LOG_LEVEL: notices are informational, printed at info and debug;
  // at warn and error only problems (report()) reach stderr. Process-wide,
  // as stderr is; the last client created sets it.
  static void set_notices(bool enabled) noexcept;

  void set_callback(Callback cb);
  void set_stderr(bool enabled) noexcept { stderr_.store(enabled, std::memory_order_relaxed); }
  std::string last_error() const;
  std::uint64_t reports() const noexcept { return reports_.load(std::memory_order_relaxed); }
  // Held across fork() so the child never inherits it locked by another thread.
  void lock_for_fork() noexcept { mu_.lock(); }
  void unlock_after_fork() noexcept { mu_.unlock(); }

 private:
  mutable std::mutex mu_;
  std::set<std::string, std::less<>> seen_;
  std::string last_;
  Callback callback_;
  std::atomic<std::uint64_t> reports_{0};
  std::atomic<bool> stderr_{true};
};

}  // namespace emp::telemetry::core
