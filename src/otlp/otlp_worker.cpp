#include "otlp/otlp_worker.hpp"

#include "otlp/otlp_http_destination.hpp"
#include "sinks/otlp_file_destination.hpp"

namespace emp::telemetry::otlp {

std::unique_ptr<deliver::DeliveryWorker> make_otlp_worker(
    ExporterKind kind, Track track, deliver::Signal signal, const OtlpExport& exp, const Config& c,
    const std::string& dir, std::string_view file, core::Accounting& accounting, bool primary) {
  deliver::DeliveryWorker::Options so;
  so.primary = primary;
  so.memory_cap = c.delivery_memory_cap;
  so.retry = c.retry;
  so.circuit = c.circuit;
  so.stream = "otlp/" + std::string(deliver::to_string(signal));
  std::vector<std::unique_ptr<deliver::Destination>> dests;
  deliver::ContentType type = deliver::ContentType::kJson;
  if (kind == ExporterKind::kConsole) {
    sinks::FileSink::Options fo;
    fo.path = "/dev/stdout";
    fo.max_bytes = 0;  // never rotated
    dests.push_back(std::make_unique<sinks::OtlpFileDestination>(std::move(fo)));
  } else if (!exp.url.empty()) {
    ExporterSettings es = exporter_settings(signal, exp);
    type = es.content_type;
    so.export_timeout = exp.timeout;
    bool spool = signal == deliver::Signal::kMetrics ? c.spool_metrics : c.spool_enabled;
    if (spool) {
      so.spool_dir = deliver::spool_directory(c.spool_dir, signal, exp.url);
      so.spool.max_bytes = c.spool_max_bytes;
    }
    // Failover endpoints: the same settings, another URL. The spool stays
    // named after the primary: it holds the destination's backlog, wherever
    // it is delivered in the end.
    std::vector<ExporterSettings> failover;
    for (const std::string& url : exp.failover_urls) {
      failover.push_back(es);
      failover.back().url = url;
    }
    dests.push_back(std::make_unique<OtlpHttpDestination>(std::move(es)));
    for (auto& f : failover) dests.push_back(std::make_unique<OtlpHttpDestination>(std::move(f)));
  } else {
    sinks::FileSink::Options fo;
    fo.path = dir + "/" + std::string(file);
    fo.max_bytes = c.log_max_file_bytes;
    fo.max_files = c.log_max_files;
    dests.push_back(std::make_unique<sinks::OtlpFileDestination>(std::move(fo)));
  }
  auto worker = std::make_unique<deliver::DeliveryWorker>(track, std::move(dests), accounting, so);
  worker->set_content_type(type);
  return worker;
}

}  // namespace emp::telemetry::otlp
