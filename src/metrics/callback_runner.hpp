// Runs observable-instrument callbacks on a helper thread so the collecting
// thread can stop waiting for one that blocks.
//
// run() hands a job to the helper and waits until the callback returns or a
// deadline (the callback timeout) passes. A callback that throws is caught
// on the helper and reported as kThrew. A callback still running at the
// deadline is abandoned: its observation buffer is closed (later
// observations are ignored), the helper thread is detached and left to
// finish on its own, and the next job gets a fresh helper. The instrument's
// `busy` flag stays set until the abandoned call returns, so the same
// callback is never run twice at once; the caller skips busy instruments.
//
// Thread-safety: run() is called by one thread at a time (collections are
// serialized); the destructor joins an idle helper and never waits for an
// abandoned one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "emp/telemetry/metrics.hpp"
#include "metrics/attributes.hpp"

namespace emp::telemetry::metrics {

// Where one callback invocation's observations go. Owned jointly by the
// collecting thread and the helper running the callback.
struct ObservationBuffer {
  struct Observation {
    AttributeSet attributes;
    Value value;
  };
  static constexpr std::size_t kMaxObservations = 65536;

  std::mutex mu;
  bool closed = false;
  std::vector<Observation> items;  // mu
  std::uint64_t over_limit = 0;    // mu: observations past kMaxObservations
};

struct CallbackJob {
  std::shared_ptr<const ObservableCallback> callback;
  std::shared_ptr<ObservationBuffer> buffer;
  std::shared_ptr<std::atomic<bool>> busy;  // the instrument's "a call is running"

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // mu
  bool threw = false;
  std::string error;
};

class CallbackRunner {
 public:
  enum class Outcome : std::uint8_t { kDone, kThrew, kTimedOut, kCancelled };
  struct Result {
    Outcome outcome = Outcome::kDone;
    std::string error;  // what() of the exception, for kThrew
  };

  CallbackRunner() = default;
  ~CallbackRunner();
  CallbackRunner(const CallbackRunner&) = delete;
  CallbackRunner& operator=(const CallbackRunner&) = delete;

  // Runs the job's callback on the helper and waits until it returns,
  // `deadline` passes or `*cancel` becomes true (checked every 20 ms).
  Result run(const std::shared_ptr<CallbackJob>& job,
             std::chrono::steady_clock::time_point deadline,
             const std::atomic<bool>* cancel = nullptr);
  // In a forked child: the helper thread does not exist there; forget it
  // (no join, no detach) and start a new one at the next run().
  void forget_after_fork() noexcept;
  // Helpers abandoned so far (each still running a blocked callback or finished).
  std::uint64_t abandoned() const noexcept { return abandoned_; }

 private:
  struct Helper {
    std::mutex mu;
    std::condition_variable cv;
    std::shared_ptr<CallbackJob> job;  // mu
    bool stop = false;                 // mu
    bool abandoned = false;            // mu
  };
  static void loop(std::shared_ptr<Helper> helper) noexcept;
  bool ensure_helper();

  std::shared_ptr<Helper> helper_;
  std::thread thread_;
  std::uint64_t abandoned_ = 0;
};

}  // namespace emp::telemetry::metrics
