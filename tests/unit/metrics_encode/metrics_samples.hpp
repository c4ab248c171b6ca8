// Sample metric collections shared by the metric encoder unit tests, the
// OTLP conformance test and the promtool test. Histogram points are built by
// really bucketing recorded values (so counts add up the way the metrics
// track produces them); "rich" collections cover every metric kind and
// temporality, int and double values, extremes, exemplars, every attribute
// type and many points.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "encode/otlp_metrics_types.hpp"
#include "encode/otlp_types.hpp"
#include "unit/otlp/otlp_samples.hpp"

namespace emp::telemetry::encode::otlp::testing {

inline const std::vector<double>& default_bounds() {
  static const std::vector<double> b = {0,   5,   10,   25,   50,   75,   100,  250,
                                        500, 750, 1000, 2500, 5000, 7500, 10000};
  return b;
}

// An explicit-bucket point of `values`: bucket i counts bounds[i-1] < v <=
// bounds[i] (OTel's upper-inclusive buckets).
inline HistogramPoint histogram_of(const std::vector<double>& values,
                                   const std::vector<double>& bounds, bool with_min_max = true,
                                   bool with_sum = true) {
  HistogramPoint p;
  p.bounds = bounds;
  p.bucket_counts.assign(bounds.size() + 1, 0);
  for (const double v : values) {
    const auto it = std::lower_bound(bounds.begin(), bounds.end(), v);
    ++p.bucket_counts[static_cast<std::size_t>(it - bounds.begin())];
    p.sum += v;
  }
  p.count = values.size();
  p.has_sum = with_sum;
  if (!with_sum) p.sum = 0;
  if (with_min_max && !values.empty()) {
    p.has_min_max = true;
    p.min = *std::min_element(values.begin(), values.end());
    p.max = *std::max_element(values.begin(), values.end());
  }
  return p;
}

// Bucket index of |v| > 0 at `scale`: bucket i holds (base^i, base^(i+1)].
inline std::int64_t exponential_index(double v, std::int32_t scale) {
  if (scale <= 0) {
    int exp = 0;
    const double m = std::frexp(v, &exp);                   // v = m * 2^exp, m in [0.5, 1)
    const std::int64_t i = (m == 0.5) ? exp - 2 : exp - 1;  // base-2 index
    // Coarser scales merge 2^-scale base-2 buckets; floor division.
    const std::int64_t div = std::int64_t{1} << (-scale);
    return i >= 0 ? i / div : -((-i + div - 1) / div);
  }
  return static_cast<std::int64_t>(std::ceil(std::log2(v) * std::ldexp(1.0, scale))) - 1;
}

// An exponential point of `values` at `scale`; |v| <= zero_threshold goes to
// the zero bucket.
inline ExponentialHistogramPoint exponential_of(const std::vector<double>& values,
                                                std::int32_t scale, double zero_threshold = 0.0) {
  ExponentialHistogramPoint p;
  p.scale = scale;
  p.zero_threshold = zero_threshold;
  std::vector<std::int64_t> pos, neg;
  for (const double v : values) {
    ++p.count;
    p.sum += v;
    if (std::abs(v) <= zero_threshold) {
      ++p.zero_count;
    } else if (v > 0) {
      pos.push_back(exponential_index(v, scale));
    } else {
      neg.push_back(exponential_index(-v, scale));
    }
  }
  const auto fill = [](ExponentialHistogramPoint::Buckets& b,
                       const std::vector<std::int64_t>& idx) {
    if (idx.empty()) return;
    const auto [lo, hi] = std::minmax_element(idx.begin(), idx.end());
    b.offset = static_cast<std::int32_t>(*lo);
    b.counts.assign(static_cast<std::size_t>(*hi - *lo + 1), 0);
    for (const std::int64_t i : idx) ++b.counts[static_cast<std::size_t>(i - *lo)];
  };
  fill(p.positive, pos);
  fill(p.negative, neg);
  if (!values.empty()) {
    p.has_min_max = true;
    p.min = *std::min_element(values.begin(), values.end());
    p.max = *std::max_element(values.begin(), values.end());
  }
  return p;
}

inline NumberPoint int_point(std::int64_t v, std::vector<KeyValue> attrs = {}) {
  NumberPoint p;
  p.is_int = true;
  p.int_value = v;
  p.attributes = std::move(attrs);
  p.start_time_unix_nano = 1700000000000000000ULL;
  p.time_unix_nano = 1700000060000000000ULL;
  return p;
}

inline NumberPoint double_point(double v, std::vector<KeyValue> attrs = {}) {
  NumberPoint p;
  p.double_value = v;
  p.attributes = std::move(attrs);
  p.start_time_unix_nano = 1700000000000000000ULL;
  p.time_unix_nano = 1700000060000000000ULL;
  return p;
}

inline Exemplar sample_exemplar(std::uint32_t seed, bool is_int) {
  Exemplar e;
  e.time_unix_nano = 1700000030000000000ULL + seed;
  e.is_int = is_int;
  if (is_int) {
    e.int_value = -static_cast<std::int64_t>(seed) * 1000;
  } else {
    e.double_value = seed * 0.125;
  }
  e.has_trace_id = true;
  e.trace_id = make_trace_id(seed);
  e.has_span_id = true;
  e.span_id = make_span_id(seed);
  e.filtered_attributes = {{"exemplar.key", AnyValue::string("v" + std::to_string(seed))}};
  return e;
}

inline MetricData sum_metric(std::string name, std::string unit, bool monotonic,
                             AggregationTemporality t) {
  MetricData m;
  m.name = std::move(name);
  m.description = "sum " + m.name;
  m.unit = std::move(unit);
  m.kind = MetricKind::kSum;
  m.monotonic = monotonic;
  m.temporality = t;
  return m;
}

inline MetricData gauge_metric(std::string name, std::string unit) {
  MetricData m;
  m.name = std::move(name);
  m.description = "gauge " + m.name;
  m.unit = std::move(unit);
  m.kind = MetricKind::kGauge;
  m.temporality = AggregationTemporality::kUnspecified;
  return m;
}

inline MetricData histogram_metric(std::string name, std::string unit, AggregationTemporality t) {
  MetricData m;
  m.name = std::move(name);
  m.description = "histogram " + m.name;
  m.unit = std::move(unit);
  m.kind = MetricKind::kHistogram;
  m.temporality = t;
  return m;
}

inline MetricData exponential_metric(std::string name, std::string unit, AggregationTemporality t) {
  MetricData m = histogram_metric(std::move(name), std::move(unit), t);
  m.description = "exponential histogram " + m.name;
  m.kind = MetricKind::kExponentialHistogram;
  return m;
}

// Latency-like values spread over every default bucket, some on bounds.
inline std::vector<double> latency_values(std::size_t n, std::uint32_t seed) {
  std::vector<double> v;
  std::uint64_t x = seed * 2654435761ULL + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(x >> 11) / 9007199254740992.0;  // [0, 1)
    v.push_back(i % 17 == 0 ? default_bounds()[i % default_bounds().size()]
                            : std::pow(10.0, u * 4.5) - 1.0);
  }
  return v;
}

// Every metric kind, temporality and value type; `extra` more points on one
// gauge and one counter.
inline std::vector<MetricData> rich_metrics(std::size_t extra) {
  const double inf = std::numeric_limits<double>::infinity();
  const auto cumulative = AggregationTemporality::kCumulative;
  const auto delta = AggregationTemporality::kDelta;
  std::vector<MetricData> out;

  MetricData requests = sum_metric("emp.jobs.processed", "{job}", true, cumulative);
  requests.number_points.push_back(int_point(0, {{"queue", AnyValue::string("default")}}));
  requests.number_points.push_back(int_point(123456789, {{"queue", AnyValue::string("gpu")}}));
  requests.number_points.back().exemplars = {sample_exemplar(1, true), sample_exemplar(2, false)};
  requests.number_points.push_back(
      int_point(std::numeric_limits<std::int64_t>::max(), rich_attributes()));
  out.push_back(requests);

  MetricData bytes = sum_metric("emp.bytes.sent", "By", true, delta);
  bytes.number_points.push_back(double_point(1.5e9, {{"peer", AnyValue::string("a")}}));
  bytes.number_points.push_back(double_point(0.0));
  out.push_back(bytes);

  MetricData inflight = sum_metric("emp.jobs.inflight", "{job}", false, cumulative);
  inflight.number_points.push_back(int_point(-3, {{"queue", AnyValue::string("default")}}));
  inflight.number_points.push_back(int_point(std::numeric_limits<std::int64_t>::min()));
  out.push_back(inflight);

  MetricData balance = sum_metric("emp.credit.balance", "1", false, delta);
  balance.number_points.push_back(double_point(-0.25));
  out.push_back(balance);

  MetricData temp = gauge_metric("emp.gpu.temperature", "Cel");
  for (const double d : {21.5, -0.0, 1e-300, 1.7976931348623157e308, inf, -inf,
                         std::numeric_limits<double>::quiet_NaN(), 1.0 / 3.0}) {
    NumberPoint p = double_point(d, {{"gpu", AnyValue::integer(static_cast<std::int64_t>(
                                                 out.size() + temp.number_points.size()))}});
    p.start_time_unix_nano = 0;  // gauges carry no start time
    temp.number_points.push_back(std::move(p));
  }
  temp.number_points.back().flags = 1;  // no recorded value
  temp.number_points.back().exemplars = {sample_exemplar(3, false)};
  out.push_back(temp);

  MetricData util = gauge_metric("emp.gpu.utilization", "1");
  util.number_points.push_back(int_point(1));
  out.push_back(util);

  MetricData latency = histogram_metric("emp.job.duration", "ms", cumulative);
  latency.histogram_points.push_back(histogram_of(latency_values(500, 1), default_bounds()));
  latency.histogram_points.back().attributes = {{"queue", AnyValue::string("default")}};
  latency.histogram_points.back().start_time_unix_nano = 1700000000000000000ULL;
  latency.histogram_points.back().time_unix_nano = 1700000060000000000ULL;
  latency.histogram_points.back().exemplars = {sample_exemplar(4, false)};
  latency.histogram_points.push_back(histogram_of({}, default_bounds()));  // empty
  latency.histogram_points.back().attributes = {{"queue", AnyValue::string("idle")}};
  out.push_back(latency);

  MetricData sizes = histogram_metric("emp.payload.size", "By", delta);
  sizes.histogram_points.push_back(
      histogram_of({-5, 0.5, 1, 3, 1e6}, {-1.0, 0.0, 1.0, 1024.0}, false, false));
  sizes.histogram_points.push_back(histogram_of({7, 8}, {}, true, true));  // one bucket
  out.push_back(sizes);

  MetricData exp = exponential_metric("emp.job.wait", "s", cumulative);
  exp.exponential_points.push_back(
      exponential_of({0.001, 0.5, 1.5, 3, 3.5, 100, -2, -0.75, 0.0, 1e-9}, 3, 1e-6));
  exp.exponential_points.push_back(exponential_of({1, 2, 4, 1000, -1000}, -2));
  exp.exponential_points.push_back(exponential_of({1.0000001, 1.0000002}, 20));
  exp.exponential_points.push_back(exponential_of({}, 0));
  exp.exponential_points.back().has_sum = false;
  for (auto& p : exp.exponential_points) {
    p.start_time_unix_nano = 1700000000000000000ULL;
    p.time_unix_nano = 1700000060000000000ULL;
    p.attributes = {{"stage", AnyValue::string("queue")}};
  }
  exp.exponential_points[0].exemplars = {sample_exemplar(5, false)};
  out.push_back(exp);

  MetricData exp_delta = exponential_metric("emp.job.wait.delta", "s", delta);
  exp_delta.exponential_points.push_back(exponential_of({1, 2, 3}, 0));
  out.push_back(exp_delta);

  MetricData bare;  // no name, description, unit or points
  bare.kind = MetricKind::kGauge;
  out.push_back(bare);

  MetricData many_gauge = gauge_metric("emp.worker.load", "1");
  MetricData many_counter = sum_metric("emp.worker.tasks", "", true, cumulative);
  for (std::size_t i = 0; i < extra; ++i) {
    const std::vector<KeyValue> attrs = {
        {"worker", AnyValue::string("w-" + std::to_string(i))},
        {"slot", AnyValue::integer(static_cast<std::int64_t>(i % 7))},
        {"busy", AnyValue::boolean(i % 2 == 0)},
    };
    many_gauge.number_points.push_back(double_point(static_cast<double>(i) / 100.0, attrs));
    many_counter.number_points.push_back(int_point(static_cast<std::int64_t>(i * 3), attrs));
  }
  out.push_back(many_gauge);
  out.push_back(many_counter);
  return out;
}

}  // namespace emp::telemetry::encode::otlp::testing
