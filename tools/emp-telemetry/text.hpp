// Small text helpers the commands share: strings from files or peers made
// safe to print on an operator's terminal, and counted nouns ("1 problem",
// "2 problems").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace emp::telemetry::cli {

// `text` with everything a terminal could act on escaped as \xNN: C0 and C1
// control characters (ESC, CSI, BEL, backspace, carriage return...), DEL,
// bytes that are not valid UTF-8, and the Unicode bidirectional overrides
// that reorder what is shown (U+202A..U+202E, U+2066..U+2069). Valid
// printable UTF-8 passes through. At most `limit` input bytes are shown,
// then "...".
inline std::string terminal_safe(std::string_view text, std::size_t limit = 4096) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  auto escape = [&out](unsigned char b) {
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  };
  const bool cut = text.size() > limit;
  if (cut) text = text.substr(0, limit);
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b >= 0x20 && b < 0x7f) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07;
    }
    bool valid = len > 0 && i + len <= text.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      valid = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    const std::uint32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    valid = valid && cp >= min_cp && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    const bool control =
        cp <= 0x9F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
    if (valid && !control) {
      out.append(text.substr(i, len));
      i += len;
    } else if (valid) {
      for (std::size_t k = 0; k < len; ++k) escape(static_cast<unsigned char>(text[i + k]));
      i += len;
    } else {
      escape(b);
      ++i;
    }
  }
  if (cut) out += "...";
  return out;
}

// "1 problem", "3 problems"; `plural` defaults to noun + "s".
inline std::string count_noun(std::uint64_t n, std::string_view noun,
                              std::string_view plural = {}) {
  std::string out = std::to_string(n) + " ";
  if (n == 1) return out + std::string(noun);
  return out + (plural.empty() ? std::string(noun) + "s" : std::string(plural));
}

}  // namespace emp::telemetry::cli
