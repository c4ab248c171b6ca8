// The metrics track as the client runs it: the MetricsCore (instruments and
// aggregation), a periodic reader thread that collects every
// OTEL_METRIC_EXPORT_INTERVAL and hands OTLP export requests to the track's
// DeliveryWorker (OTLP/HTTP, or OTLP/JSON lines in <log_dir>/otlp-metrics.jsonl
// when no collector is configured), the optional Prometheus endpoint, and
// the machine and self metrics.
//
// flush() and shutdown() collect and export once more within their
// deadline; after shutdown, recording calls are counted as dropped
// (shutdown). Observable callbacks run with the EMP_METRICS_CALLBACK_TIMEOUT
// bound whoever collects (reader, flush, shutdown or a scrape).
//
// Thread-safety: every member may be called from any thread; start() and
// shutdown() once each.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/health.hpp"
#include "encode/otlp_json.hpp"
#include "encode/otlp_proto.hpp"
#include "metrics/deadline_mutex.hpp"
#include "metrics/metrics_core.hpp"
#include "metrics/prometheus_endpoint.hpp"

namespace emp::telemetry::core {
class Pipeline;
}
namespace emp::telemetry::deliver {
class DeliveryWorker;
}

namespace emp::telemetry::metrics {

struct TrackSettings {
  CoreOptions core;
  std::chrono::milliseconds interval{60000};        // OTEL_METRIC_EXPORT_INTERVAL
  std::chrono::milliseconds export_timeout{30000};  // OTEL_METRIC_EXPORT_TIMEOUT; 0 = interval
  bool machine_metrics = false;                     // EMP_MACHINE_METRICS
  std::string disk_path = ".";                      // measured by machine.disk.*
  bool self_metrics = true;                         // EMP_METRICS_SELF
  std::optional<std::uint16_t> prometheus_port;     // EMP_PROMETHEUS_PORT
  std::string prometheus_host = "127.0.0.1";        // EMP_PROMETHEUS_HOST
  std::size_t max_points_per_request = 8192;

  // From a finalized Config. `otlp` says whether OTLP export is on; `dir`
  // is the absolute output directory.
  static TrackSettings from(const Config& config, const std::string& dir, bool otlp);
};

class MetricsTrack {
 public:
  // `sink` may be null (no OTLP export: Prometheus only, or disabled);
  // `pipeline` may be null in tests (no health accounting, no self metrics).
  MetricsTrack(TrackSettings settings, core::Pipeline* pipeline, core::Diagnostics* diagnostics,
               std::unique_ptr<deliver::DeliveryWorker> sink,
               const encode::otlp::Resource& resource, const encode::otlp::Scope& scope);
  ~MetricsTrack();
  MetricsTrack(const MetricsTrack&) = delete;
  MetricsTrack& operator=(const MetricsTrack&) = delete;

  // Starts the reader thread and the Prometheus endpoint.
  void start();
  // What the Prometheus endpoint answers on GET /health. Call before start().
  void set_health(PrometheusEndpoint::Health health) { prometheus_.set_health(std::move(health)); }
  Metrics& metrics() noexcept { return core_.facade(); }
  MetricsCore& core() noexcept { return core_; }
  deliver::DeliveryWorker* sink() noexcept { return sink_.get(); }

  // Collects and exports now, then waits for the destination. False when
  // something could not be collected or delivered by `deadline`.
  bool flush(std::chrono::steady_clock::time_point deadline) noexcept;
  // Stops the reader, refuses later measurements, exports a last time and
  // closes the destination, all by `deadline`. Idempotent.
  bool shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  // One OTLP collection handed to the sink. False when the collection could
  // not be made by `deadline`.
  bool export_now(std::chrono::steady_clock::time_point deadline,
                  const std::atomic<bool>* cancel = nullptr) noexcept;
  // The Prometheus exposition of a cumulative collection.
  bool render_prometheus(std::string& out, std::chrono::steady_clock::time_point deadline) noexcept;

  // The metrics track's share of the health snapshot (measurements accepted).
  void add_health(HealthSnapshot& h) const noexcept { core_.add_health(h); }
  HealthSnapshot health() const noexcept;

 private:
  void run() noexcept;
  void after_fork_child() noexcept;

  const TrackSettings settings_;
  core::Pipeline* const pipeline_;
  MetricsCore core_;
  std::unique_ptr<deliver::DeliveryWorker> sink_;
  encode::otlp::Resource resource_;
  encode::otlp::Scope scope_;
  encode::otlp::ProtoPrelude proto_prelude_;
  encode::otlp::JsonPrelude json_prelude_;
  PrometheusEndpoint prometheus_;

  DeadlineMutex export_mu_;  // keeps exports in collection order
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;       // mu_
  bool shut_down_ = false;  // mu_
  bool started_ = false;    // mu_: the reader thread was started
  std::atomic<bool> cancel_{false};
  std::thread reader_;
};

}  // namespace emp::telemetry::metrics
