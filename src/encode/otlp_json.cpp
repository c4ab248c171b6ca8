// OTLP/JSON encoding (see otlp_json.hpp for the mapping rules). String
// escaping and hex are shared with the JSON-lines encoder.
#include "encode/otlp_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "encode/json_lines.hpp"

namespace emp::telemetry::encode::otlp {
namespace {

constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  std::size_t invalid_utf8() const noexcept { return invalid_utf8_; }

  void raw(std::string_view s) { out_.append(s); }
  void ch(char c) { out_.push_back(c); }

  void str(std::string_view s) {
    LineStats st;
    append_json_string(out_, s, kNoLimit, st);
    if (st.invalid_utf8) ++invalid_utf8_;
  }

  void hex(const std::uint8_t* b, std::size_t n) {
    out_.push_back('"');
    append_hex(out_, b, n);
    out_.push_back('"');
  }

  void u64(std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  void i64(std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  // 64-bit integers are strings in the protobuf JSON mapping.
  void u64_string(std::uint64_t v) {
    out_.push_back('"');
    u64(v);
    out_.push_back('"');
  }
  void i64_string(std::int64_t v) {
    out_.push_back('"');
    i64(v);
    out_.push_back('"');
  }

  void dbl(double d) {
    if (std::isnan(d)) {
      out_.append("\"NaN\"");
    } else if (std::isinf(d)) {
      out_.append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, d);
      out_.append(buf, r.ptr);
    }
  }

  void base64(std::string_view s) {
    out_.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t n = s.size();
    const std::size_t at = out_.size();
    out_.resize(at + (n + 2) / 3 * 4);
    char* d = out_.data() + at;
    while (n >= 3) {
      const std::uint32_t v = (p[0] << 16) | (p[1] << 8) | p[2];
      *d++ = kBase64[v >> 18];
      *d++ = kBase64[(v >> 12) & 63];
      *d++ = kBase64[(v >> 6) & 63];
      *d++ = kBase64[v & 63];
      p += 3;
      n -= 3;
    }
    if (n > 0) {
      const std::uint32_t v = (p[0] << 16) | (n == 2 ? p[1] << 8 : 0);
      *d++ = kBase64[v >> 18];
      *d++ = kBase64[(v >> 12) & 63];
      *d++ = n == 2 ? kBase64[(v >> 6) & 63] : '=';
      *d++ = '=';
    }
    out_.push_back('"');
  }

  // `,"name":` — every member after the first object member.
  void key(std::string_view quoted_with_colon) { out_.append(quoted_with_colon); }

  void opt_str_member(std::string_view member, std::string_view s) {
    if (s.empty()) return;
    raw(member);
    str(s);
  }
  void opt_u32_member(std::string_view member, std::uint32_t v) {
    if (v == 0) return;
    raw(member);
    u64(v);
  }
  void opt_time_member(std::string_view member, std::uint64_t v) {
    if (v == 0) return;
    raw(member);
    u64_string(v);
  }

  void any_value(const AnyValue& v, int depth) {
    if (depth >= kMaxAnyValueDepth) {
      raw("{}");
      return;
    }
    switch (v.type) {
      case AnyValue::Type::kEmpty:
        raw("{}");
        return;
      case AnyValue::Type::kString:
        raw("{\"stringValue\":");
        str(v.str);
        break;
      case AnyValue::Type::kBool:
        raw(v.bool_value ? "{\"boolValue\":true" : "{\"boolValue\":false");
        break;
      case AnyValue::Type::kInt:
        raw("{\"intValue\":");
        i64_string(v.int_value);
        break;
      case AnyValue::Type::kDouble:
        raw("{\"doubleValue\":");
        dbl(v.double_value);
        break;
      case AnyValue::Type::kBytes:
        raw("{\"bytesValue\":");
        base64(v.str);
        break;
      case AnyValue::Type::kArray: {
        raw("{\"arrayValue\":{");
        if (!v.array.empty()) {
          raw("\"values\":[");
          bool first = true;
          for (const AnyValue& e : v.array) {
            if (!first) ch(',');
            first = false;
            any_value(e, depth + 1);
          }
          ch(']');
        }
        ch('}');
        break;
      }
      case AnyValue::Type::kKvList: {
        raw("{\"kvlistValue\":{");
        if (!v.kvlist.empty()) {
          raw("\"values\":[");
          kv_items(v.kvlist, depth + 1);
          ch(']');
        }
        ch('}');
        break;
      }
    }
    ch('}');
  }

  void kv_items(const std::vector<KeyValue>& list, int depth) {
    bool first = true;
    for (const KeyValue& kv : list) {
      raw(first ? "{\"key\":" : ",{\"key\":");
      first = false;
      str(kv.key);
      raw(",\"value\":");
      any_value(kv.value, depth);
      ch('}');
    }
  }

  // `,"attributes":[...]` when non-empty.
  void attrs_member(std::string_view member, const std::vector<KeyValue>& list) {
    if (list.empty()) return;
    raw(member);
    ch('[');
    kv_items(list, 0);
    ch(']');
  }

  void event(const SpanEvent& e) {
    // The first member decides whether later ones need a comma; time and
    // name may both be absent, so build the object with a leading marker.
    const std::size_t open = out_.size();
    ch('{');
    opt_time_member(",\"timeUnixNano\":", e.time_unix_nano);
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
    opt_time_member(",\"startTimeUnixNano\":", s.start_time_unix_nano);
    opt_time_member(",\"endTimeUnixNano\":", s.end_time_unix_nano);
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
    opt_time_member(",\"timeUnixNano\":", l.time_unix_nano);
    opt_time_member(",\"observedTimeUnixNano\":", l.observed_time_unix_nano);
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

 private:
  // Members are written with a leading comma; the first one after the '{'
  // at `open` must lose it.
  void fix_leading_comma(std::size_t open) {
    if (out_.size() > open + 1 && out_[open + 1] == ',') out_.erase(open + 1, 1);
  }

  std::string& out_;
  std::size_t invalid_utf8_ = 0;
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
  JsonWriter w(out);
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
  JsonWriter(resource_member_).resource(resource);
  JsonWriter(scope_member_).scope(scope);
  if (!resource.schema_url.empty()) {
    JsonWriter w(resource_schema_member_);
    w.raw(",\"schemaUrl\":");
    w.str(resource.schema_url);
  }
  if (!scope.schema_url.empty()) {
    JsonWriter w(scope_schema_member_);
    w.raw(",\"schemaUrl\":");
    w.str(scope.schema_url);
  }
}

void encode_traces_request_json(const JsonPrelude& prelude, std::span<const SpanData> spans,
                                std::string& out, EncodeStats* stats) {
  encode_request_json<SpanData>(prelude, spans, "{\"resourceSpans\":[{", ",\"scopeSpans\":[{",
                                ",\"spans\":[", out, stats,
                                [](JsonWriter& w, const SpanData& s) { w.span(s); });
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
                               [](JsonWriter& w, const LogData& l) { w.log(l); });
}

void encode_logs_request_json(const Resource& resource, const Scope& scope,
                              std::span<const LogData> logs, std::string& out, EncodeStats* stats) {
  encode_logs_request_json(JsonPrelude(resource, scope), logs, out, stats);
}

}  // namespace emp::telemetry::encode::otlp
