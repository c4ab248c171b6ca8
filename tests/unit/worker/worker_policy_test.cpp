// The delivery worker's policy, driven step by step in manual mode with a
// scripted destination and time passed in: no sockets, no sleeps. Covers
// retry backoff bounds and Retry-After, breaker opening and probing, batches
// waiting in memory while the breaker is open, the memory cap dropping the
// oldest first, the hand-off to the spool and back, and the accounting
// identity offered == delivered + spooled + dropped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "deliver/worker.hpp"
#include "support/fake_destination.hpp"

namespace emp::telemetry::deliver {
namespace {

using namespace std::chrono_literals;
using testing::FakeDestination;
using Clock = std::chrono::steady_clock;

Payload batch(int id, std::size_t items = 10, std::size_t bytes = 100) {
  Payload p;
  p.bytes = "batch-" + std::to_string(id);
  p.bytes.resize(std::max(bytes, p.bytes.size()), '.');
  p.items = items;
  return p;
}

int id_of(const std::string& bytes) { return std::stoi(bytes.substr(6, bytes.find('.') - 6)); }

struct Rig {
  explicit Rig(DeliveryWorker::Options o = {}) : pipeline(core::Pipeline::Options{}) {
    o.manual = true;
    o.seed = 7;
    o.stream = "test/stream";
    if (o.retry.initial_interval == RetrySettings{}.initial_interval) {
      o.retry.initial_interval = 1s;
      o.retry.max_interval = 30s;
    }
    auto d = std::make_unique<FakeDestination>();
    dest = d.get();
    worker =
        std::make_unique<DeliveryWorker>(Track::kTraces, std::move(d), pipeline.accounting(), o);
  }
  // Runs the worker at the times it asks for, until it is idle or `until`.
  void run_until(Clock::time_point until) {
    while (now <= until) {
      auto next = worker->step(now);
      if (next == Clock::time_point::max()) return;
      now = std::max(now, std::min(next, until + 1ms));
    }
  }
  TrackHealth track() const { return pipeline.health().track(Track::kTraces); }
  core::Pipeline pipeline;
  FakeDestination* dest = nullptr;
  std::unique_ptr<DeliveryWorker> worker;
  Clock::time_point now = Clock::now();
};

TEST(WorkerPolicy, DeliversInOrderAndCounts) {
  Rig rig;
  for (int i = 0; i < 5; ++i) rig.worker->submit(batch(i));
  rig.run_until(rig.now + 1s);
  auto got = rig.dest->accepted();
  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(id_of(got[i]), i);
  EXPECT_EQ(rig.track().written, 50u);
  EXPECT_EQ(rig.worker->health().state, "healthy");
}

TEST(WorkerPolicy, RetryDelaysStayWithinTheBackoffBoundsAndHonourRetryAfter) {
  DeliveryWorker::Options o;
  o.circuit.failure_threshold = 0;  // no breaker: the retry policy alone
  Rig rig(o);
  rig.dest->script({FakeDestination::retryable(), FakeDestination::retryable(),
                    FakeDestination::retryable(503, 7s)});
  rig.worker->submit(batch(0));
  const auto t0 = rig.now;
  auto next = rig.worker->step(t0);  // attempt 1 fails
  EXPECT_GE(next, t0);
  EXPECT_LE(next, t0 + 1s);  // full jitter in [0, 1 s]
  rig.now = next;
  auto t1 = rig.now;
  next = rig.worker->step(t1);   // attempt 2 fails
  EXPECT_LE(next, t1 + 1500ms);  // [0, 1.5 s]
  rig.now = next;
  auto t2 = rig.now;
  next = rig.worker->step(t2);  // attempt 3: 503 with Retry-After: 7 s
  EXPECT_GE(next, t2 + 7s);
  rig.now = next;
  rig.run_until(rig.now + 1s);
  EXPECT_EQ(rig.dest->attempts().size(), 4u);
  EXPECT_EQ(rig.track().written, 10u);
  EXPECT_EQ(rig.worker->health().retried, 3u);
}

TEST(WorkerPolicy, OpenBreakerKeepsBatchesInMemoryAndProbesSoon) {
  DeliveryWorker::Options o;
  o.circuit.failure_threshold = 3;
  o.circuit.cooldown = 30s;
  Rig rig(o);
  rig.dest->set_default(FakeDestination::retryable(503));
  for (int i = 0; i < 20; ++i) rig.worker->submit(batch(i));
  rig.run_until(rig.now + 20s);  // a 20 s outage
  EXPECT_EQ(rig.worker->breaker_state(), CircuitBreaker::State::kOpen);
  auto during = rig.track();
  EXPECT_EQ(during.dropped_total(), 0u);  // an open breaker drops nothing
  EXPECT_EQ(during.written, 0u);
  // The breaker stops the traffic: a handful of probes, not a request per batch.
  const auto attempts_during = rig.dest->attempts().size();
  EXPECT_LE(attempts_during, 12u);
  // Only the head batch was ever tried: order is kept.
  for (auto& a : rig.dest->attempts()) EXPECT_EQ(id_of(a), 0);
  rig.dest->set_default(FakeDestination::delivered());
  // Probes back off from about 1 s; within one cooldown the next one finds
  // the destination back, and everything goes, in order.
  rig.run_until(rig.now + 31s);
  auto got = rig.dest->accepted();
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(id_of(got[i]), i);
  EXPECT_EQ(rig.track().written, 200u);
  EXPECT_EQ(rig.track().dropped_total(), 0u);
}

TEST(WorkerPolicy, MemoryCapDropsTheOldestFirst) {
  DeliveryWorker::Options o;
  o.memory_cap = 1000;  // ten 100-byte batches
  Rig rig(o);
  rig.dest->set_default(FakeDestination::retryable(503));
  for (int i = 0; i < 25; ++i) rig.worker->submit(batch(i));
  auto h = rig.worker->health();
  EXPECT_EQ(h.dropped[static_cast<std::size_t>(DropReason::kMemoryCap)], 150u);
  EXPECT_LE(h.queue_bytes, 1000u);
  rig.dest->set_default(FakeDestination::delivered());
  rig.run_until(rig.now + 60s);
  auto got = rig.dest->accepted();
  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(id_of(got[i]), 15 + i);  // the newest ten
  auto t = rig.track();
  EXPECT_EQ(t.written + t.dropped_total(), 250u);
}

TEST(WorkerPolicy, RetryBudgetEndsInRetryExhaustedWithoutSpool) {
  DeliveryWorker::Options o;
  o.retry.max_elapsed = 10s;
  o.circuit.failure_threshold = 0;
  Rig rig(o);
  rig.dest->set_default(FakeDestination::retryable(503));
  rig.worker->submit(batch(0));
  rig.run_until(rig.now + 30s);
  EXPECT_EQ(rig.track().dropped_for(DropReason::kRetryExhausted), 10u);
}

TEST(WorkerPolicy, PermanentAnswersAreDroppedWithTheirReasonAndNotRetried) {
  Rig rig;
  rig.dest->script(
      {FakeDestination::permanent(DropReason::kRateLimited), FakeDestination::permanent()});
  rig.worker->submit(batch(0));
  rig.worker->submit(batch(1));
  rig.worker->submit(batch(2));
  rig.run_until(rig.now + 1s);
  auto t = rig.track();
  EXPECT_EQ(t.dropped_for(DropReason::kRateLimited), 10u);
  EXPECT_EQ(t.dropped_for(DropReason::kRejected), 10u);
  EXPECT_EQ(t.written, 10u);
  EXPECT_EQ(rig.dest->attempts().size(), 3u);
}

TEST(WorkerPolicy, OpenBreakerHandsBatchesToTheSpoolAndReplaysThemFirst) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("emp-worker-spool-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove_all(dir);
  DeliveryWorker::Options o;
  o.circuit.failure_threshold = 2;
  o.spool_dir = dir;
  o.spool.sync = false;
  {
    Rig rig(o);
    rig.dest->set_default(FakeDestination::retryable(503));
    for (int i = 0; i < 8; ++i) rig.worker->submit(batch(i));
    rig.run_until(rig.now + 5s);
    auto h = rig.worker->health();
    EXPECT_EQ(h.spooled, 80u);  // known down: the backlog is safe on disk
    EXPECT_EQ(h.queue_bytes, 0u);
    // Shutdown with everything on disk is a success, not a loss.
    EXPECT_TRUE(rig.worker->shutdown(rig.now));
    auto t = rig.track();
    EXPECT_EQ(t.dropped_total(), 0u);
  }
  {
    Rig rig(o);  // the next start of the process
    EXPECT_EQ(rig.track().recovered, 80u);
    rig.worker->submit(batch(100));
    rig.run_until(rig.now + 5s);
    auto got = rig.dest->accepted();
    ASSERT_EQ(got.size(), 9u);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(id_of(got[i]), i);  // the spool first
    EXPECT_EQ(id_of(got[8]), 100);
    auto t = rig.track();
    EXPECT_EQ(t.written, 90u);
    EXPECT_EQ(t.offered, 0u + t.recovered);  // offered counts only what came through queues
  }
  std::filesystem::remove_all(dir);
}

TEST(WorkerPolicy, ShutdownWithoutSpoolCountsWhatIsLeftAsShutdown) {
  Rig rig;
  rig.dest->set_default(FakeDestination::retryable(503));
  for (int i = 0; i < 3; ++i) rig.worker->submit(batch(i));
  rig.worker->step(rig.now);
  EXPECT_FALSE(rig.worker->shutdown(rig.now));
  auto t = rig.track();
  EXPECT_EQ(t.dropped_for(DropReason::kShutdown), 30u);
  // After shutdown, new batches are refused and counted.
  rig.worker->submit(batch(9));
  EXPECT_EQ(rig.track().dropped_for(DropReason::kShutdown), 40u);
}

}  // namespace
}  // namespace emp::telemetry::deliver
