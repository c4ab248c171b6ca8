// Request-head parser of the Prometheus endpoint; see http_request_head.hpp.
#include "metrics/http_request_head.hpp"

namespace emp::telemetry::metrics {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool is_tchar(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

RequestHead parse_request_head(std::string_view buffer) {
  RequestHead head;
  // Lines end in CRLF; a bare LF is accepted as well (RFC 9112 section 2.2).
  std::size_t end = buffer.find("\n\r\n");
  std::size_t end_lf = buffer.find("\n\n");
  std::size_t blank = std::string_view::npos;
  if (end != std::string_view::npos) blank = end + 3;
  if (end_lf != std::string_view::npos && (blank == std::string_view::npos || end_lf + 2 < blank)) {
    blank = end_lf + 2;
  }
  if (blank == std::string_view::npos || blank > kMaxHeadBytes) {
    if (buffer.size() >= kMaxHeadBytes) {
      head.state = RequestHead::State::kBad;
      head.too_large = true;
    }
    return head;
  }
  head.head_bytes = blank;
  head.state = RequestHead::State::kBad;
  std::string_view rest = buffer.substr(0, blank);
  auto next_line = [&rest]() {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  const std::string_view request_line = next_line();
  const std::size_t sp1 = request_line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return head;
  const std::size_t sp2 = request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return head;
  const std::string_view method = request_line.substr(0, sp1);
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = request_line.substr(sp2 + 1);
  for (char c : method) {
    if (!is_tchar(c)) return head;
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return head;
  }
  if (target.front() != '/') return head;
  bool http11 = false;
  if (version == "HTTP/1.1") {
    http11 = true;
  } else if (version != "HTTP/1.0") {
    return head;
  }
  bool close = false, keep_alive = false;
  while (!rest.empty()) {
    const std::string_view line = next_line();
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return head;
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!is_tchar(c)) return head;
    }
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "connection")) {
      close = close || has_token(value, "close");
      keep_alive = keep_alive || has_token(value, "keep-alive");
    } else if (iequals(name, "transfer-encoding")) {
      head.has_body = true;
    } else if (iequals(name, "content-length")) {
      if (value.empty()) return head;
      for (char c : value) {
        if (c < '0' || c > '9') return head;
        if (c != '0') head.has_body = true;
      }
    }
  }
  head.method = std::string(method);
  head.path = std::string(target.substr(0, target.find('?')));
  head.keep_alive = !close && (http11 || keep_alive);
  head.state = RequestHead::State::kComplete;
  return head;
}

}  // namespace emp::telemetry::metrics
