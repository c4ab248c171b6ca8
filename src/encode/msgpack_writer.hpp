// MessagePack writer (https://github.com/msgpack/msgpack/blob/master/spec.md):
// appends values to a std::string in the smallest encoding the spec allows
// for each, so frames are compact and decoders of any language read them.
// Used by the Fluentd forward protocol (records, PackedForward entries, the
// handshake) and by its test server. Strings are written as msgpack `str`,
// which the spec defines as UTF-8: ill-formed sequences are replaced by
// U+FFFD (counted), so a strict decoder never rejects a whole batch for one
// bad byte in a log message.
//
// Pure: no I/O, no shared state; a Writer only appends to the string it was
// given. Never throws except std::bad_alloc from growing that string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace emp::telemetry::encode::msgpack {

// The EventTime extension of the Fluentd forward protocol: ext type 0.
inline constexpr std::int8_t kEventTimeExt = 0;

class Writer {
 public:
  explicit Writer(std::string& out) noexcept : out_(out) {}

  void nil() { out_.push_back(static_cast<char>(0xc0)); }
  void boolean(bool v) { out_.push_back(static_cast<char>(v ? 0xc3 : 0xc2)); }
  void integer(std::int64_t v);  // positive values use the unsigned forms
  void uinteger(std::uint64_t v);
  void float64(double v);
  // UTF-8 text; ill-formed sequences become U+FFFD. `max_bytes` cuts the
  // input at a UTF-8 boundary at or below it (SIZE_MAX: no cut).
  void str(std::string_view s, std::size_t max_bytes = SIZE_MAX);
  void bin(std::string_view bytes);
  void array_header(std::uint32_t n);
  void map_header(std::uint32_t n);
  void str_header(std::uint32_t n);
  void bin_header(std::uint32_t n);
  void ext(std::int8_t type, std::string_view data);
  // EventTime: ext 0 holding big-endian u32 seconds and u32 nanoseconds.
  // Times before 1970 are written as 0 (the format cannot express them).
  void event_time(std::int64_t unix_nano);
  // Bytes that are already one or more complete msgpack values.
  void raw(std::string_view encoded) { out_.append(encoded); }

  std::string& buffer() noexcept { return out_; }
  // Strings in which bytes were replaced by U+FFFD, and strings cut.
  std::size_t invalid_utf8_strings() const noexcept { return invalid_utf8_; }
  std::size_t truncated_strings() const noexcept { return truncated_; }

 private:
  void put_be(std::uint64_t v, int bytes);
  std::string& out_;
  std::size_t invalid_utf8_ = 0;
  std::size_t truncated_ = 0;
};

}  // namespace emp::telemetry::encode::msgpack
