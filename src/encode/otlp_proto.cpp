// OTLP/protobuf encoding: a size pass computes every message length, then a
// write pass fills a buffer grown once. Field numbers come from
// opentelemetry-proto: trace/v1/trace.proto, logs/v1/logs.proto,
// common/v1/common.proto, resource/v1/resource.proto and the
// collector/{trace,logs}/v1 services.
#include "encode/otlp_proto.hpp"

#include <bit>
#include <cassert>
#include <vector>

#include "encode/otlp_proto_sizes.hpp"
#include "encode/otlp_proto_writer.hpp"
#include "encode/proto_wire.hpp"

namespace emp::telemetry::encode::otlp {
namespace {

using wire::int64_varint_size;
using wire::len_prefixed_size;
using wire::make_tag;
using wire::put_fixed32;
using wire::put_varint;
using wire::varint_size;

using proto::kFixed32;
using proto::kFixed64;
using proto::kLen;
using proto::kVarint;
using proto::tag8;

// resource.v1.Resource
constexpr std::uint8_t kResourceAttributes = tag8(1, kLen);
constexpr std::uint8_t kResourceDropped = tag8(2, kVarint);
// common.v1.InstrumentationScope
constexpr std::uint8_t kScopeName = tag8(1, kLen);
constexpr std::uint8_t kScopeVersion = tag8(2, kLen);
constexpr std::uint8_t kScopeAttributes = tag8(3, kLen);
constexpr std::uint8_t kScopeDropped = tag8(4, kVarint);
// Export*ServiceRequest.resource_{spans,logs}; Resource*.{resource,scope_*,schema_url};
// Scope*.{scope,spans|log_records,schema_url}: the same numbers for both signals.
constexpr std::uint8_t kRequestResource = tag8(1, kLen);
constexpr std::uint8_t kResourceResource = tag8(1, kLen);
constexpr std::uint8_t kResourceScopes = tag8(2, kLen);
constexpr std::uint8_t kResourceSchemaUrl = tag8(3, kLen);
constexpr std::uint8_t kScopeScope = tag8(1, kLen);
constexpr std::uint8_t kScopeItems = tag8(2, kLen);
constexpr std::uint8_t kScopeSchemaUrl = tag8(3, kLen);
// trace.v1.Span
constexpr std::uint8_t kSpanTraceId = tag8(1, kLen);
constexpr std::uint8_t kSpanSpanId = tag8(2, kLen);
constexpr std::uint8_t kSpanTraceState = tag8(3, kLen);
constexpr std::uint8_t kSpanParent = tag8(4, kLen);
constexpr std::uint8_t kSpanName = tag8(5, kLen);
constexpr std::uint8_t kSpanKind = tag8(6, kVarint);
constexpr std::uint8_t kSpanStart = tag8(7, kFixed64);
constexpr std::uint8_t kSpanEnd = tag8(8, kFixed64);
constexpr std::uint8_t kSpanAttributes = tag8(9, kLen);
constexpr std::uint8_t kSpanDroppedAttributes = tag8(10, kVarint);
constexpr std::uint8_t kSpanEvents = tag8(11, kLen);
constexpr std::uint8_t kSpanDroppedEvents = tag8(12, kVarint);
constexpr std::uint8_t kSpanLinks = tag8(13, kLen);
constexpr std::uint8_t kSpanDroppedLinks = tag8(14, kVarint);
constexpr std::uint8_t kSpanStatus = tag8(15, kLen);
// Span.flags is field 16: its tag (0x85 0x01) takes two bytes.
constexpr std::uint32_t kSpanFlagsTag = make_tag(16, kFixed32);
static_assert(varint_size(kSpanFlagsTag) == 2);
// trace.v1.Span.Event
constexpr std::uint8_t kEventTime = tag8(1, kFixed64);
constexpr std::uint8_t kEventName = tag8(2, kLen);
constexpr std::uint8_t kEventAttributes = tag8(3, kLen);
constexpr std::uint8_t kEventDropped = tag8(4, kVarint);
// trace.v1.Span.Link
constexpr std::uint8_t kLinkTraceId = tag8(1, kLen);
constexpr std::uint8_t kLinkSpanId = tag8(2, kLen);
constexpr std::uint8_t kLinkTraceState = tag8(3, kLen);
constexpr std::uint8_t kLinkAttributes = tag8(4, kLen);
constexpr std::uint8_t kLinkDropped = tag8(5, kVarint);
constexpr std::uint8_t kLinkFlags = tag8(6, kFixed32);
// trace.v1.Status (field 1 is reserved)
constexpr std::uint8_t kStatusMessage = tag8(2, kLen);
constexpr std::uint8_t kStatusCode = tag8(3, kVarint);
// logs.v1.LogRecord
constexpr std::uint8_t kLogTime = tag8(1, kFixed64);
constexpr std::uint8_t kLogSeverityNumber = tag8(2, kVarint);
constexpr std::uint8_t kLogSeverityText = tag8(3, kLen);
constexpr std::uint8_t kLogBody = tag8(5, kLen);
constexpr std::uint8_t kLogAttributes = tag8(6, kLen);
constexpr std::uint8_t kLogDropped = tag8(7, kVarint);
constexpr std::uint8_t kLogFlags = tag8(8, kFixed32);
constexpr std::uint8_t kLogTraceId = tag8(9, kLen);
constexpr std::uint8_t kLogSpanId = tag8(10, kLen);
constexpr std::uint8_t kLogObservedTime = tag8(11, kFixed64);
constexpr std::uint8_t kLogEventName = tag8(12, kLen);

// ---------------------------------------------------------------------------
// Size pass. Each *_size returns the message body size (without its own tag
// and length prefix).

using sizes::any_size;
using sizes::attrs_size;
using sizes::opt_str_field_size;
using sizes::opt_varint_field_size;

std::size_t event_size(const SpanEvent& e) noexcept {
  return (e.time_unix_nano != 0 ? 9 : 0) + opt_str_field_size(e.name) + attrs_size(e.attributes) +
         opt_varint_field_size(e.dropped_attributes_count);
}

std::size_t link_size(const SpanLink& l) noexcept {
  return 18 + 10 + opt_str_field_size(l.trace_state) + attrs_size(l.attributes) +
         opt_varint_field_size(l.dropped_attributes_count) + (l.flags != 0 ? 5 : 0);
}

inline bool has_status(const SpanStatus& s) noexcept {
  return s.code != StatusCode::kUnset || !s.message.empty();
}

std::size_t status_size(const SpanStatus& s) noexcept {
  return opt_str_field_size(s.message) + opt_varint_field_size(static_cast<std::uint64_t>(s.code));
}

std::size_t span_size(const SpanData& s) noexcept {
  std::size_t n = 18 + 10;  // trace_id, span_id
  n += opt_str_field_size(s.trace_state);
  if (s.has_parent) n += 10;
  n += opt_str_field_size(s.name);
  n += opt_varint_field_size(static_cast<std::uint64_t>(s.kind));
  if (s.start_time_unix_nano != 0) n += 9;
  if (s.end_time_unix_nano != 0) n += 9;
  n += attrs_size(s.attributes);
  n += opt_varint_field_size(s.dropped_attributes_count);
  for (const SpanEvent& e : s.events) n += 1 + len_prefixed_size(event_size(e));
  n += opt_varint_field_size(s.dropped_events_count);
  for (const SpanLink& l : s.links) n += 1 + len_prefixed_size(link_size(l));
  n += opt_varint_field_size(s.dropped_links_count);
  if (has_status(s.status)) n += 1 + len_prefixed_size(status_size(s.status));
  if (s.flags != 0) n += 2 + 4;
  return n;
}

std::size_t log_size(const LogData& l) noexcept {
  std::size_t n = 0;
  if (l.time_unix_nano != 0) n += 9;
  if (l.severity_number != 0) n += 1 + int64_varint_size(l.severity_number);
  n += opt_str_field_size(l.severity_text);
  if (l.body.type != AnyValue::Type::kEmpty) n += 1 + len_prefixed_size(any_size(l.body, 0));
  n += attrs_size(l.attributes);
  n += opt_varint_field_size(l.dropped_attributes_count);
  if (l.flags != 0) n += 5;
  if (l.has_trace_id) n += 18;
  if (l.has_span_id) n += 10;
  if (l.observed_time_unix_nano != 0) n += 9;
  n += opt_str_field_size(l.event_name);
  return n;
}

std::size_t resource_size(const Resource& r) noexcept {
  return attrs_size(r.attributes) + opt_varint_field_size(r.dropped_attributes_count);
}

std::size_t scope_size(const Scope& s) noexcept {
  return opt_str_field_size(s.name) + opt_str_field_size(s.version) + attrs_size(s.attributes) +
         opt_varint_field_size(s.dropped_attributes_count);
}

// ---------------------------------------------------------------------------
// Write pass. `p` advances through a buffer sized by the pass above.

struct Writer : proto::ValueWriter {
  using ValueWriter::ValueWriter;

  void event(const SpanEvent& e) noexcept {
    opt_fixed64_field(kEventTime, e.time_unix_nano);
    opt_str_field(kEventName, e.name);
    attrs(kEventAttributes, e.attributes);
    opt_varint_field(kEventDropped, e.dropped_attributes_count);
  }

  void link(const SpanLink& l) noexcept {
    bytes_field(kLinkTraceId, l.trace_id.data(), l.trace_id.size());
    bytes_field(kLinkSpanId, l.span_id.data(), l.span_id.size());
    opt_str_field(kLinkTraceState, l.trace_state);
    attrs(kLinkAttributes, l.attributes);
    opt_varint_field(kLinkDropped, l.dropped_attributes_count);
    if (l.flags != 0) {
      *p++ = kLinkFlags;
      p = put_fixed32(p, l.flags);
    }
  }

  void span(const SpanData& s) noexcept {
    bytes_field(kSpanTraceId, s.trace_id.data(), s.trace_id.size());
    bytes_field(kSpanSpanId, s.span_id.data(), s.span_id.size());
    opt_str_field(kSpanTraceState, s.trace_state);
    if (s.has_parent) bytes_field(kSpanParent, s.parent_span_id.data(), s.parent_span_id.size());
    opt_str_field(kSpanName, s.name);
    opt_varint_field(kSpanKind, static_cast<std::uint64_t>(s.kind));
    opt_fixed64_field(kSpanStart, s.start_time_unix_nano);
    opt_fixed64_field(kSpanEnd, s.end_time_unix_nano);
    attrs(kSpanAttributes, s.attributes);
    opt_varint_field(kSpanDroppedAttributes, s.dropped_attributes_count);
    for (const SpanEvent& e : s.events) {
      *p++ = kSpanEvents;
      varint(event_size(e));
      event(e);
    }
    opt_varint_field(kSpanDroppedEvents, s.dropped_events_count);
    for (const SpanLink& l : s.links) {
      *p++ = kSpanLinks;
      varint(link_size(l));
      link(l);
    }
    opt_varint_field(kSpanDroppedLinks, s.dropped_links_count);
    if (has_status(s.status)) {
      *p++ = kSpanStatus;
      varint(status_size(s.status));
      opt_str_field(kStatusMessage, s.status.message);
      opt_varint_field(kStatusCode, static_cast<std::uint64_t>(s.status.code));
    }
    if (s.flags != 0) {
      p = put_varint(p, kSpanFlagsTag);
      p = put_fixed32(p, s.flags);
    }
  }

  void log(const LogData& l) noexcept {
    opt_fixed64_field(kLogTime, l.time_unix_nano);
    if (l.severity_number != 0) {
      *p++ = kLogSeverityNumber;
      // Enums are int32 on the wire: negative values are sign-extended.
      varint(static_cast<std::uint64_t>(static_cast<std::int64_t>(l.severity_number)));
    }
    opt_str_field(kLogSeverityText, l.severity_text);
    if (l.body.type != AnyValue::Type::kEmpty) {
      *p++ = kLogBody;
      varint(any_size(l.body, 0));
      any_value(l.body, 0);
    }
    attrs(kLogAttributes, l.attributes);
    opt_varint_field(kLogDropped, l.dropped_attributes_count);
    if (l.flags != 0) {
      *p++ = kLogFlags;
      p = put_fixed32(p, l.flags);
    }
    if (l.has_trace_id) bytes_field(kLogTraceId, l.trace_id.data(), l.trace_id.size());
    if (l.has_span_id) bytes_field(kLogSpanId, l.span_id.data(), l.span_id.size());
    opt_fixed64_field(kLogObservedTime, l.observed_time_unix_nano);
    opt_str_field(kLogEventName, l.event_name);
  }
};

// Grows `out` by exactly `n` bytes and returns where they start.
std::uint8_t* grow(std::string& out, std::size_t n) {
  const std::size_t old = out.size();
  out.resize(old + n);
  return reinterpret_cast<std::uint8_t*>(out.data()) + old;
}

// Per-thread scratch for item sizes so a batch costs no allocation once warm.
std::vector<std::size_t>& item_sizes() {
  thread_local std::vector<std::size_t> sizes;
  return sizes;
}

// Shared shape of both requests: one Resource*, one Scope*, N items.
template <typename Item, typename SizeFn, typename WriteFn>
void encode_request(const ProtoPrelude& prelude, std::span<const Item> items, std::string& out,
                    EncodeStats* stats, SizeFn size_of, WriteFn write) {
  std::vector<std::size_t>& sizes = item_sizes();
  sizes.resize(items.size());
  std::size_t items_total = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    sizes[i] = size_of(items[i]);
    items_total += 1 + len_prefixed_size(sizes[i]);
  }
  const std::size_t scope_body =
      prelude.scope_field().size() + items_total + prelude.scope_schema_field().size();
  const std::size_t resource_body = prelude.resource_field().size() + 1 +
                                    len_prefixed_size(scope_body) +
                                    prelude.resource_schema_field().size();
  const std::size_t total = 1 + len_prefixed_size(resource_body);

  Writer w{grow(out, total)};
  [[maybe_unused]] const std::uint8_t* const begin = w.p;
  w.byte(kRequestResource);
  w.varint(resource_body);
  w.p = wire::put_bytes(w.p, prelude.resource_field().data(), prelude.resource_field().size());
  w.byte(kResourceScopes);
  w.varint(scope_body);
  w.p = wire::put_bytes(w.p, prelude.scope_field().data(), prelude.scope_field().size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    w.byte(kScopeItems);
    w.varint(sizes[i]);
    [[maybe_unused]] const std::uint8_t* const item_begin = w.p;
    write(w, items[i]);
    assert(static_cast<std::size_t>(w.p - item_begin) == sizes[i]);
  }
  w.p = wire::put_bytes(w.p, prelude.scope_schema_field().data(),
                        prelude.scope_schema_field().size());
  w.p = wire::put_bytes(w.p, prelude.resource_schema_field().data(),
                        prelude.resource_schema_field().size());
  assert(static_cast<std::size_t>(w.p - begin) == total);
  if (stats != nullptr) stats->invalid_utf8_strings += w.invalid_utf8;
}

}  // namespace

ProtoPrelude::ProtoPrelude(const Resource& resource, const Scope& scope) {
  {
    const std::size_t body = resource_size(resource);
    Writer w{grow(resource_field_, 1 + len_prefixed_size(body))};
    w.byte(kResourceResource);
    w.varint(body);
    w.attrs(kResourceAttributes, resource.attributes);
    w.opt_varint_field(kResourceDropped, resource.dropped_attributes_count);
  }
  {
    const std::size_t body = scope_size(scope);
    Writer w{grow(scope_field_, 1 + len_prefixed_size(body))};
    w.byte(kScopeScope);
    w.varint(body);
    w.opt_str_field(kScopeName, scope.name);
    w.opt_str_field(kScopeVersion, scope.version);
    w.attrs(kScopeAttributes, scope.attributes);
    w.opt_varint_field(kScopeDropped, scope.dropped_attributes_count);
  }
  if (!resource.schema_url.empty()) {
    Writer w{grow(resource_schema_field_, opt_str_field_size(resource.schema_url))};
    w.str_field(kResourceSchemaUrl, resource.schema_url);
  }
  if (!scope.schema_url.empty()) {
    Writer w{grow(scope_schema_field_, opt_str_field_size(scope.schema_url))};
    w.str_field(kScopeSchemaUrl, scope.schema_url);
  }
}

void encode_traces_request(const ProtoPrelude& prelude, std::span<const SpanData> spans,
                           std::string& out, EncodeStats* stats) {
  encode_request<SpanData>(
      prelude, spans, out, stats, [](const SpanData& s) { return span_size(s); },
      [](Writer& w, const SpanData& s) { w.span(s); });
}

void encode_traces_request(const Resource& resource, const Scope& scope,
                           std::span<const SpanData> spans, std::string& out, EncodeStats* stats) {
  encode_traces_request(ProtoPrelude(resource, scope), spans, out, stats);
}

void encode_logs_request(const ProtoPrelude& prelude, std::span<const LogData> logs,
                         std::string& out, EncodeStats* stats) {
  encode_request<LogData>(
      prelude, logs, out, stats, [](const LogData& l) { return log_size(l); },
      [](Writer& w, const LogData& l) { w.log(l); });
}

void encode_logs_request(const Resource& resource, const Scope& scope,
                         std::span<const LogData> logs, std::string& out, EncodeStats* stats) {
  encode_logs_request(ProtoPrelude(resource, scope), logs, out, stats);
}

std::size_t encoded_span_size(const SpanData& span) noexcept {
  return 1 + len_prefixed_size(span_size(span));
}

std::size_t encoded_log_size(const LogData& log) noexcept {
  return 1 + len_prefixed_size(log_size(log));
}

}  // namespace emp::telemetry::encode::otlp
