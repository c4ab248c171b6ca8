// otlp_sink: a loopback OTLP/HTTP collector for end-to-end load runs of
// `emp-telemetry gen` (bench/gen_loopback.sh). It is the tests' real HTTP/1.1
// server (tests/support/loopback_collector.hpp: keep-alive, chunked bodies,
// gunzip of `Content-Encoding: gzip`) answering 200 to every request, in its
// own process so that the client's numbers include a real socket hop and the
// collector's share of the cores. Request bodies are forgotten as they come,
// so a long run stays bounded in memory.
//
// Usage: otlp_sink [--seconds N]   (default 600; also stops on SIGINT/SIGTERM)
// Prints "url=http://127.0.0.1:<port>" once listening, and at exit one line
// with the requests, decoded and wire bytes received, and the requests it
// could not gunzip or did not receive whole.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "support/loopback_collector.hpp"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  long seconds = 600;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      char* end = nullptr;
      seconds = std::strtol(argv[++i], &end, 10);
      if (end == nullptr || *end != '\0' || seconds <= 0) {
        std::fprintf(stderr, "otlp_sink: --seconds wants a positive integer, got '%s'\n", argv[i]);
        return 64;
      }
    } else {
      std::fprintf(stderr, "usage: otlp_sink [--seconds N]\n");
      return 64;
    }
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  std::atomic<std::uint64_t> requests{0}, body_bytes{0}, wire_bytes{0}, bad{0};
  emp::telemetry::testing::LoopbackCollector collector;
  collector.set_handler([&](const emp::telemetry::testing::RecordedRequest& r) {
    requests.fetch_add(1, std::memory_order_relaxed);
    body_bytes.fetch_add(r.body.size(), std::memory_order_relaxed);
    wire_bytes.fetch_add(r.wire_body.size(), std::memory_order_relaxed);
    if (r.decode_error || !r.complete) bad.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;  // the default answer: 200
  });
  if (!collector.running() && !collector.start()) {
    std::fprintf(stderr, "otlp_sink: cannot listen: %s\n", collector.last_error().c_str());
    return 1;
  }
  std::printf("url=%s\n", collector.base_url().c_str());
  std::fflush(stdout);

  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    collector.clear();  // the bodies were counted; keep memory bounded
  }
  collector.stop();
  std::printf("requests=%llu body_bytes=%llu wire_bytes=%llu undecodable=%llu\n",
              static_cast<unsigned long long>(requests.load()),
              static_cast<unsigned long long>(body_bytes.load()),
              static_cast<unsigned long long>(wire_bytes.load()),
              static_cast<unsigned long long>(bad.load()));
  return 0;
}
