// OTLP/JSON encoding of metrics (see otlp_metrics_json.hpp for the mapping
// rules). The resource and scope come pre-rendered from the JsonPrelude;
// string escaping and hex are shared with the JSON-lines encoder.
#include "encode/otlp_metrics_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

#include "encode/json_lines.hpp"

namespace emp::telemetry::encode::otlp {
namespace {

constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  std::size_t invalid_utf8() const noexcept { return invalid_utf8_; }

  void raw(std::string_view s) { out_.append(s); }
  void ch(char c) { out_.push_back(c); }

  void str(std::string_view s) {
    LineStats st;
    append_json_string(out_, s, kNoLimit, st);
    if (st.invalid_utf8) ++invalid_utf8_;
  }

  void hex(const std::uint8_t* b, std::size_t n) {
    out_.push_back('"');
    append_hex(out_, b, n);
    out_.push_back('"');
  }

  void u64(std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  void i64(std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  // 64-bit integers are strings in the protobuf JSON mapping.
  void u64_string(std::uint64_t v) {
    out_.push_back('"');
    u64(v);
    out_.push_back('"');
  }
  void i64_string(std::int64_t v) {
    out_.push_back('"');
    i64(v);
    out_.push_back('"');
  }

  void dbl(double d) {
    if (std::isnan(d)) {
      out_.append("\"NaN\"");
    } else if (std::isinf(d)) {
      out_.append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, d);
      out_.append(buf, r.ptr);
    }
  }

  void base64(std::string_view s) {
    out_.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t n = s.size();
    const std::size_t at = out_.size();
    out_.resize(at + (n + 2) / 3 * 4);
    char* d = out_.data() + at;
    while (n >= 3) {
      const std::uint32_t v = (p[0] << 16) | (p[1] << 8) | p[2];
      *d++ = kBase64[v >> 18];
      *d++ = kBase64[(v >> 12) & 63];
      *d++ = kBase64[(v >> 6) & 63];
      *d++ = kBase64[v & 63];
      p += 3;
      n -= 3;
    }
    if (n > 0) {
      const std::uint32_t v = (p[0] << 16) | (n == 2 ? p[1] << 8 : 0);
      *d++ = kBase64[v >> 18];
      *d++ = kBase64[(v >> 12) & 63];
      *d++ = n == 2 ? kBase64[(v >> 6) & 63] : '=';
      *d++ = '=';
    }
    out_.push_back('"');
  }

  void opt_str_member(std::string_view member, std::string_view s) {
    if (s.empty()) return;
    raw(member);
    str(s);
  }
  void opt_u32_member(std::string_view member, std::uint32_t v) {
    if (v == 0) return;
    raw(member);
    u64(v);
  }
  void opt_u64_string_member(std::string_view member, std::uint64_t v) {
    if (v == 0) return;
    raw(member);
    u64_string(v);
  }
  void dbl_member(std::string_view member, double d) {
    raw(member);
    dbl(d);
  }

  void any_value(const AnyValue& v, int depth) {
    if (depth >= kMaxAnyValueDepth) {
      raw("{}");
      return;
    }
    switch (v.type) {
      case AnyValue::Type::kEmpty:
        raw("{}");
        return;
      case AnyValue::Type::kString:
        raw("{\"stringValue\":");
        str(v.str);
        break;
      case AnyValue::Type::kBool:
        raw(v.bool_value ? "{\"boolValue\":true" : "{\"boolValue\":false");
        break;
      case AnyValue::Type::kInt:
        raw("{\"intValue\":");
        i64_string(v.int_value);
        break;
      case AnyValue::Type::kDouble:
        raw("{\"doubleValue\":");
        dbl(v.double_value);
        break;
      case AnyValue::Type::kBytes:
        raw("{\"bytesValue\":");
        base64(v.str);
        break;
      case AnyValue::Type::kArray: {
        raw("{\"arrayValue\":{");
        if (!v.array.empty()) {
          raw("\"values\":[");
          bool first = true;
          for (const AnyValue& e : v.array) {
            if (!first) ch(',');
            first = false;
            any_value(e, depth + 1);
          }
          ch(']');
        }
        ch('}');
        break;
      }
      case AnyValue::Type::kKvList: {
        raw("{\"kvlistValue\":{");
        if (!v.kvlist.empty()) {
          raw("\"values\":[");
          kv_items(v.kvlist, depth + 1);
          ch(']');
        }
        ch('}');
        break;
      }
    }
    ch('}');
  }

  void kv_items(const std::vector<KeyValue>& list, int depth) {
    bool first = true;
    for (const KeyValue& kv : list) {
      raw(first ? "{\"key\":" : ",{\"key\":");
      first = false;
      str(kv.key);
      raw(",\"value\":");
      any_value(kv.value, depth);
      ch('}');
    }
  }

  void attrs_member(std::string_view member, const std::vector<KeyValue>& list) {
    if (list.empty()) return;
    raw(member);
    ch('[');
    kv_items(list, 0);
    ch(']');
  }

  // Every member is written with a leading comma; the object's first member
  // then loses it (see close_object).
  std::size_t open_object() {
    ch('{');
    return out_.size() - 1;
  }
  void close_object(std::size_t open) {
    if (out_.size() > open + 1 && out_[open + 1] == ',') out_.erase(open + 1, 1);
    ch('}');
  }

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
        data_points(m.number_points, &JsonWriter::number_point);
        break;
      case MetricKind::kGauge:
        raw(",\"gauge\":{");
        data_points(m.number_points, &JsonWriter::number_point);
        break;
      case MetricKind::kHistogram:
        raw(",\"histogram\":{");
        data_points(m.histogram_points, &JsonWriter::histogram_point);
        break;
      case MetricKind::kExponentialHistogram:
        raw(",\"exponentialHistogram\":{");
        data_points(m.exponential_points, &JsonWriter::exponential_point);
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

 private:
  std::string& out_;
  std::size_t invalid_utf8_ = 0;
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
  JsonWriter w(out);
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
