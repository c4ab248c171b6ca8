// The identity of a span as it travels between services: trace id, span id,
// trace flags and the vendor `tracestate` list (W3C Trace Context). These are
// plain value types; the wire forms (the `traceparent` / `tracestate` headers
// and job payload keys) are read and written by propagation.hpp.
//
// Thread-safety: all types here are values. Const member functions may be
// called concurrently; mutation needs external synchronization, as for any
// standard container.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emp::telemetry {

namespace detail {

inline constexpr char kLowerHexDigits[] = "0123456789abcdef";

// Value of a lowercase hex digit, or -1. Uppercase is rejected on purpose:
// W3C Trace Context and OTLP/JSON both require lowercase ids.
constexpr int lower_hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& bytes) noexcept {
  std::uint8_t acc = 0;
  for (std::uint8_t b : bytes) acc |= b;
  return acc == 0;
}

template <std::size_t N>
void bytes_to_hex(const std::array<std::uint8_t, N>& bytes, char* out) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    out[2 * i] = kLowerHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kLowerHexDigits[bytes[i] & 0x0f];
  }
}

template <std::size_t N>
bool hex_to_bytes(std::string_view hex, std::array<std::uint8_t, N>& out) noexcept {
  if (hex.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = lower_hex_value(hex[2 * i]);
    const int lo = lower_hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return true;
}

template <std::size_t N>
std::size_t hash_bytes(const std::array<std::uint8_t, N>& bytes) noexcept {
  // Ids are random already; folding the words is enough for a hash table.
  std::uint64_t h = 0;
  for (std::size_t i = 0; i < N; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h ^= w + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  }
  return static_cast<std::size_t>(h);
}

}  // namespace detail

// A 16-byte trace id. The default value (all zero) is the W3C "invalid" id.
class TraceId {
 public:
  static constexpr std::size_t kSize = 16;
  static constexpr std::size_t kHexSize = 32;
  using Bytes = std::array<std::uint8_t, kSize>;

  constexpr TraceId() noexcept = default;
  explicit constexpr TraceId(const Bytes& bytes) noexcept : bytes_(bytes) {}

  const Bytes& bytes() const noexcept { return bytes_; }
  // False for the all-zero id, which W3C and OTLP forbid on the wire.
  bool is_valid() const noexcept { return !detail::all_zero(bytes_); }

  // 32 lowercase hex characters.
  std::string to_hex() const {
    std::string s(kHexSize, '0');
    detail::bytes_to_hex(bytes_, s.data());
    return s;
  }
  // Writes exactly 32 characters to `out` (no terminator); never allocates.
  void to_hex(char* out) const noexcept { detail::bytes_to_hex(bytes_, out); }

  // Exactly 32 lowercase hex characters, else nullopt. The all-zero text
  // parses (to an id whose is_valid() is false) so callers can tell "not
  // hex" from "zero".
  static std::optional<TraceId> from_hex(std::string_view hex) noexcept {
    Bytes b{};
    if (!detail::hex_to_bytes(hex, b)) return std::nullopt;
    return TraceId(b);
  }

  friend bool operator==(const TraceId&, const TraceId&) = default;

 private:
  Bytes bytes_{};
};

// An 8-byte span id (the W3C "parent-id" on the wire). All zero is invalid.
class SpanId {
 public:
  static constexpr std::size_t kSize = 8;
  static constexpr std::size_t kHexSize = 16;
  using Bytes = std::array<std::uint8_t, kSize>;

  constexpr SpanId() noexcept = default;
  explicit constexpr SpanId(const Bytes& bytes) noexcept : bytes_(bytes) {}

  const Bytes& bytes() const noexcept { return bytes_; }
  bool is_valid() const noexcept { return !detail::all_zero(bytes_); }

  // 16 lowercase hex characters.
  std::string to_hex() const {
    std::string s(kHexSize, '0');
    detail::bytes_to_hex(bytes_, s.data());
    return s;
  }
  // Writes exactly 16 characters to `out` (no terminator); never allocates.
  void to_hex(char* out) const noexcept { detail::bytes_to_hex(bytes_, out); }

  // Exactly 16 lowercase hex characters, else nullopt (all zero parses).
  static std::optional<SpanId> from_hex(std::string_view hex) noexcept {
    Bytes b{};
    if (!detail::hex_to_bytes(hex, b)) return std::nullopt;
    return SpanId(b);
  }

  friend bool operator==(const SpanId&, const SpanId&) = default;

 private:
  Bytes bytes_{};
};

// The W3C trace-flags byte. Only the two bits defined by W3C Trace Context
// Level 2 are meaningful; format_traceparent() sends every other bit as 0.
class TraceFlags {
 public:
  static constexpr std::uint8_t kSampled = 0x01;
  // Level 2 "random-trace-id": the rightmost 7 bytes of the trace id are
  // random, so downstream samplers may base decisions on them.
  static constexpr std::uint8_t kRandom = 0x02;
  static constexpr std::uint8_t kKnownBits = kSampled | kRandom;

  constexpr TraceFlags() noexcept = default;
  explicit constexpr TraceFlags(std::uint8_t value) noexcept : value_(value) {}

  constexpr std::uint8_t value() const noexcept { return value_; }
  constexpr bool sampled() const noexcept { return (value_ & kSampled) != 0; }
  constexpr bool random() const noexcept { return (value_ & kRandom) != 0; }
  constexpr TraceFlags with_sampled(bool on) const noexcept {
    return TraceFlags(on ? (value_ | kSampled) : (value_ & ~kSampled));
  }
  constexpr TraceFlags with_random(bool on) const noexcept {
    return TraceFlags(on ? (value_ | kRandom) : (value_ & ~kRandom));
  }

  friend constexpr bool operator==(TraceFlags, TraceFlags) = default;

 private:
  std::uint8_t value_ = 0;
};

// The W3C `tracestate` list: up to 32 ordered key=value members, most
// recently updated first. Keys are either simple (`[a-z0-9][a-z0-9_\-*/]{0,255}`)
// or multi-tenant (`tenant@system`, tenant ≤ 241 chars starting with
// [a-z0-9], system ≤ 14 chars starting with [a-z]); values are 1-256
// printable ASCII characters (0x20-0x7E) other than ',' and '=', not ending
// in a space. Every mutation validates, so a TraceState always formats to a
// header that any conforming peer accepts.
//
// The methods are defined in src/trace/propagation.cpp.
class TraceState {
 public:
  static constexpr std::size_t kMaxMembers = 32;
  static constexpr std::size_t kMaxKeySize = 256;
  static constexpr std::size_t kMaxValueSize = 256;

  struct Member {
    std::string key;
    std::string value;
    friend bool operator==(const Member&, const Member&) = default;
  };

  static bool is_valid_key(std::string_view key) noexcept;
  static bool is_valid_value(std::string_view value) noexcept;

  // Value of `key`, or nullopt. The view is valid until the next mutation.
  std::optional<std::string_view> get(std::string_view key) const noexcept;

  // W3C mutation rule: the member (updated or new) moves to the front. When
  // a new key would make 33 members, the rightmost member is removed.
  // Returns false, changing nothing, if the key or value is invalid (or
  // memory ran out).
  bool set(std::string_view key, std::string_view value) noexcept;

  // Removes `key`; returns whether it was present.
  bool erase(std::string_view key) noexcept;

  // The header form "k1=v1,k2=v2" (empty when there are no members).
  std::string to_header() const;

  const std::vector<Member>& members() const noexcept { return members_; }
  std::size_t size() const noexcept { return members_.size(); }
  bool empty() const noexcept { return members_.empty(); }
  void clear() noexcept { members_.clear(); }

  friend bool operator==(const TraceState&, const TraceState&) = default;

 private:
  friend struct TraceStateBuilder;  // the parser appends without re-checking order
  std::vector<Member> members_;
};

// A span's propagated identity. `remote` is true when it was extracted from
// another process (a header or a job payload) rather than created here.
struct SpanContext {
  TraceId trace_id;
  SpanId span_id;
  TraceFlags flags;
  TraceState trace_state;
  bool remote = false;

  // Both ids non-zero: the only contexts that may be propagated or used as
  // a parent.
  bool is_valid() const noexcept { return trace_id.is_valid() && span_id.is_valid(); }
  bool sampled() const noexcept { return flags.sampled(); }

  friend bool operator==(const SpanContext&, const SpanContext&) = default;
};

}  // namespace emp::telemetry

template <>
struct std::hash<emp::telemetry::TraceId> {
  std::size_t operator()(const emp::telemetry::TraceId& id) const noexcept {
    return emp::telemetry::detail::hash_bytes(id.bytes());
  }
};

template <>
struct std::hash<emp::telemetry::SpanId> {
  std::size_t operator()(const emp::telemetry::SpanId& id) const noexcept {
    return emp::telemetry::detail::hash_bytes(id.bytes());
  }
};
