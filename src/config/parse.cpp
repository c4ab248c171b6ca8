// Configuration value parsers; see parse.hpp for the accepted syntax.
#include "config/parse.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "config/redact.hpp"

namespace emp::telemetry::config {
namespace {

using core::has_control;
using core::iequals;
using core::is_control;
using core::is_token_char;
constexpr bool is_space(char c) noexcept { return core::is_ows(c); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }
bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

ParseError fail(std::string rule, std::string_view value) {
  return make_error(std::move(rule), quote(value));
}

// Reads leading decimal digits into `out`. Returns the count read, or
// npos on overflow.
std::size_t read_digits(std::string_view s, std::uint64_t& out) noexcept {
  std::size_t i = 0;
  out = 0;
  while (i < s.size() && is_digit(s[i])) {
    const std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
    if (out > (UINT64_MAX - d) / 10) return std::string_view::npos;
    out = out * 10 + d;
    ++i;
  }
  return i;
}

std::string join_choices(const std::vector<std::string_view>& choices) {
  std::string out;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
    out += choices[i];
  }
  return out;
}

// Validates a host (reg-name or IP literal, brackets already removed for
// IPv6). Returns an empty string when fine, else the rule broken.
std::string check_host(std::string_view host, bool bracketed) {
  if (host.empty()) return "host must not be empty";
  if (host.size() > 253) return "host must be at most 253 characters";
  if (bracketed) {
    bool has_colon = false;
    for (char c : host) {
      if (c == ':') has_colon = true;
      if (!(is_hex(c) || c == ':' || c == '.'))
        return "IPv6 address may contain only hex digits, ':' and '.'";
    }
    if (!has_colon) return "bracketed host must be an IPv6 address";
    return {};
  }
  for (char c : host) {
    if (!(is_alnum(c) || c == '-' || c == '.' || c == '_')) {
      return "host may contain only letters, digits, '-', '.' and '_'";
    }
  }
  if (host.front() == '.' || host.front() == '-') return "host must start with a letter or digit";
  return {};
}

struct Authority {
  std::string host;
  bool bracketed = false;
  std::optional<std::uint16_t> port;
};

// Parses host[:port] or [v6]:port. On failure returns the rule.
std::variant<Authority, std::string> parse_authority(std::string_view a) {
  Authority out;
  std::string_view rest;
  if (!a.empty() && a.front() == '[') {
    const std::size_t close = a.find(']');
    if (close == std::string_view::npos) return std::string("IPv6 address is missing ']'");
    out.host = std::string(a.substr(1, close - 1));
    out.bracketed = true;
    rest = a.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return std::string("only ':port' may follow an IPv6 address");
    }
  } else {
    const std::size_t colon = a.find(':');
    if (colon != std::string_view::npos && a.find(':', colon + 1) != std::string_view::npos) {
      return std::string("IPv6 addresses must be written in brackets, e.g. [::1]");
    }
    out.host = std::string(a.substr(0, colon));
    if (colon != std::string_view::npos) rest = a.substr(colon);
  }
  if (std::string rule = check_host(out.host, out.bracketed); !rule.empty()) return rule;
  if (!rest.empty()) {
    rest.remove_prefix(1);  // ':'
    std::uint64_t port = 0;
    const std::size_t n = read_digits(rest, port);
    if (rest.empty() || n != rest.size() || port < 1 || port > 65535) {
      return std::string("port must be a number 1..65535");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

}  // namespace

ParseError make_error(std::string rule, std::string_view shown) {
  ParseError e;
  e.message = rule + " (got " + std::string(shown) + ")";
  e.rule = std::move(rule);
  return e;
}

std::string quote(std::string_view raw) {
  // Userinfo is masked before shortening, so a cut can never keep a password
  // whose closing '@' fell beyond the limit.
  return core::quote(redact_url_userinfo(raw));
}

ParseResult<bool> parse_bool(std::string_view text) {
  const std::string_view t = trim(text);
  for (std::string_view yes : {"true", "1", "yes", "on"}) {
    if (iequals(t, yes)) return true;
  }
  for (std::string_view no : {"false", "0", "no", "off"}) {
    if (iequals(t, no)) return false;
  }
  return fail("must be a boolean: true, false, 1, 0, yes, no, on or off", text);
}

ParseResult<std::uint16_t> parse_port(std::string_view text) {
  auto r = parse_uint(text, 1, 65535);
  if (!r) return fail("must be a port number 1..65535", text);
  return static_cast<std::uint16_t>(r.value());
}

ParseResult<std::uint64_t> parse_uint(std::string_view text, std::uint64_t min, std::uint64_t max) {
  const std::string_view t = trim(text);
  const std::string range =
      "must be an integer " + std::to_string(min) + ".." + std::to_string(max);
  if (t.empty()) return fail(range, text);
  std::uint64_t v = 0;
  const std::size_t n = read_digits(t, v);
  if (n == std::string_view::npos) return fail(range + " (too large)", text);
  if (n != t.size()) return fail(range, text);
  if (v < min || v > max) return fail(range, text);
  return v;
}

ParseResult<double> parse_rate(std::string_view text) {
  static const std::string kRule = "must be a number between 0 and 1";
  const std::string_view t = trim(text);
  if (t.empty()) return fail(kRule, text);
  // from_chars accepts "inf", "nan" and (in some modes) hex; allow only plain
  // decimal notation: digits, one '.', an exponent, and a leading '-' for -0.
  for (char c : t) {
    if (!(is_digit(c) || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+')) {
      return fail(kRule, text);
    }
  }
  if (t.front() == '+') return fail(kRule, text);
  double v = 0;
  const auto [ptr, ec] =
      std::from_chars(t.data(), t.data() + t.size(), v, std::chars_format::general);
  if (ec != std::errc() || ptr != t.data() + t.size()) return fail(kRule, text);
  if (!std::isfinite(v) || v < 0.0 || v > 1.0) return fail(kRule, text);
  return v == 0.0 ? 0.0 : v;  // normalise -0
}

ParseResult<Level> parse_level(std::string_view text) {
  const std::string t = to_lower(trim(text));
  if (t == "trace") return Level::kTrace;
  if (t == "debug") return Level::kDebug;
  if (t == "info") return Level::kInfo;
  if (t == "warn" || t == "warning") return Level::kWarn;
  if (t == "error") return Level::kError;
  if (t == "critical" || t == "fatal") return Level::kCritical;
  return fail("must be one of trace, debug, info, warn (warning), error or critical (fatal)",
              text);
}

ParseResult<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                      std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max) {
  static const std::string kSyntax =
      "must be a duration: a non-negative integer with an optional unit ms, s, m or h "
      "(no unit = milliseconds)";
  const std::string_view t = trim(text);
  std::uint64_t n = 0;
  const std::size_t digits = read_digits(t, n);
  if (digits == 0) return fail(kSyntax, text);
  const std::string range =
      "must be between " + format_duration(min) + " and " + format_duration(max);
  if (digits == std::string_view::npos) return fail(range, text);
  const std::string unit = to_lower(trim(t.substr(digits)));
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  } else {
    return fail(kSyntax, text);
  }
  constexpr auto kMaxMs = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (n > kMaxMs / factor) return fail(range, text);
  const std::chrono::milliseconds value{static_cast<std::int64_t>(n * factor)};
  if (value < min || value > max) return fail(range, text);
  return value;
}

ParseResult<std::uint64_t> parse_size(std::string_view text, std::uint64_t min, std::uint64_t max) {
  static const std::string kSyntax =
      "must be a size: a non-negative integer with an optional unit B, K/KiB, M/MiB, G/GiB, "
      "T/TiB (binary) or KB, MB, GB, TB (decimal)";
  const std::string_view t = trim(text);
  std::uint64_t n = 0;
  const std::size_t digits = read_digits(t, n);
  if (digits == 0) return fail(kSyntax, text);
  const std::string range = "must be between " + format_size(min) + " and " + format_size(max);
  if (digits == std::string_view::npos) return fail(range, text);
  const std::string unit = to_lower(trim(t.substr(digits)));
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "b") {
    factor = 1;
  } else {
    static constexpr std::string_view kPrefixes = "kmgt";
    const std::size_t p = unit.empty() ? std::string_view::npos : kPrefixes.find(unit[0]);
    if (p == std::string_view::npos) return fail(kSyntax, text);
    const std::string_view suffix = std::string_view(unit).substr(1);
    std::uint64_t base = 0;
    if (suffix.empty() || suffix == "ib") {
      base = 1024;
    } else if (suffix == "b") {
      base = 1000;
    } else {
      return fail(kSyntax, text);
    }
    factor = 1;
    for (std::size_t i = 0; i <= p; ++i) factor *= base;
  }
  if (n > UINT64_MAX / factor) return fail(range, text);
  const std::uint64_t value = n * factor;
  if (value < min || value > max) return fail(range, text);
  return value;
}

std::string format_duration(std::chrono::milliseconds value) {
  const std::int64_t ms = value.count();
  if (ms == std::chrono::milliseconds::max().count()) return "unlimited";
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
  if (bytes == UINT64_MAX) return "unlimited";
  static constexpr std::string_view kUnits[] = {"TiB", "GiB", "MiB", "KiB"};
  for (int i = 0; i < 4; ++i) {
    const std::uint64_t unit = 1ull << (10 * (4 - i));
    if (bytes != 0 && bytes % unit == 0)
      return std::to_string(bytes / unit) + std::string(kUnits[i]);
  }
  return std::to_string(bytes) + "B";
}

ParseResult<Url> parse_url(std::string_view text) {
  const std::string_view t = trim(text);
  // Never echo credentials, even from a value we are rejecting.
  const std::string shown = quote(t);
  auto bad = [&](std::string rule) { return make_error(std::move(rule), shown); };
  if (t.empty()) return bad("must be an http or https URL");
  for (char c : t) {
    if (is_control(c) || c == ' ') return bad("URL must not contain spaces or control characters");
  }
  const std::size_t scheme_end = t.find("://");
  if (scheme_end == std::string_view::npos) {
    return bad("must be an http or https URL such as http://host:4318");
  }
  Url url;
  url.scheme = to_lower(t.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") return bad("URL scheme must be http or https");
  const std::size_t auth_begin = scheme_end + 3;
  std::size_t auth_end = t.find_first_of("/?#", auth_begin);
  if (auth_end == std::string_view::npos) auth_end = t.size();
  const std::string_view authority = t.substr(auth_begin, auth_end - auth_begin);
  // An '@' anywhere, not only in the authority as parsed: "http://u:4318/x@host"
  // is a password that happens to parse as a port and a path.
  if (t.find('@', auth_begin) != std::string_view::npos) {
    return bad("URL must not contain credentials (user:password@); use the *_HEADERS variables");
  }
  auto parsed = parse_authority(authority);
  if (auto* rule = std::get_if<std::string>(&parsed)) return bad("URL " + *rule);
  auto& a = std::get<Authority>(parsed);
  url.host = std::move(a.host);
  url.port_explicit = a.port.has_value();
  url.port = a.port ? *a.port : (url.scheme == "https" ? 443 : 80);
  url.path = std::string(t.substr(auth_end));
  url.text = std::string(t);
  return url;
}

std::string join_url(std::string_view base, std::string_view suffix) {
  // A query or fragment of the base stays at the end, after the joined path.
  std::string_view tail;
  const auto scheme_end = base.find("://");
  const auto tail_at =
      base.find_first_of("?#", scheme_end == std::string_view::npos ? 0 : scheme_end + 3);
  if (tail_at != std::string_view::npos) {
    tail = base.substr(tail_at);
    base = base.substr(0, tail_at);
  }
  while (!suffix.empty() && suffix.front() == '/') suffix.remove_prefix(1);
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  out += '/';
  out.append(suffix);
  out.append(tail);
  return out;
}

std::string with_root_path(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const auto path = url.find_first_of("/?#", scheme_end + 3);
  if (path == std::string_view::npos) return std::string(url) + "/";
  if (url[path] == '/') return std::string(url);
  std::string out(url.substr(0, path));
  out += '/';
  out.append(url.substr(path));
  return out;
}

ParseResult<std::string> parse_host(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.find("://") != std::string_view::npos) {
    return fail("must be a host name or IP address, not a URL", text);
  }
  std::string_view host = t;
  bool bracketed = false;
  if (!host.empty() && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    bracketed = true;
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    return fail("must be a host name or IP address without a port (the port has its own variable)",
                text);
  } else if (host.find(':') != std::string_view::npos) {
    bracketed = true;  // bare IPv6 literal
  }
  if (std::string rule = check_host(host, bracketed); !rule.empty()) return fail(rule, text);
  return std::string(host);
}

namespace {
// Splits a comma-separated list for the failover parsers: each non-empty
// trimmed entry, or why the list is unusable.
ParseResult<std::vector<std::string_view>> split_endpoint_list(std::string_view text) {
  std::vector<std::string_view> out;
  std::string_view rest = text;
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.empty()) return fail("must list at least one endpoint, comma-separated", text);
  if (out.size() > kMaxEndpoints) {
    return fail("lists " + std::to_string(out.size()) + " endpoints; at most " +
                    std::to_string(kMaxEndpoints) + " are allowed",
                text);
  }
  return out;
}

std::string entry_rule(std::size_t i, std::string_view item, const std::string& rule) {
  return "entry " + std::to_string(i + 1) + " (" + quote(item) + ") " + rule;
}
}  // namespace

ParseResult<std::vector<std::string>> parse_url_list(std::string_view text) {
  auto items = split_endpoint_list(text);
  if (!items) return items.error();
  std::vector<std::string> out;
  for (std::size_t i = 0; i < items.value().size(); ++i) {
    const std::string_view item = items.value()[i];
    auto url = parse_url(item);
    if (!url) return fail(entry_rule(i, item, url.error().rule), text);
    if (std::find(out.begin(), out.end(), url.value().text) != out.end())
      return fail(entry_rule(i, item, "is listed twice"), text);
    out.push_back(url.value().text);
  }
  return out;
}

ParseResult<std::vector<HostPort>> parse_host_port_list(std::string_view text) {
  auto items = split_endpoint_list(text);
  if (!items) return items.error();
  std::vector<HostPort> out;
  for (std::size_t i = 0; i < items.value().size(); ++i) {
    const std::string_view item = items.value()[i];
    if (item.find("://") != std::string_view::npos)
      return fail(entry_rule(i, item, "must be host[:port], not a URL"), text);
    std::string_view host = item;
    std::string_view port;
    if (item.front() == '[') {
      const std::size_t close = item.find(']');
      if (close == std::string_view::npos)
        return fail(entry_rule(i, item, "has '[' without ']'"), text);
      host = item.substr(0, close + 1);
      const std::string_view after = item.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':')
          return fail(entry_rule(i, item, "must be [IPv6 address]:port"), text);
        port = after.substr(1);
      }
    } else if (std::count(item.begin(), item.end(), ':') == 1) {
      const std::size_t colon = item.find(':');
      host = item.substr(0, colon);
      port = item.substr(colon + 1);
    }
    HostPort hp;
    auto h = parse_host(host);
    if (!h) return fail(entry_rule(i, item, h.error().rule), text);
    hp.host = std::move(h).value();
    if (!port.empty() || (item.back() == ':')) {
      auto p = parse_port(port);
      if (!p) return fail(entry_rule(i, item, "has a bad port: " + p.error().rule), text);
      hp.port = p.value();
    }
    if (std::find(out.begin(), out.end(), hp) != out.end())
      return fail(entry_rule(i, item, "is listed twice"), text);
    out.push_back(std::move(hp));
  }
  return out;
}

ParseResult<std::size_t> parse_enum(std::string_view text,
                                    const std::vector<std::string_view>& choices) {
  const std::string_view t = trim(text);
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (iequals(t, choices[i])) return i;
  }
  return fail("must be one of " + join_choices(choices), text);
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) {
      return std::nullopt;
    }
    auto hex = [](char c) {
      return is_digit(c) ? c - '0' : (c >= 'a' ? c - 'a' + 10 : c - 'A' + 10);
    };
    out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
    i += 2;
  }
  return out;
}

ParseResult<KeyValues> parse_key_value_list(std::string_view text, KeyValueOptions options) {
  const std::string shown = options.secret_values ? quote(redact_key_values(text)) : quote(text);
  auto bad = [&](std::string rule) { return make_error(std::move(rule), shown); };
  KeyValues out;
  std::size_t pos = 0;
  std::size_t index = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view member = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    ++index;
    if (member.empty()) continue;
    const std::string where = "member " + std::to_string(index);
    const std::size_t eq = member.find('=');
    if (eq == std::string_view::npos) return bad(where + " is not key=value");
    const std::string_view raw_key = trim(member.substr(0, eq));
    const std::string_view raw_value = trim(member.substr(eq + 1));
    if (raw_key.empty()) return bad(where + " has an empty key");
    auto key = percent_decode(raw_key);
    if (!key) return bad(where + ": invalid percent-encoding in the key");
    // A key is shown only when it cannot be a misplaced secret.
    bool plain_key = key->size() <= 64;
    for (char c : *key) plain_key = plain_key && is_token_char(c);
    const std::string key_shown =
        !options.secret_values || plain_key ? " (key " + quote(*key) + ")" : std::string();
    if (key->empty() || has_control(*key))
      return bad(where + ": key must not contain control characters");
    if (options.header_names && !plain_key) {
      bool token = !key->empty();
      for (char c : *key) token = token && is_token_char(c);
      if (!token) return bad(where + ": key is not a valid HTTP header name");
    }
    auto value = percent_decode(raw_value);
    if (!value) return bad(where + key_shown + ": invalid percent-encoding in the value");
    if (has_control(*value))
      return bad(where + key_shown + ": value must not contain control characters");
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::string SentryDsn::envelope_url() const {
  std::string out = scheme + "://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) out += ":" + std::to_string(*port);
  out += path_prefix + "/api/" + project_id + "/envelope/";
  return out;
}

std::string SentryDsn::redacted() const {
  std::string out = scheme + "://" + std::string(kMask) + "@";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) out += ":" + std::to_string(*port);
  out += path_prefix + "/" + project_id;
  return out;
}

ParseResult<SentryDsn> parse_sentry_dsn(std::string_view text) {
  const std::string_view t = trim(text);
  const std::string shown = quote(redact_dsn(t));
  auto bad = [&](std::string rule) {
    return make_error(
        "must be a Sentry DSN {scheme}://{public_key}@{host}[:{port}]{path}/"
        "{project_id}: " +
            std::move(rule),
        shown);
  };
  for (char c : t) {
    if (is_control(c) || c == ' ') return bad("no spaces or control characters allowed");
  }
  const std::size_t scheme_end = t.find("://");
  if (scheme_end == std::string_view::npos) return bad("missing \"://\"");
  SentryDsn dsn;
  dsn.scheme = to_lower(t.substr(0, scheme_end));
  if (dsn.scheme != "http" && dsn.scheme != "https") return bad("scheme must be http or https");
  const std::size_t auth_begin = scheme_end + 3;
  const std::size_t auth_end = t.find('/', auth_begin);
  if (auth_end == std::string_view::npos) return bad("missing /{project_id}");
  const std::string_view authority = t.substr(auth_begin, auth_end - auth_begin);
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return bad("missing {public_key}@");
  const std::string_view userinfo = authority.substr(0, at);
  const std::size_t colon = userinfo.find(':');
  dsn.public_key = std::string(userinfo.substr(0, colon));
  if (colon != std::string_view::npos) dsn.secret_key = std::string(userinfo.substr(colon + 1));
  if (dsn.public_key.empty()) return bad("public key is empty");
  auto parsed = parse_authority(authority.substr(at + 1));
  if (auto* rule = std::get_if<std::string>(&parsed)) return bad(*rule);
  auto& a = std::get<Authority>(parsed);
  dsn.host = std::move(a.host);
  dsn.port = a.port;
  const std::string_view path = t.substr(auth_end);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return bad("must not contain a query or fragment");
  }
  const std::size_t last = path.rfind('/');
  const std::string_view project = path.substr(last + 1);
  if (project.empty()) return bad("project id is empty");
  for (char c : project) {
    if (!is_digit(c)) return bad("project id must be decimal digits");
  }
  dsn.project_id = std::string(project);
  dsn.path_prefix = std::string(path.substr(0, last));
  return dsn;
}

ParseResult<std::vector<SamplerRule>> parse_sampler_rules(std::string_view text) {
  std::vector<SamplerRule> out;
  std::size_t pos = 0;
  std::size_t index = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view member = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    ++index;
    if (member.empty()) continue;
    const std::string where = "rule " + std::to_string(index) + " ";
    const std::size_t eq = member.rfind('=');
    if (eq == std::string_view::npos) {
      return fail(where + quote(member) + " must be glob=ratio, e.g. job.*=1.0", text);
    }
    const std::string_view pattern = trim(member.substr(0, eq));
    if (pattern.empty()) return fail(where + "has an empty span name pattern", text);
    for (char c : pattern) {
      if (is_control(c) || is_space(c) || c == '=') {
        return fail(where + "pattern must not contain spaces, '=' or control characters", text);
      }
    }
    auto ratio = parse_rate(member.substr(eq + 1));
    if (!ratio) return fail(where + "ratio " + ratio.error().rule, text);
    out.push_back(SamplerRule{std::string(pattern), ratio.value()});
  }
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

ParseResult<std::vector<std::string>> parse_propagators(std::string_view text) {
  static const std::vector<std::string_view> kUnsupported = {"b3", "b3multi", "jaeger", "xray",
                                                             "ottrace"};
  std::vector<std::string> out;
  bool none = false;
  std::size_t count = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string name = to_lower(trim(text.substr(pos, comma - pos)));
    pos = comma + 1;
    if (name.empty()) continue;
    ++count;
    if (name == "none") {
      none = true;
    } else if (name == "tracecontext" || name == "baggage") {
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    } else if (std::find(kUnsupported.begin(), kUnsupported.end(), name) != kUnsupported.end()) {
      return fail("propagator " + quote(name) +
                      " is not supported by this build (supported: tracecontext, baggage, none)",
                  text);
    } else {
      return fail(
          "propagator " + quote(name) + " is unknown (supported: tracecontext, baggage, none)",
          text);
    }
  }
  if (count == 0) return fail("must list at least one propagator (or none)", text);
  if (none && count > 1) return fail("\"none\" cannot be combined with other propagators", text);
  return out;
}

ParseResult<SamplerKind> parse_sampler(std::string_view text) {
  static const std::vector<std::string_view> kChoices = {"always_on",
                                                         "always_off",
                                                         "traceidratio",
                                                         "parentbased_always_on",
                                                         "parentbased_always_off",
                                                         "parentbased_traceidratio"};
  const std::string t = to_lower(trim(text));
  if (t == "jaeger_remote" || t == "parentbased_jaeger_remote" || t == "xray") {
    return fail("sampler is not supported by this build (use " + join_choices(kChoices) + ")",
                text);
  }
  auto r = parse_enum(text, kChoices);
  if (!r) return r.error();
  return static_cast<SamplerKind>(r.value());
}

ParseResult<OtlpProtocol> parse_otlp_protocol(std::string_view text) {
  auto r = parse_enum(text, {"http/protobuf", "http/json", "grpc"});
  if (!r) return r.error();
  return static_cast<OtlpProtocol>(r.value());
}

ParseResult<Temporality> parse_temporality(std::string_view text) {
  auto r = parse_enum(text, {"cumulative", "delta", "lowmemory"});
  if (!r) return r.error();
  return static_cast<Temporality>(r.value());
}

ParseResult<DeploymentEnv> parse_deployment_env(std::string_view text) {
  auto r = parse_enum(text, {"development", "staging", "production"});
  if (!r) return r.error();
  return static_cast<DeploymentEnv>(r.value());
}

ParseResult<QueueFullPolicy> parse_queue_full_policy(std::string_view text) {
  auto r = parse_enum(text, {"drop", "block"});
  if (!r) return r.error();
  return static_cast<QueueFullPolicy>(r.value());
}

ParseResult<bool> parse_compression(std::string_view text) {
  auto r = parse_enum(text, {"none", "gzip"});
  if (!r) return r.error();
  return r.value() == 1;
}

ParseResult<std::string> parse_name(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) return fail("must not be empty", text);
  if (t.size() > 256) return fail("must be at most 256 bytes", text);
  if (has_control(t)) return fail("must not contain control characters", text);
  return std::string(t);
}

ParseResult<std::string> parse_token(std::string_view text) {
  const std::string_view t = trim(text);
  const std::string_view shown = kMask;
  if (t.empty()) return make_error("must not be empty", shown);
  for (char c : t) {
    if (is_control(c) || is_space(c)) {
      return make_error("must not contain whitespace or control characters", shown);
    }
  }
  return std::string(t);
}

ParseResult<std::string> parse_path(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) return fail("must be a path", text);
  if (has_control(t)) return fail("path must not contain control characters", text);
  return std::string(t);
}

ParseResult<std::string> parse_relative_file(std::string_view text) {
  auto path = parse_path(text);
  if (!path) return path;
  const std::string& p = path.value();
  static const std::string kRule = "must be a file name relative to the log directory";
  if (p.front() == '/') return fail(kRule + " (not absolute)", text);
  if (p.back() == '/') return fail(kRule + " (not a directory)", text);
  std::size_t pos = 0;
  while (pos <= p.size()) {
    std::size_t slash = p.find('/', pos);
    if (slash == std::string::npos) slash = p.size();
    if (std::string_view(p).substr(pos, slash - pos) == "..") {
      return fail(kRule + " (no \"..\")", text);
    }
    pos = slash + 1;
  }
  return path;
}

}  // namespace emp::telemetry::config
