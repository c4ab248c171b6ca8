// Client: wires a finalized Config into the shared pipeline and the tracks.
#include "emp/telemetry/client.hpp"

#include <filesystem>

#include "client/health_json.hpp"
#include "client/resource.hpp"
#include "config/parse.hpp"
#include "core/pipeline.hpp"
#include "deliver/otlp_http_destination.hpp"
#include "logs/log_handler.hpp"
#include "logs/log_record.hpp"
#include "metrics/metrics_track.hpp"
#include "sinks/otlp_file_destination.hpp"
#include "sinks/otlp_sink.hpp"
#include "trace/span_handler.hpp"
#include "trace/tracer_core.hpp"

namespace emp::telemetry {

// Lets the status-file handler (on the pipeline's thread, which can outlive
// the client when a shutdown deadline abandons it) reach the client safely.
struct StatusLink {
  std::mutex mu;
  std::function<std::string()> status_json;  // empty once the client is gone
};

struct Client::Impl {
  explicit Impl(Config c) : config(std::move(c)) {}
  ~Impl() {
    if (status_link) {
      std::lock_guard<std::mutex> lock(status_link->mu);
      status_link->status_json = nullptr;
    }
  }
  HealthSnapshot full_health() const noexcept {
    HealthSnapshot h = pipeline->health();
    if (metrics_track) metrics_track->add_health(h);
    return h;
  }
  Config config;
  std::unique_ptr<core::Pipeline> pipeline;
  core::LogFrontend log_front;
  std::atomic<int> min_level{0};
  std::unique_ptr<Logger> logger;
  trace::TracerCore tracer_core;
  std::unique_ptr<Tracer> tracer;
  // Declared after the pipeline: destroyed first (its sink counts through it).
  std::unique_ptr<metrics::MetricsTrack> metrics_track;
  bool shut_down = false;
  std::shared_ptr<StatusLink> status_link;
};

namespace {

// Writes the client's health to its status file every EMP_STATUS_INTERVAL
// (and once more at shutdown) for `emp-telemetry health` to read.
class StatusHandler final : public core::RecordHandler {
 public:
  StatusHandler(std::shared_ptr<StatusLink> link, std::string path, std::chrono::milliseconds every)
      : link_(std::move(link)), path_(std::move(path)), every_(every) {}
  void on_record(const std::uint8_t*, std::size_t) noexcept override {}
  bool write_out(std::chrono::steady_clock::time_point) noexcept override { return true; }
  void on_tick(std::chrono::steady_clock::time_point now) noexcept override {
    if (now < next_) return;
    next_ = now + every_;
    write();
  }
  void close(std::chrono::steady_clock::time_point) noexcept override { write(); }

 private:
  void write() noexcept {
    try {
      std::string json;
      {
        std::lock_guard<std::mutex> lock(link_->mu);
        if (!link_->status_json) return;
        json = link_->status_json();
      }
      write_file_atomically(path_, json);
    } catch (...) {
    }
  }
  std::shared_ptr<StatusLink> link_;
  const std::string path_;
  const std::chrono::milliseconds every_;
  std::chrono::steady_clock::time_point next_{};
};

}  // namespace

namespace {
std::string absolute_dir(const std::string& dir) {
  std::error_code ec;
  auto p = std::filesystem::absolute(dir.empty() ? std::string("./telemetry-out") : dir, ec);
  if (ec) return dir;
  return p.lexically_normal().string();
}
// EMP_LOGS_OTLP: unset exports log records over OTLP when an OTLP logs
// endpoint is configured; true also without one (to a local OTLP/JSON file);
// false never. The value was validated by finalize().
bool logs_otlp_enabled(const Config& c) {
  auto v = c.raw("EMP_LOGS_OTLP");
  if (!v) return !c.otlp_logs.url.empty();
  auto b = config::parse_bool(*v);
  return b.ok() ? b.value() : !c.otlp_logs.url.empty();
}

// The OTLP destination of one signal: the configured collector, or in its
// absence a local OTLP/JSON file (the collector file exporter's format).
std::unique_ptr<sinks::OtlpSink> make_otlp_sink(Track track, deliver::Signal signal,
                                                const OtlpExport& exp, const Config& c,
                                                const std::string& dir, std::string_view file,
                                                core::Accounting& accounting, bool primary) {
  sinks::OtlpSink::Options so;
  so.primary = primary;
  so.memory_cap = c.delivery_memory_cap;
  so.retry = c.retry;
  so.circuit = c.circuit;
  std::unique_ptr<deliver::Destination> dest;
  deliver::ContentType type = deliver::ContentType::kJson;
  if (!exp.url.empty()) {
    deliver::ExporterSettings es;
    es.signal = signal;
    es.none_configured = false;
    es.url = exp.url;
    es.endpoint_variable = exp.url_from;
    es.headers = exp.headers;
    es.timeout = exp.timeout;
    es.gzip = exp.gzip;
    type = exp.protocol == OtlpProtocol::kHttpJson ? deliver::ContentType::kJson
                                                   : deliver::ContentType::kProtobuf;
    es.content_type = type;
    es.ca_file = exp.certificate;
    es.client_cert_file = exp.client_certificate;
    es.client_key_file = exp.client_key;
    so.export_timeout = exp.timeout;
    bool spool = signal == deliver::Signal::kMetrics ? c.spool_metrics : c.spool_enabled;
    if (spool) {
      so.spool_dir = deliver::spool_directory(c.spool_dir, signal, exp.url);
      so.spool.max_bytes = c.spool_max_bytes;
    }
    dest = std::make_unique<deliver::OtlpHttpDestination>(std::move(es));
  } else {
    sinks::FileSink::Options fo;
    fo.path = dir + "/" + std::string(file);
    fo.max_bytes = c.log_max_file_bytes;
    fo.max_files = c.log_max_files;
    dest = std::make_unique<sinks::OtlpFileDestination>(std::move(fo));
  }
  auto sink = std::make_unique<sinks::OtlpSink>(track, std::move(dest), accounting, so);
  sink->set_content_type(type);
  return sink;
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
    std::string dir = absolute_dir(c.log_dir);
    auto log_handler = std::make_unique<logs::LogHandler>(c, dir, impl->pipeline->accounting());
    core::Pipeline& pipe = *impl->pipeline;
    auto register_sink = [&pipe](sinks::OtlpSink* sink) {
      pipe.add_destination([sink] { return sink->health(); });
    };
    const bool otel_on = c.otel_enabled && !c.sdk_disabled;
    if (otel_on && logs_otlp_enabled(c)) {
      auto sink = make_otlp_sink(Track::kLogs, deliver::Signal::kLogs, c.otlp_logs, c, dir,
                                 "otlp-logs.jsonl", pipe.accounting(), /*primary=*/false);
      register_sink(sink.get());
      log_handler->set_otlp(std::make_unique<logs::OtlpLogBatcher>(
          c.log_batch, make_resource(c), make_scope(), std::move(sink)));
    }
    pipe.add_handler(core::RecordKind::kLog, std::move(log_handler));
    impl->log_front.pipeline = impl->pipeline.get();
    impl->log_front.max_message_bytes = c.max_message_bytes;
    impl->log_front.max_field_bytes = c.max_field_bytes;
    impl->log_front.max_payload = impl->pipeline->max_payload();
    impl->min_level.store(static_cast<int>(c.log_level));

    auto& tc = impl->tracer_core;
    tc.pipeline = impl->pipeline.get();
    tc.enabled = c.otel_enabled && !c.sdk_disabled;
    tc.max_payload = impl->pipeline->max_payload();
    tc.limits.attribute_count = c.span_attribute_count_limit;
    tc.limits.attribute_value_length =
        c.span_attribute_value_length_limit.value_or(c.attribute_value_length_limit.value_or(0));
    tc.limits.event_count = c.span_event_count_limit;
    tc.limits.link_count = c.span_link_count_limit;
    tc.limits.event_attribute_count = c.attribute_count_limit;
    tc.limits.link_attribute_count = c.attribute_count_limit;
    auto sampler = trace::make_sampler(c.sampler, c.sampler_ratio, c.sampler_rules, c.export_error_spans);
    if (!sampler) return sampler.errors();
    tc.sampler = std::move(sampler).value();
    if (tc.enabled) {
      auto resource = make_resource(c);
      auto scope = make_scope();
      auto sink = make_otlp_sink(Track::kTraces, deliver::Signal::kTraces, c.otlp_traces, c, dir,
                                 "otlp-traces.jsonl", pipe.accounting(), /*primary=*/true);
      register_sink(sink.get());
      pipe.add_handler(core::RecordKind::kSpan,
                       std::make_unique<trace::SpanHandler>(c.span_batch, resource, scope,
                                                            std::move(sink), pipe.accounting()));
    }
    impl->tracer.reset(new Tracer(&impl->tracer_core));
    impl->logger.reset(new Logger(&impl->log_front, &impl->min_level));
    {
      // Metrics export from the track's own reader thread, through its own sink.
      std::unique_ptr<sinks::OtlpSink> sink;
      if (otel_on) {
        sink = make_otlp_sink(Track::kMetrics, deliver::Signal::kMetrics, c.otlp_metrics, c, dir,
                              "otlp-metrics.jsonl", pipe.accounting(), /*primary=*/true);
        register_sink(sink.get());
      }
      impl->metrics_track = std::make_unique<metrics::MetricsTrack>(
          metrics::TrackSettings::from(c, dir, otel_on), impl->pipeline.get(), &pipe.diagnostics(),
          std::move(sink), make_resource(c), make_scope());
    }
    if (c.status_interval.count() > 0) {
      impl->status_link = std::make_shared<StatusLink>();
      Impl* raw = impl.get();
      impl->status_link->status_json = [raw] {
        return health_to_json(raw->full_health(), raw->config, raw->config.status_interval);
      };
      pipe.add_handler(core::RecordKind::kStatus,
                       std::make_unique<StatusHandler>(impl->status_link,
                                                       status_file_path(dir, c), c.status_interval));
    }
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

Expected<Client> Client::for_api(Options o) noexcept { return with_preset(std::move(o), Preset::kApi); }
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
HealthSnapshot Client::health() const noexcept { return impl_->full_health(); }

namespace {
// The metrics track gets half of a flush or shutdown budget at most, so a
// hung metrics collector cannot eat the time the log and trace queues need.
std::chrono::steady_clock::time_point metrics_deadline(std::chrono::milliseconds timeout) {
  return std::chrono::steady_clock::now() + timeout / 2;
}
std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point end) {
  const auto now = std::chrono::steady_clock::now();
  if (now >= end) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(end - now);
}
}  // namespace

bool Client::flush(std::chrono::milliseconds timeout) noexcept {
  const auto end = std::chrono::steady_clock::now() + timeout;
  const bool metrics_ok = impl_->metrics_track->flush(metrics_deadline(timeout));
  return impl_->pipeline->flush(left_until(end)) && metrics_ok;
}

bool Client::shutdown(std::chrono::milliseconds timeout) noexcept {
  if (impl_->shut_down) return true;
  impl_->shut_down = true;
  const auto end = std::chrono::steady_clock::now() + timeout;
  const bool metrics_ok = impl_->metrics_track->shutdown(metrics_deadline(timeout));
  return impl_->pipeline->shutdown(left_until(end)) && metrics_ok;
}

}  // namespace emp::telemetry
