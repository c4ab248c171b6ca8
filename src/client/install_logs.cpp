// The log track: JSON-lines files, plus OTLP log export when it is on.
#include "client/client_impl.hpp"
#include "config/parse.hpp"
#include "logs/otlp_log_batcher.hpp"
#include "otlp/otlp_worker.hpp"

namespace emp::telemetry::client {

namespace {
// EMP_LOGS_OTLP: unset exports log records over OTLP when an OTLP logs
// endpoint is configured; true also without one (to a local OTLP/JSON file);
// false never. The value was validated by finalize().
bool logs_otlp_enabled(const Config& c) {
  auto v = c.raw("EMP_LOGS_OTLP");
  if (!v) return !c.otlp_logs.url.empty();
  auto b = config::parse_bool(*v);
  return b.ok() ? b.value() : !c.otlp_logs.url.empty();
}
}  // namespace

std::string install_logs(InstallContext& ctx) {
  const Config& c = ctx.config;
  ctx.log_handler = std::make_unique<logs::LogHandler>(c, ctx.dir, ctx.pipeline.accounting());
  // OTEL_LOGS_EXPORTER: none never exports log records over OTLP; console
  // writes them to stdout as OTLP/JSON lines even without EMP_LOGS_OTLP.
  const bool otlp_logs = c.logs_exporter == ExporterKind::kConsole ||
                         (c.logs_exporter == ExporterKind::kOtlp && logs_otlp_enabled(c));
  if (ctx.otel_on && otlp_logs) {
    auto worker =
        otlp::make_otlp_worker(c.logs_exporter, Track::kLogs, deliver::Signal::kLogs, c.otlp_logs,
                               c, ctx.dir, "otlp-logs.jsonl", ctx.pipeline.accounting(),
                               /*primary=*/false);
    deliver::DeliveryWorker* raw = worker.get();
    ctx.add_destination([raw] { return raw->health(); });
    // As for spans: OTEL_BLRP_MAX_QUEUE_SIZE bounds the records waiting for
    // export when it is set; unset, EMP_DELIVERY_MEMORY_CAP alone does.
    BatchSettings batch = c.log_batch;
    if (!set_by_user(c, "OTEL_BLRP_MAX_QUEUE_SIZE")) batch.max_queue_size = 0;
    auto batcher =
        std::make_unique<logs::OtlpLogBatcher>(batch, ctx.resource, ctx.scope, std::move(worker));
    batcher->set_event_attributes({{"machine_id", c.machine_id},
                                   {"worker_id", c.worker_id},
                                   {"service_type", c.service_type}});
    ctx.log_handler->add_output(std::move(batcher));
  }
  Client::Impl& impl = ctx.impl;
  impl.log_front.pipeline = impl.pipeline.get();
  impl.log_front.max_message_bytes = c.max_message_bytes;
  impl.log_front.max_field_bytes = c.max_field_bytes;
  impl.log_front.max_payload = impl.pipeline->max_payload();
  impl.log_front.source_location = c.log_source_location;
  impl.min_level.store(static_cast<int>(c.log_level));
  return {};
}

}  // namespace emp::telemetry::client
