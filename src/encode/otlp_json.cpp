// OTLP/JSON encoding of spans and log records (see otlp_json.hpp for the
// mapping rules); values, attributes and members come from the shared
// writer in otlp_json_writer.hpp.
#include "encode/otlp_json.hpp"

#include <cstdint>

#include "encode/otlp_json_writer.hpp"

namespace emp::telemetry::encode::otlp {
namespace {

class Writer : public json::JsonWriter {
 public:
  using JsonWriter::JsonWriter;

  void event(const SpanEvent& e) {
    // The first member decides whether later ones need a comma; time and
    // name may both be absent, so build the object with a leading marker.
    const std::size_t open = out_.size();
    ch('{');
    opt_u64_string_member(",\"timeUnixNano\":", e.time_unix_nano);
    opt_str_member(",\"name\":", e.name);
    attrs_member(",\"attributes\":", e.attributes);
    opt_u32_member(",\"droppedAttributesCount\":", e.dropped_attributes_count);
    fix_leading_comma(open);
    ch('}');
  }

  void link(const SpanLink& l) {
    raw("{\"traceId\":");
    hex(l.trace_id.data(), l.trace_id.size());
    raw(",\"spanId\":");
    hex(l.span_id.data(), l.span_id.size());
    opt_str_member(",\"traceState\":", l.trace_state);
    attrs_member(",\"attributes\":", l.attributes);
    opt_u32_member(",\"droppedAttributesCount\":", l.dropped_attributes_count);
    opt_u32_member(",\"flags\":", l.flags);
    ch('}');
  }

  void span(const SpanData& s) {
    raw("{\"traceId\":");
    hex(s.trace_id.data(), s.trace_id.size());
    raw(",\"spanId\":");
    hex(s.span_id.data(), s.span_id.size());
    opt_str_member(",\"traceState\":", s.trace_state);
    if (s.has_parent) {
      raw(",\"parentSpanId\":");
      hex(s.parent_span_id.data(), s.parent_span_id.size());
    }
    opt_u32_member(",\"flags\":", s.flags);
    opt_str_member(",\"name\":", s.name);
    opt_u32_member(",\"kind\":", static_cast<std::uint32_t>(s.kind));
    opt_u64_string_member(",\"startTimeUnixNano\":", s.start_time_unix_nano);
    opt_u64_string_member(",\"endTimeUnixNano\":", s.end_time_unix_nano);
    attrs_member(",\"attributes\":", s.attributes);
    opt_u32_member(",\"droppedAttributesCount\":", s.dropped_attributes_count);
    if (!s.events.empty()) {
      raw(",\"events\":[");
      bool first = true;
      for (const SpanEvent& e : s.events) {
        if (!first) ch(',');
        first = false;
        event(e);
      }
      ch(']');
    }
    opt_u32_member(",\"droppedEventsCount\":", s.dropped_events_count);
    if (!s.links.empty()) {
      raw(",\"links\":[");
      bool first = true;
      for (const SpanLink& l : s.links) {
        if (!first) ch(',');
        first = false;
        link(l);
      }
      ch(']');
    }
    opt_u32_member(",\"droppedLinksCount\":", s.dropped_links_count);
    if (s.status.code != StatusCode::kUnset || !s.status.message.empty()) {
      raw(",\"status\":{");
      const std::size_t open = out_.size() - 1;
      opt_str_member(",\"message\":", s.status.message);
      opt_u32_member(",\"code\":", static_cast<std::uint32_t>(s.status.code));
      fix_leading_comma(open);
      ch('}');
    }
    ch('}');
  }

  void log(const LogData& l) {
    const std::size_t open = out_.size();
    ch('{');
    opt_u64_string_member(",\"timeUnixNano\":", l.time_unix_nano);
    opt_u64_string_member(",\"observedTimeUnixNano\":", l.observed_time_unix_nano);
    if (l.severity_number != 0) {
      raw(",\"severityNumber\":");
      i64(l.severity_number);
    }
    opt_str_member(",\"severityText\":", l.severity_text);
    if (l.body.type != AnyValue::Type::kEmpty) {
      raw(",\"body\":");
      any_value(l.body, 0);
    }
    attrs_member(",\"attributes\":", l.attributes);
    opt_u32_member(",\"droppedAttributesCount\":", l.dropped_attributes_count);
    opt_u32_member(",\"flags\":", l.flags);
    if (l.has_trace_id) {
      raw(",\"traceId\":");
      hex(l.trace_id.data(), l.trace_id.size());
    }
    if (l.has_span_id) {
      raw(",\"spanId\":");
      hex(l.span_id.data(), l.span_id.size());
    }
    opt_str_member(",\"eventName\":", l.event_name);
    fix_leading_comma(open);
    ch('}');
  }

  void resource(const Resource& r) {
    const std::size_t open = out_.size() + std::string_view("\"resource\":").size();
    raw("\"resource\":{");
    attrs_member(",\"attributes\":", r.attributes);
    opt_u32_member(",\"droppedAttributesCount\":", r.dropped_attributes_count);
    fix_leading_comma(open);
    ch('}');
  }

  void scope(const Scope& s) {
    const std::size_t open = out_.size() + std::string_view("\"scope\":").size();
    raw("\"scope\":{");
    opt_str_member(",\"name\":", s.name);
    opt_str_member(",\"version\":", s.version);
    attrs_member(",\"attributes\":", s.attributes);
    opt_u32_member(",\"droppedAttributesCount\":", s.dropped_attributes_count);
    fix_leading_comma(open);
    ch('}');
  }
};

// Rough output size so `out` grows at most a few times per batch.
constexpr std::size_t kReservePerItem = 384;

template <typename Item, typename WriteFn>
void encode_request_json(const JsonPrelude& prelude, std::span<const Item> items,
                         std::string_view outer, std::string_view middle,
                         std::string_view items_key, std::string& out, EncodeStats* stats,
                         WriteFn write) {
  out.reserve(out.size() + 128 + prelude.resource_member().size() + prelude.scope_member().size() +
              items.size() * kReservePerItem);
  Writer w(out);
  w.raw(outer);  // {"resourceSpans":[{
  w.raw(prelude.resource_member());
  w.raw(middle);  // ,"scopeSpans":[{
  w.raw(prelude.scope_member());
  w.raw(items_key);  // ,"spans":[
  bool first = true;
  for (const Item& item : items) {
    if (!first) w.ch(',');
    first = false;
    write(w, item);
  }
  w.ch(']');
  w.raw(prelude.scope_schema_member());
  w.raw("}]");
  w.raw(prelude.resource_schema_member());
  w.raw("}]}");
  if (stats != nullptr) stats->invalid_utf8_strings += w.invalid_utf8();
}

}  // namespace

JsonPrelude::JsonPrelude(const Resource& resource, const Scope& scope) {
  Writer(resource_member_).resource(resource);
  Writer(scope_member_).scope(scope);
  if (!resource.schema_url.empty()) {
    Writer w(resource_schema_member_);
    w.raw(",\"schemaUrl\":");
    w.str(resource.schema_url);
  }
  if (!scope.schema_url.empty()) {
    Writer w(scope_schema_member_);
    w.raw(",\"schemaUrl\":");
    w.str(scope.schema_url);
  }
}

void encode_traces_request_json(const JsonPrelude& prelude, std::span<const SpanData> spans,
                                std::string& out, EncodeStats* stats) {
  encode_request_json<SpanData>(prelude, spans, "{\"resourceSpans\":[{", ",\"scopeSpans\":[{",
                                ",\"spans\":[", out, stats,
                                [](Writer& w, const SpanData& s) { w.span(s); });
}

void encode_traces_request_json(const Resource& resource, const Scope& scope,
                                std::span<const SpanData> spans, std::string& out,
                                EncodeStats* stats) {
  encode_traces_request_json(JsonPrelude(resource, scope), spans, out, stats);
}

void encode_logs_request_json(const JsonPrelude& prelude, std::span<const LogData> logs,
                              std::string& out, EncodeStats* stats) {
  encode_request_json<LogData>(prelude, logs, "{\"resourceLogs\":[{", ",\"scopeLogs\":[{",
                               ",\"logRecords\":[", out, stats,
                               [](Writer& w, const LogData& l) { w.log(l); });
}

void encode_logs_request_json(const Resource& resource, const Scope& scope,
                              std::span<const LogData> logs, std::string& out, EncodeStats* stats) {
  encode_logs_request_json(JsonPrelude(resource, scope), logs, out, stats);
}

}  // namespace emp::telemetry::encode::otlp
