// Conformance of the OTLP metric encoders, judged by a decoder nobody here
// wrote: the official opentelemetry-proto schema compiled by protobufjs, as
// shipped in npm @opentelemetry/otlp-transformer@0.52.1 (see
// tests/conformance/otlp/decode.js, kind "metrics").
//
//  - protobuf payloads (every metric kind and temporality, int and double
//    values, extremes, exemplars, every attribute type, thousands of points;
//    plain and gzip-compressed) decode to exactly the values recorded, field
//    by field;
//  - every decoded explicit-bucket histogram point has one more bucket count
//    than bounds, and its bucket counts add up to its count;
//  - the OTLP/JSON payload of the same collection carries the same values
//    (after converting representations) and follows the OTLP/JSON rules.
// Needs node and the npm packages: `./run setup` installs both. Without them
// the test fails (it never skips), saying so.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "encode/gzip.hpp"
#include "encode/otlp_metrics.hpp"
#include "encode/otlp_metrics_json.hpp"
#include "encode/proto_wire.hpp"
#include "unit/metrics_encode/metrics_samples.hpp"
#include "unit/otlp/otlp_samples.hpp"

namespace otlp = emp::telemetry::encode::otlp;
namespace enc = emp::telemetry::encode;
using nlohmann::json;
using otlp::AnyValue;

namespace {

// ---------------------------------------------------------------------------
// Running the independent decoder.

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TempFile {
 public:
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/emp_metrics_conf_XXXXXX";
    const int fd = mkstemp(path_.data());
    if (fd >= 0) close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }
  void write(const std::string& data) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << data;
  }

 private:
  std::string path_;
};

struct Node {
  std::string node;     // node executable
  std::string script;   // decode.js
  std::string problem;  // why the decoder cannot run, empty when it can
};

const Node& node() {
  static const Node n = [] {
    Node r;
    const char* src = std::getenv("EMP_TEST_SRC");
    if (src == nullptr || *src == '\0') {
      r.problem = "EMP_TEST_SRC is not set (run the test through ctest)";
      return r;
    }
    r.script = std::string(src) + "/tests/conformance/otlp/decode.js";
    const char* override_node = std::getenv("EMP_NODE");
    if (override_node != nullptr && *override_node != '\0') {
      r.node = override_node;
    } else if (FILE* p = popen("command -v node 2>/dev/null", "r")) {
      char buf[4096];
      while (fgets(buf, sizeof buf, p) != nullptr) r.node += buf;
      pclose(p);
      while (!r.node.empty() && (r.node.back() == '\n' || r.node.back() == '\r')) r.node.pop_back();
    }
    if (r.node.empty()) {
      r.problem =
          "node was not found on PATH: run `./run setup` (installs node and the npm "
          "packages under tests/conformance)";
    }
    return r;
  }();
  return n;
}

// Runs decode.js with `args`; returns stdout, or fails the test with stderr.
std::string run_decoder(const std::string& args) {
  const Node& n = node();
  if (!n.problem.empty()) {
    ADD_FAILURE() << n.problem;
    return {};
  }
  TempFile err;
  const std::string cmd = shell_quote(n.node) + " " + shell_quote(n.script) + " " + args + " 2>" +
                          shell_quote(err.path());
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run " << cmd;
    return {};
  }
  char buf[65536];
  std::size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  const int status = pclose(p);
  if (status != 0) {
    ADD_FAILURE() << "decoder failed (status " << status << "): " << read_file(err.path())
                  << (WEXITSTATUS(status) == 3 ? "\nrun `./run setup` to install the npm packages"
                                               : "");
    return {};
  }
  return out;
}

json decode_payload(const std::string& kind, const std::string& payload) {
  TempFile f;
  f.write(payload);
  const std::string out = run_decoder(kind + " " + shell_quote(f.path()));
  if (out.empty()) return json();
  return json::parse(out);
}

// ---------------------------------------------------------------------------
// What the official decoder should print for our structs: protobufjs
// toObject() with defaults filled, longs as strings, bytes as hex, proto3
// `optional` and oneof members only when present (see decode.js).

std::string hex(const std::uint8_t* b, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}
std::string hex(std::string_view s) {
  return hex(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& a) {
  return hex(a.data(), N);
}

std::string utf8(std::string_view s) {
  std::string out(enc::wire::utf8_sanitized_size(s), '\0');
  bool replaced = false;
  enc::wire::put_utf8_sanitized(reinterpret_cast<std::uint8_t*>(out.data()), s, &replaced);
  return out;
}

json dbl(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return d;
}

json expect_any(const AnyValue& v, int depth = 0);

json expect_kvs(const std::vector<otlp::KeyValue>& list, int depth = 0) {
  json a = json::array();
  for (const auto& kv : list)
    a.push_back({{"key", utf8(kv.key)}, {"value", expect_any(kv.value, depth)}});
  return a;
}

json expect_any(const AnyValue& v, int depth) {
  if (depth >= otlp::kMaxAnyValueDepth) return json::object();
  switch (v.type) {
    case AnyValue::Type::kEmpty:
      return json::object();
    case AnyValue::Type::kString:
      return {{"stringValue", utf8(v.str)}};
    case AnyValue::Type::kBool:
      return {{"boolValue", v.bool_value}};
    case AnyValue::Type::kInt:
      return {{"intValue", std::to_string(v.int_value)}};
    case AnyValue::Type::kDouble:
      return {{"doubleValue", dbl(v.double_value)}};
    case AnyValue::Type::kBytes:
      return {{"bytesValue", hex(v.str)}};
    case AnyValue::Type::kArray: {
      json values = json::array();
      for (const auto& e : v.array) values.push_back(expect_any(e, depth + 1));
      return {{"arrayValue", {{"values", values}}}};
    }
    case AnyValue::Type::kKvList:
      return {{"kvlistValue", {{"values", expect_kvs(v.kvlist, depth + 1)}}}};
  }
  return json();
}

json expect_exemplars(const std::vector<otlp::Exemplar>& list) {
  json a = json::array();
  for (const auto& e : list) {
    json x = {{"filteredAttributes", expect_kvs(e.filtered_attributes)},
              {"timeUnixNano", std::to_string(e.time_unix_nano)},
              {"spanId", e.has_span_id ? hex(e.span_id) : ""},
              {"traceId", e.has_trace_id ? hex(e.trace_id) : ""}};
    if (e.is_int) {
      x["asInt"] = std::to_string(e.int_value);
    } else {
      x["asDouble"] = dbl(e.double_value);
    }
    a.push_back(x);
  }
  return a;
}

json u64s(const std::vector<std::uint64_t>& v) {
  json a = json::array();
  for (const std::uint64_t c : v) a.push_back(std::to_string(c));
  return a;
}

json expect_number_point(const otlp::NumberPoint& p) {
  json j = {{"attributes", expect_kvs(p.attributes)},
            {"exemplars", expect_exemplars(p.exemplars)},
            {"startTimeUnixNano", std::to_string(p.start_time_unix_nano)},
            {"timeUnixNano", std::to_string(p.time_unix_nano)},
            {"flags", p.flags}};
  if (p.is_int) {
    j["asInt"] = std::to_string(p.int_value);
  } else {
    j["asDouble"] = dbl(p.double_value);
  }
  return j;
}

json expect_histogram_point(const otlp::HistogramPoint& p) {
  json bounds = json::array();
  for (const double b : p.bounds) bounds.push_back(dbl(b));
  json j = {{"attributes", expect_kvs(p.attributes)},
            {"exemplars", expect_exemplars(p.exemplars)},
            {"startTimeUnixNano", std::to_string(p.start_time_unix_nano)},
            {"timeUnixNano", std::to_string(p.time_unix_nano)},
            {"count", std::to_string(p.count)},
            {"bucketCounts", u64s(p.bucket_counts)},
            {"explicitBounds", bounds},
            {"flags", p.flags}};
  if (p.has_sum) j["sum"] = dbl(p.sum);
  if (p.has_min_max) {
    j["min"] = dbl(p.min);
    j["max"] = dbl(p.max);
  }
  return j;
}

json expect_buckets(const otlp::ExponentialHistogramPoint::Buckets& b) {
  return {{"offset", b.offset}, {"bucketCounts", u64s(b.counts)}};
}

json expect_exponential_point(const otlp::ExponentialHistogramPoint& p) {
  json j = {{"attributes", expect_kvs(p.attributes)},
            {"exemplars", expect_exemplars(p.exemplars)},
            {"startTimeUnixNano", std::to_string(p.start_time_unix_nano)},
            {"timeUnixNano", std::to_string(p.time_unix_nano)},
            {"count", std::to_string(p.count)},
            {"scale", p.scale},
            {"zeroCount", std::to_string(p.zero_count)},
            {"positive", expect_buckets(p.positive)},
            {"negative", expect_buckets(p.negative)},
            {"flags", p.flags},
            {"zeroThreshold", dbl(p.zero_threshold)}};
  if (p.has_sum) j["sum"] = dbl(p.sum);
  if (p.has_min_max) {
    j["min"] = dbl(p.min);
    j["max"] = dbl(p.max);
  }
  return j;
}

json expect_metric(const otlp::MetricData& m) {
  json j = {{"name", utf8(m.name)}, {"description", utf8(m.description)}, {"unit", utf8(m.unit)}};
  json points = json::array();
  const int temporality = static_cast<int>(m.temporality);
  switch (m.kind) {
    case otlp::MetricKind::kSum:
      for (const auto& p : m.number_points) points.push_back(expect_number_point(p));
      j["sum"] = {{"dataPoints", points},
                  {"aggregationTemporality", temporality},
                  {"isMonotonic", m.monotonic}};
      break;
    case otlp::MetricKind::kGauge:
      for (const auto& p : m.number_points) points.push_back(expect_number_point(p));
      j["gauge"] = {{"dataPoints", points}};
      break;
    case otlp::MetricKind::kHistogram:
      for (const auto& p : m.histogram_points) points.push_back(expect_histogram_point(p));
      j["histogram"] = {{"dataPoints", points}, {"aggregationTemporality", temporality}};
      break;
    case otlp::MetricKind::kExponentialHistogram:
      for (const auto& p : m.exponential_points) points.push_back(expect_exponential_point(p));
      j["exponentialHistogram"] = {{"dataPoints", points}, {"aggregationTemporality", temporality}};
      break;
  }
  return j;
}

json expect_metrics(const otlp::Resource& r, const otlp::Scope& sc,
                    const std::vector<otlp::MetricData>& metrics) {
  json list = json::array();
  for (const auto& m : metrics) list.push_back(expect_metric(m));
  return {{"resourceMetrics",
           {{{"resource",
              {{"attributes", expect_kvs(r.attributes)},
               {"droppedAttributesCount", r.dropped_attributes_count}}},
             {"schemaUrl", utf8(r.schema_url)},
             {"scopeMetrics",
              {{{"scope",
                 {{"attributes", expect_kvs(sc.attributes)},
                  {"name", utf8(sc.name)},
                  {"version", utf8(sc.version)},
                  {"droppedAttributesCount", sc.dropped_attributes_count}}},
                {"schemaUrl", utf8(sc.schema_url)},
                {"metrics", list}}}}}}}};
}

// Field-by-field comparison with a readable difference: an RFC 6902 patch
// that would turn `expected` into `actual`.
void expect_same(const json& actual, const json& expected, const std::string& what) {
  if (actual.is_null()) return;  // the decoder's failure is already reported
  if (actual == expected) return;
  std::string patch = json::diff(expected, actual).dump(1);
  if (patch.size() > 6000) patch = patch.substr(0, 6000) + "\n...";
  ADD_FAILURE() << what << ": values differ; patch from expected to actual:\n" << patch;
}

// Every explicit-bucket point of the decoded request is self-consistent.
void check_histogram_invariants(const json& decoded, std::size_t* checked) {
  for (const json& rm : decoded["resourceMetrics"]) {
    for (const json& sm : rm["scopeMetrics"]) {
      for (const json& m : sm["metrics"]) {
        if (!m.contains("histogram") || m["histogram"].is_null()) continue;
        for (const json& p : m["histogram"]["dataPoints"]) {
          const json& counts = p["bucketCounts"];
          if (counts.empty()) continue;
          EXPECT_EQ(counts.size(), p["explicitBounds"].size() + 1) << m["name"];
          std::uint64_t total = 0;
          for (const json& c : counts) total += std::stoull(c.get<std::string>());
          EXPECT_EQ(std::to_string(total), p["count"].get<std::string>()) << m["name"];
          ++*checked;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Bringing an OTLP/JSON document and a protobuf decode to one shape.

std::string base64_to_hex(const std::string& b64) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string raw;
  unsigned acc = 0;
  int bits = 0;
  for (char c : b64) {
    const int v = val(c);
    if (v < 0) break;  // '=' padding
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return hex(raw);
}

bool is_any_value_key(const std::string& k) {
  return k == "stringValue" || k == "boolValue" || k == "intValue" || k == "doubleValue" ||
         k == "bytesValue" || k == "arrayValue" || k == "kvlistValue";
}

// Drops members holding their proto3 default (the two encodings may differ
// in which defaults they spell out) except AnyValue's oneof members, whose
// presence is meaningful; converts base64 bytesValue to hex when asked.
json normalize(const json& j, bool from_json_encoder) {
  if (j.is_array()) {
    json out = json::array();
    for (const json& e : j) out.push_back(normalize(e, from_json_encoder));
    return out;
  }
  if (!j.is_object()) return j;
  json out = json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = *it;
    if (is_any_value_key(k)) {
      if (k == "bytesValue" && from_json_encoder) {
        out[k] = base64_to_hex(v.get<std::string>());
      } else {
        out[k] = normalize(v, from_json_encoder);
      }
      continue;
    }
    const bool is_default = v.is_null() || (v.is_string() && (v == "" || v == "0")) ||
                            (v.is_number() && v == 0) || (v.is_boolean() && v == false) ||
                            (v.is_array() && v.empty());
    if (is_default) continue;
    out[k] = normalize(v, from_json_encoder);
  }
  return out;
}

bool is_decimal(const json& v) {
  if (!v.is_string()) return false;
  const std::string s = v.get<std::string>();
  return !s.empty() && s.find_first_not_of("-0123456789") == std::string::npos;
}

// OTLP/JSON rules of docs/otlp.md for metrics, on the raw document.
void check_otlp_json_rules(const json& j, const std::string& path = "$") {
  if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      check_otlp_json_rules(j[i], path + "[" + std::to_string(i) + "]");
    }
    return;
  }
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const std::string at = path + "." + k;
    EXPECT_EQ(k.find('_'), std::string::npos) << at << ": keys are lowerCamelCase";
    if (k == "traceId" || k == "spanId") {
      ASSERT_TRUE(it->is_string()) << at;
      const std::string s = it->get<std::string>();
      EXPECT_EQ(s.size(), k == "traceId" ? 32u : 16u) << at;
      EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos)
          << at << " = " << s << ": ids are lowercase hex";
    } else if (k.ends_with("UnixNano") || k == "intValue" || k == "asInt" || k == "count" ||
               k == "zeroCount") {
      EXPECT_TRUE(is_decimal(*it)) << at << " = " << *it << ": 64-bit integers are strings";
    } else if (k == "bucketCounts") {
      ASSERT_TRUE(it->is_array()) << at;
      for (const json& c : *it) EXPECT_TRUE(is_decimal(c)) << at << " = " << c;
    } else if (k == "aggregationTemporality" || k == "scale" || k == "offset" || k == "flags") {
      EXPECT_TRUE(it->is_number_integer()) << at << ": enums and 32-bit integers are numbers";
    } else if (k == "isMonotonic") {
      EXPECT_TRUE(it->is_boolean()) << at;
    } else if (k == "doubleValue" || k == "asDouble" || (k == "sum" && !it->is_object()) ||
               k == "min" || k == "max" || k == "zeroThreshold") {
      EXPECT_TRUE(it->is_number() || *it == "NaN" || *it == "Infinity" || *it == "-Infinity")
          << at << " = " << *it;
    } else if (k == "explicitBounds") {
      for (const json& b : *it) EXPECT_TRUE(b.is_number()) << at << " = " << b;
    }
    check_otlp_json_rules(*it, at);
  }
}

// ---------------------------------------------------------------------------

std::vector<otlp::MetricData> conformance_metrics(std::size_t extra) {
  auto metrics = otlp::testing::rich_metrics(extra);
  otlp::MetricData bad = otlp::testing::gauge_metric("broken \xC3( name \xFF", "m\xE2\x82");
  bad.description = "desc \xF0\x9F\x98";
  bad.number_points.push_back(
      otlp::testing::double_point(1, {{"key\xE2\x82", AnyValue::string("\xF0\x9F\x98")}}));
  metrics.push_back(bad);
  otlp::MetricData deep = otlp::testing::gauge_metric("deep", "");
  AnyValue v = AnyValue::integer(1);
  for (int i = 0; i < otlp::kMaxAnyValueDepth + 3; ++i) v = AnyValue::array_of({std::move(v)});
  deep.number_points.push_back(otlp::testing::int_point(7, {{"deep", std::move(v)}}));
  metrics.push_back(std::move(deep));
  return metrics;
}

TEST(MetricsConformance, ProtobufDecodesWithTheOfficialSchema) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto metrics = conformance_metrics(25);
  std::string payload;
  otlp::EncodeStats stats;
  otlp::encode_metrics_request(resource, scope, metrics, payload, &stats);
  EXPECT_EQ(stats.invalid_utf8_strings, 5u);  // name, unit, description, key, value
  const json decoded = decode_payload("metrics", payload);
  expect_same(decoded, expect_metrics(resource, scope, metrics), "metrics");
  if (decoded.is_null()) return;
  std::size_t checked = 0;
  check_histogram_invariants(decoded, &checked);
  EXPECT_EQ(checked, 4u);  // two default-bounds points, the custom one, the one-bucket one

  // The 16 default buckets arrive as sent.
  const json& latency = decoded["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][6];
  ASSERT_EQ(latency["name"], "emp.job.duration");
  const json& point = latency["histogram"]["dataPoints"][0];
  EXPECT_EQ(point["bucketCounts"].size(), 16u);
  EXPECT_EQ(point["explicitBounds"],
            json({0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000}));
  EXPECT_EQ(point["count"], "500");
}

TEST(MetricsConformance, EncodedMetricSizeMatchesTheBytesWritten) {
  const otlp::Resource resource;
  const otlp::Scope scope;
  const auto metrics = conformance_metrics(10);
  std::string empty, payload;
  otlp::encode_metrics_request(resource, scope, {}, empty);
  otlp::encode_metrics_request(resource, scope, metrics, payload);
  std::size_t sum = 0;
  for (const auto& m : metrics) sum += otlp::encoded_metric_size(m);
  // Only the length prefixes of ResourceMetrics and ScopeMetrics can grow.
  EXPECT_GE(payload.size(), empty.size() + sum);
  EXPECT_LE(payload.size(), empty.size() + sum + 8);
  std::size_t points = 0;
  for (const auto& m : metrics) points += otlp::metric_data_point_count(m);
  EXPECT_EQ(points, 3 + 2 + 2 + 1 + 8 + 1 + 2 + 2 + 4 + 1 + 0 + 10 + 10 + 1 + 1);
  expect_same(decode_payload("metrics", payload), expect_metrics(resource, scope, metrics),
              "metrics, empty resource and scope");
}

TEST(MetricsConformance, ManyPointsInOneRequest) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  auto metrics = otlp::testing::rich_metrics(3000);
  otlp::MetricData histograms = otlp::testing::histogram_metric(
      "emp.many.histograms", "s", otlp::AggregationTemporality::kCumulative);
  for (std::uint32_t i = 0; i < 400; ++i) {
    histograms.histogram_points.push_back(otlp::testing::histogram_of(
        otlp::testing::latency_values(20 + i % 50, i), otlp::testing::default_bounds()));
    histograms.histogram_points.back().attributes = {
        {"shard", AnyValue::integer(static_cast<std::int64_t>(i))}};
  }
  metrics.push_back(std::move(histograms));
  const otlp::ProtoPrelude prelude(resource, scope);
  std::string payload;
  otlp::encode_metrics_request(prelude, metrics, payload);
  EXPECT_GT(payload.size(), 300000u);
  const json decoded = decode_payload("metrics", payload);
  expect_same(decoded, expect_metrics(resource, scope, metrics), "6000+ points");
  if (decoded.is_null()) return;
  std::size_t checked = 0;
  check_histogram_invariants(decoded, &checked);
  EXPECT_EQ(checked, 404u);
}

TEST(MetricsConformance, GzipPayloadInflatesWithNodeZlib) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto metrics = otlp::testing::rich_metrics(300);
  std::string payload, compressed;
  otlp::encode_metrics_request(resource, scope, metrics, payload);
  ASSERT_TRUE(enc::gzip_compress(payload, compressed));
  EXPECT_LT(compressed.size(), payload.size());
  expect_same(decode_payload("metrics.gz", compressed), expect_metrics(resource, scope, metrics),
              "gzip metrics");
}

TEST(MetricsConformance, JsonCarriesTheSameValuesAsProtobuf) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto metrics = conformance_metrics(30);
  std::string proto, text;
  otlp::EncodeStats proto_stats, json_stats;
  otlp::encode_metrics_request(resource, scope, metrics, proto, &proto_stats);
  otlp::encode_metrics_request_json(resource, scope, metrics, text, &json_stats);
  EXPECT_EQ(json_stats.invalid_utf8_strings, proto_stats.invalid_utf8_strings);
  const json doc = json::parse(text);
  check_otlp_json_rules(doc);
  const json decoded = decode_payload("metrics", proto);
  ASSERT_FALSE(decoded.is_null());
  expect_same(normalize(doc, true), normalize(decoded, false), "metrics JSON vs protobuf");

  // The prelude form gives the same text.
  std::string again;
  otlp::encode_metrics_request_json(otlp::JsonPrelude(resource, scope), metrics, again);
  EXPECT_EQ(again, text);
}

}  // namespace
