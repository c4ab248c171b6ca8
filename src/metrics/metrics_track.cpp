#include "metrics/metrics_track.hpp"

#include <new>

#include "core/pipeline.hpp"
#include "deliver/worker.hpp"
#include "encode/otlp_metrics.hpp"
#include "encode/otlp_metrics_json.hpp"
#include "encode/prometheus_text.hpp"
#include "metrics/machine_metrics.hpp"
#include "metrics/self_metrics.hpp"

namespace emp::telemetry::metrics {

namespace otlp = encode::otlp;
using Clock = std::chrono::steady_clock;

namespace {

std::size_t point_count(const otlp::MetricData& m) noexcept {
  return m.number_points.size() + m.histogram_points.size() + m.exponential_points.size();
}

// Splits a metric with more than `max` points into several with the same
// identity, so no request grows without bound.
void split_into(otlp::MetricData&& m, std::size_t max, std::vector<otlp::MetricData>& out) {
  if (point_count(m) <= max) {
    out.push_back(std::move(m));
    return;
  }
  auto piece = [&](auto member) {
    auto& points = m.*member;
    for (std::size_t i = 0; i < points.size(); i += max) {
      otlp::MetricData part;
      part.name = m.name;
      part.description = m.description;
      part.unit = m.unit;
      part.kind = m.kind;
      part.temporality = m.temporality;
      part.monotonic = m.monotonic;
      const std::size_t end = std::min(points.size(), i + max);
      auto& dst = part.*member;
      dst.assign(std::make_move_iterator(points.begin() + static_cast<std::ptrdiff_t>(i)),
                 std::make_move_iterator(points.begin() + static_cast<std::ptrdiff_t>(end)));
      out.push_back(std::move(part));
    }
  };
  piece(&otlp::MetricData::number_points);
  piece(&otlp::MetricData::histogram_points);
  piece(&otlp::MetricData::exponential_points);
}

}  // namespace

TrackSettings TrackSettings::from(const Config& c, const std::string& dir, bool otlp) {
  TrackSettings s;
  s.prometheus_port = c.prometheus_port;
  s.prometheus_host = c.prometheus_host;
  s.core.enabled = otlp || s.prometheus_port.has_value();
  s.core.temporality = c.metrics_temporality;
  s.core.cardinality_limit = c.metrics_cardinality_limit;
  s.core.callback_timeout = c.metrics_callback_timeout;
  s.interval = c.metric_export_interval;
  s.export_timeout = c.metric_export_timeout;
  s.machine_metrics = c.machine_metrics;
  s.self_metrics = c.metrics_self;
  s.disk_path = dir;
  return s;
}

MetricsTrack::MetricsTrack(TrackSettings settings, core::Pipeline* pipeline,
                           core::Diagnostics* diagnostics,
                           std::unique_ptr<deliver::DeliveryWorker> sink,
                           const otlp::Resource& resource, const otlp::Scope& scope)
    : settings_(std::move(settings)),
      pipeline_(pipeline),
      core_(settings_.core, pipeline, diagnostics),
      sink_(std::move(sink)),
      resource_(resource),
      scope_(scope),
      proto_prelude_(resource, scope),
      json_prelude_(resource, scope) {
  if (!settings_.core.enabled) return;
  MetricsCore::ForkHooks hooks;
  hooks.prepare = [this] {
    mu_.lock();
    if (sink_) sink_->prepare_fork();
  };
  hooks.release = [this] {
    if (sink_) sink_->release_fork_locks();
    mu_.unlock();
  };
  hooks.child = [this] { after_fork_child(); };
  core_.set_fork_hooks(std::move(hooks));
  if (settings_.machine_metrics) register_machine_metrics(core_, settings_.disk_path);
  if (settings_.self_metrics && pipeline_ != nullptr) {
    register_self_metrics(core_, [this] { return health(); });
  }
}

MetricsTrack::~MetricsTrack() { shutdown(Clock::now()); }

HealthSnapshot MetricsTrack::health() const noexcept {
  HealthSnapshot h;
  if (pipeline_ != nullptr) h = pipeline_->health();
  core_.add_health(h);
  return h;
}

void MetricsTrack::start() {
  if (!settings_.core.enabled) return;
  if (settings_.prometheus_port) {
    std::string error;
    const bool ok = prometheus_.start(
        settings_.prometheus_host, *settings_.prometheus_port,
        [this](std::string& body) {
          // A scrape waits at most 10 s (Prometheus's default scrape timeout).
          return render_prometheus(body, Clock::now() + std::chrono::seconds(10));
        },
        error);
    if (ok) {
      core_.set_prometheus_port(prometheus_.port());
      core::Diagnostics::notice_once("Prometheus metrics on http://" + settings_.prometheus_host +
                                     ":" + std::to_string(prometheus_.port()) + "/metrics");
    } else {
      core_.diagnostics().report("prometheus_endpoint",
                                 "Prometheus endpoint not started: " + error);
    }
  }
  if (sink_) {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
    reader_ = std::thread([this] { run(); });
  }
}

void MetricsTrack::after_fork_child() noexcept {
  // Only the forking thread exists here. The parent's threads are forgotten
  // without join or detach; what they waited on is made anew.
  new (&reader_) std::thread();
  new (&cv_) std::condition_variable();
  new (&export_mu_) DeadlineMutex();
  prometheus_.forget_after_fork();  // the listening socket stays the parent's
  core_.set_prometheus_port(0);
  if (sink_) sink_->after_fork_child();
  std::lock_guard<std::mutex> lock(mu_);
  if (started_ && !stop_ && sink_) {
    try {
      reader_ = std::thread([this] { run(); });
    } catch (...) {
      core_.diagnostics().report("metrics_reader_fork",
                                 "metrics reader thread could not be restarted after fork(); "
                                 "metrics are exported only by flush() and shutdown()");
    }
  }
}

void MetricsTrack::run() noexcept {
  auto next = Clock::now() + settings_.interval;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_until(lock, next, [&] { return stop_; });
    if (stop_) break;
    lock.unlock();
    const auto budget =
        settings_.export_timeout.count() > 0 ? settings_.export_timeout : settings_.interval;
    export_now(Clock::now() + budget, &cancel_);
    lock.lock();
    const auto now = Clock::now();
    next += settings_.interval;
    if (next <= now) next = now + settings_.interval;  // fell behind: do not catch up in a burst
  }
}

bool MetricsTrack::export_now(Clock::time_point deadline,
                              const std::atomic<bool>* cancel) noexcept {
  if (!sink_ || !settings_.core.enabled) return true;
  core_.check_fork();
  try {
    std::unique_lock<DeadlineMutex> order(export_mu_, std::defer_lock);
    if (!order.try_lock_until(deadline)) return false;
    std::vector<otlp::MetricData> data;
    if (!core_.collect(CollectFor::kOtlp, data, deadline, cancel)) return false;
    std::vector<otlp::MetricData> parts;
    const std::size_t max = std::max<std::size_t>(1, settings_.max_points_per_request);
    for (auto& m : data) split_into(std::move(m), max, parts);
    std::vector<otlp::MetricData> batch;
    std::size_t points = 0;
    auto send = [&] {
      if (batch.empty()) return;
      deliver::Payload p;
      p.signal = deliver::Signal::kMetrics;
      p.items = points;
      p.content_type = sink_->content_type();
      p.bytes.reserve(points * 96 + 256);
      if (p.content_type == deliver::ContentType::kJson) {
        otlp::encode_metrics_request_json(json_prelude_, batch, p.bytes);
      } else {
        otlp::encode_metrics_request(proto_prelude_, batch, p.bytes);
      }
      core_.count_exported(points);
      sink_->submit(std::move(p));
      batch.clear();
      points = 0;
    };
    for (auto& m : parts) {
      const std::size_t n = point_count(m);
      if (points + n > max) send();
      points += n;
      batch.push_back(std::move(m));
    }
    send();
    return true;
  } catch (...) {
    core_.diagnostics().report("metrics_export", "metrics export failed: out of memory");
    return false;
  }
}

bool MetricsTrack::render_prometheus(std::string& out, Clock::time_point deadline) noexcept {
  try {
    std::vector<otlp::MetricData> data;
    if (!core_.collect(CollectFor::kPrometheus, data, deadline, &cancel_)) return false;
    encode::PrometheusTextOptions o;
    o.resource = &resource_;
    o.scope = &scope_;
    encode::encode_prometheus_text(data, o, out);
    return true;
  } catch (...) {
    return false;
  }
}

bool MetricsTrack::flush(Clock::time_point deadline) noexcept {
  if (settings_.core.enabled) core_.check_fork();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return true;
  }
  bool ok = export_now(deadline);
  if (sink_) ok = sink_->wait_idle(deadline) && ok;
  return ok;
}

bool MetricsTrack::shutdown(Clock::time_point deadline) noexcept {
  if (settings_.core.enabled) core_.check_fork();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return true;
    shut_down_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  cancel_.store(true, std::memory_order_release);  // a callback wait in the reader ends now
  if (reader_.joinable()) reader_.join();
  prometheus_.stop();
  core_.set_prometheus_port(0);
  // Measurements from here on are refused (counted), so the last export
  // holds everything that was accepted.
  core_.close();
  bool ok = export_now(deadline);
  if (sink_) ok = sink_->shutdown(deadline) && ok;
  return ok;
}

}  // namespace emp::telemetry::metrics
