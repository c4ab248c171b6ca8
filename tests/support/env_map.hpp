// An environment for Options::env made of a fixed map, so a test (or a
// benchmark) sets exactly the variables it means and the machine's own
// environment cannot change the result.
//
// Use: #include "support/env_map.hpp" (header-only).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace emp::telemetry::testing {

inline std::function<std::optional<std::string>(std::string_view)> env_from(
    std::map<std::string, std::string> env) {
  return [env = std::move(env)](std::string_view k) -> std::optional<std::string> {
    auto it = env.find(std::string(k));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace emp::telemetry::testing
