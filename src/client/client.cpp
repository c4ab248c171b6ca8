// Client: wires a finalized Config into the shared pipeline and the tracks.
#include "emp/telemetry/client.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "client/client_impl.hpp"
#include "client/resource.hpp"
#include "core/clock.hpp"
#include "doctor/probes.hpp"
#include "events/bus.hpp"

namespace emp::telemetry {

namespace {

// An exception escaping job().process() becomes an errors-track event with
// the job's tags; process() keeps the job's span active around the call, so
// the event links to the job's trace.
class JobErrorCapture final : public ErrorCapture {
 public:
  explicit JobErrorCapture(ErrorReporter* errors) noexcept : errors_(errors) {}
  void capture_job_exception(const std::exception* e, std::string_view type,
                             std::string_view message, const JobInfo& job,
                             const SpanContext&) noexcept override {
    try {
      ErrorScope scope;
      scope.tag("job_id", job.id);
      if (!job.type.empty()) scope.tag("job_type", job.type);
      if (!job.queue.empty()) scope.tag("job_queue", job.queue);
      if (!job.connector.empty()) scope.tag("connector", job.connector);
      if (!job.workflow_id.empty()) scope.tag("workflow_id", job.workflow_id);
      if (e != nullptr) {
        errors_->capture_exception(*e, scope);
      } else {
        errors_->capture_message(std::string(type) + ": " + std::string(message),
                                 ErrorLevel::kError, scope);
      }
    } catch (...) {
    }
  }

 private:
  ErrorReporter* errors_;
};

}  // namespace

namespace {
std::string absolute_dir(const std::string& dir) {
  std::error_code ec;
  auto p = std::filesystem::absolute(dir.empty() ? std::string("./telemetry-out") : dir, ec);
  if (ec) return dir;
  return p.lexically_normal().string();
}
}  // namespace

Client::Client(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (impl_ && !impl_->shut_down) shutdown(impl_->config.shutdown_timeout);
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Client::~Client() {
  if (impl_ && !impl_->shut_down) shutdown(impl_->config.shutdown_timeout);
}

Expected<Client> Client::create(Config config) noexcept {
  try {
    core::Diagnostics::set_notices(config.diagnostics_level <= Level::kInfo);
    for (const auto& n : config.notices) core::Diagnostics::notice_once(n);
    auto impl = std::make_unique<Impl>(std::move(config));
    const Config& c = impl->config;
    core::Pipeline::Options po;
    po.ring_bytes = c.queue_bytes_per_thread;
    po.policy = c.queue_full_policy;
    po.block_timeout = c.queue_block_timeout;
    po.flush_interval = c.flush_interval;
    po.tsc_clock = c.clock_tsc;
    impl->pipeline = std::make_unique<core::Pipeline>(po);
    client::InstallContext ctx{*impl, impl->config, *impl->pipeline, absolute_dir(c.log_dir)};
    ctx.resource = make_resource(c);
    ctx.scope = make_scope();
    ctx.otel_on = c.otel_enabled && !c.sdk_disabled;
    // The log handler goes into the pipeline last: the installers before
    // that may give it outputs.
    for (auto install : {client::install_logs, client::install_traces, client::install_metrics,
                         client::install_status, client::install_forward, client::install_events,
                         client::install_errors}) {
      std::string problem = install(ctx);
      if (!problem.empty()) return Error{"client", problem};
    }
    ctx.pipeline.add_handler(core::RecordKind::kLog, std::move(ctx.log_handler));
    // The API objects' constructors are private to Client.
    impl->logger.reset(new Logger(&impl->log_front, &impl->min_level));
    impl->tracer.reset(new Tracer(&impl->tracer_core));
    impl->errors.reset(new ErrorReporter(impl->errors_core.get()));
    impl->events.reset(new Events(&impl->log_front, impl->event_bus));
    Tracks tracks{impl->tracer.get(),    impl->logger.get(),        &impl->metrics_track->metrics(),
                  impl->events.get(),    impl->config.service_type, impl->config.machine_id,
                  impl->config.worker_id};
    impl->job = std::make_unique<JobInstrument>(tracks);
    impl->job_errors = std::make_unique<JobErrorCapture>(impl->errors.get());
    impl->job->set_error_capture(impl->job_errors.get());
    impl->workflow = std::make_unique<WorkflowInstrument>(tracks);
    impl->processing = std::make_unique<ProcessingInstrument>(tracks);
    impl->startup = std::make_unique<StartupInstrument>(tracks);
    impl->http_server = std::make_unique<HttpServerInstrument>(tracks, impl->errors.get());
    impl->pipeline->start();
    impl->metrics_track->start();
    return Client(std::move(impl));
  } catch (const std::exception& e) {
    return Error{"client", std::string("could not start the telemetry client: ") + e.what()};
  } catch (...) {
    return Error{"client", "could not start the telemetry client"};
  }
}

Expected<Client> Client::create(const Options& options) noexcept {
  try {
    auto cfg = finalize(options);
    if (!cfg) return cfg.errors();
    return create(std::move(cfg).value());
  } catch (...) {
    return Error{"client", "could not start the telemetry client"};
  }
}

namespace {
Expected<Client> with_preset(Options options, Preset preset) noexcept {
  options.preset = preset;
  return Client::create(options);
}
}  // namespace

Expected<Client> Client::for_api(Options o) noexcept {
  return with_preset(std::move(o), Preset::kApi);
}
Expected<Client> Client::for_webhook(Options o) noexcept {
  return with_preset(std::move(o), Preset::kWebhook);
}
Expected<Client> Client::for_machine(Options o) noexcept {
  return with_preset(std::move(o), Preset::kMachine);
}
Expected<Client> Client::for_worker(Options o) noexcept {
  return with_preset(std::move(o), Preset::kWorker);
}

Logger& Client::log() noexcept { return *impl_->logger; }

namespace {
std::atomic<Logger*> g_default_logger{nullptr};
std::atomic<int> g_no_client_level{0};  // every call reaches the counter
std::uint64_t g_calls_reported = 0;     // guarded by g_default_mu
std::mutex g_default_mu;
}  // namespace

void Client::set_default(Client* client) noexcept {
  std::lock_guard<std::mutex> lock(g_default_mu);
  Logger* logger = client && client->impl_ ? client->impl_->logger.get() : nullptr;
  g_default_logger.store(logger, std::memory_order_release);
  if (logger == nullptr) return;
  const std::uint64_t calls = calls_without_default_client();
  if (calls > g_calls_reported) {
    logger->warn("log calls made while no default client was set were dropped",
                 {{"dropped", static_cast<std::int64_t>(calls - g_calls_reported)}});
    g_calls_reported = calls;
  }
}

Logger& default_log() noexcept {
  if (Logger* l = g_default_logger.load(std::memory_order_acquire)) return *l;
  static Logger no_client(nullptr, &g_no_client_level);
  return no_client;
}
Tracer& Client::tracer() noexcept { return *impl_->tracer; }
const Config& Client::config() const noexcept { return impl_->config; }
ErrorReporter& Client::errors() noexcept { return *impl_->errors; }
Metrics& Client::metrics() noexcept { return impl_->metrics_track->metrics(); }
Events& Client::events() noexcept { return *impl_->events; }
JobInstrument& Client::job() noexcept { return *impl_->job; }
WorkflowInstrument& Client::workflow() noexcept { return *impl_->workflow; }
ProcessingInstrument& Client::processing() noexcept { return *impl_->processing; }
StartupInstrument& Client::startup() noexcept { return *impl_->startup; }
HttpServerInstrument& Client::http_server() noexcept { return *impl_->http_server; }

namespace {

// The destination probes of the pipeline test, off the caller's thread; one
// log line per probed destination (warn when not healthy, with the advice).
void start_connection_test(Client::Impl& i) noexcept {
  try {
    if (i.startup_probe) return;  // once per client
    auto probe = std::make_shared<Client::Impl::StartupProbe>();
    probe->logger = i.logger.get();
    i.startup_probe = probe;
    PipelineTestOptions po;
    po.timeout = std::chrono::milliseconds(5000);
    po.end_to_end = false;
    std::thread([probe, config = i.config, po] {
      std::vector<CheckResult> checks;
      try {
        checks = doctor::probe_all(config, po, "startup");
      } catch (...) {
        return;
      }
      std::lock_guard<std::mutex> lock(probe->mu);
      if (probe->logger == nullptr) return;  // the client shut down meanwhile
      for (const auto& c : checks) {
        if (c.status == CheckStatus::kSkipped) continue;
        const std::int64_t ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(c.total).count();
        probe->logger->log(c.status == CheckStatus::kHealthy ? Level::kInfo : Level::kWarn,
                           "connection test",
                           {{"check", std::string_view(c.name)},
                            {"status", std::string_view(to_string(c.status))},
                            {"target", std::string_view(c.target)},
                            {"reason", std::string_view(c.reason)},
                            {"advice", std::string_view(c.advice)},
                            {"latency_ms", ms}});
      }
    }).detach();
  } catch (...) {
    // No thread: the test is skipped; health() still shows delivery.
  }
}

}  // namespace

void Client::startup(const StartupOptions& options) noexcept {
  Impl& i = *impl_;
  if (options.log_configuration && i.logger->enabled(Level::kInfo)) {
    try {
      // `display` is already masked for secrets.
      std::vector<Field> fields;
      for (const Setting& s : i.config.settings)
        if (s.set) fields.push_back({s.name, FieldValue(std::string_view(s.display))});
      logs::emit(i.log_front, Track::kLogs, {}, Level::kInfo, "effective configuration", fields, 0);
    } catch (...) {
      // Out of memory: the configuration line is skipped.
    }
  }
  if (options.test_connections) start_connection_test(i);
  if (options.send_startup_ping) {
    SpanOptions o;
    o.root = true;
    Span s = i.tracer->start_span("service.startup", o,
                                  {{"lifecycle.stage", "startup"},
                                   {"component.type", std::string_view(i.config.service_type)}});
    Scope scope(s);
    i.events->operational_message({.message = "service started", .component = "startup"});
  }
}

void Client::send_trace(std::string_view name, Attributes attributes,
                        const TraceOptions& options) noexcept {
  SpanOptions o;
  const std::int64_t now = core::now_unix_nano();
  o.start_time_unix_nano =
      now - std::chrono::duration_cast<std::chrono::nanoseconds>(options.duration).count();
  Span s = impl_->tracer->start_span(name, o, attributes);
  if (options.status != StatusCode::kUnset) s.set_status(options.status);
  s.end(now);
}

void Client::send_metric(std::string_view name, double value, MetricFields attributes,
                         std::string_view unit) noexcept {
  impl_->metrics_track->metrics().gauge(name, value, attributes, unit);
}
HealthSnapshot Client::health() const noexcept { return impl_->full_health(); }

std::optional<Error> Client::add_file(std::string_view path_or_glob,
                                      std::string_view tag) noexcept {
  return impl_->tail->add(path_or_glob, tag);
}

Expected<std::string> Client::write_agent_config(Agent agent, AgentFormat format,
                                                 const std::string& dir) const noexcept {
  try {
    std::vector<AgentFile> files;
    for (auto& [path, tag] : impl_->tail->files()) files.push_back({path, tag});
    return emp::telemetry::write_agent_config(agent, format, impl_->config, files, dir);
  } catch (...) {
    return Error{"generate", "out of memory; nothing was written"};
  }
}

namespace {
// Runs the metrics track's part (it has its own reader and delivery worker)
// beside the pipeline's, both under the one deadline: a hung destination of
// either cannot eat the other's time. Without a thread, one after the other.
template <typename MetricsPart, typename PipelinePart>
bool in_parallel(MetricsPart metrics_part, PipelinePart pipeline_part) noexcept {
  bool metrics_ok = false;
  std::thread t;
  try {
    t = std::thread([&] { metrics_ok = metrics_part(); });
  } catch (...) {
    metrics_ok = metrics_part();
  }
  const bool pipeline_ok = pipeline_part();
  if (t.joinable()) t.join();
  return pipeline_ok && metrics_ok;
}
}  // namespace

bool Client::flush(std::chrono::milliseconds timeout) noexcept {
  const auto end = std::chrono::steady_clock::now() + timeout;
  return in_parallel([&] { return impl_->metrics_track->flush(end); },
                     [&] { return impl_->pipeline->flush(timeout); });
}

bool Client::shutdown(std::chrono::milliseconds timeout) noexcept {
  if (impl_->shut_down) return true;
  impl_->shut_down = true;
  {
    Logger* mine = impl_->logger.get();
    g_default_logger.compare_exchange_strong(mine, nullptr, std::memory_order_acq_rel);
  }
  if (impl_->startup_probe) {
    std::lock_guard<std::mutex> lock(impl_->startup_probe->mu);
    impl_->startup_probe->logger = nullptr;
  }
  const auto end = std::chrono::steady_clock::now() + timeout;
  // Subscribers first: events emitted from here on reach the outputs only.
  impl_->event_bus->shutdown(end);
  return in_parallel([&] { return impl_->metrics_track->shutdown(end); },
                     [&] {
                       impl_->tail->begin_shutdown(end);
                       const bool ok = impl_->pipeline->shutdown(timeout);
                       return impl_->tail->finish_shutdown(end) && ok;
                     });
}

}  // namespace emp::telemetry
