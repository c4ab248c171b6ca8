// OTLP response body readers; see partial_success.hpp.
#include "deliver/partial_success.hpp"

#include <nlohmann/json.hpp>

namespace emp::telemetry::deliver {
namespace {

// Bounds-checked protobuf cursor, enough to walk two message levels.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }

  bool varint(std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const auto byte = static_cast<unsigned char>(data_[pos_++]);
      out |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  bool bytes(std::string_view& out) {
    std::uint64_t n = 0;
    if (!varint(n) || n > data_.size() - pos_) return false;
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }

  // Skips a field of `wire_type` whose tag was already read.
  bool skip(std::uint32_t wire_type) {
    std::uint64_t ignored = 0;
    std::string_view ignored_bytes;
    switch (wire_type) {
      case 0:
        return varint(ignored);
      case 1:
        return advance(8);
      case 2:
        return bytes(ignored_bytes);
      case 5:
        return advance(4);
      default:
        return false;  // groups are not used by OTLP
    }
  }

 private:
  bool advance(std::size_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view data_;
  std::size_t pos_ = 0;
};

// Calls visit(field, wire_type, cursor) for each field; false on malformed input.
template <typename Visit>
bool for_each_field(std::string_view message, Visit visit) {
  Cursor c(message);
  while (!c.done()) {
    std::uint64_t tag = 0;
    if (!c.varint(tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return false;
    if (!visit(static_cast<std::uint32_t>(tag >> 3), static_cast<std::uint32_t>(tag & 7), c)) {
      return false;
    }
  }
  return true;
}

const nlohmann::json* find_key(const nlohmann::json& object, std::string_view camel,
                               std::string_view snake) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(camel);
  if (it == object.end()) it = object.find(snake);
  return it == object.end() ? nullptr : &*it;
}

// An int64 in OTLP/JSON: a decimal string or a number.
std::optional<std::int64_t> json_int64(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    return u > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(u);
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    const bool negative = !s.empty() && s[0] == '-';
    const std::size_t first = negative ? 1 : 0;
    if (s.size() == first || s.size() - first > 19) return std::nullopt;
    std::uint64_t n = 0;  // 19 digits always fit in 64 unsigned bits
    for (std::size_t i = first; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
    }
    if (n > static_cast<std::uint64_t>(INT64_MAX)) n = static_cast<std::uint64_t>(INT64_MAX);
    return negative ? -static_cast<std::int64_t>(n) : static_cast<std::int64_t>(n);
  }
  return std::nullopt;
}

}  // namespace

std::optional<PartialSuccess> parse_partial_success_proto(std::string_view body) noexcept {
  try {
    PartialSuccess out;
    const bool ok = for_each_field(body, [&](std::uint32_t field, std::uint32_t type, Cursor& c) {
      if (field != 1 || type != 2) return c.skip(type);
      std::string_view inner;
      if (!c.bytes(inner)) return false;
      // Embedded messages repeated on the wire merge: later scalars win.
      return for_each_field(inner, [&](std::uint32_t f, std::uint32_t t, Cursor& ic) {
        if (f == 1 && t == 0) {
          std::uint64_t v = 0;
          if (!ic.varint(v)) return false;
          out.rejected = static_cast<std::int64_t>(v) < 0 ? 0 : v;
          return true;
        }
        if (f == 2 && t == 2) {
          std::string_view s;
          if (!ic.bytes(s)) return false;
          out.error_message.assign(s);
          return true;
        }
        return ic.skip(t);
      });
    });
    if (!ok) return std::nullopt;
    return out;
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<PartialSuccess> parse_partial_success_json(std::string_view body) noexcept {
  try {
    PartialSuccess out;
    bool blank = true;
    for (char c : body) blank = blank && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if (blank) return out;
    const auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
    const auto* ps = find_key(doc, "partialSuccess", "partial_success");
    if (ps == nullptr || ps->is_null()) return out;
    if (!ps->is_object()) return std::nullopt;
    static constexpr std::pair<std::string_view, std::string_view> kRejected[] = {
        {"rejectedSpans", "rejected_spans"},
        {"rejectedDataPoints", "rejected_data_points"},
        {"rejectedLogRecords", "rejected_log_records"}};
    for (const auto& [camel, snake] : kRejected) {
      if (const auto* v = find_key(*ps, camel, snake)) {
        const auto n = json_int64(*v);
        if (!n) return std::nullopt;
        out.rejected = *n < 0 ? 0 : static_cast<std::uint64_t>(*n);
      }
    }
    if (const auto* m = find_key(*ps, "errorMessage", "error_message"); m && m->is_string()) {
      out.error_message = m->get<std::string>();
    }
    return out;
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<std::string> parse_status_message_proto(std::string_view body) noexcept {
  try {
    std::optional<std::string> message;
    const bool ok = for_each_field(body, [&](std::uint32_t field, std::uint32_t type, Cursor& c) {
      if (field != 2 || type != 2) return c.skip(type);
      std::string_view s;
      if (!c.bytes(s)) return false;
      message = std::string(s);
      return true;
    });
    if (!ok || !message || message->empty()) return std::nullopt;
    return message;
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<std::string> parse_status_message_json(std::string_view body) noexcept {
  try {
    const auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
    const auto it = doc.find("message");
    if (it == doc.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return std::nullopt;
    }
    return it->get<std::string>();
  } catch (...) {
    return std::nullopt;
  }
}

std::string printable_excerpt(std::string_view text, std::size_t limit) {
  std::string out;
  out.reserve(std::min(text.size(), limit) + 3);
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (text.size() > limit) out += "...";
  return out;
}

}  // namespace emp::telemetry::deliver
