// The viewer end to end over loopback: the project's own client sends a
// job's spans, logs and metrics (OTLP protobuf, OTLP/JSON, gzip), the
// project's encoders send operational events, a Sentry envelope carries the
// job's error; the read API then shows the job correlated across all of them.
// Malformed bodies are answered 400/415 with what was wrong and store nothing.
// The forward port takes the client's Fluentd records (logs and events),
// acks what it stored, and refuses malformed frames without an ack.
#include <chrono>
#include <span>

#include "emp/telemetry/events.hpp"
#include "emp/telemetry/log.hpp"
#include "emp/telemetry/metrics.hpp"
#include "emp/telemetry/trace.hpp"
#include "encode/gzip.hpp"
#include "encode/msgpack_writer.hpp"
#include "encode/otlp_json.hpp"
#include "encode/otlp_proto.hpp"
#include "forward/forward_protocol.hpp"
#include "forward/tcp_stream.hpp"
#include "viewer_support.hpp"

namespace emp::telemetry::viewer_test {
namespace {

using namespace std::chrono_literals;
namespace otlp = encode::otlp;

// Runs one job the way a worker does: job.process (job.id) with a child
// span that fails, logs with job_id inside the span, a metric with job_id.
// Returns the trace id.
std::string run_job(Client& c, const std::string& job_id) {
  std::string trace_id;
  auto root = c.tracer().start_span("job.process", {.kind = SpanKind::kConsumer});
  root.set_attribute("job.id", job_id);
  root.set_attribute("job.worker", "gpu-7-worker-0");
  trace_id = root.context().trace_id.to_hex();
  {
    Scope scope(root);
    c.log().info("job started", {{"job_id", job_id}});
    auto child = c.tracer().start_span("process.image_generation");
    child.set_status(StatusCode::kError, "cuda oom");
    child.end();
    c.log().error("job failed: cuda oom", {{"job_id", job_id}});
    c.metrics().counter("jobs_failed_total", 1, {{"job_id", job_id}});
  }
  root.set_attribute("job.final_status", "failed");
  root.end();
  return trace_id;
}

void expect_job(const json& doc, const std::string& job_id, const std::string& trace_id) {
  EXPECT_EQ(doc["job"]["job_id"], job_id);
  EXPECT_EQ(doc["job"]["status"], "failed");
  EXPECT_EQ(doc["job"]["service"], "viewer-test-worker");
  EXPECT_EQ(doc["job"]["worker"], "gpu-7-worker-0");
  EXPECT_EQ(doc["job"]["trace_id"], trace_id);
  EXPECT_EQ(span_names(doc), (std::vector<std::string>{"job.process", "process.image_generation"}));
  ASSERT_EQ(doc["spans"].size(), 2u);
  EXPECT_EQ(doc["spans"][1]["status_code"], 2);
  EXPECT_EQ(doc["spans"][1]["status_message"], "cuda oom");
  EXPECT_EQ(doc["spans"][1]["parent_span_id"], doc["spans"][0]["span_id"]);
  EXPECT_EQ(doc["spans"][0]["attributes"]["job.id"], job_id);
  ASSERT_EQ(doc["logs"].size(), 2u);
  EXPECT_EQ(doc["logs"][0]["body"], "job started");
  EXPECT_EQ(doc["logs"][1]["body"], "job failed: cuda oom");
  EXPECT_EQ(doc["logs"][1]["trace_id"], trace_id);
  bool metric = false;
  for (const auto& m : doc["metrics"]) metric = metric || m["name"] == "jobs_failed_total";
  EXPECT_TRUE(metric) << doc["metrics"].dump();
  // The timeline interleaves spans and logs in time order.
  std::int64_t last = 0;
  for (const auto& e : doc["timeline"]) {
    EXPECT_GE(e["time_ns"].get<std::int64_t>(), last);
    last = e["time_ns"];
  }
  EXPECT_EQ(doc["timeline"].size(), 4u);
}

TEST_F(ViewerFixture, ClientJobOverOtlpProtobufIsOneCorrelatedJob) {
  auto c = client();
  const std::string trace_id = run_job(c, "job-proto-1");
  ASSERT_TRUE(c.flush(20s));
  ASSERT_TRUE(viewer_->flush(20s));
  expect_job(get_json("/api/jobs/job-proto-1"), "job-proto-1", trace_id);

  const json jobs = get_json("/api/jobs");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["job_id"], "job-proto-1");
  EXPECT_EQ(jobs[0]["status"], "failed");
  EXPECT_EQ(jobs[0]["error_count"], 1);
  EXPECT_EQ(jobs[0]["spans"], 2);
  EXPECT_EQ(jobs[0]["logs"], 2);
  EXPECT_EQ(jobs[0]["machine"], "gpu-7");

  const json trace = get_json("/api/traces/" + trace_id);
  EXPECT_EQ(span_names(trace),
            (std::vector<std::string>{"job.process", "process.image_generation"}));
  EXPECT_EQ(trace["job_ids"], json::array({"job-proto-1"}));
  EXPECT_EQ(trace["logs"].size(), 2u);

  const json found = get_json("/api/search?q=cuda%20oom");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["job_id"], "job-proto-1");
  EXPECT_EQ(get_json("/api/search?q=no%20such%20text").size(), 0u);
  EXPECT_EQ(viewer_->stats().requests_invalid, 0u);
}

TEST_F(ViewerFixture, ClientJobOverOtlpJsonWithGzip) {
  auto c = client(
      {{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}, {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}});
  const std::string trace_id = run_job(c, "job-json-1");
  ASSERT_TRUE(c.flush(20s));
  ASSERT_TRUE(viewer_->flush(20s));
  expect_job(get_json("/api/jobs/job-json-1"), "job-json-1", trace_id);
}

TEST_F(ViewerFixture, OperationalEventsGoToTheEventsTable) {
  otlp::Resource resource;
  resource.attributes = {{"service.name", otlp::AnyValue::string("api")}};
  otlp::LogData event;
  event.time_unix_nano = 1764057369000000000ull;
  event.event_name = "job_completed";
  event.body = otlp::AnyValue::string("job completed in 1.2 s");
  event.attributes = {{"event.name", otlp::AnyValue::string("job_completed")},
                      {"job_id", otlp::AnyValue::string("job-ev-1")}};
  otlp::LogData plain;
  plain.time_unix_nano = event.time_unix_nano - 1000;
  plain.body = otlp::AnyValue::string("claimed");
  plain.attributes = {{"job_id", otlp::AnyValue::string("job-ev-1")}};
  const std::vector<otlp::LogData> records = {plain, event};
  for (const bool json_format : {false, true}) {
    std::string body;
    if (json_format) {
      otlp::encode_logs_request_json(resource, {}, records, body);
    } else {
      otlp::encode_logs_request(resource, {}, records, body);
    }
    auto r = http_request(viewer_->url() + "/v1/logs", true, body,
                          json_format ? "application/json" : "application/x-protobuf");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  ASSERT_TRUE(viewer_->flush(20s));
  // Both encodings are stored; the job shows each record once.
  const json stats = get_json("/api/stats");
  EXPECT_EQ(stats["events"], 2);
  EXPECT_EQ(stats["logs"], 2);
  const json doc = get_json("/api/jobs/job-ev-1");
  ASSERT_EQ(doc["events"].size(), 1u);
  EXPECT_EQ(doc["events"][0]["event_name"], "job_completed");
  EXPECT_EQ(doc["events"][0]["body"], "job completed in 1.2 s");
  EXPECT_EQ(doc["logs"].size(), 1u);
  EXPECT_EQ(doc["job"]["status"], "completed");
  EXPECT_EQ(doc["job"]["events"], 2);
}

TEST_F(ViewerFixture, SentryEnvelopeErrorJoinsItsJob) {
  auto c = client();
  const std::string trace_id = run_job(c, "job-sentry-1");
  ASSERT_TRUE(c.flush(20s));
  const std::string event_id = "fc6d8c0c43fc4630ad850ee518f1b9d0";
  const std::string envelope =
      sentry_envelope(event_id, "job-sentry-1", trace_id, "model weights missing");
  // Plain, then the same gzip-compressed (a second event with its own id).
  auto r = http_request(viewer_->url() + "/api/1/envelope/", true, envelope,
                        "application/x-sentry-envelope");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["id"], event_id);
  std::string gz;
  ASSERT_TRUE(encode::gzip_compress(
      sentry_envelope("0000000000000000000000000000beef", "job-sentry-1", trace_id, "again"), gz));
  r = http_request(viewer_->url() + "/api/42/envelope/", true, gz, "application/x-sentry-envelope",
                   {"Content-Encoding: gzip"});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(viewer_->flush(20s));

  const json doc = get_json("/api/jobs/job-sentry-1");
  ASSERT_EQ(doc["errors"].size(), 2u);
  const json& e = doc["errors"][0];
  EXPECT_EQ(e["exception_type"], "ModelLoadError");
  EXPECT_EQ(e["exception_value"], "model weights missing");
  EXPECT_EQ(e["trace_id"], trace_id);
  EXPECT_EQ(e["stacktrace"].size(), 2u);
  EXPECT_EQ(e["tags"]["job_id"], "job-sentry-1");
  EXPECT_EQ(doc["job"]["errors"], 2);

  const json one = get_json("/api/errors/" + event_id);
  EXPECT_EQ(one["stacktrace"][1]["function"], "load_model");
  EXPECT_EQ(one["event"]["release"], "emp-worker@1.2.3");
  EXPECT_EQ(get_json("/api/stats")["client_discarded_events"], 6);
}

TEST_F(ViewerFixture, MalformedBodiesAreRejectedWithTheReasonAndStoreNothing) {
  const std::string url = viewer_->url();
  // Truncated protobuf: the 400 carries a google.rpc.Status naming the place.
  otlp::SpanData span;
  span.trace_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  span.span_id = {1, 2, 3, 4, 5, 6, 7, 8};
  span.name = "job.process";
  std::string proto;
  otlp::encode_traces_request({}, {}, std::span<const otlp::SpanData>(&span, 1), proto);
  auto r = http_request(url + "/v1/traces", true, proto.substr(0, proto.size() - 4),
                        "application/x-protobuf");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("resourceSpans[0]"), std::string::npos) << r.body;

  r = http_request(url + "/v1/logs", true, "{\"resourceLogs\":[{]}", "application/json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["message"], "malformed OTLP/JSON request: request: not valid JSON");

  r = http_request(url + "/v1/metrics", true, "x", "text/plain");
  EXPECT_EQ(r.status, 415);

  r = http_request(url + "/v1/traces", true, "not gzip", "application/x-protobuf",
                   {"Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 400);

  r = http_request(url + "/api/1/envelope/", true, "{}\n{\"type\":\"event\",\"length\":500}\n{}\n",
                   "application/x-sentry-envelope");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["detail"],
            "malformed envelope: item 0 (event): length 500 exceeds the 3 bytes left");

  ASSERT_TRUE(viewer_->flush(20s));
  const json stats = get_json("/api/stats");
  EXPECT_EQ(stats["spans"], 0);
  EXPECT_EQ(stats["logs"], 0);
  EXPECT_EQ(stats["errors"], 0);
  EXPECT_EQ(viewer_->stats().requests_invalid, 5u);
  EXPECT_EQ(get_json("/api/jobs/nope", 404)["error"], "job nope not found");
  EXPECT_EQ(get_json("/api/traces/0102030405060708090a0b0c0d0e0f10", 404)["error"],
            "trace 0102030405060708090a0b0c0d0e0f10 not found");
}

class ForwardViewer : public ViewerFixture {
 protected:
  void SetUp() override {
    ViewerFixture::SetUp();
    ViewerOptions o;
    o.forward_port = 0;
    start(o);
    ASSERT_NE(viewer_->forward_port(), 0);
  }
  // A client whose logs and events go to the viewer's forward port.
  Client forward_client(bool otlp_logs_too) {
    std::map<std::string, std::string> env{
        {"FLUENTD_HOST", "127.0.0.1"}, {"FLUENTD_PORT", std::to_string(viewer_->forward_port())}};
    if (!otlp_logs_too) env.emplace("OTEL_LOGS_EXPORTER", "none");
    return client(env);
  }
};

TEST_F(ForwardViewer, ClientLogsAndEventsOverForwardJoinTheJob) {
  auto c = forward_client(false);
  c.events().job_received({.job_id = "job-fwd-1", .job_type = "image_generation"});
  const std::string trace_id = run_job(c, "job-fwd-1");
  ASSERT_TRUE(c.flush(20s));
  ASSERT_TRUE(viewer_->flush(20s));
  const json doc = get_json("/api/jobs/job-fwd-1");
  ASSERT_EQ(doc["logs"].size(), 2u) << doc.dump();
  EXPECT_EQ(doc["logs"][0]["body"], "job started");
  EXPECT_EQ(doc["logs"][0]["source"], "forward");
  EXPECT_EQ(doc["logs"][0]["severity_text"], "info");
  EXPECT_EQ(doc["logs"][1]["severity_number"], 17);
  EXPECT_EQ(doc["logs"][1]["trace_id"], trace_id);
  EXPECT_EQ(doc["logs"][1]["service"], "viewer-test-worker");
  EXPECT_EQ(doc["logs"][1]["attributes"]["fluentd.tag"], "worker.logs.worker");
  EXPECT_FALSE(doc["logs"][1]["attributes"].contains("message"));
  ASSERT_EQ(doc["events"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["events"][0]["event_name"], "job_received");
  EXPECT_EQ(doc["events"][0]["attributes"]["job_type"], "image_generation");
  EXPECT_EQ(span_names(doc), (std::vector<std::string>{"job.process", "process.image_generation"}));
  const auto st = viewer_->stats();
  EXPECT_GE(st.forward_frames, 1u);
  EXPECT_EQ(st.forward_refused, 0u);
  const auto h = c.health();
  for (const auto& d : h.destinations) {
    if (d.name.find("fluentd") == std::string::npos) continue;
    EXPECT_EQ(d.delivered, 3u) << d.name;  // two log lines and the event, acked
  }
}

TEST_F(ForwardViewer, OneRecordSentOverOtlpAndForwardShowsOnce) {
  auto c = forward_client(true);
  c.events().job_received({.job_id = "job-twice-1"});
  run_job(c, "job-twice-1");
  ASSERT_TRUE(c.flush(20s));
  ASSERT_TRUE(viewer_->flush(20s));
  const json stats = get_json("/api/stats");
  EXPECT_EQ(stats["logs"], 4) << "both copies are stored";
  const json doc = get_json("/api/jobs/job-twice-1");
  ASSERT_EQ(doc["logs"].size(), 2u) << doc.dump();
  EXPECT_EQ(doc["logs"][0]["body"], "job started");
  EXPECT_EQ(doc["logs"][1]["body"], "job failed: cuda oom");
  EXPECT_EQ(doc["events"].size(), 1u) << doc.dump();
  const json trace = get_json("/api/traces/" + doc["job"]["trace_id"].get<std::string>());
  EXPECT_EQ(trace["logs"].size(), 2u) << trace.dump();
}

// Sends raw bytes to the forward port; returns what came back before the
// viewer closed the connection or 2 s passed.
std::string exchange(std::uint16_t port, const std::string& bytes) {
  forward::Stream s;
  const auto deadline = deliver::Deadline::after(5s);
  EXPECT_TRUE(s.connect("127.0.0.1", port, nullptr, deadline, nullptr).ok());
  EXPECT_TRUE(s.write_all(bytes, deadline, nullptr).ok());
  std::string in;
  const auto until = deliver::Deadline::after(2s);
  while (s.read_some(in, 4096, until, nullptr).ok()) {
  }
  return in;
}

TEST_F(ForwardViewer, FramesAreAckedOnceStoredAndMalformedOnesRefused) {
  // A Forward-mode frame with a chunk: [tag, [[time, record]], {chunk}].
  std::string frame;
  {
    encode::msgpack::Writer w(frame);
    w.array_header(3);
    w.str("app.logs");
    w.array_header(2);
    w.array_header(2);
    w.event_time(1'700'000'000'123'456'789);
    w.map_header(3);
    w.str("message");
    w.str("hello from a tailed file");
    w.str("job_id");
    w.str("job-raw-1");
    w.str("level");
    w.str("warn");
    w.array_header(2);
    w.integer(1'700'000'001);
    w.str("not a map");
    w.map_header(1);
    w.str("chunk");
    w.str("Y2h1bmstMQ==");
  }
  std::string used_chunk;
  std::size_t used = 0;
  const std::string answer = exchange(viewer_->forward_port(), frame);
  ASSERT_EQ(forward::read_ack(answer, used, used_chunk), encode::msgpack::Status::kOk) << answer;
  EXPECT_EQ(used_chunk, "Y2h1bmstMQ==");

  // Ill-formed UTF-8 in a tag (found by fuzz_forward_frame): stored, with
  // U+FFFD in place of the bad bytes.
  std::string odd;
  {
    encode::msgpack::Writer w(odd);
    w.array_header(3);
    w.str(std::string("t.g\xd7os", 6));
    w.array_header(1);
    w.array_header(2);
    w.integer(1'700'000'002);
    w.str("not a map either");
    w.map_header(1);
    w.str("chunk");
    w.str("b2Rk");
  }
  used = 0;
  ASSERT_EQ(forward::read_ack(exchange(viewer_->forward_port(), odd), used, used_chunk),
            encode::msgpack::Status::kOk);
  EXPECT_EQ(used_chunk, "b2Rk");

  // Valid msgpack that is not a forward frame: no ack, connection closed.
  std::string bad;
  {
    encode::msgpack::Writer w(bad);
    w.array_header(2);
    w.str("app.logs");
    w.integer(5);
  }
  EXPECT_EQ(exchange(viewer_->forward_port(), bad), "");
  EXPECT_EQ(exchange(viewer_->forward_port(), std::string("\xc1\xc1garbage", 9)), "");

  ASSERT_TRUE(viewer_->flush(20s));
  const json doc = get_json("/api/jobs/job-raw-1");
  ASSERT_EQ(doc["logs"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["logs"][0]["body"], "hello from a tailed file");
  EXPECT_EQ(doc["logs"][0]["severity_number"], 13);
  EXPECT_EQ(doc["logs"][0]["time_ns"], 1'700'000'000'123'456'789);
  const json stats = get_json("/api/stats");
  EXPECT_EQ(stats["logs"], 3) << "the records that are not maps are kept whole";
  EXPECT_EQ(viewer_->stats().forward_frames, 2u);
  EXPECT_EQ(viewer_->stats().forward_refused, 1u);
}

}  // namespace
}  // namespace emp::telemetry::viewer_test
