// OTLP request decoders: the bodies a collector receives on /v1/traces,
// /v1/logs and /v1/metrics (ExportTraceServiceRequest,
// ExportLogsServiceRequest, ExportMetricsServiceRequest), in protobuf
// (application/x-protobuf) or the OTLP/JSON mapping (application/json), back
// into the same structs the encoders consume (otlp_types.hpp,
// otlp_metrics_types.hpp). The local viewer uses them to receive telemetry.
//
// The protobuf decoder reads with the bounds-checked wire::Reader of
// proto_wire.hpp; the JSON decoder walks an nlohmann::json document. Both
// accept what the public spec allows a sender to write (unknown fields are
// skipped; JSON keys in lowerCamelCase or the proto field names; 64-bit
// integers as strings or numbers; enums as numbers or names; ids as hex in
// JSON) and refuse a body that is not a valid request with an error that
// says where and what: "resourceSpans[0].scopeSpans[0].spans[2].traceId:
// 15 bytes, expected 16". Strings with ill-formed UTF-8 are kept with each
// bad subpart replaced by U+FFFD, so everything decoded is valid UTF-8.
// AnyValue nesting deeper than kMaxAnyValueDepth is refused. One value
// cannot survive JSON: a double -0 arrives as the JSON number 0 (the parser
// reads "-0" as an integer) and decodes as +0.
//
// A Summary metric (which the data model here has no kind for) is decoded as
// a histogram without buckets: its points keep count and sum.
//
// Pure functions; thread-safe for distinct outputs; they throw nothing but
// std::bad_alloc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "encode/otlp_metrics_types.hpp"
#include "encode/otlp_proto.hpp"
#include "encode/otlp_types.hpp"

namespace emp::telemetry::encode::otlp {

// One ResourceX -> ScopeX -> items level of a request.
template <typename Item>
struct ScopeItems {
  Scope scope;
  std::vector<Item> items;
};
template <typename Item>
struct ResourceItems {
  Resource resource;
  std::vector<ScopeItems<Item>> scopes;
};

template <typename Item>
struct DecodedRequest {
  std::vector<ResourceItems<Item>> resources;

  std::size_t item_count() const noexcept {
    std::size_t n = 0;
    for (const auto& r : resources)
      for (const auto& s : r.scopes) n += s.items.size();
    return n;
  }
};

using TracesRequest = DecodedRequest<SpanData>;
using LogsRequest = DecodedRequest<LogData>;
using MetricsRequest = DecodedRequest<MetricData>;

// Each returns true and fills `out` (replacing its content), or returns
// false with `error` saying what was wrong (out is then unspecified).
bool decode_traces_proto(std::string_view body, TracesRequest& out, std::string& error);
bool decode_logs_proto(std::string_view body, LogsRequest& out, std::string& error);
bool decode_metrics_proto(std::string_view body, MetricsRequest& out, std::string& error);

bool decode_traces_json(std::string_view body, TracesRequest& out, std::string& error);
bool decode_logs_json(std::string_view body, LogsRequest& out, std::string& error);
bool decode_metrics_json(std::string_view body, MetricsRequest& out, std::string& error);

// Lowercase hex of an id; "" for an all-zero (absent) id.
std::string id_hex(const std::uint8_t* bytes, std::size_t n);

}  // namespace emp::telemetry::encode::otlp
