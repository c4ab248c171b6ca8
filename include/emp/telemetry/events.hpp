// The events track: operational events of the job queue, one typed call per
// event type (the names are the job-queue system's own, so dashboards built
// on them keep working).
//
//   t.events().job_completed({.job_id = id, .job_type = "comfyui", .duration_ms = 812});
//   auto sub = t.events().subscribe({.names = {"job_failed"}},
//                                   [](const Event& e) { page_someone(e); });
//
// Each call copies its fields into the caller's bounded queue and returns; it
// never blocks and never throws. Every event is written to events.jsonl in the
// log directory and, like a log record, exported over OTLP (as an
// OpenTelemetry Event: the LogRecord's event_name) and to Fluentd when those
// log outputs are on. The thread's active span (trace_id, span_id), the
// client's machine_id, worker_id and service_type are added to each event.
// It counts in health() as Track::kEvents.
//
// subscribe() delivers events to in-process handlers, each on its own
// dispatcher thread with its own bounded queue: a slow handler loses events
// (counted as queue_full on the "events-bus" destination) instead of slowing
// the caller or the other handlers, and a throwing handler is reported and
// keeps its subscription. Thread-safe.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/field.hpp"

namespace emp::telemetry {

namespace core {
struct LogFrontend;
}
namespace events {
class Bus;
}

// Why a job failed (the `error_type` of job_failed).
enum class ErrorType : std::uint8_t {
  kTimeout,
  kMemory,
  kNetwork,
  kModel,
  kValidation,
  kAuthorization,
  kUnknown
};
// "timeout", "memory", "network", "model", "validation", "authorization", "unknown".
std::string_view to_string(ErrorType type) noexcept;
// Sorts an error message into the taxonomy by the words it contains
// (case-insensitive): "timed out" -> timeout, "out of memory"/"OOM" -> memory,
// "connection refused" -> network, ... anything else -> unknown.
ErrorType classify_error(std::string_view message) noexcept;
ErrorType classify_error(const std::exception& e) noexcept;

// The event names, exactly as exported.
namespace event_names {
inline constexpr std::string_view kJobReceived = "job_received";
inline constexpr std::string_view kJobStarted = "job_started";
inline constexpr std::string_view kJobProgress = "job_progress";
inline constexpr std::string_view kJobCompleted = "job_completed";
inline constexpr std::string_view kJobFailed = "job_failed";
inline constexpr std::string_view kHealthCheck = "health_check";
inline constexpr std::string_view kServiceHealthChanged = "service_health_changed";
inline constexpr std::string_view kMachineStarted = "machine_started";
inline constexpr std::string_view kResourceAllocated = "resource_allocated";
inline constexpr std::string_view kWorkflowRouting = "workflow_routing";
inline constexpr std::string_view kOperationalMessage = "operational_message";
}  // namespace event_names

// The typed fields of each event. Strings are views: the call copies them.
// An empty string or a negative number is left out of the event.
struct JobReceived {
  std::string_view job_id;
  std::string_view job_type;
  std::string_view queue;
  int priority = -1;
  std::string_view workflow_id;
};
struct JobStarted {
  std::string_view job_id;
  std::string_view job_type;
  std::string_view connector;
  std::int64_t queue_wait_time_ms = -1;
};
struct JobProgress {
  std::string_view job_id;
  double progress_percent = 0;
  std::string_view message;
};
struct JobCompleted {
  std::string_view job_id;
  std::string_view job_type;
  std::int64_t duration_ms = -1;
};
struct JobFailed {
  std::string_view job_id;
  std::string_view job_type;
  ErrorType error_type = ErrorType::kUnknown;
  std::string_view error_message;
  std::int64_t duration_ms = -1;
  int retry_count = -1;
  bool will_retry = false;
};
struct HealthCheck {
  std::string_view component;  // what was checked, e.g. "redis"
  bool healthy = true;
  std::int64_t latency_ms = -1;
  std::string_view message;
};
struct ServiceHealthChanged {
  std::string_view service;
  std::string_view previous_status;  // e.g. "healthy"
  std::string_view status;           // e.g. "degraded"
  std::string_view reason;
};
struct MachineStarted {
  std::int64_t startup_duration_ms = -1;
  int gpu_count = -1;
  std::string_view version;
};
struct ResourceAllocated {
  std::string_view resource;  // e.g. "gpu", "vram"
  double amount = 0;
  std::string_view unit;  // e.g. "MiB"
  std::string_view job_id;
};
struct WorkflowRouting {
  std::string_view workflow_id;
  std::string_view step;
  std::string_view target;  // where the step was routed (queue, machine, connector)
  std::string_view reason;
};
struct OperationalMessage {
  std::string_view message;
  std::string_view level = "info";
  std::string_view component;
};

// An event as subscribers see it: an owned copy.
struct Event {
  std::string name;
  std::int64_t time_unix_nano = 0;
  std::string trace_id;  // lowercase hex; empty without an active span
  std::string span_id;
  std::vector<std::pair<std::string, std::string>> fields;  // values as text
  // The value of `key`, or empty.
  std::string_view field(std::string_view key) const noexcept;
};

// Which events a subscription receives. Empty means "every".
struct EventFilter {
  std::vector<std::string> names;
  std::string job_id;
};

// Ends its subscription when destroyed (or on unsubscribe()). After
// unsubscribe() returns the handler is not running and will not run again,
// unless unsubscribe() is called from the handler itself (then it stops after
// the current call).
class Subscription {
 public:
  Subscription() noexcept = default;
  Subscription(Subscription&&) noexcept = default;
  Subscription& operator=(Subscription&& other) noexcept {
    if (this != &other) {
      unsubscribe();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~Subscription() { unsubscribe(); }
  void unsubscribe() noexcept;
  bool active() const noexcept { return state_ != nullptr; }
  // Events this subscription lost because its queue was full.
  std::uint64_t dropped() const noexcept;
  // Calls of the handler that threw.
  std::uint64_t handler_errors() const noexcept;

  struct State;

 private:
  friend class Events;
  explicit Subscription(std::shared_ptr<State> s) noexcept : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

class Events {
 public:
  using Fields = std::initializer_list<Field>;

  // `extra` fields are appended after the typed ones.
  void job_received(const JobReceived& e, Fields extra = {}) noexcept;
  void job_started(const JobStarted& e, Fields extra = {}) noexcept;
  void job_progress(const JobProgress& e, Fields extra = {}) noexcept;
  void job_completed(const JobCompleted& e, Fields extra = {}) noexcept;
  void job_failed(const JobFailed& e, Fields extra = {}) noexcept;
  void health_check(const HealthCheck& e, Fields extra = {}) noexcept;
  void service_health_changed(const ServiceHealthChanged& e, Fields extra = {}) noexcept;
  void machine_started(const MachineStarted& e, Fields extra = {}) noexcept;
  void resource_allocated(const ResourceAllocated& e, Fields extra = {}) noexcept;
  void workflow_routing(const WorkflowRouting& e, Fields extra = {}) noexcept;
  void operational_message(const OperationalMessage& e, Fields extra = {}) noexcept;

  // Handlers get at most `queue_capacity` events waiting; beyond that the
  // subscription drops (counted). Returns an inactive Subscription when the
  // dispatcher thread cannot be started (reported through diagnostics).
  Subscription subscribe(EventFilter filter, std::function<void(const Event&)> handler,
                         std::size_t queue_capacity = 1024) noexcept;

  ~Events();
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

 private:
  friend class Client;
  Events(core::LogFrontend* front, std::shared_ptr<events::Bus> bus) noexcept;
  void emit_event(std::string_view name, Level level, const Field* fields, std::size_t count,
                  Fields extra) noexcept;

  core::LogFrontend* front_;
  std::shared_ptr<events::Bus> bus_;
};

}  // namespace emp::telemetry
