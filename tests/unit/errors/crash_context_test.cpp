// The crash context buffer: what the crash path reads is always one complete
// blob that some set() wrote, never a mix of two, while writers keep
// replacing it from other threads.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "errors/crash_handler.hpp"

namespace emp::telemetry::errors {
namespace {

TEST(CrashContext, ReadsWhatWasSetAndClampsToCapacity) {
  CrashContext ctx(10);
  char out[64];
  EXPECT_EQ(ctx.read(out, sizeof out), 0u);
  ctx.set("hello");
  ASSERT_EQ(ctx.read(out, sizeof out), 5u);
  EXPECT_EQ(std::string(out, 5), "hello");
  ctx.set("0123456789abcdef");
  ASSERT_EQ(ctx.read(out, sizeof out), 10u);
  EXPECT_EQ(std::string(out, 10), "0123456789");
  EXPECT_EQ(ctx.read(out, 3), 3u);  // the reader's buffer bounds the copy
  EXPECT_EQ(std::string(out, 3), "012");
  ctx.set("");
  EXPECT_EQ(ctx.read(out, sizeof out), 0u);
  CrashContext big(10u << 20);
  EXPECT_EQ(big.capacity(), CrashContext::kMaxCapacity);
}

// A blob made of one repeated letter, its length derived from the letter:
// any mix of two blobs shows as two letters or a wrong length.
std::string blob(char letter) {
  return std::string(100 + static_cast<std::size_t>(letter - 'a') * 37, letter);
}

TEST(CrashContext, ConcurrentReadersNeverSeeATornBlob) {
  CrashContext ctx(2048);
  ctx.set(blob('a'));
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 20000 && !stop.load(); ++i)
        ctx.set(blob(static_cast<char>('a' + (i + w) % 26)));
    });
  }
  std::size_t consistent = 0, empty = 0;
  char out[2048];
  for (int i = 0; i < 20000; ++i) {
    std::size_t n = ctx.read(out, sizeof out);
    if (n == 0) {
      ++empty;  // gave up against busy writers: allowed, never wrong
      continue;
    }
    const char letter = out[0];
    ASSERT_TRUE(letter >= 'a' && letter <= 'z');
    ASSERT_EQ(std::string(out, n), blob(letter));
    ++consistent;
  }
  stop.store(true);
  for (auto& t : writers) t.join();
  EXPECT_GT(consistent, 0u);
  char last[2048];
  std::size_t n = ctx.read(last, sizeof last);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(std::string(last, n), blob(last[0]));
  (void)empty;
}

}  // namespace
}  // namespace emp::telemetry::errors
