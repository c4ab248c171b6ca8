// The delivery fault suite: a real loopback collector misbehaves in every
// way the delivery layer must survive, and the client's counters must prove
// where each span went: offered == written + dropped + spooled.
#include <gtest/gtest.h>

#include <fstream>

#include "client/health_json.hpp"
#include "fault_support.hpp"

namespace emp::telemetry::faults {
namespace {

using testing::AcceptMode;
using testing::LoopbackCollector;
using testing::Response;

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }
  Client client(std::map<std::string, std::string> extra = {}) {
    auto env = fast_delivery_env(collector_.base_url());
    env["EMP_SPOOL_DIR"] = (dir_ / "spool").string();
    for (auto& [k, v] : extra) env[k] = v;
    auto c = make_client(dir_, env);
    if (!c) {
      for (auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }
  // With the collector down, 400 spans in batches of 50 go to the spool of a
  // client that is then shut down, as a run that ended during an outage.
  void spool_400_spans_and_stop() {
    collector_.stop();
    auto c = client({{"EMP_SPOOL_ENABLED", "true"}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50"}});
    make_spans(c, 0, 400);
    ASSERT_TRUE(eventually([&] { return c.health().track(Track::kTraces).spooled == 400u; }, 20s));
    c.shutdown(1s);
  }
  DestinationHealth traces(const Client& c) {
    for (auto& d : c.health().destinations)
      if (d.track == Track::kTraces) return d;
    return {};
  }
  LoopbackCollector collector_;
  fs::path dir_;
};

TEST_F(Faults, RefusedConnectionsWithSpoolLoseNothingOnceTheCollectorReturns) {
  collector_.stop();  // connection refused
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}});
  make_spans(c, 0, 1500);
  EXPECT_FALSE(c.flush(500ms));
  // The breaker opens and the queue goes to disk: everything is accounted for.
  ASSERT_TRUE(eventually(
      [&] {
        auto h = c.health().track(Track::kTraces);
        return h.spooled > 0 && quiescent_identity(h);
      },
      20s))
      << "spans neither delivered, dropped nor spooled";
  EXPECT_EQ(traces(c).state, "circuit_open");
  ASSERT_TRUE(collector_.restart());
  ASSERT_TRUE(c.flush(30s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, 1500u);
  EXPECT_EQ(h.written, 1500u);
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_EQ(h.spooled, 0u);
  EXPECT_EQ(received_seqs(collector_).size(), 1500u);
}

TEST_F(Faults, RefusedConnectionsWithoutSpoolAreCountedNotLost) {
  collector_.stop();
  auto c = client({{"EMP_SPOOL_ENABLED", "false"}});
  make_spans(c, 0, 500);
  EXPECT_FALSE(c.flush(2s) && c.health().track(Track::kTraces).written == 500u);
  ASSERT_TRUE(eventually(
      [&] {
        auto h = c.health().track(Track::kTraces);
        return h.written + h.dropped_total() == 500u;
      },
      20s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.written, 0u);
  EXPECT_EQ(h.dropped_for(DropReason::kRetryExhausted) + h.dropped_for(DropReason::kCircuitOpen),
            500u);
}

TEST_F(Faults, HungCollectorCannotHoldShutdownPastItsDeadline) {
  collector_.set_default(Response::hang());
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}, {"OTEL_EXPORTER_OTLP_TIMEOUT", "30000"}});
  make_spans(c, 0, 300);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.flush(700ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  start = std::chrono::steady_clock::now();
  c.shutdown(2s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto h = c.health().track(Track::kTraces);
  EXPECT_TRUE(quiescent_identity(h))
      << h.offered << " " << h.written << " " << h.dropped_total() << " " << h.spooled;
  EXPECT_EQ(h.written, 0u);
  EXPECT_EQ(h.spooled, 300u) << "what the hung server never took is on disk";
}

TEST_F(Faults, SpoolIsReplayedByTheNextRunOfTheProcess) {
  collector_.set_default(Response::with_status(503, "down"));
  {
    auto c = client({{"EMP_SPOOL_ENABLED", "true"}});
    make_spans(c, 0, 400);
    c.shutdown(1s);
    auto h = c.health().track(Track::kTraces);
    EXPECT_TRUE(quiescent_identity(h));
    EXPECT_EQ(h.spooled + h.written, 400u);
  }
  collector_.set_default(Response::ok());
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}});
  ASSERT_TRUE(c.flush(30s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_GT(h.recovered, 0u);
  EXPECT_EQ(h.offered, h.recovered);
  EXPECT_EQ(h.written, h.recovered);
  EXPECT_EQ(h.spooled, 0u);
  EXPECT_EQ(received_seqs(collector_).size(), 400u);
}

TEST_F(Faults, ResetMidBodyIsRetried) {
  collector_.enqueue(Response::reset_mid_body());
  auto c = client();
  make_spans(c, 0, 50);
  ASSERT_TRUE(c.flush(10s));
  EXPECT_EQ(c.health().track(Track::kTraces).written, 50u);
  EXPECT_GE(traces(c).retried, 1u);
  EXPECT_EQ(received_seqs(collector_).size(), 50u);
}

TEST_F(Faults, TooManyRequestsHonoursRetryAfter) {
  collector_.enqueue(Response::retry_after(429, "1"));
  auto c = client();
  auto start = std::chrono::steady_clock::now();
  make_spans(c, 0, 10);
  ASSERT_TRUE(c.flush(10s));
  // A lower bound only: the retry did not come before the server allowed it.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_EQ(c.health().track(Track::kTraces).written, 10u);
  EXPECT_EQ(traces(c).retried, 1u);
}

TEST_F(Faults, ServiceUnavailableForTheFirstRequestsThenEverythingArrives) {
  collector_.fail_first(2, 503);  // one less than EMP_CIRCUIT_FAILURE_THRESHOLD
  auto c = client();
  make_spans(c, 0, 100);
  ASSERT_TRUE(c.flush(10s));
  EXPECT_EQ(c.health().track(Track::kTraces).written, 100u);
  EXPECT_EQ(traces(c).retried, 2u);
  EXPECT_EQ(received_seqs(collector_).size(), 100u);
}

TEST_F(Faults, BadRequestIsPermanentAndNotRetried) {
  collector_.set_default(Response::with_status(400, "bad payload"));
  auto c = client();
  make_spans(c, 0, 100);
  c.flush(10s);
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.dropped_for(DropReason::kRejected), 100u);
  EXPECT_EQ(traces(c).retried, 0u);
  EXPECT_EQ(traces(c).requests, collector_.requests().size());
  EXPECT_EQ(received_seqs(collector_).size(), 100u);  // each span was sent once
  EXPECT_NE(traces(c).last_error.find("bad payload"), std::string::npos);
}

TEST_F(Faults, OpenBreakerWithoutSpoolKeepsBatchesInMemoryUntilTheCollectorReturns) {
  AcceptedSpans accepted;
  accepted.install(collector_, Response::with_status(503, "down"));
  auto c = client({{"EMP_SPOOL_ENABLED", "false"},
                   {"EMP_CIRCUIT_COOLDOWN", "120s"},
                   {"EMP_RETRY_MAX_ELAPSED_TIME", "300s"}});
  make_spans(c, 0, 100);
  ASSERT_TRUE(eventually([&] { return traces(c).state == "circuit_open"; }, 10s));
  make_spans(c, 100, 100);
  EXPECT_FALSE(c.flush(300ms));
  // An open breaker stops traffic, never data: nothing was dropped.
  EXPECT_EQ(c.health().track(Track::kTraces).dropped_total(), 0u);
  EXPECT_GT(traces(c).queue_bytes, 0u);
  accepted.rejecting = false;
  ASSERT_TRUE(c.flush(30s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.written, 200u);
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_EQ(accepted.total(), 200u);  // each span exactly once
  EXPECT_EQ(accepted.unique(), 200u);
}

TEST_F(Faults, TenSecondOutageAtAThousandSpansASecondWithoutSpoolDeliversEverySpanOnce) {
  collector_.stop();
  AcceptedSpans accepted;
  accepted.rejecting = false;
  accepted.install(collector_, Response::ok());
  // The defaults a user has: no spool, 30 s cooldown, 5 min retry budget.
  auto c = client({{"EMP_SPOOL_ENABLED", "false"},
                   {"EMP_CIRCUIT_COOLDOWN", "30s"},
                   {"EMP_RETRY_INITIAL_INTERVAL", "1s"},
                   {"EMP_RETRY_MAX_INTERVAL", "30s"},
                   {"EMP_RETRY_MAX_ELAPSED_TIME", "300s"},
                   {"EMP_CIRCUIT_FAILURE_THRESHOLD", "5"}});
  int seq = produce(c, 0, 1000, 10s);
  ASSERT_TRUE(collector_.restart());
  seq = produce(c, seq, 1000, 2s);
  ASSERT_TRUE(c.flush(60s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.written, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_EQ(accepted.total(), static_cast<std::size_t>(seq));
  EXPECT_EQ(accepted.unique(), static_cast<std::size_t>(seq));
}

TEST_F(Faults, ServiceUnavailableStormWithRetryAfterDeliversEverySpanOnce) {
  AcceptedSpans accepted;
  accepted.install(collector_, Response::retry_after(503, "1"));
  auto c = client({{"EMP_SPOOL_ENABLED", "false"},
                   {"EMP_RETRY_MAX_ELAPSED_TIME", "300s"},
                   {"EMP_CIRCUIT_COOLDOWN", "5s"}});
  int seq = produce(c, 0, 1000, 3s);
  accepted.rejecting = false;
  seq = produce(c, seq, 1000, 1s);
  ASSERT_TRUE(c.flush(60s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.written, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_GT(traces(c).retried, 0u);
  EXPECT_EQ(accepted.total(), static_cast<std::size_t>(seq));
  EXPECT_EQ(accepted.unique(), static_cast<std::size_t>(seq));
}

TEST_F(Faults, OverTheMemoryCapTheOldestBatchesAreDroppedAndCounted) {
  collector_.stop();
  AcceptedSpans accepted;
  accepted.rejecting = false;
  accepted.install(collector_, Response::ok());
  auto c = client({{"EMP_SPOOL_ENABLED", "false"},
                   {"EMP_DELIVERY_MEMORY_CAP", "1MiB"},
                   {"EMP_RETRY_MAX_ELAPSED_TIME", "300s"},
                   {"EMP_CIRCUIT_COOLDOWN", "30s"}});
  int seq = produce(c, 0, 5000, 3s);
  ASSERT_TRUE(collector_.restart());
  ASSERT_TRUE(c.flush(60s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_GT(h.dropped_for(DropReason::kMemoryCap), 0u);
  EXPECT_EQ(h.dropped_total(), h.dropped_for(DropReason::kMemoryCap));
  EXPECT_EQ(h.offered, static_cast<std::uint64_t>(seq));
  EXPECT_TRUE(quiescent_identity(h));
  EXPECT_EQ(accepted.total(), h.written);
  // Oldest first: what arrived is the newest data, every span after the
  // first one delivered.
  std::set<std::int64_t> got;
  {
    std::lock_guard<std::mutex> lock(accepted.mu);
    got.insert(accepted.seqs.begin(), accepted.seqs.end());
  }
  ASSERT_FALSE(got.empty());
  EXPECT_GT(*got.begin(), 0);
  EXPECT_EQ(*got.rbegin(), seq - 1);
  EXPECT_EQ(got.size(), static_cast<std::size_t>(seq - *got.begin()));
}

TEST_F(Faults, HungLogsDestinationDoesNotCostTheTracesTheirData) {
  LoopbackCollector hung;
  hung.set_default(Response::hang());
  auto c = client({{"EMP_LOGS_OTLP", "true"},
                   {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", hung.base_url() + "/v1/logs"},
                   {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "30000"}});
  for (int i = 0; i < 20; ++i) c.log().info("job step", {{"i", i}});
  make_spans(c, 0, 60);
  c.shutdown(3s);
  auto h = c.health().track(Track::kTraces);
  // Every destination works under the one deadline in parallel: the hung
  // one loses its own data (counted), the healthy one loses nothing.
  EXPECT_EQ(h.written, 60u);
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_EQ(received_seqs(collector_).size(), 60u);
}

TEST_F(Faults, ShutdownDuringAnOutageWithSpoolSpoolsAndSucceeds) {
  collector_.stop();
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}});
  make_spans(c, 0, 200);
  ASSERT_TRUE(eventually([&] { return traces(c).state == "circuit_open"; }, 10s));
  // Data safely on disk is a finished state: shutdown does not wait for a
  // collector that is down, and reports success.
  EXPECT_TRUE(c.shutdown(5s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.spooled, 200u);
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_TRUE(quiescent_identity(h));
}

TEST_F(Faults, AnswersThatAreNotHttpAreRetriedNotRejected) {
  for (const std::string& bytes :
       {std::string("this is not HTTP\r\n\r\n"), std::string("HTTP/1.1 100 Continue\r\n\r\n"),
        "HTTP/1.1 200 OK\r\n" + std::string(2000, 'x') + ": y\r\n"}) {
    SCOPED_TRACE(bytes.substr(0, 24));
    collector_.clear();
    AcceptedSpans accepted;
    accepted.install(collector_, Response::raw(bytes));
    auto c = client({{"EMP_SPOOL_ENABLED", "false"}, {"EMP_RETRY_MAX_ELAPSED_TIME", "300s"}});
    make_spans(c, 0, 10);
    EXPECT_FALSE(c.flush(2500ms));
    auto h = c.health().track(Track::kTraces);
    EXPECT_EQ(h.written, 0u);  // a 200 with endless headers is not delivered
    EXPECT_EQ(h.dropped_for(DropReason::kRejected), 0u);
    EXPECT_NE(traces(c).state, "healthy");
    accepted.rejecting = false;
    ASSERT_TRUE(c.flush(30s));
    EXPECT_EQ(c.health().track(Track::kTraces).written, 10u);
    EXPECT_EQ(accepted.unique(), 10u);
    c.shutdown(1s);
    collector_.set_handler(nullptr);
  }
}

TEST_F(Faults, SpoolDamageFoundAtStartIsCountedAndReported) {
  ASSERT_NO_FATAL_FAILURE(spool_400_spans_and_stop());
  // Overwrite the first record header of every segment file: everything
  // after it in the file is unreadable by its length.
  int damaged_files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "spool")) {
    auto ext = e.path().extension().string();
    if (ext != ".seg" && ext != ".open") continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.write("XXXXXXXX", 8);
    ++damaged_files;
  }
  ASSERT_GT(damaged_files, 0);
  ASSERT_TRUE(collector_.restart());
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}});
  c.flush(10s);
  auto h = c.health().track(Track::kTraces);
  // The lost spans appear in the counters of the run that found them...
  EXPECT_GT(h.dropped_for(DropReason::kIoError), 0u);
  EXPECT_EQ(h.recovered, h.written + h.dropped_for(DropReason::kIoError) + h.spooled);
  EXPECT_TRUE(quiescent_identity(h));
  // ...with an estimate of how many: about all of them.
  EXPECT_GE(h.dropped_for(DropReason::kIoError) + h.written, 350u);
  // ...and in the destination's health.
  EXPECT_NE(traces(c).last_error.find("damaged"), std::string::npos);
}

// A process that dies during a spool append leaves the segment it was
// writing ending in a record cut short. The next run drops that record's
// items with io_error, says so without calling the spool damaged, and
// replays the rest.
TEST_F(Faults, SpoolRecordCutShortAtTheEndIsDroppedAndTheRestReplayed) {
  ASSERT_NO_FATAL_FAILURE(spool_400_spans_and_stop());
  fs::path open_segment;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "spool"))
    if (e.path().extension() == ".open") open_segment = e.path();
  ASSERT_FALSE(open_segment.empty()) << "the segment being written stays open at shutdown";
  fs::resize_file(open_segment, fs::file_size(open_segment) - 100);
  ASSERT_TRUE(collector_.restart());
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}});
  // The first flush reports the loss (false: not everything was written);
  // the next one, with nothing lost since, succeeds.
  EXPECT_FALSE(c.flush(10s));
  EXPECT_TRUE(c.flush(10s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.dropped_for(DropReason::kIoError), 50u);  // the one cut record
  EXPECT_EQ(h.written, 350u);
  EXPECT_EQ(h.recovered, h.written + h.dropped_for(DropReason::kIoError));
  EXPECT_TRUE(quiescent_identity(h));
  EXPECT_NE(traces(c).last_error.find("cut short"), std::string::npos) << traces(c).last_error;
  EXPECT_EQ(traces(c).last_error.find("damaged"), std::string::npos);
}

TEST_F(Faults, PartialSuccessCountsTheRejectedSpans) {
  collector_.enqueue(Response::partial_success_json("rejectedSpans", 7, "too many attributes"));
  auto c = client({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20"}});
  make_spans(c, 0, 20);
  ASSERT_TRUE(c.flush(10s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.written, 13u);
  EXPECT_EQ(h.dropped_for(DropReason::kRejected), 7u);
  EXPECT_EQ(traces(c).retried, 0u);
}

TEST_F(Faults, TricklingResponseTimesOutAndIsRetried) {
  collector_.enqueue(Response::trickle(200, std::string(64, 'x'), 1000ms));
  auto c = client({{"OTEL_EXPORTER_OTLP_TIMEOUT", "500"}});
  make_spans(c, 0, 10);
  ASSERT_TRUE(c.flush(20s));
  EXPECT_EQ(c.health().track(Track::kTraces).written, 10u);
  EXPECT_GE(traces(c).retried, 1u);
}

TEST_F(Faults, CollectorKilledAndRestartedOnTheSamePort) {
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}});
  make_spans(c, 0, 200);
  ASSERT_TRUE(c.flush(10s));
  collector_.stop(/*reset=*/true);
  make_spans(c, 200, 300);
  EXPECT_FALSE(c.flush(300ms));
  ASSERT_TRUE(collector_.restart());
  ASSERT_TRUE(c.flush(30s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.written, 500u);
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_EQ(received_seqs(collector_).size(), 500u);
}

TEST_F(Faults, FailoverCollectorTakesTheTrafficWhileThePrimaryIsDownAndGivesItBack) {
  LoopbackCollector backup;
  ASSERT_TRUE(backup.start());
  auto c = client({{"EMP_SPOOL_ENABLED", "false"},
                   {"EMP_OTLP_FAILOVER_ENDPOINTS", backup.base_url()},
                   {"EMP_RETRY_MAX_ELAPSED_TIME", "30s"}});
  make_spans(c, 0, 200);
  ASSERT_TRUE(c.flush(10s));
  EXPECT_EQ(traces(c).state, "healthy");
  EXPECT_EQ(traces(c).endpoints.at(1).state, "standby");
  EXPECT_EQ(backup.request_count(), 0u);

  collector_.stop(/*reset=*/true);
  make_spans(c, 200, 300);
  ASSERT_TRUE(c.flush(20s)) << "the failover collector takes what the primary cannot";
  auto d = traces(c);
  EXPECT_EQ(d.state, "failover");
  EXPECT_EQ(d.active_endpoint, "otlp-http " + backup.url("/v1/traces"));
  // Failed (its breaker open after 3 failures, or still counting).
  EXPECT_TRUE(d.endpoints.at(0).state == "circuit_open" || d.endpoints.at(0).state == "degraded")
      << d.endpoints.at(0).state;
  EXPECT_EQ(d.active_reason.rfind("failover: the primary endpoint", 0), 0u) << d.active_reason;
  EXPECT_NE(d.active_reason.find("Couldn't connect"), std::string::npos) << d.active_reason;
  EXPECT_EQ(received_seqs(backup).size(), 300u);
  // The status file says the same.
  const std::string status = health_to_json(c.health(), c.config(), 5s);
  EXPECT_NE(status.find("\"active_endpoint\":\"otlp-http " + backup.url("/v1/traces")),
            std::string::npos)
      << status;
  EXPECT_NE(status.find("\"state\":\"failover\""), std::string::npos);

  // The primary returns on its port; spans keep coming until a probe finds
  // it, and from then on it has them.
  ASSERT_TRUE(collector_.restart());
  int seq = 500;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (received_seqs(collector_).size() <= 200 && std::chrono::steady_clock::now() < until) {
    make_spans(c, seq, 10);
    seq += 10;
    std::this_thread::sleep_for(50ms);
  }
  make_spans(c, seq, 100);
  seq += 100;
  ASSERT_TRUE(c.flush(20s));
  d = traces(c);
  EXPECT_EQ(d.state, "healthy");
  EXPECT_TRUE(d.endpoints.at(0).active);
  EXPECT_GE(d.endpoint_switches, 2u);
  const auto primary = received_seqs(collector_);
  EXPECT_EQ(primary.count(seq - 1), 1u) << "the last spans went to the primary";
  // Every span arrived somewhere (a timed-out attempt may arrive twice:
  // counted once here), and the counts add up with nothing dropped.
  std::set<std::int64_t> all = primary;
  const auto second = received_seqs(backup);
  all.insert(second.begin(), second.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(seq));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.written, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.dropped_total(), 0u);
}

TEST_F(Faults, ThirtySecondOutageWithSpoolLosesNothing) {
  collector_.stop();
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}});
  int seq = 0;
  auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) {
    make_spans(c, seq, 50);
    seq += 50;
    std::this_thread::sleep_for(50ms);
  }
  auto during = c.health().track(Track::kTraces);
  EXPECT_EQ(during.written, 0u);
  ASSERT_TRUE(collector_.restart());
  ASSERT_TRUE(c.flush(60s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.written, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_EQ(received_seqs(collector_).size(), static_cast<std::size_t>(seq));
}

TEST_F(Faults, MemoryStaysUnderItsCapDuringAnOutageAtFullLoad) {
  collector_.stop();
  auto c = client({{"EMP_SPOOL_ENABLED", "false"},
                   {"EMP_DELIVERY_MEMORY_CAP", "256KiB"},
                   {"EMP_QUEUE_FULL_POLICY", "drop"}});
  std::uint64_t max_queue = 0;
  auto until = std::chrono::steady_clock::now() + 3s;
  int seq = 0;
  while (std::chrono::steady_clock::now() < until) {
    make_spans(c, seq, 1000);
    seq += 1000;
    max_queue = std::max(max_queue, traces(c).queue_bytes);
  }
  EXPECT_LE(max_queue, 256u * 1024);
  c.shutdown(2s);
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.written, 0u);
  EXPECT_TRUE(quiescent_identity(h));
  EXPECT_GT(h.dropped_total(), 0u);
}

}  // namespace
}  // namespace emp::telemetry::faults
