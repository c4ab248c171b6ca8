// The metrics track end to end through a Client: OTLP/HTTP to a real
// loopback collector (payloads decoded by the official OTLP schema), the
// OTLP/JSON file used without a collector, periodic export, delta
// temporality, the final export at shutdown, the Prometheus endpoint fetched
// over HTTP and checked by `promtool check metrics`, machine metrics for the
// worker preset, the client's own health as metrics, and a blocking
// observable callback that must not stall flush.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "emp/telemetry/client.hpp"
#include "support/http_client.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using emp::telemetry::testing::LoopbackCollector;
using emp::telemetry::testing::RecordedRequest;
using nlohmann::json;

std::string source_root() {
  const char* src = std::getenv("EMP_TEST_SRC");
  return src ? src : ".";
}

// Runs a command, returning its exit status and output.
int run(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  return ::pclose(p);
}

// The official-schema decoder (node + @opentelemetry/otlp-transformer).
json decode_metrics(const std::string& bytes) {
  fs::path file =
      fs::temp_directory_path() / ("emp-metrics-" + std::to_string(::getpid()) + ".bin");
  {
    std::ofstream out(file, std::ios::binary);
    out << bytes;
  }
  std::string text;
  const std::string cmd =
      "node " + source_root() + "/tests/conformance/otlp/decode.js metrics " + file.string();
  const int rc = run(cmd, text);
  fs::remove(file);
  EXPECT_EQ(rc, 0) << "decoder failed (./run setup installs node and the schema): " << cmd << "\n"
                   << text.substr(0, 2000);
  auto j = json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "decoder output is not JSON: " << text.substr(0, 300);
  return j;
}

// metric name -> decoded Metric, over every resourceMetrics/scopeMetrics.
std::map<std::string, json> metrics_of(const json& request) {
  std::map<std::string, json> out;
  if (!request.contains("resourceMetrics")) return out;
  for (auto& rm : request["resourceMetrics"])
    for (auto& sm : rm["scopeMetrics"])
      for (auto& m : sm["metrics"]) out[m["name"].get<std::string>()] = m;
  return out;
}

std::map<std::string, json> attrs(const json& point) {
  std::map<std::string, json> out;
  if (point.contains("attributes"))
    for (auto& a : point["attributes"]) out[a["key"].get<std::string>()] = a["value"];
  return out;
}

// A decoded number point's value (asInt is a decimal string, asDouble a number).
double number(const json& p) {
  if (p.contains("asInt") && !p["asInt"].is_null() && p.value("asDouble", 0.0) == 0.0) {
    const auto& v = p["asInt"];
    return v.is_string() ? std::stod(v.get<std::string>()) : v.get<double>();
  }
  return p.value("asDouble", 0.0);
}

using emp::telemetry::testing::http_get;

class MetricsExport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-metrics-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Client make(std::map<std::string, std::string> env, Preset preset = Preset::kApi) {
    Options o;
    o.preset = preset;
    o.service_name = "metrics-test";
    o.machine_id = "m1";
    o.log_dir = dir_.string();
    env.emplace("OTEL_METRIC_EXPORT_INTERVAL", "1h");  // exports come from flush unless set
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
  std::vector<RecordedRequest> metrics_requests() {
    std::vector<RecordedRequest> out;
    for (auto& r : collector_.requests())
      if (r.target == "/v1/metrics") out.push_back(r);
    return out;
  }
  // Every line of the local OTLP/JSON metrics file, parsed.
  std::vector<json> file_lines() {
    std::vector<json> out;
    std::ifstream in(dir_ / "otlp-metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto j = json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << line.substr(0, 200);
      out.push_back(j);
    }
    return out;
  }

  LoopbackCollector collector_;
  fs::path dir_;
};

TEST_F(MetricsExport, ProtobufToTheCollectorDecodesWithTheOfficialSchema) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()}});
  auto& m = c.metrics();
  const std::initializer_list<Field> done = {{"service_type", "comfyui"}, {"status", "completed"}};
  m.counter("jobs_processed_total", 1, done);
  m.counter("jobs_processed_total", 2, done);
  m.gauge("active_jobs_count", 12, {{"service_type", "comfyui"}});
  m.histogram("job_duration_seconds", 28.5, {{"service_type", "comfyui"}}, "s");
  m.histogram("job_duration_seconds", 3.0, {{"service_type", "comfyui"}}, "s");
  m.up_down_counter("queue_depth", -2);
  ASSERT_TRUE(c.flush(20s));

  auto reqs = metrics_requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("content-type").value_or(""), "application/x-protobuf");
  json d = decode_metrics(reqs[0].body);
  auto& rm = d["resourceMetrics"][0];
  std::map<std::string, json> res;
  for (auto& a : rm["resource"]["attributes"]) res[a["key"]] = a["value"];
  EXPECT_EQ(res["service.name"]["stringValue"], "metrics-test");
  EXPECT_EQ(rm["scopeMetrics"][0]["scope"]["name"], "emp-telemetry");
  auto ms = metrics_of(d);

  ASSERT_TRUE(ms.count("jobs_processed_total"));
  auto& sum = ms["jobs_processed_total"]["sum"];
  EXPECT_EQ(sum["aggregationTemporality"], 2);
  EXPECT_EQ(sum["isMonotonic"], true);
  ASSERT_EQ(sum["dataPoints"].size(), 1u);
  EXPECT_EQ(number(sum["dataPoints"][0]), 3);
  auto a = attrs(sum["dataPoints"][0]);
  EXPECT_EQ(a["status"]["stringValue"], "completed");
  EXPECT_EQ(a["service_type"]["stringValue"], "comfyui");
  EXPECT_NE(sum["dataPoints"][0]["startTimeUnixNano"], "0");

  ASSERT_TRUE(ms.count("active_jobs_count"));
  EXPECT_EQ(number(ms["active_jobs_count"]["gauge"]["dataPoints"][0]), 12);

  ASSERT_TRUE(ms.count("job_duration_seconds"));
  EXPECT_EQ(ms["job_duration_seconds"]["unit"], "s");
  auto& hp = ms["job_duration_seconds"]["histogram"]["dataPoints"][0];
  EXPECT_EQ(ms["job_duration_seconds"]["histogram"]["aggregationTemporality"], 2);
  EXPECT_EQ(hp["count"], "2");
  EXPECT_DOUBLE_EQ(hp["sum"].get<double>(), 31.5);
  ASSERT_EQ(hp["bucketCounts"].size(), 16u);
  ASSERT_EQ(hp["explicitBounds"].size(), 15u);
  EXPECT_EQ(hp["bucketCounts"][1], "1");  // 3 in (0, 5]
  EXPECT_EQ(hp["bucketCounts"][4], "1");  // 28.5 in (25, 50]
  EXPECT_DOUBLE_EQ(hp["min"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(hp["max"].get<double>(), 28.5);

  ASSERT_TRUE(ms.count("queue_depth"));
  EXPECT_EQ(ms["queue_depth"]["sum"]["isMonotonic"], false);
  EXPECT_EQ(number(ms["queue_depth"]["sum"]["dataPoints"][0]), -2);

  // The client's own health is exported too.
  ASSERT_TRUE(ms.count("emp_telemetry.records"));

  // Accounting: six measurements recorded; the track's counters are data
  // points, and every point offered for export was written.
  auto h = c.health().track(Track::kMetrics);
  EXPECT_EQ(h.measurements, 6u);
  EXPECT_EQ(h.dropped_total(), 0u);
  std::size_t points = 0;
  for (auto& [name, metric] : ms) {
    for (const char* kind : {"sum", "gauge", "histogram"})
      if (metric.contains(kind) && !metric[kind].is_null())
        points += metric[kind]["dataPoints"].size();
  }
  EXPECT_EQ(h.written, points);
  EXPECT_EQ(h.offered, h.written + h.dropped_total() + h.spooled);
  bool found = false;
  for (auto& dst : c.health().destinations) {
    if (dst.track != Track::kMetrics) continue;
    found = true;
    EXPECT_EQ(dst.delivered, points);
    EXPECT_NE(dst.name.find("/v1/metrics"), std::string::npos);
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(c.metrics().stats().exported_points, points);
}

TEST_F(MetricsExport, PeriodicExportWithoutFlush) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()},
                 {"OTEL_METRIC_EXPORT_INTERVAL", "150ms"}});
  c.metrics().counter("ticks", 1);
  ASSERT_TRUE(collector_.wait_for_requests(2, 20s));
  auto reqs = metrics_requests();
  ASSERT_GE(reqs.size(), 2u);
  auto ms = metrics_of(decode_metrics(reqs[1].body));
  ASSERT_TRUE(ms.count("ticks"));
  EXPECT_EQ(number(ms["ticks"]["sum"]["dataPoints"][0]), 1);  // cumulative: sent again
}

TEST_F(MetricsExport, JsonWithGzipAndDeltaTemporality) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()},
                 {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"},
                 {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
                 {"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"},
                 {"EMP_METRICS_SELF", "false"}});
  auto& m = c.metrics();
  m.counter("requests", 5, {{"route", "/a"}});
  m.up_down_counter("inflight", 2);
  ASSERT_TRUE(c.flush(20s));
  m.counter("requests", 3, {{"route", "/a"}});
  ASSERT_TRUE(c.flush(20s));
  auto reqs = metrics_requests();
  ASSERT_EQ(reqs.size(), 2u);
  for (auto& r : reqs) {
    EXPECT_TRUE(r.gzip);
    EXPECT_EQ(r.header("content-type").value_or(""), "application/json");
  }
  auto first = metrics_of(json::parse(reqs[0].body));
  auto second = metrics_of(json::parse(reqs[1].body));
  ASSERT_TRUE(first.count("requests"));
  ASSERT_TRUE(second.count("requests"));
  EXPECT_EQ(first["requests"]["sum"]["aggregationTemporality"], 1);
  EXPECT_EQ(first["requests"]["sum"]["dataPoints"][0]["asInt"], "5");
  EXPECT_EQ(second["requests"]["sum"]["dataPoints"][0]["asInt"], "3");
  // Up-down counters stay cumulative under the delta preference.
  EXPECT_EQ(second["inflight"]["sum"]["aggregationTemporality"], 2);
  EXPECT_EQ(second["inflight"]["sum"]["dataPoints"][0]["asInt"], "2");
}

TEST_F(MetricsExport, WithoutACollectorMetricsGoToALocalOtlpJsonFile) {
  auto c = make({});
  c.metrics().counter("local_total", 4, {{"k", "v"}});
  ASSERT_TRUE(c.flush(20s));
  auto lines = file_lines();
  ASSERT_FALSE(lines.empty());
  auto ms = metrics_of(lines.back());
  ASSERT_TRUE(ms.count("local_total"));
  EXPECT_EQ(ms["local_total"]["sum"]["dataPoints"][0]["asInt"], "4");
  EXPECT_GT(c.health().track(Track::kMetrics).written, 0u);
}

TEST_F(MetricsExport, ShutdownExportsAFinalTimeAndLaterCallsAreCounted) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()}});
  c.metrics().counter("last_words", 9);
  ASSERT_TRUE(c.shutdown(20s));
  auto reqs = metrics_requests();
  ASSERT_EQ(reqs.size(), 1u);
  auto ms = metrics_of(decode_metrics(reqs[0].body));
  ASSERT_TRUE(ms.count("last_words"));
  EXPECT_EQ(number(ms["last_words"]["sum"]["dataPoints"][0]), 9);
  c.metrics().counter("last_words", 1);
  auto h = c.health().track(Track::kMetrics);
  EXPECT_EQ(h.measurements_dropped[static_cast<std::size_t>(DropReason::kShutdown)], 1u);
  EXPECT_EQ(h.measurements, 2u);
  EXPECT_GT(h.offered, 0u);  // data points, which add up on their own
  EXPECT_EQ(h.offered, h.written + h.dropped_total() + h.spooled);
}

TEST_F(MetricsExport, RejectedMeasurementsAreCountedInHealth) {
  auto c = make({});
  auto& m = c.metrics();
  m.counter("bad name", 1);
  m.counter("ok", std::numeric_limits<double>::quiet_NaN());
  m.counter("ok", 1);
  m.gauge("ok", 1);  // conflicting kind
  auto h = c.health().track(Track::kMetrics);
  EXPECT_EQ(h.measurements_dropped[static_cast<std::size_t>(DropReason::kRejected)], 3u);
  EXPECT_EQ(h.measurements, 4u);
  EXPECT_EQ(h.dropped_total(), 0u);  // no data point was lost
}

TEST_F(MetricsExport, PrometheusEndpointServesTextThatPromtoolAccepts) {
  auto c = make({{"EMP_PROMETHEUS_PORT", "0"},
                 {"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()},
                 {"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"}});
  auto& m = c.metrics();
  const std::uint16_t port = m.prometheus_port();
  ASSERT_NE(port, 0);
  // promtool also lints: every family needs help text.
  auto described = [](std::string_view unit, std::string_view text) {
    InstrumentOptions o;
    o.unit = unit;
    o.description = text;
    return o;
  };
  m.create_counter("jobs_processed_total", described("", "Jobs finished, by outcome"));
  m.create_gauge("active_jobs", described("", "Jobs running now"));
  m.create_histogram("job_duration_seconds", described("s", "Time from claim to completion"));
  m.counter("jobs_processed_total", 3, {{"service_type", "comfyui"}, {"status", "completed"}});
  m.gauge("active_jobs", 12, {{"service_type", "comfyui"}});
  m.histogram("job_duration_seconds", 28.5, {{"service_type", "comfyui"}}, "s");
  // A delta OTLP export in between must not reset what Prometheus sees.
  ASSERT_TRUE(c.flush(20s));
  m.counter("jobs_processed_total", 1, {{"service_type", "comfyui"}, {"status", "completed"}});

  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::string body, type;
  ASSERT_EQ(http_get(base + "/metrics", body, type), 200);
  EXPECT_EQ(type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(body.find("# TYPE jobs_processed_total counter"), std::string::npos) << body;
  EXPECT_NE(body.find("active_jobs{"), std::string::npos) << body;
  EXPECT_NE(body.find("job_duration_seconds_bucket{"), std::string::npos) << body;
  // The cumulative total (3 + 1), whatever the OTLP temporality.
  std::istringstream lines(body);
  std::string line;
  bool total_seen = false;
  while (std::getline(lines, line)) {
    if (line.rfind("jobs_processed_total{", 0) == 0) {
      total_seen = true;
      EXPECT_NE(line.find("service_type=\"comfyui\",status=\"completed\""), std::string::npos)
          << line;
      EXPECT_EQ(line.substr(line.rfind(' ') + 1), "4") << line;
    }
  }
  EXPECT_TRUE(total_seen);

  // The official checker.
  fs::path file = dir_ / "scrape.txt";
  {
    std::ofstream out(file);
    out << body;
  }
  std::string out;
  const int rc =
      run("command -v promtool >/dev/null || { echo 'promtool missing: run ./run setup "
          "(Debian package prometheus)'; exit 127; }; promtool check metrics < " +
              file.string(),
          out);
  EXPECT_EQ(rc, 0) << out;

  std::string nf;
  EXPECT_EQ(http_get(base + "/other", nf, type), 404);
  c.shutdown(10s);
  EXPECT_EQ(c.metrics().prometheus_port(), 0);
  EXPECT_EQ(http_get(base + "/metrics", nf, type), 0);  // nobody listens any more
}

TEST_F(MetricsExport, PrometheusPortInUseIsReportedAndTheClientStillWorks) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(s, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  const int taken = ntohs(a.sin_port);
  auto c = make({{"EMP_PROMETHEUS_PORT", std::to_string(taken)}});
  EXPECT_EQ(c.metrics().prometheus_port(), 0);
  EXPECT_NE(c.health().last_error.find("Prometheus endpoint not started"), std::string::npos)
      << c.health().last_error;
  c.metrics().counter("still_counted", 1);
  EXPECT_EQ(c.health().track(Track::kMetrics).measurements, 1u);
  ::close(s);
}

TEST_F(MetricsExport, WorkerPresetExportsMachineMetricsWithRealValues) {
  auto c = make({}, Preset::kWorker);
  // Burn a little CPU so the utilization is above zero.
  volatile double x = 1;
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) x = x * 1.0000001 + 1;
  ASSERT_TRUE(c.flush(30s));
  auto lines = file_lines();
  ASSERT_FALSE(lines.empty());
  auto ms = metrics_of(lines.back());
  auto first_value = [&](const std::string& name) -> double {
    if (!ms.count(name)) {
      ADD_FAILURE() << "missing " << name;
      return 0;
    }
    for (const char* kind : {"gauge", "sum"}) {
      if (ms[name].contains(kind) && !ms[name][kind].is_null()) {
        auto& p = ms[name][kind]["dataPoints"][0];
        if (p.contains("asInt")) return std::stod(p["asInt"].get<std::string>());
        return p.value("asDouble", 0.0);
      }
    }
    return 0;
  };
  EXPECT_GT(first_value("process.cpu.utilization"), 0.0);
  EXPECT_GT(first_value("machine.cpu.percent"), 0.0);
  EXPECT_GT(first_value("process.memory.usage"), 1 << 20);
  EXPECT_GE(first_value("process.open_file_descriptor.count"), 3);
  EXPECT_GT(first_value("machine.disk.total_bytes"), 0);
  EXPECT_GT(first_value("machine.memory.used_bytes"), 0);
}

TEST_F(MetricsExport, ApiPresetHasNoMachineMetricsUnlessAsked) {
  {
    auto c = make({});
    ASSERT_TRUE(c.flush(20s));
    auto ms = metrics_of(file_lines().back());
    EXPECT_FALSE(ms.count("machine.cpu.percent"));
    EXPECT_TRUE(ms.count("emp_telemetry.records"));
  }
  fs::remove(dir_ / "otlp-metrics.jsonl");
  auto c = make({{"EMP_MACHINE_METRICS", "true"}});
  ASSERT_TRUE(c.flush(20s));
  EXPECT_TRUE(metrics_of(file_lines().back()).count("machine.cpu.percent"));
}

TEST_F(MetricsExport, SelfMetricsShowTheOtherTracks) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()}});
  for (int i = 0; i < 5; ++i) c.log().info("hello");
  ASSERT_TRUE(c.flush(20s));
  ASSERT_TRUE(c.flush(20s));  // the second export sees the first one's outcome
  auto reqs = metrics_requests();
  ASSERT_GE(reqs.size(), 2u);
  auto ms = metrics_of(decode_metrics(reqs.back().body));
  ASSERT_TRUE(ms.count("emp_telemetry.records"));
  double logs_written = -1;
  for (auto& p : ms["emp_telemetry.records"]["sum"]["dataPoints"]) {
    auto a = attrs(p);
    if (a["track"]["stringValue"] == "logs" && a["outcome"]["stringValue"] == "written")
      logs_written = number(p);
  }
  EXPECT_EQ(logs_written, 5);
  ASSERT_TRUE(ms.count("emp_telemetry.destination.delivered"));
  bool metrics_dest = false;
  for (auto& p : ms["emp_telemetry.destination.delivered"]["sum"]["dataPoints"]) {
    auto a = attrs(p);
    if (a["track"]["stringValue"] == "metrics") metrics_dest = number(p) > 0;
  }
  EXPECT_TRUE(metrics_dest);
  ASSERT_TRUE(ms.count("emp_telemetry.destination.up"));
}

TEST_F(MetricsExport, ABlockingCallbackDoesNotStallFlushOrShutdown) {
  auto c = make({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector_.base_url()},
                 {"EMP_METRICS_CALLBACK_TIMEOUT", "100ms"}});
  // Shared with the callback by value: the abandoned call may outlive a
  // stack frame.
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    bool returned = false;
  };
  auto gate = std::make_shared<Gate>();
  ASSERT_TRUE(c.metrics().create_observable_gauge("hangs", [gate](ObservableResult& r) {
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->cv.wait_for(lock, 30s, [&] { return gate->release; });
    r.observe(1);
    gate->returned = true;
    gate->cv.notify_all();
  }));
  c.metrics().counter("unaffected", 1);
  EXPECT_TRUE(c.flush(20s));
  auto reqs = metrics_requests();
  ASSERT_EQ(reqs.size(), 1u);
  auto ms = metrics_of(decode_metrics(reqs[0].body));
  EXPECT_TRUE(ms.count("unaffected"));
  EXPECT_FALSE(ms.count("hangs"));
  EXPECT_EQ(c.metrics().stats().callback_timeouts, 1u);
  // Shutdown skips the still-blocked callback and exports the rest.
  EXPECT_TRUE(c.shutdown(20s));
  EXPECT_EQ(metrics_requests().size(), 2u);
  EXPECT_GE(c.metrics().stats().callbacks_skipped, 1u);
  std::unique_lock<std::mutex> lock(gate->mu);
  gate->release = true;
  gate->cv.notify_all();
  EXPECT_TRUE(gate->cv.wait_for(lock, 30s, [&] { return gate->returned; }));
}

}  // namespace
}  // namespace emp::telemetry
