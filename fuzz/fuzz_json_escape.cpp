// Fuzzes the JSON-lines string escaper and line encoder with arbitrary bytes
// and a fuzzed length limit. Whatever the input, the output must be
// well-formed UTF-8 without raw control characters, parse as JSON (with
// nlohmann::json, an independent parser), and give back the input exactly when
// nothing had to be repaired or cut; a cut must keep a prefix of at most
// `limit` bytes and say how many bytes it dropped.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "encode/json_lines.hpp"

namespace {

using emp::telemetry::Field;
using emp::telemetry::Level;
namespace enc = emp::telemetry::encode;

[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "fuzz_json_escape: %s\n", why);
  std::abort();
}

// Strict well-formedness (Unicode Table 3-7).
bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned c = b(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // sequence runs past the end
    if (b(i + 1) < lo || b(i + 1) > hi) return false;
    for (std::size_t k = 2; k <= n; ++k) {
      if ((b(i + k) & 0xc0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

bool has_raw_control(std::string_view s, bool allow_final_newline) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n' && allow_final_newline && i + 1 == s.size()) continue;
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d < 0xa0) return true;  // C1 control
    }
    if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xa8 ||
         static_cast<unsigned char>(s[i + 2]) == 0xa9))
      return true;  // U+2028 / U+2029
  }
  return false;
}

void check_string(std::string_view input, std::size_t limit) {
  std::string out;
  enc::LineStats stats;
  enc::append_json_string(out, input, limit, stats);
  if (!is_valid_utf8(out)) fail("output is not valid UTF-8");
  if (has_raw_control(out, false)) fail("raw control character in output");
  if (stats.truncated != (input.size() > limit)) fail("truncated flag disagrees with the limit");

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(out);
  } catch (const std::exception&) {
    fail("output does not parse as JSON");
  }
  if (!j.is_string()) fail("output is not a JSON string");
  const std::string decoded = j.get<std::string>();

  if (!stats.truncated) {
    if (!stats.invalid_utf8 && decoded != input) fail("round trip changed the input");
    return;
  }
  // "<prefix>…[truncated N bytes]"
  static const std::string kOpen = "\xE2\x80\xA6[truncated ";
  const std::size_t at = decoded.rfind(kOpen);
  if (at == std::string::npos) fail("truncation marker missing");
  const std::string tail = decoded.substr(at + kOpen.size());
  const std::size_t sp = tail.find(' ');
  if (sp == std::string::npos || tail.substr(sp) != " bytes]") fail("malformed marker");
  const std::size_t cut = std::strtoull(tail.substr(0, sp).c_str(), nullptr, 10);
  if (cut == 0 || cut > input.size()) fail("marker count out of range");
  const std::size_t kept = input.size() - cut;
  if (kept > limit) fail("kept more than the limit");
  if (limit - kept > 3) fail("cut more than one character below the limit");
  if (!stats.invalid_utf8 && decoded.substr(0, at) != input.substr(0, kept)) {
    fail("kept part is not a prefix of the input");
  }
}

void check_line(std::string_view input, std::size_t limit) {
  const std::vector<Field> fields = {{input, input}, {"n", 1}, {"message", input}};
  const std::uint8_t trace[16] = {0xab};
  enc::LogRecordView r;
  r.time_unix_nano = static_cast<std::int64_t>(input.size()) * 1000003;
  r.level = Level::kError;
  r.message = input;
  r.fields = fields;
  r.log_file_path = input;
  r.trace_id = trace;
  enc::LineContext ctx;
  ctx.service_name = input;
  ctx.machine_id = "m";
  enc::LineLimits limits;
  limits.max_message_bytes = limit;
  limits.max_field_bytes = limit;
  std::string out;
  enc::LineStats stats;
  enc::append_log_line(out, r, ctx, limits, stats);
  if (out.empty() || out.back() != '\n' || out.find('\n') != out.size() - 1) fail("not one line");
  if (!is_valid_utf8(out)) fail("line is not valid UTF-8");
  if (has_raw_control(out, true)) fail("raw control character in line");
  try {
    const auto j = nlohmann::json::parse(out);
    if (!j.is_object()) fail("line is not an object");
    // Keys are cut at the field limit too.
    if (limit >= 7 && !j.contains("field.message")) fail("line lost a key");
  } catch (const std::exception&) {
    fail("line does not parse as JSON");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first two bytes choose the limit; 0xffff means "no limit".
  const unsigned raw_limit = data[0] | (data[1] << 8);
  const std::size_t limit = raw_limit == 0xffff ? SIZE_MAX : raw_limit % 512;
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  check_string(input, limit);
  check_line(input, limit);
  return 0;
}
