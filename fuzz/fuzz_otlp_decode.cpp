// libFuzzer target for the OTLP request decoders (protobuf and JSON for
// traces, logs and metrics), which read bodies that any local process can
// POST to the viewer. Beyond "no crash, no over-read", it checks the
// contract: a refused body says why, and an accepted one is stable: encoding
// what was decoded and decoding that again gives the same bytes once more.
//
// Seeds (fuzz/corpus/otlp_decode/) are the project's own encoders' output for
// the sample batches of tests/unit/otlp and tests/unit/metrics_encode, in
// protobuf and JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "encode/otlp_decode.hpp"
#include "encode/otlp_metrics.hpp"
#include "encode/otlp_proto.hpp"

namespace otlp = emp::telemetry::encode::otlp;

namespace {

template <typename Item, typename Encode, typename Decode>
void check(bool ok, const otlp::DecodedRequest<Item>& req, const std::string& error, Encode encode,
           Decode decode) {
  if (!ok) {
    if (error.empty()) std::abort();
    return;
  }
  for (const auto& r : req.resources) {
    for (const auto& s : r.scopes) {
      std::string once;
      encode(r.resource, s.scope, s.items, once);
      otlp::DecodedRequest<Item> again;
      std::string error2;
      if (!decode(once, again, error2)) std::abort();
      if (again.resources.size() != 1 || again.resources[0].scopes.size() != 1) std::abort();
      std::string twice;
      encode(again.resources[0].resource, again.resources[0].scopes[0].scope,
             again.resources[0].scopes[0].items, twice);
      if (once != twice) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto enc_traces = [](const otlp::Resource& r, const otlp::Scope& s,
                             const std::vector<otlp::SpanData>& items,
                             std::string& out) { otlp::encode_traces_request(r, s, items, out); };
  const auto enc_logs = [](const otlp::Resource& r, const otlp::Scope& s,
                           const std::vector<otlp::LogData>& items,
                           std::string& out) { otlp::encode_logs_request(r, s, items, out); };
  const auto enc_metrics = [](const otlp::Resource& r, const otlp::Scope& s,
                              const std::vector<otlp::MetricData>& items,
                              std::string& out) { otlp::encode_metrics_request(r, s, items, out); };
  {
    otlp::TracesRequest req;
    check(otlp::decode_traces_proto(body, req, error), req, error, enc_traces,
          otlp::decode_traces_proto);
    error.clear();
    check(otlp::decode_traces_json(body, req, error), req, error, enc_traces,
          otlp::decode_traces_proto);
  }
  {
    otlp::LogsRequest req;
    error.clear();
    check(otlp::decode_logs_proto(body, req, error), req, error, enc_logs, otlp::decode_logs_proto);
    error.clear();
    check(otlp::decode_logs_json(body, req, error), req, error, enc_logs, otlp::decode_logs_proto);
  }
  {
    otlp::MetricsRequest req;
    error.clear();
    check(otlp::decode_metrics_proto(body, req, error), req, error, enc_metrics,
          otlp::decode_metrics_proto);
    error.clear();
    check(otlp::decode_metrics_json(body, req, error), req, error, enc_metrics,
          otlp::decode_metrics_proto);
  }
  return 0;
}
