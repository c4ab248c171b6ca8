// The delivery fault suite: a real loopback collector misbehaves in every
// way the delivery layer must survive, and the client's counters must prove
// where each span went: offered == written + dropped + spooled.
#include <gtest/gtest.h>

#include <fstream>

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
  ASSERT_TRUE(eventually([&] {
    auto h = c.health().track(Track::kTraces);
    return h.spooled > 0 && quiescent_identity(h);
  }, 20s)) << "spans neither delivered, dropped nor spooled";
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
  ASSERT_TRUE(eventually([&] {
    auto h = c.health().track(Track::kTraces);
    return h.written + h.dropped_total() == 500u;
  }, 20s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.written, 0u);
  EXPECT_EQ(h.dropped_for(DropReason::kRetryExhausted) + h.dropped_for(DropReason::kCircuitOpen), 500u);
}

TEST_F(Faults, HungCollectorCannotHoldShutdownPastItsDeadline) {
  collector_.set_default(Response::hang());
  auto c = client({{"EMP_SPOOL_ENABLED", "true"}, {"OTEL_EXPORTER_OTLP_TIMEOUT", "30000"}});
  make_spans(c, 0, 300);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.flush(700ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  start = std::chrono::steady_clock::now();
  c.shutdown(1s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto h = c.health().track(Track::kTraces);
  EXPECT_TRUE(quiescent_identity(h)) << h.offered << " " << h.written << " " << h.dropped_total()
                                     << " " << h.spooled;
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

TEST_F(Faults, OpenBreakerWithoutSpoolCountsCircuitOpen) {
  collector_.set_default(Response::with_status(503, "down"));
  auto c = client({{"EMP_SPOOL_ENABLED", "false"}, {"EMP_CIRCUIT_COOLDOWN", "120s"}});
  make_spans(c, 0, 100);
  c.flush(2s);
  make_spans(c, 100, 100);
  ASSERT_TRUE(eventually([&] {
    auto h = c.health().track(Track::kTraces);
    return h.dropped_total() == 200u;
  }, 10s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_GT(h.dropped_for(DropReason::kCircuitOpen), 0u);
  EXPECT_EQ(traces(c).state, "circuit_open");
  // While open, nothing touches the network.
  EXPECT_EQ(collector_.requests().size(), 3u);
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
  auto c = client({{"EMP_SPOOL_ENABLED", "false"}, {"EMP_DELIVERY_MEMORY_CAP", "256KiB"},
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
