#include "encode/msgpack_writer.hpp"

#include <cstring>

#include "encode/proto_wire.hpp"

namespace emp::telemetry::encode::msgpack {

namespace {

// Largest prefix of `s` no longer than `max` that does not end inside a
// UTF-8 sequence (continuation bytes at the cut are left out).
std::string_view cut_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  std::size_t back = 0;
  while (end > 0 && back < 4 && (static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) {
    --end;
    ++back;
  }
  return s.substr(0, end);
}

}  // namespace

void Writer::put_be(std::uint64_t v, int bytes) {
  char buf[8];
  for (int i = 0; i < bytes; ++i) buf[i] = static_cast<char>(v >> (8 * (bytes - 1 - i)));
  out_.append(buf, static_cast<std::size_t>(bytes));
}

void Writer::uinteger(std::uint64_t v) {
  if (v < 0x80) {
    out_.push_back(static_cast<char>(v));
  } else if (v <= 0xff) {
    out_.push_back(static_cast<char>(0xcc));
    put_be(v, 1);
  } else if (v <= 0xffff) {
    out_.push_back(static_cast<char>(0xcd));
    put_be(v, 2);
  } else if (v <= 0xffffffffu) {
    out_.push_back(static_cast<char>(0xce));
    put_be(v, 4);
  } else {
    out_.push_back(static_cast<char>(0xcf));
    put_be(v, 8);
  }
}

void Writer::integer(std::int64_t v) {
  if (v >= 0) {
    uinteger(static_cast<std::uint64_t>(v));
  } else if (v >= -32) {
    out_.push_back(static_cast<char>(v));  // negative fixint 111xxxxx
  } else if (v >= INT8_MIN) {
    out_.push_back(static_cast<char>(0xd0));
    put_be(static_cast<std::uint8_t>(v), 1);
  } else if (v >= INT16_MIN) {
    out_.push_back(static_cast<char>(0xd1));
    put_be(static_cast<std::uint16_t>(v), 2);
  } else if (v >= INT32_MIN) {
    out_.push_back(static_cast<char>(0xd2));
    put_be(static_cast<std::uint32_t>(v), 4);
  } else {
    out_.push_back(static_cast<char>(0xd3));
    put_be(static_cast<std::uint64_t>(v), 8);
  }
}

void Writer::float64(double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, 8);
  out_.push_back(static_cast<char>(0xcb));
  put_be(bits, 8);
}

void Writer::str_header(std::uint32_t n) {
  if (n < 32) {
    out_.push_back(static_cast<char>(0xa0 | n));
  } else if (n <= 0xff) {
    out_.push_back(static_cast<char>(0xd9));
    put_be(n, 1);
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xda));
    put_be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xdb));
    put_be(n, 4);
  }
}

void Writer::str(std::string_view s, std::size_t max_bytes) {
  const std::string_view in = cut_utf8(s, max_bytes);
  if (in.size() != s.size()) ++truncated_;
  if (wire::is_ascii(in)) {
    str_header(static_cast<std::uint32_t>(in.size()));
    out_.append(in);
    return;
  }
  const std::size_t n = wire::utf8_sanitized_size(in);
  str_header(static_cast<std::uint32_t>(n));
  const std::size_t at = out_.size();
  out_.resize(at + n);
  bool replaced = false;
  wire::put_utf8_sanitized(reinterpret_cast<std::uint8_t*>(out_.data() + at), in, &replaced);
  if (replaced) ++invalid_utf8_;
}

void Writer::bin_header(std::uint32_t n) {
  if (n <= 0xff) {
    out_.push_back(static_cast<char>(0xc4));
    put_be(n, 1);
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xc5));
    put_be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xc6));
    put_be(n, 4);
  }
}

void Writer::bin(std::string_view bytes) {
  bin_header(static_cast<std::uint32_t>(bytes.size()));
  out_.append(bytes);
}

void Writer::array_header(std::uint32_t n) {
  if (n < 16) {
    out_.push_back(static_cast<char>(0x90 | n));
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xdc));
    put_be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xdd));
    put_be(n, 4);
  }
}

void Writer::map_header(std::uint32_t n) {
  if (n < 16) {
    out_.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xde));
    put_be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xdf));
    put_be(n, 4);
  }
}

void Writer::ext(std::int8_t type, std::string_view data) {
  const std::size_t n = data.size();
  switch (n) {
    case 1:
      out_.push_back(static_cast<char>(0xd4));
      break;
    case 2:
      out_.push_back(static_cast<char>(0xd5));
      break;
    case 4:
      out_.push_back(static_cast<char>(0xd6));
      break;
    case 8:
      out_.push_back(static_cast<char>(0xd7));
      break;
    case 16:
      out_.push_back(static_cast<char>(0xd8));
      break;
    default:
      if (n <= 0xff) {
        out_.push_back(static_cast<char>(0xc7));
        put_be(n, 1);
      } else if (n <= 0xffff) {
        out_.push_back(static_cast<char>(0xc8));
        put_be(n, 2);
      } else {
        out_.push_back(static_cast<char>(0xc9));
        put_be(n, 4);
      }
  }
  out_.push_back(static_cast<char>(type));
  out_.append(data);
}

void Writer::event_time(std::int64_t unix_nano) {
  if (unix_nano < 0) unix_nano = 0;
  const auto sec = static_cast<std::uint64_t>(unix_nano / 1000000000);
  const auto ns = static_cast<std::uint32_t>(unix_nano % 1000000000);
  // fixext 8, type 0, u32 seconds (wraps in 2106, as the format does), u32 ns.
  out_.push_back(static_cast<char>(0xd7));
  out_.push_back(static_cast<char>(kEventTimeExt));
  put_be(static_cast<std::uint32_t>(sec), 4);
  put_be(ns, 4);
}

}  // namespace emp::telemetry::encode::msgpack
