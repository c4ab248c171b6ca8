// The events track end to end: every event type through a real loopback OTLP
// collector, decoded by the official OTLP schema (node +
// @opentelemetry/otlp-transformer, see tests/conformance/otlp/decode.js) and
// compared field by field; the events.jsonl file; health(); and the
// in-process bus with slow, throwing and unsubscribing handlers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
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

class EventsTrack : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-events-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Client make(std::map<std::string, std::string> env) {
    Options o;
    o.preset = Preset::kWorker;
    o.service_name = "events-test";
    o.machine_id = "m1";
    o.worker_id = "m1-worker-0";
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

  std::vector<json> file_lines(const std::string& name) {
    std::vector<json> out;
    std::ifstream in(dir_ / name);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }

  LoopbackCollector collector_;
  fs::path dir_;
};

std::map<std::string, json> attributes(const json& rec) {
  std::map<std::string, json> attrs;
  for (auto& a : rec["attributes"]) attrs[a["key"]] = a["value"];
  return attrs;
}

void emit_all(Events& ev) {
  ev.job_received({.job_id = "job-1", .job_type = "comfyui", .queue = "gpu", .priority = 5});
  ev.job_started({.job_id = "job-1",
                  .job_type = "comfyui",
                  .connector = "comfyui-ws",
                  .queue_wait_time_ms = 42});
  ev.job_progress({.job_id = "job-1", .progress_percent = 37.5, .message = "sampling"});
  ev.job_completed({.job_id = "job-1", .job_type = "comfyui", .duration_ms = 812});
  ev.job_failed({.job_id = "job-2",
                 .job_type = "comfyui",
                 .error_type = classify_error("CUDA out of memory"),
                 .error_message = "CUDA out of memory",
                 .duration_ms = 90,
                 .retry_count = 1,
                 .will_retry = true});
  ev.health_check({.component = "redis", .healthy = false, .latency_ms = 3, .message = "slow"});
  ev.service_health_changed(
      {.service = "comfyui", .previous_status = "healthy", .status = "degraded", .reason = "oom"});
  ev.machine_started({.startup_duration_ms = 15000, .gpu_count = 2, .version = "1.2.3"});
  ev.resource_allocated({.resource = "vram", .amount = 2048, .unit = "MiB", .job_id = "job-1"});
  ev.workflow_routing(
      {.workflow_id = "wf-1", .step = "upscale", .target = "gpu-queue", .reason = "capability"});
  ev.operational_message({.message = "draining", .level = "warn", .component = "worker"},
                         {{"extra_key", 7}});
}

TEST_F(EventsTrack, EveryEventTypeArrivesAsAnOtlpEventTheOfficialSchemaDecodes) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()}});
  std::string trace_id, span_id;
  {
    auto s = c.tracer().start_span("job.process");
    trace_id = s.context().trace_id.to_hex();
    span_id = s.context().span_id.to_hex();
    Scope scope(s);
    emit_all(c.events());
  }
  ASSERT_TRUE(c.flush(10s));
  std::vector<json> records;
  for (auto& r : collector_.requests()) {
    if (r.target != "/v1/logs") continue;
    json d = decode("logs", r.body);
    for (auto& rl : d["resourceLogs"])
      for (auto& sl : rl["scopeLogs"])
        for (auto& rec : sl["logRecords"]) records.push_back(rec);
  }
  ASSERT_EQ(records.size(), 11u);
  const char* names[] = {"job_received",           "job_started",        "job_progress",
                         "job_completed",          "job_failed",         "health_check",
                         "service_health_changed", "machine_started",    "resource_allocated",
                         "workflow_routing",       "operational_message"};
  for (std::size_t i = 0; i < records.size(); ++i) {
    const json& rec = records[i];
    SCOPED_TRACE(names[i]);
    EXPECT_EQ(rec["eventName"], names[i]);
    auto a = attributes(rec);
    EXPECT_EQ(a["event.name"]["stringValue"], names[i]);
    EXPECT_EQ(a["machine_id"]["stringValue"], "m1");
    EXPECT_EQ(a["worker_id"]["stringValue"], "m1-worker-0");
    EXPECT_EQ(a["service_type"]["stringValue"], "worker");
    EXPECT_EQ(rec["traceId"], trace_id);
    EXPECT_EQ(rec["spanId"], span_id);
    EXPECT_NE(rec["timeUnixNano"], "0");
  }
  auto a = attributes(records[0]);
  EXPECT_EQ(a["job_id"]["stringValue"], "job-1");
  EXPECT_EQ(a["job_type"]["stringValue"], "comfyui");
  EXPECT_EQ(a["queue"]["stringValue"], "gpu");
  EXPECT_EQ(a["priority"]["intValue"], "5");
  EXPECT_EQ(a.count("workflow_id"), 0u);  // left empty: left out
  a = attributes(records[1]);
  EXPECT_EQ(a["connector"]["stringValue"], "comfyui-ws");
  EXPECT_EQ(a["queue_wait_time_ms"]["intValue"], "42");
  a = attributes(records[2]);
  EXPECT_DOUBLE_EQ(a["progress_percent"]["doubleValue"].get<double>(), 37.5);
  a = attributes(records[3]);
  EXPECT_EQ(a["duration_ms"]["intValue"], "812");
  a = attributes(records[4]);
  EXPECT_EQ(records[4]["severityText"], "ERROR");
  EXPECT_EQ(a["error_type"]["stringValue"], "memory");
  EXPECT_EQ(a["error_message"]["stringValue"], "CUDA out of memory");
  EXPECT_EQ(a["retry_count"]["intValue"], "1");
  EXPECT_EQ(a["will_retry"]["boolValue"], true);
  a = attributes(records[5]);
  EXPECT_EQ(a["component"]["stringValue"], "redis");
  EXPECT_EQ(a["healthy"]["boolValue"], false);
  EXPECT_EQ(records[5]["severityText"], "WARN");
  a = attributes(records[6]);
  EXPECT_EQ(a["previous_status"]["stringValue"], "healthy");
  EXPECT_EQ(a["status"]["stringValue"], "degraded");
  a = attributes(records[7]);
  EXPECT_EQ(a["gpu_count"]["intValue"], "2");
  EXPECT_EQ(a["version"]["stringValue"], "1.2.3");
  a = attributes(records[8]);
  EXPECT_DOUBLE_EQ(a["amount"]["doubleValue"].get<double>(), 2048);
  EXPECT_EQ(a["unit"]["stringValue"], "MiB");
  a = attributes(records[9]);
  EXPECT_EQ(a["target"]["stringValue"], "gpu-queue");
  a = attributes(records[10]);
  EXPECT_EQ(a["message"]["stringValue"], "draining");
  EXPECT_EQ(a["extra_key"]["intValue"], "7");
  EXPECT_EQ(records[10]["severityText"], "WARN");

  // The JSON-lines events file has the same events; the log file has none.
  auto lines = file_lines("events.jsonl");
  ASSERT_EQ(lines.size(), 11u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["message"], names[i]);
    EXPECT_EQ(lines[i]["event.name"], names[i]);
    EXPECT_EQ(lines[i]["machine_id"], "m1");
    EXPECT_EQ(lines[i]["worker_id"], "m1-worker-0");
    EXPECT_EQ(lines[i]["trace_id"], trace_id);
  }
  EXPECT_EQ(lines[4]["error_type"], "memory");
  auto h = c.health();
  EXPECT_EQ(h.track(Track::kEvents).offered, 11u);
  EXPECT_EQ(h.track(Track::kEvents).written, 11u);
  EXPECT_EQ(h.track(Track::kLogs).offered, 0u);
}

TEST_F(EventsTrack, ClassifyErrorSortsMessagesIntoTheTaxonomy) {
  EXPECT_EQ(classify_error("request timed out after 30s"), ErrorType::kTimeout);
  EXPECT_EQ(classify_error("CUDA out of memory. Tried to allocate"), ErrorType::kMemory);
  EXPECT_EQ(classify_error("connect: Connection refused"), ErrorType::kNetwork);
  EXPECT_EQ(classify_error("model checkpoint sd_xl.safetensors not found"), ErrorType::kModel);
  EXPECT_EQ(classify_error("invalid prompt: width is required"), ErrorType::kValidation);
  EXPECT_EQ(classify_error("HTTP 401 Unauthorized"), ErrorType::kAuthorization);
  EXPECT_EQ(classify_error("something odd"), ErrorType::kUnknown);
  EXPECT_EQ(classify_error(std::bad_alloc()), ErrorType::kMemory);
  EXPECT_EQ(to_string(ErrorType::kValidation), "validation");
}

TEST_F(EventsTrack, SubscribersGetEventsOnTheirOwnThreadFiltered) {
  auto c = make({});
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Event> got;
  std::thread::id handler_thread;
  auto sub = c.events().subscribe({.names = {"job_completed", "job_failed"}, .job_id = "job-1"},
                                  [&](const Event& e) {
                                    std::lock_guard<std::mutex> lock(mu);
                                    got.push_back(e);
                                    handler_thread = std::this_thread::get_id();
                                    cv.notify_all();
                                  });
  ASSERT_TRUE(sub.active());
  std::string trace_id;
  {
    auto s = c.tracer().start_span("job.process");
    trace_id = s.context().trace_id.to_hex();
    Scope scope(s);
    emit_all(c.events());  // job_completed for job-1 passes; job_failed is for job-2
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return !got.empty(); }));
  lock.unlock();
  c.flush(5s);
  sub.unsubscribe();  // after this the handler no longer runs: `got` is stable
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].name, "job_completed");
  EXPECT_EQ(got[0].field("duration_ms"), "812");
  EXPECT_EQ(got[0].trace_id, trace_id);
  EXPECT_NE(handler_thread, std::this_thread::get_id());
}

TEST_F(EventsTrack, ABlockedHandlerLosesOnlyItsOwnEventsAndAThrowingOneKeepsItsSubscription) {
  auto c = make({});
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false;
  std::atomic<int> slow_seen{0}, fast_seen{0}, thrower_calls{0};
  auto slow = c.events().subscribe(
      {},
      [&](const Event&) {
        ++slow_seen;
        std::unique_lock<std::mutex> lock(gate_mu);
        gate_cv.wait(lock, [&] { return open; });
      },
      /*queue_capacity=*/4);
  auto fast = c.events().subscribe(
      {}, [&](const Event&) { ++fast_seen; }, 1000);
  auto thrower = c.events().subscribe({}, [&](const Event&) {
    ++thrower_calls;
    throw std::runtime_error("handler bug");
  });
  constexpr int kEvents = 200;
  for (int i = 0; i < kEvents; ++i) c.events().operational_message({.message = "tick"}, {{"i", i}});
  // Bounded wait for the healthy subscribers to catch up. The thrower's error is
  // counted after its handler has returned (thrown), so wait on that count, not
  // only on the calls the handler itself counts before it throws.
  const auto thrower_done = [&] {
    return thrower_calls >= kEvents &&
           thrower.handler_errors() >= static_cast<std::uint64_t>(kEvents);
  };
  for (int i = 0; i < 1000 && (fast_seen < kEvents || !thrower_done()); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(fast_seen.load(), kEvents);
  EXPECT_EQ(thrower_calls.load(), kEvents);
  EXPECT_EQ(thrower.handler_errors(), static_cast<std::uint64_t>(kEvents));
  EXPECT_TRUE(thrower.active());
  // The blocked one holds one event in its handler and at most 4 queued.
  EXPECT_GE(slow.dropped(), static_cast<std::uint64_t>(kEvents - 5));
  auto h = c.health();
  bool found = false;
  for (auto& d : h.destinations) {
    if (d.name.rfind("events-bus", 0) != 0) continue;
    found = true;
    EXPECT_EQ(d.dropped[static_cast<std::size_t>(DropReason::kQueueFull)], slow.dropped());
    EXPECT_NE(d.last_error.find("handler"), std::string::npos) << d.last_error;
  }
  EXPECT_TRUE(found);
  {
    std::lock_guard<std::mutex> lock(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  slow.unsubscribe();
  EXPECT_FALSE(slow.active());
  // The events still reached the file, whatever the subscribers did.
  ASSERT_TRUE(c.flush(10s));
  EXPECT_EQ(c.health().track(Track::kEvents).written, static_cast<std::uint64_t>(kEvents));
}

TEST_F(EventsTrack, AHandlerMayUnsubscribeItselfAndADestroyedHandleStopsDelivery) {
  auto c = make({});
  std::atomic<int> calls{0};
  Subscription self;
  std::mutex mu;
  std::unique_lock<std::mutex> hold(mu);  // the handler waits until `self` is assigned
  self = c.events().subscribe({}, [&](const Event&) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    self.unsubscribe();
  });
  hold.unlock();
  std::atomic<int> scoped_calls{0};
  {
    auto scoped = c.events().subscribe({}, [&](const Event&) { ++scoped_calls; });
    c.events().job_completed({.job_id = "job-a"});
    for (int i = 0; i < 1000 && (scoped_calls < 1 || calls < 1); ++i)
      std::this_thread::sleep_for(10ms);
  }
  c.events().job_completed({.job_id = "job-b"});
  c.events().job_completed({.job_id = "job-c"});
  ASSERT_TRUE(c.flush(10s));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(scoped_calls.load(), 1);
  EXPECT_EQ(c.health().track(Track::kEvents).written, 3u);
}

TEST_F(EventsTrack, ShutdownKeepsItsDeadlineWithAHandlerThatNeverReturns) {
  auto c = make({});
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto entered = std::make_shared<std::atomic<bool>>(false);
  auto sub = c.events().subscribe({}, [release, entered](const Event&) {
    *entered = true;
    while (!*release) std::this_thread::sleep_for(1ms);
  });
  c.events().job_started({.job_id = "job-1"});
  for (int i = 0; i < 1000 && !*entered; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(entered->load());
  auto t0 = std::chrono::steady_clock::now();
  c.shutdown(300ms);
  // Not a timing assertion on speed: the call returned although the handler
  // is still blocked (it would never return otherwise).
  EXPECT_FALSE(release->load());
  *release = true;
  (void)t0;
  sub.unsubscribe();  // the bus already let the thread go: a no-op
}

}  // namespace
