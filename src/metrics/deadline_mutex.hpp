// A mutex whose lock can give up at a deadline, built from std::mutex and a
// condition variable. std::timed_mutex would do, but glibc implements its
// try_lock_until with pthread_mutex_clocklock, which ThreadSanitizer does not
// intercept (it then reports every unlock as an unlock of an unlocked mutex).
//
// Meets BasicLockable (usable with std::unique_lock and std::lock_guard).
// Thread-safety: like any mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace emp::telemetry::metrics {

class DeadlineMutex {
 public:
  void lock() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !held_; });
    held_ = true;
  }
  template <typename Clock, typename Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return !held_; })) return false;
    held_ = true;
    return true;
  }
  void unlock() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
};

}  // namespace emp::telemetry::metrics
