// fork() while the metrics track is busy (a reader exporting every 20 ms,
// a thread recording, a Prometheus endpoint): the child never inherits a
// held lock, starts from zero (the parent's measurements stay the parent's),
// exports its own measurements through its own sink, and shutting it down
// leaves the parent's Prometheus endpoint serving.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "emp/telemetry/client.hpp"
#include "support/http_client.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using emp::telemetry::testing::LoopbackCollector;
using nlohmann::json;

// Waits (bounded) for a child; kills it when it hangs. Its exit status, or -1.
int wait_child(pid_t pid, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(5ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

using emp::telemetry::testing::http_get;

// name -> first data point of every metric in an OTLP/JSON request.
std::map<std::string, json> points(const std::string& body) {
  std::map<std::string, json> out;
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("resourceMetrics")) return out;
  for (auto& rm : j["resourceMetrics"])
    for (auto& sm : rm["scopeMetrics"])
      for (auto& m : sm["metrics"])
        for (const char* k : {"sum", "gauge"})
          if (m.contains(k)) out[m["name"]] = m[k]["dataPoints"][0];
  return out;
}

TEST(MetricsFork, ChildStartsFromZeroExportsItsOwnAndLeavesTheParentServing) {
  LoopbackCollector collector;
  const fs::path dir =
      fs::temp_directory_path() / ("emp-metrics-fork-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Options o;
  o.preset = Preset::kApi;
  o.service_name = "fork-test";
  o.machine_id = "m1";
  o.log_dir = dir.string();
  const std::string base = collector.base_url();
  o.env = [base](std::string_view k) -> std::optional<std::string> {
    if (k == "OTEL_EXPORTER_OTLP_ENDPOINT") return base;
    if (k == "OTEL_EXPORTER_OTLP_PROTOCOL") return "http/json";
    if (k == "OTEL_METRIC_EXPORT_INTERVAL") return "20ms";
    if (k == "EMP_PROMETHEUS_PORT") return "0";
    // The background thread writes the status file on nearly every tick, so
    // that forks land while it holds the status lock.
    if (k == "EMP_STATUS_INTERVAL") return "1ms";
    if (k == "EMP_FLUSH_INTERVAL") return "1ms";
    return std::nullopt;
  };
  auto made = Client::create(o);
  ASSERT_TRUE(made.ok());
  Client c = std::move(made).value();
  const std::uint16_t port = c.metrics().prometheus_port();
  ASSERT_NE(port, 0);
  c.metrics().counter("parent_total", 5);

  std::atomic<bool> stop{false};
  std::thread busy([&] {
    // New series keep the instrument locks busy while the forks happen.
    for (int i = 0; !stop.load(); ++i) {
      c.metrics().counter("busy_total", 1, {{"k", i % 3000}});
      if (i % 64 == 0) std::this_thread::yield();
    }
  });

  constexpr int kForks = 12;
  for (int f = 0; f < kForks; ++f) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child: its own measurements, exported by its own sink.
      c.metrics().counter("child_total", f + 1);
      c.metrics().counter("parent_total", 1);
      const auto t0 = std::chrono::steady_clock::now();
      const bool flushed = c.flush(10s);
      const auto t1 = std::chrono::steady_clock::now();
      const bool no_port = c.metrics().prometheus_port() == 0;
      const bool shut = c.shutdown(10s);
      const auto t2 = std::chrono::steady_clock::now();
      if (!(flushed && no_port && shut)) {
        // Which step failed, how long each took and where the records stood:
        // the parent only sees the exit status.
        const auto ms = [](auto d) {
          return static_cast<long long>(
              std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
        };
        std::fprintf(stderr, "child %d: flushed=%d (%lld ms) no_port=%d shut=%d (%lld ms)\n", f,
                     flushed, ms(t1 - t0), no_port, shut, ms(t2 - t1));
        for (const auto& d : c.health().destinations)
          std::fprintf(stderr, "child %d: %s state=%s delivered=%llu last_error=%s\n", f,
                       d.name.c_str(), d.state.c_str(),
                       static_cast<unsigned long long>(d.delivered), d.last_error.c_str());
      }
      ::_exit(flushed && no_port && shut ? 0 : 1);
    }
    EXPECT_EQ(wait_child(pid, 60s), 0) << "fork " << f;
    std::this_thread::sleep_for(3ms);
  }
  stop.store(true);
  busy.join();

  // Every child's export: its counter and the parent's counter from zero.
  // (A child exports at flush and again at shutdown: cumulative, same values.)
  std::set<std::string> children_seen;
  for (auto& r : collector.requests()) {
    if (r.target != "/v1/metrics") continue;
    auto p = points(r.body);
    if (!p.count("child_total")) continue;
    children_seen.insert(p["child_total"]["asInt"].get<std::string>());
    EXPECT_EQ(p["parent_total"]["asInt"], "1") << r.body.substr(0, 400);
    if (p.count("busy_total")) {
      EXPECT_EQ(p["busy_total"]["asInt"], "0") << "the parent's series start from zero";
    }
  }
  EXPECT_EQ(children_seen.size(), static_cast<std::size_t>(kForks));

  // The parent is untouched: endpoint up, its own totals.
  std::string body;
  ASSERT_EQ(http_get("http://127.0.0.1:" + std::to_string(port) + "/metrics", body), 200);
  EXPECT_NE(body.find("parent_total"), std::string::npos);
  EXPECT_EQ(body.find("child_total"), std::string::npos);
  collector.clear();
  ASSERT_TRUE(c.flush(20s));
  bool parent_seen = false;
  for (auto& r : collector.requests()) {
    auto p = points(r.body);
    if (!p.count("parent_total")) continue;
    parent_seen = true;
    EXPECT_EQ(p["parent_total"]["asInt"], "5");
    EXPECT_FALSE(p.count("child_total"));
  }
  EXPECT_TRUE(parent_seen);
  c.shutdown(10s);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace emp::telemetry
