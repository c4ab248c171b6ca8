// Differential fuzzing of the JSON validator that guards job payloads: for
// any bytes, encode::json_valid() must give the same verdict as
// nlohmann::json::accept(), the parser it stands in for, except that
// nlohmann takes a NUL byte outside a string for the end of the input (and
// accepts whatever follows it), where json_valid() rejects the bytes after
// the value: inputs with a NUL byte are checked only to be rejected when
// nlohmann rejects them.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "encode/json_validate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool ours = emp::telemetry::encode::json_valid(text);
  const bool theirs = nlohmann::json::accept(text);
  const bool nul = text.find('\0') != std::string_view::npos;
  if (nul ? (ours && !theirs) : ours != theirs) {
    std::fprintf(stderr, "fuzz_json_validate: json_valid says %d, nlohmann says %d\n", ours,
                 theirs);
    std::abort();
  }
  return 0;
}
