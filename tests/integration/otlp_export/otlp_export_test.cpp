// Client -> OTLP/HTTP -> a real loopback collector. Payloads are decoded by
// the official OTLP schema (node + @opentelemetry/otlp-transformer) and
// compared with what was recorded; every response class ends in the right
// counter.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "emp/telemetry/client.hpp"
#include "support/loopback_collector.hpp"
#include "support/otlp_decoder.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using emp::telemetry::testing::LoopbackCollector;
using emp::telemetry::testing::RecordedRequest;
using emp::telemetry::testing::Response;
using nlohmann::json;

// Runs the official-schema decoder on a payload; fails the test when node or
// the schema is missing (./run setup installs both).
json decode(const std::string& kind, const std::string& bytes) {
  return emp::telemetry::testing::decode_otlp(kind, bytes);
}

DestinationHealth traces_destination(const HealthSnapshot& h) {
  for (auto& d : h.destinations)
    if (d.track == Track::kTraces) return d;
  ADD_FAILURE() << "no traces destination";
  return {};
}

class OtlpExport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-otlp-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Client make(std::map<std::string, std::string> env) {
    Options o;
    o.preset = Preset::kApi;
    o.service_name = "otlp-test";
    o.machine_id = "m1";
    o.log_dir = dir_.string();
    o.env = [env](std::string_view k) -> std::optional<std::string> {
      auto it = env.find(std::string(k));
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    auto c = Client::create(o);
    if (!c) {
      for (auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }
  std::vector<RecordedRequest> requests_to(const std::string& path) {
    std::vector<RecordedRequest> out;
    for (auto& r : collector_.requests())
      if (r.target == path) out.push_back(r);
    return out;
  }

  LoopbackCollector collector_;
  fs::path dir_;
};

TEST_F(OtlpExport, SpansArriveAsProtobufThatTheOfficialSchemaDecodes) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url() + "/base/"},
                 {"OTEL_EXPORTER_OTLP_HEADERS", "x-team=gpu%20workers,x-other=1"}});
  std::string trace_id, parent_id;
  {
    auto root = c.tracer().start_span("job.process", {.kind = SpanKind::kConsumer});
    root.set_attribute("job.id", "job-42");
    root.set_attribute("job.priority", std::int64_t{-3});
    root.set_attribute("gpu.util", 0.75);
    root.set_attribute("job.success", false);
    root.set_attribute("models", std::vector<std::string>{"sdxl", "flux"});
    trace_id = root.context().trace_id.to_hex();
    parent_id = root.context().span_id.to_hex();
    Scope scope(root);
    auto child = c.tracer().start_span("process.image_generation");
    child.add_event("step", {{"n", 7}});
    child.set_status(StatusCode::kError, "cuda oom");
  }
  ASSERT_TRUE(c.flush(10s));
  auto reqs = requests_to("/base/v1/traces");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].header("content-type").value_or(""), "application/x-protobuf");
  EXPECT_EQ(reqs[0].header("x-team").value_or(""), "gpu workers");
  json d = decode("traces", reqs[0].body);
  auto& rs = d["resourceSpans"][0];
  std::map<std::string, json> res;
  for (auto& a : rs["resource"]["attributes"]) res[a["key"]] = a["value"];
  EXPECT_EQ(res["service.name"]["stringValue"], "otlp-test");
  EXPECT_EQ(res["service_type"]["stringValue"], "api");
  EXPECT_EQ(res["machine_id"]["stringValue"], "m1");
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "emp-telemetry");
  auto& spans = rs["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 2u);
  auto& child = spans[0];
  auto& root = spans[1];
  EXPECT_EQ(root["traceId"], trace_id);
  EXPECT_EQ(root["spanId"], parent_id);
  EXPECT_EQ(child["traceId"], trace_id);
  EXPECT_EQ(child["parentSpanId"], parent_id);
  EXPECT_EQ(root["kind"], 5);
  EXPECT_EQ(child["status"]["code"], 2);
  EXPECT_EQ(child["status"]["message"], "cuda oom");
  EXPECT_EQ(child["events"][0]["name"], "step");
  std::map<std::string, json> attrs;
  for (auto& a : root["attributes"]) attrs[a["key"]] = a["value"];
  EXPECT_EQ(attrs["job.id"]["stringValue"], "job-42");
  EXPECT_EQ(attrs["job.priority"]["intValue"], "-3");
  EXPECT_EQ(attrs["gpu.util"]["doubleValue"], 0.75);
  EXPECT_EQ(attrs["job.success"]["boolValue"], false);
  EXPECT_EQ(attrs["models"]["arrayValue"]["values"][1]["stringValue"], "flux");
  EXPECT_EQ(root["flags"].get<int>() & 0x1, 1);  // sampled
  auto h = c.health();
  EXPECT_EQ(h.track(Track::kTraces).written, 2u);
  auto dest = traces_destination(h);
  EXPECT_NE(dest.name.find("/base/v1/traces"), std::string::npos);
  EXPECT_EQ(dest.delivered, 2u);
}

TEST_F(OtlpExport, GzipJsonAndPerSignalEndpointAreHonoured) {
  auto c = make({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector_.url("/custom/path")},
                 {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                 {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}});
  { auto s = c.tracer().start_span("job.submit"); }
  ASSERT_TRUE(c.flush(10s));
  auto reqs = requests_to("/custom/path");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].gzip);
  EXPECT_EQ(reqs[0].header("content-type").value_or(""), "application/json");
  json j = json::parse(reqs[0].body);
  auto& span = j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(span["name"], "job.submit");
  EXPECT_TRUE(span["startTimeUnixNano"].is_string());
  EXPECT_EQ(span["traceId"].get<std::string>().size(), 32u);
}

// EMP_COMPRESSION_LEVEL reaches the wire: level 0 sends stored (larger than
// the body) gzip, level 9 a body less than half its size; both inflate to
// valid requests.
TEST_F(OtlpExport, CompressionLevelIsAppliedToTheBody) {
  std::size_t stored_wire = 0, stored_body = 0, packed_wire = 0, packed_body = 0;
  for (const char* level : {"0", "9"}) {
    const std::string path = std::string("/level") + level;
    auto c = make({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector_.url(path)},
                   {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
                   {"EMP_COMPRESSION_LEVEL", level}});
    for (int i = 0; i < 50; ++i) {
      auto s = c.tracer().start_span("job.process");
      s.set_attribute("job.type", "txt2img");
      s.set_attribute("job.index", i);
    }
    ASSERT_TRUE(c.flush(10s));
    auto reqs = requests_to(path);
    ASSERT_FALSE(reqs.empty()) << level;
    for (const auto& r : reqs) {
      EXPECT_TRUE(r.gzip);
      EXPECT_FALSE(r.decode_error);
      (level[0] == '0' ? stored_wire : packed_wire) += r.wire_body.size();
      (level[0] == '0' ? stored_body : packed_body) += r.body.size();
    }
  }
  EXPECT_GT(stored_wire, stored_body);      // stored blocks add framing, never shrink
  EXPECT_LT(packed_wire * 2, packed_body);  // only the random ids resist compression
}

TEST_F(OtlpExport, Dash0RoutingAddsBearerAndDatasetWithoutLeakingTheKey) {
  auto c = make({{"DASH0_OTLP_BASE_URL", collector_.base_url()},
                 {"DASH0_API_KEY", "auth_SECRETKEY123"},
                 {"DASH0_DATASET", "gpu-fleet"}});
  { auto s = c.tracer().start_span("job.submit"); }
  ASSERT_TRUE(c.flush(10s));
  auto reqs = requests_to("/v1/traces");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("authorization").value_or(""), "Bearer auth_SECRETKEY123");
  EXPECT_EQ(reqs[0].header("dash0-dataset").value_or(""), "gpu-fleet");
  auto h = c.health();
  for (auto& d : h.destinations) EXPECT_EQ(d.name.find("SECRETKEY"), std::string::npos);
  for (auto& s : c.config().settings) EXPECT_EQ(s.display.find("SECRETKEY"), std::string::npos);
}

TEST_F(OtlpExport, LogRecordsGoToV1LogsWithTraceIds) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()}});
  std::string trace_id;
  {
    auto s = c.tracer().start_span("job.process");
    trace_id = s.context().trace_id.to_hex();
    Scope scope(s);
    c.log().warn("slow step", {{"step", "vae"}, {"ms", 1234}});
  }
  ASSERT_TRUE(c.flush(10s));
  auto reqs = requests_to("/v1/logs");
  ASSERT_EQ(reqs.size(), 1u);
  json d = decode("logs", reqs[0].body);
  auto& rec = d["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
  EXPECT_EQ(rec["severityNumber"], 13);
  EXPECT_EQ(rec["severityText"], "WARN");
  EXPECT_EQ(rec["body"]["stringValue"], "slow step");
  EXPECT_EQ(rec["traceId"], trace_id);
  std::map<std::string, json> attrs;
  for (auto& a : rec["attributes"]) attrs[a["key"]] = a["value"];
  EXPECT_EQ(attrs["step"]["stringValue"], "vae");
  EXPECT_EQ(attrs["ms"]["intValue"], "1234");
  EXPECT_NE(rec["timeUnixNano"], "0");
  EXPECT_NE(rec["observedTimeUnixNano"], "0");
  // The JSON-lines file still has the line.
  EXPECT_EQ(c.health().track(Track::kLogs).written, 1u);
}

TEST_F(OtlpExport, ErrorLogWithTheExceptionCarriesItsTypeAndMessage) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()}});
  try {
    throw std::out_of_range("index 7 past the end");
  } catch (const std::exception& e) {
    c.log().error("lookup failed", e, {{"job_id", "job-x"}});
  }
  ASSERT_TRUE(c.flush(10s));
  auto reqs = requests_to("/v1/logs");
  ASSERT_EQ(reqs.size(), 1u);
  json d = decode("logs", reqs[0].body);
  auto& rec = d["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
  EXPECT_EQ(rec["severityText"], "ERROR");
  std::map<std::string, json> attrs;
  for (auto& a : rec["attributes"]) attrs[a["key"]] = a["value"];
  EXPECT_EQ(attrs["exception.type"]["stringValue"], "std::out_of_range");
  EXPECT_EQ(attrs["exception.message"]["stringValue"], "index 7 past the end");
  EXPECT_EQ(attrs["job_id"]["stringValue"], "job-x");
  // The same fields in the JSON line.
  std::ifstream in(std::filesystem::path(c.config().log_dir) / c.config().log_file);
  std::string line;
  std::getline(in, line);
  const json j = json::parse(line);
  EXPECT_EQ(j["exception.type"], "std::out_of_range");
  EXPECT_EQ(j["exception.message"], "index 7 past the end");
  EXPECT_EQ(j["message"], "lookup failed");
}

TEST_F(OtlpExport, EachResponseClassEndsInTheRightCounter) {
  // Only spans go to this collector: the queued responses are meant for them.
  auto c = make({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector_.url("/v1/traces")},
                 {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2"},
                 {"OTEL_BSP_MAX_QUEUE_SIZE", "2"},
                 {"EMP_RETRY_INITIAL_INTERVAL", "10ms"}});
  collector_.enqueue(Response::partial_success_proto(1, "bad attribute"));
  collector_.enqueue(Response::with_status(400, "undecodable"));
  collector_.enqueue(Response::with_status(503, "busy"));  // retried, then the default 200
  collector_.enqueue(Response::ok(""));
  for (int batch = 0; batch < 4; ++batch) {
    for (int i = 0; i < 2; ++i) {
      auto s = c.tracer().start_span("x");
    }
    ASSERT_TRUE(c.flush(10s));
  }
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, 8u);
  EXPECT_EQ(h.written, 5u);                             // 1 of the partial + 2 retried + 2 ok
  EXPECT_EQ(h.dropped_for(DropReason::kRejected), 3u);  // 1 partial + 2 from the 400
  EXPECT_EQ(h.written + h.dropped_total(), h.offered);
  EXPECT_EQ(requests_to("/v1/traces").size(), 5u);  // the 400 was not retried
  EXPECT_EQ(traces_destination(c.health()).retried, 1u);
  EXPECT_NE(c.health().last_error.find("503"), std::string::npos);
}

TEST_F(OtlpExport, KeepAliveReusesOneConnection) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()}});
  for (int i = 0; i < 5; ++i) {
    { auto s = c.tracer().start_span("x"); }
    ASSERT_TRUE(c.flush(10s));
  }
  auto reqs = requests_to("/v1/traces");
  ASSERT_EQ(reqs.size(), 5u);
  for (auto& r : reqs) EXPECT_EQ(r.connection_id, reqs[0].connection_id);
  EXPECT_EQ(traces_destination(c.health()).connections_opened, 1u);
}

TEST_F(OtlpExport, ShutdownKeepsItsDeadlineAgainstAHungCollector) {
  collector_.set_default(Response::hang());
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()}});
  { auto s = c.tracer().start_span("x"); }
  EXPECT_FALSE(c.flush(300ms));
  auto start = std::chrono::steady_clock::now();
  c.shutdown(500ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, 1u);
  EXPECT_EQ(h.dropped_for(DropReason::kShutdown), 1u);
}

}  // namespace
}  // namespace emp::telemetry
