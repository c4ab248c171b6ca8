// The end-to-end span load shared by bench_trace (file destination) and
// bench_deliver (loopback collector): application threads make spans of the
// same shape as span/emp (4 attributes) as fast as they can, then the client
// is flushed, so the time covers the whole background path: draining the
// per-thread queues, decoding, batching, encoding and delivering. The
// client must use EMP_QUEUE_FULL_POLICY=block so that a queue the
// background path cannot keep up with slows the producers instead of
// dropping, and an export queue (OTEL_BSP_MAX_QUEUE_SIZE) and memory cap
// that hold a whole run, since the batch processor drops what does not fit
// rather than wait (the `dropped` counter says whether any were; spans/s
// counts only what was written).
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "emp/telemetry/client.hpp"

namespace bench {

// `threads` threads make `per_thread` spans each through `client`, then the
// client is flushed. Returns the seconds from the start to the flush's end;
// false in `flushed` when the flush ran out of time.
inline double make_spans_and_flush(emp::telemetry::Client& client, int threads, int per_thread,
                                   bool& flushed) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&client, per_thread, t] {
      auto& tracer = client.tracer();
      for (std::int64_t i = 0; i < per_thread; ++i) {
        auto s = tracer.start_span("job.process");
        s.set_attribute("job.id", "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11");
        s.set_attribute("job.priority", i + t);
        s.set_attribute("job.success", true);
        s.set_attribute("job.duration_ms", 812.25);
        s.end();
      }
    });
  }
  for (auto& p : producers) p.join();
  flushed = client.flush(std::chrono::seconds(120));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs the load once per iteration with state.range(0) threads and
// `total` spans in all; reports spans/s (manual time) and drops.
inline void run_span_load(benchmark::State& state, emp::telemetry::Client& client, int total) {
  const int threads = static_cast<int>(state.range(0));
  const int per_thread = total / threads;
  bool all_flushed = true;
  for (auto _ : state) {
    bool flushed = false;
    state.SetIterationTime(make_spans_and_flush(client, threads, per_thread, flushed));
    all_flushed = all_flushed && flushed;
  }
  const auto h = client.health().track(emp::telemetry::Track::kTraces);
  state.SetItemsProcessed(static_cast<std::int64_t>(h.written));
  state.counters["dropped"] = static_cast<double>(h.dropped_total());
  state.counters["written"] = static_cast<double>(h.written);
  state.counters["flushed"] = all_flushed ? 1 : 0;
}

}  // namespace bench
