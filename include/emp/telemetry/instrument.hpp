// Instrumentation of the job queue over the tracks: job lifecycle spans,
// workflows, connector processing steps and machine start-up, with the span
// names and attribute keys of the job-queue system (job.submit, job.process,
// workflow.start, process.http_request, machine.startup.<phase>, ...).
//
//   // API side: the trace context rides in the job's payload.
//   std::string payload = t.job().submit(job, R"({"prompt":"cat"})");
//   // Worker side, in another process:
//   auto result = t.job().process(job, payload, [&] { return run(job); });
//
// process() wraps a job's execution: a job.process span (child of the
// submitter's span, through the payload), job_received / job_started /
// job_completed or job_failed events, the job metrics (jobs in progress,
// jobs processed by status, duration) and start/end log lines. An exception
// from the work is recorded on the span and in job_failed (with its
// error_type), handed to the error-capture hook when one is set, and
// rethrown. Everything else here is noexcept. Thread-safe.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "emp/telemetry/events.hpp"
#include "emp/telemetry/log.hpp"
#include "emp/telemetry/metrics.hpp"
#include "emp/telemetry/trace.hpp"

namespace emp::telemetry {

// What the instrumentation knows about one job. Views: copied by each call.
struct JobInfo {
  std::string_view id;  // "job-<uuid>"
  std::string_view type;
  int priority = -1;
  std::string_view queue;
  std::string_view connector;
  std::string_view workflow_id;
  // When the job was queued (Unix ns), for job.queue_wait_time_ms; 0 = unknown.
  std::int64_t submitted_unix_nano = 0;
};

// The hook of the errors track: when set, process() hands it every exception
// escaping a job (after the span and the event recorded it). Null by default.
class ErrorCapture {
 public:
  virtual ~ErrorCapture() = default;
  virtual void capture_job_exception(const std::exception* e, std::string_view type,
                                     std::string_view message, const JobInfo& job,
                                     const SpanContext& span) noexcept = 0;
};

// Instrumentation objects need the client's tracks.
struct Tracks {
  Tracer* tracer = nullptr;
  Logger* log = nullptr;
  Metrics* metrics = nullptr;
  Events* events = nullptr;
  std::string_view service_type;
  std::string_view machine_id;
  std::string_view worker_id;
};

class JobInstrument {
 public:
  explicit JobInstrument(const Tracks& tracks) noexcept : t_(tracks) {}

  // API side: a job.submit span (producer); returns `payload_json` with the
  // span's traceparent in it (unchanged when it is not a JSON object).
  // `extra` attributes are added to the span (as on complete() and fail()).
  std::string submit(const JobInfo& job, std::string_view payload_json,
                     Attributes extra = {}) noexcept;
  // job.save_redis around the queue write, a child of the active span.
  Span save(const JobInfo& job) noexcept;
  // Worker side: a job.claim span whose parent comes from the payload.
  Span claim(const JobInfo& job, std::string_view payload_json) noexcept;

  // The job.process span alone (child of the payload's context), for a
  // caller that reports the job's outcome itself; process() is the whole.
  Span process_span(const JobInfo& job, std::string_view payload_json) noexcept {
    return lifecycle_span("job.process", "process", job, payload_json, SpanKind::kConsumer);
  }

  // Runs fn() for the job (see the file comment). Returns what fn returns.
  template <typename Fn>
  decltype(auto) process(const JobInfo& job, std::string_view payload_json, Fn&& fn) {
    Processing p = begin_process(job, payload_json);
    Scope scope(p.span);
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<Fn>>) {
        fn();
        end_process(p, nullptr);
      } else {
        decltype(auto) r = fn();
        end_process(p, nullptr);
        return r;
      }
    } catch (...) {
      end_process(p, std::current_exception());
      throw;
    }
  }

  // Short spans for the other lifecycle steps, children of the payload's
  // context (or the active span when the payload carries none).
  void complete(const JobInfo& job, std::string_view payload_json = {},
                Attributes extra = {}) noexcept;
  void fail(const JobInfo& job, std::string_view error_message, std::string_view payload_json = {},
            Attributes extra = {}) noexcept;
  void retry(const JobInfo& job, int attempt, std::string_view payload_json = {}) noexcept;
  void timeout(const JobInfo& job, std::string_view payload_json = {}) noexcept;
  void requeue(const JobInfo& job, std::string_view reason,
               std::string_view payload_json = {}) noexcept;

  // The errors track's hook (null: none). Set it before jobs run.
  void set_error_capture(ErrorCapture* capture) noexcept { error_capture_ = capture; }

  // What process() carries between its two halves; public for the template.
  struct Processing {
    Span span;
    JobInfo job;
    std::string id, type, queue, connector;  // owned copies for `job`
    std::chrono::steady_clock::time_point started;
  };
  Processing begin_process(const JobInfo& job, std::string_view payload_json) noexcept;
  void end_process(Processing& p, std::exception_ptr error) noexcept;

 private:
  Span lifecycle_span(std::string_view name, std::string_view stage, const JobInfo& job,
                      std::string_view payload_json, SpanKind kind, Attributes extra = {}) noexcept;
  Tracks t_;
  ErrorCapture* error_capture_ = nullptr;
};

class WorkflowInstrument {
 public:
  explicit WorkflowInstrument(const Tracks& tracks) noexcept : t_(tracks) {}
  // workflow.start: the root of a workflow's trace.
  Span start(std::string_view workflow_id, int total_steps) noexcept;
  // Children of `workflow` (the span start() returned).
  Span step_submit(const Span& workflow, std::string_view workflow_id, int step,
                   std::string_view step_type) noexcept;
  void step_complete(const Span& workflow, std::string_view workflow_id, int step,
                     double progress_percent) noexcept;
  void step_fail(const Span& workflow, std::string_view workflow_id, int step,
                 std::string_view error_message) noexcept;
  // End `workflow` with workflow.final_status and workflow.duration_ms, each
  // after a short span of its own name.
  void complete(Span& workflow, std::string_view workflow_id) noexcept;
  void cancel(Span& workflow, std::string_view workflow_id, std::string_view reason) noexcept;
  void timeout(Span& workflow, std::string_view workflow_id) noexcept;

 private:
  void finish(Span& workflow, std::string_view name, std::string_view workflow_id,
              std::string_view status) noexcept;
  Tracks t_;
};

// Connector processing steps: process.<step> spans, children of the active
// span (normally job.process). Payload excerpts are cut to
// kMaxPayloadExcerpt bytes and values under secret-looking keys (key, token,
// secret, password, auth...) are masked.
class ProcessingInstrument {
 public:
  static constexpr std::size_t kMaxPayloadExcerpt = 512;
  explicit ProcessingInstrument(const Tracks& tracks) noexcept : t_(tracks) {}

  Span http_request(std::string_view method, std::string_view url,
                    std::string_view request_body = {}) noexcept;
  Span ws_connect(std::string_view url) noexcept;
  Span ws_send(std::string_view message) noexcept;
  Span ws_progress(double progress_percent) noexcept;
  Span poll_completion(int attempt) noexcept;
  Span download_model(std::string_view model, std::int64_t bytes = -1) noexcept;
  Span image_generation(std::string_view model, std::string_view prompt = {}) noexcept;
  Span image_upload(std::string_view destination, std::int64_t bytes = -1) noexcept;
  Span validate_output(std::string_view what) noexcept;

  // `payload` made safe to attach: secret values masked, at most `limit` bytes.
  static std::string excerpt(std::string_view payload,
                             std::size_t limit = kMaxPayloadExcerpt) noexcept;

 private:
  Span step(std::string_view name, Attributes attributes) noexcept;
  Tracks t_;
};

// Machine start-up: each phase a machine.startup.<phase> span under one
// machine.startup trace, ended by finish() (or the destructor).
class StartupInstrument {
 public:
  explicit StartupInstrument(const Tracks& tracks) noexcept : t_(tracks) {}
  template <typename Fn>
  decltype(auto) phase(std::string_view name, Fn&& fn) {
    Span s = begin_phase(name);
    Scope scope(s);
    try {
      return fn();
    } catch (const std::exception& e) {
      s.record_exception(e);
      s.set_status(StatusCode::kError, e.what());
      throw;
    } catch (...) {
      s.record_exception("unknown", "non-standard exception");
      s.set_status(StatusCode::kError, "non-standard exception");
      throw;
    }
  }
  // Ends the start-up span; sends machine_started with the duration.
  void finish(int gpu_count = -1, std::string_view version = {}) noexcept;
  Span begin_phase(std::string_view name) noexcept;

 private:
  Tracks t_;
  Span root_;
  std::chrono::steady_clock::time_point started_{};
};

// Client::startup(options): what start-up reports.
struct StartupOptions {
  // Probe every configured destination (the pipeline test's destination
  // checks, Client::test) on a thread of its own and log one line per
  // destination when done (warn with the advice when one is not healthy).
  bool test_connections = false;
  // Log the effective configuration (secrets masked).
  bool log_configuration = true;
  // A start-up span and operational event, so a backend sees the service appear.
  bool send_startup_ping = true;
};

// Options of Client::send_trace.
struct TraceOptions {
  std::chrono::milliseconds duration{0};
  StatusCode status = StatusCode::kUnset;
};

}  // namespace emp::telemetry
