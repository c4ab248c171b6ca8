// The metrics track: OpenTelemetry instruments aggregated in place on the
// caller's thread, collected by a reader thread every
// OTEL_METRIC_EXPORT_INTERVAL and exported over OTLP, plus an opt-in
// Prometheus /metrics endpoint (EMP_PROMETHEUS_PORT).
//
//   auto& m = t->metrics();
//   m.counter("jobs_processed_total", 1, {{"service_type", "comfyui"}, {"status", "completed"}});
//   m.gauge("active_jobs_count", 12, {{"service_type", "comfyui"}});
//   m.histogram("job_duration_seconds", 28.5, {{"service_type", "comfyui"}}, "s");
//
//   // Hot paths: look the instrument and the attribute set up once.
//   BoundCounter done = m.create_counter("jobs_processed_total").bind({{"status", "completed"}});
//   done.add(1);
//
//   // Observable instruments: the callback runs on the reader thread.
//   m.create_observable_gauge("queue_depth", [&](ObservableResult& r) { r.observe(q.size()); });
//
// Recording: an instrument is found by name and a series by its attribute
// set through lock-free lookups; the value goes into the series' cell with
// relaxed atomics. The first measurement of a new instrument or attribute
// set takes a lock and allocates; after that nothing is allocated or locked
// (exponential histograms, an option, take a per-series spin lock).
//
// Rules (OpenTelemetry): names match [A-Za-z][A-Za-z0-9_.\-/]{0,254} and are
// case-insensitive; a name keeps the kind and unit it was first used with.
// A call with a bad name, a different kind, or a different non-empty unit is
// reported once (diagnostics) and dropped. NaN and infinite values, and
// negative counter increments, are dropped. Each instrument keeps at most
// EMP_METRICS_CARDINALITY_LIMIT (2000) attribute sets; later sets are added
// to one overflow series with the attribute otel.metric.overflow=true.
//
// Accounting (health().track(Track::kMetrics)):
//   offered   measurements passed to any recording call (observations made
//             by observable callbacks are the reader's own and not counted)
//   accepted  measurements added to a series (the overflow series included)
//   dropped   measurements refused at the call: `rejected` (bad value, bad
//             name, conflicting kind or unit), `shutdown` (after shutdown);
//             and data points lost on the way out, counted by the
//             destination like any export (`queue_full`, `rejected`,
//             `retry_exhausted`, `shutdown`...)
//   written   data points the OTLP destination accepted (one per series per
//             export).
// Measurements and data points are different units: a counter incremented a
// million times in one interval is one data point.
//
// Thread-safety: every call is noexcept and may be made from any thread.
// Instrument handles and bound handles are plain pointers into the client:
// cheap to copy, valid while the client lives.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "emp/telemetry/field.hpp"

namespace emp::telemetry {

namespace metrics {
class MetricsCore;
class CallbackRunner;
struct Instrument;
struct Series;
struct ObservationBuffer;

// The internal view of a measurement's attributes. Never keep one built
// from a braced list: the list dies at the end of the statement.
using MetricAttributes = FieldList;

}  // namespace metrics

// The attribute set of a measurement: typed key/values (string, int, double,
// bool), given as a braced list, or as a span/vector of Field built at run
// time. Views only: the call copies what it keeps. Null values are ignored,
// a key given twice keeps its last value, and order does not matter ({a,b}
// and {b,a} are one series). To reuse a set, keep it in a
// `std::initializer_list<Field>` or `std::vector<Field>` variable.
using MetricFields = std::initializer_list<Field>;

enum class InstrumentKind : std::uint8_t {
  kCounter = 0,
  kUpDownCounter,
  kGauge,
  kHistogram,
  kObservableCounter,
  kObservableUpDownCounter,
  kObservableGauge,
};
std::string_view to_string(InstrumentKind kind) noexcept;  // "counter", "up_down_counter", ...

// The default explicit bucket boundaries (OpenTelemetry specification).
inline constexpr double kDefaultHistogramBoundaries[] = {
    0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000};

struct InstrumentOptions {
  std::string_view unit;         // UCUM, e.g. "s", "By", "{job}"; empty = none
  std::string_view description;  // free text
  // Histograms: explicit bucket boundaries, finite and strictly increasing.
  // Empty = kDefaultHistogramBoundaries. Invalid lists are reported and the
  // default is used.
  std::vector<double> boundaries;
  // Histograms: a base-2 exponential histogram instead of explicit buckets.
  bool exponential = false;
  std::int32_t exponential_max_size = 160;  // buckets per sign, 2..16384
  std::int32_t exponential_max_scale = 20;  // starting (finest) scale, -10..20
};

template <typename T>
concept MetricNumber = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

namespace metrics {
// A measurement's value: integers stay exact; a double makes the instrument's
// exported points doubles from then on.
struct Value {
  std::int64_t i = 0;
  double d = 0;
  bool is_double = false;

  template <MetricNumber T>
  static constexpr Value of(T v) noexcept {
    if constexpr (std::is_floating_point_v<T>) {
      return Value{0, static_cast<double>(v), true};
    } else if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      if (v > static_cast<T>(std::numeric_limits<std::int64_t>::max()))
        return Value{0, static_cast<double>(v), true};
      return Value{static_cast<std::int64_t>(v), 0, false};
    } else {
      return Value{static_cast<std::int64_t>(v), 0, false};
    }
  }
};
}  // namespace metrics

// A series of one synchronous instrument resolved once: add/record go
// straight to its cell (no lookup). Default-constructed handles do nothing.
class BoundInstrument {
 public:
  BoundInstrument() noexcept = default;
  bool valid() const noexcept { return series_ != nullptr; }

 protected:
  explicit BoundInstrument(metrics::Series* s) noexcept : series_(s) {}
  void apply(metrics::Value v) const noexcept;
  metrics::Series* series_ = nullptr;
};

class BoundCounter : public BoundInstrument {
 public:
  BoundCounter() noexcept = default;
  template <MetricNumber T>
  void add(T value) const noexcept {
    apply(metrics::Value::of(value));
  }

 private:
  friend class Counter;
  using BoundInstrument::BoundInstrument;
};

class BoundUpDownCounter : public BoundInstrument {
 public:
  BoundUpDownCounter() noexcept = default;
  template <MetricNumber T>
  void add(T value) const noexcept {
    apply(metrics::Value::of(value));
  }

 private:
  friend class UpDownCounter;
  using BoundInstrument::BoundInstrument;
};

class BoundGauge : public BoundInstrument {
 public:
  BoundGauge() noexcept = default;
  template <MetricNumber T>
  void record(T value) const noexcept {
    apply(metrics::Value::of(value));
  }

 private:
  friend class Gauge;
  using BoundInstrument::BoundInstrument;
};

class BoundHistogram : public BoundInstrument {
 public:
  BoundHistogram() noexcept = default;
  template <MetricNumber T>
  void record(T value) const noexcept {
    apply(metrics::Value::of(value));
  }

 private:
  friend class Histogram;
  using BoundInstrument::BoundInstrument;
};

// Handle of a synchronous instrument. A handle refused at creation (bad
// name, conflicting kind or unit) counts its calls as rejected; a
// default-constructed one does nothing.
class InstrumentHandle {
 public:
  InstrumentHandle() noexcept = default;
  bool valid() const noexcept;

 protected:
  explicit InstrumentHandle(metrics::Instrument* i) noexcept : inst_(i) {}
  void apply(metrics::Value v, metrics::MetricAttributes attributes) const noexcept;
  metrics::Series* resolve(metrics::MetricAttributes attributes) const noexcept;
  metrics::Instrument* inst_ = nullptr;
  friend class Metrics;
};

class Counter : public InstrumentHandle {
 public:
  Counter() noexcept = default;
  // `value` must be >= 0.
  template <MetricNumber T>
  void add(T value, MetricFields attributes = {}) const noexcept {
    apply(metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void add(T value, std::span<const Field> attributes) const noexcept {
    apply(metrics::Value::of(value), attributes);
  }
  BoundCounter bind(MetricFields attributes) const noexcept {
    return BoundCounter(resolve(attributes));
  }
  BoundCounter bind(std::span<const Field> attributes) const noexcept {
    return BoundCounter(resolve(attributes));
  }

 private:
  friend class Metrics;
  using InstrumentHandle::InstrumentHandle;
};

class UpDownCounter : public InstrumentHandle {
 public:
  UpDownCounter() noexcept = default;
  template <MetricNumber T>
  void add(T value, MetricFields attributes = {}) const noexcept {
    apply(metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void add(T value, std::span<const Field> attributes) const noexcept {
    apply(metrics::Value::of(value), attributes);
  }
  BoundUpDownCounter bind(MetricFields attributes) const noexcept {
    return BoundUpDownCounter(resolve(attributes));
  }
  BoundUpDownCounter bind(std::span<const Field> attributes) const noexcept {
    return BoundUpDownCounter(resolve(attributes));
  }

 private:
  friend class Metrics;
  using InstrumentHandle::InstrumentHandle;
};

// A synchronous gauge: the last value recorded for each attribute set.
class Gauge : public InstrumentHandle {
 public:
  Gauge() noexcept = default;
  template <MetricNumber T>
  void record(T value, MetricFields attributes = {}) const noexcept {
    apply(metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void record(T value, std::span<const Field> attributes) const noexcept {
    apply(metrics::Value::of(value), attributes);
  }
  BoundGauge bind(MetricFields attributes) const noexcept {
    return BoundGauge(resolve(attributes));
  }
  BoundGauge bind(std::span<const Field> attributes) const noexcept {
    return BoundGauge(resolve(attributes));
  }

 private:
  friend class Metrics;
  using InstrumentHandle::InstrumentHandle;
};

class Histogram : public InstrumentHandle {
 public:
  Histogram() noexcept = default;
  template <MetricNumber T>
  void record(T value, MetricFields attributes = {}) const noexcept {
    apply(metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void record(T value, std::span<const Field> attributes) const noexcept {
    apply(metrics::Value::of(value), attributes);
  }
  BoundHistogram bind(MetricFields attributes) const noexcept {
    return BoundHistogram(resolve(attributes));
  }
  BoundHistogram bind(std::span<const Field> attributes) const noexcept {
    return BoundHistogram(resolve(attributes));
  }

 private:
  friend class Metrics;
  using InstrumentHandle::InstrumentHandle;
};

// What an observable callback reports through. Observable counters and
// up-down counters observe their current total (not an increment); gauges
// their current value. Only valid during the callback; observations made
// after the callback was abandoned (it ran past EMP_METRICS_CALLBACK_TIMEOUT)
// are ignored.
class ObservableResult {
 public:
  template <MetricNumber T>
  void observe(T value, MetricFields attributes = {}) noexcept {
    observe_value(metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void observe(T value, std::span<const Field> attributes) noexcept {
    observe_value(metrics::Value::of(value), attributes);
  }

 private:
  friend class metrics::MetricsCore;
  friend class metrics::CallbackRunner;
  explicit ObservableResult(metrics::ObservationBuffer* b) noexcept : buffer_(b) {}
  void observe_value(metrics::Value v, metrics::MetricAttributes attributes) noexcept;
  metrics::ObservationBuffer* buffer_;
};

// Runs on a helper of the reader thread at each collection (OTLP export,
// flush, shutdown, Prometheus scrape), bounded by
// EMP_METRICS_CALLBACK_TIMEOUT. Exceptions are caught and reported.
using ObservableCallback = std::function<void(ObservableResult&)>;

// Counters about the metrics track itself (see also health()).
struct MetricsStats {
  std::uint64_t instruments = 0;         // registered, valid instruments
  std::uint64_t series = 0;              // attribute sets in use (overflow included)
  std::uint64_t overflowed = 0;          // measurements that went to an overflow series
  std::uint64_t rejected_values = 0;     // NaN, infinity, negative counter increment
  std::uint64_t rejected_names = 0;      // calls with an invalid instrument name
  std::uint64_t rejected_conflicts = 0;  // calls with a conflicting kind or unit
  std::uint64_t callback_errors = 0;     // observable callbacks that threw
  std::uint64_t callback_timeouts = 0;   // abandoned after the callback timeout
  std::uint64_t callbacks_skipped = 0;   // not run: still blocked from before
  std::uint64_t collections = 0;         // collections made (any reader)
  std::uint64_t exported_points = 0;     // data points handed to the OTLP destination
};

class Metrics {
 public:
  // ---- one-liners: look the instrument up by name on every call ----
  template <MetricNumber T>
  void counter(std::string_view name, T value, MetricFields attributes = {},
               std::string_view unit = {}) noexcept {
    record(InstrumentKind::kCounter, name, unit, metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void counter(std::string_view name, T value, std::span<const Field> attributes,
               std::string_view unit = {}) noexcept {
    record(InstrumentKind::kCounter, name, unit, metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void up_down_counter(std::string_view name, T value, MetricFields attributes = {},
                       std::string_view unit = {}) noexcept {
    record(InstrumentKind::kUpDownCounter, name, unit, metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void up_down_counter(std::string_view name, T value, std::span<const Field> attributes,
                       std::string_view unit = {}) noexcept {
    record(InstrumentKind::kUpDownCounter, name, unit, metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void gauge(std::string_view name, T value, MetricFields attributes = {},
             std::string_view unit = {}) noexcept {
    record(InstrumentKind::kGauge, name, unit, metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void gauge(std::string_view name, T value, std::span<const Field> attributes,
             std::string_view unit = {}) noexcept {
    record(InstrumentKind::kGauge, name, unit, metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void histogram(std::string_view name, T value, MetricFields attributes = {},
                 std::string_view unit = {}) noexcept {
    record(InstrumentKind::kHistogram, name, unit, metrics::Value::of(value), attributes);
  }
  template <MetricNumber T>
  void histogram(std::string_view name, T value, std::span<const Field> attributes,
                 std::string_view unit = {}) noexcept {
    record(InstrumentKind::kHistogram, name, unit, metrics::Value::of(value), attributes);
  }

  // ---- instruments: registered once, idempotent per name ----
  // Asking again for a name returns the same instrument when kind and unit
  // match; otherwise the handle is refused (reported once, calls rejected).
  Counter create_counter(std::string_view name, const InstrumentOptions& options = {}) noexcept;
  UpDownCounter create_up_down_counter(std::string_view name,
                                       const InstrumentOptions& options = {}) noexcept;
  Gauge create_gauge(std::string_view name, const InstrumentOptions& options = {}) noexcept;
  Histogram create_histogram(std::string_view name, const InstrumentOptions& options = {}) noexcept;
  // Observable instruments; false when refused (reported). One callback per
  // instrument; registering a second callback for a name is refused.
  bool create_observable_counter(std::string_view name, ObservableCallback callback,
                                 const InstrumentOptions& options = {}) noexcept;
  bool create_observable_up_down_counter(std::string_view name, ObservableCallback callback,
                                         const InstrumentOptions& options = {}) noexcept;
  bool create_observable_gauge(std::string_view name, ObservableCallback callback,
                               const InstrumentOptions& options = {}) noexcept;

  // False when neither OTLP export nor the Prometheus endpoint is on (every
  // call is then a no-op that is not counted).
  bool enabled() const noexcept;
  // The port the Prometheus endpoint listens on (useful with
  // EMP_PROMETHEUS_PORT=0); 0 when it is not serving.
  std::uint16_t prometheus_port() const noexcept;
  MetricsStats stats() const noexcept;

 private:
  friend class Client;
  friend class metrics::MetricsCore;
  explicit Metrics(metrics::MetricsCore* core) noexcept : core_(core) {}
  void record(InstrumentKind kind, std::string_view name, std::string_view unit,
              metrics::Value value, metrics::MetricAttributes attributes) noexcept;
  metrics::MetricsCore* core_;
};

}  // namespace emp::telemetry
