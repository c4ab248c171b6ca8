// OTLP/JSON encoding of metrics (see otlp_metrics_json.hpp for the mapping
// rules). The resource and scope come pre-rendered from the JsonPrelude;
// values, attributes and members come from the shared writer in
// otlp_json_writer.hpp.
#include "encode/otlp_metrics_json.hpp"

#include <cstdint>
#include <string_view>

#include "encode/otlp_json_writer.hpp"

namespace emp::telemetry::encode::otlp {
namespace {

class Writer : public json::JsonWriter {
 public:
  using JsonWriter::JsonWriter;

  void exemplars_member(const std::vector<Exemplar>& list) {
    if (list.empty()) return;
    raw(",\"exemplars\":[");
    bool first = true;
    for (const Exemplar& e : list) {
      if (!first) ch(',');
      first = false;
      const std::size_t open = open_object();
      attrs_member(",\"filteredAttributes\":", e.filtered_attributes);
      opt_u64_string_member(",\"timeUnixNano\":", e.time_unix_nano);
      if (e.is_int) {
        raw(",\"asInt\":");
        i64_string(e.int_value);
      } else {
        dbl_member(",\"asDouble\":", e.double_value);
      }
      if (e.has_span_id) {
        raw(",\"spanId\":");
        hex(e.span_id.data(), e.span_id.size());
      }
      if (e.has_trace_id) {
        raw(",\"traceId\":");
        hex(e.trace_id.data(), e.trace_id.size());
      }
      close_object(open);
    }
    ch(']');
  }

  void number_point(const NumberPoint& p) {
    const std::size_t open = open_object();
    attrs_member(",\"attributes\":", p.attributes);
    opt_u64_string_member(",\"startTimeUnixNano\":", p.start_time_unix_nano);
    opt_u64_string_member(",\"timeUnixNano\":", p.time_unix_nano);
    if (p.is_int) {
      raw(",\"asInt\":");
      i64_string(p.int_value);
    } else {
      dbl_member(",\"asDouble\":", p.double_value);
    }
    exemplars_member(p.exemplars);
    opt_u32_member(",\"flags\":", p.flags);
    close_object(open);
  }

  void histogram_point(const HistogramPoint& p) {
    const std::size_t open = open_object();
    attrs_member(",\"attributes\":", p.attributes);
    opt_u64_string_member(",\"startTimeUnixNano\":", p.start_time_unix_nano);
    opt_u64_string_member(",\"timeUnixNano\":", p.time_unix_nano);
    opt_u64_string_member(",\"count\":", p.count);
    if (p.has_sum) dbl_member(",\"sum\":", p.sum);
    if (!p.bucket_counts.empty()) {
      raw(",\"bucketCounts\":[");
      for (std::size_t i = 0; i < p.bucket_counts.size(); ++i) {
        if (i != 0) ch(',');
        u64_string(p.bucket_counts[i]);
      }
      ch(']');
    }
    if (!p.bounds.empty()) {
      raw(",\"explicitBounds\":[");
      for (std::size_t i = 0; i < p.bounds.size(); ++i) {
        if (i != 0) ch(',');
        dbl(p.bounds[i]);
      }
      ch(']');
    }
    exemplars_member(p.exemplars);
    opt_u32_member(",\"flags\":", p.flags);
    if (p.has_min_max) {
      dbl_member(",\"min\":", p.min);
      dbl_member(",\"max\":", p.max);
    }
    close_object(open);
  }

  void buckets(const ExponentialHistogramPoint::Buckets& b) {
    const std::size_t open = open_object();
    if (b.offset != 0) {
      raw(",\"offset\":");
      i64(b.offset);
    }
    if (!b.counts.empty()) {
      raw(",\"bucketCounts\":[");
      for (std::size_t i = 0; i < b.counts.size(); ++i) {
        if (i != 0) ch(',');
        u64_string(b.counts[i]);
      }
      ch(']');
    }
    close_object(open);
  }

  void exponential_point(const ExponentialHistogramPoint& p) {
    const std::size_t open = open_object();
    attrs_member(",\"attributes\":", p.attributes);
    opt_u64_string_member(",\"startTimeUnixNano\":", p.start_time_unix_nano);
    opt_u64_string_member(",\"timeUnixNano\":", p.time_unix_nano);
    opt_u64_string_member(",\"count\":", p.count);
    if (p.has_sum) dbl_member(",\"sum\":", p.sum);
    if (p.scale != 0) {
      raw(",\"scale\":");
      i64(p.scale);
    }
    opt_u64_string_member(",\"zeroCount\":", p.zero_count);
    raw(",\"positive\":");
    buckets(p.positive);
    raw(",\"negative\":");
    buckets(p.negative);
    opt_u32_member(",\"flags\":", p.flags);
    exemplars_member(p.exemplars);
    if (p.has_min_max) {
      dbl_member(",\"min\":", p.min);
      dbl_member(",\"max\":", p.max);
    }
    if (p.zero_threshold != 0.0) dbl_member(",\"zeroThreshold\":", p.zero_threshold);
    close_object(open);
  }

  template <typename Point, typename WriteFn>
  void data_points(const std::vector<Point>& list, WriteFn write) {
    raw("\"dataPoints\":[");
    bool first = true;
    for (const Point& p : list) {
      if (!first) ch(',');
      first = false;
      (this->*write)(p);
    }
    ch(']');
  }

  void metric(const MetricData& m) {
    const std::size_t open = open_object();
    opt_str_member(",\"name\":", m.name);
    opt_str_member(",\"description\":", m.description);
    opt_str_member(",\"unit\":", m.unit);
    switch (m.kind) {
      case MetricKind::kSum:
        raw(",\"sum\":{");
        data_points(m.number_points, &Writer::number_point);
        break;
      case MetricKind::kGauge:
        raw(",\"gauge\":{");
        data_points(m.number_points, &Writer::number_point);
        break;
      case MetricKind::kHistogram:
        raw(",\"histogram\":{");
        data_points(m.histogram_points, &Writer::histogram_point);
        break;
      case MetricKind::kExponentialHistogram:
        raw(",\"exponentialHistogram\":{");
        data_points(m.exponential_points, &Writer::exponential_point);
        break;
    }
    if (m.kind != MetricKind::kGauge && m.temporality != AggregationTemporality::kUnspecified) {
      raw(",\"aggregationTemporality\":");
      u64(static_cast<std::uint64_t>(m.temporality));
    }
    if (m.kind == MetricKind::kSum && m.monotonic) raw(",\"isMonotonic\":true");
    ch('}');
    close_object(open);
  }
};

// Rough output size per point so `out` grows at most a few times.
constexpr std::size_t kReservePerPoint = 256;

}  // namespace

void encode_metrics_request_json(const JsonPrelude& prelude, std::span<const MetricData> metrics,
                                 std::string& out, EncodeStats* stats) {
  std::size_t points = 0;
  for (const MetricData& m : metrics) {
    points += m.number_points.size() + m.histogram_points.size() + m.exponential_points.size() + 1;
  }
  out.reserve(out.size() + 128 + prelude.resource_member().size() + prelude.scope_member().size() +
              points * kReservePerPoint);
  Writer w(out);
  w.raw("{\"resourceMetrics\":[{");
  w.raw(prelude.resource_member());
  w.raw(",\"scopeMetrics\":[{");
  w.raw(prelude.scope_member());
  w.raw(",\"metrics\":[");
  bool first = true;
  for (const MetricData& m : metrics) {
    if (!first) w.ch(',');
    first = false;
    w.metric(m);
  }
  w.ch(']');
  w.raw(prelude.scope_schema_member());
  w.raw("}]");
  w.raw(prelude.resource_schema_member());
  w.raw("}]}");
  if (stats != nullptr) stats->invalid_utf8_strings += w.invalid_utf8();
}

void encode_metrics_request_json(const Resource& resource, const Scope& scope,
                                 std::span<const MetricData> metrics, std::string& out,
                                 EncodeStats* stats) {
  encode_metrics_request_json(JsonPrelude(resource, scope), metrics, out, stats);
}

}  // namespace emp::telemetry::encode::otlp
