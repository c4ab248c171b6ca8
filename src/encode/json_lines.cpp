// JSON-lines encoder: escaping with UTF-8 repair, RFC 3339 timestamps and the
// log line layout. This runs once per log record on the background thread, so
// the common case (plain ASCII text) is copied in spans found eight bytes at a
// time, and nothing but `out` is ever allocated.
#include "encode/json_lines.hpp"

#include <array>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace emp::telemetry::encode {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// How an ASCII byte is written inside a JSON string: 0 = as is, 'u' = \u00XX,
// otherwise the character following the backslash of its short escape.
constexpr std::array<char, 128> make_ascii_escapes() {
  std::array<char, 128> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 'u';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  t['"'] = '"';
  t['\\'] = '\\';
  t[0x7f] = 'u';
  return t;
}
constexpr std::array<char, 128> kAsciiEscape = make_ascii_escapes();

// Bit 7 of each byte of the result is set when that byte of `x` needs more
// than a plain copy: a control character, '"', '\\', DEL or a non-ASCII byte.
// Borrows can only set bits above a real hit, so the lowest set bit is exact.
inline std::uint64_t attention_bits(std::uint64_t x) {
  constexpr std::uint64_t k01 = 0x0101010101010101ull;
  constexpr std::uint64_t k80 = 0x8080808080808080ull;
  const std::uint64_t below_space = (x - k01 * 0x20) & ~x;
  const std::uint64_t q = x ^ (k01 * '"');
  const std::uint64_t b = x ^ (k01 * '\\');
  const std::uint64_t d = x ^ (k01 * 0x7f);
  return (below_space | ((q - k01) & ~q) | ((b - k01) & ~b) | ((d - k01) & ~d) | x) & k80;
}

// Returns the first byte in [p, lim) that needs attention, or a position at
// most a few bytes before it, or lim. Everything before the result is plain
// printable ASCII.
inline const unsigned char* skip_plain(const unsigned char* p, const unsigned char* lim) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i del = _mm_set1_epi8(0x7f);
  while (lim - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compare: bytes >= 0x80 are negative, so they count as "below space" too.
    const __m128i hit =
        _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, quote)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, del)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (lim - p >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    const std::uint64_t bits = attention_bits(x);
    if (bits != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      return p + (__builtin_ctzll(bits) >> 3);
#else
      return p;
#endif
    }
    p += 8;
  }
  return p;
}

inline void append_u00(std::string& out, unsigned char c) {
  const char esc[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xf]};
  out.append(esc, 6);
}

// One decoded unit of a non-ASCII sequence: either a well-formed character of
// `len` bytes or an ill-formed maximal subpart of `len` bytes.
struct Unit {
  std::size_t len;
  bool valid;
};

// Follows Table 3-7 (well-formed UTF-8 byte sequences) of the Unicode
// standard. `p` points at a byte >= 0x80 and before `end`.
inline Unit decode_unit(const unsigned char* p, const unsigned char* end) {
  const unsigned c = p[0];
  unsigned lo = 0x80;
  unsigned hi = 0xbf;
  std::size_t trail;
  if (c >= 0xc2 && c <= 0xdf) {
    trail = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    trail = 2;
    if (c == 0xe0) {
      lo = 0xa0;  // overlong
    } else if (c == 0xed) {
      hi = 0x9f;  // surrogates
    }
  } else if (c >= 0xf0 && c <= 0xf4) {
    trail = 3;
    if (c == 0xf0) {
      lo = 0x90;  // overlong
    } else if (c == 0xf4) {
      hi = 0x8f;  // above U+10FFFF
    }
  } else {
    return {1, false};  // continuation without lead, C0, C1, F5..FF
  }
  const std::size_t avail = static_cast<std::size_t>(end - p) - 1;
  if (avail < 1 || p[1] < lo || p[1] > hi) return {1, false};
  for (std::size_t i = 2; i <= trail; ++i) {
    if (avail < i || (p[i] & 0xc0) != 0x80) return {i, false};
  }
  return {trail + 1, true};
}

// Escapes `s` (without quotes) into `out`, stopping before the first unit that
// would end beyond `max_bytes` input bytes.
void append_body(std::string& out, std::string_view s, std::size_t max_bytes, LineStats& stats) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = begin + s.size();
  const bool cut = s.size() > max_bytes;
  const auto* const lim = cut ? begin + max_bytes : end;
  const unsigned char* p = begin;
  const unsigned char* run = begin;  // start of bytes not yet copied to `out`
  auto flush = [&](const unsigned char* upto) {
    if (upto != run) out.append(reinterpret_cast<const char*>(run), upto - run);
  };

  while (p < lim) {
    p = skip_plain(p, lim);
    if (p == lim) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      const char e = kAsciiEscape[c];
      if (e == 0) {
        ++p;
        continue;
      }
      flush(p);
      if (e == 'u') {
        append_u00(out, c);
      } else {
        const char esc[2] = {'\\', e};
        out.append(esc, 2);
      }
      run = ++p;
      continue;
    }
    const Unit u = decode_unit(p, end);
    if (u.len > static_cast<std::size_t>(lim - p)) break;  // would cross the limit
    if (!u.valid) {
      flush(p);
      out.append("\xEF\xBF\xBD", 3);
      stats.invalid_utf8 = true;
      p += u.len;
      run = p;
    } else if (u.len == 2 && c == 0xc2 && p[1] < 0xa0) {
      flush(p);  // C1 control U+0080..U+009F
      append_u00(out, p[1]);
      p += 2;
      run = p;
    } else if (u.len == 3 && c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
      flush(p);  // U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR
      out.append(p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
      p += 3;
      run = p;
    } else {
      p += u.len;
    }
  }
  flush(p);
  if (cut) {
    stats.truncated = true;
    out.append("\xE2\x80\xA6[truncated ");  // U+2026 HORIZONTAL ELLIPSIS
    char num[24];
    const auto r = std::to_chars(num, num + sizeof num, static_cast<std::uint64_t>(end - p));
    out.append(num, r.ptr - num);
    out.append(" bytes]");
  }
}

inline void append_quoted(std::string& out, std::string_view s, std::size_t max_bytes,
                          LineStats& stats) {
  out.push_back('"');
  append_body(out, s, max_bytes, stats);
  out.push_back('"');
}

inline void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// "YYYY-MM-DDTHH:MM:SS" for a unix second; the int64 nanosecond range spans
// the years 1677..2262, so the year always has four digits.
void format_second(char* buf, std::int64_t sec) {
  std::int64_t days = sec / 86400;
  std::int64_t sod = sec % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  // civil_from_days (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const unsigned day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const unsigned month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  const unsigned year = static_cast<unsigned>(yoe + era * 400 + (month <= 2 ? 1 : 0));
  put2(buf, year / 100);
  put2(buf + 2, year % 100);
  buf[4] = '-';
  put2(buf + 5, month);
  buf[7] = '-';
  put2(buf + 8, day);
  buf[10] = 'T';
  const unsigned s = static_cast<unsigned>(sod);
  put2(buf + 11, s / 3600);
  buf[13] = ':';
  put2(buf + 14, s / 60 % 60);
  buf[16] = ':';
  put2(buf + 17, s % 60);
}

struct SecondCache {
  std::int64_t sec = INT64_MIN;  // no real timestamp maps to this second
  char text[19] = {};
};
// Constant-initialized, so access needs no guard.
thread_local SecondCache t_second_cache;

// The line's level names (docs/log-format.md). Kept here rather than calling
// to_string(Level) so the encoders link without the configuration code.
std::string_view level_name(Level level) noexcept {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kCritical:
      return "critical";
  }
  return "info";
}

// Standard keys that a caller's field must not repeat; `has_*` say whether the
// optional ones are on this line.
bool is_taken_key(std::string_view k, bool has_worker, bool has_trace, bool has_span) {
  switch (k.size()) {
    case 5:
      return k == "level";
    case 7:
      return k == "message" || (has_span && k == "span_id");
    case 8:
      return has_trace && k == "trace_id";
    case 9:
      return k == "timestamp" || (has_worker && k == "worker_id");
    case 10:
      return k == "machine_id";
    case 11:
      return k == "environment";
    case 12:
      return k == "service_name" || k == "service_type";
    case 13:
      return k == "log_file_path";
    case 21:
      return k == "source_identification";
    default:
      return false;
  }
}

void append_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out.append("\"NaN\"");
    return;
  }
  if (std::isinf(d)) {
    out.append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buf[40];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  const std::string_view text(buf, r.ptr - buf);
  out.append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out.append(".0");
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}

constexpr std::size_t kNoLimit = SIZE_MAX;

}  // namespace

std::string_view log_level_text(Level level) noexcept { return level_name(level); }

bool is_standard_log_key(std::string_view key, bool has_worker, bool has_trace,
                         bool has_span) noexcept {
  return is_taken_key(key, has_worker, has_trace, has_span);
}

void append_json_string(std::string& out, std::string_view s, std::size_t max_bytes,
                        LineStats& stats) {
  append_quoted(out, s, max_bytes, stats);
}

void append_rfc3339_millis(std::string& out, std::int64_t time_unix_nano) {
  std::int64_t sec = time_unix_nano / 1000000000;
  std::int64_t nanos = time_unix_nano % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --sec;
  }
  SecondCache& cache = t_second_cache;
  if (cache.sec != sec) {
    format_second(cache.text, sec);
    cache.sec = sec;
  }
  const unsigned ms = static_cast<unsigned>(nanos / 1000000);
  char buf[24];
  std::memcpy(buf, cache.text, 19);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + ms / 100);
  put2(buf + 21, ms % 100);
  buf[23] = 'Z';
  out.append(buf, 24);
}

void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + 2 * n);
  char* dst = out.data() + at;
  for (std::size_t i = 0; i < n; ++i) {
    dst[2 * i] = kHexDigits[bytes[i] >> 4];
    dst[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
  }
}

void append_log_line(std::string& out, const LogRecordView& record, const LineContext& ctx,
                     const LineLimits& limits, LineStats& stats) {
  out.append("{\"timestamp\":\"");
  append_rfc3339_millis(out, record.time_unix_nano);
  out.append("\",\"level\":\"");
  out.append(level_name(record.level));
  out.append("\",\"message\":");
  append_quoted(out, record.message, limits.max_message_bytes, stats);
  out.append(",\"service_name\":");
  append_quoted(out, ctx.service_name, kNoLimit, stats);
  out.append(",\"service_type\":");
  append_quoted(out, ctx.service_type, kNoLimit, stats);
  out.append(",\"machine_id\":");
  append_quoted(out, ctx.machine_id, kNoLimit, stats);
  out.append(",\"environment\":");
  append_quoted(out, ctx.environment, kNoLimit, stats);
  out.append(",\"log_file_path\":");
  append_quoted(out, record.log_file_path, kNoLimit, stats);
  // Escaped piecewise so that no joined copy is needed.
  out.append(",\"source_identification\":\"");
  append_body(out, ctx.service_name, kNoLimit, stats);
  out.push_back(':');
  append_body(out, ctx.machine_id, kNoLimit, stats);
  out.push_back(':');
  append_body(out, record.log_file_path, kNoLimit, stats);
  out.push_back('"');

  const bool has_worker = !ctx.worker_id.empty();
  const bool has_trace = record.trace_id != nullptr;
  const bool has_span = record.span_id != nullptr;
  if (has_worker) {
    out.append(",\"worker_id\":");
    append_quoted(out, ctx.worker_id, kNoLimit, stats);
  }
  if (has_trace) {
    out.append(",\"trace_id\":\"");
    append_hex(out, record.trace_id, 16);
    out.push_back('"');
  }
  if (has_span) {
    out.append(",\"span_id\":\"");
    append_hex(out, record.span_id, 8);
    out.push_back('"');
  }

  for (const Field& f : record.fields) {
    out.append(",\"");
    if (is_taken_key(f.key, has_worker, has_trace, has_span)) out.append("field.");
    append_body(out, f.key, limits.max_field_bytes, stats);
    out.append("\":");
    const FieldValue& v = f.value;
    switch (v.type()) {
      case FieldValue::Type::kString:
        append_quoted(out, v.as_string(), limits.max_field_bytes, stats);
        break;
      case FieldValue::Type::kInt:
        append_int(out, v.as_int());
        break;
      case FieldValue::Type::kDouble:
        append_double(out, v.as_double());
        break;
      case FieldValue::Type::kBool:
        out.append(v.as_bool() ? "true" : "false");
        break;
      case FieldValue::Type::kNull:
      default:
        out.append("null");
        break;
    }
  }
  out.append("}\n");
}

}  // namespace emp::telemetry::encode
