// OTLP/JSON encoder for the metrics track: the same ExportMetricsServiceRequest
// as otlp_metrics.hpp in the protobuf JSON mapping with the OTLP exceptions
// (docs/otlp.md, "OTLP/JSON"), for Content-Type application/json:
//   - keys in lowerCamelCase (resourceMetrics, dataPoints, timeUnixNano,
//     aggregationTemporality, isMonotonic, bucketCounts, explicitBounds, ...);
//   - 64-bit integers as decimal strings: times, asInt, count, zeroCount and
//     every element of bucketCounts (fixed64 and uint64 alike);
//   - 32-bit integers (flags, scale, offset, dropped counts) and enums
//     (aggregationTemporality) as JSON numbers;
//   - doubles (asDouble, sum, min, max, explicitBounds, zeroThreshold) as
//     numbers in the shortest round-trip form; NaN and infinities as the
//     strings "NaN", "Infinity", "-Infinity";
//   - exemplar traceId/spanId as lowercase hex; bytesValue as base64;
//   - strings escaped, ill-formed UTF-8 replaced by U+FFFD.
// Omission policy identical to the protobuf encoder (otlp_metrics.hpp): proto3
// defaults are left out, but the data message of each metric, the value of
// each point (asInt/asDouble), sum/min/max when present and both buckets of an
// exponential histogram point are always written.
// Pure functions; thread-safe for distinct outputs. The only exception they
// can throw is std::bad_alloc from growing `out`.
#pragma once

#include <span>
#include <string>

#include "encode/otlp_json.hpp"
#include "encode/otlp_metrics_types.hpp"
#include "encode/otlp_proto.hpp"

namespace emp::telemetry::encode::otlp {

// Appends an ExportMetricsServiceRequest as one JSON object (no newline).
void encode_metrics_request_json(const JsonPrelude& prelude, std::span<const MetricData> metrics,
                                 std::string& out, EncodeStats* stats = nullptr);
void encode_metrics_request_json(const Resource& resource, const Scope& scope,
                                 std::span<const MetricData> metrics, std::string& out,
                                 EncodeStats* stats = nullptr);

}  // namespace emp::telemetry::encode::otlp
