// The metrics OTLP/JSON encoder: exact text for tiny metrics of each kind,
// the representation rules (string 64-bit integers, integer enums,
// NaN/Infinity strings, hex exemplar ids), and well-formedness of rich
// collections as checked by nlohmann::json.
#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "encode/otlp_metrics_json.hpp"
#include "unit/metrics_encode/metrics_samples.hpp"

namespace otlp = emp::telemetry::encode::otlp;
using nlohmann::json;
using otlp::AnyValue;

namespace {

std::string encode(const otlp::MetricData& m) {
  otlp::Scope scope;
  scope.name = "s";
  std::string out;
  otlp::encode_metrics_request_json(otlp::Resource{}, scope, std::span(&m, 1), out);
  return out;
}

constexpr std::string_view kHead =
    "{\"resourceMetrics\":[{\"resource\":{},\"scopeMetrics\":[{\"scope\":{\"name\":\"s\"},"
    "\"metrics\":[";
constexpr std::string_view kTail = "]}]}]}";

std::string wrap(std::string_view metric) {
  return std::string(kHead) + std::string(metric) + std::string(kTail);
}

TEST(MetricsJson, TinyGaugeExactText) {
  otlp::MetricData m;
  m.name = "g";
  m.unit = "1";
  m.kind = otlp::MetricKind::kGauge;
  otlp::NumberPoint p;
  p.time_unix_nano = 2;
  p.double_value = 0.5;
  p.attributes = {{"k", AnyValue::string("v")}};
  m.number_points = {p};
  EXPECT_EQ(encode(m), wrap("{\"name\":\"g\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{"
                            "\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}],"
                            "\"timeUnixNano\":\"2\",\"asDouble\":0.5}]}}"));
}

TEST(MetricsJson, TinySumExactText) {
  otlp::MetricData m;
  m.name = "c";
  m.description = "say \"hi\"\n";
  m.kind = otlp::MetricKind::kSum;
  m.monotonic = true;
  m.temporality = otlp::AggregationTemporality::kCumulative;
  otlp::NumberPoint p;
  p.start_time_unix_nano = 1;
  p.time_unix_nano = 18446744073709551615ull;
  p.is_int = true;
  p.int_value = std::numeric_limits<std::int64_t>::min();
  p.flags = 1;
  otlp::Exemplar e;
  e.double_value = 0.0;
  e.has_trace_id = true;
  e.trace_id.fill(0xAB);
  p.exemplars = {e};
  m.number_points = {p};
  EXPECT_EQ(encode(m),
            wrap("{\"name\":\"c\",\"description\":\"say \\\"hi\\\"\\n\",\"sum\":{\"dataPoints\":[{"
                 "\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"18446744073709551615\","
                 "\"asInt\":\"-9223372036854775808\",\"exemplars\":[{\"asDouble\":0,"
                 "\"traceId\":\"abababababababababababababababab\"}],\"flags\":1}],"
                 "\"aggregationTemporality\":2,\"isMonotonic\":true}}"));
}

TEST(MetricsJson, TinyHistogramExactText) {
  otlp::MetricData m;
  m.name = "h";
  m.kind = otlp::MetricKind::kHistogram;
  m.temporality = otlp::AggregationTemporality::kDelta;
  otlp::HistogramPoint p;
  p.count = 3;
  p.sum = std::numeric_limits<double>::infinity();
  p.bucket_counts = {1, 0, 2};
  p.bounds = {-1.5, 1e21};
  p.has_min_max = true;
  p.min = -2;
  p.max = std::numeric_limits<double>::quiet_NaN();
  m.histogram_points = {p};
  EXPECT_EQ(encode(m), wrap("{\"name\":\"h\",\"histogram\":{\"dataPoints\":[{\"count\":\"3\","
                            "\"sum\":\"Infinity\",\"bucketCounts\":[\"1\",\"0\",\"2\"],"
                            "\"explicitBounds\":[-1.5,1e+21],\"min\":-2,\"max\":\"NaN\"}],"
                            "\"aggregationTemporality\":1}}"));
}

TEST(MetricsJson, TinyExponentialHistogramExactText) {
  otlp::MetricData m;
  m.kind = otlp::MetricKind::kExponentialHistogram;
  m.temporality = otlp::AggregationTemporality::kCumulative;
  otlp::ExponentialHistogramPoint p;
  p.count = 2;
  p.has_sum = false;
  p.scale = -3;
  p.zero_count = 1;
  p.negative.offset = -7;
  p.negative.counts = {1};
  m.exponential_points = {p};
  EXPECT_EQ(encode(m),
            wrap("{\"exponentialHistogram\":{\"dataPoints\":[{\"count\":\"2\",\"scale\":-3,"
                 "\"zeroCount\":\"1\",\"positive\":{},\"negative\":{\"offset\":-7,"
                 "\"bucketCounts\":[\"1\"]}}],\"aggregationTemporality\":2}}"));
}

TEST(MetricsJson, RichCollectionIsValidJsonWithEveryMetric) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto metrics = otlp::testing::rich_metrics(100);
  std::string out;
  otlp::encode_metrics_request_json(resource, scope, metrics, out);
  const json j = json::parse(out);  // throws (failing the test) when malformed
  const json& list = j["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
  ASSERT_EQ(list.size(), metrics.size());
  EXPECT_EQ(j["resourceMetrics"][0]["schemaUrl"], resource.schema_url);
  EXPECT_EQ(j["resourceMetrics"][0]["scopeMetrics"][0]["schemaUrl"], scope.schema_url);
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const char* key = "sum";
    std::size_t points = metrics[i].number_points.size();
    switch (metrics[i].kind) {
      case otlp::MetricKind::kGauge:
        key = "gauge";
        break;
      case otlp::MetricKind::kHistogram:
        key = "histogram";
        points = metrics[i].histogram_points.size();
        break;
      case otlp::MetricKind::kExponentialHistogram:
        key = "exponentialHistogram";
        points = metrics[i].exponential_points.size();
        break;
      default:
        break;
    }
    ASSERT_TRUE(list[i].contains(key)) << i;
    EXPECT_EQ(list[i][key]["dataPoints"].size(), points) << i;
  }
}

TEST(MetricsJson, InvalidUtf8IsReplacedAndCounted) {
  otlp::MetricData m;
  m.name = "bad\xFF";
  m.kind = otlp::MetricKind::kGauge;
  otlp::EncodeStats stats;
  std::string out;
  otlp::encode_metrics_request_json(otlp::Resource{}, otlp::Scope{}, std::span(&m, 1), out, &stats);
  EXPECT_EQ(stats.invalid_utf8_strings, 1u);
  EXPECT_EQ(json::parse(out)["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["name"],
            "bad\xEF\xBF\xBD");
}

}  // namespace
