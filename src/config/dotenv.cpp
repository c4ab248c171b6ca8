// dotenv parser; see dotenv.hpp.
#include "config/dotenv.hpp"

namespace emp::telemetry::config {
namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }
bool is_name_start(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) noexcept { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_control(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Only a comment may follow a closing quote.
bool only_comment(std::string_view rest) noexcept {
  rest = trim(rest);
  return rest.empty() || rest.front() == '#';
}

}  // namespace

DotenvResult parse_dotenv(std::string_view text) {
  DotenvResult result;
  if (text.size() > kMaxDotenvBytes) {
    result.error_line = 1;
    result.error = "the file is larger than 1 MiB";
    return result;
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::size_t line_no = 0;
  auto fail = [&](std::string rule) {
    result.variables.clear();
    result.error_line = line_no;
    result.error = std::move(rule);
    return result;
  };
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export " || line.substr(0, 7) == "export\t") {
      line = trim(line.substr(7));
    }
    std::size_t i = 0;
    if (i >= line.size() || !is_name_start(line[i])) {
      return fail("expected NAME=value (a name starts with a letter or '_')");
    }
    while (i < line.size() && is_name_char(line[i])) ++i;
    const std::string_view name = line.substr(0, i);
    std::string_view rest = trim(line.substr(i));
    if (rest.empty() || rest.front() != '=') {
      // Not quoted: a line with no '=' may be a pasted secret on its own.
      return fail("expected NAME=value, found a word with no '=' (its text is not shown)");
    }
    rest = trim(rest.substr(1));
    std::string value;
    if (!rest.empty() && rest.front() == '\'') {
      const std::size_t close = rest.find('\'', 1);
      if (close == std::string_view::npos) {
        return fail("unterminated single quote in the value of " + std::string(name));
      }
      value.assign(rest.substr(1, close - 1));
      if (!only_comment(rest.substr(close + 1))) {
        return fail("unexpected text after the closing quote of " + std::string(name));
      }
    } else if (!rest.empty() && rest.front() == '"') {
      std::size_t k = 1;
      bool closed = false;
      for (; k < rest.size(); ++k) {
        const char c = rest[k];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c != '\\') {
          value += c;
          continue;
        }
        if (++k >= rest.size()) break;
        switch (rest[k]) {
          case 'n':
            value += '\n';
            break;
          case 'r':
            value += '\r';
            break;
          case 't':
            value += '\t';
            break;
          case '"':
          case '\\':
          case '$':
          case '\'':
            value += rest[k];
            break;
          default:
            return fail("unknown escape \\" + std::string(1, rest[k]) + " in the value of " +
                        std::string(name) + " (known: \\n \\r \\t \\\" \\\\ \\$)");
        }
      }
      if (!closed) return fail("unterminated double quote in the value of " + std::string(name));
      if (!only_comment(rest.substr(k + 1))) {
        return fail("unexpected text after the closing quote of " + std::string(name));
      }
    } else {
      // Unquoted: a '#' after a space starts a comment.
      std::size_t end = rest.size();
      for (std::size_t k = 0; k < rest.size(); ++k) {
        if (rest[k] == '#' && (k == 0 || is_space(rest[k - 1]))) {
          end = k;
          break;
        }
      }
      const std::string_view v = trim(rest.substr(0, end));
      if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
        return fail("unterminated quote in the value of " + std::string(name));
      }
      value.assign(v);
    }
    for (char c : value) {
      // Escapes may produce \n, \r: those are deliberate; raw ones are not.
      if (is_control(c) && c != '\n' && c != '\r') {
        return fail("control character in the value of " + std::string(name));
      }
    }
    result.variables.emplace_back(std::string(name), std::move(value));
  }
  return result;
}

}  // namespace emp::telemetry::config
