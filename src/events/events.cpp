// The caller-side half of the events track: each typed call lays its fields
// out on the stack and queues them as a log record flagged kEvent (so the log
// track's file, OTLP and Fluentd outputs carry events too), then hands a copy
// to in-process subscribers when there are any.
#include <array>

#include "core/active_span.hpp"
#include "core/clock.hpp"
#include "core/strings.hpp"
#include "events/bus.hpp"
#include "logs/log_record.hpp"

namespace emp::telemetry {

std::string_view to_string(ErrorType type) noexcept {
  switch (type) {
    case ErrorType::kTimeout:
      return "timeout";
    case ErrorType::kMemory:
      return "memory";
    case ErrorType::kNetwork:
      return "network";
    case ErrorType::kModel:
      return "model";
    case ErrorType::kValidation:
      return "validation";
    case ErrorType::kAuthorization:
      return "authorization";
    case ErrorType::kUnknown:
      return "unknown";
  }
  return "unknown";
}

namespace {

bool icontains(std::string_view text, std::string_view word) noexcept {
  if (word.size() > text.size()) return false;
  for (std::size_t i = 0; i + word.size() <= text.size(); ++i)
    if (core::iequals(text.substr(i, word.size()), word)) return true;
  return false;
}

// First match wins, so the more specific words come first ("cuda out of
// memory" is memory, not model).
struct Rule {
  ErrorType type;
  std::array<std::string_view, 8> words;
};
constexpr std::array<Rule, 6> kRules{{
    {ErrorType::kTimeout, {"timeout", "timed out", "deadline exceeded", "etimedout"}},
    {ErrorType::kMemory,
     {"out of memory", "oom", "memory", "bad_alloc", "cannot allocate", "enomem"}},
    {ErrorType::kAuthorization,
     {"unauthorized", "forbidden", "authoriz", "authenticat", "permission denied", "401", "403",
      "api key"}},
    {ErrorType::kNetwork,
     {"connection", "network", "econnrefused", "econnreset", "dns", "socket", "unreachable",
      "host"}},
    {ErrorType::kValidation,
     {"invalid", "validation", "malformed", "missing", "required", "schema", "bad request",
      "empty"}},
    {ErrorType::kModel,
     {"model", "checkpoint", "safetensors", "lora", "cuda", "inference", "weights"}},
}};

}  // namespace

ErrorType classify_error(std::string_view message) noexcept {
  for (const Rule& r : kRules)
    for (std::string_view w : r.words)
      if (!w.empty() && icontains(message, w)) return r.type;
  return ErrorType::kUnknown;
}

ErrorType classify_error(const std::exception& e) noexcept {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return ErrorType::kMemory;
  return classify_error(std::string_view(e.what()));
}

namespace {

// Room for "event.name", the typed fields and a few extras without allocating.
constexpr std::size_t kInlineFields = 24;

// Fields in stack storage; an empty string or a negative number is left out.
struct EventFields {
  std::array<Field, kInlineFields> items;
  std::size_t n = 0;
  void add(std::string_view key, std::string_view v) noexcept {
    if (!v.empty() && n < items.size()) items[n++] = {key, FieldValue(v)};
  }
  void add(std::string_view key, std::int64_t v) noexcept {
    if (v >= 0 && n < items.size()) items[n++] = {key, FieldValue(v)};
  }
  void add_double(std::string_view key, double v) noexcept {
    if (n < items.size()) items[n++] = {key, FieldValue(v)};
  }
  void add_bool(std::string_view key, bool v) noexcept {
    if (n < items.size()) items[n++] = {key, FieldValue(v)};
  }
};

Level level_named(std::string_view s) noexcept {
  if (core::iequals(s, "trace")) return Level::kTrace;
  if (core::iequals(s, "debug")) return Level::kDebug;
  if (core::iequals(s, "critical") || core::iequals(s, "fatal")) return Level::kCritical;
  if (core::iequals(s, "warn") || core::iequals(s, "warning")) return Level::kWarn;
  if (core::iequals(s, "error")) return Level::kError;
  return Level::kInfo;
}

}  // namespace

Events::Events(core::LogFrontend* front, std::shared_ptr<events::Bus> bus) noexcept
    : front_(front), bus_(std::move(bus)) {}

Events::~Events() = default;

void Events::emit_event(std::string_view name, Level level, const Field* fields, std::size_t count,
                        Fields extra) noexcept {
  std::array<Field, kInlineFields + 1> all;
  std::size_t n = 0;
  all[n++] = {"event.name", FieldValue(name)};
  for (std::size_t i = 0; i < count && n < all.size(); ++i) all[n++] = fields[i];
  std::size_t extra_kept = 0;
  for (const Field& f : extra) {
    if (n == all.size()) break;
    all[n++] = f;
    ++extra_kept;
  }
  if (extra_kept < extra.size()) {
    // More fields than fit inline: the rare slow path allocates.
    try {
      std::vector<Field> big(all.begin(), all.begin() + n);
      big.insert(big.end(), extra.begin() + extra_kept, extra.end());
      logs::emit(*front_, Track::kEvents, {}, level, name, big, logs::kEvent);
    } catch (...) {
      logs::emit(*front_, Track::kEvents, {}, level, name, std::span<const Field>(all.data(), n),
                 logs::kEvent);
    }
  } else {
    logs::emit(*front_, Track::kEvents, {}, level, name, std::span<const Field>(all.data(), n),
               logs::kEvent);
  }
  if (bus_->has_subscribers())
    bus_->publish(name, core::now_unix_nano(), core::t_active_span, fields, count, extra);
}

void Events::job_received(const JobReceived& e, Fields extra) noexcept {
  EventFields f;
  f.add("job_id", e.job_id);
  f.add("job_type", e.job_type);
  f.add("queue", e.queue);
  f.add("priority", static_cast<std::int64_t>(e.priority));
  f.add("workflow_id", e.workflow_id);
  emit_event(event_names::kJobReceived, Level::kInfo, f.items.data(), f.n, extra);
}

void Events::job_started(const JobStarted& e, Fields extra) noexcept {
  EventFields f;
  f.add("job_id", e.job_id);
  f.add("job_type", e.job_type);
  f.add("connector", e.connector);
  f.add("queue_wait_time_ms", e.queue_wait_time_ms);
  emit_event(event_names::kJobStarted, Level::kInfo, f.items.data(), f.n, extra);
}

void Events::job_progress(const JobProgress& e, Fields extra) noexcept {
  EventFields f;
  f.add("job_id", e.job_id);
  f.add_double("progress_percent", e.progress_percent);
  f.add("message", e.message);
  emit_event(event_names::kJobProgress, Level::kInfo, f.items.data(), f.n, extra);
}

void Events::job_completed(const JobCompleted& e, Fields extra) noexcept {
  EventFields f;
  f.add("job_id", e.job_id);
  f.add("job_type", e.job_type);
  f.add("duration_ms", e.duration_ms);
  emit_event(event_names::kJobCompleted, Level::kInfo, f.items.data(), f.n, extra);
}

void Events::job_failed(const JobFailed& e, Fields extra) noexcept {
  EventFields f;
  f.add("job_id", e.job_id);
  f.add("job_type", e.job_type);
  f.add("error_type", to_string(e.error_type));
  f.add("error_message", e.error_message);
  f.add("duration_ms", e.duration_ms);
  f.add("retry_count", static_cast<std::int64_t>(e.retry_count));
  f.add_bool("will_retry", e.will_retry);
  emit_event(event_names::kJobFailed, Level::kError, f.items.data(), f.n, extra);
}

void Events::health_check(const HealthCheck& e, Fields extra) noexcept {
  EventFields f;
  f.add("component", e.component);
  f.add_bool("healthy", e.healthy);
  f.add("latency_ms", e.latency_ms);
  f.add("message", e.message);
  emit_event(event_names::kHealthCheck, e.healthy ? Level::kInfo : Level::kWarn, f.items.data(),
             f.n, extra);
}

void Events::service_health_changed(const ServiceHealthChanged& e, Fields extra) noexcept {
  EventFields f;
  f.add("service", e.service);
  f.add("previous_status", e.previous_status);
  f.add("status", e.status);
  f.add("reason", e.reason);
  emit_event(event_names::kServiceHealthChanged, Level::kWarn, f.items.data(), f.n, extra);
}

void Events::machine_started(const MachineStarted& e, Fields extra) noexcept {
  EventFields f;
  f.add("startup_duration_ms", e.startup_duration_ms);
  f.add("gpu_count", static_cast<std::int64_t>(e.gpu_count));
  f.add("version", e.version);
  emit_event(event_names::kMachineStarted, Level::kInfo, f.items.data(), f.n, extra);
}

void Events::resource_allocated(const ResourceAllocated& e, Fields extra) noexcept {
  EventFields f;
  f.add("resource", e.resource);
  f.add_double("amount", e.amount);
  f.add("unit", e.unit);
  f.add("job_id", e.job_id);
  emit_event(event_names::kResourceAllocated, Level::kInfo, f.items.data(), f.n, extra);
}

void Events::workflow_routing(const WorkflowRouting& e, Fields extra) noexcept {
  EventFields f;
  f.add("workflow_id", e.workflow_id);
  f.add("step", e.step);
  f.add("target", e.target);
  f.add("reason", e.reason);
  emit_event(event_names::kWorkflowRouting, Level::kInfo, f.items.data(), f.n, extra);
}

void Events::operational_message(const OperationalMessage& e, Fields extra) noexcept {
  EventFields f;
  f.add("message", e.message);
  f.add("component", e.component);
  emit_event(event_names::kOperationalMessage, level_named(e.level), f.items.data(), f.n, extra);
}

Subscription Events::subscribe(EventFilter filter, std::function<void(const Event&)> handler,
                               std::size_t queue_capacity) noexcept {
  return Subscription(bus_->add(bus_, std::move(filter), std::move(handler), queue_capacity));
}

}  // namespace emp::telemetry
