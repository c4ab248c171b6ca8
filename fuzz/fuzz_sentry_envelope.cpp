// libFuzzer target for the viewer's Sentry envelope parser, which reads
// bodies any local process can POST to /api/<project>/envelope/. Beyond "no
// crash, no over-read", it checks the contract: a refused envelope says
// why, and an accepted one yields rows whose JSON columns parse.
//
// Seeds (fuzz/corpus/sentry_envelope/): envelopes in the shape Sentry SDKs
// send (an error event with exception, stack trace, tags and trace context;
// a client report; an attachment; items with and without length).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "viewer/sentry_envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace viewer = emp::telemetry::viewer;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  viewer::Batch batch;
  viewer::EnvelopeResult result;
  std::string error;
  if (!viewer::parse_sentry_envelope(body, batch, result, error)) {
    if (error.empty()) std::abort();
    return 0;
  }
  for (const auto& e : batch.errors) {
    for (const std::string* j : {&e.stacktrace, &e.tags, &e.contexts, &e.raw}) {
      if (nlohmann::json::parse(*j, nullptr, false).is_discarded()) std::abort();
    }
  }
  for (const auto& c : batch.client_reports) {
    if (nlohmann::json::parse(c.discarded, nullptr, false).is_discarded()) std::abort();
  }
  return 0;
}
