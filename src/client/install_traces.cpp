// The trace track: the tracer's limits and sampler, and the batch span
// processor in front of the OTLP traces destination.
#include "client/client_impl.hpp"
#include "config/parse.hpp"
#include "otlp/otlp_worker.hpp"
#include "sentry/sentry_destination.hpp"
#include "sentry/transactions.hpp"
#include "trace/span_handler.hpp"

namespace emp::telemetry::client {

std::string install_traces(InstallContext& ctx) {
  const Config& c = ctx.config;
  Client::Impl& impl = ctx.impl;
  auto& tc = impl.tracer_core;
  tc.pipeline = impl.pipeline.get();
  // OTEL_TRACES_EXPORTER=none: spans are not recorded at all, as with the
  // SDK off for traces (nothing would receive them).
  tc.enabled = ctx.otel_on && c.traces_exporter != ExporterKind::kNone;
  tc.max_payload = impl.pipeline->max_payload();
  tc.limits.attribute_count = c.span_attribute_count_limit;
  tc.limits.attribute_value_length =
      c.span_attribute_value_length_limit.value_or(c.attribute_value_length_limit.value_or(0));
  tc.limits.event_count = c.span_event_count_limit;
  tc.limits.link_count = c.span_link_count_limit;
  tc.limits.event_attribute_count = c.attribute_count_limit;
  tc.limits.link_attribute_count = c.attribute_count_limit;
  auto sampler =
      trace::make_sampler(c.sampler, c.sampler_ratio, c.sampler_rules, c.export_error_spans);
  if (!sampler)
    return sampler.errors().empty() ? "invalid sampler" : sampler.errors()[0].to_string();
  tc.sampler = std::move(sampler).value();
  if (tc.enabled) {
    auto worker = otlp::make_otlp_worker(
        c.traces_exporter, Track::kTraces, deliver::Signal::kTraces, c.otlp_traces, c, ctx.dir,
        "otlp-traces.jsonl", ctx.pipeline.accounting(), /*primary=*/true);
    deliver::DeliveryWorker* raw = worker.get();
    ctx.add_destination([raw] { return raw->health(); });
    // OTEL_BSP_MAX_QUEUE_SIZE bounds the spans waiting for export when it is
    // set. Unset, the backlog is bounded by EMP_DELIVERY_MEMORY_CAP alone, so
    // that an outage inside the memory budget loses nothing (docs/delivery.md).
    BatchSettings batch = c.span_batch;
    if (!set_by_user(c, "OTEL_BSP_MAX_QUEUE_SIZE")) batch.max_queue_size = 0;
    auto handler = std::make_unique<trace::SpanHandler>(
        batch, ctx.resource, ctx.scope, std::move(worker), ctx.pipeline.accounting());
    if (c.sentry_traces_sample_rate > 0 && !c.sentry_dsn.empty()) {
      auto dsn = config::parse_sentry_dsn(c.sentry_dsn);
      if (!dsn) return "SENTRY_DSN " + dsn.error().rule;
      sentry::SentrySettings ss;
      ss.dsn = dsn.value();
      ss.category = "transaction";
      ss.gzip_level = c.compression_level;
      deliver::DeliveryWorker::Options so;
      so.primary = false;  // the OTLP destination is the track's own
      so.memory_cap = c.delivery_memory_cap;
      so.retry = c.retry;
      so.circuit = c.circuit;
      so.stream = "sentry/transactions";
      auto tx_worker = std::make_unique<deliver::DeliveryWorker>(
          Track::kTraces,
          std::make_unique<sentry::SentryDestination>(std::move(ss),
                                                      std::make_shared<sentry::ClientReports>()),
          ctx.pipeline.accounting(), so);
      deliver::DeliveryWorker* tx_raw = tx_worker.get();
      ctx.add_destination([tx_raw] { return tx_raw->health(); });
      sentry::TransactionSettings ts;
      ts.sample_rate = c.sentry_traces_sample_rate;
      ts.public_key = dsn.value().public_key;
      ts.environment = c.environment_name;
      ts.release = c.service_version;
      ts.server_name = c.machine_id;
      ts.service_name = c.service_name;
      handler->set_transactions(
          std::make_unique<sentry::TransactionBuilder>(std::move(ts), std::move(tx_worker)));
    }
    ctx.pipeline.add_handler(core::RecordKind::kSpan, std::move(handler));
  }
  return {};
}

}  // namespace emp::telemetry::client
