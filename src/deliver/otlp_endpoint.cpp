// Resolution of OTLP exporter settings; rules in otlp_endpoint.hpp.
//
// The small parsers here (header lists, durations, URLs) follow the same
// rules as src/config/parse.hpp so that finalize() and this resolver agree on
// what is valid; they are kept local so that delivery does not depend on the
// configuration object library.
#include "deliver/otlp_endpoint.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>

#include "config/process_env.hpp"

namespace emp::telemetry::deliver {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Quotes a non-secret value for a message: control bytes escaped, long
// values shortened.
std::string quote(std::string_view value) {
  std::string out = "\"";
  const std::size_t limit = 200;
  for (std::size_t i = 0; i < value.size() && i < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > limit) out += "...";
  out += '"';
  return out;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (std::isalnum(c)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const unsigned char c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// Sets `name` to `value`, replacing an existing header of the same name
// (case-insensitive) so that later lists win key by key.
void set_header(HttpHeaders& headers, std::string name, std::string value) {
  for (auto& h : headers) {
    if (iequals(h.first, name)) {
      h.first = std::move(name);
      h.second = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

bool has_header(const HttpHeaders& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

// Parses `k=v,k2=v2` into `out`. Messages name the member by position and
// key, never by value: header values are credentials.
void parse_header_list(std::string_view text, const std::string& var, HttpHeaders& out,
                       Errors& errors) {
  std::size_t index = 0;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view member = trim(text.substr(0, comma));
    ++index;
    if (!member.empty()) {
      const std::string where = "header list member " + std::to_string(index);
      const auto eq = member.find('=');
      if (eq == std::string_view::npos) {
        errors.push_back({var, where + " has no '=' (expected key=value)"});
      } else {
        auto key = percent_decode(trim(member.substr(0, eq)));
        auto value = percent_decode(trim(member.substr(eq + 1)));
        if (!key) {
          errors.push_back({var, where + " has a malformed %-escape in its key"});
        } else if (!is_token(*key)) {
          errors.push_back({var, where + ": key must be an HTTP header name (got " +
                                     (key->empty() ? std::string("an empty key") : quote(*key)) +
                                     ")"});
        } else if (!value) {
          errors.push_back(
              {var, where + " (key " + quote(*key) + ") has a malformed %-escape in its value"});
        } else if (has_control(*value)) {
          errors.push_back(
              {var, where + " (key " + quote(*key) + ") has a control character in its value"});
        } else {
          set_header(out, std::move(*key), std::move(*value));
        }
      }
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
}

// A non-negative integer with an optional unit ms, s, m, h (plain = ms), as
// parse_duration in src/config/parse.hpp.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  text = trim(text);
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  long long n = 0;
  for (std::size_t i = 0; i < digits; ++i) n = n * 10 + (text[i] - '0');
  const std::string unit = to_lower(trim(text.substr(digits)));
  long long scale = 1;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return std::nullopt;
  }
  if (n > std::numeric_limits<long long>::max() / scale) return std::nullopt;
  return std::chrono::milliseconds(n * scale);
}

// Checks an endpoint URL: http(s) scheme, a host, an optional numeric port,
// no credentials, no spaces or control characters. Returns the rule broken.
std::optional<std::string> url_problem(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "must be an http:// or https:// URL";
  const std::string scheme = to_lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return "scheme must be http or https";
  if (std::any_of(url.begin(), url.end(), [](char ch) {
        const unsigned char c = static_cast<unsigned char>(ch);
        return c <= 0x20 || c == 0x7f;
      })) {
    return "must not contain spaces or control characters";
  }
  const auto rest = url.substr(scheme_end + 3);
  const auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "must not carry credentials (user:password@); use the *_HEADERS variables";
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return "has an unterminated IPv6 address";
    std::string_view after = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!after.empty()) {
      if (after.front() != ':') return "has characters after the IPv6 address";
      has_port = true;
      port = after.substr(1);
    }
  } else {
    const auto colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      has_port = true;
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
  }
  if (host.empty()) return "must name a host";
  if (has_port) {
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    const long number = digits ? std::strtol(std::string(port).c_str(), nullptr, 10) : 0;
    if (number < 1 || number > 65535) return "port must be a number 1..65535";
  }
  return std::nullopt;
}

}  // namespace

std::string with_root_path(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const auto start = scheme_end + 3;
  const auto path = url.find_first_of("/?#", start);
  if (path == std::string_view::npos) return std::string(url) + "/";
  if (url[path] == '/') return std::string(url);
  std::string out(url.substr(0, path));
  out += '/';
  out.append(url.substr(path));
  return out;
}

std::string join_base_url(std::string_view base, std::string_view suffix) {
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

EnvLookup process_env_lookup() {
  return [](std::string_view name) { return config::process_env(name); };
}

Expected<ExporterSettings> resolve_exporter_settings(Signal signal, const EnvLookup& lookup) {
  ExporterSettings settings;
  settings.signal = signal;
  Errors errors;
  const std::string lower(to_string(signal));
  const std::string upper = to_upper(lower);
  const std::string generic = "OTEL_EXPORTER_OTLP_";
  const std::string specific = generic + upper + "_";

  // Empty means unset, as the OpenTelemetry specification says.
  const auto get = [&](const std::string& name) -> std::optional<std::string> {
    if (!lookup) return std::nullopt;
    auto value = lookup(name);
    if (!value || trim(*value).empty()) return std::nullopt;
    return std::string(trim(*value));
  };
  // Signal-specific variable first, then the generic one. Returns the name used.
  const auto get_option =
      [&](std::string_view option) -> std::optional<std::pair<std::string, std::string>> {
    for (const auto& name : {specific + std::string(option), generic + std::string(option)}) {
      if (auto v = get(name)) return std::make_pair(name, std::move(*v));
    }
    return std::nullopt;
  };

  // Endpoint.
  struct Candidate {
    std::string name;
    bool base;
  };
  std::vector<Candidate> candidates = {{specific + "ENDPOINT", false}};
  if (signal != Signal::kLogs)
    candidates.push_back({"OTEL_COLLECTOR_" + upper + "_ENDPOINT", false});
  candidates.push_back({generic + "ENDPOINT", true});
  candidates.push_back({"DASH0_OTLP_BASE_URL", true});
  for (const auto& candidate : candidates) {
    auto value = get(candidate.name);
    if (!value) continue;
    if (auto problem = url_problem(*value)) {
      errors.push_back({candidate.name, *problem + " (got " + quote(display_url(*value)) + ")"});
    } else {
      settings.url = candidate.base ? join_base_url(*value, "v1/" + lower) : with_root_path(*value);
      settings.none_configured = false;
    }
    settings.endpoint_variable = candidate.name;
    settings.dash0 = candidate.name == "DASH0_OTLP_BASE_URL";
    break;
  }

  // Headers: generic first, then the signal-specific list overrides key by key.
  for (const auto& name : {generic + "HEADERS", specific + "HEADERS"}) {
    if (auto value = get(name)) parse_header_list(*value, name, settings.headers, errors);
  }
  if (settings.dash0) {
    if (auto key = get("DASH0_API_KEY")) {
      if (has_control(*key) || key->find_first_of(" \t") != std::string::npos) {
        errors.push_back({"DASH0_API_KEY", "must be a token without spaces or control characters"});
      } else if (!has_header(settings.headers, "authorization")) {
        settings.headers.emplace_back("Authorization", "Bearer " + *key);
      }
    }
    if (auto dataset = get("DASH0_DATASET")) {
      if (has_control(*dataset)) {
        errors.push_back(
            {"DASH0_DATASET", "must not contain control characters (got " + quote(*dataset) + ")"});
      } else if (!has_header(settings.headers, "dash0-dataset")) {
        settings.headers.emplace_back("Dash0-Dataset", *dataset);
      }
    }
  }

  if (auto timeout = get_option("TIMEOUT")) {
    if (auto ms = parse_duration(timeout->second)) {
      settings.timeout = *ms;
    } else {
      errors.push_back({timeout->first,
                        "must be a non-negative duration in milliseconds (or with a unit ms, s, "
                        "m, h); 0 means no limit (got " +
                            quote(timeout->second) + ")"});
    }
  }
  if (auto compression = get_option("COMPRESSION")) {
    const std::string v = to_lower(compression->second);
    if (v == "gzip") {
      settings.gzip = true;
    } else if (v == "none") {
      settings.gzip = false;
    } else {
      errors.push_back(
          {compression->first, "must be gzip or none (got " + quote(compression->second) + ")"});
    }
  }
  if (auto protocol = get_option("PROTOCOL")) {
    const std::string v = to_lower(protocol->second);
    if (v == "http/protobuf") {
      settings.content_type = ContentType::kProtobuf;
    } else if (v == "http/json") {
      settings.content_type = ContentType::kJson;
    } else if (v == "grpc") {
      errors.push_back(
          {protocol->first, "grpc is not supported by this build; use http/protobuf or http/json"});
    } else {
      errors.push_back({protocol->first, "must be http/protobuf, http/json or grpc (got " +
                                             quote(protocol->second) + ")"});
    }
  }
  const auto file_option = [&](std::string_view option, std::string& out) {
    if (auto file = get_option(option)) {
      if (has_control(file->second)) {
        errors.push_back({file->first, "must be a file path without control characters"});
      } else {
        out = file->second;
      }
    }
  };
  file_option("CERTIFICATE", settings.ca_file);
  file_option("CLIENT_CERTIFICATE", settings.client_cert_file);
  file_option("CLIENT_KEY", settings.client_key_file);

  if (!errors.empty()) return errors;
  return settings;
}

}  // namespace emp::telemetry::deliver
