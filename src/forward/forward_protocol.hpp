// The Fluentd forward protocol v1, as pure functions: log records as
// PackedForward entries, whole frames (PackedForward and
// CompressedPackedForward) with the `chunk` option that asks for an ack,
// acks, the shared-key handshake (HELO, PING, PONG and their SHA-512
// digests), and, for a server, the decoding of every frame mode. Wire facts
// and their sources: docs/fluentd-forward.md.
//
// No I/O and no shared state: the client destination (forward_destination)
// and the server (forward_server) do the talking. Everything that reads bytes
// from a peer goes through encode::msgpack::Reader with limits, and reports
// kNeedMore / kMalformed instead of trusting lengths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "encode/gzip.hpp"
#include "encode/json_lines.hpp"
#include "encode/msgpack_reader.hpp"

namespace emp::telemetry::forward {

using encode::msgpack::Status;

// ---- client side: records and frames ----

// `<service_type>.logs.<name>`: <name> is the base name of the log file
// without its extension ("service" for /var/log/x/service.log), with any
// character outside [A-Za-z0-9_-] replaced by '_' so the tag stays one
// dot-separated part per level; "unknown" when a part is empty.
std::string log_tag(std::string_view service_type, std::string_view log_file_path);

// Appends one PackedForward entry: [EventTime, record], the record being a
// map with the keys of the log-line format (encode::append_log_line): the
// same names, order and collision rule ("field.<key>"), timestamp as RFC 3339
// text too, caller fields as native msgpack types (NaN/Inf stay floats).
// Returns the number of strings repaired (ill-formed UTF-8) or cut.
struct EntryStats {
  std::size_t invalid_utf8 = 0;
  std::size_t truncated = 0;
};
void append_log_entry(std::string& entries, const encode::LogRecordView& record,
                      const encode::LineContext& ctx, const encode::LineLimits& limits,
                      EntryStats* stats = nullptr);

// A new chunk id: 32 random lowercase hex characters (from the kernel's
// CSPRNG-seeded generator of trace ids), unique per batch.
std::string new_chunk_id();

// Appends the frame [tag, bin(entries), {"size": n, "chunk": id[,
// "compressed": "gzip"]}]. With `gzip` the entries are compressed first, at
// `gzip_level` (encode::gzip_compress's scale); false when compression fails
// (out of memory), `out` then unchanged.
bool append_packed_forward(std::string& out, std::string_view tag, std::string_view entries,
                           std::size_t count, std::string_view chunk, bool gzip,
                           int gzip_level = encode::kGzipDefaultLevel);

// The `chunk` option of a frame built by append_packed_forward (or any frame
// with an option map); empty when it has none. Reads only the frame's outer
// structure.
std::string frame_chunk(std::string_view frame);

// Reads one answer of the server after a frame: {"ack": "<chunk>"}. `used`
// is the size of the value read (also when it is not an ack: the caller
// decides). kOk with `chunk` set when it is an ack; kOk with `chunk` empty
// when it is a complete value of another shape.
Status read_ack(std::string_view buf, std::size_t& used, std::string& chunk);

// ---- the shared-key handshake ----

// Lowercase hex SHA-512 of the concatenation of `parts`.
std::string sha512_hex(std::initializer_list<std::string_view> parts);

struct Helo {
  std::string nonce;
  std::string auth;  // empty: no user authentication asked
  bool keepalive = true;
};
// ["HELO", {"nonce": bin|str, "auth": bin|str, "keepalive": bool}]
Status read_helo(std::string_view buf, std::size_t& used, Helo& out);
std::string build_helo(const Helo& helo);

struct Ping {
  std::string hostname;
  std::string salt;
  std::string digest;  // hex sha512(salt + hostname + nonce + shared_key)
  std::string username;
  std::string password_digest;  // hex sha512(auth + username + password), or ""
};
// Builds the PING for `helo` with a fresh random salt.
std::string build_ping(const Helo& helo, std::string_view hostname, std::string_view shared_key,
                       std::string_view username, std::string_view password, std::string& salt);
Status read_ping(std::string_view buf, std::size_t& used, Ping& out);

struct Pong {
  bool ok = false;
  std::string reason;
  std::string hostname;
  std::string digest;  // hex sha512(salt + server hostname + nonce + shared_key)
};
std::string build_pong(const Pong& pong);
Status read_pong(std::string_view buf, std::size_t& used, Pong& out);

// ---- server side: decoding frames ----

// One event of a frame. Views are valid during the callback only.
struct Event {
  std::string_view tag;
  std::int64_t time_unix_nano = 0;
  std::string_view record;  // one msgpack value (normally a map)
};

struct FrameInfo {
  std::string chunk;  // empty: no ack asked
  std::size_t events = 0;
  bool compressed = false;
  enum class Mode : std::uint8_t { kMessage, kForward, kPackedForward } mode = Mode::kMessage;
};

struct DecodeLimits {
  encode::msgpack::Limits msgpack{};
  std::size_t max_decompressed = 64u << 20;  // a gzip bomb costs at most this
};

// Decodes one complete frame (Message, Forward, PackedForward or
// CompressedPackedForward) and calls `on_event` for each event, in order.
// kMalformed (with `error` set) when the frame is not one of those shapes, a
// time is neither an integer nor an EventTime, an entry is not [time, record],
// the gzip is bad or expands past the limit. Events before the fault have
// been handed over already (as a real Fluentd does).
Status decode_frame(std::string_view frame, const DecodeLimits& limits,
                    const std::function<void(const Event&)>& on_event, FrameInfo& info,
                    std::string& error);

}  // namespace emp::telemetry::forward
