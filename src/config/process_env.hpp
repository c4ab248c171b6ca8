// The one place that reads the process environment. Everything else gets
// variables through finalize() (or an injected lookup for tests), so the
// registry stays the single list of what the library reads.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace emp::telemetry::config {

inline std::optional<std::string> process_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace emp::telemetry::config
