#include "encode/json_mask.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "encode/json_validate.hpp"

namespace emp::telemetry::encode {

namespace {

bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A key token (with its quotes) unescaped; escapes in keys are rare, so
// they go through nlohmann rather than a second decoder here.
bool key_is_secret(std::string_view token, bool (*secret_key)(std::string_view) noexcept) {
  const std::string_view inner = token.substr(1, token.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return secret_key(inner);
  const auto j = nlohmann::json::parse(token, nullptr, /*allow_exceptions=*/false);
  return j.is_string() && secret_key(j.get_ref<const std::string&>());
}

}  // namespace

void append_json_masked(std::string_view t, bool (*secret_key)(std::string_view) noexcept,
                        std::string_view mask_json, std::string& out) {
  std::size_t i = t.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  // One entry per open container: true for an object. Its members' keys are
  // the strings read right after '{' or ','.
  std::vector<bool> open;
  bool expect_key = false;
  bool mask_next = false;
  while (i < t.size()) {
    const char c = t[i];
    if (is_ws(c)) {
      ++i;
      continue;
    }
    switch (c) {
      case '{':
      case '[':
        open.push_back(c == '{');
        expect_key = c == '{';
        mask_next = false;
        out += c;
        ++i;
        continue;
      case '}':
      case ']':
        open.pop_back();
        expect_key = false;
        out += c;
        ++i;
        continue;
      case ',':
        expect_key = !open.empty() && open.back();
        out += c;
        ++i;
        continue;
      case ':':
        out += c;
        ++i;
        continue;
      default:
        break;
    }
    // A string or another scalar: copied whole, or masked.
    const std::size_t end = c == '"' ? json_string_end(t, i) : [&] {
      std::size_t j = i;
      while (j < t.size() && !is_ws(t[j]) && t[j] != ',' && t[j] != '}' && t[j] != ']') ++j;
      return j;
    }();
    const std::string_view token = t.substr(i, end - i);
    if (expect_key) {
      mask_next = key_is_secret(token, secret_key);
      expect_key = false;
      out.append(token);
    } else if (mask_next) {
      mask_next = false;
      out.append(mask_json);
    } else {
      out.append(token);
    }
    i = end;
  }
}

}  // namespace emp::telemetry::encode
