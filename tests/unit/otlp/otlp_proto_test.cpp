// The protobuf encoder: exact bytes for a tiny span and log record (worked
// out by hand from the field numbers in trace.proto / logs.proto), and a
// schema-driven walk over rich batches proving that every length prefix,
// tag and wire type is consistent. Semantic equality with the official
// schema is proven in tests/conformance/otlp.
#include "encode/otlp_proto.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "encode/proto_wire.hpp"
#include "unit/otlp/otlp_samples.hpp"

namespace otlp = emp::telemetry::encode::otlp;
namespace wire = emp::telemetry::encode::wire;
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

TEST(OtlpProto, TinySpanHandChecked) {
  otlp::Resource resource;  // no attributes: an empty but present Resource
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

  std::string span_body;
  span_body += bytes({0x0A, 0x10});  // 1: trace_id, 16 bytes
  for (int i = 0; i < 16; ++i) span_body.push_back(static_cast<char>(0x10 + i));
  span_body += bytes({0x12, 0x08});  // 2: span_id, 8 bytes
  for (int i = 0; i < 8; ++i) span_body.push_back(static_cast<char>(0xA0 + i));
  span_body += bytes({0x2A, 0x01, 'n'});                                      // 5: name
  span_body += bytes({0x30, 0x02});                                           // 6: kind = SERVER
  span_body += bytes({0x39, 1, 0, 0, 0, 0, 0, 0, 0});                         // 7: start (fixed64)
  span_body += bytes({0x41, 2, 0, 0, 0, 0, 0, 0, 0});                         // 8: end (fixed64)
  span_body += bytes({0x4A, 0x07, 0x0A, 0x01, 'k', 0x12, 0x02, 0x18, 0x01});  // 9: {k: int 1}
  span_body += bytes({0x85, 0x01, 0x01, 0x00, 0x00, 0x00});  // 16: flags (fixed32, 2-byte tag)
  ASSERT_EQ(span_body.size(), 66u);

  std::string want;
  want += bytes({0x0A, 0x4D});  // ExportTraceServiceRequest.resource_spans, 77 bytes
  want += bytes({0x0A, 0x00});  //   ResourceSpans.resource: empty
  want += bytes({0x12, 0x49});  //   ResourceSpans.scope_spans, 73 bytes
  want += bytes({0x0A, 0x03, 0x0A, 0x01, 's'});  // ScopeSpans.scope {name: "s"}
  want += bytes({0x12, 0x42});                   // ScopeSpans.spans, 66 bytes
  want += span_body;

  std::string out;
  otlp::encode_traces_request(resource, scope, std::span(&span, 1), out);
  EXPECT_EQ(hex(out), hex(want));
  EXPECT_EQ(otlp::encoded_span_size(span), 68u);
}

TEST(OtlpProto, TinyLogHandChecked) {
  otlp::LogData log;
  log.time_unix_nano = 0x0102;
  log.severity_number = 9;
  log.body = AnyValue::string("");
  log.event_name = "e";
  log.has_span_id = true;
  log.span_id = {1, 2, 3, 4, 5, 6, 7, 8};

  std::string rec;
  rec += bytes({0x09, 0x02, 0x01, 0, 0, 0, 0, 0, 0});  // 1: time_unix_nano
  rec += bytes({0x10, 0x09});                          // 2: severity_number
  rec += bytes({0x2A, 0x02, 0x0A, 0x00});              // 5: body {string_value: ""}
  rec += bytes({0x52, 0x08, 1, 2, 3, 4, 5, 6, 7, 8});  // 10: span_id
  rec += bytes({0x62, 0x01, 'e'});                     // 12: event_name
  ASSERT_EQ(rec.size(), 28u);

  std::string want = bytes({0x0A, 0x24, 0x0A, 0x00, 0x12, 0x20, 0x0A, 0x00, 0x12, 0x1C}) + rec;
  std::string out = "prefix";  // encoders append
  otlp::encode_logs_request(otlp::Resource{}, otlp::Scope{}, std::span(&log, 1), out);
  EXPECT_EQ(hex(out), hex("prefix" + want));
}

TEST(OtlpProto, NegativeIntsAndSeveritiesAreSignExtended) {
  otlp::LogData log;
  log.severity_number = -1;
  log.body = AnyValue::integer(-2);
  std::string out;
  otlp::encode_logs_request(otlp::Resource{}, otlp::Scope{}, std::span(&log, 1), out);
  const std::string ten_ff = std::string(9, '\xFF') + '\x01';
  const std::string minus_two = "\xFE" + std::string(8, '\xFF') + '\x01';
  EXPECT_NE(out.find("\x10" + ten_ff), std::string::npos);
  EXPECT_NE(out.find("\x18" + minus_two), std::string::npos);
}

// --------------------------------------------------------------------------
// Schema-driven structural walk.

enum class Msg {
  kTraceRequest,
  kLogsRequest,
  kResourceSpans,
  kResourceLogs,
  kScopeSpans,
  kScopeLogs,
  kResource,
  kScope,
  kKeyValue,
  kAnyValue,
  kArrayValue,
  kKvList,
  kSpan,
  kEvent,
  kLink,
  kStatus,
  kLogRecord,
  kNone,
};
struct FieldSpec {
  wire::WireType type;
  Msg sub = Msg::kNone;  // for length-delimited fields holding a message
};
using Schema = std::map<std::pair<Msg, std::uint32_t>, FieldSpec>;

const Schema& schema() {
  using W = wire::WireType;
  static const Schema s = {
      {{Msg::kTraceRequest, 1}, {W::kLen, Msg::kResourceSpans}},
      {{Msg::kLogsRequest, 1}, {W::kLen, Msg::kResourceLogs}},
      {{Msg::kResourceSpans, 1}, {W::kLen, Msg::kResource}},
      {{Msg::kResourceSpans, 2}, {W::kLen, Msg::kScopeSpans}},
      {{Msg::kResourceSpans, 3}, {W::kLen}},
      {{Msg::kResourceLogs, 1}, {W::kLen, Msg::kResource}},
      {{Msg::kResourceLogs, 2}, {W::kLen, Msg::kScopeLogs}},
      {{Msg::kResourceLogs, 3}, {W::kLen}},
      {{Msg::kScopeSpans, 1}, {W::kLen, Msg::kScope}},
      {{Msg::kScopeSpans, 2}, {W::kLen, Msg::kSpan}},
      {{Msg::kScopeSpans, 3}, {W::kLen}},
      {{Msg::kScopeLogs, 1}, {W::kLen, Msg::kScope}},
      {{Msg::kScopeLogs, 2}, {W::kLen, Msg::kLogRecord}},
      {{Msg::kScopeLogs, 3}, {W::kLen}},
      {{Msg::kResource, 1}, {W::kLen, Msg::kKeyValue}},
      {{Msg::kResource, 2}, {W::kVarint}},
      {{Msg::kScope, 1}, {W::kLen}},
      {{Msg::kScope, 2}, {W::kLen}},
      {{Msg::kScope, 3}, {W::kLen, Msg::kKeyValue}},
      {{Msg::kScope, 4}, {W::kVarint}},
      {{Msg::kKeyValue, 1}, {W::kLen}},
      {{Msg::kKeyValue, 2}, {W::kLen, Msg::kAnyValue}},
      {{Msg::kAnyValue, 1}, {W::kLen}},
      {{Msg::kAnyValue, 2}, {W::kVarint}},
      {{Msg::kAnyValue, 3}, {W::kVarint}},
      {{Msg::kAnyValue, 4}, {W::kFixed64}},
      {{Msg::kAnyValue, 5}, {W::kLen, Msg::kArrayValue}},
      {{Msg::kAnyValue, 6}, {W::kLen, Msg::kKvList}},
      {{Msg::kAnyValue, 7}, {W::kLen}},
      {{Msg::kArrayValue, 1}, {W::kLen, Msg::kAnyValue}},
      {{Msg::kKvList, 1}, {W::kLen, Msg::kKeyValue}},
      {{Msg::kSpan, 1}, {W::kLen}},
      {{Msg::kSpan, 2}, {W::kLen}},
      {{Msg::kSpan, 3}, {W::kLen}},
      {{Msg::kSpan, 4}, {W::kLen}},
      {{Msg::kSpan, 5}, {W::kLen}},
      {{Msg::kSpan, 6}, {W::kVarint}},
      {{Msg::kSpan, 7}, {W::kFixed64}},
      {{Msg::kSpan, 8}, {W::kFixed64}},
      {{Msg::kSpan, 9}, {W::kLen, Msg::kKeyValue}},
      {{Msg::kSpan, 10}, {W::kVarint}},
      {{Msg::kSpan, 11}, {W::kLen, Msg::kEvent}},
      {{Msg::kSpan, 12}, {W::kVarint}},
      {{Msg::kSpan, 13}, {W::kLen, Msg::kLink}},
      {{Msg::kSpan, 14}, {W::kVarint}},
      {{Msg::kSpan, 15}, {W::kLen, Msg::kStatus}},
      {{Msg::kSpan, 16}, {W::kFixed32}},
      {{Msg::kEvent, 1}, {W::kFixed64}},
      {{Msg::kEvent, 2}, {W::kLen}},
      {{Msg::kEvent, 3}, {W::kLen, Msg::kKeyValue}},
      {{Msg::kEvent, 4}, {W::kVarint}},
      {{Msg::kLink, 1}, {W::kLen}},
      {{Msg::kLink, 2}, {W::kLen}},
      {{Msg::kLink, 3}, {W::kLen}},
      {{Msg::kLink, 4}, {W::kLen, Msg::kKeyValue}},
      {{Msg::kLink, 5}, {W::kVarint}},
      {{Msg::kLink, 6}, {W::kFixed32}},
      {{Msg::kStatus, 2}, {W::kLen}},
      {{Msg::kStatus, 3}, {W::kVarint}},
      {{Msg::kLogRecord, 1}, {W::kFixed64}},
      {{Msg::kLogRecord, 2}, {W::kVarint}},
      {{Msg::kLogRecord, 3}, {W::kLen}},
      {{Msg::kLogRecord, 5}, {W::kLen, Msg::kAnyValue}},
      {{Msg::kLogRecord, 6}, {W::kLen, Msg::kKeyValue}},
      {{Msg::kLogRecord, 7}, {W::kVarint}},
      {{Msg::kLogRecord, 8}, {W::kFixed32}},
      {{Msg::kLogRecord, 9}, {W::kLen}},
      {{Msg::kLogRecord, 10}, {W::kLen}},
      {{Msg::kLogRecord, 11}, {W::kFixed64}},
      {{Msg::kLogRecord, 12}, {W::kLen}},
  };
  return s;
}

// Walks `body` as message `m`; counts messages of each kind. Fails the test
// on any unknown field, wrong wire type or inconsistent length.
void walk(std::string_view body, Msg m, std::map<Msg, int>& counts) {
  ++counts[m];
  wire::Reader r(body);
  while (!r.done()) {
    std::uint32_t field;
    wire::WireType type;
    ASSERT_TRUE(r.read_tag(&field, &type));
    auto it = schema().find({m, field});
    ASSERT_NE(it, schema().end()) << "unexpected field " << field << " in message " << int(m);
    ASSERT_EQ(type, it->second.type) << "field " << field << " in message " << int(m);
    if (it->second.sub != Msg::kNone) {
      std::string_view sub;
      ASSERT_TRUE(r.read_len(&sub));
      walk(sub, it->second.sub, counts);
    } else {
      ASSERT_TRUE(r.skip(type));
    }
  }
}

TEST(OtlpProto, RichTraceBatchIsStructurallyValid) {
  auto spans = otlp::testing::rich_spans(300);
  std::string out;
  otlp::encode_traces_request(otlp::testing::sample_resource(), otlp::testing::sample_scope(),
                              spans, out);
  std::map<Msg, int> counts;
  walk(out, Msg::kTraceRequest, counts);
  EXPECT_EQ(counts[Msg::kSpan], static_cast<int>(spans.size()));
  EXPECT_EQ(counts[Msg::kEvent], 3);
  EXPECT_EQ(counts[Msg::kLink], 2);
  EXPECT_EQ(counts[Msg::kStatus], 3);
  std::size_t items = 0;
  for (const auto& s : spans) items += otlp::encoded_span_size(s);
  EXPECT_GT(out.size(), items);
}

TEST(OtlpProto, RichLogBatchIsStructurallyValid) {
  auto logs = otlp::testing::rich_logs(100);
  std::string out;
  otlp::encode_logs_request(otlp::testing::sample_resource(), otlp::testing::sample_scope(), logs,
                            out);
  std::map<Msg, int> counts;
  walk(out, Msg::kLogsRequest, counts);
  EXPECT_EQ(counts[Msg::kLogRecord], static_cast<int>(logs.size()));
}

TEST(OtlpProto, PreludeReuseGivesTheSameBytes) {
  auto spans = otlp::testing::rich_spans(10);
  const otlp::ProtoPrelude prelude(otlp::testing::sample_resource(), otlp::testing::sample_scope());
  std::string a, b;
  otlp::encode_traces_request(prelude, spans, a);
  otlp::encode_traces_request(otlp::testing::sample_resource(), otlp::testing::sample_scope(),
                              spans, b);
  EXPECT_EQ(a, b);
  otlp::encode_traces_request(prelude, spans, a);  // appends a second request
  EXPECT_EQ(a, b + b);
}

TEST(OtlpProto, EmptyBatchStillEncodesResourceAndScope) {
  std::string out;
  otlp::encode_traces_request(otlp::testing::sample_resource(), otlp::testing::sample_scope(),
                              std::span<const otlp::SpanData>(), out);
  std::map<Msg, int> counts;
  walk(out, Msg::kTraceRequest, counts);
  EXPECT_EQ(counts[Msg::kSpan], 0);
  EXPECT_EQ(counts[Msg::kResource], 1);
  EXPECT_EQ(counts[Msg::kScope], 1);
}

TEST(OtlpProto, InvalidUtf8IsReplacedAndCounted) {
  otlp::SpanData span;
  span.name = "bad\xC3";
  span.attributes = {{"k\xFF", AnyValue::string("v\xE2\x82")}, {"ok", AnyValue::string("fine")}};
  span.attributes.emplace_back("raw", AnyValue::bytes("\xFF\xFE"));  // bytes stay verbatim
  otlp::EncodeStats stats;
  std::string out;
  otlp::encode_traces_request(otlp::Resource{}, otlp::Scope{}, std::span(&span, 1), out, &stats);
  EXPECT_EQ(stats.invalid_utf8_strings, 3u);
  EXPECT_NE(out.find("bad\xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(out.find("k\xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(out.find("v\xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(out.find("\x3A\x02\xFF\xFE"), std::string::npos);
  std::map<Msg, int> counts;
  walk(out, Msg::kTraceRequest, counts);
}

TEST(OtlpProto, NestingBeyondTheLimitIsCutToAnEmptyValue) {
  AnyValue v = AnyValue::string("deep");
  for (int i = 0; i < 100; ++i) v = AnyValue::array_of({std::move(v)});
  otlp::SpanData span;
  span.attributes = {{"deep", std::move(v)}};
  std::string out;
  otlp::encode_traces_request(otlp::Resource{}, otlp::Scope{}, std::span(&span, 1), out);
  std::map<Msg, int> counts;
  walk(out, Msg::kTraceRequest, counts);
  EXPECT_EQ(counts[Msg::kArrayValue], otlp::kMaxAnyValueDepth);
  EXPECT_EQ(out.find("deep", out.find("deep") + 1), std::string::npos);  // only the key
}

}  // namespace
