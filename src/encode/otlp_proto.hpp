// OTLP/protobuf encoders for the trace and log tracks: a batch of SpanData or
// LogData in, the bytes of an ExportTraceServiceRequest or
// ExportLogsServiceRequest out, ready to POST to /v1/traces or /v1/logs with
// Content-Type application/x-protobuf.
//
// Written directly against the wire format (field numbers from the public
// opentelemetry-proto definitions) in two passes: sizes first, then one
// write into a buffer grown once, so encoding allocates nothing per field.
// Proto3 defaults (zero numbers, empty strings, empty lists) are omitted;
// ids, the resource, the scope, KeyValue.value and every AnyValue oneof are
// always written. Strings are sent as UTF-8 with ill-formed sequences
// replaced by U+FFFD; AnyValue nesting deeper than kMaxAnyValueDepth is sent
// as an empty AnyValue.
//
// Each request holds one ResourceSpans/ResourceLogs with one
// ScopeSpans/ScopeLogs. Pure functions; thread-safe for distinct outputs.
// The only exception they can throw is std::bad_alloc from growing `out`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "encode/otlp_types.hpp"

namespace emp::telemetry::encode::otlp {

inline constexpr int kMaxAnyValueDepth = 32;

// What the encoder had to change, so the caller can count it.
struct EncodeStats {
  std::size_t invalid_utf8_strings = 0;  // strings in which bytes were replaced by U+FFFD
};

// The resource and scope of one client, encoded once and reused for every
// batch (they never change after start-up). Works for both signals: the
// Resource and InstrumentationScope are field 1 of ResourceSpans/ResourceLogs
// and ScopeSpans/ScopeLogs alike. Immutable after construction, so one
// instance may be shared by threads.
class ProtoPrelude {
 public:
  ProtoPrelude(const Resource& resource, const Scope& scope);

  // `resource` field (tag, length, Resource message) of ResourceSpans/Logs,
  // followed by nothing else.
  std::string_view resource_field() const noexcept { return resource_field_; }
  // `scope` field (tag, length, InstrumentationScope) of ScopeSpans/Logs.
  std::string_view scope_field() const noexcept { return scope_field_; }
  // `schema_url` fields (tag, length, string) or empty when not set.
  std::string_view resource_schema_field() const noexcept { return resource_schema_field_; }
  std::string_view scope_schema_field() const noexcept { return scope_schema_field_; }

 private:
  std::string resource_field_;
  std::string scope_field_;
  std::string resource_schema_field_;
  std::string scope_schema_field_;
};

// Appends an ExportTraceServiceRequest holding `spans` to `out` (which is
// grown once). `stats`, when given, is incremented.
void encode_traces_request(const ProtoPrelude& prelude, std::span<const SpanData> spans,
                           std::string& out, EncodeStats* stats = nullptr);
void encode_traces_request(const Resource& resource, const Scope& scope,
                           std::span<const SpanData> spans, std::string& out,
                           EncodeStats* stats = nullptr);

// Appends an ExportLogsServiceRequest holding `logs` to `out`.
void encode_logs_request(const ProtoPrelude& prelude, std::span<const LogData> logs,
                         std::string& out, EncodeStats* stats = nullptr);
void encode_logs_request(const Resource& resource, const Scope& scope,
                         std::span<const LogData> logs, std::string& out,
                         EncodeStats* stats = nullptr);

// Encoded size of one span / log record as an element of its repeated field
// (tag + length + message); lets a sink split batches under a byte cap
// before encoding.
std::size_t encoded_span_size(const SpanData& span) noexcept;
std::size_t encoded_log_size(const LogData& log) noexcept;

}  // namespace emp::telemetry::encode::otlp
