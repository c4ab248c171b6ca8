// `emp-telemetry gen` against a collector that is down for the first 20
// seconds: with the disk spool on and short retry and breaker settings, gen
// keeps what it cannot send, delivers all of it once the collector is back
// on the same port, and exits 0; the collector counts every span and log
// record exactly once (by identity), whatever was retried.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/cli_gen/cli_process.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry::cli_test {
namespace {

using nlohmann::json;
using testing::LoopbackCollector;
using namespace std::chrono_literals;

TEST(CliGenOutage, CollectorDownForTwentySecondsLosesNothing) {
  LoopbackCollector collector;  // started once to learn its port, then refused
  collector.stop();
  TempDir dir;
  const std::map<std::string, std::string> env{
      {"LOG_DIR", dir.path().string()},
      {"SERVICE_NAME", "gen-outage"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
      {"EMP_LOGS_OTLP", "true"},
      {"EMP_SPOOL_ENABLED", "true"},
      {"EMP_RETRY_INITIAL_INTERVAL", "100ms"},
      {"EMP_RETRY_MAX_INTERVAL", "1s"},
      {"EMP_CIRCUIT_COOLDOWN", "1s"}};
  CliProcess gen({"gen", "--spans", "10000", "--logs", "10000", "--flush-timeout", "90", "--json"},
                 env, 150s);

  // Bring the collector back after 20 s (interruptible, so a failing test
  // does not wait it out).
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool restarted = false;
  std::thread restarter([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (cv.wait_for(lock, 20s, [&] { return done; })) return;
    lock.unlock();
    const bool ok = collector.restart();
    lock.lock();
    restarted = ok;
  });
  const Result r = gen.wait();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  restarter.join();
  ASSERT_TRUE(restarted) << collector.last_error();
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  const json s = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(s.is_object()) << describe(r);
  EXPECT_TRUE(s.value("delivered", false));
  EXPECT_EQ(s["tracks"]["spans"].value("written", 0u), 10000u) << s.dump(2);
  EXPECT_EQ(s["tracks"]["spans"].value("spooled", 1u), 0u);
  EXPECT_EQ(s["tracks"]["logs"].value("written", 0u), 10000u);
  EXPECT_GE(s.value("elapsed_seconds", 0.0), 19.0) << "nothing can be delivered before the restart";
  std::uint64_t retried = 0;
  for (const auto& d : s["destinations"]) {
    retried += d.value("retried", 0u);
    if (d.value("track", "") == "traces" || d.value("track", "") == "logs") {
      EXPECT_EQ(d.value("delivered", 0u), 10000u) << d.dump();
      EXPECT_EQ(d.value("spooled", 1u), 0u) << d.dump();
    }
  }
  EXPECT_GT(retried, 0u) << s.dump(2);

  std::set<std::pair<std::string, std::string>> spans;
  std::set<std::pair<std::string, std::string>> records;
  for (const auto& req : collector.requests()) {
    const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(body.is_object()) << req.target;
    if (req.target == "/v1/traces") {
      for_each_span(body, [&](const json& span) {
        spans.emplace(span.value("traceId", ""), span.value("spanId", ""));
      });
    } else if (req.target == "/v1/logs") {
      for_each_log_record(body, [&](const json& rec) {
        const auto& attrs = rec.value("attributes", json::array());
        records.emplace(attribute(attrs, "job_id"), attribute(attrs, "event"));
      });
    }
  }
  EXPECT_EQ(spans.size(), 10000u);
  EXPECT_EQ(records.size(), 10000u);
}

}  // namespace
}  // namespace emp::telemetry::cli_test
