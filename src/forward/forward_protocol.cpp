#include "forward/forward_protocol.hpp"

#include <openssl/evp.h>

#include <cstring>

#include "encode/gzip.hpp"
#include "encode/msgpack_writer.hpp"
#include "trace/ids.hpp"

namespace emp::telemetry::forward {

namespace mp = encode::msgpack;
using mp::Item;
using mp::Reader;
using mp::Type;

namespace {

// Limits for handshake and ack messages: small, flat values.
constexpr mp::Limits kSmall{4, 64};
constexpr std::size_t kMaxHandshakeBytes = 64 * 1024;

bool text_equals(const Item& it, std::string_view s) { return it.is_text() && it.bytes == s; }

// Frames the first complete value of `buf`; kMalformed past `max_bytes`.
Status frame_value(std::string_view buf, std::size_t max_bytes, const mp::Limits& limits,
                   std::size_t& used) {
  const Status s = mp::complete_value(buf, used, limits);
  if (s == Status::kNeedMore && buf.size() > max_bytes) return Status::kMalformed;
  return s;
}

// Reads a string-or-bin element into `out`.
bool read_text(Reader& r, std::string& out) {
  Item it;
  if (r.read(it) != Status::kOk || !it.is_text()) return false;
  out.assign(it.bytes);
  return true;
}

std::string random_hex16() {
  const TraceId id = trace::new_trace_id();
  std::string out;
  encode::append_hex(out, id.bytes().data(), id.bytes().size());
  return out;
}

bool is_tag_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

void append_tag_part(std::string& out, std::string_view part) {
  if (part.empty()) {
    out += "unknown";
    return;
  }
  for (char c : part) out.push_back(is_tag_char(c) ? c : '_');
}

}  // namespace

std::string log_tag(std::string_view service_type, std::string_view log_file_path) {
  std::string_view base = log_file_path;
  if (const auto slash = base.rfind('/'); slash != std::string_view::npos) {
    base.remove_prefix(slash + 1);
  }
  if (const auto dot = base.rfind('.'); dot != std::string_view::npos && dot > 0) {
    base = base.substr(0, dot);
  }
  std::string tag;
  tag.reserve(service_type.size() + base.size() + 6);
  append_tag_part(tag, service_type);
  tag += ".logs.";
  append_tag_part(tag, base);
  return tag;
}

void append_log_entry(std::string& entries, const encode::LogRecordView& r,
                      const encode::LineContext& ctx, const encode::LineLimits& limits,
                      EntryStats* stats) {
  mp::Writer w(entries);
  w.array_header(2);
  w.event_time(r.time_unix_nano);
  const bool has_worker = !ctx.worker_id.empty();
  const bool has_trace = r.trace_id != nullptr;
  const bool has_span = r.span_id != nullptr;
  const std::size_t keys =
      9 + (has_worker ? 1 : 0) + (has_trace ? 1 : 0) + (has_span ? 1 : 0) + r.fields.size();
  w.map_header(static_cast<std::uint32_t>(keys));
  w.str("timestamp");
  std::string scratch;
  encode::append_rfc3339_millis(scratch, r.time_unix_nano);
  w.str(scratch);
  w.str("level");
  w.str(encode::log_level_text(r.level));
  w.str("message");
  w.str(r.message, limits.max_message_bytes);
  w.str("service_name");
  w.str(ctx.service_name);
  w.str("service_type");
  w.str(ctx.service_type);
  w.str("machine_id");
  w.str(ctx.machine_id);
  w.str("environment");
  w.str(ctx.environment);
  w.str("log_file_path");
  w.str(r.log_file_path);
  w.str("source_identification");
  scratch.clear();
  scratch.append(ctx.service_name).append(":").append(ctx.machine_id).append(":");
  scratch.append(r.log_file_path);
  w.str(scratch);
  if (has_worker) {
    w.str("worker_id");
    w.str(ctx.worker_id);
  }
  if (has_trace) {
    w.str("trace_id");
    scratch.clear();
    encode::append_hex(scratch, r.trace_id, 16);
    w.str(scratch);
  }
  if (has_span) {
    w.str("span_id");
    scratch.clear();
    encode::append_hex(scratch, r.span_id, 8);
    w.str(scratch);
  }
  for (const Field& f : r.fields) {
    if (encode::is_standard_log_key(f.key, has_worker, has_trace, has_span)) {
      scratch.assign("field.").append(f.key);
      w.str(scratch, limits.max_field_bytes + 6);
    } else {
      w.str(f.key, limits.max_field_bytes);
    }
    const FieldValue& v = f.value;
    switch (v.type()) {
      case FieldValue::Type::kString:
        w.str(v.as_string(), limits.max_field_bytes);
        break;
      case FieldValue::Type::kInt:
        w.integer(v.as_int());
        break;
      case FieldValue::Type::kDouble:
        w.float64(v.as_double());
        break;
      case FieldValue::Type::kBool:
        w.boolean(v.as_bool());
        break;
      case FieldValue::Type::kNull:
        w.nil();
        break;
    }
  }
  if (stats != nullptr) {
    stats->invalid_utf8 += w.invalid_utf8_strings();
    stats->truncated += w.truncated_strings();
  }
}

std::string new_chunk_id() { return random_hex16(); }

bool append_packed_forward(std::string& out, std::string_view tag, std::string_view entries,
                           std::size_t count, std::string_view chunk, bool gzip, int gzip_level) {
  std::string compressed;
  if (gzip && !encode::gzip_compress(entries, compressed, gzip_level)) return false;
  mp::Writer w(out);
  w.array_header(3);
  w.str(tag);
  w.bin(gzip ? std::string_view(compressed) : entries);
  w.map_header(gzip ? 3 : 2);
  w.str("size");
  w.uinteger(count);
  w.str("chunk");
  w.str(chunk);
  if (gzip) {
    w.str("compressed");
    w.str("gzip");
  }
  return true;
}

std::string frame_chunk(std::string_view frame) {
  Reader r(frame);
  Item it;
  if (r.read(it) != Status::kOk || it.type != Type::kArray || it.count < 3) return {};
  if (r.skip() != Status::kOk) return {};  // tag
  Item second;
  const std::size_t at = r.offset();
  if (r.read(second) != Status::kOk) return {};
  if (second.type == Type::kUint || second.type == Type::kInt || second.type == Type::kExt) {
    if (it.count < 4 || r.skip() != Status::kOk) return {};  // Message: the record
  } else {
    Reader back(frame.substr(at));
    if (back.skip() != Status::kOk) return {};
    r = Reader(frame.substr(at + back.offset()));
  }
  Item opt;
  if (r.read(opt) != Status::kOk || opt.type != Type::kMap) return {};
  for (std::uint32_t i = 0; i < opt.count; ++i) {
    Item k;
    if (r.read(k) != Status::kOk) return {};
    if (text_equals(k, "chunk")) {
      Item v;
      if (r.read(v) != Status::kOk || !v.is_text()) return {};
      return std::string(v.bytes);
    }
    if (r.skip() != Status::kOk) return {};
  }
  return {};
}

Status read_ack(std::string_view buf, std::size_t& used, std::string& chunk) {
  chunk.clear();
  const Status s = frame_value(buf, kMaxHandshakeBytes, kSmall, used);
  if (s != Status::kOk) return s;
  Reader r(buf.substr(0, used), kSmall);
  Item m;
  if (r.read(m) != Status::kOk || m.type != Type::kMap) return Status::kOk;
  for (std::uint32_t i = 0; i < m.count; ++i) {
    Item k;
    if (r.read(k) != Status::kOk) return Status::kMalformed;
    if (text_equals(k, "ack")) {
      Item v;
      if (r.read(v) != Status::kOk) return Status::kMalformed;
      if (v.is_text()) chunk.assign(v.bytes);
      continue;
    }
    if (r.skip() != Status::kOk) return Status::kMalformed;
  }
  return Status::kOk;
}

std::string sha512_hex(std::initializer_list<std::string_view> parts) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1;
  for (std::string_view p : parts) {
    ok = ok && EVP_DigestUpdate(ctx, p.data(), p.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx, md, &n) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return {};
  std::string out;
  encode::append_hex(out, md, n);
  return out;
}

Status read_helo(std::string_view buf, std::size_t& used, Helo& out) {
  const Status s = frame_value(buf, kMaxHandshakeBytes, kSmall, used);
  if (s != Status::kOk) return s;
  Reader r(buf.substr(0, used), kSmall);
  Item a, name, opts;
  if (r.read(a) != Status::kOk || a.type != Type::kArray || a.count != 2) return Status::kMalformed;
  if (r.read(name) != Status::kOk || !text_equals(name, "HELO")) return Status::kMalformed;
  if (r.read(opts) != Status::kOk || opts.type != Type::kMap) return Status::kMalformed;
  out = Helo{};
  bool nonce = false;
  for (std::uint32_t i = 0; i < opts.count; ++i) {
    Item k;
    if (r.read(k) != Status::kOk) return Status::kMalformed;
    if (text_equals(k, "nonce")) {
      if (!read_text(r, out.nonce)) return Status::kMalformed;
      nonce = true;
    } else if (text_equals(k, "auth")) {
      if (!read_text(r, out.auth)) return Status::kMalformed;
    } else if (text_equals(k, "keepalive")) {
      Item v;
      if (r.read(v) != Status::kOk || v.type != Type::kBool) return Status::kMalformed;
      out.keepalive = v.boolean;
    } else if (r.skip() != Status::kOk) {
      return Status::kMalformed;
    }
  }
  return nonce ? Status::kOk : Status::kMalformed;
}

std::string build_helo(const Helo& helo) {
  std::string out;
  mp::Writer w(out);
  w.array_header(2);
  w.str("HELO");
  w.map_header(3);
  w.str("nonce");
  w.bin(helo.nonce);
  w.str("auth");
  w.bin(helo.auth);
  w.str("keepalive");
  w.boolean(helo.keepalive);
  return out;
}

std::string build_ping(const Helo& helo, std::string_view hostname, std::string_view shared_key,
                       std::string_view username, std::string_view password, std::string& salt) {
  salt = random_hex16();
  std::string out;
  mp::Writer w(out);
  w.array_header(6);
  w.str("PING");
  w.str(hostname);
  w.str(salt);
  w.str(sha512_hex({salt, hostname, helo.nonce, shared_key}));
  if (!helo.auth.empty()) {
    w.str(username);
    w.str(sha512_hex({helo.auth, username, password}));
  } else {
    w.str("");
    w.str("");
  }
  return out;
}

Status read_ping(std::string_view buf, std::size_t& used, Ping& out) {
  const Status s = frame_value(buf, kMaxHandshakeBytes, kSmall, used);
  if (s != Status::kOk) return s;
  Reader r(buf.substr(0, used), kSmall);
  Item a, name;
  if (r.read(a) != Status::kOk || a.type != Type::kArray || a.count != 6) return Status::kMalformed;
  if (r.read(name) != Status::kOk || !text_equals(name, "PING")) return Status::kMalformed;
  out = Ping{};
  if (!read_text(r, out.hostname) || !read_text(r, out.salt) || !read_text(r, out.digest) ||
      !read_text(r, out.username) || !read_text(r, out.password_digest)) {
    return Status::kMalformed;
  }
  return Status::kOk;
}

std::string build_pong(const Pong& pong) {
  std::string out;
  mp::Writer w(out);
  w.array_header(5);
  w.str("PONG");
  w.boolean(pong.ok);
  w.str(pong.reason);
  w.str(pong.hostname);
  w.str(pong.digest);
  return out;
}

Status read_pong(std::string_view buf, std::size_t& used, Pong& out) {
  const Status s = frame_value(buf, kMaxHandshakeBytes, kSmall, used);
  if (s != Status::kOk) return s;
  Reader r(buf.substr(0, used), kSmall);
  Item a, name, ok;
  if (r.read(a) != Status::kOk || a.type != Type::kArray || a.count != 5) return Status::kMalformed;
  if (r.read(name) != Status::kOk || !text_equals(name, "PONG")) return Status::kMalformed;
  if (r.read(ok) != Status::kOk || ok.type != Type::kBool) return Status::kMalformed;
  out = Pong{};
  out.ok = ok.boolean;
  if (!read_text(r, out.reason) || !read_text(r, out.hostname) || !read_text(r, out.digest)) {
    return Status::kMalformed;
  }
  return Status::kOk;
}

namespace {

bool read_time(const Item& it, std::int64_t& ns) {
  if (it.type == Type::kExt) {
    return it.ext_type == mp::kEventTimeExt && mp::event_time_nanos(it.bytes, ns);
  }
  std::int64_t sec = 0;
  if (!it.as_int64(sec) || sec < 0 || sec > INT64_MAX / 1000000000) return false;
  ns = sec * 1000000000;
  return true;
}

// Reads the option map (if any) that ends a frame.
bool read_options(Reader& r, std::uint32_t left, FrameInfo& info, std::string& error) {
  if (left == 0) return true;
  Item m;
  if (r.read(m) != Status::kOk) {
    error = "bad option";
    return false;
  }
  if (m.type == Type::kNil) return true;
  if (m.type != Type::kMap) {
    error = "option is not a map";
    return false;
  }
  for (std::uint32_t i = 0; i < m.count; ++i) {
    Item k;
    if (r.read(k) != Status::kOk) {
      error = "bad option key";
      return false;
    }
    if (text_equals(k, "chunk")) {
      if (!read_text(r, info.chunk)) {
        error = "chunk is not a string";
        return false;
      }
    } else if (text_equals(k, "compressed")) {
      std::string v;
      if (!read_text(r, v) || (v != "gzip" && v != "text")) {
        error = "unknown compression";
        return false;
      }
      info.compressed = v == "gzip";
    } else if (r.skip() != Status::kOk) {
      error = "bad option value";
      return false;
    }
  }
  return left == 1;
}

// Reads `[time, record]` entries from `r` (n of them, or until the end when
// n is SIZE_MAX).
bool read_entries(Reader& r, std::size_t n, std::string_view tag,
                  const std::function<void(const Event&)>& on_event, FrameInfo& info,
                  std::string& error) {
  for (std::size_t i = 0; n == SIZE_MAX ? !r.at_end() : i < n; ++i) {
    Item a, t;
    if (r.read(a) != Status::kOk || a.type != Type::kArray || a.count != 2) {
      error = "entry is not [time, record]";
      return false;
    }
    Event ev;
    ev.tag = tag;
    if (r.read(t) != Status::kOk || !read_time(t, ev.time_unix_nano)) {
      error = "entry time is neither an integer nor an EventTime";
      return false;
    }
    const std::size_t from = r.offset();
    if (r.skip() != Status::kOk) {
      error = "entry record is not msgpack";
      return false;
    }
    ev.record = r.since(from);
    ++info.events;
    on_event(ev);
  }
  return true;
}

}  // namespace

Status decode_frame(std::string_view frame, const DecodeLimits& limits,
                    const std::function<void(const Event&)>& on_event, FrameInfo& info,
                    std::string& error) {
  info = FrameInfo{};
  Reader r(frame, limits.msgpack);
  Item a, tag, second;
  auto bad = [&](const char* why) {
    error = why;
    return Status::kMalformed;
  };
  if (r.read(a) != Status::kOk || a.type != Type::kArray || a.count < 2 || a.count > 4) {
    return bad("frame is not an array of 2 to 4 elements");
  }
  if (r.read(tag) != Status::kOk || tag.type != Type::kStr) return bad("tag is not a string");
  const std::size_t second_at = r.offset();
  if (r.read(second) != Status::kOk) return bad("bad second element");
  if (second.type == Type::kArray) {
    info.mode = FrameInfo::Mode::kForward;
    // Read the options first: an ack is owed only for a frame that decodes.
    Reader entries(frame.substr(second_at), limits.msgpack);
    if (entries.skip() != Status::kOk) return bad("bad entries");
    Reader opts(frame.substr(second_at + entries.offset()), limits.msgpack);
    if (!read_options(opts, a.count - 2, info, error)) return Status::kMalformed;
    if (!opts.at_end()) return bad("bytes after the frame");
    if (!read_entries(r, second.count, tag.bytes, on_event, info, error)) return Status::kMalformed;
    return Status::kOk;
  }
  if (second.is_text()) {
    info.mode = FrameInfo::Mode::kPackedForward;
    if (!read_options(r, a.count - 2, info, error)) return Status::kMalformed;
    if (!r.at_end()) return bad("bytes after the frame");
    std::string inflated;
    std::string_view packed = second.bytes;
    if (info.compressed) {
      std::string why;
      if (!encode::gzip_decompress(packed, inflated, limits.max_decompressed, &why)) {
        error = "gzip: " + why;
        return Status::kMalformed;
      }
      packed = inflated;
    }
    Reader entries(packed, limits.msgpack);
    if (!read_entries(entries, SIZE_MAX, tag.bytes, on_event, info, error)) {
      return Status::kMalformed;
    }
    return Status::kOk;
  }
  // Message: [tag, time, record, option?]
  info.mode = FrameInfo::Mode::kMessage;
  Event ev;
  ev.tag = tag.bytes;
  if (a.count < 3 || !read_time(second, ev.time_unix_nano)) {
    return bad("second element is neither entries nor a time");
  }
  const std::size_t from = r.offset();
  if (r.skip() != Status::kOk) return bad("record is not msgpack");
  ev.record = r.since(from);
  if (!read_options(r, a.count - 3, info, error)) return Status::kMalformed;
  if (!r.at_end()) return bad("bytes after the frame");
  info.events = 1;
  on_event(ev);
  return Status::kOk;
}

}  // namespace emp::telemetry::forward
