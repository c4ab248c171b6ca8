// The OTLP data model for traces and logs, as plain owning structs that the
// trace and log tracks fill on the background thread and the OTLP encoders
// (otlp_proto.hpp, otlp_json.hpp) turn into export requests.
//
// The shapes mirror opentelemetry-proto (trace.proto, logs.proto,
// common.proto, resource.proto) field for field, but are laid out for
// encoding speed: attributes are flat vectors (never maps), ids are fixed
// arrays, times are raw unix nanoseconds. A value-initialized struct means
// "absent" for every optional field, so encoders can omit proto3 defaults.
//
// Not thread-safe: a batch is built and encoded by one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emp::telemetry::encode::otlp {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

struct KeyValue;

// common.v1.AnyValue. Exactly one alternative is meaningful, selected by
// `type`; kEmpty is a valid "no value" AnyValue (encoded with no oneof set).
// `str` holds both the string (kString, should be UTF-8: encoders replace
// invalid sequences with U+FFFD) and the raw bytes (kBytes, sent verbatim).
struct AnyValue {
  enum class Type : std::uint8_t {
    kEmpty = 0,
    kString,
    kBool,
    kInt,
    kDouble,
    kBytes,
    kArray,
    kKvList,
  };

  Type type = Type::kEmpty;
  bool bool_value = false;
  std::int64_t int_value = 0;
  double double_value = 0.0;
  std::string str;               // kString or kBytes
  std::vector<AnyValue> array;   // kArray
  std::vector<KeyValue> kvlist;  // kKvList

  // Builders, defined below once KeyValue is complete.
  static AnyValue string(std::string s);
  static AnyValue string(std::string_view s);
  static AnyValue string(const char* s);
  static AnyValue boolean(bool b);
  static AnyValue integer(std::int64_t i);
  static AnyValue floating(double d);
  static AnyValue bytes(std::string b);
  static AnyValue array_of(std::vector<AnyValue> values);
  static AnyValue kvlist_of(std::vector<KeyValue> values);
};

// common.v1.KeyValue: one attribute. Keys should be unique within a list
// (the encoders do not check; the tracks enforce it).
struct KeyValue {
  std::string key;
  AnyValue value;

  KeyValue() = default;
  KeyValue(std::string k, AnyValue v) : key(std::move(k)), value(std::move(v)) {}
};

inline AnyValue AnyValue::string(std::string s) {
  AnyValue v;
  v.type = Type::kString;
  v.str = std::move(s);
  return v;
}
inline AnyValue AnyValue::string(std::string_view s) { return string(std::string(s)); }
inline AnyValue AnyValue::string(const char* s) { return string(std::string(s)); }
inline AnyValue AnyValue::boolean(bool b) {
  AnyValue v;
  v.type = Type::kBool;
  v.bool_value = b;
  return v;
}
inline AnyValue AnyValue::integer(std::int64_t i) {
  AnyValue v;
  v.type = Type::kInt;
  v.int_value = i;
  return v;
}
inline AnyValue AnyValue::floating(double d) {
  AnyValue v;
  v.type = Type::kDouble;
  v.double_value = d;
  return v;
}
inline AnyValue AnyValue::bytes(std::string b) {
  AnyValue v;
  v.type = Type::kBytes;
  v.str = std::move(b);
  return v;
}
inline AnyValue AnyValue::array_of(std::vector<AnyValue> values) {
  AnyValue v;
  v.type = Type::kArray;
  v.array = std::move(values);
  return v;
}
inline AnyValue AnyValue::kvlist_of(std::vector<KeyValue> values) {
  AnyValue v;
  v.type = Type::kKvList;
  v.kvlist = std::move(values);
  return v;
}

// resource.v1.Resource plus the schema_url of the ResourceSpans/ResourceLogs
// that carries it.
struct Resource {
  std::vector<KeyValue> attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::string schema_url;
};

// common.v1.InstrumentationScope plus the schema_url of the
// ScopeSpans/ScopeLogs that carries it.
struct Scope {
  std::string name;
  std::string version;
  std::vector<KeyValue> attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::string schema_url;
};

// trace.v1.SpanFlags bits of Span.flags and Link.flags: the low byte holds the
// W3C trace flags; bit 8 says whether bit 9 (parent/link is remote) is known.
inline constexpr std::uint32_t kSpanFlagsTraceFlagsMask = 0x000000FF;
inline constexpr std::uint32_t kSpanFlagsContextHasIsRemote = 0x00000100;
inline constexpr std::uint32_t kSpanFlagsContextIsRemote = 0x00000200;

// trace.v1.Span.SpanKind and trace.v1.Status.StatusCode values.
enum class SpanKind : std::uint8_t {
  kUnspecified = 0,
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5,
};
enum class StatusCode : std::uint8_t { kUnset = 0, kOk = 1, kError = 2 };

// trace.v1.Span.Event
struct SpanEvent {
  std::uint64_t time_unix_nano = 0;
  std::string name;
  std::vector<KeyValue> attributes;
  std::uint32_t dropped_attributes_count = 0;
};

// trace.v1.Span.Link
struct SpanLink {
  TraceId trace_id{};
  SpanId span_id{};
  std::string trace_state;
  std::vector<KeyValue> attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::uint32_t flags = 0;  // see kSpanFlags*
};

// trace.v1.Status
struct SpanStatus {
  StatusCode code = StatusCode::kUnset;
  std::string message;
};

// trace.v1.Span
struct SpanData {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};
  bool has_parent = false;  // false: root span, parent_span_id is not sent
  std::string trace_state;
  std::uint32_t flags = 0;  // see kSpanFlags*
  std::string name;
  SpanKind kind = SpanKind::kUnspecified;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t end_time_unix_nano = 0;
  std::vector<KeyValue> attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::vector<SpanEvent> events;
  std::uint32_t dropped_events_count = 0;
  std::vector<SpanLink> links;
  std::uint32_t dropped_links_count = 0;
  SpanStatus status;
};

// logs.v1.LogRecord. A non-empty `event_name` makes the record an Event.
struct LogData {
  std::uint64_t time_unix_nano = 0;
  std::uint64_t observed_time_unix_nano = 0;
  std::int32_t severity_number = 0;  // 1..24 (docs/otlp.md); 0 = unspecified
  std::string severity_text;
  AnyValue body;  // kEmpty: no body
  std::vector<KeyValue> attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::uint32_t flags = 0;  // W3C trace flags in the low byte
  bool has_trace_id = false;
  TraceId trace_id{};
  bool has_span_id = false;
  SpanId span_id{};
  std::string event_name;
};

}  // namespace emp::telemetry::encode::otlp
