// The metrics track: instruments, the periodic reader and its OTLP metrics
// destination, the Prometheus endpoint, machine and self metrics.
#include "client/client_impl.hpp"
#include "otlp/otlp_worker.hpp"

namespace emp::telemetry::client {

std::string install_metrics(InstallContext& ctx) {
  const Config& c = ctx.config;
  // Metrics export from the track's own reader thread, through its own worker.
  std::unique_ptr<deliver::DeliveryWorker> worker;
  // OTEL_METRICS_EXPORTER=none: no OTLP export; the Prometheus endpoint still
  // serves the instruments.
  if (ctx.otel_on && c.metrics_exporter != ExporterKind::kNone) {
    worker = otlp::make_otlp_worker(c.metrics_exporter, Track::kMetrics, deliver::Signal::kMetrics,
                                    c.otlp_metrics, c, ctx.dir, "otlp-metrics.jsonl",
                                    ctx.pipeline.accounting(),
                                    /*primary=*/true);
    deliver::DeliveryWorker* raw = worker.get();
    ctx.add_destination([raw] { return raw->health(); });
  }
  ctx.impl.metrics_track = std::make_unique<metrics::MetricsTrack>(
      metrics::TrackSettings::from(c, ctx.dir, ctx.otel_on), ctx.impl.pipeline.get(),
      &ctx.pipeline.diagnostics(), std::move(worker), ctx.resource, ctx.scope);
  return {};
}

}  // namespace emp::telemetry::client
