// The delivery worker's policy, driven step by step in manual mode with a
// scripted destination and time passed in: no sockets, no sleeps. Covers
// retry backoff bounds and Retry-After, breaker opening and probing, batches
// waiting in memory while the breaker is open, the memory cap dropping the
// oldest first, the hand-off to the spool and back, and the accounting
// identity offered == delivered + spooled + dropped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

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

// Delivered batches' buffers come back through take_buffer() oldest first,
// at most kSpareBuffers of them and kMaxSpareBytes together, once the
// producer has asked for one: before that none is kept.
TEST(WorkerPolicy, FinishedBuffersAreHandedBackOldestFirstWithinTheirBounds) {
  Rig rig;
  Payload unasked = batch(99);
  unasked.bytes.reserve(64 * 1024);
  rig.worker->submit(std::move(unasked));
  rig.run_until(rig.now + 1s);
  ASSERT_EQ(rig.dest->accepted().size(), 1u);
  EXPECT_EQ(rig.worker->take_buffer().capacity(), std::string().capacity());  // not kept

  const std::size_t n = DeliveryWorker::kSpareBuffers + 2;
  std::vector<std::size_t> capacities;
  for (std::size_t i = 0; i < n; ++i) {
    Payload p = batch(static_cast<int>(i));
    p.bytes.reserve(4096 * (i + 1));
    capacities.push_back(p.bytes.capacity());
    rig.worker->submit(std::move(p));
  }
  rig.run_until(rig.now + 1s);
  ASSERT_EQ(rig.dest->accepted().size(), n + 1);
  for (std::size_t i = 0; i < DeliveryWorker::kSpareBuffers; ++i) {
    std::string b = rig.worker->take_buffer();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.capacity(), capacities[i]) << "buffer " << i;
  }
  EXPECT_EQ(rig.worker->take_buffer().capacity(), std::string().capacity());

  // Buffers that would take the kept ones past kMaxSpareBytes are let go.
  const std::size_t big = DeliveryWorker::kMaxSpareBytes / 3 + 1;  // two fit, three do not
  for (int i = 0; i < 4; ++i) {
    Payload p = batch(100 + i);
    p.bytes.reserve(big);
    rig.worker->submit(std::move(p));
  }
  rig.run_until(rig.now + 1s);
  std::size_t kept = 0, bytes = 0;
  for (;;) {
    const std::string b = rig.worker->take_buffer();  // a new string each time: see capacity()
    if (b.capacity() < big) break;
    ++kept;
    bytes += b.capacity();
  }
  EXPECT_EQ(kept, 2u);
  EXPECT_LE(bytes, DeliveryWorker::kMaxSpareBytes);
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

// A batch whose retry budget runs out goes to the spool: from that step on
// it is counted spooled, a flush waits for it, and the worker sends it when
// the destination answers again, with no new batch needed to wake it.
TEST(WorkerPolicy, RetryBudgetSpentWithSpoolLeavesTheBatchOnDiskCountedAndSentLater) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("emp-worker-budget-" + std::to_string(::getpid())))
                              .string();
  std::filesystem::remove_all(dir);
  DeliveryWorker::Options o;
  o.retry.max_elapsed = 10s;
  o.circuit.failure_threshold = 0;  // the breaker never opens: the budget decides
  o.spool_dir = dir;
  o.spool.sync = false;
  {
    Rig rig(o);
    rig.dest->set_default(FakeDestination::retryable(503));
    rig.worker->submit(batch(0));
    for (int i = 0; i < 60 && rig.worker->health().spooled == 0; ++i)
      rig.worker->step(rig.now += 1s);
    EXPECT_EQ(rig.worker->health().spooled, 10u);
    EXPECT_EQ(rig.worker->health().queue_bytes, 0u);
    // Not idle while the batch waits on disk: a flush must not report it sent.
    EXPECT_FALSE(rig.worker->wait_idle(Clock::now()));
    rig.dest->set_default(FakeDestination::delivered());
    rig.run_until(rig.now + 120s);
    ASSERT_EQ(rig.dest->accepted().size(), 1u);
    auto t = rig.track();
    EXPECT_EQ(t.written, 10u);
    EXPECT_EQ(t.dropped_total(), 0u);
    EXPECT_EQ(rig.worker->health().spooled, 0u);
  }
  std::filesystem::remove_all(dir);
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

// ---- Recovery without a thundering herd --------------------------------
// A peer answering at simulated time: down (connection refused) until
// `up_at`, then over `capacity` requests in a one-second bucket it answers
// 503 with Retry-After. Records when each request came.
struct SimPeer final : Destination {
  explicit SimPeer(const Clock::time_point* clock) : now(clock) {}
  DeliveryResult deliver(const Payload&, Deadline) noexcept override {
    times.push_back(*now);
    if (*now < up_at) {
      DeliveryResult r = FakeDestination::retryable(0);
      r.message = "connection refused";
      return r;
    }
    if (overloaded && *now < overloaded_until) {
      return FakeDestination::retryable(503, 2s);
    }
    ++accepted;
    accepted_at.push_back(*now);
    return FakeDestination::delivered();
  }
  DestinationStats stats() const noexcept override { return {}; }
  std::string description() const override { return "simulated peer"; }
  const Clock::time_point* now;
  Clock::time_point up_at{};
  bool overloaded = false;
  Clock::time_point overloaded_until{};
  std::vector<Clock::time_point> times;
  std::vector<Clock::time_point> accepted_at;
  std::size_t accepted = 0;
};

// One client making one batch a second, with a peer down for `outage`.
struct PacedRig {
  explicit PacedRig(std::uint64_t seed = 7, DeliveryWorker::Options o = {})
      : pipeline(core::Pipeline::Options{}) {
    pipeline.diagnostics().set_stderr(false);
    o.manual = true;
    o.seed = seed;
    auto d = std::make_unique<SimPeer>(&now);
    peer = d.get();
    worker =
        std::make_unique<DeliveryWorker>(Track::kTraces, std::move(d), pipeline.accounting(), o);
  }
  // Produces one batch per second and steps the worker when it asks, until `until`.
  void run(Clock::time_point until) {
    Clock::time_point wake = now;
    while (now < until) {
      const Clock::time_point t = std::min({next_batch, wake, until});
      now = t;
      if (now >= until) break;
      if (now == next_batch) {
        worker->submit(batch(seq++), now);
        next_batch += 1s;
      }
      wake = worker->step(now);
      if (wake <= now) wake = now + 1ms;
    }
  }
  core::Pipeline pipeline;
  SimPeer* peer = nullptr;
  std::unique_ptr<DeliveryWorker> worker;
  Clock::time_point start = Clock::now();
  Clock::time_point now = start;
  Clock::time_point next_batch = start;
  int seq = 0;
};

std::size_t sends_between(const std::vector<Clock::time_point>& times, Clock::time_point from,
                          Clock::time_point to) {
  return static_cast<std::size_t>(
      std::count_if(times.begin(), times.end(), [&](auto t) { return t >= from && t < to; }));
}

TEST(WorkerRecovery, BacklogIsReplayedWithADoublingRateNotAllAtOnce) {
  PacedRig rig;
  rig.run(rig.start + 10s);  // steady: one batch a second
  EXPECT_EQ(rig.peer->accepted, 10u);
  EXPECT_FALSE(rig.worker->replay_paced());  // a healthy destination is never paced
  EXPECT_NEAR(rig.worker->arrival_rate(), 1.0, 0.2);
  rig.peer->up_at = rig.start + 70s;  // down for 60 s
  rig.run(rig.start + 70s);
  EXPECT_EQ(rig.peer->accepted, 10u);
  EXPECT_EQ(rig.worker->breaker_state(), CircuitBreaker::State::kOpen);
  const std::size_t before = rig.peer->times.size();
  // The breaker's next probe finds the peer back within one cooldown (30 s).
  rig.run(rig.start + 100s);
  auto it = std::find_if(rig.peer->times.begin() + before, rig.peer->times.end(),
                         [&](auto t) { return t >= rig.peer->up_at; });
  ASSERT_NE(it, rig.peer->times.end());
  const Clock::time_point back = *it;
  // Without pacing the whole backlog (about 60 batches) would go in the
  // same instant. Paced, it starts at the arrival rate (1/s) and grows
  // within a second to 1.75 times that, and stays there.
  rig.run(rig.start + 200s);
  EXPECT_LE(sends_between(rig.peer->times, back, back + 1s), 2u);
  for (int s = 1; s < 60; ++s)
    EXPECT_LE(sends_between(rig.peer->times, back + s * 1s, back + (s + 1) * 1s), 3u) << s;
  EXPECT_GE(sends_between(rig.peer->times, back + 5s, back + 15s), 16u);  // it does speed up
  // The backlog drains in about 4/3 of the outage, with nothing lost:
  // batches go in order, so it is gone when the last one made during the
  // outage is in.
  EXPECT_FALSE(rig.worker->replay_paced());
  ASSERT_GE(rig.peer->accepted_at.size(), 70u);
  EXPECT_LE(rig.peer->accepted_at[69] - back, 90s);
  EXPECT_EQ(rig.peer->accepted, static_cast<std::size_t>(rig.seq));
  EXPECT_EQ(rig.worker->queued_bytes(), 0u);
  EXPECT_EQ(rig.pipeline.health().track(Track::kTraces).dropped_total(), 0u);
}

TEST(WorkerRecovery, OverloadAnswerWithRetryAfterStartsTheRampOver) {
  PacedRig rig;
  rig.run(rig.start + 5s);
  rig.peer->up_at = rig.start + 35s;  // a 30 s outage
  rig.run(rig.start + 120s);
  ASSERT_LE(rig.worker->queued_bytes(), 100u);
  // Another outage; this time the peer is overloaded for a while after it is back.
  rig.peer->up_at = rig.start + 180s;
  rig.peer->overloaded = true;
  rig.peer->overloaded_until = rig.start + 240s;
  rig.run(rig.start + 240s);
  // While it says 503 + Retry-After: 2 s, the client asks at most once per 2 s.
  const auto during = sends_between(rig.peer->times, rig.start + 210s, rig.start + 240s);
  EXPECT_LE(during, 15u);
  EXPECT_GE(during, 1u);
  // Afterwards the ramp starts over from the arrival rate.
  const std::size_t before = rig.peer->times.size();
  rig.run(rig.start + 245s);
  ASSERT_GT(rig.peer->times.size(), before);
  const auto first = rig.peer->times[before];
  EXPECT_LE(sends_between(rig.peer->times, first, first + 1s), 2u);
  rig.run(rig.start + 400s);
  EXPECT_EQ(rig.peer->accepted, static_cast<std::size_t>(rig.seq));
  EXPECT_EQ(rig.pipeline.health().track(Track::kTraces).dropped_total(), 0u);
}

TEST(WorkerRecovery, ZeroRampSendsTheBacklogAsFastAsThePeerAnswers) {
  DeliveryWorker::Options o;
  o.circuit.recovery_ramp = 0ms;
  PacedRig rig(7, o);
  rig.peer->up_at = rig.start + 20s;
  rig.run(rig.start + 60s);
  EXPECT_FALSE(rig.worker->replay_paced());
  auto it = std::find_if(rig.peer->times.begin(), rig.peer->times.end(),
                         [&](auto t) { return t >= rig.peer->up_at; });
  ASSERT_NE(it, rig.peer->times.end());
  EXPECT_GE(sends_between(rig.peer->times, *it, *it + 100ms), 15u);  // the wall, on request
  EXPECT_EQ(rig.peer->accepted, static_cast<std::size_t>(rig.seq));
}

TEST(WorkerRecovery, ClientsThatFailedTogetherComeBackSpreadOut) {
  // 1,000 clients (different seeds, as different processes have) lose the
  // same peer at the same instant for 60 s. Each one's first request after
  // the peer is back is its breaker's jittered probe: they must not come
  // back in one instant.
  constexpr int kClients = 1000;
  std::vector<Clock::time_point> first_back;
  const auto t0 = Clock::now();
  for (int c = 0; c < kClients; ++c) {
    PacedRig rig(1000 + static_cast<std::uint64_t>(c));
    rig.start = rig.now = rig.next_batch = t0;
    rig.peer->up_at = t0 + 60s;
    rig.run(t0 + 260s);
    auto it = std::find_if(rig.peer->times.begin(), rig.peer->times.end(),
                           [&](auto t) { return t >= rig.peer->up_at; });
    ASSERT_NE(it, rig.peer->times.end());
    first_back.push_back(*it);
    ASSERT_EQ(rig.peer->accepted, static_cast<std::size_t>(rig.seq)) << "client " << c;
  }
  std::sort(first_back.begin(), first_back.end());
  // Spread over many seconds (the probe wait is jittered over [bound/2, bound]).
  EXPECT_GE(first_back.back() - first_back.front(), 10s);
  std::map<long, int> per_second;
  for (auto t : first_back)
    ++per_second[std::chrono::duration_cast<std::chrono::seconds>(t - t0).count()];
  int busiest = 0;
  for (auto& [s, n] : per_second) busiest = std::max(busiest, n);
  EXPECT_LE(busiest, kClients / 5) << "at most a fifth of the fleet returns in any one second";
}

// Failover: a worker with a primary and a second endpoint, each a scripted
// fake, one batch a second.
struct FailoverRig {
  explicit FailoverRig(std::uint32_t threshold = 3, std::size_t endpoints = 2)
      : pipeline(core::Pipeline::Options{}) {
    DeliveryWorker::Options o;
    o.manual = true;
    o.seed = 11;
    o.stream = "test/failover";
    o.circuit.failure_threshold = threshold;
    o.circuit.cooldown = 30s;
    std::vector<std::unique_ptr<Destination>> d;
    for (std::size_t i = 0; i < endpoints; ++i) {
      auto f = std::make_unique<FakeDestination>(i == 0 ? "primary" : "endpoint-" + std::to_string(i));
      fakes.push_back(f.get());
      d.push_back(std::move(f));
    }
    worker = std::make_unique<DeliveryWorker>(Track::kTraces, std::move(d), pipeline.accounting(), o);
  }
  // `seconds` seconds of one batch a second, the worker stepped when it asks.
  void run(int seconds) {
    const auto until = now + std::chrono::seconds(seconds);
    auto next_batch = now;
    auto wake = now;
    while (now < until) {
      if (now >= next_batch) {
        worker->submit(batch(seq++), now);
        next_batch += 1s;
        wake = now;
      }
      if (now >= wake) wake = worker->step(now);
      now = std::max(now + 1ms, std::min({wake, next_batch, until}));
    }
  }
  std::vector<int> accepted_by(std::size_t i) const {
    std::vector<int> ids;
    for (const auto& b : fakes[i]->accepted()) ids.push_back(id_of(b));
    return ids;
  }
  TrackHealth track() const { return pipeline.health().track(Track::kTraces); }
  core::Pipeline pipeline;
  std::vector<FakeDestination*> fakes;
  std::unique_ptr<DeliveryWorker> worker;
  Clock::time_point now = Clock::now();
  int seq = 0;
};

TEST(WorkerFailover, BatchesMoveToTheNextEndpointWhileThePrimaryIsDownAndComeBack) {
  FailoverRig rig(3);
  rig.run(10);
  EXPECT_EQ(rig.accepted_by(0).size(), 10u);
  EXPECT_TRUE(rig.fakes[1]->attempts().empty()) << "the second endpoint waits while the first answers";
  EXPECT_EQ(rig.worker->health().endpoints.at(1).state, "standby");

  // The primary goes down: after `threshold` failures its breaker opens and
  // the batches go to the second endpoint, the one that failed first included.
  rig.fakes[0]->set_default(FakeDestination::retryable(0));
  rig.run(60);
  const auto during = rig.worker->health();
  EXPECT_EQ(during.state, "failover");
  EXPECT_EQ(rig.worker->active_endpoint(), 1u);
  EXPECT_EQ(during.active_endpoint, "endpoint-1");
  EXPECT_NE(during.active_reason.find("circuit is open"), std::string::npos) << during.active_reason;
  ASSERT_EQ(during.endpoints.size(), 2u);
  EXPECT_EQ(during.endpoints[0].name, "primary");
  EXPECT_EQ(during.endpoints[0].state, "circuit_open");
  EXPECT_TRUE(during.endpoints[1].active);
  EXPECT_EQ(during.endpoints[1].state, "healthy");
  EXPECT_GE(rig.accepted_by(1).size(), 50u);
  EXPECT_LE(during.queue_bytes, 300u) << "no backlog builds while the second endpoint answers";
  // The primary costs its threshold plus a few probes, not one try per batch.
  const std::size_t primary_tries = rig.fakes[0]->attempts().size() - 10;
  EXPECT_LE(primary_tries, 3u + 8u);

  // The primary is back: its next probe carries a batch, and it keeps the traffic.
  rig.fakes[0]->set_default(FakeDestination::delivered());
  const std::size_t second_before = rig.accepted_by(1).size();
  rig.run(60);
  const auto after = rig.worker->health();
  EXPECT_EQ(after.state, "healthy");
  EXPECT_EQ(rig.worker->active_endpoint(), 0u);
  EXPECT_EQ(after.active_endpoint, "primary");
  EXPECT_GE(rig.worker->endpoint_switches(), 2u);
  const std::size_t second_after = rig.accepted_by(1).size();
  EXPECT_LE(second_after - second_before, 31u) << "taken back within one cooldown";
  const auto primary_ids = rig.accepted_by(0);
  ASSERT_FALSE(primary_ids.empty());
  EXPECT_EQ(primary_ids.back(), rig.seq - 1) << "the last batches went to the primary";

  // Every batch delivered exactly once, counts add up, nothing dropped.
  std::vector<int> all = rig.accepted_by(0);
  for (int id : rig.accepted_by(1)) all.push_back(id);
  std::sort(all.begin(), all.end());
  EXPECT_TRUE(std::adjacent_find(all.begin(), all.end()) == all.end()) << "a batch delivered twice";
  EXPECT_EQ(all.size(), static_cast<std::size_t>(rig.seq));
  EXPECT_EQ(rig.track().written, static_cast<std::uint64_t>(rig.seq) * 10);
  EXPECT_EQ(rig.track().dropped_total(), 0u);
  EXPECT_EQ(after.endpoints[0].delivered + after.endpoints[1].delivered, after.delivered);
}

TEST(WorkerFailover, WithEveryEndpointDownBatchesWaitAndTheProbesBackOff) {
  FailoverRig rig(3, 3);
  for (auto* f : rig.fakes) f->set_default(FakeDestination::retryable(503));
  rig.run(120);
  const auto h = rig.worker->health();
  // Down everywhere: "circuit_open" once every breaker is open, "degraded"
  // while the last endpoint's is still counting (the backoff paces attempts,
  // and the open ones' probes come first in order of preference).
  EXPECT_TRUE(h.state == "circuit_open" || h.state == "degraded") << h.state;
  for (const auto& e : h.endpoints) {
    EXPECT_TRUE(e.state == "circuit_open" || e.state == "degraded") << e.name << " " << e.state;
    EXPECT_GE(e.requests, 1u) << e.name;
  }
  EXPECT_EQ(h.endpoints[0].state, "circuit_open");
  std::size_t tries = 0;
  for (auto* f : rig.fakes) tries += f->attempts().size();
  // Three endpoints, each: its threshold, then probes from about 1 s doubling
  // up to 30 s: a few dozen requests in two minutes, not one per batch per
  // endpoint.
  EXPECT_LE(tries, 3u * (3u + 8u));
  EXPECT_EQ(rig.track().dropped_total(), 0u) << "an open circuit drops nothing (within the cap)";
  EXPECT_GT(h.queue_bytes, 100u * 100u);

  // The third endpoint comes back first: it takes the backlog and the traffic.
  rig.fakes[2]->set_default(FakeDestination::delivered());
  // It is found within the longest backoff (30 s), then the backlog of
  // the outage drains at 0.75 of the usual rate on top of the traffic.
  rig.run(90);
  EXPECT_GT(rig.track().written, 0u);
  rig.run(400);
  EXPECT_EQ(rig.worker->active_endpoint(), 2u);
  EXPECT_EQ(rig.worker->health().state, "failover");
  EXPECT_EQ(rig.track().written, static_cast<std::uint64_t>(rig.seq) * 10);
  EXPECT_EQ(rig.track().dropped_total(), 0u);
}

TEST(WorkerFailover, ARetryAfterOfThePrimaryDoesNotHoldBatchesBackFromTheSecond) {
  FailoverRig rig(1);
  rig.fakes[0]->set_default(FakeDestination::retryable(503, 60s));
  rig.run(5);
  // Threshold 1: the first 503 opens the primary's breaker; the batch goes
  // to the second endpoint at once instead of waiting out the Retry-After.
  EXPECT_EQ(rig.accepted_by(1).size(), 5u);
  EXPECT_EQ(rig.track().written, 50u);
}

}  // namespace
}  // namespace emp::telemetry::deliver
