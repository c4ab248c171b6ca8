// Shared by the viewer tests: a Viewer on a free loopback port with its
// database in a fresh temporary directory, a Client whose OTLP destination
// is that viewer, and a Sentry envelope built the way a Sentry SDK sends one.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "emp/telemetry/client.hpp"
#include "emp/telemetry/viewer.hpp"
#include "support/http_client.hpp"

namespace emp::telemetry::viewer_test {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::http_get;
using testing::http_request;

class ViewerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-viewer-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    start();
  }
  void TearDown() override {
    viewer_.reset();
    fs::remove_all(dir_);
  }

  void start(ViewerOptions o = {}) {
    viewer_.reset();
    o.port = 0;
    o.db_path = (dir_ / "viewer.db").string();
    auto v = Viewer::start(o);
    if (!v) {
      for (const auto& e : v.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    viewer_ = std::move(v).value();
  }

  // A client (preset worker) whose every OTLP signal goes to the viewer.
  Client client(std::map<std::string, std::string> env = {}) {
    env.emplace("OTEL_EXPORTER_OTLP_ENDPOINT", viewer_->url());
    Options o;
    o.preset = Preset::kWorker;
    o.service_name = "viewer-test-worker";
    o.machine_id = "gpu-7";
    o.log_dir = (dir_ / "logs").string();
    o.env = [env](std::string_view k) -> std::optional<std::string> {
      auto it = env.find(std::string(k));
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    auto c = Client::create(o);
    if (!c) {
      for (const auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }

  json get_json(const std::string& path, long want_status = 200) {
    auto r = http_get(viewer_->url() + path);
    EXPECT_EQ(r.status, want_status) << path << ": " << r.body;
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << path << ": " << r.body;
    return j;
  }

  std::unique_ptr<Viewer> viewer_;
  fs::path dir_;
};

// The names of a job document's spans, in the API's (start time) order.
inline std::vector<std::string> span_names(const json& doc) {
  std::vector<std::string> out;
  for (const auto& s : doc["spans"]) out.push_back(s["name"]);
  return out;
}

// A Sentry envelope with one error event (exception with a stack trace,
// the job_id tag, the trace context) and one client report.
inline std::string sentry_envelope(const std::string& event_id, const std::string& job_id,
                                   const std::string& trace_id, const std::string& message) {
  const json event = {
      {"event_id", event_id},
      {"timestamp",
       std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
      {"platform", "native"},
      {"level", "error"},
      {"server_name", "gpu-7"},
      {"environment", "development"},
      {"release", "emp-worker@1.2.3"},
      {"exception",
       {{"values", json::array({{{"type", "ModelLoadError"},
                                 {"value", message},
                                 {"stacktrace",
                                  {{"frames", json::array({{{"function", "main"},
                                                            {"filename", "main.cpp"},
                                                            {"lineno", 10},
                                                            {"in_app", true}},
                                                           {{"function", "load_model"},
                                                            {"filename", "model.cpp"},
                                                            {"lineno", 42},
                                                            {"in_app", true}}})}}}}})}}},
      {"tags", {{"job_id", job_id}, {"service_name", "viewer-test-worker"}}},
      {"contexts", {{"trace", {{"trace_id", trace_id}, {"span_id", "00f067aa0ba902b7"}}}}}};
  const std::string payload = event.dump();
  const json report = {
      {"timestamp", 1764057369.5},
      {"discarded_events",
       json::array({{{"reason", "queue_overflow"}, {"category", "error"}, {"quantity", 3}}})}};
  return json({{"event_id", event_id}, {"sent_at", "2026-11-25T07:56:10Z"}}).dump() + "\n" +
         json({{"type", "event"}, {"length", payload.size()}}).dump() + "\n" + payload + "\n" +
         json({{"type", "client_report"}}).dump() + "\n" + report.dump() + "\n";
}

}  // namespace emp::telemetry::viewer_test
