// The one place that reads the process environment. Everything else gets
// variables through finalize() (or an injected lookup for tests), so the
// registry stays the single list of what the library reads.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>  // environ (_GNU_SOURCE)

namespace emp::telemetry::config {

inline std::optional<std::string> process_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// The names of every variable in the process environment (for the
// unknown-variable warnings).
inline std::vector<std::string> process_env_names() {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    out.emplace_back(entry.substr(0, entry.find('=')));
  }
  return out;
}

}  // namespace emp::telemetry::config
