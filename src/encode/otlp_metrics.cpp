// OTLP/protobuf encoding of metrics. The size pass walks the collection once
// and records every nested message length in pre-order (metric, its data
// message, each point, each exemplar); the write pass walks it again in the
// same order and consumes the recorded lengths, so no message is sized twice.
// Field numbers come from opentelemetry-proto: metrics/v1/metrics.proto,
// collector/metrics/v1/metrics_service.proto, common/v1/common.proto.
#include "encode/otlp_metrics.hpp"

#include <bit>
#include <cassert>
#include <vector>

#include "encode/otlp_proto_sizes.hpp"
#include "encode/otlp_proto_writer.hpp"
#include "encode/proto_wire.hpp"

namespace emp::telemetry::encode::otlp {
namespace {

using wire::len_prefixed_size;
using wire::put_fixed64;
using wire::varint_size;

using proto::kFixed64;
using proto::kLen;
using proto::kVarint;
using proto::tag8;

constexpr std::uint8_t kRequestResource = tag8(1, kLen);
constexpr std::uint8_t kResourceScopes = tag8(2, kLen);
constexpr std::uint8_t kScopeMetrics = tag8(2, kLen);
// metrics.v1.Metric
constexpr std::uint8_t kMetricName = tag8(1, kLen);
constexpr std::uint8_t kMetricDescription = tag8(2, kLen);
constexpr std::uint8_t kMetricUnit = tag8(3, kLen);
constexpr std::uint8_t kMetricGauge = tag8(5, kLen);
constexpr std::uint8_t kMetricSum = tag8(7, kLen);
constexpr std::uint8_t kMetricHistogram = tag8(9, kLen);
constexpr std::uint8_t kMetricExponentialHistogram = tag8(10, kLen);
// Gauge / Sum / Histogram / ExponentialHistogram share their first fields.
constexpr std::uint8_t kDataPoints = tag8(1, kLen);
constexpr std::uint8_t kDataTemporality = tag8(2, kVarint);
constexpr std::uint8_t kSumIsMonotonic = tag8(3, kVarint);
// metrics.v1.NumberDataPoint
constexpr std::uint8_t kNumStart = tag8(2, kFixed64);
constexpr std::uint8_t kNumTime = tag8(3, kFixed64);
constexpr std::uint8_t kNumAsDouble = tag8(4, kFixed64);
constexpr std::uint8_t kNumExemplars = tag8(5, kLen);
constexpr std::uint8_t kNumAsInt = tag8(6, kFixed64);  // sfixed64
constexpr std::uint8_t kNumAttributes = tag8(7, kLen);
constexpr std::uint8_t kNumFlags = tag8(8, kVarint);
// metrics.v1.HistogramDataPoint
constexpr std::uint8_t kHistStart = tag8(2, kFixed64);
constexpr std::uint8_t kHistTime = tag8(3, kFixed64);
constexpr std::uint8_t kHistCount = tag8(4, kFixed64);
constexpr std::uint8_t kHistSum = tag8(5, kFixed64);
constexpr std::uint8_t kHistBucketCounts = tag8(6, kLen);    // packed fixed64
constexpr std::uint8_t kHistExplicitBounds = tag8(7, kLen);  // packed double
constexpr std::uint8_t kHistExemplars = tag8(8, kLen);
constexpr std::uint8_t kHistAttributes = tag8(9, kLen);
constexpr std::uint8_t kHistFlags = tag8(10, kVarint);
constexpr std::uint8_t kHistMin = tag8(11, kFixed64);
constexpr std::uint8_t kHistMax = tag8(12, kFixed64);
// metrics.v1.ExponentialHistogramDataPoint
constexpr std::uint8_t kExpAttributes = tag8(1, kLen);
constexpr std::uint8_t kExpStart = tag8(2, kFixed64);
constexpr std::uint8_t kExpTime = tag8(3, kFixed64);
constexpr std::uint8_t kExpCount = tag8(4, kFixed64);
constexpr std::uint8_t kExpSum = tag8(5, kFixed64);
constexpr std::uint8_t kExpScale = tag8(6, kVarint);  // sint32 (zig-zag)
constexpr std::uint8_t kExpZeroCount = tag8(7, kFixed64);
constexpr std::uint8_t kExpPositive = tag8(8, kLen);
constexpr std::uint8_t kExpNegative = tag8(9, kLen);
constexpr std::uint8_t kExpFlags = tag8(10, kVarint);
constexpr std::uint8_t kExpExemplars = tag8(11, kLen);
constexpr std::uint8_t kExpMin = tag8(12, kFixed64);
constexpr std::uint8_t kExpMax = tag8(13, kFixed64);
constexpr std::uint8_t kExpZeroThreshold = tag8(14, kFixed64);
// metrics.v1.ExponentialHistogramDataPoint.Buckets
constexpr std::uint8_t kBucketsOffset = tag8(1, kVarint);  // sint32 (zig-zag)
constexpr std::uint8_t kBucketsCounts = tag8(2, kLen);     // packed uint64 varints
// metrics.v1.Exemplar
constexpr std::uint8_t kExemplarTime = tag8(2, kFixed64);
constexpr std::uint8_t kExemplarAsDouble = tag8(3, kFixed64);
constexpr std::uint8_t kExemplarSpanId = tag8(4, kLen);
constexpr std::uint8_t kExemplarTraceId = tag8(5, kLen);
constexpr std::uint8_t kExemplarAsInt = tag8(6, kFixed64);  // sfixed64
constexpr std::uint8_t kExemplarAttributes = tag8(7, kLen);

constexpr std::uint32_t zigzag32(std::int32_t v) noexcept {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}

// ---------------------------------------------------------------------------
// Size pass. Each *_size returns a message body size (without its own tag and
// length prefix) and records nested lengths through the Recorder.

// Pre-order list of message lengths shared by the two passes. A null list
// (encoded_metric_size) records nothing.
class Recorder {
 public:
  explicit Recorder(std::vector<std::size_t>* sizes) : sizes_(sizes) {}
  std::size_t reserve() {
    if (sizes_ == nullptr) return 0;
    sizes_->push_back(0);
    return sizes_->size() - 1;
  }
  void set(std::size_t slot, std::size_t n) noexcept {
    if (sizes_ != nullptr) (*sizes_)[slot] = n;
  }

 private:
  std::vector<std::size_t>* sizes_;
};

using sizes::attrs_size;
using sizes::opt_fixed64_field_size;
using sizes::opt_str_field_size;
using sizes::opt_varint_field_size;

std::size_t exemplar_size(const Exemplar& e) noexcept {
  return opt_fixed64_field_size(e.time_unix_nano) + 9 /* as_double or as_int */ +
         (e.has_span_id ? 2 + e.span_id.size() : 0) + (e.has_trace_id ? 2 + e.trace_id.size() : 0) +
         attrs_size(e.filtered_attributes);
}

std::size_t exemplars_size(const std::vector<Exemplar>& list, Recorder& rec) {
  std::size_t n = 0;
  for (const Exemplar& e : list) {
    const std::size_t body = exemplar_size(e);
    rec.set(rec.reserve(), body);
    n += 1 + len_prefixed_size(body);
  }
  return n;
}

std::size_t number_point_size(const NumberPoint& p, Recorder& rec) {
  return opt_fixed64_field_size(p.start_time_unix_nano) + opt_fixed64_field_size(p.time_unix_nano) +
         9 /* as_double or as_int */ + exemplars_size(p.exemplars, rec) + attrs_size(p.attributes) +
         opt_varint_field_size(p.flags);
}

// Packed repeated fixed-width field: tag, length, 8 bytes per value; omitted
// when empty.
inline std::size_t packed64_field_size(std::size_t count) noexcept {
  return count == 0 ? 0 : 1 + len_prefixed_size(8 * count);
}

std::size_t histogram_point_size(const HistogramPoint& p, Recorder& rec) {
  return opt_fixed64_field_size(p.start_time_unix_nano) + opt_fixed64_field_size(p.time_unix_nano) +
         opt_fixed64_field_size(p.count) + (p.has_sum ? 9 : 0) +
         packed64_field_size(p.bucket_counts.size()) + packed64_field_size(p.bounds.size()) +
         exemplars_size(p.exemplars, rec) + attrs_size(p.attributes) +
         opt_varint_field_size(p.flags) + (p.has_min_max ? 18 : 0);
}

inline std::size_t packed_varints_size(const std::vector<std::uint64_t>& counts) noexcept {
  std::size_t n = 0;
  for (const std::uint64_t c : counts) n += varint_size(c);
  return n;
}

std::size_t buckets_size(const ExponentialHistogramPoint::Buckets& b) noexcept {
  return opt_varint_field_size(zigzag32(b.offset)) +
         (b.counts.empty() ? 0 : 1 + len_prefixed_size(packed_varints_size(b.counts)));
}

std::size_t exponential_point_size(const ExponentialHistogramPoint& p, Recorder& rec) {
  return attrs_size(p.attributes) + opt_fixed64_field_size(p.start_time_unix_nano) +
         opt_fixed64_field_size(p.time_unix_nano) + opt_fixed64_field_size(p.count) +
         (p.has_sum ? 9 : 0) + opt_varint_field_size(zigzag32(p.scale)) +
         opt_fixed64_field_size(p.zero_count) + 1 + len_prefixed_size(buckets_size(p.positive)) +
         1 + len_prefixed_size(buckets_size(p.negative)) + opt_varint_field_size(p.flags) +
         exemplars_size(p.exemplars, rec) + (p.has_min_max ? 18 : 0) +
         (p.zero_threshold != 0.0 ? 9 : 0);
}

template <typename Point, typename SizeFn>
std::size_t points_size(const std::vector<Point>& points, Recorder& rec, SizeFn size_of) {
  std::size_t n = 0;
  for (const Point& p : points) {
    const std::size_t slot = rec.reserve();
    const std::size_t body = size_of(p, rec);
    rec.set(slot, body);
    n += 1 + len_prefixed_size(body);
  }
  return n;
}

inline bool has_temporality(MetricKind kind) noexcept { return kind != MetricKind::kGauge; }

std::size_t data_size(const MetricData& m, Recorder& rec) {
  std::size_t n = 0;
  switch (m.kind) {
    case MetricKind::kSum:
    case MetricKind::kGauge:
      n = points_size(m.number_points, rec, number_point_size);
      break;
    case MetricKind::kHistogram:
      n = points_size(m.histogram_points, rec, histogram_point_size);
      break;
    case MetricKind::kExponentialHistogram:
      n = points_size(m.exponential_points, rec, exponential_point_size);
      break;
  }
  if (has_temporality(m.kind))
    n += opt_varint_field_size(static_cast<std::uint64_t>(m.temporality));
  if (m.kind == MetricKind::kSum && m.monotonic) n += 2;
  return n;
}

std::size_t metric_size(const MetricData& m, Recorder& rec) {
  const std::size_t metric_slot = rec.reserve();
  const std::size_t data_slot = rec.reserve();
  const std::size_t data = data_size(m, rec);
  rec.set(data_slot, data);
  const std::size_t n = opt_str_field_size(m.name) + opt_str_field_size(m.description) +
                        opt_str_field_size(m.unit) + 1 + len_prefixed_size(data);
  rec.set(metric_slot, n);
  return n;
}

// ---------------------------------------------------------------------------
// Write pass. `p` advances through a buffer sized by the pass above; `next`
// walks the recorded lengths in the order they were recorded.

struct Writer : proto::ValueWriter {
  const std::size_t* next;  // message sizes recorded by the size pass, in write order

  Writer(std::uint8_t* out, const std::size_t* sizes) noexcept : ValueWriter(out), next(sizes) {}

  std::size_t take() noexcept { return *next++; }

  void exemplars(std::uint8_t tag, const std::vector<Exemplar>& list) noexcept {
    for (const Exemplar& e : list) {
      *p++ = tag;
      varint(take());
      opt_fixed64_field(kExemplarTime, e.time_unix_nano);
      if (!e.is_int) double_field(kExemplarAsDouble, e.double_value);
      if (e.has_span_id) bytes_field(kExemplarSpanId, e.span_id.data(), e.span_id.size());
      if (e.has_trace_id) bytes_field(kExemplarTraceId, e.trace_id.data(), e.trace_id.size());
      if (e.is_int) fixed64_field(kExemplarAsInt, static_cast<std::uint64_t>(e.int_value));
      attrs(kExemplarAttributes, e.filtered_attributes);
    }
  }

  void number_point(const NumberPoint& pt) noexcept {
    opt_fixed64_field(kNumStart, pt.start_time_unix_nano);
    opt_fixed64_field(kNumTime, pt.time_unix_nano);
    if (!pt.is_int) double_field(kNumAsDouble, pt.double_value);
    exemplars(kNumExemplars, pt.exemplars);
    if (pt.is_int) fixed64_field(kNumAsInt, static_cast<std::uint64_t>(pt.int_value));
    attrs(kNumAttributes, pt.attributes);
    opt_varint_field(kNumFlags, pt.flags);
  }

  void packed_fixed64(std::uint8_t tag, const std::uint64_t* v, std::size_t n) noexcept {
    if (n == 0) return;
    *p++ = tag;
    varint(8 * n);
    if constexpr (std::endian::native == std::endian::little) {
      p = wire::put_bytes(p, v, 8 * n);
    } else {
      for (std::size_t i = 0; i < n; ++i) p = put_fixed64(p, v[i]);
    }
  }

  void packed_doubles(std::uint8_t tag, const std::vector<double>& v) noexcept {
    if (v.empty()) return;
    *p++ = tag;
    varint(8 * v.size());
    for (const double d : v) p = put_fixed64(p, std::bit_cast<std::uint64_t>(d));
  }

  void histogram_point(const HistogramPoint& pt) noexcept {
    opt_fixed64_field(kHistStart, pt.start_time_unix_nano);
    opt_fixed64_field(kHistTime, pt.time_unix_nano);
    opt_fixed64_field(kHistCount, pt.count);
    if (pt.has_sum) double_field(kHistSum, pt.sum);
    packed_fixed64(kHistBucketCounts, pt.bucket_counts.data(), pt.bucket_counts.size());
    packed_doubles(kHistExplicitBounds, pt.bounds);
    exemplars(kHistExemplars, pt.exemplars);
    attrs(kHistAttributes, pt.attributes);
    opt_varint_field(kHistFlags, pt.flags);
    if (pt.has_min_max) {
      double_field(kHistMin, pt.min);
      double_field(kHistMax, pt.max);
    }
  }

  void buckets(std::uint8_t tag, const ExponentialHistogramPoint::Buckets& b) noexcept {
    *p++ = tag;
    varint(buckets_size(b));
    opt_varint_field(kBucketsOffset, zigzag32(b.offset));
    if (!b.counts.empty()) {
      *p++ = kBucketsCounts;
      varint(packed_varints_size(b.counts));
      for (const std::uint64_t c : b.counts) varint(c);
    }
  }

  void exponential_point(const ExponentialHistogramPoint& pt) noexcept {
    attrs(kExpAttributes, pt.attributes);
    opt_fixed64_field(kExpStart, pt.start_time_unix_nano);
    opt_fixed64_field(kExpTime, pt.time_unix_nano);
    opt_fixed64_field(kExpCount, pt.count);
    if (pt.has_sum) double_field(kExpSum, pt.sum);
    opt_varint_field(kExpScale, zigzag32(pt.scale));
    opt_fixed64_field(kExpZeroCount, pt.zero_count);
    buckets(kExpPositive, pt.positive);
    buckets(kExpNegative, pt.negative);
    opt_varint_field(kExpFlags, pt.flags);
    exemplars(kExpExemplars, pt.exemplars);
    if (pt.has_min_max) {
      double_field(kExpMin, pt.min);
      double_field(kExpMax, pt.max);
    }
    if (pt.zero_threshold != 0.0) double_field(kExpZeroThreshold, pt.zero_threshold);
  }

  template <typename Point, typename WriteFn>
  void points(const std::vector<Point>& list, WriteFn write) noexcept {
    for (const Point& pt : list) {
      *p++ = kDataPoints;
      varint(take());
      [[maybe_unused]] const std::size_t want = next[-1];
      [[maybe_unused]] const std::uint8_t* const begin = p;
      (this->*write)(pt);
      assert(static_cast<std::size_t>(p - begin) == want);
    }
  }

  void metric(const MetricData& m) noexcept {
    opt_str_field(kMetricName, m.name);
    opt_str_field(kMetricDescription, m.description);
    opt_str_field(kMetricUnit, m.unit);
    switch (m.kind) {
      case MetricKind::kSum:
        *p++ = kMetricSum;
        break;
      case MetricKind::kGauge:
        *p++ = kMetricGauge;
        break;
      case MetricKind::kHistogram:
        *p++ = kMetricHistogram;
        break;
      case MetricKind::kExponentialHistogram:
        *p++ = kMetricExponentialHistogram;
        break;
    }
    varint(take());
    switch (m.kind) {
      case MetricKind::kSum:
      case MetricKind::kGauge:
        points(m.number_points, &Writer::number_point);
        break;
      case MetricKind::kHistogram:
        points(m.histogram_points, &Writer::histogram_point);
        break;
      case MetricKind::kExponentialHistogram:
        points(m.exponential_points, &Writer::exponential_point);
        break;
    }
    if (has_temporality(m.kind)) {
      opt_varint_field(kDataTemporality, static_cast<std::uint64_t>(m.temporality));
    }
    if (m.kind == MetricKind::kSum && m.monotonic) {
      *p++ = kSumIsMonotonic;
      *p++ = 1;
    }
  }
};

// Grows `out` by exactly `n` bytes and returns where they start.
std::uint8_t* grow(std::string& out, std::size_t n) {
  const std::size_t old = out.size();
  out.resize(old + n);
  return reinterpret_cast<std::uint8_t*>(out.data()) + old;
}

// Per-thread scratch so a collection costs no allocation once warm.
std::vector<std::size_t>& recorded_sizes() {
  thread_local std::vector<std::size_t> sizes;
  return sizes;
}

}  // namespace

void encode_metrics_request(const ProtoPrelude& prelude, std::span<const MetricData> metrics,
                            std::string& out, EncodeStats* stats) {
  std::vector<std::size_t>& sizes = recorded_sizes();
  sizes.clear();
  Recorder rec(&sizes);
  std::size_t metrics_total = 0;
  for (const MetricData& m : metrics) metrics_total += 1 + len_prefixed_size(metric_size(m, rec));

  const std::size_t scope_body =
      prelude.scope_field().size() + metrics_total + prelude.scope_schema_field().size();
  const std::size_t resource_body = prelude.resource_field().size() + 1 +
                                    len_prefixed_size(scope_body) +
                                    prelude.resource_schema_field().size();
  const std::size_t total = 1 + len_prefixed_size(resource_body);

  Writer w{grow(out, total), sizes.data()};
  [[maybe_unused]] const std::uint8_t* const begin = w.p;
  w.byte(kRequestResource);
  w.varint(resource_body);
  w.p = wire::put_bytes(w.p, prelude.resource_field().data(), prelude.resource_field().size());
  w.byte(kResourceScopes);
  w.varint(scope_body);
  w.p = wire::put_bytes(w.p, prelude.scope_field().data(), prelude.scope_field().size());
  for (const MetricData& m : metrics) {
    w.byte(kScopeMetrics);
    w.varint(w.take());
    [[maybe_unused]] const std::size_t want = w.next[-1];
    [[maybe_unused]] const std::uint8_t* const metric_begin = w.p;
    w.metric(m);
    assert(static_cast<std::size_t>(w.p - metric_begin) == want);
  }
  w.p = wire::put_bytes(w.p, prelude.scope_schema_field().data(),
                        prelude.scope_schema_field().size());
  w.p = wire::put_bytes(w.p, prelude.resource_schema_field().data(),
                        prelude.resource_schema_field().size());
  assert(static_cast<std::size_t>(w.p - begin) == total);
  assert(w.next == sizes.data() + sizes.size());
  if (stats != nullptr) stats->invalid_utf8_strings += w.invalid_utf8;
}

void encode_metrics_request(const Resource& resource, const Scope& scope,
                            std::span<const MetricData> metrics, std::string& out,
                            EncodeStats* stats) {
  encode_metrics_request(ProtoPrelude(resource, scope), metrics, out, stats);
}

std::size_t encoded_metric_size(const MetricData& metric) noexcept {
  Recorder none(nullptr);  // records nothing, so nothing here can throw
  return 1 + len_prefixed_size(metric_size(metric, none));
}

std::size_t metric_data_point_count(const MetricData& metric) noexcept {
  switch (metric.kind) {
    case MetricKind::kSum:
    case MetricKind::kGauge:
      return metric.number_points.size();
    case MetricKind::kHistogram:
      return metric.histogram_points.size();
    case MetricKind::kExponentialHistogram:
      return metric.exponential_points.size();
  }
  return 0;
}

}  // namespace emp::telemetry::encode::otlp
