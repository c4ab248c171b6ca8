#include "encode/msgpack_reader.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "encode/json_lines.hpp"
#include "encode/msgpack_writer.hpp"

namespace emp::telemetry::encode::msgpack {

namespace {

constexpr std::size_t kMaxDepthCap = 64;

std::uint64_t be(const unsigned char* p, int n) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Decodes the header at `p` (`avail` bytes). `used` = header + payload bytes.
Status decode(const unsigned char* p, std::size_t avail, const Limits& limits, Item& out,
              std::size_t& used) noexcept {
  if (avail == 0) return Status::kNeedMore;
  const unsigned char b = p[0];
  auto need = [&](std::size_t n) { return avail >= n; };
  // Fixed-size header of `h` bytes followed by a payload of `len` bytes.
  auto payload = [&](std::size_t h, std::uint64_t len, Type t) -> Status {
    if (len > avail - h) return Status::kNeedMore;
    out.type = t;
    out.bytes = std::string_view(reinterpret_cast<const char*>(p + h), len);
    used = h + len;
    return Status::kOk;
  };
  auto container = [&](std::size_t h, std::uint64_t n, Type t) -> Status {
    if (n > limits.max_container) return Status::kMalformed;
    out.type = t;
    out.count = static_cast<std::uint32_t>(n);
    used = h;
    return Status::kOk;
  };
  if (b <= 0x7f) {
    out.type = Type::kUint;
    out.u = b;
    used = 1;
    return Status::kOk;
  }
  if (b >= 0xe0) {
    out.type = Type::kInt;
    out.i = static_cast<std::int8_t>(b);
    used = 1;
    return Status::kOk;
  }
  if ((b & 0xf0) == 0x80) return container(1, b & 0x0f, Type::kMap);
  if ((b & 0xf0) == 0x90) return container(1, b & 0x0f, Type::kArray);
  if ((b & 0xe0) == 0xa0) return payload(1, b & 0x1f, Type::kStr);
  switch (b) {
    case 0xc0:
      out.type = Type::kNil;
      used = 1;
      return Status::kOk;
    case 0xc2:
    case 0xc3:
      out.type = Type::kBool;
      out.boolean = b == 0xc3;
      used = 1;
      return Status::kOk;
    case 0xc4:
      if (!need(2)) return Status::kNeedMore;
      return payload(2, p[1], Type::kBin);
    case 0xc5:
      if (!need(3)) return Status::kNeedMore;
      return payload(3, be(p + 1, 2), Type::kBin);
    case 0xc6:
      if (!need(5)) return Status::kNeedMore;
      return payload(5, be(p + 1, 4), Type::kBin);
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      const int lb = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
      if (!need(static_cast<std::size_t>(lb) + 2)) return Status::kNeedMore;
      out.ext_type = static_cast<std::int8_t>(p[1 + lb]);
      return payload(static_cast<std::size_t>(lb) + 2, be(p + 1, lb), Type::kExt);
    }
    case 0xca: {
      if (!need(5)) return Status::kNeedMore;
      const auto bits = static_cast<std::uint32_t>(be(p + 1, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      out.type = Type::kFloat;
      out.f = f;
      used = 5;
      return Status::kOk;
    }
    case 0xcb: {
      if (!need(9)) return Status::kNeedMore;
      const std::uint64_t bits = be(p + 1, 8);
      std::memcpy(&out.f, &bits, 8);
      out.type = Type::kFloat;
      used = 9;
      return Status::kOk;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
      const int n = 1 << (b - 0xcc);
      if (!need(static_cast<std::size_t>(n) + 1)) return Status::kNeedMore;
      out.type = Type::kUint;
      out.u = be(p + 1, n);
      used = static_cast<std::size_t>(n) + 1;
      return Status::kOk;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const int n = 1 << (b - 0xd0);
      if (!need(static_cast<std::size_t>(n) + 1)) return Status::kNeedMore;
      const std::uint64_t raw = be(p + 1, n);
      std::int64_t v;
      switch (n) {
        case 1:
          v = static_cast<std::int8_t>(raw);
          break;
        case 2:
          v = static_cast<std::int16_t>(raw);
          break;
        case 4:
          v = static_cast<std::int32_t>(raw);
          break;
        default:
          v = static_cast<std::int64_t>(raw);
          break;
      }
      if (v >= 0) {
        out.type = Type::kUint;
        out.u = static_cast<std::uint64_t>(v);
      } else {
        out.type = Type::kInt;
        out.i = v;
      }
      used = static_cast<std::size_t>(n) + 1;
      return Status::kOk;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: {
      if (!need(2)) return Status::kNeedMore;
      out.ext_type = static_cast<std::int8_t>(p[1]);
      return payload(2, std::size_t{1} << (b - 0xd4), Type::kExt);
    }
    case 0xd9:
      if (!need(2)) return Status::kNeedMore;
      return payload(2, p[1], Type::kStr);
    case 0xda:
      if (!need(3)) return Status::kNeedMore;
      return payload(3, be(p + 1, 2), Type::kStr);
    case 0xdb:
      if (!need(5)) return Status::kNeedMore;
      return payload(5, be(p + 1, 4), Type::kStr);
    case 0xdc:
      if (!need(3)) return Status::kNeedMore;
      return container(3, be(p + 1, 2), Type::kArray);
    case 0xdd:
      if (!need(5)) return Status::kNeedMore;
      return container(5, be(p + 1, 4), Type::kArray);
    case 0xde:
      if (!need(3)) return Status::kNeedMore;
      return container(3, be(p + 1, 2), Type::kMap);
    case 0xdf:
      if (!need(5)) return Status::kNeedMore;
      return container(5, be(p + 1, 4), Type::kMap);
    default:
      return Status::kMalformed;  // 0xc1: never used
  }
}

// Walks one complete value from `p`; sets `used`. Non-recursive: a stack of
// elements still to read per open container.
Status walk(const unsigned char* p, std::size_t avail, const Limits& limits,
            std::size_t& used) noexcept {
  std::uint64_t left[kMaxDepthCap + 1];
  const std::size_t max_depth = limits.max_depth < kMaxDepthCap ? limits.max_depth : kMaxDepthCap;
  std::size_t depth = 0;
  std::size_t pos = 0;
  left[0] = 1;
  for (;;) {
    while (depth > 0 && left[depth] == 0) --depth;
    if (depth == 0 && left[0] == 0) break;
    Item it;
    std::size_t n = 0;
    const Status s = decode(p + pos, avail - pos, limits, it, n);
    if (s != Status::kOk) return s;
    pos += n;
    --left[depth];
    if (it.type == Type::kArray || it.type == Type::kMap) {
      const std::uint64_t elems = it.type == Type::kMap ? 2ull * it.count : it.count;
      if (elems == 0) continue;
      if (depth + 1 > max_depth) return Status::kMalformed;
      // Every element takes at least one byte: a count beyond the bytes left is
      // either truncated (stream) or a lie; the caller's frame cap decides.
      left[++depth] = elems;
    }
  }
  used = pos;
  return Status::kOk;
}

void append_hex_bytes(std::string& out, std::string_view b) {
  append_hex(out, reinterpret_cast<const std::uint8_t*>(b.data()), b.size());
}

void append_scalar_json(std::string& out, const Item& it) {
  LineStats stats;
  char buf[40];
  switch (it.type) {
    case Type::kNil:
      out.append("null");
      break;
    case Type::kBool:
      out.append(it.boolean ? "true" : "false");
      break;
    case Type::kInt: {
      const auto r = std::to_chars(buf, buf + sizeof buf, it.i);
      out.append(buf, r.ptr);
      break;
    }
    case Type::kUint: {
      const auto r = std::to_chars(buf, buf + sizeof buf, it.u);
      out.append(buf, r.ptr);
      break;
    }
    case Type::kFloat:
      if (std::isnan(it.f)) {
        out.append("\"NaN\"");
      } else if (std::isinf(it.f)) {
        out.append(it.f > 0 ? "\"Infinity\"" : "\"-Infinity\"");
      } else {
        const auto r = std::to_chars(buf, buf + sizeof buf, it.f);
        out.append(buf, r.ptr);
      }
      break;
    case Type::kStr:
      append_json_string(out, it.bytes, SIZE_MAX, stats);
      break;
    case Type::kBin:
      out.append("{\"$bin\":\"");
      append_hex_bytes(out, it.bytes);
      out.append("\"}");
      break;
    case Type::kExt: {
      std::int64_t ns = 0;
      if (it.ext_type == kEventTimeExt && event_time_nanos(it.bytes, ns)) {
        const auto r = std::to_chars(buf, buf + sizeof buf, ns / 1000000000);
        out.append("{\"$time\":");
        out.append(buf, r.ptr);
        char frac[16];
        std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(ns % 1000000000));
        out.append(frac);
        out.push_back('}');
      } else {
        const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int>(it.ext_type));
        out.append("{\"$ext\":");
        out.append(buf, r.ptr);
        out.append(",\"data\":\"");
        append_hex_bytes(out, it.bytes);
        out.append("\"}");
      }
      break;
    }
    case Type::kArray:
    case Type::kMap:
      break;
  }
}

}  // namespace

bool Item::as_int64(std::int64_t& out) const noexcept {
  if (type == Type::kInt) {
    out = i;
    return true;
  }
  if (type == Type::kUint && u <= static_cast<std::uint64_t>(INT64_MAX)) {
    out = static_cast<std::int64_t>(u);
    return true;
  }
  return false;
}

Status Reader::read(Item& out) noexcept {
  std::size_t used = 0;
  const Status s = decode(reinterpret_cast<const unsigned char*>(buf_.data()) + pos_,
                          buf_.size() - pos_, limits_, out, used);
  if (s == Status::kOk) pos_ += used;
  return s;
}

Status Reader::skip() noexcept {
  std::size_t used = 0;
  const Status s = walk(reinterpret_cast<const unsigned char*>(buf_.data()) + pos_,
                        buf_.size() - pos_, limits_, used);
  if (s == Status::kOk) pos_ += used;
  return s;
}

Status complete_value(std::string_view buf, std::size_t& size, const Limits& limits) noexcept {
  return walk(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), limits, size);
}

bool event_time_nanos(std::string_view b, std::int64_t& out) noexcept {
  if (b.size() != 8) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  const std::uint64_t sec = be(p, 4);
  const std::uint64_t ns = be(p + 4, 4);
  if (ns >= 1000000000u) return false;
  out = static_cast<std::int64_t>(sec) * 1000000000 + static_cast<std::int64_t>(ns);
  return true;
}

Status to_json(std::string_view value, std::string& out, const Limits& limits) {
  {
    std::size_t size = 0;
    const Status s = complete_value(value, size, limits);
    if (s != Status::kOk) return s;
    if (size != value.size()) return Status::kMalformed;
  }
  // The value is complete and within limits: walk it writing JSON.
  struct Frame {
    bool map;
    std::uint64_t left;  // elements (map: keys and values) still to write
    std::uint64_t done;
  };
  Frame stack[kMaxDepthCap + 1];
  std::size_t depth = 0;
  Reader r(value, limits);
  bool first_value = true;
  while (first_value || depth > 0) {
    bool is_key = false;
    if (depth > 0) {
      Frame& f = stack[depth - 1];
      if (f.left == 0) {
        out.push_back(f.map ? '}' : ']');
        --depth;
        continue;
      }
      if (f.done > 0) out.push_back(f.map && f.done % 2 == 1 ? ':' : ',');
      is_key = f.map && f.done % 2 == 0;
      --f.left;
      ++f.done;
    }
    first_value = false;
    Item it;
    if (r.read(it) != Status::kOk) return Status::kMalformed;
    if (it.type == Type::kArray || it.type == Type::kMap) {
      if (is_key) {
        // A container as a key has no JSON form: name it, skip its contents.
        out.append(it.type == Type::kMap ? "\"{map}\"" : "\"[array]\"");
        const std::uint64_t elems = it.type == Type::kMap ? 2ull * it.count : it.count;
        for (std::uint64_t k = 0; k < elems; ++k) {
          if (r.skip() != Status::kOk) return Status::kMalformed;
        }
        continue;
      }
      out.push_back(it.type == Type::kMap ? '{' : '[');
      stack[depth++] =
          Frame{it.type == Type::kMap, it.type == Type::kMap ? 2ull * it.count : it.count, 0};
      continue;
    }
    if (is_key && it.type != Type::kStr) {
      std::string text;
      append_scalar_json(text, it);
      LineStats stats;
      append_json_string(out, text, SIZE_MAX, stats);
    } else {
      append_scalar_json(out, it);
    }
  }
  return Status::kOk;
}

}  // namespace emp::telemetry::encode::msgpack
