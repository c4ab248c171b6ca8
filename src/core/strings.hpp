// The small ASCII string helpers every parser here needs: trimming,
// case-insensitive comparison, lowercasing, control-character checks, and
// making outside text safe to show in a one-line message. One definition
// serves config, trace context, HTTP headers, Prometheus names and server
// answers, so "space" or "case-insensitive" means the same everywhere.
//
// ASCII only on purpose: environment values, header names, W3C trace context
// and URL schemes are ASCII by their specifications, and locale-dependent
// <cctype> functions must not change what a value means. Header-only so that
// tests compiling a single source file need no extra object. All functions
// are pure and thread-safe; only the ones returning std::string allocate.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace emp::telemetry::core {

// Space or horizontal tab: the "optional whitespace" of HTTP, W3C trace
// context and environment values.
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// Space, tab, CR or LF.
constexpr bool is_whitespace(char c) noexcept { return is_ows(c) || c == '\r' || c == '\n'; }

// C0 controls and DEL.
constexpr bool is_control(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

constexpr bool has_control(std::string_view s) noexcept {
  for (char c : s) {
    if (is_control(c)) return true;
  }
  return false;
}

// An RFC 9110 token character (HTTP header names, W3C baggage keys).
constexpr bool is_token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// A non-empty run of token characters.
constexpr bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr char ascii_upper(char c) noexcept {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

// Spaces and tabs removed at both ends.
constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Spaces, tabs, CR and LF removed at both ends (lines read from a peer).
constexpr std::string_view trim_whitespace(std::string_view s) noexcept {
  while (!s.empty() && is_whitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_whitespace(s.back())) s.remove_suffix(1);
  return s;
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_upper(c);
  return out;
}

// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// `text` starts with `prefix`, ASCII case-insensitively.
constexpr bool istarts_with(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// `value` in double quotes for a message: '"' and '\' escaped, control bytes
// as \xNN, cut after `limit` bytes (never inside a UTF-8 sequence) with the
// full size noted, so a hostile value cannot flood or split the output.
// Bytes >= 0x80 pass through (values may be UTF-8).
inline std::string quote(std::string_view value, std::size_t limit = 120) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  std::size_t n = value.size();
  bool cut = false;
  if (n > limit) {
    n = limit;
    while (n > 0 && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80) --n;
    cut = true;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const char c = value[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (is_control(c)) {
      const auto u = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
  if (cut) out += "... (" + std::to_string(value.size()) + " bytes)";
  return out;
}

// `text` made safe for a one-line message: bytes outside printable ASCII
// become '?', and the result is cut at `limit` bytes ("..." appended).
inline std::string printable_excerpt(std::string_view text, std::size_t limit) {
  std::string out;
  out.reserve((text.size() < limit ? text.size() : limit) + 3);
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (text.size() > limit) out += "...";
  return out;
}

}  // namespace emp::telemetry::core
