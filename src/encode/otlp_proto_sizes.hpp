// Encoded sizes of the OTLP messages every signal shares (AnyValue, KeyValue,
// attribute lists) and of optional scalar fields, for the size-first protobuf
// encoders of traces, logs (otlp_proto.cpp) and metrics (otlp_metrics.cpp).
// The numbers must match what each encoder's writer emits: one-byte tags,
// proto3 defaults omitted, strings counted after UTF-8 repair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "encode/otlp_proto.hpp"
#include "encode/proto_wire.hpp"

namespace emp::telemetry::encode::otlp::sizes {

inline std::size_t str_size(std::string_view s) noexcept { return wire::utf8_sanitized_size(s); }

// A string field that is omitted when empty.
inline std::size_t opt_str_field_size(std::string_view s) noexcept {
  return s.empty() ? 0 : 1 + wire::len_prefixed_size(str_size(s));
}

inline std::size_t opt_varint_field_size(std::uint64_t v) noexcept {
  return v == 0 ? 0 : 1 + wire::varint_size(v);
}

inline std::size_t opt_fixed64_field_size(std::uint64_t v) noexcept { return v == 0 ? 0 : 9; }

inline std::size_t kv_size(const KeyValue& kv, int depth) noexcept;

inline std::size_t any_size(const AnyValue& v, int depth) noexcept {
  if (depth >= kMaxAnyValueDepth) return 0;
  switch (v.type) {
    case AnyValue::Type::kEmpty:
      return 0;
    case AnyValue::Type::kString:
      return 1 + wire::len_prefixed_size(str_size(v.str));
    case AnyValue::Type::kBool:
      return 2;
    case AnyValue::Type::kInt:
      return 1 + wire::int64_varint_size(v.int_value);
    case AnyValue::Type::kDouble:
      return 9;
    case AnyValue::Type::kBytes:
      return 1 + wire::len_prefixed_size(v.str.size());
    case AnyValue::Type::kArray: {
      std::size_t n = 0;
      for (const AnyValue& e : v.array) n += 1 + wire::len_prefixed_size(any_size(e, depth + 1));
      return 1 + wire::len_prefixed_size(n);
    }
    case AnyValue::Type::kKvList: {
      std::size_t n = 0;
      for (const KeyValue& e : v.kvlist) n += 1 + wire::len_prefixed_size(kv_size(e, depth + 1));
      return 1 + wire::len_prefixed_size(n);
    }
  }
  return 0;
}

inline std::size_t kv_size(const KeyValue& kv, int depth) noexcept {
  return opt_str_field_size(kv.key) + 1 + wire::len_prefixed_size(any_size(kv.value, depth));
}

inline std::size_t attrs_size(const std::vector<KeyValue>& attrs) noexcept {
  std::size_t n = 0;
  for (const KeyValue& kv : attrs) n += 1 + wire::len_prefixed_size(kv_size(kv, 0));
  return n;
}

}  // namespace emp::telemetry::encode::otlp::sizes
