// MessagePack reader for input from outside the process (a forward server's
// acks and handshake, whole forward frames received by our own server, test
// data): a bounds-checked cursor that never reads past its buffer, never
// recurses, and refuses nesting deeper than a limit and containers that claim
// more elements than a limit, so no input can exhaust the stack or memory.
//
// Three layers:
//   Reader::read()   one value header (scalars, str/bin/ext with their bytes,
//                    array/map with their counts: the caller walks the elements);
//   Reader::skip()   one complete value, whatever it holds;
//   complete_value() how many bytes the first complete value of a stream
//                    buffer takes, or that more bytes are needed: the framing
//                    a TCP reader needs, since msgpack has no length prefix.
// to_json() renders one value as JSON text (for viewers and diagnostics).
//
// Pure and thread-safe: no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace emp::telemetry::encode::msgpack {

enum class Type : std::uint8_t { kNil, kBool, kInt, kUint, kFloat, kStr, kBin, kArray, kMap, kExt };

enum class Status : std::uint8_t {
  kOk,
  kNeedMore,   // the buffer ends inside the value (a stream reader waits for more)
  kMalformed,  // not msgpack (0xc1), or over a limit
};

struct Limits {
  std::size_t max_depth = 32;              // nested containers; at most 64
  std::uint32_t max_container = 1u << 20;  // elements of one array, pairs of one map
};

// One value header. For kStr/kBin/kExt `bytes` holds the payload; for kArray
// `count` is the element count, for kMap the pair count.
struct Item {
  Type type = Type::kNil;
  bool boolean = false;
  std::int64_t i = 0;   // kInt (negative values only; non-negative ones are kUint)
  std::uint64_t u = 0;  // kUint
  double f = 0;         // kFloat (float32 widened)
  std::string_view bytes;
  std::uint32_t count = 0;
  std::int8_t ext_type = 0;

  bool is_integer() const noexcept { return type == Type::kInt || type == Type::kUint; }
  bool is_text() const noexcept { return type == Type::kStr || type == Type::kBin; }
  // The integer value when it fits int64.
  bool as_int64(std::int64_t& out) const noexcept;
};

class Reader {
 public:
  explicit Reader(std::string_view buf, Limits limits = {}) noexcept : buf_(buf), limits_(limits) {}

  // Reads one header at the cursor and advances past it (and past the payload
  // of str/bin/ext). On kNeedMore/kMalformed the cursor does not move.
  Status read(Item& out) noexcept;
  // Advances past one complete value. On failure the cursor does not move.
  Status skip() noexcept;

  std::size_t offset() const noexcept { return pos_; }
  bool at_end() const noexcept { return pos_ >= buf_.size(); }
  std::string_view rest() const noexcept { return buf_.substr(pos_); }
  // The bytes between `from` (an earlier offset()) and the cursor.
  std::string_view since(std::size_t from) const noexcept { return buf_.substr(from, pos_ - from); }
  const Limits& limits() const noexcept { return limits_; }

 private:
  std::string_view buf_;
  std::size_t pos_ = 0;
  Limits limits_;
};

// Sets `size` to the length of the first complete value in `buf`.
Status complete_value(std::string_view buf, std::size_t& size, const Limits& limits = {}) noexcept;

// Appends one value as JSON: str as strings (ill-formed UTF-8 repaired), bin
// and ext as {"$bin": "<hex>"} / {"$ext": type, "data": "<hex>"} except
// EventTime (ext 0, 8 bytes), written as {"$time": <seconds>.<9 digits>};
// NaN/Infinity as strings; map keys that are not strings as their JSON text in
// a string. `value` must hold exactly one value (trailing bytes: kMalformed).
// On failure `out` keeps whatever was appended before the failure.
Status to_json(std::string_view value, std::string& out, const Limits& limits = {});

// Reads an EventTime ext payload (8 bytes) as nanoseconds since 1970.
bool event_time_nanos(std::string_view ext_payload, std::int64_t& out) noexcept;

}  // namespace emp::telemetry::encode::msgpack
