// Caller-thread cost of the events track and of the job instrumentation,
// against the floor in the same run.
//
//   build/bin/bench_events
//
// floor: a clock read, a 128-byte copy into a buffer and a release store, the
// least any queued record can cost. event/job_completed: one typed event
// (job_id, job_type, duration_ms) with no subscriber. process/empty:
// job().process() around an empty function (a job.process span, the
// job_received, job_started and job_completed events, three metric
// measurements, two log lines). Calls are timed in bursts that fit in the
// queues; between bursts the timer is paused and everything flushed, so no
// call is measured while dropping.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "bench_env.hpp"
#include "emp/telemetry/client.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace emp::telemetry;

fs::path bench_dir(const char* name) {
  fs::path d = fs::temp_directory_path() / ("emp-bench-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Client make_client(const fs::path& dir) {
  Options o;
  o.preset = Preset::kWorker;
  o.service_name = "bench-worker";
  o.machine_id = "bench-machine";
  o.log_dir = dir.string();
  o.env = bench::clock_setting_only;
  o.raw["EMP_LOG_MAX_FILE_SIZE"] = "1GiB";
  o.raw["EMP_MACHINE_METRICS"] = "false";
  o.raw["EMP_METRICS_SELF"] = "false";
  auto c = Client::create(o);
  if (!c) std::abort();
  return std::move(c).value();
}

void per_call(benchmark::State& state, int burst) {
  state.SetItemsProcessed(state.iterations() * burst);
  state.counters["ns_per_call"] =
      benchmark::Counter(static_cast<double>(state.iterations() * burst),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void floor_copy(benchmark::State& state) {
  constexpr int kBurst = 512;
  alignas(64) static char ring[kBurst][128];
  static std::atomic<std::uint64_t> published{0};
  char record[128];
  std::memset(record, 'x', sizeof record);
  for (auto _ : state) {
    for (int k = 0; k < kBurst; ++k) {
      const auto t = std::chrono::system_clock::now().time_since_epoch().count();
      std::memcpy(record, &t, sizeof t);
      std::memcpy(ring[k], record, sizeof record);
      published.store(static_cast<std::uint64_t>(k), std::memory_order_release);
    }
    benchmark::DoNotOptimize(ring);
  }
  per_call(state, kBurst);
}
BENCHMARK(floor_copy)->Name("floor/clock+copy128+store")->UseRealTime();

void event_call(benchmark::State& state) {
  constexpr int kBurst = 512;
  auto dir = bench_dir("events");
  auto c = make_client(dir);
  std::int64_t i = 0;
  for (auto _ : state) {
    for (int k = 0; k < kBurst; ++k)
      c.events().job_completed({.job_id = "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11",
                                .job_type = "image_generation",
                                .duration_ms = i++});
    state.PauseTiming();
    c.flush(10s);
    state.ResumeTiming();
  }
  per_call(state, kBurst);
  state.counters["dropped"] = static_cast<double>(c.health().track(Track::kEvents).dropped_total());
  c.shutdown(10s);
  fs::remove_all(dir);
}
BENCHMARK(event_call)->Name("event/job_completed")->UseRealTime();

void process_call(benchmark::State& state) {
  constexpr int kBurst = 64;
  auto dir = bench_dir("process");
  auto c = make_client(dir);
  const JobInfo job{.id = "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11",
                    .type = "image_generation",
                    .priority = 3,
                    .queue = "gpu"};
  const std::string payload =
      R"({"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})";
  for (auto _ : state) {
    for (int k = 0; k < kBurst; ++k) c.job().process(job, payload, [] {});
    state.PauseTiming();
    c.flush(10s);
    state.ResumeTiming();
  }
  per_call(state, kBurst);
  auto h = c.health();
  state.counters["dropped"] = static_cast<double>(h.track(Track::kEvents).dropped_total() +
                                                  h.track(Track::kTraces).dropped_total() +
                                                  h.track(Track::kLogs).dropped_total());
  c.shutdown(10s);
  fs::remove_all(dir);
}
BENCHMARK(process_call)->Name("process/empty")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
