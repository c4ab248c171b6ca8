// The in-process side of the events track: subscribers and their dispatcher
// threads. Each subscription owns one thread and one bounded queue, so a
// handler that is slow or blocked only loses its own events (counted) and a
// handler that throws is reported and keeps running; the thread that emitted
// the event never waits on a handler.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/active_span.hpp"
#include "core/diagnostics.hpp"
#include "emp/telemetry/events.hpp"
#include "emp/telemetry/health.hpp"

namespace emp::telemetry {

struct Subscription::State {
  EventFilter filter;
  std::function<void(const Event&)> handler;
  std::size_t capacity = 0;
  std::weak_ptr<events::Bus> bus;

  std::mutex mu;  // guards queue and stop
  std::condition_variable cv;
  std::deque<std::shared_ptr<const Event>> queue;
  bool stop = false;
  bool exited = false;  // run() returned (set under mu)
  std::thread thread;
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> handler_errors{0};

  bool wants(const Event& e) const noexcept;
};

namespace events {

class Bus {
 public:
  explicit Bus(core::Diagnostics* diagnostics) noexcept : diagnostics_(diagnostics) {}
  ~Bus() { shutdown(); }

  // One relaxed load: emitting costs nothing more while nobody listens.
  bool has_subscribers() const noexcept { return subscribers_.load(std::memory_order_relaxed) > 0; }
  // Copies the event once and queues it for each subscription that wants it.
  void publish(std::string_view name, std::int64_t time_unix_nano, const core::ActiveSpanIds* span,
               const Field* fields, std::size_t count, std::initializer_list<Field> extra) noexcept;
  // Starts the subscription's dispatcher thread; null when it cannot start.
  std::shared_ptr<Subscription::State> add(const std::shared_ptr<Bus>& self, EventFilter filter,
                                           std::function<void(const Event&)> handler,
                                           std::size_t capacity) noexcept;
  // Stops `s` (from any thread; from its own handler it only asks it to stop).
  void remove(const std::shared_ptr<Subscription::State>& s) noexcept;
  // Stops every subscription; later subscribe() calls fail. Idempotent.
  // A handler still running at `deadline` is left to finish on its own
  // (its thread detached, reported) so that shutdown keeps its deadline.
  void shutdown(std::chrono::steady_clock::time_point deadline =
                    std::chrono::steady_clock::time_point::max()) noexcept;
  // Counted as the "events-bus" destination of Track::kEvents (not primary:
  // the events file is the track's own outcome).
  DestinationHealth health() const;

  // A handler threw or the queue of a subscription was full: counted, and
  // reported (rate-limited by the diagnostics sink).
  void report(std::string_view key, std::string message) noexcept;

 private:
  static void run(std::shared_ptr<Subscription::State> s) noexcept;

  mutable std::mutex mu_;  // guards subs_, closed_, diagnostics_
  std::vector<std::shared_ptr<Subscription::State>> subs_;
  bool closed_ = false;
  core::Diagnostics* diagnostics_;
  std::atomic<int> subscribers_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> handler_errors_{0};
  std::string last_error_;  // guarded by mu_

  friend struct emp::telemetry::Subscription::State;
  friend class emp::telemetry::Subscription;
};

}  // namespace events
}  // namespace emp::telemetry
