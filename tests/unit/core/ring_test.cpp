// SpscRing: ordering, wrap-around and back-pressure between one producer and
// one consumer thread.
#include "core/ring.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace emp::telemetry::core {
namespace {

TEST(SpscRing, RoundsCapacityAndRefusesOversizeRecords) {
  SpscRing ring(5000);
  EXPECT_EQ(ring.capacity(), 8192u);
  EXPECT_EQ(ring.reserve(ring.max_record()), nullptr);  // header does not fit
  EXPECT_NE(ring.reserve(ring.max_record() - SpscRing::kHeader), nullptr);
}

TEST(SpscRing, FullRingRefusesUntilConsumed) {
  SpscRing ring(4096);
  int accepted = 0;
  while (auto* p = ring.reserve(100)) {
    std::memset(p, accepted & 0xFF, 100);
    ring.commit();
    ++accepted;
  }
  EXPECT_GT(accepted, 30);
  EXPECT_LE(accepted, 4096 / 104);
  int seen = 0;
  ring.consume_until(ring.write_position(), 1u << 30, [&](const std::uint8_t* p, std::size_t n) {
    EXPECT_EQ(n, 100u);
    EXPECT_EQ(p[0], seen & 0xFF);
    ++seen;
  });
  EXPECT_EQ(seen, accepted);
  EXPECT_TRUE(ring.empty());
  EXPECT_NE(ring.reserve(100), nullptr);
}

TEST(SpscRing, WrapsWithoutSplittingRecords) {
  SpscRing ring(4096);
  std::uint32_t next = 0, expect = 0;
  for (int round = 0; round < 200; ++round) {
    // Odd sizes force wrap markers at varying offsets.
    for (int i = 0; i < 7; ++i) {
      std::size_t n = 8 + (next * 37) % 300;
      auto* p = ring.reserve(n);
      if (!p) break;
      std::memcpy(p, &next, 4);
      std::memset(p + 4, 0xAB, n - 4);
      ring.commit();
      ++next;
    }
    ring.consume_until(ring.write_position(), 3, [&](const std::uint8_t* p, std::size_t n) {
      std::uint32_t v;
      std::memcpy(&v, p, 4);
      ASSERT_EQ(v, expect);
      ASSERT_EQ(n, 8 + (v * 37) % 300);
      for (std::size_t i = 4; i < n; ++i) ASSERT_EQ(p[i], 0xAB);
      ++expect;
    });
  }
  ring.consume_until(ring.write_position(), 1u << 30, [&](const std::uint8_t* p, std::size_t) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    ASSERT_EQ(v, expect++);
  });
  EXPECT_EQ(expect, next);
  EXPECT_GT(next, 500u);
}

TEST(SpscRing, TwoThreadsDeliverEveryRecordInOrder) {
  SpscRing ring(16384);
  constexpr std::uint64_t kCount = 200000;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount;) {
      std::size_t n = 8 + (i % 13) * 8;
      if (auto* p = ring.reserve(n)) {
        std::memcpy(p, &i, 8);
        ring.commit();
        ++i;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::uint64_t expect = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (expect < kCount && std::chrono::steady_clock::now() < deadline) {
    ring.consume_until(ring.write_position(), 1000, [&](const std::uint8_t* p, std::size_t n) {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      ASSERT_EQ(v, expect);
      ASSERT_EQ(n, 8 + (v % 13) * 8);
      ++expect;
    });
  }
  producer.join();
  EXPECT_EQ(expect, kCount);
}

}  // namespace
}  // namespace emp::telemetry::core
