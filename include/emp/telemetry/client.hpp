// The telemetry client: one per service process. It owns the queues, the
// background thread and the sinks of every track.
//
//   auto t = emp::telemetry::Client::for_worker();
//   if (!t) { for (auto& e : t.errors()) std::cerr << e.to_string() << "\n"; return 1; }
//   t->log().info("worker started", {{"worker_id", "m1-worker-0"}});
//
// Construction validates the configuration and is the only place that reports
// errors; every other call is noexcept and never blocks on I/O. The destructor
// shuts down with the configured default deadline.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/errors.hpp"
#include "emp/telemetry/events.hpp"
#include "emp/telemetry/expected.hpp"
#include "emp/telemetry/generate.hpp"
#include "emp/telemetry/health.hpp"
#include "emp/telemetry/http_server.hpp"
#include "emp/telemetry/instrument.hpp"
#include "emp/telemetry/log.hpp"
#include "emp/telemetry/metrics.hpp"
#include "emp/telemetry/pipeline_test.hpp"
#include "emp/telemetry/trace.hpp"

namespace emp::telemetry {

class Client {
 public:
  // From an already finalized configuration.
  static Expected<Client> create(Config config) noexcept;
  // finalize(options) then create().
  static Expected<Client> create(const Options& options) noexcept;
  // Presets: set service_type and the preset's defaults, then read the
  // environment. `options` may still override anything.
  static Expected<Client> for_api(Options options = {}) noexcept;
  static Expected<Client> for_webhook(Options options = {}) noexcept;
  static Expected<Client> for_machine(Options options = {}) noexcept;
  static Expected<Client> for_worker(Options options = {}) noexcept;

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  Logger& log() noexcept;
  // The process-wide default client, whose logger default_log() (log.hpp)
  // returns, for code that cannot be handed a Client. Set it once, after
  // create(); nullptr clears it, and so does this client's shutdown. Log
  // calls made while none is set are counted and dropped; the first line
  // after setting one says how many. A caller must not keep the reference
  // from default_log() past the client's shutdown.
  static void set_default(Client* client) noexcept;
  // The trace track. tracer() and trace() are the same object; both names
  // read naturally (`tracer().start_span(...)`, `trace().span(...)`).
  Tracer& tracer() noexcept;
  Tracer& trace() noexcept { return tracer(); }
  // The metrics track: instruments, OTLP metrics export, the Prometheus
  // endpoint. See metrics.hpp.
  Metrics& metrics() noexcept;
  // The errors track: exceptions and messages to Sentry. See errors.hpp.
  ErrorReporter& errors() noexcept;
  // The events track: typed operational events and in-process subscribers.
  // See events.hpp.
  Events& events() noexcept;

  // Instrumentation over the tracks (see instrument.hpp): job lifecycle,
  // workflows, connector processing steps, machine start-up phases.
  JobInstrument& job() noexcept;
  WorkflowInstrument& workflow() noexcept;
  ProcessingInstrument& processing() noexcept;
  StartupInstrument& startup() noexcept;
  // HTTP request handlers of any framework (http_server.hpp).
  HttpServerInstrument& http_server() noexcept;
  // Start-up report: the effective configuration (secrets masked) as one log
  // line, a start-up ping (a service.startup span and an operational event),
  // and, with test_connections, the destination probes' results.
  void startup(const StartupOptions& options) noexcept;

  // One-liners: a finished span `name` (ending now, lasting
  // options.duration) and a gauge measurement.
  void send_trace(std::string_view name, Attributes attributes = {},
                  const TraceOptions& options = {}) noexcept;
  void send_metric(std::string_view name, double value, MetricFields attributes = {},
                   std::string_view unit = {}) noexcept;
  const Config& config() const noexcept;
  HealthSnapshot health() const noexcept;

  // The pipeline test (pipeline_test.hpp, `emp-telemetry doctor`): probes
  // every configured destination with its own protocol, per-hop latency,
  // and meanwhile sends one marker record through every track and flushes it.
  // Blocks the calling thread for about options.timeout at most (plus a
  // read-back from a local viewer); never throws.
  PipelineReport test(const PipelineTestOptions& options = {}) noexcept;

  // Ships the lines of another program's log file(s) to FLUENTD_HOST, like
  // Fluent Bit's tail input: `path_or_glob` is re-expanded every poll (new
  // files are picked up, a file that does not exist yet is waited for),
  // rotation by rename or copy-truncate is followed, and positions are kept
  // in <LOG_DIR>/tail-positions.db so a restart neither loses nor repeats a
  // line. A line that is a JSON object is shipped with its keys, any other
  // as {"log": "<line>"}, both with the service's metadata. `tag` empty:
  // "<service_type>.logs.<file name>". Reading happens on a thread of the
  // client's; counts show in health().tail. Returns the problem when the
  // file cannot be tailed (FLUENTD_HOST not set, empty pattern), else
  // nothing. Thread-safe.
  std::optional<Error> add_file(std::string_view path_or_glob, std::string_view tag = {}) noexcept;
  // Writes the configuration of a log agent (generate.hpp) for this service:
  // its own log file and every file given to add_file. Returns the path.
  Expected<std::string> write_agent_config(
      Agent agent, AgentFormat format = AgentFormat::kClassic,
      const std::string& dir = kDefaultAgentConfigDir) const noexcept;

  // Waits until every record accepted before the call is written (true), or
  // until `timeout` passes (false). Never waits longer than `timeout`.
  bool flush(std::chrono::milliseconds timeout) noexcept;
  // Flushes, stops the background thread and closes sinks within `timeout`.
  // Records still queued at the deadline are counted as dropped (shutdown).
  // Later telemetry calls are counted as dropped (shutdown). Idempotent.
  bool shutdown(std::chrono::milliseconds timeout) noexcept;

  // Opaque to users; public only so the library's own track installers can
  // name it.
  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emp::telemetry
