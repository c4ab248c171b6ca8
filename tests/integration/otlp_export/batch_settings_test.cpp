// The batch processors' queue sizes (OTEL_BSP_MAX_QUEUE_SIZE,
// OTEL_BLRP_MAX_QUEUE_SIZE) and OTEL_BSP_EXPORT_TIMEOUT against a loopback
// collector that never answers: no more spans or log records wait for export
// than the queue size (the rest are dropped as queue_full, and the counts add
// up), and one export request ends at the export timeout rather than at the
// (longer) OTLP exporter timeout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "emp/telemetry/client.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::LoopbackCollector;
using testing::Response;

class BatchSettings : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-bsp-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    collector_.set_default(Response::hang());
  }
  void TearDown() override {
    collector_.stop();
    fs::remove_all(dir_);
  }
  Client make(std::map<std::string, std::string> env) {
    Options o;
    o.preset = Preset::kWorker;
    o.service_name = "bsp-test";
    o.machine_id = "m1";
    o.log_dir = dir_.string();
    env.emplace("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector_.base_url() + "/v1/traces");
    env.emplace("EMP_RETRY_ENABLED", "false");
    env.emplace("EMP_SPOOL_ENABLED", "false");
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
  LoopbackCollector collector_;
  fs::path dir_;
};

TEST_F(BatchSettings, NoMoreSpansWaitThanTheQueueSize) {
  auto c = make({{"OTEL_BSP_MAX_QUEUE_SIZE", "10"},
                 {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5"},
                 {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "60s"},
                 {"OTEL_BSP_EXPORT_TIMEOUT", "0"}});
  for (int i = 0; i < 200; ++i) {
    auto span = c.tracer().start_span("job.process");
  }
  (void)c.flush(1s);  // the collector hangs: nothing can be delivered
  const TrackHealth t = c.health().track(Track::kTraces);
  EXPECT_EQ(t.offered, 200u);
  const std::uint64_t waiting = t.accepted - t.written - t.dropped_total() - t.spooled;
  EXPECT_LE(waiting, 10u) << "queue_full=" << t.dropped_for(DropReason::kQueueFull);
  EXPECT_GE(t.dropped_for(DropReason::kQueueFull), 190u);
  (void)c.shutdown(1s);
  const TrackHealth after = c.health().track(Track::kTraces);
  EXPECT_EQ(after.offered, after.written + after.dropped_total() + after.spooled);
}

TEST_F(BatchSettings, NoMoreLogRecordsWaitThanTheBlrpQueueSize) {
  auto c = make({{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", collector_.base_url() + "/v1/logs"},
                 {"OTEL_BLRP_MAX_QUEUE_SIZE", "10"},
                 {"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "5"},
                 {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "60s"},
                 {"OTEL_BLRP_EXPORT_TIMEOUT", "0"}});
  for (int i = 0; i < 200; ++i) c.log().info("job.step", {{"i", i}});
  (void)c.flush(1s);  // the collector hangs: nothing can be delivered over OTLP
  const HealthSnapshot h = c.health();
  // The JSON-lines file is the log track's own output: it has every record.
  EXPECT_EQ(h.track(Track::kLogs).written, 200u);
  const DestinationHealth* otlp = nullptr;
  for (const auto& d : h.destinations)
    if (d.track == Track::kLogs && d.name.find("/v1/logs") != std::string::npos) otlp = &d;
  ASSERT_NE(otlp, nullptr);
  const std::uint64_t dropped_queue_full = otlp->dropped[static_cast<std::size_t>(DropReason::kQueueFull)];
  EXPECT_GE(dropped_queue_full, 190u);
  EXPECT_LE(200u - dropped_queue_full, 10u);
  EXPECT_EQ(otlp->delivered, 0u);
  (void)c.shutdown(1s);
}

TEST_F(BatchSettings, ExportTimeoutBoundsOneExport) {
  // The exporter alone would wait 60 s; the batch export timeout says 300 ms.
  auto c = make({{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "60s"}, {"OTEL_BSP_EXPORT_TIMEOUT", "300"}});
  EXPECT_EQ(c.config().otlp_traces.timeout, 300ms);
  { auto span = c.tracer().start_span("job.process"); }
  // Without retries the span reaches a final outcome once its one request
  // times out: flush sees that long before its own deadline.
  EXPECT_TRUE(c.flush(20s));
  const TrackHealth t = c.health().track(Track::kTraces);
  EXPECT_EQ(t.written, 0u);
  EXPECT_EQ(t.dropped_total(), 1u);
  EXPECT_TRUE(c.shutdown(5s));
}

}  // namespace
}  // namespace emp::telemetry
