// The errors track: the shared core behind Client::errors(), its handler on
// the pipeline, the Sentry destination (SENTRY_DSN set; else events go to
// <LOG_DIR>/sentry-events.jsonl), the crash handler whose records the next
// start sends, and the breadcrumbs taken from warn and error log lines and
// from spans that end in error.
#include <string>

#include "client/client_impl.hpp"
#include "config/parse.hpp"
#include "errors/errors_handler.hpp"
#include "forward/forward_log_output.hpp"
#include "logs/log_output.hpp"
#include "sentry/sentry_destination.hpp"
#include "sinks/otlp_file_destination.hpp"

namespace emp::telemetry::client {

namespace {

// Warn and error log lines become breadcrumbs (Sentry's SDKs do the same with
// their logging integrations), so an event shows what was logged before it.
class BreadcrumbLogOutput final : public logs::LogOutput {
 public:
  explicit BreadcrumbLogOutput(std::shared_ptr<errors::ErrorsCore> core) : core_(std::move(core)) {}
  void add(const logs::DecodedLog& record, std::string_view) noexcept override {
    if (record.level < Level::kWarn) return;
    try {
      Breadcrumb b;
      b.type = record.level >= Level::kError ? "error" : "default";
      b.category = "log";
      b.level = record.level == Level::kCritical ? ErrorLevel::kFatal
                : record.level == Level::kError  ? ErrorLevel::kError
                                                 : ErrorLevel::kWarning;
      b.message = std::string(record.message);
      b.timestamp = static_cast<double>(record.time_unix_nano) / 1e9;
      for (const Field& f : record.fields) {
        std::string value;
        switch (f.value.type()) {
          case FieldValue::Type::kString:
            value = std::string(f.value.as_string());
            break;
          case FieldValue::Type::kInt:
            value = std::to_string(f.value.as_int());
            break;
          case FieldValue::Type::kDouble:
            value = std::to_string(f.value.as_double());
            break;
          case FieldValue::Type::kBool:
            value = f.value.as_int() ? "true" : "false";
            break;
          case FieldValue::Type::kNull:
            value = "null";
            break;
        }
        b.data.emplace_back(std::string(f.key), std::move(value));
      }
      core_->add_breadcrumb(std::move(b));
    } catch (...) {
    }
  }
  bool flush(std::chrono::steady_clock::time_point) noexcept override { return true; }
  void close(std::chrono::steady_clock::time_point) noexcept override {}

 private:
  std::shared_ptr<errors::ErrorsCore> core_;
};

}  // namespace

std::string install_errors(InstallContext& ctx) {
  const Config& c = ctx.config;
  Client::Impl& impl = ctx.impl;
  auto core = std::make_shared<errors::ErrorsCore>();
  core->pipeline = &ctx.pipeline;
  core->sample_rate = c.sentry_sample_rate;

  deliver::DeliveryWorker::Options so;
  so.memory_cap = c.delivery_memory_cap;
  so.retry = c.retry;
  so.circuit = c.circuit;
  std::unique_ptr<deliver::Destination> dest;
  if (!c.sentry_dsn.empty()) {
    auto dsn = config::parse_sentry_dsn(c.sentry_dsn);
    if (!dsn) return "SENTRY_DSN " + dsn.error().rule;
    sentry::SentrySettings ss;
    ss.dsn = dsn.value();
    ss.gzip_level = c.compression_level;
    so.stream = "sentry/errors";
    if (c.spool_enabled) {
      so.spool_dir = forward::stream_spool_directory(c.spool_dir, so.stream, ss.dsn.redacted());
      so.spool.max_bytes = c.spool_max_bytes;
    }
    dest = std::make_unique<sentry::SentryDestination>(std::move(ss), core->reports);
    core->sending = true;
  } else {
    sinks::FileSink::Options fo;
    fo.path = ctx.dir + "/sentry-events.jsonl";
    fo.max_bytes = c.log_max_file_bytes;
    fo.max_files = c.log_max_files;
    so.stream = "file/errors";
    dest = std::make_unique<sinks::OtlpFileDestination>(std::move(fo));
  }
  core->enabled = true;
  auto worker = std::make_unique<deliver::DeliveryWorker>(Track::kErrors, std::move(dest),
                                                          ctx.pipeline.accounting(), so);
  deliver::DeliveryWorker* raw = worker.get();
  ctx.add_destination([raw] { return raw->health(); });

  errors::ErrorsHandler::Options ho;
  ho.service = {c.service_name, c.service_type,     c.machine_id,
                c.worker_id,    c.environment_name, c.service_version};
  ho.envelopes = core->sending;
  if (core->sending && !c.spool_dir.empty()) {
    // Crashes are recorded where `emp-telemetry crash` and every client look.
    ho.crash_dir = c.spool_dir + "/crash";
    impl.crash_context = std::make_unique<errors::CrashContext>();
    auto handler = errors::CrashHandler::install({ho.crash_dir, impl.crash_context.get()});
    if (handler) {
      impl.crash_handler = std::make_unique<errors::CrashHandler>(std::move(handler).value());
      ho.crash_context = impl.crash_context.get();
    } else {
      ctx.pipeline.diagnostics().report("errors",
                                        "crash capture is off: " + handler.errors()[0].to_string());
    }
  }
  if (ctx.log_handler) ctx.log_handler->add_output(std::make_unique<BreadcrumbLogOutput>(core));
  // Spans that end in error become breadcrumbs too, as a Sentry SDK's
  // tracing integration records them.
  impl.tracer_core.on_error_end = [c = core.get()](std::string_view name, std::string_view message,
                                                   const SpanContext& context) {
    Breadcrumb b;
    b.type = "error";
    b.category = "span";
    b.level = ErrorLevel::kError;
    b.message = "span " + std::string(name) + " ended in error";
    if (!message.empty()) b.message += ": " + std::string(message);
    b.data = {{"trace_id", context.trace_id.to_hex()}, {"span_id", context.span_id.to_hex()}};
    c->add_breadcrumb(std::move(b));
  };
  ctx.pipeline.add_handler(core::RecordKind::kError,
                           std::make_unique<errors::ErrorsHandler>(
                               core, std::move(worker), ctx.pipeline.accounting(), std::move(ho)));
  impl.errors_core = std::move(core);
  return {};
}

}  // namespace emp::telemetry::client
