// Differential fuzzing of the rewriter behind payload excerpts: for any
// bytes that json_valid() accepts, encode::append_json_masked() must give
// valid JSON that parses to what nlohmann gives for the same bytes with the
// values under secret keys masked, and must never read past the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "config/redact.hpp"
#include "encode/json_mask.hpp"
#include "encode/json_validate.hpp"

namespace {

void mask(nlohmann::json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (emp::telemetry::config::is_secret_variable(it.key()) && !it.value().is_structured())
        it.value() = "***";
      else
        mask(it.value());
    }
  } else if (j.is_array()) {
    for (auto& v : j) mask(v);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // nlohmann's recursive parser and comparison: keep nesting modest.
  if (size > 4096 || !emp::telemetry::encode::json_valid(text)) return 0;
  std::string out;
  emp::telemetry::encode::append_json_masked(text, emp::telemetry::config::is_secret_variable,
                                             "\"***\"", out);
  if (!emp::telemetry::encode::json_valid(out)) {
    std::fprintf(stderr, "fuzz_json_mask: output is not JSON: %s\n", out.c_str());
    std::abort();
  }
  nlohmann::json expected = nlohmann::json::parse(text, nullptr, false);
  if (expected.is_discarded()) return 0;
  mask(expected);
  if (nlohmann::json::parse(out) != expected) {
    std::fprintf(stderr, "fuzz_json_mask: %s\nparses differently from the masked input\n",
                 out.c_str());
    std::abort();
  }
  return 0;
}
