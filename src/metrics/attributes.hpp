// Attribute sets of the metrics track: hashing the caller's key/value views
// without allocating, the owned canonical form a series keeps (sorted by
// key, unique keys, no nulls), and comparing the two in place.
//
// The set hash is order-independent (a sum of per-attribute mixes), so a
// caller's {a,b} finds the series stored as {a,b} or created from {b,a}
// without sorting on the hot path. Strings are hashed with a wyhash-style
// multiply-fold that reads at most 16 bytes per step.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "emp/telemetry/field.hpp"
#include "emp/telemetry/metrics.hpp"
#include "encode/otlp_types.hpp"

namespace emp::telemetry::metrics {

inline constexpr std::uint64_t kP0 = 0xa0761d6478bd642full;
inline constexpr std::uint64_t kP1 = 0xe7037ed1a0b428dbull;
inline constexpr std::uint64_t kP2 = 0x8ebc6af09c88c6e3ull;

inline std::uint64_t mum(std::uint64_t a, std::uint64_t b) noexcept {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}
inline std::uint64_t read8(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint64_t read4(const char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Equality of short byte runs without a library call: two overlapping
// loads cover up to 16 bytes (names, keys and values are usually short).
__attribute__((always_inline)) inline bool same_bytes(const char* a, const char* b,
                                                      std::size_t n) noexcept {
  if (n >= 8) {
    if (n > 16) return std::memcmp(a, b, n) == 0;
    return read8(a) == read8(b) && read8(a + n - 8) == read8(b + n - 8);
  }
  if (n >= 4) return read4(a) == read4(b) && read4(a + n - 4) == read4(b + n - 4);
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}
__attribute__((always_inline)) inline bool same(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && same_bytes(a.data(), b.data(), a.size());
}

inline std::uint64_t hash_bytes(const char* p, std::size_t n, std::uint64_t seed) noexcept {
  std::uint64_t a, b;
  seed ^= kP0;
  if (n <= 16) {
    if (n >= 4) {
      const std::size_t k = (n >> 3) << 2;
      a = (read4(p) << 32) | read4(p + k);
      b = (read4(p + n - 4) << 32) | read4(p + n - 4 - k);
    } else if (n > 0) {
      a = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
          (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n >> 1])) << 8) |
          static_cast<unsigned char>(p[n - 1]);
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    std::size_t i = n;
    const char* q = p;
    while (i > 16) {
      seed = mum(read8(q) ^ kP1, read8(q + 8) ^ seed);
      q += 16;
      i -= 16;
    }
    a = read8(p + n - 16);
    b = read8(p + n - 8);
  }
  return mum(kP1 ^ n, mum(a ^ kP1, b ^ seed));
}
inline std::uint64_t hash_string(std::string_view s, std::uint64_t seed = 0) noexcept {
  return hash_bytes(s.data(), s.size(), seed);
}

inline std::uint64_t double_bits(double d) noexcept {
  std::uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}

// One attribute's contribution; the value hash depends on its type, so 1,
// 1.0, "1" and true are distinct attribute values.
inline std::uint64_t hash_attribute(std::string_view key, FieldValue::Type type,
                                    std::uint64_t scalar, std::string_view str) noexcept {
  const std::uint64_t hk = hash_string(key, 0x51);
  const std::uint64_t hv = type == FieldValue::Type::kString
                               ? hash_string(str, 0x73)
                               : mum(scalar ^ kP2, kP1 + static_cast<std::uint64_t>(type));
  return mum(hk ^ kP0, hv ^ kP2);
}

inline std::uint64_t scalar_of(const FieldValue& v) noexcept {
  switch (v.type()) {
    case FieldValue::Type::kDouble:
      return double_bits(v.as_double());
    case FieldValue::Type::kBool:
      return v.as_bool() ? 1 : 0;
    case FieldValue::Type::kInt:
      return static_cast<std::uint64_t>(v.as_int());
    default:
      return 0;
  }
}

inline std::uint64_t finish_set_hash(std::uint64_t sum, std::size_t n) noexcept {
  return mum(sum ^ kP2, kP0 + n);
}

// An attribute as a series keeps it.
struct StoredAttribute {
  std::string key;
  FieldValue::Type type = FieldValue::Type::kString;
  std::uint64_t scalar = 0;  // int, bool or double bits
  std::string str;

  std::uint64_t hash() const noexcept { return hash_attribute(key, type, scalar, str); }
  __attribute__((always_inline)) bool equals(const Field& f) const noexcept {
    if (f.value.type() != type || !same(f.key, key)) return false;
    return type == FieldValue::Type::kString ? same(f.value.as_string(), str)
                                             : scalar_of(f.value) == scalar;
  }
  bool operator==(const StoredAttribute& o) const noexcept {
    return type == o.type && scalar == o.scalar && key == o.key && str == o.str;
  }
};
using AttributeSet = std::vector<StoredAttribute>;

// Hashes the caller's attributes as given. `simple` is false when a null
// value is present, a key repeats (detected for sets of up to 8), or the set
// is too large for the in-place comparison; such sets must be canonicalized
// first.
inline std::uint64_t hash_input(MetricAttributes attrs, bool& simple) noexcept {
  std::uint64_t sum = 0;
  simple = attrs.size() <= 64;
  for (const Field& f : attrs) {
    if (f.value.type() == FieldValue::Type::kNull) {
      simple = false;
      continue;
    }
    sum += hash_attribute(f.key, f.value.type(), scalar_of(f.value), f.value.as_string());
  }
  return finish_set_hash(sum, attrs.size());
}

inline std::uint64_t hash_set(const AttributeSet& set) noexcept {
  std::uint64_t sum = 0;
  for (const auto& a : set) sum += a.hash();
  return finish_set_hash(sum, set.size());
}

// True when `input` (no nulls, at most 64 entries) is the same set as
// `stored` (canonical). Tries positional first (the usual case: callers pass
// attributes in a stable order), then matches each remaining key once.
inline bool equals_input(const AttributeSet& stored, MetricAttributes input) noexcept {
  const std::size_t n = input.size();
  if (stored.size() != n) return false;
  std::size_t i = 0;
  while (i < n && stored[i].equals(input[i])) ++i;
  if (i == n) return true;
  std::uint64_t used = i >= 64 ? ~0ull : ((1ull << i) - 1);
  for (std::size_t j = i; j < n; ++j) {
    const Field& f = input[j];
    bool found = false;
    for (std::size_t k = i; k < n; ++k) {
      if ((used >> k) & 1) continue;
      if (stored[k].key == f.key) {
        if (!stored[k].equals(f)) return false;
        used |= 1ull << k;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

// True when `input` lists exactly `stored`, in the same order.
inline bool equals_positional(const AttributeSet& stored, MetricAttributes input) noexcept {
  if (stored.size() != input.size()) return false;
  for (std::size_t i = 0; i < stored.size(); ++i)
    if (!stored[i].equals(input[i])) return false;
  return true;
}

// The canonical owned form: nulls dropped, the last value of a repeated key
// kept, sorted by key.
AttributeSet canonicalize(MetricAttributes attrs);

// For export.
std::vector<encode::otlp::KeyValue> to_key_values(const AttributeSet& set);

}  // namespace emp::telemetry::metrics
