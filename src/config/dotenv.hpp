// The dotenv file format of EMP_ENV_FILE / `--env-file`: NAME=value lines as
// docker compose, systemd's EnvironmentFile and python-dotenv users write
// them. A pure parser: text in, variables or the first error out.
//
//   # a comment line; blank lines are ignored
//   export NAME=value          `export ` is allowed and ignored
//   NAME = value # comment     spaces around '=' and a " #" comment are dropped
//   NAME='literal $HOME \n'    single quotes: everything literal
//   NAME="a\tb \"q\" $HOME"    double quotes: \n \r \t \" \\ \$ escapes
//
// There is no shell expansion anywhere ($VAR, $(...) and `...` stay as
// written): a dotenv file is data, not a script. Names are
// [A-Za-z_][A-Za-z0-9_]*. A later line for the same name wins. A UTF-8 BOM
// and CRLF line ends are accepted; a value cannot span lines and must not
// contain control characters other than tab.
//
// Errors name the line and the rule, never the value (it may be a secret).
// Thread-safe; never throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emp::telemetry::config {

inline constexpr std::size_t kMaxDotenvBytes = 1u << 20;

struct DotenvResult {
  std::vector<std::pair<std::string, std::string>> variables;  // in file order
  std::size_t error_line = 0;                                  // 1-based; 0 = no error
  std::string error;                                           // the rule that line broke
  bool ok() const noexcept { return error_line == 0; }
};

DotenvResult parse_dotenv(std::string_view text);

}  // namespace emp::telemetry::config
