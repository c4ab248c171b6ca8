// W3C Trace Context parsing/formatting and the header / job-payload carriers
// declared in emp/telemetry/propagation.hpp, plus the TraceState methods
// declared in emp/telemetry/trace_context.hpp (the tracestate grammar lives
// in one place).
#include "emp/telemetry/propagation.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/strings.hpp"
#include "emp/telemetry/trace_context.hpp"
#include "encode/json_validate.hpp"

namespace emp::telemetry {

// Appends parsed members in header order; the parser has already validated
// and de-duplicated them, so TraceState::set()'s move-to-front would only
// reverse the order.
struct TraceStateBuilder {
  static void append(TraceState& state, std::string_view key, std::string_view value) {
    state.members_.push_back(TraceState::Member{std::string(key), std::string(value)});
  }
};

namespace {

constexpr std::size_t kTraceparentSize = 55;
// Field offsets in "vv-<32>-<16>-ff".
constexpr std::size_t kTraceIdAt = 3;
constexpr std::size_t kParentIdAt = 36;
constexpr std::size_t kFlagsAt = 53;

using core::iequals;
using core::is_ows;
constexpr std::string_view trim_ows(std::string_view s) noexcept { return core::trim(s); }

bool is_lcalpha(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_keychar(char c) noexcept {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

// first-char predicate, then up to max_rest keychars.
template <typename First>
bool valid_key_part(std::string_view s, std::size_t max_size, First first) noexcept {
  if (s.empty() || s.size() > max_size || !first(s[0])) return false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (!is_keychar(s[i])) return false;
  }
  return true;
}

ParseResult fail(PropagationError error, std::size_t offset, char found = '\0') noexcept {
  ParseResult r;
  r.error = error;
  r.offset = offset;
  r.found = found;
  return r;
}

// Index of the first non-lowercase-hex character in s[from, from+count), or npos.
std::size_t first_non_hex(std::string_view s, std::size_t from, std::size_t count) noexcept {
  for (std::size_t i = from; i < from + count; ++i) {
    if (detail::lower_hex_value(s[i]) < 0) return i;
  }
  return std::string_view::npos;
}

std::string escape_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f && c != '\'' && c != '\\') return std::string("'") + c + "'";
  std::string s = "'\\x00'";
  s[3] = detail::kLowerHexDigits[u >> 4];
  s[4] = detail::kLowerHexDigits[u & 0x0f];
  return s;
}

std::string_view describe_error(PropagationError e) noexcept {
  switch (e) {
    case PropagationError::kNone:
      return "ok";
    case PropagationError::kMissing:
      return "no traceparent";
    case PropagationError::kDuplicate:
      return "more than one traceparent value";
    case PropagationError::kLength:
      return "wrong length (version 00 is exactly 55 characters)";
    case PropagationError::kVersion:
      return "version is not two lowercase hex digits";
    case PropagationError::kForbiddenVersion:
      return "version ff is forbidden";
    case PropagationError::kSeparator:
      return "expected '-'";
    case PropagationError::kTraceIdNotHex:
      return "trace-id is not 32 lowercase hex digits";
    case PropagationError::kTraceIdZero:
      return "trace-id is all zero";
    case PropagationError::kParentIdNotHex:
      return "parent-id is not 16 lowercase hex digits";
    case PropagationError::kParentIdZero:
      return "parent-id is all zero";
    case PropagationError::kFlagsNotHex:
      return "trace-flags is not two lowercase hex digits";
    case PropagationError::kTrailingData:
      return "unexpected data after trace-flags (version 00 has none; later versions need '-')";
    case PropagationError::kNotString:
      return "job payload member is not a string";
    case PropagationError::kPayloadNotJson:
      return "job payload is not valid JSON";
    case PropagationError::kPayloadNotObject:
      return "job payload is not a JSON object";
    case PropagationError::kInvalidContext:
      return "span context has a zero trace id or span id";
  }
  return "unknown";
}

// Errors whose offset points at a character worth showing.
bool error_has_char(PropagationError e) noexcept {
  switch (e) {
    case PropagationError::kVersion:
    case PropagationError::kSeparator:
    case PropagationError::kTraceIdNotHex:
    case PropagationError::kParentIdNotHex:
    case PropagationError::kFlagsNotHex:
    case PropagationError::kTrailingData:
      return true;
    default:
      return false;
  }
}

std::string describe_parse(PropagationError error, std::size_t offset, char at) {
  std::string s = "traceparent: ";
  s += describe_error(error);
  if (error_has_char(error)) {
    s += ": " + escape_char(at) + " at offset " + std::to_string(offset);
  } else if (error == PropagationError::kLength) {
    s += ": got " + std::to_string(offset);
  }
  return s;
}

// ---- minimal top-level JSON object scanner ----------------------------------
//
// The payload is validated with nlohmann::json::accept() first (an iterative
// parser, so deep nesting cannot exhaust the stack); the scanner then only has
// to find where each top-level member starts and ends, which lets injection
// copy every other member byte for byte instead of re-serialising it.

bool is_json_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

struct JsonMember {
  std::size_t begin = 0;       // first char of the key token
  std::size_t end = 0;         // one past the value token
  std::string_view key_token;  // with quotes
  std::string_view value_token;
};

struct JsonObjectScan {
  std::size_t open = 0;   // index of '{'
  std::size_t close = 0;  // index of the matching '}'
  std::vector<JsonMember> members;
};

std::size_t skip_ws(std::string_view t, std::size_t i) noexcept {
  while (i < t.size() && is_json_ws(t[i])) ++i;
  return i;
}

std::size_t skip_value(std::string_view t, std::size_t i) noexcept {
  if (i >= t.size()) return i;
  const char c = t[i];
  if (c == '"') return encode::json_string_end(t, i);
  if (c == '{' || c == '[') {
    std::size_t depth = 0;
    while (i < t.size()) {
      const char d = t[i];
      if (d == '"') {
        i = encode::json_string_end(t, i);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < t.size() && !is_json_ws(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') ++i;
  return i;
}

// Precondition: encode::json_valid(t) and the first non-ws char is '{'.
JsonObjectScan scan_object(std::string_view t) {
  JsonObjectScan s;
  s.members.reserve(8);
  std::size_t i = skip_ws(t, 0);
  s.open = i;
  i = skip_ws(t, i + 1);
  while (i < t.size() && t[i] != '}') {
    JsonMember m;
    m.begin = i;
    const std::size_t key_end = encode::json_string_end(t, i);
    m.key_token = t.substr(i, key_end - i);
    i = skip_ws(t, key_end);
    i = skip_ws(t, i + 1);  // past ':'
    const std::size_t value_end = skip_value(t, i);
    m.value_token = t.substr(i, value_end - i);
    m.end = value_end;
    s.members.push_back(m);
    i = skip_ws(t, value_end);
    if (i < t.size() && t[i] == ',') i = skip_ws(t, i + 1);
  }
  s.close = std::min(i, t.size());
  return s;
}

// Decodes a JSON string token (with quotes); nullopt if it is not a string.
std::optional<std::string> decode_string_token(std::string_view token) {
  if (token.size() < 2 || token.front() != '"') return std::nullopt;
  if (token.find('\\') == std::string_view::npos) {
    return std::string(token.substr(1, token.size() - 2));
  }
  try {
    auto j = nlohmann::json::parse(token);
    if (!j.is_string()) return std::nullopt;
    return j.get<std::string>();
  } catch (...) {
    return std::nullopt;
  }
}

enum class PayloadKey { kOther, kTraceparent, kTracestate };

PayloadKey classify_key(std::string_view key_token) {
  // Fast path: the plain spellings; escaped spellings go through the decoder.
  if (key_token == "\"traceparent\"") return PayloadKey::kTraceparent;
  if (key_token == "\"tracestate\"") return PayloadKey::kTracestate;
  if (key_token.find('\\') == std::string_view::npos) return PayloadKey::kOther;
  const auto key = decode_string_token(key_token);
  if (key && *key == kTraceparentHeader) return PayloadKey::kTraceparent;
  if (key && *key == kTracestateHeader) return PayloadKey::kTracestate;
  return PayloadKey::kOther;
}

// Validates the payload; on failure returns the reason.
PropagationError check_object(std::string_view payload) {
  const std::size_t first = skip_ws(payload, 0);
  if (first == payload.size()) return PropagationError::kPayloadNotJson;
  if (!encode::json_valid(payload)) return PropagationError::kPayloadNotJson;
  if (payload[first] != '{') return PropagationError::kPayloadNotObject;
  return PropagationError::kNone;
}

void append_json_string(std::string& out, std::string_view s) {
  // Both headers are printable ASCII by construction; only '"' and '\\'
  // need escaping.
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// Shared tail of every extract: parse the traceparent text, then add the
// tracestate (which can only drop members, never reject the context).
ExtractResult finish_extract(std::string_view traceparent,
                             const std::optional<std::string>& tracestate) {
  ExtractResult out;
  ParseResult p = parse_traceparent(traceparent);
  out.error = p.error;
  out.offset = p.offset;
  out.found = p.found;
  if (!p.context) return out;
  out.context = std::move(p.context);
  if (tracestate) {
    TracestateParseResult ts = parse_tracestate(*tracestate);
    out.context->trace_state = std::move(ts.state);
    out.tracestate_dropped = ts.dropped();
  }
  return out;
}

ExtractResult extract_error(PropagationError e) {
  ExtractResult r;
  r.error = e;
  return r;
}

}  // namespace

// ---- TraceState --------------------------------------------------------------

bool TraceState::is_valid_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > kMaxKeySize) return false;
  const std::size_t at = key.find('@');
  const auto lc_or_digit = [](char c) { return is_lcalpha(c) || is_digit(c); };
  if (at == std::string_view::npos) return valid_key_part(key, kMaxKeySize, lc_or_digit);
  return valid_key_part(key.substr(0, at), 241, lc_or_digit) &&
         valid_key_part(key.substr(at + 1), 14, is_lcalpha);
}

bool TraceState::is_valid_value(std::string_view value) noexcept {
  if (value.empty() || value.size() > kMaxValueSize || value.back() == ' ') return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  }
  return true;
}

std::optional<std::string_view> TraceState::get(std::string_view key) const noexcept {
  for (const Member& m : members_) {
    if (m.key == key) return std::string_view(m.value);
  }
  return std::nullopt;
}

bool TraceState::set(std::string_view key, std::string_view value) noexcept {
  if (!is_valid_key(key) || !is_valid_value(value)) return false;
  try {
    Member m{std::string(key), std::string(value)};
    auto it = std::find_if(members_.begin(), members_.end(),
                           [&](const Member& x) { return x.key == key; });
    if (it != members_.end()) {
      // Rotate the updated member to the front, keeping the others' order.
      it->value = std::move(m.value);
      std::rotate(members_.begin(), it, it + 1);
      return true;
    }
    if (members_.size() >= kMaxMembers) members_.pop_back();
    members_.insert(members_.begin(), std::move(m));
    return true;
  } catch (...) {
    return false;
  }
}

bool TraceState::erase(std::string_view key) noexcept {
  auto it =
      std::find_if(members_.begin(), members_.end(), [&](const Member& x) { return x.key == key; });
  if (it == members_.end()) return false;
  members_.erase(it);
  return true;
}

std::string TraceState::to_header() const {
  std::string out;
  for (const Member& m : members_) {
    if (!out.empty()) out += ',';
    out += m.key;
    out += '=';
    out += m.value;
  }
  return out;
}

// ---- traceparent ---------------------------------------------------------------

std::string_view to_string(PropagationError error) noexcept {
  switch (error) {
    case PropagationError::kNone:
      return "none";
    case PropagationError::kMissing:
      return "missing";
    case PropagationError::kDuplicate:
      return "duplicate";
    case PropagationError::kLength:
      return "length";
    case PropagationError::kVersion:
      return "version";
    case PropagationError::kForbiddenVersion:
      return "forbidden_version";
    case PropagationError::kSeparator:
      return "separator";
    case PropagationError::kTraceIdNotHex:
      return "trace_id_not_hex";
    case PropagationError::kTraceIdZero:
      return "trace_id_zero";
    case PropagationError::kParentIdNotHex:
      return "parent_id_not_hex";
    case PropagationError::kParentIdZero:
      return "parent_id_zero";
    case PropagationError::kFlagsNotHex:
      return "flags_not_hex";
    case PropagationError::kTrailingData:
      return "trailing_data";
    case PropagationError::kNotString:
      return "not_string";
    case PropagationError::kPayloadNotJson:
      return "payload_not_json";
    case PropagationError::kPayloadNotObject:
      return "payload_not_object";
    case PropagationError::kInvalidContext:
      return "invalid_context";
  }
  return "unknown";
}

ParseResult parse_traceparent(std::string_view value) noexcept {
  const std::string_view v = trim_ows(value);
  if (v.size() < kTraceparentSize) return fail(PropagationError::kLength, v.size());

  if (std::size_t bad = first_non_hex(v, 0, 2); bad != std::string_view::npos) {
    return fail(PropagationError::kVersion, bad, v[bad]);
  }
  const int version = (detail::lower_hex_value(v[0]) << 4) | detail::lower_hex_value(v[1]);
  if (version == 0xff) return fail(PropagationError::kForbiddenVersion, 0);
  if (v[2] != '-') return fail(PropagationError::kSeparator, 2, v[2]);
  if (std::size_t bad = first_non_hex(v, kTraceIdAt, 32); bad != std::string_view::npos) {
    return fail(PropagationError::kTraceIdNotHex, bad, v[bad]);
  }
  if (v[kParentIdAt - 1] != '-')
    return fail(PropagationError::kSeparator, kParentIdAt - 1, v[kParentIdAt - 1]);
  if (std::size_t bad = first_non_hex(v, kParentIdAt, 16); bad != std::string_view::npos) {
    return fail(PropagationError::kParentIdNotHex, bad, v[bad]);
  }
  if (v[kFlagsAt - 1] != '-')
    return fail(PropagationError::kSeparator, kFlagsAt - 1, v[kFlagsAt - 1]);
  if (std::size_t bad = first_non_hex(v, kFlagsAt, 2); bad != std::string_view::npos) {
    return fail(PropagationError::kFlagsNotHex, bad, v[bad]);
  }
  if (v.size() > kTraceparentSize && (version == 0 || v[kTraceparentSize] != '-')) {
    return fail(PropagationError::kTrailingData, kTraceparentSize, v[kTraceparentSize]);
  }

  SpanContext ctx;
  // Hex validity was checked above, so these cannot fail.
  ctx.trace_id = TraceId::from_hex(v.substr(kTraceIdAt, 32)).value_or(TraceId{});
  ctx.span_id = SpanId::from_hex(v.substr(kParentIdAt, 16)).value_or(SpanId{});
  if (!ctx.trace_id.is_valid()) return fail(PropagationError::kTraceIdZero, kTraceIdAt);
  if (!ctx.span_id.is_valid()) return fail(PropagationError::kParentIdZero, kParentIdAt);
  const int flags =
      (detail::lower_hex_value(v[kFlagsAt]) << 4) | detail::lower_hex_value(v[kFlagsAt + 1]);
  // Unknown bits are not ours to forward (W3C: send them as 0).
  ctx.flags = TraceFlags(static_cast<std::uint8_t>(flags & TraceFlags::kKnownBits));
  ctx.remote = true;

  ParseResult r;
  r.context = std::move(ctx);
  return r;
}

std::string ParseResult::describe() const {
  if (ok()) return "traceparent: ok";
  return describe_parse(error, offset, found);
}

std::string ExtractResult::describe() const {
  if (ok()) return "traceparent: ok";
  return describe_parse(error, offset, found);
}

std::string format_traceparent(const SpanContext& context) {
  if (!context.is_valid()) return {};
  std::string out(kTraceparentSize, '-');
  out[0] = '0';
  out[1] = '0';
  context.trace_id.to_hex(out.data() + kTraceIdAt);
  context.span_id.to_hex(out.data() + kParentIdAt);
  const std::uint8_t flags = context.flags.value() & TraceFlags::kKnownBits;
  out[kFlagsAt] = detail::kLowerHexDigits[flags >> 4];
  out[kFlagsAt + 1] = detail::kLowerHexDigits[flags & 0x0f];
  return out;
}

// ---- tracestate ----------------------------------------------------------------

TracestateParseResult parse_tracestate(std::string_view value) noexcept {
  TracestateParseResult r;
  try {
    std::size_t pos = 0;
    while (pos <= value.size()) {
      std::size_t comma = value.find(',', pos);
      if (comma == std::string_view::npos) comma = value.size();
      const std::string_view member = trim_ows(value.substr(pos, comma - pos));
      pos = comma + 1;
      if (member.empty()) continue;
      const std::size_t eq = member.find('=');
      if (eq == std::string_view::npos) {
        ++r.dropped_invalid;
        continue;
      }
      const std::string_view key = member.substr(0, eq);
      const std::string_view val = member.substr(eq + 1);
      if (!TraceState::is_valid_key(key) || !TraceState::is_valid_value(val)) {
        ++r.dropped_invalid;
        continue;
      }
      if (r.state.get(key)) {
        ++r.dropped_duplicate;
        continue;
      }
      if (r.state.size() >= TraceState::kMaxMembers) {
        ++r.dropped_over_limit;
        continue;
      }
      TraceStateBuilder::append(r.state, key, val);
    }
  } catch (...) {
    // Out of memory: keep what was parsed; the members are each valid.
  }
  return r;
}

// ---- HTTP headers --------------------------------------------------------------

bool inject_headers(const SpanContext& context,
                    std::map<std::string, std::string>& headers) noexcept {
  if (!context.is_valid()) return false;
  try {
    std::string traceparent = format_traceparent(context);
    std::string tracestate = context.trace_state.to_header();
    for (auto it = headers.begin(); it != headers.end();) {
      if (iequals(it->first, kTraceparentHeader) || iequals(it->first, kTracestateHeader)) {
        it = headers.erase(it);
      } else {
        ++it;
      }
    }
    headers[std::string(kTraceparentHeader)] = std::move(traceparent);
    if (!tracestate.empty()) headers[std::string(kTracestateHeader)] = std::move(tracestate);
    return true;
  } catch (...) {
    return false;
  }
}

bool inject_headers(const SpanContext& context, const HeaderSetter& set) noexcept {
  if (!context.is_valid() || !set) return false;
  try {
    set(kTraceparentHeader, format_traceparent(context));
    if (!context.trace_state.empty()) set(kTracestateHeader, context.trace_state.to_header());
    return true;
  } catch (...) {
    return false;
  }
}

ExtractResult extract_headers(const std::map<std::string, std::string>& headers) noexcept {
  try {
    const std::string* traceparent = nullptr;
    std::size_t traceparents = 0;
    std::optional<std::string> tracestate;
    for (const auto& [name, value] : headers) {
      if (iequals(name, kTraceparentHeader)) {
        ++traceparents;
        traceparent = &value;
      } else if (iequals(name, kTracestateHeader)) {
        if (tracestate) {
          *tracestate += ',';
          *tracestate += value;
        } else {
          tracestate = value;
        }
      }
    }
    if (traceparents == 0) return extract_error(PropagationError::kMissing);
    if (traceparents > 1) return extract_error(PropagationError::kDuplicate);
    return finish_extract(*traceparent, tracestate);
  } catch (...) {
    return extract_error(PropagationError::kMissing);
  }
}

ExtractResult extract_headers(const HeaderGetter& get) noexcept {
  if (!get) return extract_error(PropagationError::kMissing);
  try {
    const std::optional<std::string> traceparent = get(kTraceparentHeader);
    if (!traceparent) return extract_error(PropagationError::kMissing);
    return finish_extract(*traceparent, get(kTracestateHeader));
  } catch (...) {
    // A getter that throws is treated as having nothing to offer.
    return extract_error(PropagationError::kMissing);
  }
}

// ---- job payloads --------------------------------------------------------------

std::string inject_into_job_payload(std::string_view payload_json, const SpanContext& context,
                                    PropagationError* error) noexcept {
  auto report = [&](PropagationError e) {
    if (error) *error = e;
  };
  try {
    if (!context.is_valid()) {
      report(PropagationError::kInvalidContext);
      return std::string(payload_json);
    }
    if (PropagationError e = check_object(payload_json); e != PropagationError::kNone) {
      report(e);
      return std::string(payload_json);
    }
    const JsonObjectScan scan = scan_object(payload_json);

    std::string added = "\"traceparent\":";
    append_json_string(added, format_traceparent(context));
    if (!context.trace_state.empty()) {
      added += ",\"tracestate\":";
      append_json_string(added, context.trace_state.to_header());
    }

    bool any_replaced = false;
    for (const JsonMember& m : scan.members) {
      if (classify_key(m.key_token) != PayloadKey::kOther) any_replaced = true;
    }

    std::string out;
    out.reserve(payload_json.size() + added.size() + 2);
    if (!any_replaced) {
      // Insert after the last member so the original layout survives.
      const std::size_t at = scan.members.empty() ? scan.open + 1 : scan.members.back().end;
      out.append(payload_json.substr(0, at));
      if (!scan.members.empty()) out += ',';
      out += added;
      out.append(payload_json.substr(at));
    } else {
      // Rebuild the member list without the old keys; each kept member is
      // copied verbatim (only the whitespace between members is normalised).
      out.append(payload_json.substr(0, scan.open + 1));
      for (const JsonMember& m : scan.members) {
        if (classify_key(m.key_token) != PayloadKey::kOther) continue;
        out.append(payload_json.substr(m.begin, m.end - m.begin));
        out += ',';
      }
      out += added;
      out.append(payload_json.substr(scan.close));
    }
    report(PropagationError::kNone);
    return out;
  } catch (...) {
    report(PropagationError::kPayloadNotJson);
    return std::string(payload_json);
  }
}

ExtractResult extract_from_job_payload(std::string_view payload_json) noexcept {
  try {
    if (PropagationError e = check_object(payload_json); e != PropagationError::kNone) {
      return extract_error(e);
    }
    const JsonObjectScan scan = scan_object(payload_json);
    std::optional<std::string> traceparent;
    std::size_t traceparents = 0;
    bool traceparent_not_string = false;
    std::optional<std::string> tracestate;
    std::size_t bad_tracestates = 0;
    for (const JsonMember& m : scan.members) {
      switch (classify_key(m.key_token)) {
        case PayloadKey::kTraceparent:
          ++traceparents;
          traceparent = decode_string_token(m.value_token);
          traceparent_not_string = !traceparent;
          break;
        case PayloadKey::kTracestate: {
          std::optional<std::string> s = decode_string_token(m.value_token);
          if (!s) {
            ++bad_tracestates;
          } else if (tracestate) {
            *tracestate += ',';
            *tracestate += *s;
          } else {
            tracestate = std::move(s);
          }
          break;
        }
        case PayloadKey::kOther:
          break;
      }
    }
    if (traceparents == 0) return extract_error(PropagationError::kMissing);
    if (traceparents > 1) return extract_error(PropagationError::kDuplicate);
    if (traceparent_not_string) return extract_error(PropagationError::kNotString);
    ExtractResult r = finish_extract(*traceparent, tracestate);
    if (r.ok()) r.tracestate_dropped += bad_tracestates;
    return r;
  } catch (...) {
    return extract_error(PropagationError::kPayloadNotJson);
  }
}

}  // namespace emp::telemetry
