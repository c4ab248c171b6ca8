// The metrics protobuf encoder: exact bytes for one tiny metric of each kind
// (worked out by hand from the field numbers of metrics.proto), the values
// that must be written even when zero, prelude reuse and the size helpers.
// Semantic equality with the official schema is proven in
// tests/conformance/metrics.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "encode/otlp_metrics.hpp"
#include "unit/metrics_encode/metrics_samples.hpp"

namespace otlp = emp::telemetry::encode::otlp;
using otlp::AnyValue;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
    out.push_back(' ');
  }
  return out;
}

// Tag and one-byte length (every message in these tests is under 128 bytes).
std::string field(int tag, const std::string& body) {
  EXPECT_LT(body.size(), 128u);
  return bytes({tag, static_cast<int>(body.size())}) + body;
}

// ExportMetricsServiceRequest around one encoded Metric body, with an empty
// resource and the scope {name: "s"}.
std::string request_with(const std::string& metric_body) {
  const std::string scope_metrics = bytes({0x0A, 0x03, 0x0A, 0x01, 's'})  // 1: scope
                                    + field(0x12, metric_body);           // 2: metrics
  const std::string resource_metrics = bytes({0x0A, 0x00})                // 1: resource
                                       + field(0x12, scope_metrics);      // 2: scope_metrics
  return field(0x0A, resource_metrics);  // ExportMetricsServiceRequest.resource_metrics
}

std::string encode(const otlp::MetricData& m) {
  otlp::Scope scope;
  scope.name = "s";
  std::string out;
  otlp::encode_metrics_request(otlp::Resource{}, scope, std::span(&m, 1), out);
  return out;
}

TEST(MetricsProto, TinySumHandChecked) {
  otlp::MetricData m;
  m.name = "c";
  m.kind = otlp::MetricKind::kSum;
  m.monotonic = true;
  m.temporality = otlp::AggregationTemporality::kCumulative;
  otlp::NumberPoint p;
  p.time_unix_nano = 2;
  p.is_int = true;
  p.int_value = 5;
  p.attributes = {{"k", AnyValue::string("v")}};
  m.number_points = {p};

  std::string point;
  point += bytes({0x19, 2, 0, 0, 0, 0, 0, 0, 0});  // 3: time_unix_nano (fixed64)
  point += bytes({0x31, 5, 0, 0, 0, 0, 0, 0, 0});  // 6: as_int (sfixed64)
  point += bytes({0x3A, 0x08, 0x0A, 0x01, 'k', 0x12, 0x03, 0x0A, 0x01, 'v'});  // 7: {k: "v"}
  ASSERT_EQ(point.size(), 28u);
  std::string sum = field(0x0A, point);                // Sum.data_points
  sum += bytes({0x10, 0x02});                          // Sum.aggregation_temporality = CUMULATIVE
  sum += bytes({0x18, 0x01});                          // Sum.is_monotonic = true
  const std::string metric = bytes({0x0A, 0x01, 'c'})  // Metric.name
                             + field(0x3A, sum);       // Metric.sum (field 7)
  const std::string want = request_with(metric);
  ASSERT_EQ(want.size(), 52u);
  const std::string got = encode(m);
  EXPECT_EQ(hex(got), hex(want));
  EXPECT_EQ(otlp::encoded_metric_size(m), 2 + metric.size());
}

TEST(MetricsProto, TinyGaugeWritesZeroDoubleAndNegativeInt) {
  otlp::MetricData m;
  m.name = "g";
  m.unit = "1";
  m.description = "d";
  m.kind = otlp::MetricKind::kGauge;
  m.temporality = otlp::AggregationTemporality::kCumulative;  // ignored for gauges
  otlp::NumberPoint zero;  // as_double 0.0 is still written: the oneof says which value
  zero.start_time_unix_nano = 1;
  zero.flags = 1;
  otlp::NumberPoint neg;
  neg.is_int = true;
  neg.int_value = -1;
  m.number_points = {zero, neg};

  std::string p1;
  p1 += bytes({0x11, 1, 0, 0, 0, 0, 0, 0, 0});  // 2: start_time_unix_nano
  p1 += bytes({0x21, 0, 0, 0, 0, 0, 0, 0, 0});  // 4: as_double = 0.0
  p1 += bytes({0x40, 0x01});                    // 8: flags = NO_RECORDED_VALUE
  const std::string p2 = bytes({0x31, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  const std::string gauge = field(0x0A, p1) + field(0x0A, p2);  // no temporality
  const std::string metric = bytes({0x0A, 0x01, 'g', 0x12, 0x01, 'd', 0x1A, 0x01, '1'}) +
                             field(0x2A, gauge);  // Metric.gauge (field 5)
  EXPECT_EQ(hex(encode(m)), hex(request_with(metric)));
}

TEST(MetricsProto, TinyHistogramHandChecked) {
  otlp::MetricData m;
  m.name = "h";
  m.kind = otlp::MetricKind::kHistogram;
  m.temporality = otlp::AggregationTemporality::kDelta;
  otlp::HistogramPoint p;
  p.time_unix_nano = 3;
  p.count = 3;
  p.sum = 0.0;  // present (has_sum): proto3 `optional` keeps an explicit zero
  p.bucket_counts = {1, 2};
  p.bounds = {1.0};
  p.has_min_max = true;
  p.min = 0.5;
  p.max = 2.0;
  m.histogram_points = {p};

  std::string point;
  point += bytes({0x19, 3, 0, 0, 0, 0, 0, 0, 0});  // 3: time_unix_nano
  point += bytes({0x21, 3, 0, 0, 0, 0, 0, 0, 0});  // 4: count (fixed64)
  point += bytes({0x29, 0, 0, 0, 0, 0, 0, 0, 0});  // 5: sum = 0.0
  point += bytes({0x32, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
                  0});                                         // 6: bucket_counts, packed fixed64
  point += bytes({0x3A, 0x08, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F});  // 7: explicit_bounds {1.0}
  point += bytes({0x59, 0, 0, 0, 0, 0, 0, 0xE0, 0x3F});        // 11: min = 0.5
  point += bytes({0x61, 0, 0, 0, 0, 0, 0, 0, 0x40});           // 12: max = 2.0
  const std::string hist = field(0x0A, point) + bytes({0x10, 0x01});        // temporality DELTA
  const std::string metric = bytes({0x0A, 0x01, 'h'}) + field(0x4A, hist);  // field 9

  EXPECT_EQ(hex(encode(m)), hex(request_with(metric)));

  // Without sum and min/max the fields disappear.
  m.histogram_points[0].has_sum = false;
  m.histogram_points[0].has_min_max = false;
  std::string lean = point.substr(0, 18) + point.substr(27, 18 + 10);
  EXPECT_EQ(hex(encode(m)),
            hex(request_with(bytes({0x0A, 0x01, 'h'}) +
                             field(0x4A, field(0x0A, lean) + bytes({0x10, 0x01})))));
}

TEST(MetricsProto, TinyExponentialHistogramHandChecked) {
  otlp::MetricData m;
  m.name = "e";
  m.kind = otlp::MetricKind::kExponentialHistogram;
  m.temporality = otlp::AggregationTemporality::kCumulative;
  otlp::ExponentialHistogramPoint p;
  p.count = 4;
  p.has_sum = false;
  p.scale = -1;  // sint32: zig-zag 1
  p.zero_count = 1;
  p.positive.offset = -2;  // zig-zag 3
  p.positive.counts = {1, 300};
  p.zero_threshold = 0.5;
  m.exponential_points = {p};

  std::string point;
  point += bytes({0x21, 4, 0, 0, 0, 0, 0, 0, 0});                       // 4: count
  point += bytes({0x30, 0x01});                                         // 6: scale = -1
  point += bytes({0x39, 1, 0, 0, 0, 0, 0, 0, 0});                       // 7: zero_count
  point += bytes({0x42, 0x07, 0x08, 0x03, 0x12, 0x03, 1, 0xAC, 0x02});  // 8: positive
  point += bytes({0x4A, 0x00});                                         // 9: negative (empty)
  point += bytes({0x71, 0, 0, 0, 0, 0, 0, 0xE0, 0x3F});                 // 14: zero_threshold
  const std::string data = field(0x0A, point) + bytes({0x10, 0x02});
  const std::string metric = bytes({0x0A, 0x01, 'e'}) + field(0x52, data);  // field 10
  EXPECT_EQ(hex(encode(m)), hex(request_with(metric)));
}

TEST(MetricsProto, ExemplarHandChecked) {
  otlp::MetricData m;
  m.kind = otlp::MetricKind::kGauge;
  otlp::NumberPoint p;
  p.double_value = 1.0;
  otlp::Exemplar e;
  e.is_int = true;
  e.int_value = 2;
  e.has_span_id = true;
  e.span_id = {1, 2, 3, 4, 5, 6, 7, 8};
  p.exemplars = {e};
  m.number_points = {p};

  std::string ex;
  ex += bytes({0x22, 0x08, 1, 2, 3, 4, 5, 6, 7, 8});  // 4: span_id
  ex += bytes({0x31, 2, 0, 0, 0, 0, 0, 0, 0});        // 6: as_int
  std::string point;
  point += bytes({0x21, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F});  // 4: as_double = 1.0
  point += field(0x2A, ex);                              // 5: exemplars
  EXPECT_EQ(hex(encode(m)), hex(request_with(field(0x2A, field(0x0A, point)))));
}

TEST(MetricsProto, SumWithoutPointsStillSaysItIsASum) {
  otlp::MetricData m;
  m.name = "x";
  m.kind = otlp::MetricKind::kSum;
  m.temporality = otlp::AggregationTemporality::kDelta;
  EXPECT_EQ(hex(encode(m)), hex(request_with(bytes({0x0A, 0x01, 'x', 0x3A, 0x02, 0x10, 0x01}))));
}

TEST(MetricsProto, PreludeReuseAndAppending) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto metrics = otlp::testing::rich_metrics(40);
  std::string direct;
  otlp::encode_metrics_request(resource, scope, metrics, direct);
  const otlp::ProtoPrelude prelude(resource, scope);
  std::string reused = "prefix";
  otlp::encode_metrics_request(prelude, metrics, reused);
  otlp::encode_metrics_request(prelude, metrics, reused);  // appends a second request
  EXPECT_EQ(reused, "prefix" + direct + direct);

  std::size_t sum = 0;
  for (const auto& m : metrics) sum += otlp::encoded_metric_size(m);
  std::string empty;
  otlp::encode_metrics_request(prelude, {}, empty);
  EXPECT_GE(direct.size(), empty.size() + sum);
  EXPECT_LE(direct.size(), empty.size() + sum + 8);
}

TEST(MetricsProto, InvalidUtf8IsReplacedAndCounted) {
  otlp::MetricData m;
  m.name = "bad\xFF";
  m.kind = otlp::MetricKind::kGauge;
  m.number_points = {otlp::testing::int_point(1, {{"k", AnyValue::string("\xC3")}})};
  otlp::EncodeStats stats;
  std::string out;
  otlp::encode_metrics_request(otlp::Resource{}, otlp::Scope{}, std::span(&m, 1), out, &stats);
  EXPECT_EQ(stats.invalid_utf8_strings, 2u);
  EXPECT_NE(out.find("bad\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(out.find("bad\xFF"), std::string::npos);
}

TEST(MetricsProto, DataPointCount) {
  auto metrics = otlp::testing::rich_metrics(5);
  std::size_t n = 0;
  for (const auto& m : metrics) n += otlp::metric_data_point_count(m);
  EXPECT_EQ(n, 3 + 2 + 2 + 1 + 8 + 1 + 2 + 2 + 4 + 1 + 0 + 5 + 5);
}

}  // namespace
