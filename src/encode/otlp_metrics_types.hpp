// The OTLP metrics data model as plain owning structs: what the metrics track
// produces when it collects (one MetricData per instrument, one point per
// attribute set) and what the metric encoders (OTLP protobuf, OTLP/JSON,
// Prometheus text) consume. Mirrors opentelemetry-proto metrics.proto.
//
// Not thread-safe: a collection is built and encoded by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "encode/otlp_types.hpp"

namespace emp::telemetry::encode::otlp {

enum class MetricKind : std::uint8_t { kSum, kGauge, kHistogram, kExponentialHistogram };

// metrics.v1.AggregationTemporality.
enum class AggregationTemporality : std::uint8_t { kUnspecified = 0, kDelta = 1, kCumulative = 2 };

// metrics.v1.Exemplar: one raw measurement kept with the trace context in
// which it was recorded. Prometheus text output drops exemplars (the 0.0.4
// format has no place for them).
struct Exemplar {
  std::vector<KeyValue> filtered_attributes;
  std::uint64_t time_unix_nano = 0;
  bool is_int = false;  // as_int (field 6) vs as_double (field 3)
  std::int64_t int_value = 0;
  double double_value = 0.0;
  bool has_trace_id = false;  // false: trace_id / span_id are not sent
  TraceId trace_id{};
  bool has_span_id = false;
  SpanId span_id{};
};

// metrics.v1.NumberDataPoint (Sum and Gauge points).
struct NumberPoint {
  std::vector<KeyValue> attributes;
  std::uint64_t start_time_unix_nano = 0;  // 0 for gauges
  std::uint64_t time_unix_nano = 0;
  bool is_int = false;  // as_int (field 6) vs as_double (field 4)
  std::int64_t int_value = 0;
  double double_value = 0.0;
  std::uint32_t flags = 0;
  std::vector<Exemplar> exemplars;
};

// metrics.v1.HistogramDataPoint. bucket_counts.size() == bounds.size() + 1.
struct HistogramPoint {
  std::vector<KeyValue> attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  double sum = 0.0;
  bool has_sum = true;
  std::vector<std::uint64_t> bucket_counts;
  std::vector<double> bounds;  // explicit_bounds, strictly increasing
  bool has_min_max = false;
  double min = 0.0;
  double max = 0.0;
  std::uint32_t flags = 0;
  std::vector<Exemplar> exemplars;
};

// metrics.v1.ExponentialHistogramDataPoint.
struct ExponentialHistogramPoint {
  struct Buckets {
    std::int32_t offset = 0;
    std::vector<std::uint64_t> counts;
  };
  std::vector<KeyValue> attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  double sum = 0.0;
  bool has_sum = true;
  std::int32_t scale = 0;
  std::uint64_t zero_count = 0;
  Buckets positive;
  Buckets negative;
  bool has_min_max = false;
  double min = 0.0;
  double max = 0.0;
  double zero_threshold = 0.0;
  std::uint32_t flags = 0;
  std::vector<Exemplar> exemplars;
};

// metrics.v1.Metric with exactly one of sum/gauge/histogram/exponential_histogram.
struct MetricData {
  std::string name;
  std::string description;
  std::string unit;
  MetricKind kind = MetricKind::kSum;
  AggregationTemporality temporality = AggregationTemporality::kCumulative;  // not for gauges
  bool monotonic = false;                        // sums only
  std::vector<NumberPoint> number_points;        // kSum, kGauge
  std::vector<HistogramPoint> histogram_points;  // kHistogram
  std::vector<ExponentialHistogramPoint> exponential_points;  // kExponentialHistogram
};

}  // namespace emp::telemetry::encode::otlp
