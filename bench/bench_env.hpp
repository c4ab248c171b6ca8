// The environment the benchmark clients see: none of the process's, so that
// a stray variable cannot change what is measured, except EMP_CLOCK_TSC, so
// that the same binary can be run with the TSC clock and with clock_gettime
// (EMP_CLOCK_TSC=false build/bin/bench_logs ...) for a comparison.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace bench {

inline std::optional<std::string> clock_setting_only(std::string_view name) {
  if (name != "EMP_CLOCK_TSC") return std::nullopt;
  const char* v = std::getenv("EMP_CLOCK_TSC");
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace bench
