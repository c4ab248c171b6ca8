// Job lifecycle instrumentation: spans with the job-queue vocabulary's
// attributes, the trace context carried in the job payload, and process()'s
// events, metrics and log lines.
#include <array>

#include "core/clock.hpp"
#include "emp/telemetry/instrument.hpp"

namespace emp::telemetry {

namespace {

constexpr std::string_view kInProgress = "jobs_in_progress";
constexpr std::string_view kProcessed = "jobs_processed_total";
constexpr std::string_view kDuration = "job_duration_seconds";

// The job attributes every lifecycle span carries; empty values left out.
void set_job_attributes(Span& s, const JobInfo& job, const Tracks& t, std::string_view stage) {
  s.set_attribute("lifecycle.stage", stage);
  s.set_attribute("component.type", t.service_type);
  if (!job.id.empty()) s.set_attribute("job.id", job.id);
  if (!job.type.empty()) s.set_attribute("job.type", job.type);
  if (job.priority >= 0) s.set_attribute("job.priority", job.priority);
  if (!job.queue.empty()) s.set_attribute("job.queue", job.queue);
  if (!job.connector.empty()) s.set_attribute("job.connector", job.connector);
  if (!t.worker_id.empty()) s.set_attribute("job.worker", t.worker_id);
  if (!t.machine_id.empty()) s.set_attribute("job.machine", t.machine_id);
  s.set_attribute("job.service_type", t.service_type);
  if (!job.workflow_id.empty()) s.set_attribute("workflow.id", job.workflow_id);
}

std::int64_t ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

}  // namespace

Span JobInstrument::lifecycle_span(std::string_view name, std::string_view stage,
                                   const JobInfo& job, std::string_view payload_json, SpanKind kind,
                                   Attributes extra) noexcept {
  SpanOptions o;
  o.kind = kind;
  if (!payload_json.empty()) o.parent = t_.tracer->extract_job_payload(payload_json);
  Span s = t_.tracer->start_span(name, o, extra);
  set_job_attributes(s, job, t_, stage);
  return s;
}

std::string JobInstrument::submit(const JobInfo& job, std::string_view payload_json,
                                  Attributes extra) noexcept {
  Span s = lifecycle_span("job.submit", "submit", job, {}, SpanKind::kProducer, extra);
  Scope scope(s);
  t_.log->debug("job submitted", {{"job_id", job.id}, {"job_type", job.type}});
  return t_.tracer->inject_job_payload(payload_json);
}

Span JobInstrument::save(const JobInfo& job) noexcept {
  return lifecycle_span("job.save_redis", "save", job, {}, SpanKind::kClient);
}

Span JobInstrument::claim(const JobInfo& job, std::string_view payload_json) noexcept {
  return lifecycle_span("job.claim", "claim", job, payload_json, SpanKind::kConsumer);
}

JobInstrument::Processing JobInstrument::begin_process(const JobInfo& job,
                                                       std::string_view payload_json) noexcept {
  Processing p;
  try {
    p.id.assign(job.id);
    p.type.assign(job.type);
    p.queue.assign(job.queue);
    p.connector.assign(job.connector);
  } catch (...) {
    // Out of memory: the job is still processed, with fewer attributes.
  }
  p.job = job;
  p.job.id = p.id;
  p.job.type = p.type;
  p.job.queue = p.queue;
  p.job.connector = p.connector;
  p.job.workflow_id = {};
  p.started = std::chrono::steady_clock::now();
  p.span = process_span(job, payload_json);
  std::int64_t wait_ms = -1;
  if (job.submitted_unix_nano > 0) {
    wait_ms = (core::now_unix_nano() - job.submitted_unix_nano) / 1'000'000;
    if (wait_ms < 0) wait_ms = 0;
    p.span.set_attribute("job.queue_wait_time_ms", wait_ms);
  }
  Scope scope(p.span);
  t_.events->job_received({.job_id = job.id,
                           .job_type = job.type,
                           .queue = job.queue,
                           .priority = job.priority,
                           .workflow_id = job.workflow_id});
  t_.events->job_started({.job_id = job.id,
                          .job_type = job.type,
                          .connector = job.connector,
                          .queue_wait_time_ms = wait_ms});
  t_.metrics->up_down_counter(kInProgress, 1, {{"service_type", t_.service_type}});
  t_.log->info("job started", {{"job_id", job.id}, {"job_type", job.type}});
  return p;
}

void JobInstrument::end_process(Processing& p, std::exception_ptr error) noexcept {
  const std::int64_t ms = ms_since(p.started);
  const JobInfo& job = p.job;
  Scope scope(p.span);
  p.span.set_attribute("job.duration_ms", ms);
  const double seconds = static_cast<double>(ms) / 1000.0;
  t_.metrics->up_down_counter(kInProgress, -1, {{"service_type", t_.service_type}});
  if (!error) {
    p.span.set_attribute("job.final_status", "completed");
    p.span.set_attribute("job.success", true);
    p.span.set_status(StatusCode::kOk);
    t_.events->job_completed({.job_id = job.id, .job_type = job.type, .duration_ms = ms});
    t_.metrics->counter(kProcessed, 1,
                        {{"service_type", t_.service_type}, {"status", "completed"}});
    t_.metrics->histogram(kDuration, seconds, {{"service_type", t_.service_type}}, "s");
    t_.log->info("job completed",
                 {{"job_id", job.id}, {"job_type", job.type}, {"duration_ms", ms}});
    p.span.end();
    return;
  }
  std::string type = "unknown", message = "non-standard exception";
  const std::exception* ex = nullptr;
  ErrorType error_type = ErrorType::kUnknown;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    ex = &e;
    try {
      type = typeid(e).name();
      message = e.what();
    } catch (...) {
    }
    error_type = classify_error(e);
    p.span.record_exception(e);
    // `e` stays alive inside this handler: the hook sees the real exception.
    p.span.set_attribute("job.final_status", "failed");
    p.span.set_attribute("job.success", false);
    p.span.set_attribute("job.error_type", to_string(error_type));
    p.span.set_status(StatusCode::kError, message);
    if (error_capture_)
      error_capture_->capture_job_exception(ex, type, message, job, p.span.context());
  } catch (...) {
    error_type = classify_error(std::string_view(message));
    p.span.record_exception(type, message);
    p.span.set_attribute("job.final_status", "failed");
    p.span.set_attribute("job.success", false);
    p.span.set_attribute("job.error_type", to_string(error_type));
    p.span.set_status(StatusCode::kError, message);
    if (error_capture_)
      error_capture_->capture_job_exception(nullptr, type, message, job, p.span.context());
  }
  t_.events->job_failed({.job_id = job.id,
                         .job_type = job.type,
                         .error_type = error_type,
                         .error_message = message,
                         .duration_ms = ms},
                        {{"exception_type", type}});
  t_.metrics->counter(kProcessed, 1, {{"service_type", t_.service_type}, {"status", "failed"}});
  t_.metrics->histogram(kDuration, seconds, {{"service_type", t_.service_type}}, "s");
  t_.log->error("job failed", {{"job_id", job.id},
                               {"job_type", job.type},
                               {"error_type", to_string(error_type)},
                               {"error_message", message},
                               {"duration_ms", ms}});
  p.span.end();
}

void JobInstrument::complete(const JobInfo& job, std::string_view payload_json,
                             Attributes extra) noexcept {
  Span s =
      lifecycle_span("job.complete", "complete", job, payload_json, SpanKind::kInternal, extra);
  s.set_attribute("job.final_status", "completed");
  s.set_attribute("job.success", true);
}

void JobInstrument::fail(const JobInfo& job, std::string_view error_message,
                         std::string_view payload_json, Attributes extra) noexcept {
  Span s = lifecycle_span("job.fail", "fail", job, payload_json, SpanKind::kInternal, extra);
  const ErrorType et = classify_error(error_message);
  s.set_attribute("job.final_status", "failed");
  s.set_attribute("job.success", false);
  s.set_attribute("job.error_type", to_string(et));
  s.set_status(StatusCode::kError, error_message);
}

void JobInstrument::retry(const JobInfo& job, int attempt, std::string_view payload_json) noexcept {
  Span s = lifecycle_span("job.retry", "retry", job, payload_json, SpanKind::kInternal);
  s.set_attribute("job.retry_count", attempt);
}

void JobInstrument::timeout(const JobInfo& job, std::string_view payload_json) noexcept {
  Span s = lifecycle_span("job.timeout", "timeout", job, payload_json, SpanKind::kInternal);
  s.set_attribute("job.final_status", "timeout");
  s.set_attribute("job.error_type", "timeout");
  s.set_status(StatusCode::kError, "job timed out");
}

void JobInstrument::requeue(const JobInfo& job, std::string_view reason,
                            std::string_view payload_json) noexcept {
  Span s = lifecycle_span("job.requeue", "requeue", job, payload_json, SpanKind::kInternal);
  s.set_attribute("job.requeue_reason", reason);
}

}  // namespace emp::telemetry
