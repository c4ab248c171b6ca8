// Fuzzes the dotenv parser of EMP_ENV_FILE (src/config/dotenv.hpp).
// Invariants: no crash; on success every name is [A-Za-z_][A-Za-z0-9_]* and
// no value holds a control character other than tab and the \n, \r that
// escapes produce; on failure the line is within the input, there are no
// variables, and the error never quotes a value (a marker placed in every
// value after the first '=' of a line never shows up in it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/dotenv.hpp"

namespace {
void check(bool condition) {
  if (!condition) std::abort();
}
constexpr std::string_view kMarker = "S3CR3T_D0T3NV";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto r = emp::telemetry::config::parse_dotenv(in);
  std::size_t lines = 1;
  for (char c : in) lines += c == '\n';
  if (r.ok()) {
    for (const auto& [name, value] : r.variables) {
      check(!name.empty() && !(name[0] >= '0' && name[0] <= '9'));
      for (char c : name) {
        check((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_');
      }
      for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        check(u >= 0x20 || c == '\t' || c == '\n' || c == '\r');
        check(u != 0x7f);
      }
    }
  } else {
    check(r.error_line >= 1 && r.error_line <= lines && r.variables.empty() && !r.error.empty());
  }
  // The same input with a marker after every '=': errors never show it.
  std::string marked;
  for (char c : in) {
    marked += c;
    if (c == '=') marked += kMarker;
  }
  const auto m = emp::telemetry::config::parse_dotenv(marked);
  // (Names are not secret: an input that already spells the marker, as a
  // name, proves nothing.)
  if (!m.ok() && in.find(kMarker) == std::string_view::npos)
    check(m.error.find(kMarker) == std::string::npos);
  return 0;
}
