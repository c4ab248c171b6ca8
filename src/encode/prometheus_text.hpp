// Prometheus text exposition format 0.0.4 for the metrics track: what the
// scrape endpoint serves (Content-Type kPrometheusTextContentType), rendered
// from the same MetricData collection the OTLP encoders take.
//
// OpenTelemetry to Prometheus translation follows the OpenTelemetry
// specification "Prometheus and OpenMetrics Compatibility" (OTLP metric
// points to Prometheus):
//   - metric names: every character outside [a-zA-Z0-9_] becomes '_' (the
//     colon too: Prometheus reserves it for recording rules), runs of '_'
//     collapse to one, a leading digit gets a '_' prefix;
//   - the unit becomes a name suffix unless the name already ends with it:
//     annotations in braces are dropped ("{request}" adds nothing), UCUM
//     abbreviations become words ("s" -> "_seconds", "ms" ->
//     "_milliseconds", "By" -> "_bytes", "KiBy" -> "_kibibytes", ...),
//     "a/b" becomes "a_per_b" ("By/s" -> "_bytes_per_second"), "1" becomes
//     "_ratio" on gauges and nothing elsewhere; unknown units are sanitized
//     and appended as they are;
//   - monotonic cumulative sums are counters named "..._total" (added once,
//     after the unit); non-monotonic cumulative sums and gauges are gauges;
//   - explicit-bucket histograms are histograms: cumulative "_bucket" series
//     with an "le" label per bound and a final le="+Inf" equal to the count,
//     then "_sum" (when the point has a sum) and "_count";
//   - exponential histograms, which the 0.0.4 format cannot carry natively,
//     are converted to the equivalent explicit-bucket histogram (the spec's
//     MAY): one le per bucket boundary (base^(index+1) for positive buckets,
//     -base^index for negative ones, the zero threshold for the zero bucket);
//     values lying exactly on a negative boundary are counted one bucket up;
//   - delta (and unspecified) temporality sums and histograms cannot be
//     represented by cumulative Prometheus series and are skipped (counted in
//     PrometheusTextStats); the metrics track hands this encoder cumulative
//     data;
//   - points flagged "no recorded value" (flags bit 0) and histogram points
//     whose bucket counts do not have one more entry than their strictly
//     increasing bounds are skipped (counted);
//   - exemplars are dropped (the 0.0.4 format has no place for them); no
//     `_created` series and no timestamps are written;
//   - label names: attribute keys sanitized like metric names, a leading
//     digit gets a "key_" prefix, empty keys are dropped; keys that end up
//     equal are merged into one label whose values are joined with ';' in
//     the order of the original keys; a point attribute whose label name is
//     taken by a constant or scope label, or is "le" on a histogram, is
//     renamed "exported_<name>" (Prometheus's own convention);
//   - label values: strings as they are; booleans "true"/"false"; integers
//     in decimal; doubles like sample values; bytes as base64; arrays and
//     maps as JSON; escaped (\\, \", \n); ill-formed UTF-8 replaced by U+FFFD.
// Metrics that translate to the same name are merged into one family (one
// # HELP, one # TYPE, all points, in input order). A metric whose name is
// already used by a family of another type (including the _bucket/_sum/
// _count series of a histogram, and target_info) is dropped whole, as the
// spec demands, and counted. # HELP carries the first non-empty description
// of the family (escaped: \\ and \n) and is omitted when there is none.
// Sample values: integers in decimal, doubles in the shortest form that
// reads back exactly, "+Inf", "-Inf" and "NaN".
//
// Resource attributes, when given, become one `target_info` gauge family
// with value 1 (the spec's fallback for formats without info-typed
// metrics), written first and carrying only those labels.
//
// Pure functions; thread-safe for distinct outputs. The only exception they
// can throw is std::bad_alloc from growing `out`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encode/otlp_metrics_types.hpp"
#include "encode/otlp_types.hpp"

namespace emp::telemetry::encode {

// Content-Type of a text exposition response.
inline constexpr std::string_view kPrometheusTextContentType =
    "text/plain; version=0.0.4; charset=utf-8";

struct PrometheusTextOptions {
  // Labels added to every sample of every family (not to target_info).
  const std::vector<otlp::KeyValue>* const_labels = nullptr;
  // When non-null with attributes: a target_info family carrying them.
  const otlp::Resource* resource = nullptr;
  // When non-null: otel_scope_name / otel_scope_version labels (each only
  // when non-empty) on every sample, as the spec asks of SDK exporters.
  const otlp::Scope* scope = nullptr;
};

// What could not be represented, so the caller can log or count it.
struct PrometheusTextStats {
  std::size_t skipped_delta_metrics = 0;        // delta/unspecified temporality
  std::size_t skipped_conflicting_metrics = 0;  // name taken by another type
  std::size_t skipped_unnamed_metrics = 0;      // empty name
  std::size_t skipped_points = 0;               // no recorded value / bad buckets
};

// Appends the exposition of `metrics` to `out`. `const_labels` (may be null)
// are added to every sample.
void encode_prometheus_text(std::span<const otlp::MetricData> metrics,
                            const std::vector<otlp::KeyValue>* const_labels, std::string& out);
void encode_prometheus_text(std::span<const otlp::MetricData> metrics,
                            const PrometheusTextOptions& options, std::string& out,
                            PrometheusTextStats* stats = nullptr);

// The Prometheus type a metric is exposed as.
enum class PrometheusType : std::uint8_t { kCounter, kGauge, kHistogram };

// The family name for an OpenTelemetry metric name and unit exposed as
// `type` (see the rules above); empty when `name` is empty.
std::string prometheus_metric_name(std::string_view name, std::string_view unit,
                                   PrometheusType type);
// The unit part of the name ("seconds", "bytes_per_second", "ratio", or
// empty), without the leading '_'.
std::string prometheus_unit_suffix(std::string_view unit, PrometheusType type);
// A label name for an attribute key (may be empty: such labels are dropped).
std::string prometheus_label_name(std::string_view key);

}  // namespace emp::telemetry::encode
