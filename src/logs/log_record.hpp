// The log record as it travels through a queue: written on the caller's
// thread by Logger::emit, read on the background thread by LogHandler.
//
// Payload layout (after the pipeline's kind byte), all integers native-endian:
//   u8 level | u8 flags | u16 field_count | i64 time_unix_nano
//   u16 format_args                  when flags & kFormat
//   [16 trace id + 8 span id]        when flags & kHasTrace
//   u32 len, file path bytes         when flags & kHasFile
//   u32 len, message bytes
//   field_count x { u8 type | u16 key_len | key | value }
//     value: string = u32 len + bytes; int/double = 8 bytes; bool = 1 byte; null = nothing
//   u32 fields dropped               when flags & kFieldsDropped
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/pipeline.hpp"
#include "emp/telemetry/field.hpp"

namespace emp::telemetry::core {

// What Logger needs on the caller's thread; owned by the client.
struct LogFrontend {
  Pipeline* pipeline = nullptr;
  std::size_t max_message_bytes = 16 * 1024;
  std::size_t max_field_bytes = 4 * 1024;
  std::size_t max_key_bytes = 256;
  std::size_t max_payload = 0;  // Pipeline::max_payload(), cached
  bool source_location = false;  // EMP_LOG_SOURCE_LOCATION: code.* fields
};

}  // namespace emp::telemetry::core

namespace emp::telemetry::logs {

enum RecordFlags : std::uint8_t {
  kHasTrace = 1,
  kHasFile = 2,
  kTruncated = 4,      // the caller's thread cut an oversize value
  kFieldsDropped = 8,  // the record could not fit: trailing fields were left out
  // An operational event (the events track): the message is the event's name
  // and the record counts in Track::kEvents.
  kEvent = 16,
  // The message is an fmt format string and the first `format_args` fields
  // (keys empty) are its arguments: LogHandler formats it on the background
  // thread before any output sees the record.
  kFormat = 32,
};

// A decoded record; views point into the queue (valid during on_record).
struct DecodedLog {
  Level level = Level::kInfo;
  std::uint8_t flags = 0;
  std::int64_t time_unix_nano = 0;
  const std::uint8_t* trace_id = nullptr;
  const std::uint8_t* span_id = nullptr;
  std::string_view file;
  std::string_view message;
  std::uint16_t format_args = 0;  // when flags & kFormat
  std::vector<Field> fields;      // reused between records
  std::uint32_t fields_dropped = 0;
};

// Queues one record of `track` from the caller's thread (see Logger::emit):
// copies, never formats; a value over a limit is cut with a visible marker.
// With `format_args` > 0 the message is a format string and the first
// `format_args` fields its arguments (kFormat).
void emit(const core::LogFrontend& f, Track track, std::string_view file, Level level,
          std::string_view message, std::span<const Field> fields, std::uint8_t flags,
          std::uint16_t format_args = 0) noexcept;

// Replaces a kFormat record's message by the formatted text (kept in
// `storage`) and removes the arguments from its fields. A format string that
// does not match its arguments (only possible with fmt::runtime) keeps the
// format string as the message, the arguments as fields arg0, arg1, ... and
// the reason in `format_error`: nothing is lost. Never throws; false only
// when out of memory (the record is then left as it was).
bool apply_format(DecodedLog& record, std::string& storage) noexcept;

// False when the payload is malformed (which would be a bug: it is only ever
// produced by encode code in the same process).
bool decode_log(const std::uint8_t* p, std::size_t n, DecodedLog& out) noexcept;

// Cuts `s` at a UTF-8 boundary so that it plus the marker "…[truncated N
// bytes]" fits in `limit` bytes.
std::string truncate_with_marker(std::string_view s, std::size_t limit);

}  // namespace emp::telemetry::logs
