// The public metrics API (emp/telemetry/metrics.hpp): thin forwards into the
// MetricsCore that owns instruments and series.
#include "emp/telemetry/metrics.hpp"
#include "metrics/metrics_core.hpp"

namespace emp::telemetry {

std::string_view to_string(InstrumentKind kind) noexcept {
  switch (kind) {
    case InstrumentKind::kCounter:
      return "counter";
    case InstrumentKind::kUpDownCounter:
      return "up_down_counter";
    case InstrumentKind::kGauge:
      return "gauge";
    case InstrumentKind::kHistogram:
      return "histogram";
    case InstrumentKind::kObservableCounter:
      return "observable_counter";
    case InstrumentKind::kObservableUpDownCounter:
      return "observable_up_down_counter";
    case InstrumentKind::kObservableGauge:
      return "observable_gauge";
  }
  return "unknown";
}

void BoundInstrument::apply(metrics::Value v) const noexcept {
  if (series_ != nullptr) series_->instrument->core->apply_bound(series_, v);
}

bool InstrumentHandle::valid() const noexcept { return inst_ != nullptr && inst_->valid; }

void InstrumentHandle::apply(metrics::Value v,
                             metrics::MetricAttributes attributes) const noexcept {
  if (inst_ != nullptr) inst_->core->record_on(inst_, v, attributes);
}

metrics::Series* InstrumentHandle::resolve(metrics::MetricAttributes attributes) const noexcept {
  if (inst_ == nullptr) return nullptr;
  return inst_->core->resolve(inst_, attributes);
}

void ObservableResult::observe_value(metrics::Value v,
                                     metrics::MetricAttributes attributes) noexcept {
  if (buffer_ == nullptr) return;
  try {
    std::lock_guard<std::mutex> lock(buffer_->mu);
    if (buffer_->closed) return;
    if (buffer_->items.size() >= metrics::ObservationBuffer::kMaxObservations) {
      ++buffer_->over_limit;
      return;
    }
    buffer_->items.push_back({metrics::canonicalize(attributes), v});
  } catch (...) {
  }
}

void Metrics::record(InstrumentKind kind, std::string_view name, std::string_view unit,
                     metrics::Value value, metrics::MetricAttributes attributes) noexcept {
  core_->record(kind, name, unit, value, attributes);
}

Counter Metrics::create_counter(std::string_view name, const InstrumentOptions& options) noexcept {
  return Counter(core_->create(InstrumentKind::kCounter, name, options));
}
UpDownCounter Metrics::create_up_down_counter(std::string_view name,
                                              const InstrumentOptions& options) noexcept {
  return UpDownCounter(core_->create(InstrumentKind::kUpDownCounter, name, options));
}
Gauge Metrics::create_gauge(std::string_view name, const InstrumentOptions& options) noexcept {
  return Gauge(core_->create(InstrumentKind::kGauge, name, options));
}
Histogram Metrics::create_histogram(std::string_view name,
                                    const InstrumentOptions& options) noexcept {
  return Histogram(core_->create(InstrumentKind::kHistogram, name, options));
}

namespace {
bool observable(metrics::MetricsCore* core, InstrumentKind kind, std::string_view name,
                ObservableCallback callback, const InstrumentOptions& options) noexcept {
  metrics::Instrument* inst = core->create(kind, name, options, std::move(callback));
  return inst != nullptr && inst->valid;
}
}  // namespace

bool Metrics::create_observable_counter(std::string_view name, ObservableCallback callback,
                                        const InstrumentOptions& options) noexcept {
  return observable(core_, InstrumentKind::kObservableCounter, name, std::move(callback), options);
}
bool Metrics::create_observable_up_down_counter(std::string_view name, ObservableCallback callback,
                                                const InstrumentOptions& options) noexcept {
  return observable(core_, InstrumentKind::kObservableUpDownCounter, name, std::move(callback),
                    options);
}
bool Metrics::create_observable_gauge(std::string_view name, ObservableCallback callback,
                                      const InstrumentOptions& options) noexcept {
  return observable(core_, InstrumentKind::kObservableGauge, name, std::move(callback), options);
}

bool Metrics::enabled() const noexcept { return core_->options().enabled; }
std::uint16_t Metrics::prometheus_port() const noexcept { return core_->prometheus_port(); }
MetricsStats Metrics::stats() const noexcept { return core_->stats(); }

}  // namespace emp::telemetry
