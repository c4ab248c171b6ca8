// Sample OTLP batches shared by the unit and conformance tests: small
// hand-checkable ones and "rich" ones that exercise every field, every
// AnyValue type, nesting, unicode, empty strings and extreme numbers.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "encode/otlp_types.hpp"

namespace emp::telemetry::encode::otlp::testing {

inline TraceId make_trace_id(std::uint32_t seed) {
  TraceId id{};
  for (std::size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<std::uint8_t>(seed * 31 + i * 7 + 1);
  return id;
}

inline SpanId make_span_id(std::uint32_t seed) {
  SpanId id{};
  for (std::size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<std::uint8_t>(seed * 13 + i * 5 + 3);
  return id;
}

inline Resource sample_resource() {
  Resource r;
  r.attributes = {
      {"service.name", AnyValue::string("emp-worker")},
      {"service.version", AnyValue::string("1.2.3")},
      {"process.pid", AnyValue::integer(4242)},
      {"telemetry.sdk.language", AnyValue::string("cpp")},
  };
  r.dropped_attributes_count = 2;
  r.schema_url = "https://opentelemetry.io/schemas/1.26.0";
  return r;
}

inline Scope sample_scope() {
  Scope s;
  s.name = "emp-telemetry";
  s.version = "0.1.0";
  s.attributes = {{"scope.kind", AnyValue::string("library")}};
  s.dropped_attributes_count = 1;
  s.schema_url = "https://opentelemetry.io/schemas/1.25.0";
  return s;
}

// Every AnyValue type, nested arrays and kvlists, extremes.
inline std::vector<KeyValue> rich_attributes() {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<KeyValue> a;
  a.emplace_back("str", AnyValue::string("job-3f2a"));
  a.emplace_back("empty.str", AnyValue::string(""));
  a.emplace_back("unicode",
                 AnyValue::string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE4\xB8\xAD"));
  a.emplace_back("escapes", AnyValue::string("quote\" backslash\\ nl\n tab\t nul" +
                                             std::string(1, '\0') + " del\x7F"));
  a.emplace_back("bool.true", AnyValue::boolean(true));
  a.emplace_back("bool.false", AnyValue::boolean(false));
  a.emplace_back("int.zero", AnyValue::integer(0));
  a.emplace_back("int.neg", AnyValue::integer(-1));
  a.emplace_back("int.min", AnyValue::integer(std::numeric_limits<std::int64_t>::min()));
  a.emplace_back("int.max", AnyValue::integer(std::numeric_limits<std::int64_t>::max()));
  a.emplace_back("dbl", AnyValue::floating(3.25));
  a.emplace_back("dbl.zero", AnyValue::floating(0.0));
  a.emplace_back("dbl.neg", AnyValue::floating(-1e-300));
  a.emplace_back("dbl.big", AnyValue::floating(1.7976931348623157e308));
  a.emplace_back("dbl.third", AnyValue::floating(1.0 / 3.0));
  a.emplace_back("dbl.nan", AnyValue::floating(std::numeric_limits<double>::quiet_NaN()));
  a.emplace_back("dbl.inf", AnyValue::floating(inf));
  a.emplace_back("dbl.ninf", AnyValue::floating(-inf));
  a.emplace_back("bytes", AnyValue::bytes(std::string("\x00\x01\xFE\xFF", 4)));
  a.emplace_back("bytes.empty", AnyValue::bytes(""));
  a.emplace_back("empty.value", AnyValue{});
  a.emplace_back("", AnyValue::string("empty key"));
  a.emplace_back("arr", AnyValue::array_of({AnyValue::string("a"), AnyValue::integer(7),
                                            AnyValue::floating(0.5), AnyValue::boolean(true),
                                            AnyValue::bytes("xyz"), AnyValue{}}));
  a.emplace_back("arr.empty", AnyValue::array_of({}));
  a.emplace_back(
      "arr.nested",
      AnyValue::array_of({AnyValue::array_of({AnyValue::integer(1), AnyValue::integer(2)}),
                          AnyValue::kvlist_of({{"inner", AnyValue::string("v")}})}));
  a.emplace_back(
      "kv", AnyValue::kvlist_of({{"a", AnyValue::integer(-42)},
                                 {"b", AnyValue::array_of({AnyValue::string("x")})},
                                 {"c", AnyValue::kvlist_of({{"d", AnyValue::boolean(false)}})}}));
  a.emplace_back("kv.empty", AnyValue::kvlist_of({}));
  return a;
}

// A batch exercising every span field.
inline std::vector<SpanData> rich_spans(std::size_t extra_plain = 0) {
  std::vector<SpanData> spans;
  {
    SpanData s;
    s.trace_id = make_trace_id(1);
    s.span_id = make_span_id(1);
    s.name = "job.process";
    s.kind = SpanKind::kServer;
    s.start_time_unix_nano = 1700000000123456789ull;
    s.end_time_unix_nano = std::numeric_limits<std::uint64_t>::max();
    s.flags = 0x01 | kSpanFlagsContextHasIsRemote | kSpanFlagsContextIsRemote;
    s.trace_state = "emp=1,vendor@sys=x";
    s.has_parent = true;
    s.parent_span_id = make_span_id(99);
    s.attributes = rich_attributes();
    s.dropped_attributes_count = 3;
    SpanEvent e1;
    e1.time_unix_nano = 1700000000200000000ull;
    e1.name = "job_progress";
    e1.attributes = {{"progress", AnyValue::integer(50)}, {"note", AnyValue::string("half")}};
    e1.dropped_attributes_count = 1;
    SpanEvent e2;  // all defaults
    SpanEvent e3;
    e3.name = "exception";
    e3.attributes = {{"exception.message", AnyValue::string("\xE2\x9A\xA0 boom")}};
    s.events = {e1, e2, e3};
    s.dropped_events_count = 4;
    SpanLink l1;
    l1.trace_id = make_trace_id(7);
    l1.span_id = make_span_id(7);
    l1.trace_state = "k=v";
    l1.attributes = {{"link.kind", AnyValue::string("follows")}};
    l1.dropped_attributes_count = 9;
    l1.flags = 0x01 | kSpanFlagsContextHasIsRemote;
    SpanLink l2;  // ids only
    l2.trace_id = make_trace_id(8);
    l2.span_id = make_span_id(8);
    s.links = {l1, l2};
    s.dropped_links_count = 5;
    s.status.code = StatusCode::kError;
    s.status.message = "model load failed: \xE2\x9C\x97";
    spans.push_back(std::move(s));
  }
  {
    SpanData s;  // a root span with the minimum: ids only
    s.trace_id = make_trace_id(2);
    s.span_id = make_span_id(2);
    spans.push_back(std::move(s));
  }
  {
    SpanData s;  // status OK without message, each kind value, zero start time
    s.trace_id = make_trace_id(3);
    s.span_id = make_span_id(3);
    s.name = "";
    s.kind = SpanKind::kConsumer;
    s.end_time_unix_nano = 1;
    s.status.code = StatusCode::kOk;
    s.flags = kSpanFlagsContextHasIsRemote;  // known to be local
    spans.push_back(std::move(s));
  }
  {
    SpanData s;  // status message without code
    s.trace_id = make_trace_id(4);
    s.span_id = make_span_id(4);
    s.name = "workflow.step_submit";
    s.kind = SpanKind::kProducer;
    s.status.message = "unset but described";
    s.attributes = {{"lifecycle.stage", AnyValue::string("submit")}};
    spans.push_back(std::move(s));
  }
  for (std::size_t i = 0; i < extra_plain; ++i) {
    SpanData s;
    s.trace_id = make_trace_id(static_cast<std::uint32_t>(100 + i));
    s.span_id = make_span_id(static_cast<std::uint32_t>(100 + i));
    s.has_parent = (i % 2) == 0;
    s.parent_span_id = make_span_id(static_cast<std::uint32_t>(1000 + i));
    s.name = "process.image_generation";
    s.kind = static_cast<SpanKind>(i % 6);
    s.start_time_unix_nano = 1700000000000000000ull + i * 1000;
    s.end_time_unix_nano = s.start_time_unix_nano + 999 + i;
    s.flags = 1;
    s.attributes = {{"job.id", AnyValue::string("job-" + std::to_string(i))},
                    {"job.priority", AnyValue::integer(static_cast<std::int64_t>(i) - 5)},
                    {"job.success", AnyValue::boolean(i % 3 == 0)},
                    {"job.duration_ms", AnyValue::floating(static_cast<double>(i) * 1.5)}};
    spans.push_back(std::move(s));
  }
  return spans;
}

inline std::vector<LogData> rich_logs(std::size_t extra_plain = 0) {
  std::vector<LogData> logs;
  {
    LogData l;
    l.time_unix_nano = 1700000000123456789ull;
    l.observed_time_unix_nano = std::numeric_limits<std::uint64_t>::max();
    l.severity_number = 17;
    l.severity_text = "ERROR";
    l.body = AnyValue::string("job failed: \xE2\x9C\x97 \"quoted\"\n");
    l.attributes = rich_attributes();
    l.dropped_attributes_count = 6;
    l.flags = 1;
    l.has_trace_id = true;
    l.trace_id = make_trace_id(5);
    l.has_span_id = true;
    l.span_id = make_span_id(5);
    l.event_name = "job_failed";
    logs.push_back(std::move(l));
  }
  {
    LogData l;  // nothing set at all
    logs.push_back(std::move(l));
  }
  {
    LogData l;  // structured body, trace id without span id
    l.time_unix_nano = 1;
    l.observed_time_unix_nano = 2;
    l.severity_number = 9;
    l.severity_text = "INFO";
    l.body = AnyValue::kvlist_of({{"job_id", AnyValue::string("job-1")},
                                  {"ms", AnyValue::integer(812)},
                                  {"tags", AnyValue::array_of({AnyValue::string("a")})}});
    l.has_trace_id = true;
    l.trace_id = make_trace_id(6);
    logs.push_back(std::move(l));
  }
  {
    LogData l;  // each other body type
    l.severity_number = 24;
    l.body = AnyValue::bytes(std::string("\x00\xFF", 2));
    logs.push_back(std::move(l));
  }
  {
    LogData l;
    l.severity_number = 1;
    l.body = AnyValue::floating(-0.125);
    l.event_name = "health_check";
    logs.push_back(std::move(l));
  }
  for (std::size_t i = 0; i < extra_plain; ++i) {
    LogData l;
    l.time_unix_nano = 1700000000000000000ull + i;
    l.observed_time_unix_nano = l.time_unix_nano + 10;
    l.severity_number = static_cast<std::int32_t>(1 + i % 24);
    l.severity_text = "INFO";
    l.body = AnyValue::string("message " + std::to_string(i));
    l.attributes = {{"job_id", AnyValue::string("job-" + std::to_string(i))},
                    {"machine_id", AnyValue::string("gpu-7")}};
    logs.push_back(std::move(l));
  }
  return logs;
}

}  // namespace emp::telemetry::encode::otlp::testing
