// JSON-lines encoder for the log track: one record in, one line out, in the
// exact field order of the job-queue log format (PROTOCOLS.md section 6).
// Pure functions: no I/O, no globals, callable from the background thread only
// (they are not on the application's hot path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/field.hpp"

namespace emp::telemetry::encode {

// Per-service values that every line carries; computed once per client.
struct LineContext {
  std::string_view service_name;
  std::string_view service_type;
  std::string_view machine_id;
  std::string_view environment;  // "development", "staging", "production" or SENTRY_ENVIRONMENT
  std::string_view worker_id;    // omitted from the line when empty
};

struct LineLimits {
  std::size_t max_message_bytes = 16 * 1024;
  std::size_t max_field_bytes = 4 * 1024;  // per string field value
};

// What the encoder had to change, so the caller can count it.
struct LineStats {
  bool invalid_utf8 = false;  // some bytes were replaced by U+FFFD
  bool truncated = false;     // message or a field hit its limit
};

struct LogRecordView {
  std::int64_t time_unix_nano = 0;
  Level level = Level::kInfo;
  std::string_view message;
  std::span<const Field> fields;
  std::string_view log_file_path;  // path of the file this line is written to
  const std::uint8_t* trace_id = nullptr;  // 16 bytes, or null when no trace
  const std::uint8_t* span_id = nullptr;   // 8 bytes, or null
};

// Appends one JSON object and a trailing '\n' to `out`.
void append_log_line(std::string& out, const LogRecordView& record, const LineContext& ctx,
                     const LineLimits& limits, LineStats& stats);

// Appends `s` as a quoted JSON string. Escapes '"', '\\' and every control
// character (U+0000..U+001F, plus U+007F..U+009F as \u00XX); replaces each
// invalid UTF-8 sequence with U+FFFD (setting stats.invalid_utf8). When `s`
// exceeds `max_bytes`, it is cut at a UTF-8 boundary at or below the limit and
// the visible marker "…[truncated N bytes]" is appended inside the string
// (setting stats.truncated), N being the number of input bytes cut.
void append_json_string(std::string& out, std::string_view s, std::size_t max_bytes,
                        LineStats& stats);

// RFC 3339 UTC with milliseconds, e.g. 2026-11-25T07:56:09.123Z (no quotes).
void append_rfc3339_millis(std::string& out, std::int64_t time_unix_nano);

// Lowercase hex of `n` bytes.
void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n);

}  // namespace emp::telemetry::encode
