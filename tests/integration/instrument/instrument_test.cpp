// Instrumentation end to end: a job submitted by an API-side client and
// processed by a worker-side client (two Client instances, each exporting to
// its own loopback collector), joined only through the job payload. The spans
// are decoded by the official OTLP schema (tests/conformance/otlp/decode.js)
// and the tree, names and attributes are checked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "emp/telemetry/client.hpp"
#include "support/loopback_collector.hpp"
#include "support/otlp_decoder.hpp"

using namespace emp::telemetry;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using emp::telemetry::testing::LoopbackCollector;
using nlohmann::json;

namespace {

json decode(const std::string& kind, const std::string& bytes) {
  return emp::telemetry::testing::decode_otlp(kind, bytes);
}

// Every record of `kind` ("traces" -> spans, "logs" -> log records) the
// collector received, decoded.
std::vector<json> received(LoopbackCollector& c, const std::string& kind) {
  std::vector<json> out;
  const std::string path = kind == "traces" ? "/v1/traces" : "/v1/logs";
  for (auto& r : c.requests()) {
    if (r.target != path) continue;
    json d = decode(kind, r.body);
    const char* outer = kind == "traces" ? "resourceSpans" : "resourceLogs";
    const char* mid = kind == "traces" ? "scopeSpans" : "scopeLogs";
    const char* inner = kind == "traces" ? "spans" : "logRecords";
    for (auto& rs : d[outer])
      for (auto& ss : rs[mid])
        for (auto& x : ss[inner]) out.push_back(x);
  }
  return out;
}

std::map<std::string, json> attrs(const json& x) {
  std::map<std::string, json> m;
  for (auto& a : x["attributes"]) m[a["key"]] = a["value"];
  return m;
}

const json* named(const std::vector<json>& spans, const std::string& name) {
  for (auto& s : spans)
    if (s["name"] == name) return &s;
  return nullptr;
}

class Instrument : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-instr-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "api");
    fs::create_directories(dir_ / "worker");
  }
  void TearDown() override { fs::remove_all(dir_); }

  Client make(Preset preset, const std::string& sub, LoopbackCollector& collector) {
    Options o;
    o.preset = preset;
    o.service_name = sub == "api" ? "api-server" : "gpu-worker";
    o.machine_id = sub == "api" ? "api-1" : "m7";
    if (sub != "api") o.worker_id = "m7-worker-0";
    o.log_dir = (dir_ / sub).string();
    std::string url = collector.base_url();
    o.env = [url](std::string_view k) -> std::optional<std::string> {
      if (k == "OTEL_EXPORTER_OTLP_ENDPOINT") return url;
      return std::nullopt;
    };
    auto c = Client::create(o);
    if (!c) {
      for (auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }

  LoopbackCollector api_collector_, worker_collector_;
  fs::path dir_;
};

struct RecordingCapture : ErrorCapture {
  void capture_job_exception(const std::exception* e, std::string_view, std::string_view message,
                             const JobInfo& job, const SpanContext& span) noexcept override {
    ++calls;
    had_exception = e != nullptr;
    last_message.assign(message);
    last_job.assign(job.id);
    trace_id = span.trace_id.to_hex();
  }
  int calls = 0;
  bool had_exception = false;
  std::string last_message, last_job, trace_id;
};

TEST_F(Instrument, AJobsSpansJoinAcrossTwoClientsThroughItsPayload) {
  auto api = make(Preset::kApi, "api", api_collector_);
  auto worker = make(Preset::kWorker, "worker", worker_collector_);
  const JobInfo job{.id = "job-0b7e",
                    .type = "comfyui",
                    .priority = 3,
                    .queue = "gpu",
                    .connector = "comfyui-ws",
                    .submitted_unix_nano = 1};
  std::string payload = api.job().submit(job, R"({"prompt":"a cat","api_key":"sk-live-123"})");
  ASSERT_NE(payload.find("traceparent"), std::string::npos) << payload;

  // The worker side: claim, process (with a connector step inside), done.
  worker.job().claim(job, payload).end();
  int result = worker.job().process(job, payload, [&] {
    auto step = worker.processing().http_request("POST", "http://user:pw@comfy:8188/prompt",
                                                 R"({"prompt":"a cat","token":"t-1"})");
    return 42;
  });
  EXPECT_EQ(result, 42);
  worker.job().complete(job, payload);
  ASSERT_TRUE(api.flush(10s));
  ASSERT_TRUE(worker.flush(10s));

  auto api_spans = received(api_collector_, "traces");
  auto worker_spans = received(worker_collector_, "traces");
  const json* submit = named(api_spans, "job.submit");
  ASSERT_NE(submit, nullptr);
  const json* claim = named(worker_spans, "job.claim");
  const json* process = named(worker_spans, "job.process");
  const json* http = named(worker_spans, "process.http_request");
  const json* complete = named(worker_spans, "job.complete");
  ASSERT_NE(claim, nullptr);
  ASSERT_NE(process, nullptr);
  ASSERT_NE(http, nullptr);
  ASSERT_NE(complete, nullptr);

  // One trace; the worker's spans hang under the submitter's span.
  const json trace = (*submit)["traceId"];
  for (const json* s : {claim, process, http, complete}) EXPECT_EQ((*s)["traceId"], trace);
  EXPECT_EQ((*process)["parentSpanId"], (*submit)["spanId"]);
  EXPECT_EQ((*claim)["parentSpanId"], (*submit)["spanId"]);
  EXPECT_EQ((*complete)["parentSpanId"], (*submit)["spanId"]);
  EXPECT_EQ((*http)["parentSpanId"], (*process)["spanId"]);
  EXPECT_EQ((*submit)["kind"], 4);   // producer
  EXPECT_EQ((*process)["kind"], 5);  // consumer

  auto sa = attrs(*submit);
  EXPECT_EQ(sa["job.id"]["stringValue"], "job-0b7e");
  EXPECT_EQ(sa["job.machine"]["stringValue"], "api-1");
  EXPECT_EQ(sa["lifecycle.stage"]["stringValue"], "submit");
  EXPECT_EQ(sa["component.type"]["stringValue"], "api");
  auto pa = attrs(*process);
  EXPECT_EQ(pa["job.id"]["stringValue"], "job-0b7e");
  EXPECT_EQ(pa["job.type"]["stringValue"], "comfyui");
  EXPECT_EQ(pa["job.priority"]["intValue"], "3");
  EXPECT_EQ(pa["job.queue"]["stringValue"], "gpu");
  EXPECT_EQ(pa["job.connector"]["stringValue"], "comfyui-ws");
  EXPECT_EQ(pa["job.worker"]["stringValue"], "m7-worker-0");
  EXPECT_EQ(pa["job.machine"]["stringValue"], "m7");
  EXPECT_EQ(pa["job.service_type"]["stringValue"], "worker");
  EXPECT_EQ(pa["job.final_status"]["stringValue"], "completed");
  EXPECT_EQ(pa["job.success"]["boolValue"], true);
  EXPECT_TRUE(pa.count("job.duration_ms"));
  EXPECT_TRUE(pa.count("job.queue_wait_time_ms"));
  EXPECT_EQ(pa["lifecycle.stage"]["stringValue"], "process");
  EXPECT_EQ(pa["component.type"]["stringValue"], "worker");
  EXPECT_EQ((*process)["status"]["code"], 1);
  auto ha = attrs(*http);
  EXPECT_EQ(ha["http.request.method"]["stringValue"], "POST");
  const std::string url = ha["url.full"]["stringValue"];
  EXPECT_EQ(url.find("pw"), std::string::npos) << url;
  const std::string body = ha["http.request.body.excerpt"]["stringValue"];
  EXPECT_EQ(body.find("t-1"), std::string::npos) << body;
  EXPECT_NE(body.find("a cat"), std::string::npos) << body;

  // Events of the worker: received, started, completed, in the job's trace.
  std::vector<std::string> event_names;
  for (auto& rec : received(worker_collector_, "logs")) {
    if (rec["eventName"] == "") continue;
    event_names.push_back(rec["eventName"]);
    EXPECT_EQ(rec["traceId"], trace);
    EXPECT_EQ(attrs(rec)["job_id"]["stringValue"], "job-0b7e");
  }
  EXPECT_EQ(event_names,
            (std::vector<std::string>{"job_received", "job_started", "job_completed"}));
  auto wh = worker.health();
  EXPECT_EQ(wh.track(Track::kEvents).written, 3u);
}

TEST_F(Instrument, AFailingJobIsRecordedReportedToTheHookAndRethrown) {
  auto worker = make(Preset::kWorker, "worker", worker_collector_);
  RecordingCapture capture;
  worker.job().set_error_capture(&capture);
  const JobInfo job{.id = "job-f41", .type = "comfyui"};
  EXPECT_THROW(
      worker.job().process(job, "{}", [] { throw std::runtime_error("CUDA out of memory"); }),
      std::runtime_error);
  ASSERT_TRUE(worker.flush(10s));
  auto spans = received(worker_collector_, "traces");
  const json* process = named(spans, "job.process");
  ASSERT_NE(process, nullptr);
  EXPECT_EQ((*process)["status"]["code"], 2);
  auto pa = attrs(*process);
  EXPECT_EQ(pa["job.final_status"]["stringValue"], "failed");
  EXPECT_EQ(pa["job.error_type"]["stringValue"], "memory");
  ASSERT_EQ((*process)["events"].size(), 1u);
  EXPECT_EQ((*process)["events"][0]["name"], "exception");
  bool failed_event = false;
  for (auto& rec : received(worker_collector_, "logs")) {
    if (rec["eventName"] != "job_failed") continue;
    failed_event = true;
    auto a = attrs(rec);
    EXPECT_EQ(a["error_type"]["stringValue"], "memory");
    EXPECT_EQ(a["error_message"]["stringValue"], "CUDA out of memory");
    EXPECT_EQ(rec["traceId"], (*process)["traceId"]);
  }
  EXPECT_TRUE(failed_event);
  EXPECT_EQ(capture.calls, 1);
  EXPECT_TRUE(capture.had_exception);
  EXPECT_EQ(capture.last_message, "CUDA out of memory");
  EXPECT_EQ(capture.last_job, "job-f41");
  EXPECT_EQ(json(capture.trace_id), (*process)["traceId"]);
}

TEST_F(Instrument, WorkflowsStartupPhasesAndOneLiners) {
  auto worker = make(Preset::kMachine, "worker", worker_collector_);
  {
    Span wf = worker.workflow().start("wf-9", 2);
    worker.workflow().step_submit(wf, "wf-9", 1, "txt2img").end();
    worker.workflow().step_complete(wf, "wf-9", 1, 50.0);
    worker.workflow().step_fail(wf, "wf-9", 2, "connection reset");
    worker.workflow().cancel(wf, "wf-9", "user");
  }
  int v = worker.startup().phase("download_models", [] { return 7; });
  EXPECT_EQ(v, 7);
  worker.startup().finish(2, "1.0");
  worker.send_trace("webhook.delivery", {{"http.response.status_code", 200}},
                    {.duration = 25ms, .status = StatusCode::kOk});
  worker.startup({.test_connections = true});
  ASSERT_TRUE(worker.flush(10s));
  auto spans = received(worker_collector_, "traces");
  const json* start = named(spans, "workflow.start");
  ASSERT_NE(start, nullptr);
  for (const char* n : {"workflow.step_submit", "workflow.step_complete", "workflow.step_fail",
                        "workflow.cancel"}) {
    const json* s = named(spans, n);
    ASSERT_NE(s, nullptr) << n;
    EXPECT_EQ((*s)["parentSpanId"], (*start)["spanId"]) << n;
    EXPECT_EQ(attrs(*s)["workflow.id"]["stringValue"], "wf-9") << n;
  }
  EXPECT_EQ(attrs(*start)["workflow.final_status"]["stringValue"], "cancelled");
  EXPECT_EQ(attrs(*named(spans, "workflow.step_fail"))["job.error_type"]["stringValue"], "network");
  const json* root = named(spans, "machine.startup");
  const json* phase = named(spans, "machine.startup.download_models");
  ASSERT_NE(root, nullptr);
  ASSERT_NE(phase, nullptr);
  EXPECT_EQ((*phase)["parentSpanId"], (*root)["spanId"]);
  const json* hook = named(spans, "webhook.delivery");
  ASSERT_NE(hook, nullptr);
  EXPECT_EQ(std::stoull((*hook)["endTimeUnixNano"].get<std::string>()) -
                std::stoull((*hook)["startTimeUnixNano"].get<std::string>()),
            25'000'000ull);
  EXPECT_NE(named(spans, "service.startup"), nullptr);
  // The configuration line, and the connection test's line per destination
  // once its probes (on a thread of their own) are done.
  std::string all;
  for (int i = 0; i < 100 && all.find("\"check\":\"otlp traces\"") == std::string::npos; ++i) {
    worker.flush(1s);
    std::ifstream in(dir_ / "worker" / worker.config().log_file);
    all.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (all.find("\"check\":\"otlp traces\"") == std::string::npos)
      std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(all.find("effective configuration"), std::string::npos);
  const auto probe = all.find("\"check\":\"otlp traces\"");
  ASSERT_NE(probe, std::string::npos) << all;
  const auto line_start = all.rfind('\n', probe) + 1;
  const std::string line = all.substr(line_start, all.find('\n', probe) - line_start);
  EXPECT_NE(line.find("\"message\":\"connection test\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":\"healthy\""), std::string::npos) << line;
}

}  // namespace
