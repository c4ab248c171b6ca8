// Pipeline: accounting identities, flush and shutdown deadlines, and many
// producer threads, with a handler that records what reached the backend.
#include "core/pipeline.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace emp::telemetry::core {
namespace {

using namespace std::chrono_literals;

// Counts records per producer id and can be made to block (a stalled disk).
class RecordingHandler : public RecordHandler {
 public:
  explicit RecordingHandler(Accounting& a) : acc_(a) {}
  void on_record(const std::uint8_t* p, std::size_t n) noexcept override {
    wait_if_stalled();
    std::uint32_t producer;
    std::uint64_t seq;
    std::memcpy(&producer, p, 4);
    std::memcpy(&seq, p + 4, 8);
    std::lock_guard<std::mutex> l(mu_);
    if (seq != next_[producer]) out_of_order_ = true;
    next_[producer] = seq + 1;
    ++pending_;
  }
  bool write_out(std::chrono::steady_clock::time_point) noexcept override {
    wait_if_stalled();
    std::uint64_t n;
    {
      std::lock_guard<std::mutex> l(mu_);
      n = pending_;
      pending_ = 0;
      written_ += n;
    }
    if (n) acc_.written(Track::kLogs, n);
    return true;
  }
  void stall(bool on) {
    std::lock_guard<std::mutex> l(mu_);
    stalled_ = on;
    cv_.notify_all();
  }
  std::uint64_t written() {
    std::lock_guard<std::mutex> l(mu_);
    return written_;
  }
  bool out_of_order() {
    std::lock_guard<std::mutex> l(mu_);
    return out_of_order_;
  }

 private:
  void wait_if_stalled() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !stalled_; });
  }
  Accounting& acc_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stalled_ = false;
  bool out_of_order_ = false;
  std::uint64_t pending_ = 0, written_ = 0;
  std::map<std::uint32_t, std::uint64_t> next_;
};

bool emit(Pipeline& p, std::uint32_t producer, std::uint64_t seq, std::size_t size = 64) {
  std::uint8_t* b = p.begin(Track::kLogs, RecordKind::kLog, size);
  if (!b) return false;
  std::memcpy(b, &producer, 4);
  std::memcpy(b + 4, &seq, 8);
  p.commit(Track::kLogs);
  return true;
}

struct Fixture {
  explicit Fixture(Pipeline::Options o = {}) : pipeline(o) {
    auto h = std::make_unique<RecordingHandler>(pipeline.accounting());
    handler = h.get();
    pipeline.add_handler(RecordKind::kLog, std::move(h));
    pipeline.diagnostics().set_stderr(false);
    pipeline.start();
  }
  Pipeline pipeline;
  RecordingHandler* handler;
};

TEST(Pipeline, FlushMeansEveryAcceptedRecordWasWritten) {
  Fixture f;
  for (std::uint64_t i = 0; i < 1000; ++i) ASSERT_TRUE(emit(f.pipeline, 0, i));
  ASSERT_TRUE(f.pipeline.flush(10s));
  EXPECT_EQ(f.handler->written(), 1000u);
  auto h = f.pipeline.health().track(Track::kLogs);
  EXPECT_EQ(h.offered, 1000u);
  EXPECT_EQ(h.accepted, 1000u);
  EXPECT_EQ(h.written, 1000u);
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_FALSE(f.handler->out_of_order());
  EXPECT_TRUE(f.pipeline.shutdown(5s));
}

TEST(Pipeline, FullQueueDropsAndCountsEveryRecord) {
  Pipeline::Options o;
  o.ring_bytes = 4096;
  Fixture f(o);
  f.handler->stall(true);  // nothing drains: the ring fills up
  std::uint64_t ok = 0;
  for (std::uint64_t i = 0; i < 5000; ++i) ok += emit(f.pipeline, 0, ok) ? 1 : 0;
  auto h = f.pipeline.health().track(Track::kLogs);
  EXPECT_EQ(h.offered, 5000u);
  EXPECT_EQ(h.accepted, ok);
  EXPECT_GT(h.dropped_for(DropReason::kQueueFull), 0u);
  EXPECT_EQ(h.accepted + h.dropped_for(DropReason::kQueueFull), h.offered);
  f.handler->stall(false);
  ASSERT_TRUE(f.pipeline.flush(10s));
  EXPECT_EQ(f.handler->written(), ok);
  EXPECT_TRUE(f.pipeline.shutdown(5s));
}

TEST(Pipeline, RecordLargerThanAnyQueueIsCountedTooLarge) {
  Pipeline::Options o;
  o.ring_bytes = 4096;
  Fixture f(o);
  EXPECT_EQ(f.pipeline.begin(Track::kLogs, RecordKind::kLog, f.pipeline.max_payload() + 1), nullptr);
  EXPECT_TRUE(emit(f.pipeline, 0, 0, f.pipeline.max_payload()));
  auto h = f.pipeline.health().track(Track::kLogs);
  EXPECT_EQ(h.dropped_for(DropReason::kTooLarge), 1u);
  EXPECT_EQ(h.accepted, 1u);
}

TEST(Pipeline, BlockPolicyWaitsForSpaceInsteadOfDropping) {
  Pipeline::Options o;
  o.ring_bytes = 4096;
  o.policy = QueueFullPolicy::kBlock;
  o.block_timeout = 2s;
  Fixture f(o);
  for (std::uint64_t i = 0; i < 20000; ++i) ASSERT_TRUE(emit(f.pipeline, 0, i));
  ASSERT_TRUE(f.pipeline.flush(10s));
  EXPECT_EQ(f.handler->written(), 20000u);
  EXPECT_FALSE(f.handler->out_of_order());
}

TEST(Pipeline, EightThreadsLoseNothingAndKeepPerThreadOrder) {
  Pipeline::Options o;
  o.policy = QueueFullPolicy::kBlock;
  o.block_timeout = 5s;
  Fixture f(o);
  constexpr std::uint64_t kPerThread = 20000;
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < kPerThread; ++i) emit(f.pipeline, t, i, 16 + (i % 5) * 8);
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(f.pipeline.flush(30s));
  auto h = f.pipeline.health().track(Track::kLogs);
  EXPECT_EQ(h.offered, 8 * kPerThread);
  EXPECT_EQ(h.accepted + h.dropped_total(), h.offered);
  EXPECT_EQ(f.handler->written(), h.accepted);
  EXPECT_EQ(h.written, h.accepted);
  EXPECT_FALSE(f.handler->out_of_order());
}

TEST(Pipeline, FlushKeepsItsDeadlineWhenTheWriterStalls) {
  Fixture f;
  f.handler->stall(true);
  ASSERT_TRUE(emit(f.pipeline, 0, 0));
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(f.pipeline.flush(200ms));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 5s);  // generous bound: proves it returned, not how fast
  f.handler->stall(false);
  EXPECT_TRUE(f.pipeline.flush(10s));
}

TEST(Pipeline, ShutdownKeepsItsDeadlineAndCountsWhatWasLeft) {
  auto f = std::make_unique<Fixture>();
  for (std::uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(emit(f->pipeline, 0, i));
  ASSERT_TRUE(f->pipeline.flush(10s));
  f->handler->stall(true);
  for (std::uint64_t i = 100; i < 150; ++i) ASSERT_TRUE(emit(f->pipeline, 0, i));
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(f->pipeline.shutdown(200ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto h = f->pipeline.health().track(Track::kLogs);
  EXPECT_EQ(h.written, 100u);
  EXPECT_EQ(h.dropped_for(DropReason::kShutdown), 50u);
  // Calls after shutdown are refused and counted.
  EXPECT_FALSE(emit(f->pipeline, 0, 999));
  h = f->pipeline.health().track(Track::kLogs);
  EXPECT_EQ(h.offered, 151u);
  EXPECT_EQ(h.dropped_for(DropReason::kShutdown), 51u);
  EXPECT_EQ(h.written + h.dropped_total(), h.offered);
  // Unblock the abandoned thread so it can finish and free the engine.
  f->handler->stall(false);
  f.reset();
}

TEST(Pipeline, RecordsFromExitedThreadsAreKept) {
  Fixture f;
  for (int round = 0; round < 20; ++round) {
    std::thread t([&] {
      for (std::uint64_t i = 0; i < 100; ++i) emit(f.pipeline, 1000 + round, i);
    });
    t.join();
  }
  ASSERT_TRUE(f.pipeline.flush(10s));
  EXPECT_EQ(f.handler->written(), 2000u);
  EXPECT_EQ(f.pipeline.health().track(Track::kLogs).accepted, 2000u);
}

}  // namespace
}  // namespace emp::telemetry::core
