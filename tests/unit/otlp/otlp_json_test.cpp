// The OTLP/JSON encoder: exact text for a tiny span, the mapping rules
// (hex ids, string int64s, integer enums, NaN/Infinity strings, base64
// bytes), escaping and UTF-8 replacement, and well-formedness of rich
// batches as checked by nlohmann::json.
#include "encode/otlp_json.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "unit/otlp/otlp_samples.hpp"

namespace otlp = emp::telemetry::encode::otlp;
using nlohmann::json;
using otlp::AnyValue;

namespace {

std::string attr_json(AnyValue v) {
  otlp::SpanData span;
  span.attributes = {{"a", std::move(v)}};
  std::string out;
  otlp::encode_traces_request_json(otlp::Resource{}, otlp::Scope{}, std::span(&span, 1), out);
  const json j = json::parse(out);
  return j["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]["value"].dump();
}

TEST(OtlpJson, TinySpanExactText) {
  otlp::Scope scope;
  scope.name = "s";
  otlp::SpanData span;
  for (int i = 0; i < 16; ++i) span.trace_id[i] = static_cast<std::uint8_t>(0x10 + i);
  for (int i = 0; i < 8; ++i) span.span_id[i] = static_cast<std::uint8_t>(0xA0 + i);
  span.name = "n";
  span.kind = otlp::SpanKind::kServer;
  span.start_time_unix_nano = 1;
  span.end_time_unix_nano = 2;
  span.attributes = {{"k", AnyValue::integer(1)}};
  span.flags = 1;
  std::string out;
  otlp::encode_traces_request_json(otlp::Resource{}, scope, std::span(&span, 1), out);
  EXPECT_EQ(out,
            "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"scope\":{\"name\":\"s\"},"
            "\"spans\":[{\"traceId\":\"101112131415161718191a1b1c1d1e1f\","
            "\"spanId\":\"a0a1a2a3a4a5a6a7\",\"flags\":1,\"name\":\"n\",\"kind\":2,"
            "\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\","
            "\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"1\"}}]}]}]}]}");
}

TEST(OtlpJson, TinyLogExactText) {
  otlp::LogData log;
  log.time_unix_nano = 18446744073709551615ull;
  log.severity_number = 13;
  log.severity_text = "WARN";
  log.body = AnyValue::string("hi");
  log.has_trace_id = true;
  log.trace_id.fill(0xAB);
  log.event_name = "job_received";
  otlp::Resource resource;
  resource.attributes = {{"service.name", AnyValue::string("w")}};
  resource.schema_url = "u";
  std::string out;
  otlp::encode_logs_request_json(resource, otlp::Scope{}, std::span(&log, 1), out);
  EXPECT_EQ(out,
            "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
            "\"value\":{\"stringValue\":\"w\"}}]},\"scopeLogs\":[{\"scope\":{},\"logRecords\":[{"
            "\"timeUnixNano\":\"18446744073709551615\",\"severityNumber\":13,"
            "\"severityText\":\"WARN\",\"body\":{\"stringValue\":\"hi\"},"
            "\"traceId\":\"abababababababababababababababab\",\"eventName\":\"job_received\"}]}],"
            "\"schemaUrl\":\"u\"}]}");
}

TEST(OtlpJson, ScalarMappings) {
  EXPECT_EQ(attr_json(AnyValue::integer(std::numeric_limits<std::int64_t>::min())),
            "{\"intValue\":\"-9223372036854775808\"}");
  EXPECT_EQ(attr_json(AnyValue::integer(0)), "{\"intValue\":\"0\"}");
  EXPECT_EQ(attr_json(AnyValue::floating(std::numeric_limits<double>::quiet_NaN())),
            "{\"doubleValue\":\"NaN\"}");
  EXPECT_EQ(attr_json(AnyValue::floating(std::numeric_limits<double>::infinity())),
            "{\"doubleValue\":\"Infinity\"}");
  EXPECT_EQ(attr_json(AnyValue::floating(-std::numeric_limits<double>::infinity())),
            "{\"doubleValue\":\"-Infinity\"}");
  EXPECT_EQ(attr_json(AnyValue::floating(0.1)), "{\"doubleValue\":0.1}");
  EXPECT_EQ(attr_json(AnyValue::floating(1e300)), "{\"doubleValue\":1e+300}");
  EXPECT_EQ(attr_json(AnyValue::boolean(false)), "{\"boolValue\":false}");
  EXPECT_EQ(attr_json(AnyValue{}), "{}");
  EXPECT_EQ(attr_json(AnyValue::array_of({})), "{\"arrayValue\":{}}");
  EXPECT_EQ(attr_json(AnyValue::kvlist_of({{"x", AnyValue::string("")}})),
            "{\"kvlistValue\":{\"values\":[{\"key\":\"x\",\"value\":{\"stringValue\":\"\"}}]}}");
}

TEST(OtlpJson, BytesAreStandardBase64) {
  // RFC 4648 section 10 test vectors.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (auto [in, want] : vectors) {
    EXPECT_EQ(attr_json(AnyValue::bytes(in)), std::string("{\"bytesValue\":\"") + want + "\"}");
  }
  EXPECT_EQ(attr_json(AnyValue::bytes(std::string("\xFF\xFE\x00", 3))),
            "{\"bytesValue\":\"//4A\"}");
}

TEST(OtlpJson, StringsAreEscapedAndUtf8Repaired) {
  otlp::SpanData span;
  span.name = std::string("q\" b\\ n\n c\x01 z") + '\0' + " \xC3\xA9 bad\xFF";
  otlp::EncodeStats stats;
  std::string out;
  otlp::encode_traces_request_json(otlp::Resource{}, otlp::Scope{}, std::span(&span, 1), out,
                                   &stats);
  EXPECT_EQ(stats.invalid_utf8_strings, 1u);
  const json j = json::parse(out);  // throws (failing the test) if not valid JSON
  EXPECT_EQ(j["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"].get<std::string>(),
            std::string("q\" b\\ n\n c\x01 z") + '\0' + " \xC3\xA9 bad\xEF\xBF\xBD");
}

void check_ids_and_ints(const json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      if (k == "traceId" || k == "spanId" || k == "parentSpanId") {
        ASSERT_TRUE(it->is_string()) << k;
        const std::string s = it->get<std::string>();
        EXPECT_EQ(s.size(), k == "traceId" ? 32u : 16u) << k;
        EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos) << s;
      } else if (k.ends_with("UnixNano") || k == "intValue") {
        ASSERT_TRUE(it->is_string()) << k << " must be a decimal string";
      } else if (k == "kind" || k == "code" || k == "severityNumber" || k == "flags" ||
                 k.starts_with("dropped")) {
        EXPECT_TRUE(it->is_number_integer()) << k << " must be an integer";
      }
      check_ids_and_ints(*it);
    }
  } else if (j.is_array()) {
    for (const json& e : j) check_ids_and_ints(e);
  }
}

TEST(OtlpJson, RichBatchesFollowTheOtlpJsonRules) {
  auto spans = otlp::testing::rich_spans(50);
  auto logs = otlp::testing::rich_logs(50);
  std::string traces, logs_out;
  otlp::encode_traces_request_json(otlp::testing::sample_resource(), otlp::testing::sample_scope(),
                                   spans, traces);
  otlp::encode_logs_request_json(otlp::testing::sample_resource(), otlp::testing::sample_scope(),
                                 logs, logs_out);
  const json t = json::parse(traces);
  const json l = json::parse(logs_out);
  check_ids_and_ints(t);
  check_ids_and_ints(l);
  EXPECT_EQ(t["resourceSpans"][0]["scopeSpans"][0]["spans"].size(), spans.size());
  EXPECT_EQ(l["resourceLogs"][0]["scopeLogs"][0]["logRecords"].size(), logs.size());
  EXPECT_EQ(t["resourceSpans"][0]["schemaUrl"], "https://opentelemetry.io/schemas/1.26.0");
  EXPECT_EQ(t["resourceSpans"][0]["scopeSpans"][0]["schemaUrl"],
            "https://opentelemetry.io/schemas/1.25.0");
  // Events with no fields at all still form valid objects.
  EXPECT_EQ(t["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["events"][1], json::object());
  EXPECT_EQ(l["resourceLogs"][0]["scopeLogs"][0]["logRecords"][1], json::object());
}

TEST(OtlpJson, PreludeReuseGivesTheSameText) {
  auto logs = otlp::testing::rich_logs(3);
  const otlp::JsonPrelude prelude(otlp::testing::sample_resource(), otlp::testing::sample_scope());
  std::string a, b;
  otlp::encode_logs_request_json(prelude, logs, a);
  otlp::encode_logs_request_json(otlp::testing::sample_resource(), otlp::testing::sample_scope(),
                                 logs, b);
  EXPECT_EQ(a, b);
}

}  // namespace
