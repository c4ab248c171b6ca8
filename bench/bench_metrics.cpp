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
// encode/metrics_*: one collection of 64 metrics (sums, gauges, histograms
//   with 15 bounds, exponential histograms; 4 points each with 2 attributes)
//   to ExportMetricsServiceRequest bytes, protobuf and OTLP/JSON, on one core.
#include <benchmark/benchmark.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "emp/telemetry/client.hpp"
#include "encode/otlp_metrics.hpp"
#include "encode/otlp_metrics_json.hpp"

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
BENCHMARK(counter_add)->Name("counter_add/emp")->Threads(1)->Threads(2)->Threads(4)->Threads(8);

void counter_add_bound(benchmark::State& state) {
  auto bound = client()
                   .metrics()
                   .create_counter("jobs_processed_total")
                   .bind({{"service_type", "comfyui"}, {"status", "completed"}});
  for (auto _ : state) bound.add(1);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(counter_add_bound)
    ->Name("counter_add_bound/emp")
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8);

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
BENCHMARK(histogram_record)
    ->Name("histogram_record/emp")
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8);

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

namespace otlp = emp::telemetry::encode::otlp;

std::vector<otlp::MetricData> make_collection() {
  std::vector<otlp::MetricData> metrics;
  const std::uint64_t t0 = 1764057369000000000ull;
  for (int m = 0; m < 64; ++m) {
    otlp::MetricData d;
    d.name = "emp.jobs.metric_" + std::to_string(m);
    d.description = "benchmark metric";
    d.unit = "s";
    d.kind = static_cast<otlp::MetricKind>(m % 4);
    d.monotonic = d.kind == otlp::MetricKind::kSum;
    for (int p = 0; p < 4; ++p) {
      std::vector<otlp::KeyValue> attrs;
      attrs.emplace_back("queue", otlp::AnyValue::string("gpu-" + std::to_string(p)));
      attrs.emplace_back("priority", otlp::AnyValue::integer(p));
      switch (d.kind) {
        case otlp::MetricKind::kSum:
        case otlp::MetricKind::kGauge: {
          otlp::NumberPoint n;
          n.attributes = std::move(attrs);
          n.start_time_unix_nano = t0;
          n.time_unix_nano = t0 + 60'000'000'000ull;
          n.is_int = p % 2 == 0;
          n.int_value = 1000 + p;
          n.double_value = 0.25 * p;
          d.number_points.push_back(std::move(n));
          break;
        }
        case otlp::MetricKind::kHistogram: {
          otlp::HistogramPoint h;
          h.attributes = std::move(attrs);
          h.start_time_unix_nano = t0;
          h.time_unix_nano = t0 + 60'000'000'000ull;
          h.bounds = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
                      0.75,  1,    2.5,   5,    7.5,   10,  25};
          h.bucket_counts.assign(h.bounds.size() + 1, 7);
          h.count = 7 * h.bucket_counts.size();
          h.sum = 123.5;
          h.has_min_max = true;
          h.min = 0.001;
          h.max = 30;
          d.histogram_points.push_back(std::move(h));
          break;
        }
        case otlp::MetricKind::kExponentialHistogram: {
          otlp::ExponentialHistogramPoint e;
          e.attributes = std::move(attrs);
          e.start_time_unix_nano = t0;
          e.time_unix_nano = t0 + 60'000'000'000ull;
          e.scale = 3;
          e.positive.offset = -4;
          e.positive.counts.assign(20, 3);
          e.count = 60;
          e.sum = 42.0;
          d.exponential_points.push_back(std::move(e));
          break;
        }
      }
    }
    metrics.push_back(std::move(d));
  }
  return metrics;
}

template <bool kJson>
void encode_metrics(benchmark::State& state) {
  const auto metrics = make_collection();
  otlp::Resource resource;
  resource.attributes.emplace_back("service.name", otlp::AnyValue::string("bench"));
  otlp::Scope scope;
  scope.name = "emp-telemetry";
  const otlp::ProtoPrelude proto(resource, scope);
  const otlp::JsonPrelude json(resource, scope);
  std::string out;
  std::size_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    if constexpr (kJson) {
      otlp::encode_metrics_request_json(json, metrics, out);
    } else {
      otlp::encode_metrics_request(proto, metrics, out);
    }
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 64 * 4);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(encode_metrics<false>)->Name("encode/metrics_proto_64");
BENCHMARK(encode_metrics<true>)->Name("encode/metrics_json_64");

}  // namespace

BENCHMARK_MAIN();
