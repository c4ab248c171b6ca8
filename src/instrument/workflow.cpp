// Workflow, connector-processing and start-up instrumentation: spans named
// and attributed as the job-queue system named them.
#include "config/redact.hpp"
#include "emp/telemetry/instrument.hpp"
#include "encode/json_mask.hpp"
#include "encode/json_validate.hpp"
#include "logs/log_record.hpp"

namespace emp::telemetry {

namespace {

SpanOptions child_of(const Span& parent) {
  SpanOptions o;
  SpanContext c = parent.context();
  if (c.is_valid()) o.parent = c;
  return o;
}

void stage(Span& s, const Tracks& t, std::string_view lifecycle) {
  s.set_attribute("lifecycle.stage", lifecycle);
  s.set_attribute("component.type", t.service_type);
}

}  // namespace

// ---- workflows ----

Span WorkflowInstrument::start(std::string_view workflow_id, int total_steps) noexcept {
  Span s = t_.tracer->start_span("workflow.start", {}, {{"workflow.id", workflow_id}});
  stage(s, t_, "workflow");
  if (total_steps >= 0) s.set_attribute("workflow.total_steps", total_steps);
  s.set_attribute("workflow.progress_percent", 0.0);
  return s;
}

Span WorkflowInstrument::step_submit(const Span& workflow, std::string_view workflow_id, int step,
                                     std::string_view step_type) noexcept {
  Span s = t_.tracer->start_span("workflow.step_submit", child_of(workflow),
                                 {{"workflow.id", workflow_id},
                                  {"workflow.current_step", step},
                                  {"workflow.step_type", step_type}});
  stage(s, t_, "workflow_step");
  t_.events->workflow_routing({.workflow_id = workflow_id, .step = step_type});
  return s;
}

void WorkflowInstrument::step_complete(const Span& workflow, std::string_view workflow_id, int step,
                                       double progress_percent) noexcept {
  Span s = t_.tracer->start_span("workflow.step_complete", child_of(workflow),
                                 {{"workflow.id", workflow_id},
                                  {"workflow.current_step", step},
                                  {"workflow.progress_percent", progress_percent}});
  stage(s, t_, "workflow_step");
}

void WorkflowInstrument::step_fail(const Span& workflow, std::string_view workflow_id, int step,
                                   std::string_view error_message) noexcept {
  Span s = t_.tracer->start_span("workflow.step_fail", child_of(workflow),
                                 {{"workflow.id", workflow_id},
                                  {"workflow.current_step", step},
                                  {"job.error_type", to_string(classify_error(error_message))}});
  stage(s, t_, "workflow_step");
  s.set_status(StatusCode::kError, error_message);
}

void WorkflowInstrument::finish(Span& workflow, std::string_view name, std::string_view workflow_id,
                                std::string_view status) noexcept {
  {
    Span s =
        t_.tracer->start_span(name, child_of(workflow),
                              {{"workflow.id", workflow_id}, {"workflow.final_status", status}});
    stage(s, t_, "workflow");
    if (status != "completed") s.set_status(StatusCode::kError, status);
  }
  workflow.set_attribute("workflow.final_status", status);
  if (status == "completed") workflow.set_attribute("workflow.progress_percent", 100.0);
  workflow.set_status(status == "completed" ? StatusCode::kOk : StatusCode::kError);
  workflow.end();
}

void WorkflowInstrument::complete(Span& workflow, std::string_view workflow_id) noexcept {
  finish(workflow, "workflow.complete", workflow_id, "completed");
}

void WorkflowInstrument::cancel(Span& workflow, std::string_view workflow_id,
                                std::string_view reason) noexcept {
  workflow.set_attribute("workflow.cancel_reason", reason);
  finish(workflow, "workflow.cancel", workflow_id, "cancelled");
}

void WorkflowInstrument::timeout(Span& workflow, std::string_view workflow_id) noexcept {
  finish(workflow, "workflow.timeout", workflow_id, "timeout");
}

// ---- connector processing ----

std::string ProcessingInstrument::excerpt(std::string_view payload, std::size_t limit) noexcept {
  try {
    std::string safe;
    if (encode::json_valid(payload)) {
      static constexpr std::string_view kMaskJson = "\"***\"";
      static_assert(kMaskJson.substr(1, 3) == config::kMask);
      safe.reserve(payload.size());
      encode::append_json_masked(payload, config::is_secret_variable, kMaskJson, safe);
    } else {
      // Not JSON: the one secret shape we can recognise in free text is a
      // URL with credentials.
      safe = config::redact_url_userinfo(payload);
    }
    if (safe.size() <= limit) return safe;
    return logs::truncate_with_marker(safe, limit);
  } catch (...) {
    return {};
  }
}

Span ProcessingInstrument::step(std::string_view name, Attributes attributes) noexcept {
  Span s = t_.tracer->start_span(name, {}, attributes);
  stage(s, t_, "process");
  return s;
}

Span ProcessingInstrument::http_request(std::string_view method, std::string_view url,
                                        std::string_view request_body) noexcept {
  std::string safe_url = excerpt(url, 2048);
  Span s = step("process.http_request",
                {{"http.request.method", method}, {"url.full", std::string_view(safe_url)}});
  if (!request_body.empty()) s.set_attribute("http.request.body.excerpt", excerpt(request_body));
  return s;
}

Span ProcessingInstrument::ws_connect(std::string_view url) noexcept {
  std::string safe_url = excerpt(url, 2048);
  return step("process.ws_connect", {{"url.full", std::string_view(safe_url)}});
}

Span ProcessingInstrument::ws_send(std::string_view message) noexcept {
  Span s = step("process.ws_send", {{"ws.message.size", message.size()}});
  s.set_attribute("ws.message.excerpt", excerpt(message));
  return s;
}

Span ProcessingInstrument::ws_progress(double progress_percent) noexcept {
  return step("process.ws_progress", {{"job.progress_percent", progress_percent}});
}

Span ProcessingInstrument::poll_completion(int attempt) noexcept {
  return step("process.poll_completion", {{"poll.attempt", attempt}});
}

Span ProcessingInstrument::download_model(std::string_view model, std::int64_t bytes) noexcept {
  Span s = step("process.download_model", {{"model.name", model}});
  if (bytes >= 0) s.set_attribute("model.size_bytes", bytes);
  return s;
}

Span ProcessingInstrument::image_generation(std::string_view model,
                                            std::string_view prompt) noexcept {
  Span s = step("process.image_generation", {{"model.name", model}});
  if (!prompt.empty()) s.set_attribute("prompt.excerpt", excerpt(prompt));
  return s;
}

Span ProcessingInstrument::image_upload(std::string_view destination, std::int64_t bytes) noexcept {
  std::string safe = excerpt(destination, 2048);
  Span s = step("process.image_upload", {{"upload.destination", std::string_view(safe)}});
  if (bytes >= 0) s.set_attribute("upload.size_bytes", bytes);
  return s;
}

Span ProcessingInstrument::validate_output(std::string_view what) noexcept {
  return step("process.validate_output", {{"validation.target", what}});
}

// ---- start-up ----

Span StartupInstrument::begin_phase(std::string_view name) noexcept {
  if (!root_.is_recording() && started_ == std::chrono::steady_clock::time_point{}) {
    started_ = std::chrono::steady_clock::now();
    SpanOptions o;
    o.root = true;
    root_ = t_.tracer->start_span("machine.startup", o);
    stage(root_, t_, "startup");
    if (!t_.machine_id.empty()) root_.set_attribute("machine.id", t_.machine_id);
  }
  std::string full;
  try {
    full = "machine.startup.";
    full.append(name);
  } catch (...) {
  }
  Span s = t_.tracer->start_span(full, child_of(root_), {{"startup.phase", name}});
  stage(s, t_, "startup");
  return s;
}

void StartupInstrument::finish(int gpu_count, std::string_view version) noexcept {
  std::int64_t ms = -1;
  if (started_ != std::chrono::steady_clock::time_point{})
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               started_)
             .count();
  {
    Scope scope(root_);
    t_.events->machine_started(
        {.startup_duration_ms = ms, .gpu_count = gpu_count, .version = version});
  }
  if (ms >= 0) root_.set_attribute("startup.duration_ms", ms);
  root_.end();
}

}  // namespace emp::telemetry
