// Cost of recording a measurement on the caller's thread.
//
//   build/bin/bench_metrics
//
// counter_add/emp: the one-liner metrics().counter(name, 1, {2 attributes})
//   on an existing series: the instrument is found by name and the series by
//   attribute set on every call, then one relaxed atomic add.
// counter_add_bound/emp: a bound handle (lookups done once): the add alone.
// histogram_record/emp: metrics().histogram(name, v, {2 attributes}, "s"):
//   lookups, bucket search over the 15 default bounds, bucket/sum/min/max
//   updates.
// Each also with 2 threads recording into the same series (true sharing:
// the worst case for the cell's cache line).
// floor/clock_copy: one clock read, a 128-byte copy and a release store, the
//   least any queue-based telemetry call costs, measured in the same run.
#include <benchmark/benchmark.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "emp/telemetry/client.hpp"

namespace {

namespace fs = std::filesystem;
namespace et = emp::telemetry;

// One client for the whole run, shared by every benchmark and thread; the
// reader never exports during the run (1 h interval).
et::Client& client() {
  static et::Client* c = [] {
    const fs::path dir =
        fs::temp_directory_path() / ("emp-bench-metrics-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    et::Options o;
    o.preset = et::Preset::kApi;
    o.service_name = "bench";
    o.machine_id = "bench-machine";
    o.log_dir = dir.string();
    o.env = [](std::string_view k) -> std::optional<std::string> {
      if (k == "OTEL_METRIC_EXPORT_INTERVAL") return "1h";
      return std::nullopt;
    };
    auto made = et::Client::create(o);
    if (!made) std::abort();
    return new et::Client(std::move(made).value());
  }();
  return *c;
}

void counter_add(benchmark::State& state) {
  auto& m = client().metrics();
  m.counter("jobs_processed_total", 1, {{"service_type", "comfyui"}, {"status", "completed"}});
  for (auto _ : state) {
    m.counter("jobs_processed_total", 1, {{"service_type", "comfyui"}, {"status", "completed"}});
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(counter_add)->Name("counter_add/emp")->Threads(1)->Threads(2)->UseRealTime();

void counter_add_bound(benchmark::State& state) {
  auto bound = client().metrics().create_counter("jobs_processed_total").bind(
      {{"service_type", "comfyui"}, {"status", "completed"}});
  for (auto _ : state) bound.add(1);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(counter_add_bound)->Name("counter_add_bound/emp")->Threads(1)->Threads(2)->UseRealTime();

void histogram_record(benchmark::State& state) {
  auto& m = client().metrics();
  double v = 0.25;
  for (auto _ : state) {
    m.histogram("job_duration_seconds", v, {{"service_type", "comfyui"}, {"status", "completed"}},
                "s");
    v = v < 9000 ? v * 1.5 : 0.25;  // walk across the buckets
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(histogram_record)->Name("histogram_record/emp")->Threads(1)->Threads(2)->UseRealTime();

// The floor: what the cheapest possible enqueue costs on this machine.
void floor_clock_copy(benchmark::State& state) {
  alignas(64) static unsigned char ring[1 << 16];
  static std::atomic<std::uint64_t> published{0};
  unsigned char src[128];
  std::memset(src, 7, sizeof src);
  std::uint64_t pos = 0;
  for (auto _ : state) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    std::memcpy(src, &ts, sizeof ts);
    std::memcpy(ring + (pos & ((1 << 16) - 1) & ~127u), src, 128);
    pos += 128;
    published.store(pos, std::memory_order_release);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(floor_clock_copy)->Name("floor/clock_copy");

}  // namespace

BENCHMARK_MAIN();
