// JSON-lines encoder for the log track: one record in, one line out, in the
// exact field order of the job-queue log format (docs/log-format.md).
// Pure functions: no I/O, no shared state (only a per-thread timestamp cache),
// meant for the background thread (they are not on the application's hot
// path). Safe to call from several threads at once.
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
  std::string_view log_file_path;          // path of the file this line is written to
  const std::uint8_t* trace_id = nullptr;  // 16 bytes, or null when no trace
  const std::uint8_t* span_id = nullptr;   // 8 bytes, or null
};

// Appends one JSON object and a trailing '\n' to `out`.
//
// Keys, in this order: timestamp, level, message, service_name, service_type,
// machine_id, environment, log_file_path, source_identification
// ("<service_name>:<machine_id>:<log_file_path>"), worker_id (only when
// ctx.worker_id is non-empty), trace_id and span_id (lowercase hex, only when
// the pointers are non-null), then record.fields in the caller's order.
//
// A caller field whose key equals a standard key that this line carries is
// written as "field.<key>" instead, so a standard key never appears twice and
// always means what the format says. (worker_id, trace_id and span_id count as
// carried only when present: a caller's own "trace_id" on a line without a
// trace keeps its name.)
//
// Field values: strings are escaped and cut at limits.max_field_bytes (keys
// too); integers as JSON integers; doubles in the shortest form that reads
// back to the same double, with ".0" added to integral values so that they stay
// floating point for typed consumers; NaN and infinities, which JSON cannot
// express as numbers, as the strings "NaN", "Infinity" and "-Infinity".
// The message is cut at limits.max_message_bytes. Limits count input bytes;
// escaping may make the output longer.
//
// Never throws except std::bad_alloc from growing `out`; never allocates
// anything else.
void append_log_line(std::string& out, const LogRecordView& record, const LineContext& ctx,
                     const LineLimits& limits, LineStats& stats);

// Appends `s` as a quoted JSON string. Escapes '"', '\\' and every control
// character (U+0000..U+001F, plus U+007F..U+009F as \u00XX); replaces each
// invalid UTF-8 sequence with U+FFFD (setting stats.invalid_utf8). When `s`
// exceeds `max_bytes`, it is cut at a UTF-8 boundary at or below the limit and
// the visible marker "…[truncated N bytes]" is appended inside the string
// (setting stats.truncated), N being the number of input bytes cut.
// "Invalid" follows Unicode's definition of well-formed UTF-8 (no overlongs, no
// surrogates D800..DFFF, nothing above U+10FFFF), and each maximal subpart of
// an ill-formed sequence becomes one U+FFFD ("substitution of maximal
// subparts", the W3C/WHATWG decoder practice). U+2028 and U+2029 are written as
// \u2028 and \u2029 so that the line is also a valid JavaScript literal. The
// output is always well-formed UTF-8 without raw control characters.
// A cut never splits a character or an ill-formed subpart; pass SIZE_MAX for
// no limit (0 cuts everything).
void append_json_string(std::string& out, std::string_view s, std::size_t max_bytes,
                        LineStats& stats);

// RFC 3339 UTC with milliseconds, e.g. 2026-11-25T07:56:09.123Z (no quotes).
// Sub-millisecond digits are dropped (truncated toward the past, also before
// 1970), never rounded up. The calendar part is cached per thread and per
// second, so consecutive lines within one second cost only the milliseconds.
void append_rfc3339_millis(std::string& out, std::int64_t time_unix_nano);

// "debug", "info", "warn" or "error": the level as a log line spells it.
std::string_view log_level_text(Level level) noexcept;

// True when a caller's field named `key` would repeat a standard key of a line
// with these optional keys; such a field is written as "field.<key>". Other
// encoders of the log-line format (e.g. the Fluentd forward records) follow
// the same rule.
bool is_standard_log_key(std::string_view key, bool has_worker, bool has_trace,
                         bool has_span) noexcept;

// Lowercase hex of `n` bytes.
void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n);

}  // namespace emp::telemetry::encode
