// The trace track through Client with no collector: spans land as OTLP/JSON
// lines in the output directory, read back with an independent JSON parser.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "emp/telemetry/client.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

class Tracing : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-trace-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Client make(std::map<std::string, std::string> raw = {}) {
    Options o;
    o.preset = Preset::kWorker;
    o.service_name = "trace-test";
    o.machine_id = "m1";
    o.log_dir = dir_.string();
    o.raw = std::move(raw);
    o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    auto c = Client::create(o);
    if (!c) {
      for (auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }

  // Every span of every request line, in order.
  std::vector<json> spans() {
    std::vector<json> out;
    std::ifstream in(dir_ / "otlp-traces.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      json req = json::parse(line);
      for (auto& rs : req["resourceSpans"])
        for (auto& ss : rs["scopeSpans"])
          for (auto& s : ss["spans"]) out.push_back(s);
    }
    return out;
  }
  json resource() {
    std::ifstream in(dir_ / "otlp-traces.jsonl");
    std::string line;
    std::getline(in, line);
    return json::parse(line)["resourceSpans"][0]["resource"];
  }
  static json attr(const json& span, const std::string& key) {
    for (auto& a : span.value("attributes", json::array()))
      if (a["key"] == key) return a["value"];
    return nullptr;
  }

  fs::path dir_;
};

TEST_F(Tracing, ParentAndChildShareATraceAndExportAsOtlpJson) {
  auto c = make();
  {
    auto parent = c.tracer().start_span("job.process", {.kind = SpanKind::kConsumer});
    parent.set_attribute("job.id", "job-1");
    parent.set_attribute("job.priority", 5);
    parent.set_attribute("job.success", true);
    parent.set_attribute("ratio", 0.25);
    parent.set_attribute("tags", std::vector<std::string>{"a", "b"});
    Scope scope(parent);
    auto child = c.tracer().start_span("process.http_request", {.kind = SpanKind::kClient});
    child.add_event("retrying", {{"attempt", 2}});
    child.set_status(StatusCode::kError, "boom");
  }
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  const json& child = s[0];
  const json& parent = s[1];
  EXPECT_EQ(parent["name"], "job.process");
  EXPECT_EQ(parent["kind"], 5);
  EXPECT_EQ(child["kind"], 3);
  EXPECT_EQ(child["traceId"], parent["traceId"]);
  EXPECT_EQ(child["parentSpanId"], parent["spanId"]);
  EXPECT_FALSE(parent.contains("parentSpanId") && parent["parentSpanId"] != "");
  EXPECT_EQ(parent["traceId"].get<std::string>().size(), 32u);
  EXPECT_EQ(attr(parent, "job.id")["stringValue"], "job-1");
  EXPECT_EQ(attr(parent, "job.priority")["intValue"], "5");
  EXPECT_EQ(attr(parent, "job.success")["boolValue"], true);
  EXPECT_EQ(attr(parent, "ratio")["doubleValue"], 0.25);
  EXPECT_EQ(attr(parent, "tags")["arrayValue"]["values"][1]["stringValue"], "b");
  EXPECT_EQ(child["status"]["code"], 2);
  EXPECT_EQ(child["status"]["message"], "boom");
  EXPECT_EQ(child["events"][0]["name"], "retrying");
  EXPECT_GE(std::stoull(parent["endTimeUnixNano"].get<std::string>()),
            std::stoull(parent["startTimeUnixNano"].get<std::string>()));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, 2u);
  EXPECT_EQ(h.written, 2u);
  json r = resource();
  bool has_name = false;
  for (auto& a : r["attributes"])
    if (a["key"] == "service.name") has_name = a["value"]["stringValue"] == "trace-test";
  EXPECT_TRUE(has_name);
}

TEST_F(Tracing, SpanHelperRecordsAndRethrowsExceptions) {
  auto c = make();
  EXPECT_THROW(c.trace().span("job.fail", [](Span&) { throw std::runtime_error("no gpu"); }),
               std::runtime_error);
  int v = c.trace().span("job.complete", [] { return 42; });
  EXPECT_EQ(v, 42);
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0]["status"]["code"], 2);
  EXPECT_EQ(s[0]["status"]["message"], "no gpu");
  ASSERT_EQ(s[0]["events"].size(), 1u);
  EXPECT_EQ(s[0]["events"][0]["name"], "exception");
  EXPECT_EQ(attr(s[0]["events"][0], "exception.type")["stringValue"], "std::runtime_error");
  EXPECT_EQ(attr(s[0]["events"][0], "exception.message")["stringValue"], "no gpu");
}

TEST_F(Tracing, EventGoesToTheActiveSpanOrBecomesAZeroDurationSpan) {
  auto c = make();
  c.trace().event("machine.started", {{"machine_id", "m1"}});
  {
    auto s = c.tracer().start_span("job.process");
    Scope scope(s);
    c.trace().event("job_progress", {{"percent", 50}});
  }
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0]["name"], "machine.started");
  EXPECT_EQ(s[0]["startTimeUnixNano"], s[0]["endTimeUnixNano"]);
  EXPECT_EQ(s[1]["events"][0]["name"], "job_progress");
}

TEST_F(Tracing, JobPayloadCarriesTheTraceFromApiToWorker) {
  auto c = make();
  std::string payload;
  std::string trace_id;
  {
    auto submit = c.tracer().start_span("job.submit", {.kind = SpanKind::kProducer});
    Scope scope(submit);
    payload = c.tracer().inject_job_payload(R"({"job_id":"job-1","model":"sdxl"})");
    trace_id = submit.context().trace_id.to_hex();
  }
  json p = json::parse(payload);
  EXPECT_EQ(p["job_id"], "job-1");
  ASSERT_TRUE(p.contains("traceparent"));
  auto parent = c.tracer().extract_job_payload(payload);
  ASSERT_TRUE(parent.has_value());
  {
    auto claim = c.tracer().start_span("job.claim", {.kind = SpanKind::kConsumer, .parent = parent});
    EXPECT_EQ(claim.context().trace_id.to_hex(), trace_id);
  }
  // A malformed traceparent starts a new trace and is counted, never thrown.
  auto bad = c.tracer().extract_job_payload(R"({"traceparent":"00-ZZZ-bad-01"})");
  EXPECT_FALSE(bad.has_value());
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1]["traceId"], s[0]["traceId"]);
  EXPECT_EQ(s[1]["parentSpanId"], s[0]["spanId"]);
  EXPECT_EQ(c.health().track(Track::kTraces).errors, 1u);
}

TEST_F(Tracing, ARemoteParentsTracestateIsCarriedByItsDescendantsAndNotByARoot) {
  auto c = make();
  const std::map<std::string, std::string> headers = {
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
      {"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}};
  auto parent = c.tracer().extract_headers(headers);
  ASSERT_TRUE(parent.has_value());
  {
    auto server =
        c.tracer().start_span("http.request", {.kind = SpanKind::kServer, .parent = parent});
    Scope scope(server);
    auto inner = c.tracer().start_span("job.process");
    inner.set_attribute("job.id", "job-1");
  }
  { auto root = c.tracer().start_span("job.sweep"); }
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 3u);
  const json& inner = s[0];
  const json& server = s[1];
  const json& root = s[2];
  EXPECT_EQ(server["parentSpanId"], "00f067aa0ba902b7");
  EXPECT_EQ(server["traceState"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(inner["parentSpanId"], server["spanId"]);
  EXPECT_EQ(inner["traceState"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(attr(inner, "job.id")["stringValue"], "job-1");
  EXPECT_NE(root["traceId"], server["traceId"]);
  EXPECT_EQ(root.value("traceState", std::string()), "");
}

TEST_F(Tracing, LogLinesInsideAScopeCarryTheSpanIds) {
  auto c = make();
  std::string trace_id, span_id;
  {
    auto s = c.tracer().start_span("job.process");
    trace_id = s.context().trace_id.to_hex();
    span_id = s.context().span_id.to_hex();
    Scope scope(s);
    c.log().info("inside");
  }
  c.log().info("outside");
  ASSERT_TRUE(c.flush(10s));
  std::ifstream in(dir_ / c.config().log_file);
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(json::parse(l1)["trace_id"], trace_id);
  EXPECT_EQ(json::parse(l1)["span_id"], span_id);
  EXPECT_FALSE(json::parse(l2).contains("trace_id"));
}

TEST_F(Tracing, AKeyLongerThanItsLengthFieldIsCutTo65535Bytes) {
  auto c = make();
  const std::string long_key(70'000, 'k');
  {
    auto s = c.tracer().start_span("job.process");
    s.set_attribute(long_key, 7);
    s.set_attribute("tags", std::vector<std::string>{"a", "b"});
    s.set_attribute("job.id", "job-1");
  }
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  const json& attrs = s[0]["attributes"];
  ASSERT_EQ(attrs.size(), 3u);
  EXPECT_EQ(attrs[0]["key"], std::string(65'535, 'k'));
  EXPECT_EQ(attrs[0]["value"]["intValue"], "7");
  EXPECT_EQ(attrs[1]["key"], "tags");
  EXPECT_EQ(attrs[1]["value"]["arrayValue"]["values"][1]["stringValue"], "b");
  EXPECT_EQ(attr(s[0], "job.id")["stringValue"], "job-1");
}

TEST_F(Tracing, SampledOutSpansAreCountedAndErrorSpansStillExported) {
  auto c = make({{"OTEL_TRACES_SAMPLER", "always_off"}});
  {
    auto ok = c.tracer().start_span("job.complete");
    EXPECT_TRUE(ok.context().is_valid());
    EXPECT_FALSE(ok.context().sampled());
  }
  {
    auto bad = c.tracer().start_span("job.fail");
    bad.set_status(StatusCode::kError, "oom");
  }
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["name"], "job.fail");
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, 2u);
  EXPECT_EQ(h.dropped_for(DropReason::kSampledOut), 1u);
  EXPECT_EQ(h.written, 1u);
}

TEST_F(Tracing, LimitsDropAndCountAttributesEventsAndLongValues) {
  auto c = make({{"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3"},
                 {"OTEL_SPAN_EVENT_COUNT_LIMIT", "1"},
                 {"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5"}});
  {
    auto s = c.tracer().start_span("limited");
    for (int i = 0; i < 10; ++i) s.set_attribute("k" + std::to_string(i), "0123456789");
    s.add_event("e1");
    s.add_event("e2");
  }
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["attributes"].size(), 3u);
  EXPECT_EQ(s[0]["droppedAttributesCount"], 7);
  EXPECT_EQ(s[0]["events"].size(), 1u);
  EXPECT_EQ(s[0]["droppedEventsCount"], 1);
  EXPECT_EQ(attr(s[0], "k0")["stringValue"], "01234");
}

TEST_F(Tracing, SettingAKeyAgainReplacesItsValueInPlace) {
  auto c = make();
  // Keys of one length, first and last byte ("kaX"/"kbX" pairs), set twice
  // in a different order, among keys set once.
  std::vector<std::string> keys;
  for (char m = 'a'; m <= 'p'; ++m) keys.push_back(std::string("k") + m + "x");
  {
    auto s = c.tracer().start_span("dups");
    for (std::size_t i = 0; i < keys.size(); ++i) s.set_attribute(keys[i], "first");
    s.set_attribute("once", true);
    for (std::size_t i = keys.size(); i-- > 0;)
      if (i % 2 == 0) s.set_attribute(keys[i], static_cast<std::int64_t>(i));
  }
  ASSERT_TRUE(c.flush(10s));
  auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(s[0]["attributes"].size(), keys.size() + 1);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(s[0]["attributes"][i]["key"], keys[i]);  // first-set order kept
    if (i % 2 == 0) {
      EXPECT_EQ(attr(s[0], keys[i])["intValue"], std::to_string(i)) << keys[i];
    } else {
      EXPECT_EQ(attr(s[0], keys[i])["stringValue"], "first") << keys[i];
    }
  }
  EXPECT_EQ(attr(s[0], "once")["boolValue"], true);
}

TEST_F(Tracing, ManyThreadsProduceDistinctSpansAndLoseNone) {
  auto c = make({{"EMP_QUEUE_FULL_POLICY", "block"}, {"EMP_QUEUE_BLOCK_TIMEOUT", "5s"},
                 {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"}});
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto s = c.tracer().start_span("work", {}, {{"i", i}});
      }
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(c.flush(30s));
  auto s = spans();
  ASSERT_EQ(s.size(), 4u * kPerThread);
  std::set<std::string> ids;
  for (auto& x : s) ids.insert(x["spanId"]);
  EXPECT_EQ(ids.size(), s.size());
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.written, 4u * kPerThread);
}

TEST_F(Tracing, DisabledSdkMakesSpansFreeNoOps) {
  auto c = make({{"OTEL_SDK_DISABLED", "true"}});
  {
    auto s = c.tracer().start_span("x");
    EXPECT_FALSE(s.is_recording());
    s.set_attribute("a", 1);
  }
  ASSERT_TRUE(c.flush(10s));
  EXPECT_FALSE(fs::exists(dir_ / "otlp-traces.jsonl"));
  EXPECT_EQ(c.health().track(Track::kTraces).offered, 0u);
}

}  // namespace
}  // namespace emp::telemetry
