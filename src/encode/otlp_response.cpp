// Readers of OTLP export responses. The protobuf ones walk the body with the
// bounds-checked wire::Reader (the one protobuf reader here); the JSON
// partial-success one uses nlohmann's SAX interface so that no document tree
// is built and nesting is capped before it can cost memory.
#include "encode/otlp_response.hpp"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "encode/proto_wire.hpp"

namespace emp::telemetry::encode::otlp {
namespace {

using wire::WireType;

// The peer's message, made printable as UTF-8 and cut at a code point
// boundary so it can go into diagnostics as is.
std::string take_message(std::string_view raw) {
  std::string out;
  out.resize(wire::utf8_sanitized_size(raw));
  bool replaced = false;
  wire::put_utf8_sanitized(reinterpret_cast<std::uint8_t*>(out.data()), raw, &replaced);
  if (out.size() > kMaxResponseMessageBytes) {
    std::size_t cut = kMaxResponseMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

PartialSuccess fail(std::string error) {
  PartialSuccess r;
  r.ok = false;
  r.error = std::move(error);
  return r;
}

std::string at(std::string_view what, std::size_t offset) {
  return std::string(what) + " at byte " + std::to_string(offset);
}

// Parses one ExportPartialSuccess message body into `r`.
bool parse_partial_message(std::string_view body, std::size_t base, PartialSuccess& r,
                           std::string& error) {
  wire::Reader rd(body);
  const char* const start = body.data();
  while (!rd.done()) {
    const std::size_t field_at = base + rd.offset_from(start);
    std::uint32_t field;
    WireType type;
    if (!rd.read_tag(&field, &type)) {
      error = at("partial_success: malformed or truncated field tag", field_at);
      return false;
    }
    if (field == 1) {
      if (type != WireType::kVarint) {
        error = at("partial_success.rejected (field 1): wire type " +
                       std::to_string(static_cast<unsigned>(type)) + ", want 0 (varint)",
                   field_at);
        return false;
      }
      std::uint64_t v;
      if (!rd.read_varint(&v)) {
        error = at("partial_success.rejected (field 1): truncated or over-long varint", field_at);
        return false;
      }
      r.rejected = static_cast<std::int64_t>(v);
    } else if (field == 2) {
      if (type != WireType::kLen) {
        error = at("partial_success.error_message (field 2): wire type " +
                       std::to_string(static_cast<unsigned>(type)) + ", want 2 (length-delimited)",
                   field_at);
        return false;
      }
      std::string_view s;
      if (!rd.read_len(&s)) {
        error = at("partial_success.error_message (field 2): length past the end", field_at);
        return false;
      }
      r.message = take_message(s);
    } else if (!rd.skip(type)) {
      error = at("partial_success: cannot skip field " + std::to_string(field) + " of wire type " +
                     std::to_string(static_cast<unsigned>(type)),
                 field_at);
      return false;
    }
  }
  return true;
}

PartialSuccess check_rejected(PartialSuccess r) {
  if (r.rejected < 0) {
    return fail("partial_success.rejected is negative (" + std::to_string(r.rejected) + ")");
  }
  r.ok = true;
  return r;
}

// --------------------------------------------------------------------------
// JSON

enum class Key { kOther, kPartialSuccess, kRejected, kMessage };

Key classify_top(const std::string& k) {
  if (k == "partialSuccess" || k == "partial_success") return Key::kPartialSuccess;
  return Key::kOther;
}

Key classify_inner(const std::string& k) {
  if (k == "rejectedSpans" || k == "rejected_spans" || k == "rejectedLogRecords" ||
      k == "rejected_log_records" || k == "rejectedDataPoints" || k == "rejected_data_points") {
    return Key::kRejected;
  }
  if (k == "errorMessage" || k == "error_message") return Key::kMessage;
  return Key::kOther;
}

using Json = nlohmann::json;

// SAX handler that extracts the partial success and nothing else.
class PartialSuccessSax {
 public:
  PartialSuccess result;
  std::string error;
  bool saw_root = false;

  bool null() { return scalar_value(Kind::kNull, 0, {}); }
  bool boolean(bool) { return scalar_value(Kind::kOther, 0, {}); }
  bool number_integer(Json::number_integer_t v) { return number(static_cast<double>(v), v, true); }
  bool number_unsigned(Json::number_unsigned_t v) {
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      if (in_rejected_slot()) return set_error("partialSuccess rejected count out of range");
      return scalar_value(Kind::kOther, 0, {});
    }
    return number(static_cast<double>(v), static_cast<std::int64_t>(v), true);
  }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return number(v, 0, false); }
  bool string(Json::string_t& s) { return scalar_value(Kind::kString, 0, s); }
  bool binary(Json::binary_t&) { return scalar_value(Kind::kOther, 0, {}); }

  bool start_object(std::size_t) { return open(true); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(false); }
  bool end_array() { return close(); }

  bool key(Json::string_t& k) {
    if (depth_ == 1) top_key_ = classify_top(k);
    if (depth_ == 2 && in_ps_) inner_key_ = classify_inner(k);
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    if (error.empty()) error = "invalid JSON at byte " + std::to_string(position);
    return false;
  }

 private:
  enum class Kind { kNull, kString, kNumber, kOther };

  bool set_error(std::string e) {
    if (error.empty()) error = std::move(e);
    return false;
  }

  bool in_rejected_slot() const { return depth_ == 2 && in_ps_ && inner_key_ == Key::kRejected; }

  bool open(bool object) {
    if (depth_ == 0) {
      if (!object) return set_error("response body is a JSON array, want an object");
      saw_root = true;
    } else if (depth_ == 1 && top_key_ == Key::kPartialSuccess) {
      if (!object) return set_error("partialSuccess is an array, want an object");
      in_ps_ = true;
    } else if (depth_ == 2 && in_ps_ && inner_key_ != Key::kOther) {
      return set_error(std::string(inner_key_ == Key::kRejected ? "partialSuccess rejected count"
                                                                : "partialSuccess.errorMessage") +
                       " is an object or array");
    }
    if (++depth_ > kMaxJsonDepth) {
      return set_error("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    return true;
  }

  bool close() {
    if (depth_ == 2 && in_ps_) {
      in_ps_ = false;
      inner_key_ = Key::kOther;
    }
    if (depth_ == 1) top_key_ = Key::kOther;
    --depth_;
    return true;
  }

  bool number(double d, std::int64_t i, bool is_integer) {
    if (!in_rejected_slot()) return scalar_value(Kind::kNumber, 0, {});
    if (!is_integer) {
      // The protobuf JSON mapping accepts integral floats such as 5.0 or 5e1.
      if (!std::isfinite(d) || std::floor(d) != d || d < 0 || d > 9.2e18) {
        return set_error("partialSuccess rejected count is not an integer in range");
      }
      i = static_cast<std::int64_t>(d);
    }
    result.rejected = i;
    return true;
  }

  bool scalar_value(Kind kind, std::int64_t, const std::string& s) {
    if (depth_ == 0) return set_error("response body is a JSON scalar, want an object");
    if (depth_ == 1 && top_key_ == Key::kPartialSuccess && kind != Kind::kNull) {
      return set_error("partialSuccess is not an object");
    }
    if (depth_ == 2 && in_ps_) {
      if (inner_key_ == Key::kRejected) {
        if (kind == Kind::kNull) return true;
        if (kind != Kind::kString)
          return set_error("partialSuccess rejected count is not a number");
        return parse_int_string(s);
      }
      if (inner_key_ == Key::kMessage) {
        if (kind == Kind::kNull) return true;
        if (kind != Kind::kString) return set_error("partialSuccess.errorMessage is not a string");
        result.message = take_message(s);
      }
    }
    return true;
  }

  // int64 in its protobuf JSON string form: optional '-', decimal digits.
  bool parse_int_string(const std::string& s) {
    std::size_t i = 0;
    bool neg = false;
    if (i < s.size() && s[i] == '-') {
      neg = true;
      ++i;
    }
    if (i == s.size()) return set_error("partialSuccess rejected count \"\" is not an integer");
    std::uint64_t v = 0;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') {
        return set_error("partialSuccess rejected count is not a decimal integer string");
      }
      if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) {
        return set_error("partialSuccess rejected count out of range");
      }
      v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
    }
    const std::uint64_t max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (v > max + (neg ? 1 : 0)) return set_error("partialSuccess rejected count out of range");
    result.rejected = neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
    return true;
  }

  int depth_ = 0;
  bool in_ps_ = false;
  Key top_key_ = Key::kOther;
  Key inner_key_ = Key::kOther;
};

}  // namespace

PartialSuccess parse_partial_success_proto(std::string_view body) noexcept {
  try {
    PartialSuccess r;
    wire::Reader rd(body);
    const char* const start = body.data();
    while (!rd.done()) {
      const std::size_t field_at = rd.offset_from(start);
      std::uint32_t field;
      WireType type;
      if (!rd.read_tag(&field, &type))
        return fail(at("malformed or truncated field tag", field_at));
      if (field == 1) {
        if (type != WireType::kLen) {
          return fail(at("partial_success (field 1): wire type " +
                             std::to_string(static_cast<unsigned>(type)) +
                             ", want 2 (length-delimited)",
                         field_at));
        }
        std::string_view sub;
        if (!rd.read_len(&sub)) {
          return fail(at("partial_success (field 1): length past the end of the body", field_at));
        }
        std::string error;
        const std::size_t base = static_cast<std::size_t>(sub.data() - start);
        if (!parse_partial_message(sub, base, r, error)) return fail(std::move(error));
      } else if (!rd.skip(type)) {
        return fail(at("cannot skip field " + std::to_string(field) + " of wire type " +
                           std::to_string(static_cast<unsigned>(type)),
                       field_at));
      }
    }
    return check_rejected(std::move(r));
  } catch (...) {
    return fail("out of memory while parsing the response");
  }
}

PartialSuccess parse_partial_success_json(std::string_view body) noexcept {
  try {
    PartialSuccessSax sax;
    const bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
    if (blank) return check_rejected(PartialSuccess{});
    const bool parsed = Json::sax_parse(body.begin(), body.end(), &sax, Json::input_format_t::json,
                                        /*strict=*/true);
    if (!parsed || !sax.error.empty()) {
      return fail(sax.error.empty() ? std::string("invalid JSON") : sax.error);
    }
    if (!sax.saw_root) return fail("response body is not a JSON object");
    return check_rejected(std::move(sax.result));
  } catch (const std::exception& e) {
    return fail(std::string("invalid JSON: ") + e.what());
  } catch (...) {
    return fail("invalid JSON");
  }
}

std::optional<std::string> parse_status_message_proto(std::string_view body) noexcept {
  try {
    std::optional<std::string> message;
    wire::Reader rd(body);
    while (!rd.done()) {
      std::uint32_t field;
      WireType type;
      if (!rd.read_tag(&field, &type)) return std::nullopt;
      if (field == 2 && type == WireType::kLen) {
        std::string_view s;
        if (!rd.read_len(&s)) return std::nullopt;
        message = std::string(s);  // the last occurrence wins
      } else if (!rd.skip(type)) {
        return std::nullopt;
      }
    }
    if (!message || message->empty()) return std::nullopt;
    return message;
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<std::string> parse_status_message_json(std::string_view body) noexcept {
  try {
    const auto doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
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

}  // namespace emp::telemetry::encode::otlp
