// OTLP request decoding, protobuf and JSON. Field numbers come from
// opentelemetry-proto (common/v1, resource/v1, trace/v1, logs/v1,
// metrics/v1 and the collector/*/v1 services); the JSON mapping follows the
// OTLP specification's "JSON Protobuf Encoding" section (hex ids, integer
// enums, 64-bit integers as strings, lowerCamelCase keys).
#include "encode/otlp_decode.hpp"

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "encode/json_lines.hpp"
#include "encode/proto_wire.hpp"

namespace emp::telemetry::encode::otlp {

std::string id_hex(const std::uint8_t* bytes, std::size_t n) {
  bool zero = true;
  for (std::size_t i = 0; i < n; ++i) zero = zero && bytes[i] == 0;
  std::string out;
  if (!zero) append_hex(out, bytes, n);
  return out;
}

namespace {

using wire::Reader;
using wire::WireType;

// Valid UTF-8 copy of a protobuf/JSON string.
std::string sanitized(std::string_view s) {
  if (wire::is_ascii(s)) return std::string(s);
  std::string out(wire::utf8_sanitized_size(s), '\0');
  bool replaced = false;
  wire::put_utf8_sanitized(reinterpret_cast<std::uint8_t*>(out.data()), s, &replaced);
  return out;
}

const char* wire_type_name(WireType t) {
  switch (t) {
    case WireType::kVarint:
      return "varint";
    case WireType::kFixed64:
      return "fixed64";
    case WireType::kLen:
      return "length-delimited";
    case WireType::kFixed32:
      return "fixed32";
    default:
      return "group/unknown";
  }
}

// ===========================================================================
// Protobuf

// Where in the request a field is, for error messages: built only when
// `on` (see ProtoDecoder), so the fast path pays no allocation for it.
struct Path {
  std::string s;
  bool on = false;
  friend Path operator+(const Path& a, std::string_view b) {
    if (!a.on) return Path{{}, false};
    Path p{a.s, true};
    p.s += b;
    return p;
  }
};

// Walks one message: calls `on_field(field, type, reader)` for every field;
// the callback consumes the value (or returns 1 to have it skipped as
// unknown, 0 on error). Errors name the path of the message being read.
class ProtoDecoder {
 public:
  // With `paths` off no error path is built (decoding allocates nothing
  // for them); the public functions decode again with paths on to describe
  // a failure.
  ProtoDecoder(std::string& error, bool paths) : error_(error), root_{{}, paths} {}
  const Path& root() const { return root_; }

  // Runs `f` over the fields of `msg`; `what` extends the error path.
  template <typename F>
  bool message(std::string_view msg, const Path& path, F&& f) {
    Reader r(msg);
    while (!r.done()) {
      std::uint32_t field;
      WireType type;
      if (!r.read_tag(&field, &type)) return fail(path, "malformed field tag");
      const int handled = f(field, type, r);
      if (handled == 0) return false;  // f reported
      if (handled == 2) continue;      // consumed
      if (!r.skip(type)) {
        return fail(path, "field " + std::to_string(field) + " (" + wire_type_name(type) +
                              ") is truncated or has an unsupported wire type");
      }
    }
    return true;
  }

  bool fail(const Path& path, const std::string& what) {
    error_ = (path.s.empty() ? std::string("request") : path.s) + ": " + what;
    return false;
  }

  // Typed reads for a known field; they check the wire type.
  int len(const Path& path, WireType t, Reader& r, std::string_view* out) {
    if (t != WireType::kLen) return bad_type(path, t, WireType::kLen);
    if (!r.read_len(out)) return fail(path, "length exceeds the message") ? 0 : 0;
    return 2;
  }
  int str(const Path& path, WireType t, Reader& r, std::string* out) {
    std::string_view v;
    const int rc = len(path, t, r, &v);
    if (rc == 2) *out = sanitized(v);
    return rc;
  }
  int varint(const Path& path, WireType t, Reader& r, std::uint64_t* out) {
    if (t != WireType::kVarint) return bad_type(path, t, WireType::kVarint);
    if (!r.read_varint(out)) return fail(path, "malformed varint") ? 0 : 0;
    return 2;
  }
  int fixed64(const Path& path, WireType t, Reader& r, std::uint64_t* out) {
    if (t != WireType::kFixed64) return bad_type(path, t, WireType::kFixed64);
    if (!r.read_fixed64(out)) return fail(path, "truncated fixed64") ? 0 : 0;
    return 2;
  }
  int fixed32(const Path& path, WireType t, Reader& r, std::uint32_t* out) {
    if (t != WireType::kFixed32) return bad_type(path, t, WireType::kFixed32);
    if (!r.read_fixed32(out)) return fail(path, "truncated fixed32") ? 0 : 0;
    return 2;
  }
  int dbl(const Path& path, WireType t, Reader& r, double* out) {
    std::uint64_t bits;
    const int rc = fixed64(path, t, r, &bits);
    if (rc == 2) *out = std::bit_cast<double>(bits);
    return rc;
  }
  template <std::size_t N>
  int id(const Path& path, WireType t, Reader& r, std::array<std::uint8_t, N>* out, bool* present) {
    std::string_view v;
    const int rc = len(path, t, r, &v);
    if (rc != 2) return rc;
    if (v.empty()) return 2;  // absent
    if (v.size() != N) {
      return fail(path, std::to_string(v.size()) + " bytes, expected " + std::to_string(N)) ? 0 : 0;
    }
    std::memcpy(out->data(), v.data(), N);
    if (present) *present = true;
    return 2;
  }

  bool any_value(std::string_view msg, const Path& path, AnyValue& out, int depth);
  bool key_value(std::string_view msg, const Path& path, KeyValue& out, int depth);
  int attributes(const Path& path, WireType t, Reader& r, std::vector<KeyValue>& out,
                 int depth = 0) {
    std::string_view v;
    const Path p = path + "[" + std::to_string(out.size()) + "]";
    const int rc = len(p, t, r, &v);
    if (rc != 2) return rc;
    out.emplace_back();
    return key_value(v, p, out.back(), depth) ? 2 : 0;
  }
  bool resource(std::string_view msg, const Path& path, Resource& out);
  bool scope(std::string_view msg, const Path& path, Scope& out);
  bool span(std::string_view msg, const Path& path, SpanData& out);
  bool log(std::string_view msg, const Path& path, LogData& out);
  bool metric(std::string_view msg, const Path& path, MetricData& out);
  bool exemplar(std::string_view msg, const Path& path, Exemplar& out);
  bool number_point(std::string_view msg, const Path& path, NumberPoint& out);
  bool histogram_point(std::string_view msg, const Path& path, HistogramPoint& out);
  bool summary_point(std::string_view msg, const Path& path, HistogramPoint& out);
  bool exp_point(std::string_view msg, const Path& path, ExponentialHistogramPoint& out);

  // Export*ServiceRequest -> Resource* -> Scope* -> items, the same shape
  // and field numbers for the three signals.
  template <typename Item, typename ItemFn>
  bool request(std::string_view body, DecodedRequest<Item>& out, const char* resource_name,
               const char* scope_name, const char* item_name, ItemFn&& item_fn);

 private:
  int bad_type(const Path& path, WireType got, WireType want) {
    fail(path,
         std::string("wire type ") + wire_type_name(got) + ", expected " + wire_type_name(want));
    return 0;
  }
  std::string& error_;
  Path root_;
};

bool ProtoDecoder::any_value(std::string_view msg, const Path& path, AnyValue& out, int depth) {
  if (depth > kMaxAnyValueDepth) return fail(path, "AnyValue nested too deeply");
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    std::string_view v;
    int rc;
    switch (f) {
      case 1:
        out.type = AnyValue::Type::kString;
        return str(path + ".stringValue", t, r, &out.str);
      case 2:
        out.type = AnyValue::Type::kBool;
        rc = varint(path + ".boolValue", t, r, &u);
        out.bool_value = u != 0;
        return rc;
      case 3:
        out.type = AnyValue::Type::kInt;
        rc = varint(path + ".intValue", t, r, &u);
        out.int_value = static_cast<std::int64_t>(u);
        return rc;
      case 4:
        out.type = AnyValue::Type::kDouble;
        return dbl(path + ".doubleValue", t, r, &out.double_value);
      case 5:
      case 6: {
        const bool is_array = f == 5;
        const Path p = path + (is_array ? ".arrayValue" : ".kvlistValue");
        rc = len(p, t, r, &v);
        if (rc != 2) return rc;
        out.type = is_array ? AnyValue::Type::kArray : AnyValue::Type::kKvList;
        out.array.clear();
        out.kvlist.clear();
        const bool ok = message(v, p, [&](std::uint32_t f2, WireType t2, Reader& r2) -> int {
          if (f2 != 1) return 1;
          std::string_view item;
          const Path ip = p + ".values[" +
                          std::to_string(is_array ? out.array.size() : out.kvlist.size()) + "]";
          const int rc2 = len(ip, t2, r2, &item);
          if (rc2 != 2) return rc2;
          if (is_array) {
            out.array.emplace_back();
            return any_value(item, ip, out.array.back(), depth + 1) ? 2 : 0;
          }
          out.kvlist.emplace_back();
          return key_value(item, ip, out.kvlist.back(), depth + 1) ? 2 : 0;
        });
        return ok ? 2 : 0;
      }
      case 7:
        out.type = AnyValue::Type::kBytes;
        rc = len(path + ".bytesValue", t, r, &v);
        if (rc == 2) out.str.assign(v);
        return rc;
      default:
        return 1;
    }
  });
}

bool ProtoDecoder::key_value(std::string_view msg, const Path& path, KeyValue& out, int depth) {
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    if (f == 1) return str(path + ".key", t, r, &out.key);
    if (f == 2) {
      std::string_view v;
      const int rc = len(path + ".value", t, r, &v);
      if (rc != 2) return rc;
      return any_value(v, path + ".value", out.value, depth) ? 2 : 0;
    }
    return 1;
  });
}

bool ProtoDecoder::resource(std::string_view msg, const Path& path, Resource& out) {
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    if (f == 1) return attributes(path + ".attributes", t, r, out.attributes);
    if (f == 2) {
      const int rc = varint(path + ".droppedAttributesCount", t, r, &u);
      out.dropped_attributes_count = static_cast<std::uint32_t>(u);
      return rc;
    }
    return 1;
  });
}

bool ProtoDecoder::scope(std::string_view msg, const Path& path, Scope& out) {
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    switch (f) {
      case 1:
        return str(path + ".name", t, r, &out.name);
      case 2:
        return str(path + ".version", t, r, &out.version);
      case 3:
        return attributes(path + ".attributes", t, r, out.attributes);
      case 4: {
        const int rc = varint(path + ".droppedAttributesCount", t, r, &u);
        out.dropped_attributes_count = static_cast<std::uint32_t>(u);
        return rc;
      }
      default:
        return 1;
    }
  });
}

template <typename Item, typename ItemFn>
bool ProtoDecoder::request(std::string_view body, DecodedRequest<Item>& out,
                           const char* resource_name, const char* scope_name, const char* item_name,
                           ItemFn&& item_fn) {
  out.resources.clear();
  return message(body, root_, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    if (f != 1) return 1;
    const Path rp = root_ + resource_name + "[" + std::to_string(out.resources.size()) + "]";
    std::string_view rv;
    int rc = len(rp, t, r, &rv);
    if (rc != 2) return rc;
    auto& res = out.resources.emplace_back();
    const bool ok = message(rv, rp, [&](std::uint32_t f2, WireType t2, Reader& r2) -> int {
      std::string_view v;
      if (f2 == 1) {
        const int rc2 = len(rp + ".resource", t2, r2, &v);
        if (rc2 != 2) return rc2;
        return resource(v, rp + ".resource", res.resource) ? 2 : 0;
      }
      if (f2 == 3) return str(rp + ".schemaUrl", t2, r2, &res.resource.schema_url);
      if (f2 != 2) return 1;
      const Path sp = rp + "." + scope_name + "[" + std::to_string(res.scopes.size()) + "]";
      int rc2 = len(sp, t2, r2, &v);
      if (rc2 != 2) return rc2;
      auto& sc = res.scopes.emplace_back();
      const bool ok2 = message(v, sp, [&](std::uint32_t f3, WireType t3, Reader& r3) -> int {
        std::string_view iv;
        if (f3 == 1) {
          const int rc3 = len(sp + ".scope", t3, r3, &iv);
          if (rc3 != 2) return rc3;
          return scope(iv, sp + ".scope", sc.scope) ? 2 : 0;
        }
        if (f3 == 3) return str(sp + ".schemaUrl", t3, r3, &sc.scope.schema_url);
        if (f3 != 2) return 1;
        const Path ip = sp + "." + item_name + "[" + std::to_string(sc.items.size()) + "]";
        const int rc3 = len(ip, t3, r3, &iv);
        if (rc3 != 2) return rc3;
        return item_fn(iv, ip, sc.items.emplace_back()) ? 2 : 0;
      });
      return ok2 ? 2 : 0;
    });
    return ok ? 2 : 0;
  });
}

bool ProtoDecoder::span(std::string_view msg, const Path& path, SpanData& out) {
  bool has_trace = false, has_span = false;
  const bool ok = message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    std::uint32_t u32;
    std::string_view v;
    int rc;
    switch (f) {
      case 1:
        return id(path + ".traceId", t, r, &out.trace_id, &has_trace);
      case 2:
        return id(path + ".spanId", t, r, &out.span_id, &has_span);
      case 3:
        return str(path + ".traceState", t, r, &out.trace_state);
      case 4:
        return id(path + ".parentSpanId", t, r, &out.parent_span_id, &out.has_parent);
      case 5:
        return str(path + ".name", t, r, &out.name);
      case 6:
        rc = varint(path + ".kind", t, r, &u);
        out.kind = static_cast<SpanKind>(u <= 5 ? u : 0);
        return rc;
      case 7:
        return fixed64(path + ".startTimeUnixNano", t, r, &out.start_time_unix_nano);
      case 8:
        return fixed64(path + ".endTimeUnixNano", t, r, &out.end_time_unix_nano);
      case 9:
        return attributes(path + ".attributes", t, r, out.attributes);
      case 10:
        rc = varint(path + ".droppedAttributesCount", t, r, &u);
        out.dropped_attributes_count = static_cast<std::uint32_t>(u);
        return rc;
      case 11: {
        const Path ep = path + ".events[" + std::to_string(out.events.size()) + "]";
        rc = len(ep, t, r, &v);
        if (rc != 2) return rc;
        auto& ev = out.events.emplace_back();
        return message(v, ep,
                       [&](std::uint32_t f2, WireType t2, Reader& r2) -> int {
                         std::uint64_t u2;
                         switch (f2) {
                           case 1:
                             return fixed64(ep + ".timeUnixNano", t2, r2, &ev.time_unix_nano);
                           case 2:
                             return str(ep + ".name", t2, r2, &ev.name);
                           case 3:
                             return attributes(ep + ".attributes", t2, r2, ev.attributes);
                           case 4: {
                             const int rc2 = varint(ep + ".droppedAttributesCount", t2, r2, &u2);
                             ev.dropped_attributes_count = static_cast<std::uint32_t>(u2);
                             return rc2;
                           }
                           default:
                             return 1;
                         }
                       })
                   ? 2
                   : 0;
      }
      case 12:
        rc = varint(path + ".droppedEventsCount", t, r, &u);
        out.dropped_events_count = static_cast<std::uint32_t>(u);
        return rc;
      case 13: {
        const Path lp = path + ".links[" + std::to_string(out.links.size()) + "]";
        rc = len(lp, t, r, &v);
        if (rc != 2) return rc;
        auto& link = out.links.emplace_back();
        return message(v, lp,
                       [&](std::uint32_t f2, WireType t2, Reader& r2) -> int {
                         std::uint64_t u2;
                         switch (f2) {
                           case 1:
                             return id(lp + ".traceId", t2, r2, &link.trace_id, nullptr);
                           case 2:
                             return id(lp + ".spanId", t2, r2, &link.span_id, nullptr);
                           case 3:
                             return str(lp + ".traceState", t2, r2, &link.trace_state);
                           case 4:
                             return attributes(lp + ".attributes", t2, r2, link.attributes);
                           case 5: {
                             const int rc2 = varint(lp + ".droppedAttributesCount", t2, r2, &u2);
                             link.dropped_attributes_count = static_cast<std::uint32_t>(u2);
                             return rc2;
                           }
                           case 6:
                             return fixed32(lp + ".flags", t2, r2, &link.flags);
                           default:
                             return 1;
                         }
                       })
                   ? 2
                   : 0;
      }
      case 14:
        rc = varint(path + ".droppedLinksCount", t, r, &u);
        out.dropped_links_count = static_cast<std::uint32_t>(u);
        return rc;
      case 15: {
        const Path sp = path + ".status";
        rc = len(sp, t, r, &v);
        if (rc != 2) return rc;
        return message(v, sp,
                       [&](std::uint32_t f2, WireType t2, Reader& r2) -> int {
                         std::uint64_t u2;
                         if (f2 == 2) return str(sp + ".message", t2, r2, &out.status.message);
                         if (f2 != 3) return 1;
                         const int rc2 = varint(sp + ".code", t2, r2, &u2);
                         out.status.code = static_cast<StatusCode>(u2 <= 2 ? u2 : 0);
                         return rc2;
                       })
                   ? 2
                   : 0;
      }
      case 16:
        rc = fixed32(path + ".flags", t, r, &u32);
        out.flags = u32;
        return rc;
      default:
        return 1;
    }
  });
  if (!ok) return false;
  if (!has_trace) return fail(path + ".traceId", "missing (a span needs a 16-byte trace id)");
  if (!has_span) return fail(path + ".spanId", "missing (a span needs an 8-byte span id)");
  return true;
}

bool ProtoDecoder::log(std::string_view msg, const Path& path, LogData& out) {
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    std::string_view v;
    int rc;
    switch (f) {
      case 1:
        return fixed64(path + ".timeUnixNano", t, r, &out.time_unix_nano);
      case 11:
        return fixed64(path + ".observedTimeUnixNano", t, r, &out.observed_time_unix_nano);
      case 2:
        rc = varint(path + ".severityNumber", t, r, &u);
        out.severity_number = static_cast<std::int32_t>(u <= 24 ? u : 0);
        return rc;
      case 3:
        return str(path + ".severityText", t, r, &out.severity_text);
      case 5:
        rc = len(path + ".body", t, r, &v);
        if (rc != 2) return rc;
        return any_value(v, path + ".body", out.body, 0) ? 2 : 0;
      case 6:
        return attributes(path + ".attributes", t, r, out.attributes);
      case 7:
        rc = varint(path + ".droppedAttributesCount", t, r, &u);
        out.dropped_attributes_count = static_cast<std::uint32_t>(u);
        return rc;
      case 8:
        return fixed32(path + ".flags", t, r, &out.flags);
      case 9:
        return id(path + ".traceId", t, r, &out.trace_id, &out.has_trace_id);
      case 10:
        return id(path + ".spanId", t, r, &out.span_id, &out.has_span_id);
      case 12:
        return str(path + ".eventName", t, r, &out.event_name);
      default:
        return 1;
    }
  });
}

bool ProtoDecoder::exemplar(std::string_view msg, const Path& path, Exemplar& out) {
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    int rc;
    switch (f) {
      case 7:
        return attributes(path + ".filteredAttributes", t, r, out.filtered_attributes);
      case 2:
        return fixed64(path + ".timeUnixNano", t, r, &out.time_unix_nano);
      case 3:
        out.is_int = false;
        return dbl(path + ".asDouble", t, r, &out.double_value);
      case 6:
        out.is_int = true;
        rc = fixed64(path + ".asInt", t, r, &u);
        out.int_value = static_cast<std::int64_t>(u);
        return rc;
      case 4:
        return id(path + ".spanId", t, r, &out.span_id, &out.has_span_id);
      case 5:
        return id(path + ".traceId", t, r, &out.trace_id, &out.has_trace_id);
      default:
        return 1;
    }
  });
}

bool ProtoDecoder::number_point(std::string_view msg, const Path& path, NumberPoint& out) {
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    std::string_view v;
    int rc;
    switch (f) {
      case 7:
        return attributes(path + ".attributes", t, r, out.attributes);
      case 2:
        return fixed64(path + ".startTimeUnixNano", t, r, &out.start_time_unix_nano);
      case 3:
        return fixed64(path + ".timeUnixNano", t, r, &out.time_unix_nano);
      case 4:
        out.is_int = false;
        return dbl(path + ".asDouble", t, r, &out.double_value);
      case 6:
        out.is_int = true;
        rc = fixed64(path + ".asInt", t, r, &u);
        out.int_value = static_cast<std::int64_t>(u);
        return rc;
      case 5: {
        const Path ep = path + ".exemplars[" + std::to_string(out.exemplars.size()) + "]";
        rc = len(ep, t, r, &v);
        if (rc != 2) return rc;
        return exemplar(v, ep, out.exemplars.emplace_back()) ? 2 : 0;
      }
      case 8:
        rc = varint(path + ".flags", t, r, &u);
        out.flags = static_cast<std::uint32_t>(u);
        return rc;
      default:
        return 1;
    }
  });
}

// Packed or unpacked repeated fixed64 (counts or doubles).
template <typename T>
int repeated_fixed64(ProtoDecoder& d, const Path& path, WireType t, Reader& r,
                     std::vector<T>& out) {
  std::uint64_t u;
  if (t == WireType::kFixed64) {
    const int rc = d.fixed64(path, t, r, &u);
    if (rc == 2) out.push_back(std::bit_cast<T>(u));
    return rc;
  }
  std::string_view v;
  const int rc = d.len(path, t, r, &v);
  if (rc != 2) return rc;
  if (v.size() % 8 != 0) {
    d.fail(path, "packed fixed64 length " + std::to_string(v.size()) + " is not a multiple of 8");
    return 0;
  }
  Reader pr(v);
  while (pr.read_fixed64(&u)) out.push_back(std::bit_cast<T>(u));
  return 2;
}

bool ProtoDecoder::histogram_point(std::string_view msg, const Path& path, HistogramPoint& out) {
  out.has_sum = false;
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    std::string_view v;
    int rc;
    switch (f) {
      case 9:
        return attributes(path + ".attributes", t, r, out.attributes);
      case 2:
        return fixed64(path + ".startTimeUnixNano", t, r, &out.start_time_unix_nano);
      case 3:
        return fixed64(path + ".timeUnixNano", t, r, &out.time_unix_nano);
      case 4:
        return fixed64(path + ".count", t, r, &out.count);
      case 5:
        out.has_sum = true;
        return dbl(path + ".sum", t, r, &out.sum);
      case 6:
        return repeated_fixed64(*this, path + ".bucketCounts", t, r, out.bucket_counts);
      case 7:
        return repeated_fixed64(*this, path + ".explicitBounds", t, r, out.bounds);
      case 8: {
        const Path ep = path + ".exemplars[" + std::to_string(out.exemplars.size()) + "]";
        rc = len(ep, t, r, &v);
        if (rc != 2) return rc;
        return exemplar(v, ep, out.exemplars.emplace_back()) ? 2 : 0;
      }
      case 10:
        rc = varint(path + ".flags", t, r, &u);
        out.flags = static_cast<std::uint32_t>(u);
        return rc;
      case 11:
        out.has_min_max = true;
        return dbl(path + ".min", t, r, &out.min);
      case 12:
        out.has_min_max = true;
        return dbl(path + ".max", t, r, &out.max);
      default:
        return 1;
    }
  });
}

bool ProtoDecoder::summary_point(std::string_view msg, const Path& path, HistogramPoint& out) {
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    int rc;
    switch (f) {
      case 7:
        return attributes(path + ".attributes", t, r, out.attributes);
      case 2:
        return fixed64(path + ".startTimeUnixNano", t, r, &out.start_time_unix_nano);
      case 3:
        return fixed64(path + ".timeUnixNano", t, r, &out.time_unix_nano);
      case 4:
        return fixed64(path + ".count", t, r, &out.count);
      case 5:
        return dbl(path + ".sum", t, r, &out.sum);
      case 8:
        rc = varint(path + ".flags", t, r, &u);
        out.flags = static_cast<std::uint32_t>(u);
        return rc;
      default:
        return 1;  // quantile_values: not kept
    }
  });
}

std::int32_t zigzag32(std::uint64_t u) {
  const auto v = static_cast<std::uint32_t>(u);
  return static_cast<std::int32_t>((v >> 1) ^ (~(v & 1) + 1));
}

bool ProtoDecoder::exp_point(std::string_view msg, const Path& path,
                             ExponentialHistogramPoint& out) {
  out.has_sum = false;
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::uint64_t u;
    std::string_view v;
    int rc;
    switch (f) {
      case 1:
        return attributes(path + ".attributes", t, r, out.attributes);
      case 2:
        return fixed64(path + ".startTimeUnixNano", t, r, &out.start_time_unix_nano);
      case 3:
        return fixed64(path + ".timeUnixNano", t, r, &out.time_unix_nano);
      case 4:
        return fixed64(path + ".count", t, r, &out.count);
      case 5:
        out.has_sum = true;
        return dbl(path + ".sum", t, r, &out.sum);
      case 6:
        rc = varint(path + ".scale", t, r, &u);
        out.scale = zigzag32(u);
        return rc;
      case 7:
        return fixed64(path + ".zeroCount", t, r, &out.zero_count);
      case 8:
      case 9: {
        auto& b = f == 8 ? out.positive : out.negative;
        const Path bp = path + (f == 8 ? ".positive" : ".negative");
        rc = len(bp, t, r, &v);
        if (rc != 2) return rc;
        return message(v, bp,
                       [&](std::uint32_t f2, WireType t2, Reader& r2) -> int {
                         std::uint64_t u2;
                         if (f2 == 1) {
                           const int rc2 = varint(bp + ".offset", t2, r2, &u2);
                           b.offset = zigzag32(u2);
                           return rc2;
                         }
                         if (f2 != 2) return 1;
                         if (t2 == WireType::kVarint) {
                           const int rc2 = varint(bp + ".bucketCounts", t2, r2, &u2);
                           b.counts.push_back(u2);
                           return rc2;
                         }
                         std::string_view pv;
                         const int rc2 = len(bp + ".bucketCounts", t2, r2, &pv);
                         if (rc2 != 2) return rc2;
                         Reader pr(pv);
                         while (!pr.done()) {
                           if (!pr.read_varint(&u2)) {
                             fail(bp + ".bucketCounts", "malformed packed varint");
                             return 0;
                           }
                           b.counts.push_back(u2);
                         }
                         return 2;
                       })
                   ? 2
                   : 0;
      }
      case 10:
        rc = varint(path + ".flags", t, r, &u);
        out.flags = static_cast<std::uint32_t>(u);
        return rc;
      case 11: {
        const Path ep = path + ".exemplars[" + std::to_string(out.exemplars.size()) + "]";
        rc = len(ep, t, r, &v);
        if (rc != 2) return rc;
        return exemplar(v, ep, out.exemplars.emplace_back()) ? 2 : 0;
      }
      case 12:
        out.has_min_max = true;
        return dbl(path + ".min", t, r, &out.min);
      case 13:
        out.has_min_max = true;
        return dbl(path + ".max", t, r, &out.max);
      case 14:
        return dbl(path + ".zeroThreshold", t, r, &out.zero_threshold);
      default:
        return 1;
    }
  });
}

bool ProtoDecoder::metric(std::string_view msg, const Path& path, MetricData& out) {
  return message(msg, path, [&](std::uint32_t f, WireType t, Reader& r) -> int {
    std::string_view v;
    switch (f) {
      case 1:
        return str(path + ".name", t, r, &out.name);
      case 2:
        return str(path + ".description", t, r, &out.description);
      case 3:
        return str(path + ".unit", t, r, &out.unit);
      case 5:
      case 7:
      case 9:
      case 10:
      case 11: {
        const char* names[] = {"",
                               "",
                               "",
                               "",
                               "",
                               ".gauge",
                               "",
                               ".sum",
                               "",
                               ".histogram",
                               ".exponentialHistogram",
                               ".summary"};
        const Path dp = path + names[f];
        const int rc = len(dp, t, r, &v);
        if (rc != 2) return rc;
        out.kind = f == 5    ? MetricKind::kGauge
                   : f == 7  ? MetricKind::kSum
                   : f == 10 ? MetricKind::kExponentialHistogram
                             : MetricKind::kHistogram;
        // Absent on the wire means unspecified, not the struct's default.
        out.temporality = AggregationTemporality::kUnspecified;
        return message(v, dp,
                       [&](std::uint32_t f2, WireType t2, Reader& r2) -> int {
                         std::uint64_t u2;
                         if (f2 == 2 && f != 5 && f != 11) {
                           const int rc2 = varint(dp + ".aggregationTemporality", t2, r2, &u2);
                           out.temporality = static_cast<AggregationTemporality>(u2 <= 2 ? u2 : 0);
                           return rc2;
                         }
                         if (f2 == 3 && f == 7) {
                           const int rc2 = varint(dp + ".isMonotonic", t2, r2, &u2);
                           out.monotonic = u2 != 0;
                           return rc2;
                         }
                         if (f2 != 1) return 1;
                         std::string_view pv;
                         std::size_t n = f == 5 || f == 7 ? out.number_points.size()
                                         : f == 10        ? out.exponential_points.size()
                                                          : out.histogram_points.size();
                         const Path pp = dp + ".dataPoints[" + std::to_string(n) + "]";
                         const int rc2 = len(pp, t2, r2, &pv);
                         if (rc2 != 2) return rc2;
                         bool ok;
                         if (f == 5 || f == 7) {
                           ok = number_point(pv, pp, out.number_points.emplace_back());
                         } else if (f == 9) {
                           ok = histogram_point(pv, pp, out.histogram_points.emplace_back());
                         } else if (f == 11) {
                           ok = summary_point(pv, pp, out.histogram_points.emplace_back());
                         } else {
                           ok = exp_point(pv, pp, out.exponential_points.emplace_back());
                         }
                         return ok ? 2 : 0;
                       })
                   ? 2
                   : 0;
      }
      default:
        return 1;
    }
  });
}

// ===========================================================================
// JSON

using nlohmann::json;

class JsonDecoder {
 public:
  explicit JsonDecoder(std::string& error) : error_(error) {}

  bool fail(const std::string& path, const std::string& what) {
    error_ = (path.empty() ? std::string("request") : path) + ": " + what;
    return false;
  }

  // Member by its lowerCamelCase name or its proto field name.
  static const json* member(const json& obj, const char* camel, const char* snake = nullptr) {
    auto it = obj.find(camel);
    if (it != obj.end() && !it->is_null()) return &*it;
    if (snake) {
      it = obj.find(snake);
      if (it != obj.end() && !it->is_null()) return &*it;
    }
    return nullptr;
  }

  bool object(const json& j, const std::string& path) {
    return j.is_object() ? true
                         : fail(path, std::string("expected an object, got ") + j.type_name());
  }
  // Iterates an optional array member.
  template <typename F>
  bool array(const json& obj, const std::string& path, const char* camel, const char* snake,
             F&& f) {
    const json* a = member(obj, camel, snake);
    if (!a) return true;
    const std::string p = path + (path.empty() ? "" : ".") + camel;
    if (!a->is_array()) return fail(p, std::string("expected an array, got ") + a->type_name());
    std::size_t i = 0;
    for (const auto& e : *a) {
      if (!f(e, p + "[" + std::to_string(i++) + "]")) return false;
    }
    return true;
  }

  bool str(const json& obj, const std::string& path, const char* camel, const char* snake,
           std::string* out) {
    const json* v = member(obj, camel, snake);
    if (!v) return true;
    if (!v->is_string()) return fail(path + "." + camel, "expected a string");
    *out = sanitized(v->get_ref<const std::string&>());
    return true;
  }

  // Unsigned 64-bit from a number or a decimal string.
  bool u64(const json& obj, const std::string& path, const char* camel, const char* snake,
           std::uint64_t* out) {
    const json* v = member(obj, camel, snake);
    if (!v) return true;
    const std::string p = path + "." + camel;
    if (v->is_number_unsigned()) {
      *out = v->get<std::uint64_t>();
      return true;
    }
    if (v->is_number_integer()) {
      const auto i = v->get<std::int64_t>();
      if (i < 0) return fail(p, "negative value for an unsigned field");
      *out = static_cast<std::uint64_t>(i);
      return true;
    }
    if (v->is_string()) {
      const auto& s = v->get_ref<const std::string&>();
      std::uint64_t r = 0;
      if (s.empty() || s.size() > 20) return fail(p, "expected a decimal integer string");
      for (char c : s) {
        if (c < '0' || c > '9')
          return fail(p, "expected a decimal integer string, got \"" + s + "\"");
        const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
        if (r > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
          return fail(p, "out of range");
        r = r * 10 + d;
      }
      *out = r;
      return true;
    }
    return fail(p, std::string("expected an integer, got ") + v->type_name());
  }

  bool i64_value(const json& v, const std::string& p, std::int64_t* out) {
    if (v.is_number_integer()) {
      *out = v.get<std::int64_t>();
      return true;
    }
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      errno = 0;
      char* end = nullptr;
      const long long r = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || errno == ERANGE) {
        return fail(p, "expected a decimal integer string, got \"" + s + "\"");
      }
      *out = r;
      return true;
    }
    return fail(p, std::string("expected an integer, got ") + v.type_name());
  }

  bool u32(const json& obj, const std::string& path, const char* camel, const char* snake,
           std::uint32_t* out) {
    std::uint64_t u = *out;
    if (!u64(obj, path, camel, snake, &u)) return false;
    if (u > 0xFFFFFFFFULL) return fail(path + "." + camel, "out of range for 32 bits");
    *out = static_cast<std::uint32_t>(u);
    return true;
  }

  bool dbl_value(const json& v, const std::string& p, double* out) {
    if (v.is_number()) {
      *out = v.get<double>();
      return true;
    }
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      if (s == "NaN")
        *out = std::numeric_limits<double>::quiet_NaN();
      else if (s == "Infinity")
        *out = std::numeric_limits<double>::infinity();
      else if (s == "-Infinity")
        *out = -std::numeric_limits<double>::infinity();
      else {
        char* end = nullptr;
        *out = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0') return fail(p, "expected a number, got \"" + s + "\"");
      }
      return true;
    }
    return fail(p, std::string("expected a number, got ") + v.type_name());
  }
  bool dbl(const json& obj, const std::string& path, const char* camel, const char* snake,
           double* out, bool* present = nullptr) {
    const json* v = member(obj, camel, snake);
    if (!v) return true;
    if (present) *present = true;
    return dbl_value(*v, path + "." + camel, out);
  }

  // Enum as a number or by name (matched by the suffix after the prefix).
  bool enum_value(const json& obj, const std::string& path, const char* camel, const char* snake,
                  std::initializer_list<const char*> names, std::uint64_t* out) {
    const json* v = member(obj, camel, snake);
    if (!v) return true;
    if (v->is_string()) {
      const auto& s = v->get_ref<const std::string&>();
      std::uint64_t i = 0;
      for (const char* n : names) {
        if (s == n) {
          *out = i;
          return true;
        }
        ++i;
      }
    }
    return u64(obj, path, camel, snake, out);
  }

  template <std::size_t N>
  bool id(const json& obj, const std::string& path, const char* camel, const char* snake,
          std::array<std::uint8_t, N>* out, bool* present) {
    const json* v = member(obj, camel, snake);
    if (!v) return true;
    const std::string p = path + "." + camel;
    if (!v->is_string()) return fail(p, "expected a hex string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty()) return true;
    if (s.size() != 2 * N) {
      return fail(p, std::to_string(s.size()) + " hex digits, expected " + std::to_string(2 * N));
    }
    for (std::size_t i = 0; i < N; ++i) {
      const int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
      if (hi < 0 || lo < 0) return fail(p, "not a hex string: \"" + s + "\"");
      (*out)[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    if (present) *present = true;
    return true;
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool base64(const std::string& s, const std::string& p, std::string* out) {
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out->clear();
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t pad = 0;
    for (char c : s) {
      if (c == '=') {
        ++pad;
        continue;
      }
      if (pad) return fail(p, "base64 data after padding");
      std::size_t v = kAlphabet.find(c);
      if (c == '-') v = 62;  // URL-safe alphabet, which the proto JSON mapping accepts
      if (c == '_') v = 63;
      if (v == std::string_view::npos) return fail(p, "not base64");
      acc = (acc << 6) | static_cast<std::uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out->push_back(static_cast<char>((acc >> bits) & 0xFF));
      }
    }
    return true;
  }

  bool any_value(const json& j, const std::string& p, AnyValue& out, int depth) {
    if (depth > kMaxAnyValueDepth) return fail(p, "AnyValue nested too deeply");
    if (!object(j, p)) return false;
    if (const json* v = member(j, "stringValue", "string_value")) {
      if (!v->is_string()) return fail(p + ".stringValue", "expected a string");
      out = AnyValue::string(sanitized(v->get_ref<const std::string&>()));
    } else if (const json* v = member(j, "boolValue", "bool_value")) {
      if (!v->is_boolean()) return fail(p + ".boolValue", "expected true or false");
      out = AnyValue::boolean(v->get<bool>());
    } else if (const json* v = member(j, "intValue", "int_value")) {
      std::int64_t i;
      if (!i64_value(*v, p + ".intValue", &i)) return false;
      out = AnyValue::integer(i);
    } else if (const json* v = member(j, "doubleValue", "double_value")) {
      double d;
      if (!dbl_value(*v, p + ".doubleValue", &d)) return false;
      out = AnyValue::floating(d);
    } else if (const json* v = member(j, "bytesValue", "bytes_value")) {
      if (!v->is_string()) return fail(p + ".bytesValue", "expected a base64 string");
      std::string b;
      if (!base64(v->get_ref<const std::string&>(), p + ".bytesValue", &b)) return false;
      out = AnyValue::bytes(std::move(b));
    } else if (const json* v = member(j, "arrayValue", "array_value")) {
      out = AnyValue::array_of({});
      const std::string ap = p + ".arrayValue";
      if (!object(*v, ap)) return false;
      return array(*v, ap, "values", nullptr, [&](const json& e, const std::string& ep) {
        return any_value(e, ep, out.array.emplace_back(), depth + 1);
      });
    } else if (const json* v = member(j, "kvlistValue", "kvlist_value")) {
      out = AnyValue::kvlist_of({});
      const std::string kp = p + ".kvlistValue";
      if (!object(*v, kp)) return false;
      return array(*v, kp, "values", nullptr, [&](const json& e, const std::string& ep) {
        return key_value(e, ep, out.kvlist.emplace_back(), depth + 1);
      });
    } else {
      out = AnyValue{};
    }
    return true;
  }

  bool key_value(const json& j, const std::string& p, KeyValue& out, int depth) {
    if (!object(j, p)) return false;
    if (!str(j, p, "key", nullptr, &out.key)) return false;
    if (const json* v = member(j, "value")) return any_value(*v, p + ".value", out.value, depth);
    return true;
  }

  bool attributes(const json& obj, const std::string& p, const char* camel, const char* snake,
                  std::vector<KeyValue>& out) {
    return array(obj, p, camel, snake, [&](const json& e, const std::string& ep) {
      return key_value(e, ep, out.emplace_back(), 0);
    });
  }

  bool resource(const json& j, const std::string& p, Resource& out) {
    if (!object(j, p)) return false;
    return attributes(j, p, "attributes", nullptr, out.attributes) &&
           u32(j, p, "droppedAttributesCount", "dropped_attributes_count",
               &out.dropped_attributes_count);
  }

  bool scope(const json& j, const std::string& p, Scope& out) {
    if (!object(j, p)) return false;
    return str(j, p, "name", nullptr, &out.name) && str(j, p, "version", nullptr, &out.version) &&
           attributes(j, p, "attributes", nullptr, out.attributes) &&
           u32(j, p, "droppedAttributesCount", "dropped_attributes_count",
               &out.dropped_attributes_count);
  }

  template <typename Item, typename ItemFn>
  bool request(std::string_view body, DecodedRequest<Item>& out, const char* rcamel,
               const char* rsnake, const char* scamel, const char* ssnake, const char* icamel,
               const char* isnake, ItemFn&& item_fn) {
    out.resources.clear();
    const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return fail("", "not valid JSON");
    if (!object(doc, "")) return false;
    return array(doc, "", rcamel, rsnake, [&](const json& rj, const std::string& rp) {
      if (!object(rj, rp)) return false;
      auto& res = out.resources.emplace_back();
      if (const json* r = member(rj, "resource")) {
        if (!resource(*r, rp + ".resource", res.resource)) return false;
      }
      if (!str(rj, rp, "schemaUrl", "schema_url", &res.resource.schema_url)) return false;
      return array(rj, rp, scamel, ssnake, [&](const json& sj, const std::string& sp) {
        if (!object(sj, sp)) return false;
        auto& sc = res.scopes.emplace_back();
        if (const json* s = member(sj, "scope")) {
          if (!scope(*s, sp + ".scope", sc.scope)) return false;
        }
        if (!str(sj, sp, "schemaUrl", "schema_url", &sc.scope.schema_url)) return false;
        return array(sj, sp, icamel, isnake, [&](const json& ij, const std::string& ip) {
          if (!object(ij, ip)) return false;
          return item_fn(ij, ip, sc.items.emplace_back());
        });
      });
    });
  }

  bool span(const json& j, const std::string& p, SpanData& out) {
    bool has_trace = false, has_span = false;
    std::uint64_t kind = 0, code = 0;
    if (!id(j, p, "traceId", "trace_id", &out.trace_id, &has_trace) ||
        !id(j, p, "spanId", "span_id", &out.span_id, &has_span) ||
        !id(j, p, "parentSpanId", "parent_span_id", &out.parent_span_id, &out.has_parent) ||
        !str(j, p, "traceState", "trace_state", &out.trace_state) ||
        !str(j, p, "name", nullptr, &out.name) ||
        !enum_value(j, p, "kind", nullptr,
                    {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
                     "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"},
                    &kind) ||
        !u64(j, p, "startTimeUnixNano", "start_time_unix_nano", &out.start_time_unix_nano) ||
        !u64(j, p, "endTimeUnixNano", "end_time_unix_nano", &out.end_time_unix_nano) ||
        !attributes(j, p, "attributes", nullptr, out.attributes) ||
        !u32(j, p, "droppedAttributesCount", "dropped_attributes_count",
             &out.dropped_attributes_count) ||
        !u32(j, p, "droppedEventsCount", "dropped_events_count", &out.dropped_events_count) ||
        !u32(j, p, "droppedLinksCount", "dropped_links_count", &out.dropped_links_count) ||
        !u32(j, p, "flags", nullptr, &out.flags)) {
      return false;
    }
    out.kind = static_cast<SpanKind>(kind <= 5 ? kind : 0);
    if (!array(j, p, "events", nullptr, [&](const json& e, const std::string& ep) {
          if (!object(e, ep)) return false;
          auto& ev = out.events.emplace_back();
          return u64(e, ep, "timeUnixNano", "time_unix_nano", &ev.time_unix_nano) &&
                 str(e, ep, "name", nullptr, &ev.name) &&
                 attributes(e, ep, "attributes", nullptr, ev.attributes) &&
                 u32(e, ep, "droppedAttributesCount", "dropped_attributes_count",
                     &ev.dropped_attributes_count);
        })) {
      return false;
    }
    if (!array(j, p, "links", nullptr, [&](const json& e, const std::string& lp) {
          if (!object(e, lp)) return false;
          auto& link = out.links.emplace_back();
          return id(e, lp, "traceId", "trace_id", &link.trace_id, nullptr) &&
                 id(e, lp, "spanId", "span_id", &link.span_id, nullptr) &&
                 str(e, lp, "traceState", "trace_state", &link.trace_state) &&
                 attributes(e, lp, "attributes", nullptr, link.attributes) &&
                 u32(e, lp, "droppedAttributesCount", "dropped_attributes_count",
                     &link.dropped_attributes_count) &&
                 u32(e, lp, "flags", nullptr, &link.flags);
        })) {
      return false;
    }
    if (const json* s = member(j, "status")) {
      const std::string sp = p + ".status";
      if (!object(*s, sp) || !str(*s, sp, "message", nullptr, &out.status.message) ||
          !enum_value(*s, sp, "code", nullptr,
                      {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}, &code)) {
        return false;
      }
      out.status.code = static_cast<StatusCode>(code <= 2 ? code : 0);
    }
    if (!has_trace) return fail(p + ".traceId", "missing (a span needs a 16-byte trace id)");
    if (!has_span) return fail(p + ".spanId", "missing (a span needs an 8-byte span id)");
    return true;
  }

  bool log(const json& j, const std::string& p, LogData& out) {
    std::uint64_t sev = 0;
    if (!u64(j, p, "timeUnixNano", "time_unix_nano", &out.time_unix_nano) ||
        !u64(j, p, "observedTimeUnixNano", "observed_time_unix_nano",
             &out.observed_time_unix_nano) ||
        !enum_value(j, p, "severityNumber", "severity_number", {}, &sev) ||
        !str(j, p, "severityText", "severity_text", &out.severity_text) ||
        !attributes(j, p, "attributes", nullptr, out.attributes) ||
        !u32(j, p, "droppedAttributesCount", "dropped_attributes_count",
             &out.dropped_attributes_count) ||
        !u32(j, p, "flags", nullptr, &out.flags) ||
        !id(j, p, "traceId", "trace_id", &out.trace_id, &out.has_trace_id) ||
        !id(j, p, "spanId", "span_id", &out.span_id, &out.has_span_id) ||
        !str(j, p, "eventName", "event_name", &out.event_name)) {
      return false;
    }
    out.severity_number = static_cast<std::int32_t>(sev <= 24 ? sev : 0);
    if (const json* b = member(j, "body")) return any_value(*b, p + ".body", out.body, 0);
    return true;
  }

  bool exemplars(const json& j, const std::string& p, std::vector<Exemplar>& out) {
    return array(j, p, "exemplars", nullptr, [&](const json& e, const std::string& ep) {
      if (!object(e, ep)) return false;
      auto& x = out.emplace_back();
      if (const json* v = member(e, "asInt", "as_int")) {
        x.is_int = true;
        if (!i64_value(*v, ep + ".asInt", &x.int_value)) return false;
      }
      return attributes(e, ep, "filteredAttributes", "filtered_attributes",
                        x.filtered_attributes) &&
             u64(e, ep, "timeUnixNano", "time_unix_nano", &x.time_unix_nano) &&
             dbl(e, ep, "asDouble", "as_double", &x.double_value) &&
             id(e, ep, "traceId", "trace_id", &x.trace_id, &x.has_trace_id) &&
             id(e, ep, "spanId", "span_id", &x.span_id, &x.has_span_id);
    });
  }

  bool point_common(const json& e, const std::string& ep, std::vector<KeyValue>& attrs,
                    std::uint64_t* start, std::uint64_t* time, std::uint32_t* flags) {
    return attributes(e, ep, "attributes", nullptr, attrs) &&
           u64(e, ep, "startTimeUnixNano", "start_time_unix_nano", start) &&
           u64(e, ep, "timeUnixNano", "time_unix_nano", time) &&
           u32(e, ep, "flags", nullptr, flags);
  }

  bool u64_list(const json& e, const std::string& ep, const char* camel, const char* snake,
                std::vector<std::uint64_t>& out) {
    return array(e, ep, camel, snake, [&](const json& v, const std::string& vp) {
      json wrapper = json::object();
      wrapper["v"] = v;
      std::uint64_t u = 0;
      if (!u64(wrapper, vp, "v", nullptr, &u)) return false;
      out.push_back(u);
      return true;
    });
  }

  bool metric(const json& j, const std::string& p, MetricData& out) {
    if (!str(j, p, "name", nullptr, &out.name) ||
        !str(j, p, "description", nullptr, &out.description) ||
        !str(j, p, "unit", nullptr, &out.unit)) {
      return false;
    }
    struct Kind {
      const char* camel;
      const char* snake;
      int which;
    };
    for (const Kind k :
         {Kind{"gauge", nullptr, 5}, Kind{"sum", nullptr, 7}, Kind{"histogram", nullptr, 9},
          Kind{"exponentialHistogram", "exponential_histogram", 10},
          Kind{"summary", nullptr, 11}}) {
      const json* d = member(j, k.camel, k.snake);
      if (!d) continue;
      const std::string dp = p + "." + k.camel;
      if (!object(*d, dp)) return false;
      const int f = k.which;
      out.kind = f == 5    ? MetricKind::kGauge
                 : f == 7  ? MetricKind::kSum
                 : f == 10 ? MetricKind::kExponentialHistogram
                           : MetricKind::kHistogram;
      std::uint64_t temporality = 0;
      if (!enum_value(*d, dp, "aggregationTemporality", "aggregation_temporality",
                      {"AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA",
                       "AGGREGATION_TEMPORALITY_CUMULATIVE"},
                      &temporality)) {
        return false;
      }
      out.temporality = static_cast<AggregationTemporality>(temporality <= 2 ? temporality : 0);
      if (const json* m = member(*d, "isMonotonic", "is_monotonic")) {
        if (!m->is_boolean()) return fail(dp + ".isMonotonic", "expected true or false");
        out.monotonic = m->get<bool>();
      }
      return array(*d, dp, "dataPoints", "data_points", [&](const json& e, const std::string& ep) {
        if (!object(e, ep)) return false;
        if (f == 5 || f == 7) {
          auto& pt = out.number_points.emplace_back();
          if (const json* v = member(e, "asInt", "as_int")) {
            pt.is_int = true;
            if (!i64_value(*v, ep + ".asInt", &pt.int_value)) return false;
          }
          return point_common(e, ep, pt.attributes, &pt.start_time_unix_nano, &pt.time_unix_nano,
                              &pt.flags) &&
                 dbl(e, ep, "asDouble", "as_double", &pt.double_value) &&
                 exemplars(e, ep, pt.exemplars);
        }
        if (f == 10) {
          auto& pt = out.exponential_points.emplace_back();
          pt.has_sum = false;
          bool has_min = false, has_max = false;
          std::uint64_t scale = 0;
          std::int64_t scale_i = 0;
          if (const json* s = member(e, "scale")) {
            if (!i64_value(*s, ep + ".scale", &scale_i)) return false;
          }
          (void)scale;
          pt.scale = static_cast<std::int32_t>(scale_i);
          for (auto [name, b] :
               {std::pair{"positive", &pt.positive}, std::pair{"negative", &pt.negative}}) {
            if (const json* bj = member(e, name)) {
              const std::string bp = ep + "." + name;
              if (!object(*bj, bp)) return false;
              std::int64_t off = 0;
              if (const json* o = member(*bj, "offset")) {
                if (!i64_value(*o, bp + ".offset", &off)) return false;
              }
              b->offset = static_cast<std::int32_t>(off);
              if (!u64_list(*bj, bp, "bucketCounts", "bucket_counts", b->counts)) return false;
            }
          }
          bool ok = point_common(e, ep, pt.attributes, &pt.start_time_unix_nano, &pt.time_unix_nano,
                                 &pt.flags) &&
                    u64(e, ep, "count", nullptr, &pt.count) &&
                    dbl(e, ep, "sum", nullptr, &pt.sum, &pt.has_sum) &&
                    u64(e, ep, "zeroCount", "zero_count", &pt.zero_count) &&
                    dbl(e, ep, "min", nullptr, &pt.min, &has_min) &&
                    dbl(e, ep, "max", nullptr, &pt.max, &has_max) &&
                    dbl(e, ep, "zeroThreshold", "zero_threshold", &pt.zero_threshold) &&
                    exemplars(e, ep, pt.exemplars);
          pt.has_min_max = has_min || has_max;
          return ok;
        }
        auto& pt = out.histogram_points.emplace_back();
        pt.has_sum = false;
        bool has_min = false, has_max = false;
        bool ok = point_common(e, ep, pt.attributes, &pt.start_time_unix_nano, &pt.time_unix_nano,
                               &pt.flags) &&
                  u64(e, ep, "count", nullptr, &pt.count) &&
                  dbl(e, ep, "sum", nullptr, &pt.sum, &pt.has_sum) &&
                  dbl(e, ep, "min", nullptr, &pt.min, &has_min) &&
                  dbl(e, ep, "max", nullptr, &pt.max, &has_max);
        pt.has_min_max = has_min || has_max;
        if (!ok) return false;
        if (f == 11) return true;
        if (!u64_list(e, ep, "bucketCounts", "bucket_counts", pt.bucket_counts)) return false;
        if (!array(e, ep, "explicitBounds", "explicit_bounds",
                   [&](const json& v, const std::string& vp) {
                     double d;
                     if (!dbl_value(v, vp, &d)) return false;
                     pt.bounds.push_back(d);
                     return true;
                   })) {
          return false;
        }
        return exemplars(e, ep, pt.exemplars);
      });
    }
    return true;  // a metric without data: kept with no points
  }

 private:
  std::string& error_;
};

}  // namespace

namespace {

// Decodes without error paths; on failure decodes again with them.
template <typename Item, typename ItemFn>
bool decode_proto(std::string_view body, DecodedRequest<Item>& out, std::string& error,
                  const char* resource_name, const char* scope_name, const char* item_name,
                  ItemFn item_fn) {
  for (const bool paths : {false, true}) {
    ProtoDecoder d(error, paths);
    if (d.request(body, out, resource_name, scope_name, item_name,
                  [&](std::string_view v, const Path& p, Item& item) {
                    return item_fn(d, v, p, item);
                  })) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool decode_traces_proto(std::string_view body, TracesRequest& out, std::string& error) {
  return decode_proto(body, out, error, "resourceSpans", "scopeSpans", "spans",
                      [](ProtoDecoder& d, std::string_view v, const Path& p, SpanData& s) {
                        return d.span(v, p, s);
                      });
}

bool decode_logs_proto(std::string_view body, LogsRequest& out, std::string& error) {
  return decode_proto(body, out, error, "resourceLogs", "scopeLogs", "logRecords",
                      [](ProtoDecoder& d, std::string_view v, const Path& p, LogData& l) {
                        return d.log(v, p, l);
                      });
}

bool decode_metrics_proto(std::string_view body, MetricsRequest& out, std::string& error) {
  return decode_proto(body, out, error, "resourceMetrics", "scopeMetrics", "metrics",
                      [](ProtoDecoder& d, std::string_view v, const Path& p, MetricData& m) {
                        return d.metric(v, p, m);
                      });
}

bool decode_traces_json(std::string_view body, TracesRequest& out, std::string& error) {
  JsonDecoder d(error);
  return d.request(
      body, out, "resourceSpans", "resource_spans", "scopeSpans", "scope_spans", "spans", nullptr,
      [&](const nlohmann::json& j, const std::string& p, SpanData& s) { return d.span(j, p, s); });
}

bool decode_logs_json(std::string_view body, LogsRequest& out, std::string& error) {
  JsonDecoder d(error);
  return d.request(
      body, out, "resourceLogs", "resource_logs", "scopeLogs", "scope_logs", "logRecords",
      "log_records",
      [&](const nlohmann::json& j, const std::string& p, LogData& l) { return d.log(j, p, l); });
}

bool decode_metrics_json(std::string_view body, MetricsRequest& out, std::string& error) {
  JsonDecoder d(error);
  return d.request(body, out, "resourceMetrics", "resource_metrics", "scopeMetrics",
                   "scope_metrics", "metrics", nullptr,
                   [&](const nlohmann::json& j, const std::string& p, MetricData& m) {
                     return d.metric(j, p, m);
                   });
}

}  // namespace emp::telemetry::encode::otlp
