// Trace/span id generation: never zero, no repeats (across threads and across
// fork()), and every bit random.
#include "trace/ids.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace emp::telemetry::trace {
namespace {

// Ids as integers: sorting 16-byte arrays byte by byte is slow under TSan.
using TraceKey = unsigned __int128;

TraceKey key(const TraceId& id) {
  TraceKey k;
  std::memcpy(&k, id.bytes().data(), sizeof k);
  return k;
}

std::uint64_t key(const SpanId& id) {
  std::uint64_t k;
  std::memcpy(&k, id.bytes().data(), sizeof k);
  return k;
}

template <typename T>
bool all_distinct(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) == v.end();
}

TEST(Ids, MillionTraceIdsAreValidAndDistinct) {
  constexpr std::size_t kCount = 1'000'000;
  std::vector<TraceKey> ids;
  ids.reserve(kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    const TraceId id = new_trace_id();
    ASSERT_TRUE(id.is_valid());
    ids.push_back(key(id));
  }
  EXPECT_TRUE(all_distinct(std::move(ids)));
}

TEST(Ids, MillionSpanIdsAreValidAndDistinct) {
  constexpr std::size_t kCount = 1'000'000;
  std::vector<std::uint64_t> ids;
  ids.reserve(kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    const SpanId id = new_span_id();
    ASSERT_TRUE(id.is_valid());
    ids.push_back(key(id));
  }
  EXPECT_TRUE(all_distinct(std::move(ids)));
}

// Every bit position of the trace id is set about half of the time: catches
// stuck bytes (e.g. a half-filled id) that distinctness alone would miss.
TEST(Ids, EveryTraceIdBitIsRandom) {
  constexpr int kCount = 100'000;
  std::array<int, 128> ones{};
  for (int i = 0; i < kCount; ++i) {
    const TraceId id = new_trace_id();
    for (int bit = 0; bit < 128; ++bit) ones[bit] += (id.bytes()[bit / 8] >> (bit % 8)) & 1;
  }
  for (int bit = 0; bit < 128; ++bit) {
    // 0.5 ± 0.02 is more than 12 standard deviations wide at this count.
    EXPECT_NEAR(ones[bit] / double(kCount), 0.5, 0.02) << "bit " << bit;
  }
}

TEST(Ids, ThreadsNeverShareIds) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50'000;
  std::vector<std::vector<TraceKey>> per(kThreads);
  std::vector<std::vector<SpanId>> spans(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      per[t].reserve(kPerThread);
      spans[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        per[t].push_back(key(new_trace_id()));
        spans[t].push_back(new_span_id());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<TraceKey> all;
  std::vector<std::uint64_t> all_spans;
  for (int t = 0; t < kThreads; ++t) {
    all.insert(all.end(), per[t].begin(), per[t].end());
    for (const SpanId& s : spans[t]) {
      ASSERT_TRUE(s.is_valid());
      all_spans.push_back(key(s));
    }
  }
  EXPECT_TRUE(all_distinct(std::move(all)));
  EXPECT_TRUE(all_distinct(std::move(all_spans)));
}

// Reads exactly n bytes or gives up at the deadline.
bool read_all(int fd, void* buf, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  auto* p = static_cast<std::uint8_t*>(buf);
  std::size_t got = 0;
  while (got < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int pr = poll(&pfd, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return false;
    const ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// Waits for the child up to the deadline, then kills it.
int wait_child(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

TEST(Ids, ForkedChildDoesNotRepeatTheParentsIds) {
  constexpr int kN = 5000;
  // Seed this thread's generator before forking: the child inherits its state.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(new_trace_id().is_valid());
    ASSERT_TRUE(new_span_id().is_valid());
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    std::vector<std::uint8_t> buf;
    buf.reserve(kN * 24);
    for (int i = 0; i < kN; ++i) {
      const TraceId t = new_trace_id();
      const SpanId s = new_span_id();
      buf.insert(buf.end(), t.bytes().begin(), t.bytes().end());
      buf.insert(buf.end(), s.bytes().begin(), s.bytes().end());
    }
    std::size_t off = 0;
    while (off < buf.size()) {
      const ssize_t w = write(fds[1], buf.data() + off, buf.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) _exit(2);
      off += static_cast<std::size_t>(w);
    }
    _exit(0);
  }
  close(fds[1]);
  std::vector<TraceKey> parent_traces;
  std::vector<std::uint64_t> parent_spans;
  for (int i = 0; i < kN; ++i) {
    parent_traces.push_back(key(new_trace_id()));
    parent_spans.push_back(key(new_span_id()));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<std::uint8_t> buf(kN * 24);
  const bool complete = read_all(fds[0], buf.data(), buf.size(), deadline);
  close(fds[0]);
  const int status = wait_child(pid, deadline);
  ASSERT_TRUE(complete) << "child did not send its ids in time";
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;

  std::vector<TraceKey> traces = parent_traces;
  std::vector<std::uint64_t> spans = parent_spans;
  for (int i = 0; i < kN; ++i) {
    TraceKey t;
    std::uint64_t s;
    std::memcpy(&t, &buf[i * 24], 16);
    std::memcpy(&s, &buf[i * 24 + 16], 8);
    ASSERT_NE(t, 0u);
    ASSERT_NE(s, 0u);
    // Without a re-seed the child's sequence would equal the parent's exactly.
    if (i == 0) {
      EXPECT_NE(t, parent_traces[0]);
    }
    traces.push_back(t);
    spans.push_back(s);
  }
  EXPECT_TRUE(all_distinct(std::move(traces)));
  EXPECT_TRUE(all_distinct(std::move(spans)));
}

}  // namespace
}  // namespace emp::telemetry::trace
