// What a Client owns, and how each track is put into it. Client::create()
// builds the shared pipeline and then calls one installer per track; each
// installer lives in its own file (install_<track>.cpp), so a new track is a
// new installer plus one member here, not edits across the client.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/pipeline.hpp"
#include "emp/telemetry/client.hpp"
#include "emp/telemetry/errors.hpp"
#include "encode/otlp_types.hpp"
#include "errors/crash_handler.hpp"
#include "errors/errors_core.hpp"
#include "logs/log_handler.hpp"
#include "logs/log_record.hpp"
#include "metrics/metrics_track.hpp"
#include "tail/tail_service.hpp"
#include "trace/tracer_core.hpp"

namespace emp::telemetry {

namespace events {
class Bus;
}

// Lets the status-file handler (on the pipeline's thread, which can outlive
// the client when a shutdown deadline abandons it) reach the client safely.
struct StatusLink {
  std::mutex mu;
  std::function<std::string()> status_json;  // empty once the client is gone
  // GET /health: fills the body, true when healthy; empty once the client is gone.
  std::function<bool(std::string&)> health_page;
};

struct Client::Impl {
  explicit Impl(Config c) : config(std::move(c)) {}
  ~Impl() {
    if (status_link) {
      std::lock_guard<std::mutex> lock(status_link->mu);
      status_link->status_json = nullptr;
      status_link->health_page = nullptr;
    }
  }
  HealthSnapshot full_health() const noexcept {
    HealthSnapshot h = pipeline->health();
    if (metrics_track) metrics_track->add_health(h);
    if (tail) tail->add_health(h);
    return h;
  }
  Config config;
  std::unique_ptr<core::Pipeline> pipeline;
  core::LogFrontend log_front;
  std::atomic<int> min_level{0};
  std::unique_ptr<Logger> logger;
  trace::TracerCore tracer_core;
  std::unique_ptr<Tracer> tracer;
  std::shared_ptr<events::Bus> event_bus;
  std::unique_ptr<Events> events;
  std::unique_ptr<JobInstrument> job;
  // Hands exceptions escaping job().process() to the errors track.
  std::unique_ptr<ErrorCapture> job_errors;
  std::unique_ptr<WorkflowInstrument> workflow;
  std::unique_ptr<ProcessingInstrument> processing;
  std::unique_ptr<StartupInstrument> startup;
  std::unique_ptr<HttpServerInstrument> http_server;
  // Declared after the pipeline: destroyed first (its worker counts through it).
  std::unique_ptr<metrics::MetricsTrack> metrics_track;
  // Client::add_file. Its worker counts through the pipeline's accounting:
  // declared after the pipeline, so destroyed first.
  std::unique_ptr<tail::TailService> tail;
  // The errors track: the core is shared with its handler on the pipeline.
  std::shared_ptr<errors::ErrorsCore> errors_core;
  std::unique_ptr<ErrorReporter> errors;
  // What a crash record carries; the handler registration goes first.
  std::unique_ptr<errors::CrashContext> crash_context;
  std::unique_ptr<errors::CrashHandler> crash_handler;
  bool shut_down = false;
  std::shared_ptr<StatusLink> status_link;
  // startup(test_connections): the probes run on a detached thread of their
  // own (a shutdown never waits for them); it logs through `logger` only
  // while the client is alive, which shutdown() ends under `mu`.
  struct StartupProbe {
    std::mutex mu;
    Logger* logger = nullptr;
  };
  std::shared_ptr<StartupProbe> startup_probe;
};

namespace client {

// True when the named variable was given a value (environment, env file or
// code), not taken from its default.
inline bool set_by_user(const Config& c, std::string_view name) {
  for (const Setting& s : c.settings)
    if (s.name == name)
      return s.origin == Origin::kEnvironment || s.origin == Origin::kCode ||
             s.origin == Origin::kEnvFile;
  return false;
}

// What installers share while Client::create() runs (before the pipeline
// starts). The log handler is installed first and added to the pipeline
// last, so other installers can give it outputs (OTLP, Fluentd forward...).
struct InstallContext {
  Client::Impl& impl;
  const Config& config;
  core::Pipeline& pipeline;
  std::string dir;  // absolute output directory (LOG_DIR)
  std::unique_ptr<logs::LogHandler> log_handler;
  encode::otlp::Resource resource;
  encode::otlp::Scope scope;
  // OpenTelemetry signals are on (EMP_OTEL_ENABLED and not OTEL_SDK_DISABLED).
  bool otel_on = false;

  // Registers a destination's health with the pipeline.
  void add_destination(std::function<DestinationHealth()> health) {
    pipeline.add_destination(std::move(health));
  }
};

// One per track, in the order Client::create() calls them. Each returns an
// error message when the track cannot start (empty on success).
std::string install_logs(InstallContext& ctx);
std::string install_traces(InstallContext& ctx);
std::string install_metrics(InstallContext& ctx);
std::string install_status(InstallContext& ctx);
std::string install_forward(InstallContext& ctx);  // after install_logs
std::string install_errors(InstallContext& ctx);   // after install_logs
std::string install_events(InstallContext& ctx);   // after install_logs

}  // namespace client
}  // namespace emp::telemetry
