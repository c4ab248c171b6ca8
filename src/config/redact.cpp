// Redaction helpers; see redact.hpp.
#include "config/redact.hpp"

#include <array>
#include <cctype>

#include "config/registry.hpp"
#include "core/strings.hpp"

namespace emp::telemetry::config {
namespace {

bool contains_upper(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    bool match = true;
    for (std::size_t j = 0; j < needle.size(); ++j) {
      if (core::ascii_upper(haystack[i + j]) != needle[j]) {
        match = false;
        break;
      }
    }
    if (match) return true;
  }
  return false;
}

bool ends_with_upper(std::string_view name, std::string_view suffix) noexcept {
  return name.size() >= suffix.size() &&
         core::iequals(name.substr(name.size() - suffix.size()), suffix);
}

}  // namespace

bool is_secret_variable(std::string_view var_name) noexcept {
  if (const VarSpec* spec = find_spec(var_name)) return spec->secret;
  static constexpr std::array<std::string_view, 9> kHints = {
      "KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "AUTH", "CREDENTIAL", "DSN", "HEADERS"};
  for (std::string_view hint : kHints) {
    if (contains_upper(var_name, hint)) return true;
  }
  return false;
}

std::string redact_dsn(std::string_view dsn) {
  dsn = core::trim(dsn);
  const std::size_t scheme_end = dsn.find("://");
  if (scheme_end == std::string_view::npos) return std::string(kMask);
  const std::size_t auth_begin = scheme_end + 3;
  std::size_t auth_end = dsn.find('/', auth_begin);
  if (auth_end == std::string_view::npos) auth_end = dsn.size();
  const std::string_view authority = dsn.substr(auth_begin, auth_end - auth_begin);
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(kMask);
  std::string out(dsn.substr(0, auth_begin));
  out += kMask;
  out += dsn.substr(auth_begin + at);
  return out;
}

std::string redact_key_values(std::string_view list) {
  std::string out;
  std::size_t pos = 0;
  bool first = true;
  while (pos <= list.size()) {
    std::size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    const std::string_view member = core::trim(list.substr(pos, comma - pos));
    pos = comma + 1;
    if (member.empty()) continue;
    if (!first) out += ',';
    first = false;
    const std::size_t eq = member.find('=');
    const std::string_view key =
        eq == std::string_view::npos ? std::string_view{} : core::trim(member.substr(0, eq));
    bool plain_key = !key.empty() && key.size() <= 64;
    for (char c : key) plain_key = plain_key && core::is_token_char(c) && c != '%';
    if (plain_key) {
      out += key;
      out += '=';
    }
    out += kMask;
  }
  return out;
}

std::string redact_url_userinfo(std::string_view text) {
  // The userinfo ends at the last '@', not at the first '/', '?' or '#': a
  // password may contain those ("http://user:pw/x@host"), and a parser that
  // stops early leaves the password in plain sight. Masking an '@' that was
  // really part of a path costs a less useful message, nothing more.
  const std::size_t at = text.rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  // Only a real scheme (RFC 3986: a letter, then letters, digits, + - .) is
  // kept: a "://" inside the userinfo ("u:pw://x@h") must not end the mask.
  const std::size_t scheme_end = text.find("://");
  bool scheme = scheme_end != std::string_view::npos && scheme_end > 0 && scheme_end < at &&
                std::isalpha(static_cast<unsigned char>(text[0]));
  for (std::size_t i = 0; scheme && i < scheme_end; ++i) {
    const char c = text[i];
    scheme = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  }
  const std::size_t begin = scheme ? scheme_end + 3 : 0;
  std::string out(text.substr(0, begin));
  out += kMask;
  out += text.substr(at);
  return out;
}

std::string redact(std::string_view var_name, std::string_view value) {
  if (value.empty()) return {};
  if (ends_with_upper(var_name, "DSN")) return redact_dsn(value);
  if (ends_with_upper(var_name, "HEADERS")) return redact_key_values(value);
  if (is_secret_variable(var_name)) return std::string(kMask);
  return redact_url_userinfo(value);
}

}  // namespace emp::telemetry::config
