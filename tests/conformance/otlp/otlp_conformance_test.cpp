// Conformance of the OTLP encoders, judged by a decoder nobody here wrote:
// the official opentelemetry-proto schema compiled by protobufjs, as shipped
// in npm @opentelemetry/otlp-transformer@0.52.1 (see decode.js).
//
//  - protobuf payloads (traces and logs, plain and gzip-compressed) decode
//    with the official schema to exactly the values recorded, field by field;
//  - the OTLP/JSON payload of the same batch carries the same values (after
//    converting representations) and follows the OTLP/JSON rules;
//  - responses encoded with the official schema parse to the same partial
//    success.
// Needs node and the npm packages: `./run setup` installs both. Without them
// the test fails (it never skips), saying so.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "encode/gzip.hpp"
#include "encode/otlp_json.hpp"
#include "encode/otlp_proto.hpp"
#include "encode/otlp_response.hpp"
#include "encode/proto_wire.hpp"
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
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/emp_otlp_conf_XXXXXX";
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
// toObject() with defaults filled, bytes as hex (see decode.js).

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

// Strings travel as UTF-8 with ill-formed parts replaced.
std::string utf8(std::string_view s) {
  std::string out(enc::wire::utf8_sanitized_size(s), '\0');
  bool replaced = false;
  enc::wire::put_utf8_sanitized(reinterpret_cast<std::uint8_t*>(out.data()), s, &replaced);
  return out;
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
    case AnyValue::Type::kDouble: {
      const double d = v.double_value;
      if (std::isnan(d)) return {{"doubleValue", "NaN"}};
      if (std::isinf(d)) return {{"doubleValue", d > 0 ? "Infinity" : "-Infinity"}};
      return {{"doubleValue", d}};
    }
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

json expect_resource(const otlp::Resource& r) {
  return {{"attributes", expect_kvs(r.attributes)},
          {"droppedAttributesCount", r.dropped_attributes_count}};
}

json expect_scope(const otlp::Scope& s) {
  return {{"attributes", expect_kvs(s.attributes)},
          {"name", utf8(s.name)},
          {"version", utf8(s.version)},
          {"droppedAttributesCount", s.dropped_attributes_count}};
}

json expect_span(const otlp::SpanData& s) {
  json events = json::array();
  for (const auto& e : s.events) {
    events.push_back({{"attributes", expect_kvs(e.attributes)},
                      {"timeUnixNano", std::to_string(e.time_unix_nano)},
                      {"name", utf8(e.name)},
                      {"droppedAttributesCount", e.dropped_attributes_count}});
  }
  json links = json::array();
  for (const auto& l : s.links) {
    links.push_back({{"attributes", expect_kvs(l.attributes)},
                     {"traceId", hex(l.trace_id)},
                     {"spanId", hex(l.span_id)},
                     {"traceState", utf8(l.trace_state)},
                     {"droppedAttributesCount", l.dropped_attributes_count},
                     {"flags", l.flags}});
  }
  json status;  // null when unset
  if (s.status.code != otlp::StatusCode::kUnset || !s.status.message.empty()) {
    status = {{"message", utf8(s.status.message)}, {"code", static_cast<int>(s.status.code)}};
  }
  return {{"attributes", expect_kvs(s.attributes)},
          {"events", events},
          {"links", links},
          {"traceId", hex(s.trace_id)},
          {"spanId", hex(s.span_id)},
          {"traceState", utf8(s.trace_state)},
          {"parentSpanId", s.has_parent ? hex(s.parent_span_id) : ""},
          {"name", utf8(s.name)},
          {"kind", static_cast<int>(s.kind)},
          {"startTimeUnixNano", std::to_string(s.start_time_unix_nano)},
          {"endTimeUnixNano", std::to_string(s.end_time_unix_nano)},
          {"droppedAttributesCount", s.dropped_attributes_count},
          {"droppedEventsCount", s.dropped_events_count},
          {"droppedLinksCount", s.dropped_links_count},
          {"status", status},
          {"flags", s.flags}};
}

json expect_log(const otlp::LogData& l) {
  json body;  // null when absent
  if (l.body.type != AnyValue::Type::kEmpty) body = expect_any(l.body);
  return {{"attributes", expect_kvs(l.attributes)},
          {"timeUnixNano", std::to_string(l.time_unix_nano)},
          {"observedTimeUnixNano", std::to_string(l.observed_time_unix_nano)},
          {"severityNumber", l.severity_number},
          {"severityText", utf8(l.severity_text)},
          {"body", body},
          {"droppedAttributesCount", l.dropped_attributes_count},
          {"flags", l.flags},
          {"traceId", l.has_trace_id ? hex(l.trace_id) : ""},
          {"spanId", l.has_span_id ? hex(l.span_id) : ""},
          {"eventName", utf8(l.event_name)}};
}

json expect_traces(const otlp::Resource& r, const otlp::Scope& sc,
                   const std::vector<otlp::SpanData>& spans) {
  json list = json::array();
  for (const auto& s : spans) list.push_back(expect_span(s));
  return {
      {"resourceSpans",
       {{{"resource", expect_resource(r)},
         {"schemaUrl", utf8(r.schema_url)},
         {"scopeSpans",
          {{{"scope", expect_scope(sc)}, {"schemaUrl", utf8(sc.schema_url)}, {"spans", list}}}}}}}};
}

json expect_logs(const otlp::Resource& r, const otlp::Scope& sc,
                 const std::vector<otlp::LogData>& logs) {
  json list = json::array();
  for (const auto& l : logs) list.push_back(expect_log(l));
  return {{"resourceLogs",
           {{{"resource", expect_resource(r)},
             {"schemaUrl", utf8(r.schema_url)},
             {"scopeLogs",
              {{{"scope", expect_scope(sc)},
                {"schemaUrl", utf8(sc.schema_url)},
                {"logRecords", list}}}}}}}};
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
                            (v.is_number() && v == 0) || (v.is_array() && v.empty());
    if (is_default) continue;
    out[k] = normalize(v, from_json_encoder);
  }
  return out;
}

// OTLP/JSON rules of docs/otlp.md, checked on the raw document.
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
    if (k == "traceId" || k == "spanId" || k == "parentSpanId") {
      ASSERT_TRUE(it->is_string()) << at;
      const std::string s = it->get<std::string>();
      EXPECT_EQ(s.size(), k == "traceId" ? 32u : 16u) << at;
      EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos)
          << at << " = " << s << ": ids are lowercase hex";
    } else if (k.ends_with("UnixNano") || k == "intValue") {
      ASSERT_TRUE(it->is_string()) << at << ": 64-bit integers are decimal strings";
      const std::string s = it->get<std::string>();
      EXPECT_EQ(s.find_first_not_of("-0123456789"), std::string::npos) << at << " = " << s;
    } else if (k == "kind" || k == "code" || k == "severityNumber") {
      EXPECT_TRUE(it->is_number_integer()) << at << ": enums are integers";
    } else if (k == "doubleValue") {
      EXPECT_TRUE(it->is_number() || *it == "NaN" || *it == "Infinity" || *it == "-Infinity") << at;
    }
    check_otlp_json_rules(*it, at);
  }
}

// ---------------------------------------------------------------------------
// Batches

std::vector<otlp::SpanData> conformance_spans(std::size_t extra) {
  auto spans = otlp::testing::rich_spans(extra);
  otlp::SpanData bad;  // ill-formed UTF-8 is repaired, never sent raw
  bad.trace_id = otlp::testing::make_trace_id(77);
  bad.span_id = otlp::testing::make_span_id(77);
  bad.name = "broken \xC3( name \xFF";
  bad.attributes = {{"key\xE2\x82", AnyValue::string("\xF0\x9F\x98")}};
  spans.push_back(bad);
  otlp::SpanData deep;  // nesting beyond the encoder's limit
  deep.trace_id = otlp::testing::make_trace_id(78);
  deep.span_id = otlp::testing::make_span_id(78);
  AnyValue v = AnyValue::integer(1);
  for (int i = 0; i < otlp::kMaxAnyValueDepth + 3; ++i) v = AnyValue::array_of({std::move(v)});
  deep.attributes = {{"deep", std::move(v)}};
  spans.push_back(std::move(deep));
  return spans;
}

TEST(OtlpConformance, TracesProtobufDecodesWithTheOfficialSchema) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto spans = conformance_spans(20);
  std::string payload;
  otlp::encode_traces_request(resource, scope, spans, payload);
  expect_same(decode_payload("traces", payload), expect_traces(resource, scope, spans), "traces");
}

TEST(OtlpConformance, ManySpansInOneRequest) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto spans = otlp::testing::rich_spans(3000);
  const otlp::ProtoPrelude prelude(resource, scope);
  std::string payload;
  otlp::encode_traces_request(prelude, spans, payload);
  EXPECT_GT(payload.size(), 300000u);
  expect_same(decode_payload("traces", payload), expect_traces(resource, scope, spans),
              "3004 spans");
}

TEST(OtlpConformance, EmptyResourceAndScope) {
  const otlp::Resource resource;
  const otlp::Scope scope;
  const auto spans = otlp::testing::rich_spans(0);
  std::string payload;
  otlp::encode_traces_request(resource, scope, spans, payload);
  expect_same(decode_payload("traces", payload), expect_traces(resource, scope, spans),
              "traces, empty resource and scope");
}

TEST(OtlpConformance, GzipPayloadInflatesWithNodeZlib) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto spans = otlp::testing::rich_spans(200);
  std::string payload, compressed;
  otlp::encode_traces_request(resource, scope, spans, payload);
  ASSERT_TRUE(enc::gzip_compress(payload, compressed));
  EXPECT_LT(compressed.size(), payload.size());
  expect_same(decode_payload("traces.gz", compressed), expect_traces(resource, scope, spans),
              "gzip traces");

  const auto logs = otlp::testing::rich_logs(200);
  payload.clear();
  otlp::encode_logs_request(resource, scope, logs, payload);
  ASSERT_TRUE(enc::gzip_compress(payload, compressed, 1));
  expect_same(decode_payload("logs.gz", compressed), expect_logs(resource, scope, logs),
              "gzip logs");
}

TEST(OtlpConformance, LogsProtobufDecodesWithTheOfficialSchema) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  auto logs = otlp::testing::rich_logs(50);
  otlp::LogData bad;
  bad.severity_text = "W\xFF";
  bad.body = AnyValue::string("\xED\xA0\x80 surrogate");
  bad.event_name = "ev\xC0";
  logs.push_back(bad);
  std::string payload;
  otlp::encode_logs_request(resource, scope, logs, payload);
  expect_same(decode_payload("logs", payload), expect_logs(resource, scope, logs), "logs");
}

TEST(OtlpConformance, TracesJsonCarriesTheSameValuesAsProtobuf) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto spans = conformance_spans(30);
  std::string proto, text;
  otlp::encode_traces_request(resource, scope, spans, proto);
  otlp::encode_traces_request_json(resource, scope, spans, text);
  const json doc = json::parse(text);
  check_otlp_json_rules(doc);
  const json decoded = decode_payload("traces", proto);
  ASSERT_FALSE(decoded.is_null());
  expect_same(normalize(doc, true), normalize(decoded, false), "traces JSON vs protobuf");
}

TEST(OtlpConformance, LogsJsonCarriesTheSameValuesAsProtobuf) {
  const auto resource = otlp::testing::sample_resource();
  const auto scope = otlp::testing::sample_scope();
  const auto logs = otlp::testing::rich_logs(30);
  std::string proto, text;
  otlp::encode_logs_request(resource, scope, logs, proto);
  otlp::encode_logs_request_json(resource, scope, logs, text);
  const json doc = json::parse(text);
  check_otlp_json_rules(doc);
  const json decoded = decode_payload("logs", proto);
  ASSERT_FALSE(decoded.is_null());
  expect_same(normalize(doc, true), normalize(decoded, false), "logs JSON vs protobuf");
}

TEST(OtlpConformance, ResponsesFromTheOfficialSchemaParse) {
  struct Case {
    const char* signal;
    const char* rejected;
    std::string message;
  } cases[] = {
      {"traces", "7", "7 spans had an invalid trace id"},
      {"logs", "123456789012", "caf\xC3\xA9 \xF0\x9F\x98\x80"},
      {"metrics", "0", "only a warning"},
      {"traces", "9223372036854775807", ""},
  };
  for (const Case& c : cases) {
    TempFile f;
    run_decoder(std::string("encode-response ") + c.signal + " " + c.rejected + " " +
                shell_quote(c.message) + " " + shell_quote(f.path()));
    const std::string body = read_file(f.path());
    const auto r = otlp::parse_partial_success_proto(body);
    ASSERT_TRUE(r.ok) << c.signal << ": " << r.error;
    EXPECT_EQ(std::to_string(r.rejected), c.rejected) << c.signal;
    EXPECT_EQ(r.message, c.message) << c.signal;
  }
  // The official decoder reads our understanding of the message back.
  TempFile f;
  run_decoder("encode-response logs 3 " + shell_quote("x") + " " + shell_quote(f.path()));
  const json decoded = decode_payload("logs-response", read_file(f.path()));
  EXPECT_EQ(decoded["partialSuccess"]["rejectedLogRecords"], "3");
  EXPECT_EQ(decoded["partialSuccess"]["errorMessage"], "x");
}

}  // namespace
