// The one OTLP protobuf writer: the write pass of the size-first encoders of
// traces, logs (otlp_proto.cpp) and metrics (otlp_metrics.cpp). ValueWriter
// fills a buffer whose size the size pass (otlp_proto_sizes.hpp) computed,
// with scalar and string fields, AnyValue, KeyValue and attribute lists;
// each encoder derives from it and adds its own messages. Field numbers of
// common.v1 (AnyValue, ArrayValue, KeyValueList, KeyValue) come from
// opentelemetry-proto's common/v1/common.proto.
//
// The bytes written must match otlp_proto_sizes.hpp exactly: one-byte tags,
// proto3 defaults omitted, strings after UTF-8 repair (invalid sequences
// become U+FFFD and are counted in invalid_utf8). Internal to src/encode;
// header-only so that each encoder inlines it on its hot path.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "encode/otlp_proto.hpp"
#include "encode/otlp_proto_sizes.hpp"
#include "encode/proto_wire.hpp"

namespace emp::telemetry::encode::otlp::proto {

// A one-byte tag (field numbers up to 15).
constexpr std::uint8_t tag8(std::uint32_t field, wire::WireType type) {
  return static_cast<std::uint8_t>(wire::make_tag(field, type));
}
inline constexpr wire::WireType kVarint = wire::WireType::kVarint;
inline constexpr wire::WireType kFixed64 = wire::WireType::kFixed64;
inline constexpr wire::WireType kLen = wire::WireType::kLen;
inline constexpr wire::WireType kFixed32 = wire::WireType::kFixed32;

// common.v1.AnyValue
inline constexpr std::uint8_t kAnyString = tag8(1, kLen);
inline constexpr std::uint8_t kAnyBool = tag8(2, kVarint);
inline constexpr std::uint8_t kAnyInt = tag8(3, kVarint);
inline constexpr std::uint8_t kAnyDouble = tag8(4, kFixed64);
inline constexpr std::uint8_t kAnyArray = tag8(5, kLen);
inline constexpr std::uint8_t kAnyKvList = tag8(6, kLen);
inline constexpr std::uint8_t kAnyBytes = tag8(7, kLen);
// common.v1.ArrayValue.values, common.v1.KeyValueList.values
inline constexpr std::uint8_t kListValues = tag8(1, kLen);
// common.v1.KeyValue
inline constexpr std::uint8_t kKvKey = tag8(1, kLen);
inline constexpr std::uint8_t kKvValue = tag8(2, kLen);

struct ValueWriter {
  std::uint8_t* p;
  std::size_t invalid_utf8 = 0;

  explicit ValueWriter(std::uint8_t* out) noexcept : p(out) {}

  void byte(std::uint8_t b) noexcept { *p++ = b; }
  void varint(std::uint64_t v) noexcept { p = wire::put_varint(p, v); }
  void fixed64_field(std::uint8_t tag, std::uint64_t v) noexcept {
    *p++ = tag;
    p = wire::put_fixed64(p, v);
  }
  void double_field(std::uint8_t tag, double d) noexcept {
    fixed64_field(tag, std::bit_cast<std::uint64_t>(d));
  }
  void opt_fixed64_field(std::uint8_t tag, std::uint64_t v) noexcept {
    if (v != 0) fixed64_field(tag, v);
  }
  void opt_varint_field(std::uint8_t tag, std::uint64_t v) noexcept {
    if (v == 0) return;
    *p++ = tag;
    p = wire::put_varint(p, v);
  }
  void bytes_field(std::uint8_t tag, const void* data, std::size_t n) noexcept {
    p = wire::put_len_field(p, tag, data, n);
  }

  // Sanitized size of a string and whether it can be copied verbatim.
  struct Scan {
    std::size_t n;
    bool ascii;
  };
  static Scan scan(std::string_view s) noexcept {
    if (wire::is_ascii(s)) return {s.size(), true};
    return {wire::utf8_sanitized_size(s), false};
  }
  // Length prefix and UTF-8 payload of a string scanned by scan().
  void str_payload(std::string_view s, Scan sc) noexcept {
    p = wire::put_varint(p, sc.n);
    if (sc.ascii) {
      p = wire::put_bytes(p, s.data(), s.size());
    } else {
      bool replaced = false;
      p = wire::put_utf8_sanitized(p, s, &replaced);
      if (replaced) ++invalid_utf8;
    }
  }
  void str_field(std::uint8_t tag, std::string_view s) noexcept {
    *p++ = tag;
    str_payload(s, scan(s));
  }
  void opt_str_field(std::uint8_t tag, std::string_view s) noexcept {
    if (!s.empty()) str_field(tag, s);
  }

  void any_value(const AnyValue& v, int depth) noexcept {
    if (depth >= kMaxAnyValueDepth) return;
    switch (v.type) {
      case AnyValue::Type::kEmpty:
        return;
      case AnyValue::Type::kString:
        str_field(kAnyString, v.str);
        return;
      case AnyValue::Type::kBool:
        *p++ = kAnyBool;
        *p++ = v.bool_value ? 1 : 0;
        return;
      case AnyValue::Type::kInt:
        *p++ = kAnyInt;
        varint(static_cast<std::uint64_t>(v.int_value));
        return;
      case AnyValue::Type::kDouble:
        double_field(kAnyDouble, v.double_value);
        return;
      case AnyValue::Type::kBytes:
        bytes_field(kAnyBytes, v.str.data(), v.str.size());
        return;
      case AnyValue::Type::kArray: {
        std::size_t n = 0;
        for (const AnyValue& e : v.array) {
          n += 1 + wire::len_prefixed_size(sizes::any_size(e, depth + 1));
        }
        *p++ = kAnyArray;
        varint(n);
        for (const AnyValue& e : v.array) {
          *p++ = kListValues;
          varint(sizes::any_size(e, depth + 1));
          any_value(e, depth + 1);
        }
        return;
      }
      case AnyValue::Type::kKvList: {
        std::size_t n = 0;
        for (const KeyValue& e : v.kvlist) {
          n += 1 + wire::len_prefixed_size(sizes::kv_size(e, depth + 1));
        }
        *p++ = kAnyKvList;
        varint(n);
        for (const KeyValue& e : v.kvlist) {
          *p++ = kListValues;
          varint(sizes::kv_size(e, depth + 1));
          kv(e, depth + 1);
        }
        return;
      }
    }
  }

  void kv(const KeyValue& kv, int depth) noexcept {
    opt_str_field(kKvKey, kv.key);
    *p++ = kKvValue;
    varint(sizes::any_size(kv.value, depth));
    any_value(kv.value, depth);
  }

  // An attribute list as repeated KeyValue field `tag`: the hot loop of
  // every batch. Each string is scanned once here (and once in the size
  // pass), and string values, by far the most common, skip the generic
  // AnyValue path.
  void attrs(std::uint8_t tag, const std::vector<KeyValue>& list) noexcept {
    for (const KeyValue& e : list) {
      const bool has_key = !e.key.empty();
      const Scan key = has_key ? scan(e.key) : Scan{0, true};
      const bool is_str = e.value.type == AnyValue::Type::kString;
      const Scan str = is_str ? scan(e.value.str) : Scan{0, true};
      const std::size_t value_n =
          is_str ? 1 + wire::len_prefixed_size(str.n) : sizes::any_size(e.value, 0);
      const std::size_t body =
          (has_key ? 1 + wire::len_prefixed_size(key.n) : 0) + 1 + wire::len_prefixed_size(value_n);
      *p++ = tag;
      varint(body);
      if (has_key) {
        *p++ = kKvKey;
        str_payload(e.key, key);
      }
      *p++ = kKvValue;
      varint(value_n);
      if (is_str) {
        *p++ = kAnyString;
        str_payload(e.value.str, str);
      } else {
        any_value(e.value, 0);
      }
    }
  }
};

}  // namespace emp::telemetry::encode::otlp::proto
