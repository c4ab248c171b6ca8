// The one OTLP/JSON writer: the value-level pieces of the protobuf JSON
// mapping with the OTLP exceptions (docs/otlp.md, "OTLP/JSON"), shared by the
// trace/log encoder (otlp_json.cpp) and the metrics encoder
// (otlp_metrics_json.cpp), which derive from JsonWriter and add their
// messages. Strings, 64-bit integers as decimal strings, doubles with
// "NaN"/"Infinity", bytes as base64, ids as lowercase hex, AnyValue and
// KeyValue lists, and members omitted at their proto3 default.
//
// Internal to src/encode; header-only so that each encoder inlines it as
// before. String escaping and hex come from the JSON-lines encoder.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "encode/json_lines.hpp"
#include "encode/otlp_proto.hpp"
#include "encode/otlp_types.hpp"

namespace emp::telemetry::encode::otlp::json {

inline constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();
inline constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Appends to a caller's string; counts strings that needed U+FFFD.
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
  // A fixed64 time or count: omitted when 0 (the proto3 default).
  void opt_u64_string_member(std::string_view member, std::uint64_t v) {
    if (v == 0) return;
    raw(member);
    u64_string(v);
  }
  void dbl_member(std::string_view member, double d) {
    raw(member);
    dbl(d);
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

  // Every member is written with a leading comma; the object's first member
  // then loses it (see close_object).
  std::size_t open_object() {
    ch('{');
    return out_.size() - 1;
  }
  void close_object(std::size_t open) {
    fix_leading_comma(open);
    ch('}');
  }
  // Members are written with a leading comma; the first one after the '{'
  // at `open` must lose it.
  void fix_leading_comma(std::size_t open) {
    if (out_.size() > open + 1 && out_[open + 1] == ',') out_.erase(open + 1, 1);
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

 protected:
  std::string& out_;
  std::size_t invalid_utf8_ = 0;
};

}  // namespace emp::telemetry::encode::otlp::json
