// libFuzzer target for the OTLP export-response parsers (protobuf and JSON),
// which read bodies sent by a remote peer. Beyond "no crash, no over-read",
// it checks the contract: a decoded body has a non-negative count and a
// short, well-formed UTF-8 message; a refused one says why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "encode/otlp_response.hpp"
#include "encode/proto_wire.hpp"

namespace {

void check(const emp::telemetry::encode::otlp::PartialSuccess& r) {
  namespace wire = emp::telemetry::encode::wire;
  if (r.ok) {
    if (r.rejected < 0) std::abort();
    if (r.message.size() > emp::telemetry::encode::otlp::kMaxResponseMessageBytes) std::abort();
    if (wire::utf8_sanitized_size(r.message) != r.message.size()) std::abort();
    bool replaced = false;
    std::string copy(r.message.size(), '\0');
    wire::put_utf8_sanitized(reinterpret_cast<std::uint8_t*>(copy.data()), r.message, &replaced);
    if (replaced) std::abort();
  } else if (r.error.empty()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check(emp::telemetry::encode::otlp::parse_partial_success_proto(body));
  check(emp::telemetry::encode::otlp::parse_partial_success_json(body));
  return 0;
}
