// Client: wires a finalized Config into the shared pipeline and the tracks.
#include "emp/telemetry/client.hpp"

#include <filesystem>
#include <thread>

#include "client/client_impl.hpp"
#include "client/resource.hpp"
#include "core/clock.hpp"
#include "events/bus.hpp"

namespace emp::telemetry {

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
    for (const auto& n : config.notices) core::Diagnostics::notice_once(n);
    auto impl = std::make_unique<Impl>(std::move(config));
    const Config& c = impl->config;
    core::Pipeline::Options po;
    po.ring_bytes = c.queue_bytes_per_thread;
    po.policy = c.queue_full_policy;
    po.block_timeout = c.queue_block_timeout;
    po.flush_interval = c.flush_interval;
    impl->pipeline = std::make_unique<core::Pipeline>(po);
    client::InstallContext ctx{*impl, impl->config, *impl->pipeline, absolute_dir(c.log_dir)};
    ctx.resource = make_resource(c);
    ctx.scope = make_scope();
    ctx.otel_on = c.otel_enabled && !c.sdk_disabled;
    // The log handler goes into the pipeline last: the installers before
    // that may give it outputs.
    for (auto install : {client::install_logs, client::install_traces, client::install_metrics,
                         client::install_status, client::install_forward, client::install_events}) {
      std::string problem = install(ctx);
      if (!problem.empty()) return Error{"client", problem};
    }
    ctx.pipeline.add_handler(core::RecordKind::kLog, std::move(ctx.log_handler));
    // The API objects' constructors are private to Client.
    impl->logger.reset(new Logger(&impl->log_front, &impl->min_level));
    impl->tracer.reset(new Tracer(&impl->tracer_core));
    impl->events.reset(new Events(&impl->log_front, impl->event_bus));
    Tracks tracks{impl->tracer.get(),    impl->logger.get(),        &impl->metrics_track->metrics(),
                  impl->events.get(),    impl->config.service_type, impl->config.machine_id,
                  impl->config.worker_id};
    impl->job = std::make_unique<JobInstrument>(tracks);
    impl->workflow = std::make_unique<WorkflowInstrument>(tracks);
    impl->processing = std::make_unique<ProcessingInstrument>(tracks);
    impl->startup = std::make_unique<StartupInstrument>(tracks);
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
Tracer& Client::tracer() noexcept { return *impl_->tracer; }
const Config& Client::config() const noexcept { return impl_->config; }
Metrics& Client::metrics() noexcept { return impl_->metrics_track->metrics(); }
Events& Client::events() noexcept { return *impl_->events; }
JobInstrument& Client::job() noexcept { return *impl_->job; }
WorkflowInstrument& Client::workflow() noexcept { return *impl_->workflow; }
ProcessingInstrument& Client::processing() noexcept { return *impl_->processing; }
StartupInstrument& Client::startup() noexcept { return *impl_->startup; }

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
  if (options.test_connections) {
    i.logger->warn(
        "connection test not available: destinations are not probed at start-up; "
        "their state shows in health() once data flows");
  }
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
  const auto end = std::chrono::steady_clock::now() + timeout;
  // Subscribers first: events emitted from here on reach the outputs only.
  impl_->event_bus->shutdown(end);
  return in_parallel([&] { return impl_->metrics_track->shutdown(end); },
                     [&] { return impl_->pipeline->shutdown(timeout); });
}

}  // namespace emp::telemetry
