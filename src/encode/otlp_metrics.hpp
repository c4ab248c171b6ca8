// OTLP/protobuf encoder for the metrics track: a collection of MetricData in,
// the bytes of an ExportMetricsServiceRequest out, ready to POST to
// /v1/metrics with Content-Type application/x-protobuf.
//
// Same approach and omission policy as the trace and log encoders
// (otlp_proto.hpp): written against the wire format (field numbers from
// opentelemetry-proto metrics/v1/metrics.proto and
// collector/metrics/v1/metrics_service.proto), sizes first, then one write
// into a buffer grown once. Proto3 defaults are omitted, with these
// exceptions, which are always written because their presence carries
// meaning: the metric's data message (sum/gauge/histogram/
// exponential_histogram, even with no points), the value of every number
// point and exemplar (as_int or as_double, even when zero), a histogram's
// `sum` when has_sum and its `min`/`max` when has_min_max (proto3 `optional`
// fields), and both `positive` and `negative` bucket messages of an
// exponential histogram point. Histogram bucket_counts and explicit_bounds
// are packed. Strings are sent as UTF-8 with ill-formed sequences replaced by
// U+FFFD; AnyValue nesting deeper than kMaxAnyValueDepth is sent empty.
//
// One request holds one ResourceMetrics with one ScopeMetrics. The encoder
// sends the points as given: it does not check that bucket_counts has one
// more entry than bounds, that counts add up, or that bounds increase
// (the metrics track guarantees these).
//
// Pure functions; thread-safe for distinct outputs (a per-thread scratch
// vector holds message sizes between the two passes). The only exception
// they can throw is std::bad_alloc from growing `out`.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "encode/otlp_metrics_types.hpp"
#include "encode/otlp_proto.hpp"
#include "encode/otlp_types.hpp"

namespace emp::telemetry::encode::otlp {

// Appends an ExportMetricsServiceRequest holding `metrics` (in order) to
// `out`. `stats`, when given, is incremented.
void encode_metrics_request(const ProtoPrelude& prelude, std::span<const MetricData> metrics,
                            std::string& out, EncodeStats* stats = nullptr);
void encode_metrics_request(const Resource& resource, const Scope& scope,
                            std::span<const MetricData> metrics, std::string& out,
                            EncodeStats* stats = nullptr);

// Encoded size of one metric as an element of ScopeMetrics.metrics (tag +
// length + message), so a sink can split a collection under a byte cap
// before encoding. Costs about as much as encoding it.
std::size_t encoded_metric_size(const MetricData& metric) noexcept;

// Number of data points the metric carries (the unit in which a receiver's
// partial success reports rejected_data_points).
std::size_t metric_data_point_count(const MetricData& metric) noexcept;

}  // namespace emp::telemetry::encode::otlp
