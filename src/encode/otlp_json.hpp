// OTLP/JSON encoders for the trace and log tracks: the same
// ExportTraceServiceRequest / ExportLogsServiceRequest as otlp_proto.hpp, in
// the protobuf JSON mapping with the OTLP exceptions (docs/otlp.md, "OTLP/JSON"),
// for Content-Type application/json:
//   - keys in lowerCamelCase (resourceSpans, startTimeUnixNano, ...);
//   - traceId / spanId / parentSpanId as lowercase hex, not base64;
//   - enums (kind, status.code, severityNumber) as integers;
//   - 64-bit integers (times, intValue) as decimal strings; 32-bit ones
//     (flags, dropped counts) as numbers;
//   - doubles as JSON numbers in the shortest round-trip form, NaN and
//     infinities as the strings "NaN", "Infinity", "-Infinity";
//   - bytesValue as standard base64 with padding;
//   - strings escaped, ill-formed UTF-8 replaced by U+FFFD.
// Omission policy, the same as the protobuf encoder: zero numbers, empty
// strings and empty lists are left out, except that ids, KeyValue.key,
// KeyValue.value, the resource and the scope are always written.
// Pure functions; thread-safe for distinct outputs. The only exception they
// can throw is std::bad_alloc from growing `out`.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "encode/otlp_proto.hpp"
#include "encode/otlp_types.hpp"

namespace emp::telemetry::encode::otlp {

// The resource and scope of one client as JSON members, rendered once.
// Immutable after construction.
class JsonPrelude {
 public:
  JsonPrelude(const Resource& resource, const Scope& scope);

  // `"resource":{...}` and `"scope":{...}` (no surrounding commas).
  std::string_view resource_member() const noexcept { return resource_member_; }
  std::string_view scope_member() const noexcept { return scope_member_; }
  // `,"schemaUrl":"..."` or empty.
  std::string_view resource_schema_member() const noexcept { return resource_schema_member_; }
  std::string_view scope_schema_member() const noexcept { return scope_schema_member_; }

 private:
  std::string resource_member_;
  std::string scope_member_;
  std::string resource_schema_member_;
  std::string scope_schema_member_;
};

// Appends an ExportTraceServiceRequest as one JSON object (no newline).
void encode_traces_request_json(const JsonPrelude& prelude, std::span<const SpanData> spans,
                                std::string& out, EncodeStats* stats = nullptr);
void encode_traces_request_json(const Resource& resource, const Scope& scope,
                                std::span<const SpanData> spans, std::string& out,
                                EncodeStats* stats = nullptr);

// Appends an ExportLogsServiceRequest as one JSON object (no newline).
void encode_logs_request_json(const JsonPrelude& prelude, std::span<const LogData> logs,
                              std::string& out, EncodeStats* stats = nullptr);
void encode_logs_request_json(const Resource& resource, const Scope& scope,
                              std::span<const LogData> logs, std::string& out,
                              EncodeStats* stats = nullptr);

}  // namespace emp::telemetry::encode::otlp
