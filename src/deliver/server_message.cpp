// Error-message readers for OTLP/HTTP responses; see server_message.hpp.
#include "deliver/server_message.hpp"

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

}  // namespace

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
