// Protocol Buffers wire-format primitives, written against the public
// encoding spec (varints, zig-zag-free int64 two's complement, little-endian
// fixed32/64, length-delimited fields) so the OTLP encoder needs no
// libprotobuf. Writers work on raw pointers into a buffer whose size the
// caller computed first with the matching *_size function; the Reader is a
// bounds-checked cursor for decoding untrusted bodies.
//
// Also here: UTF-8 validation and U+FFFD replacement, because protobuf
// `string` fields must carry valid UTF-8 and many receivers reject the whole
// request otherwise.
//
// All functions are pure and thread-safe.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace emp::telemetry::encode::wire {

enum class WireType : std::uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

constexpr std::uint32_t make_tag(std::uint32_t field, WireType type) noexcept {
  return (field << 3) | static_cast<std::uint32_t>(type);
}

// Bytes taken by `v` as a varint (1..10). Branch-free: 9/64 approximates 1/7.
constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  return (static_cast<std::size_t>(std::bit_width(v | 1)) * 9 + 64) / 64;
}

// int32/int64/enum fields: negative values are sign-extended to 64 bits and
// always take 10 bytes.
constexpr std::size_t int64_varint_size(std::int64_t v) noexcept {
  return varint_size(static_cast<std::uint64_t>(v));
}

// Bytes of a length-delimited field body of `n` bytes, without the tag.
constexpr std::size_t len_prefixed_size(std::size_t n) noexcept { return varint_size(n) + n; }

inline std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

inline std::uint8_t* put_fixed32(std::uint8_t* p, std::uint32_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, 4);
  } else {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  return p + 4;
}

inline std::uint8_t* put_fixed64(std::uint8_t* p, std::uint64_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, 8);
  } else {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  return p + 8;
}

inline std::uint8_t* put_bytes(std::uint8_t* p, const void* data, std::size_t n) noexcept {
  if (n != 0) std::memcpy(p, data, n);
  return p + n;
}

// Tag then length then `n` raw bytes.
inline std::uint8_t* put_len_field(std::uint8_t* p, std::uint32_t tag, const void* data,
                                   std::size_t n) noexcept {
  p = put_varint(p, tag);
  p = put_varint(p, n);
  return put_bytes(p, data, n);
}

// ---------------------------------------------------------------------------
// UTF-8

// True when every byte is below 0x80. Eight bytes per step.
inline bool is_ascii(std::string_view s) noexcept {
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t acc = 0;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    acc |= w;
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    acc |= static_cast<unsigned char>(*p++);
    --n;
  }
  return (acc & 0x8080808080808080ULL) == 0;
}

// Length of the well-formed UTF-8 sequence starting at s[i] (1..4), or 0
// when s[i] does not start one. When 0, `*bad_len` receives the length of
// the maximal ill-formed subpart (Unicode 15 §3.9, U+FFFD substitution of
// maximal subparts): that many bytes become one U+FFFD.
inline std::size_t utf8_sequence_at(std::string_view s, std::size_t i,
                                    std::size_t* bad_len) noexcept {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  if (c < 0x80) return 1;
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    *bad_len = 1;
    return 0;
  }
  std::size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= s.size()) break;
    const unsigned char b = at(i + k);
    const unsigned char l = (k == 1) ? lo : 0x80;
    const unsigned char h = (k == 1) ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  if (k > need) return need + 1;
  *bad_len = k;
  return 0;
}

inline constexpr char kReplacementChar[] = "\xEF\xBF\xBD";  // U+FFFD

// Size of `s` after replacing each ill-formed subpart with U+FFFD.
inline std::size_t utf8_sanitized_size(std::string_view s) noexcept {
  if (is_ascii(s)) return s.size();
  std::size_t out = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t bad = 0;
    const std::size_t n = utf8_sequence_at(s, i, &bad);
    if (n != 0) {
      out += n;
      i += n;
    } else {
      out += 3;
      i += bad;
    }
  }
  return out;
}

// Writes `s` with ill-formed subparts replaced; `*replaced` is set to true
// when anything was replaced (left untouched otherwise).
inline std::uint8_t* put_utf8_sanitized(std::uint8_t* p, std::string_view s,
                                        bool* replaced) noexcept {
  std::size_t i = 0;
  std::size_t run = 0;  // start of the pending run of valid bytes
  while (i < s.size()) {
    std::size_t bad = 0;
    const std::size_t n = utf8_sequence_at(s, i, &bad);
    if (n != 0) {
      i += n;
      continue;
    }
    p = put_bytes(p, s.data() + run, i - run);
    p = put_bytes(p, kReplacementChar, 3);
    *replaced = true;
    i += bad;
    run = i;
  }
  return put_bytes(p, s.data() + run, s.size() - run);
}

// ---------------------------------------------------------------------------
// Decoding

// Bounds-checked cursor over an untrusted buffer. Every method returns false
// (leaving the cursor unspecified) instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) noexcept
      : p_(reinterpret_cast<const std::uint8_t*>(data.data())), end_(p_ + data.size()) {}

  bool done() const noexcept { return p_ == end_; }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  std::size_t offset_from(const void* base) const noexcept {
    return static_cast<std::size_t>(p_ - static_cast<const std::uint8_t*>(base));
  }

  // Rejects truncated varints and varints longer than 10 bytes or whose
  // tenth byte carries more than the 64th bit.
  bool read_varint(std::uint64_t* v) noexcept {
    std::uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const std::uint8_t b = *p_++;
      if (shift == 63 && b > 1) return false;
      result |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }

  bool read_fixed32(std::uint32_t* v) noexcept {
    if (remaining() < 4) return false;
    std::uint32_t r = 0;
    for (int i = 0; i < 4; ++i) r |= static_cast<std::uint32_t>(p_[i]) << (8 * i);
    p_ += 4;
    *v = r;
    return true;
  }

  bool read_fixed64(std::uint64_t* v) noexcept {
    if (remaining() < 8) return false;
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r |= static_cast<std::uint64_t>(p_[i]) << (8 * i);
    p_ += 8;
    *v = r;
    return true;
  }

  // Field number (1..2^29-1) and wire type of the next field.
  bool read_tag(std::uint32_t* field, WireType* type) noexcept {
    std::uint64_t t;
    if (!read_varint(&t)) return false;
    if (t > 0xFFFFFFFFULL) return false;
    const std::uint64_t f = t >> 3;
    if (f == 0) return false;
    *field = static_cast<std::uint32_t>(f);
    *type = static_cast<WireType>(t & 7);
    return true;
  }

  // A length-delimited payload; the length must fit in what is left.
  bool read_len(std::string_view* out) noexcept {
    std::uint64_t n;
    if (!read_varint(&n)) return false;
    if (n > remaining()) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(n));
    p_ += n;
    return true;
  }

  // Skips one field value of `type`. Groups (deprecated, never used by OTLP)
  // and unknown wire types are refused rather than walked.
  bool skip(WireType type) noexcept {
    switch (type) {
      case WireType::kVarint: {
        std::uint64_t v;
        return read_varint(&v);
      }
      case WireType::kFixed64:
        if (remaining() < 8) return false;
        p_ += 8;
        return true;
      case WireType::kLen: {
        std::string_view v;
        return read_len(&v);
      }
      case WireType::kFixed32:
        if (remaining() < 4) return false;
        p_ += 4;
        return true;
      default:
        return false;
    }
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

}  // namespace emp::telemetry::encode::wire
