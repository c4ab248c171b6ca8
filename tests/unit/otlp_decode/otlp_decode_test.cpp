// The OTLP request decoders against the project's own encoders: what the
// protobuf and JSON encoders write decodes back to data that encodes to the
// same protobuf bytes (every field survives), for traces, logs and metrics;
// malformed bodies are refused with an error naming the place.
#include "encode/otlp_decode.hpp"

#include <gtest/gtest.h>

#include <string>

#include "encode/otlp_json.hpp"
#include "encode/otlp_metrics.hpp"
#include "encode/otlp_metrics_json.hpp"
#include "encode/otlp_proto.hpp"
#include "encode/proto_wire.hpp"
#include "unit/metrics_encode/metrics_samples.hpp"
#include "unit/otlp/otlp_samples.hpp"

namespace otlp = emp::telemetry::encode::otlp;
namespace samples = emp::telemetry::encode::otlp::testing;

namespace {

template <typename Item>
const std::vector<Item>& only_items(const otlp::DecodedRequest<Item>& r) {
  EXPECT_EQ(r.resources.size(), 1u);
  EXPECT_EQ(r.resources.at(0).scopes.size(), 1u);
  return r.resources.at(0).scopes.at(0).items;
}

TEST(OtlpDecode, TracesProtoRoundTrip) {
  const auto spans = samples::rich_spans(5);
  std::string body;
  otlp::encode_traces_request(samples::sample_resource(), samples::sample_scope(), spans, body);
  otlp::TracesRequest req;
  std::string error;
  ASSERT_TRUE(otlp::decode_traces_proto(body, req, error)) << error;
  const auto& got = only_items(req);
  ASSERT_EQ(got.size(), spans.size());
  EXPECT_EQ(got[0].name, spans[0].name);
  EXPECT_EQ(got[0].trace_id, spans[0].trace_id);
  std::string again;
  otlp::encode_traces_request(req.resources[0].resource, req.resources[0].scopes[0].scope, got,
                              again);
  EXPECT_EQ(again, body);
}

TEST(OtlpDecode, TracesJsonRoundTrip) {
  const auto spans = samples::rich_spans(3);
  std::string json, proto;
  otlp::encode_traces_request_json(samples::sample_resource(), samples::sample_scope(), spans,
                                   json);
  otlp::encode_traces_request(samples::sample_resource(), samples::sample_scope(), spans, proto);
  otlp::TracesRequest req;
  std::string error;
  ASSERT_TRUE(otlp::decode_traces_json(json, req, error)) << error;
  std::string again;
  otlp::encode_traces_request(req.resources[0].resource, req.resources[0].scopes[0].scope,
                              only_items(req), again);
  EXPECT_EQ(again, proto);
}

TEST(OtlpDecode, LogsRoundTripBothFormats) {
  const auto logs = samples::rich_logs(4);
  std::string json, proto;
  otlp::encode_logs_request_json(samples::sample_resource(), samples::sample_scope(), logs, json);
  otlp::encode_logs_request(samples::sample_resource(), samples::sample_scope(), logs, proto);
  for (const bool use_json : {false, true}) {
    otlp::LogsRequest req;
    std::string error;
    const bool ok = use_json ? otlp::decode_logs_json(json, req, error)
                             : otlp::decode_logs_proto(proto, req, error);
    ASSERT_TRUE(ok) << error;
    std::string again;
    otlp::encode_logs_request(req.resources[0].resource, req.resources[0].scopes[0].scope,
                              only_items(req), again);
    EXPECT_EQ(again, proto) << (use_json ? "json" : "proto");
  }
}

// JSON reads "-0" as the integer 0 (the decoder's one documented loss).
void positive_zeros(std::vector<otlp::MetricData>& metrics) {
  for (auto& m : metrics) {
    for (auto& p : m.number_points) {
      if (p.double_value == 0) p.double_value = 0.0;
      for (auto& e : p.exemplars)
        if (e.double_value == 0) e.double_value = 0.0;
    }
  }
}

TEST(OtlpDecode, MetricsRoundTripBothFormats) {
  auto metrics = samples::rich_metrics(3);
  positive_zeros(metrics);
  std::string json, proto;
  otlp::encode_metrics_request_json(samples::sample_resource(), samples::sample_scope(), metrics,
                                    json);
  otlp::encode_metrics_request(samples::sample_resource(), samples::sample_scope(), metrics, proto);
  for (const bool use_json : {false, true}) {
    otlp::MetricsRequest req;
    std::string error;
    const bool ok = use_json ? otlp::decode_metrics_json(json, req, error)
                             : otlp::decode_metrics_proto(proto, req, error);
    ASSERT_TRUE(ok) << error;
    std::string again;
    otlp::encode_metrics_request(req.resources[0].resource, req.resources[0].scopes[0].scope,
                                 only_items(req), again);
    EXPECT_EQ(again, proto) << (use_json ? "json" : "proto");
  }
}

TEST(OtlpDecode, EmptyBodyIsAnEmptyRequest) {
  otlp::TracesRequest req;
  std::string error;
  ASSERT_TRUE(otlp::decode_traces_proto("", req, error));
  EXPECT_EQ(req.item_count(), 0u);
  ASSERT_TRUE(otlp::decode_traces_json("{}", req, error));
  EXPECT_EQ(req.item_count(), 0u);
}

TEST(OtlpDecode, TruncatedProtobufIsRefusedWithThePlace) {
  const auto spans = samples::rich_spans();
  std::string body;
  otlp::encode_traces_request(samples::sample_resource(), samples::sample_scope(), spans, body);
  otlp::TracesRequest req;
  std::string error;
  EXPECT_FALSE(otlp::decode_traces_proto(body.substr(0, body.size() - 3), req, error));
  EXPECT_NE(error.find("resourceSpans[0]"), std::string::npos) << error;
  // Every shorter prefix is refused or decodes fewer items; none crashes.
  for (std::size_t n = 0; n < body.size(); n += 7) {
    otlp::decode_traces_proto(std::string_view(body).substr(0, n), req, error);
  }
}

TEST(OtlpDecode, WrongIdLengthNamesTheField) {
  otlp::SpanData s;
  s.trace_id = samples::make_trace_id(1);
  s.span_id = samples::make_span_id(2);
  s.name = "x";
  std::string json;
  otlp::encode_traces_request_json(samples::sample_resource(), samples::sample_scope(),
                                   std::span<const otlp::SpanData>(&s, 1), json);
  const auto at = json.find("\"traceId\":\"") + 11;
  json.erase(at, 2);  // 30 hex digits
  otlp::TracesRequest req;
  std::string error;
  EXPECT_FALSE(otlp::decode_traces_json(json, req, error));
  EXPECT_EQ(error, "resourceSpans[0].scopeSpans[0].spans[0].traceId: 30 hex digits, expected 32");
}

TEST(OtlpDecode, MissingSpanIdAndBadJsonAreRefused) {
  otlp::TracesRequest req;
  std::string error;
  EXPECT_FALSE(otlp::decode_traces_json(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","name":"n"}]}]}]})",
      req, error));
  EXPECT_NE(error.find("spanId: missing"), std::string::npos) << error;
  EXPECT_FALSE(otlp::decode_traces_json("{\"resourceSpans\":", req, error));
  EXPECT_EQ(error, "request: not valid JSON");
  otlp::LogsRequest logs;
  EXPECT_FALSE(otlp::decode_logs_json(R"({"resourceLogs":{}})", logs, error));
  EXPECT_EQ(error, "resourceLogs: expected an array, got object");
}

TEST(OtlpDecode, WrongWireTypeIsRefused) {
  // ExportLogsServiceRequest with field 1 as a varint.
  const std::string body("\x08\x01", 2);
  otlp::LogsRequest req;
  std::string error;
  EXPECT_FALSE(otlp::decode_logs_proto(body, req, error));
  EXPECT_NE(error.find("wire type varint, expected length-delimited"), std::string::npos) << error;
}

TEST(OtlpDecode, InvalidUtf8BecomesReplacementCharacter) {
  otlp::LogData log;
  log.body = otlp::AnyValue::string(std::string("bad \xFF byte"));
  log.event_name = "job_failed";
  std::string body;
  otlp::encode_logs_request(samples::sample_resource(), samples::sample_scope(),
                            std::span<const otlp::LogData>(&log, 1), body);
  otlp::LogsRequest req;
  std::string error;
  ASSERT_TRUE(otlp::decode_logs_proto(body, req, error)) << error;
  const auto& got = only_items(req).at(0);
  EXPECT_EQ(got.body.str, "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(got.event_name, "job_failed");
}

}  // namespace
