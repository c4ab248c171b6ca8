// Span cost on the caller's thread and OTLP encoding throughput.
//
//   build/bin/bench_trace
//
// span/emp: start a span with 4 attributes and end it, with the batch span
//   processor running and exporting OTLP/JSON lines to a local file. Timed
//   in bursts that fit the queue; the queue is drained (untimed) between
//   bursts so neither dropping nor blocking is measured.
// span_pair/emp: a parent and a child span (child made active by a Scope).
// floor/clock_copy: one clock read, a 128-byte copy and a release store: the
//   least any queue-based telemetry call can cost, measured in the same run.
// span/emp_threads: the same span made by 1, 2, 4 and 8 threads at once
//   through one client (queues large enough for the run, so nothing is
//   dropped or blocked); CPU time per span of each thread.
// end_to_end/json_file/T: T threads make 400,000 spans in all and the client
//   is flushed: the whole background path to the OTLP/JSON-lines file, in
//   spans/s (bench/span_load.hpp), to compare with encode/json_512.
// encode/*: 512-span batches to ExportTraceServiceRequest bytes on one core;
//   the *_gzip_* variants also compress the body as export does
//   (encode::gzip_compress at its default level, EMP_COMPRESSION_LEVEL=1) and
//   report the compressed size as `gzip_pct` of the body. bench_compress
//   compares backends and levels. encode/json_gen_512: spans shaped like
//   `emp-telemetry gen`'s, to compare gen's end-to-end rate with.
// payload/*: what a job step does with the job's JSON payload on the
//   caller's thread (check, extract, inject, excerpt), with nlohmann's
//   accept as the peer of the check.
#include <benchmark/benchmark.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "bench_env.hpp"
#include "emp/telemetry/client.hpp"
#include "emp/telemetry/instrument.hpp"
#include "emp/telemetry/propagation.hpp"
#include "encode/gzip.hpp"
#include "encode/json_validate.hpp"
#include "encode/otlp_json.hpp"
#include "encode/otlp_proto.hpp"
#include "span_load.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
namespace et = emp::telemetry;
namespace otlp = emp::telemetry::encode::otlp;
constexpr int kBurst = 256;

et::Client make_client(const fs::path& dir) {
  et::Options o;
  o.preset = et::Preset::kWorker;
  o.service_name = "bench";
  o.machine_id = "bench-machine";
  o.log_dir = dir.string();
  o.env = bench::clock_setting_only;
  o.raw["EMP_QUEUE_SIZE"] = "1MiB";
  auto c = et::Client::create(o);
  if (!c) std::abort();
  return std::move(c).value();
}

fs::path bench_dir(const char* name) {
  fs::path d = fs::temp_directory_path() / ("emp-bench-trace-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void span_emp(benchmark::State& state) {
  auto dir = bench_dir("span");
  auto c = make_client(dir);
  auto& tracer = c.tracer();
  std::int64_t i = 0;
  for (auto _ : state) {
    for (int k = 0; k < kBurst; ++k) {
      auto s = tracer.start_span("job.process");
      s.set_attribute("job.id", "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11");
      s.set_attribute("job.priority", ++i);
      s.set_attribute("job.success", true);
      s.set_attribute("job.duration_ms", 812.25);
      s.end();
    }
    state.PauseTiming();
    c.flush(10s);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
  auto h = c.health().track(et::Track::kTraces);
  state.counters["ns_per_span"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBurst),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["dropped"] = static_cast<double>(h.dropped_total());
  c.shutdown(10s);
  fs::remove_all(dir);
}
BENCHMARK(span_emp)->Name("span/emp")->UseRealTime();

void span_pair_emp(benchmark::State& state) {
  auto dir = bench_dir("pair");
  auto c = make_client(dir);
  auto& tracer = c.tracer();
  for (auto _ : state) {
    for (int k = 0; k < kBurst / 2; ++k) {
      auto parent = tracer.start_span("job.process");
      parent.set_attribute("job.id", "job-1");
      et::Scope scope(parent);
      auto child = tracer.start_span("process.http_request");
      child.set_attribute("http.status", 200);
    }
    state.PauseTiming();
    c.flush(10s);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kBurst / 2);
  state.counters["ns_per_pair"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBurst / 2),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  c.shutdown(10s);
  fs::remove_all(dir);
}
BENCHMARK(span_pair_emp)->Name("span_pair/emp")->UseRealTime();

// One client shared by every thread of span/emp_threads, with queues that
// hold a whole run: the background path drains them meanwhile, and nothing
// waits or is dropped.
et::Client& threads_client() {
  static et::Client* c = [] {
    et::Options o;
    o.preset = et::Preset::kWorker;
    o.service_name = "bench";
    o.machine_id = "bench-machine";
    o.log_dir = bench_dir("threads").string();
    o.env = bench::clock_setting_only;
    o.raw["EMP_QUEUE_SIZE"] = "64MiB";
    o.raw["OTEL_BSP_MAX_QUEUE_SIZE"] = "1000000";
    auto made = et::Client::create(o);
    if (!made) std::abort();
    return new et::Client(std::move(made).value());
  }();
  return *c;
}

void span_emp_threads(benchmark::State& state) {
  auto& tracer = threads_client().tracer();
  std::int64_t i = 0;
  for (auto _ : state) {
    auto s = tracer.start_span("job.process");
    s.set_attribute("job.id", "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11");
    s.set_attribute("job.priority", ++i);
    s.set_attribute("job.success", true);
    s.set_attribute("job.duration_ms", 812.25);
    s.end();
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    threads_client().flush(std::chrono::seconds(60));
    state.counters["dropped"] = static_cast<double>(
        threads_client().health().track(et::Track::kTraces).dropped_total());
  }
}
BENCHMARK(span_emp_threads)
    ->Name("span/emp_threads")
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->Iterations(50000);

void end_to_end_json_file(benchmark::State& state) {
  auto dir = bench_dir("e2e");
  et::Options o;
  o.preset = et::Preset::kWorker;
  o.service_name = "bench";
  o.machine_id = "bench-machine";
  o.log_dir = dir.string();
  o.env = bench::clock_setting_only;
  o.raw["EMP_QUEUE_FULL_POLICY"] = "block";
  o.raw["EMP_QUEUE_BLOCK_TIMEOUT"] = "10s";
  o.raw["EMP_LOG_MAX_FILE_SIZE"] = "0";
  o.raw["OTEL_BSP_MAX_QUEUE_SIZE"] = "500000";
  o.raw["EMP_DELIVERY_MEMORY_CAP"] = "512MiB";
  o.raw["EMP_MACHINE_METRICS"] = "false";
  o.raw["EMP_METRICS_SELF"] = "false";
  auto made = et::Client::create(o);
  if (!made) std::abort();
  bench::run_span_load(state, made.value(), 400000);
  made.value().shutdown(10s);
  fs::remove_all(dir);
}
BENCHMARK(end_to_end_json_file)
    ->Name("end_to_end/json_file")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->Iterations(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

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

// A printable prompt of `n` bytes, like the ones in gen's job payloads.
std::string prompt_text(std::size_t n) {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789 ,.:_-";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += kAlphabet[i % kAlphabet.size()];
  return out;
}

// 512 spans of 4 attributes (about 450 bytes of OTLP/JSON each) or, with
// `gen_shaped`, shaped like `emp-telemetry gen`'s job lifecycle spans: the
// job instrumentation's attributes and gen's 200-byte payload attribute
// (about 1.1 KB a span).
std::vector<otlp::SpanData> make_batch(bool gen_shaped = false) {
  std::vector<otlp::SpanData> spans(512);
  const std::string payload = "{\"prompt\":\"" + prompt_text(186) + "\"}";
  std::uint8_t n = 1;
  for (auto& s : spans) {
    s.trace_id.fill(n);
    s.span_id.fill(static_cast<std::uint8_t>(n + 1));
    s.parent_span_id.fill(static_cast<std::uint8_t>(n + 2));
    s.has_parent = true;
    s.flags = 0x101;
    s.name = "job.process";
    s.kind = otlp::SpanKind::kConsumer;
    s.start_time_unix_nano = 1764057369000000000ull + n;
    s.end_time_unix_nano = s.start_time_unix_nano + 812250000;
    auto str = [&](const char* k, std::string_view v) {
      s.attributes.emplace_back(k, otlp::AnyValue::string(v));
    };
    if (!gen_shaped) {
      str("job.id", "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11");
      s.attributes.emplace_back("job.priority", otlp::AnyValue::integer(n));
      s.attributes.emplace_back("job.success", otlp::AnyValue::boolean(true));
      s.attributes.emplace_back("job.duration_ms", otlp::AnyValue::floating(812.25));
    } else {
      str("gen.payload", payload);
      str("lifecycle.stage", "process");
      str("component.type", "worker");
      str("job.id", "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11");
      str("job.type", "image_generation");
      s.attributes.emplace_back("job.priority", otlp::AnyValue::integer(n % 10));
      str("job.queue", "default");
      str("job.connector", "comfyui");
      str("job.worker", "gen-machine-worker-0");
      str("job.machine", "gen-machine");
      str("job.service_type", "worker");
      s.attributes.emplace_back("job.duration_ms", otlp::AnyValue::integer(812));
    }
    ++n;
  }
  return spans;
}

otlp::Resource bench_resource() {
  otlp::Resource r;
  r.attributes.emplace_back("service.name", otlp::AnyValue::string("bench"));
  r.attributes.emplace_back("service.instance.id", otlp::AnyValue::string("bench-machine"));
  return r;
}

template <bool kJson, bool kGzip, bool kGenShaped = false>
void encode_batch(benchmark::State& state) {
  auto spans = make_batch(kGenShaped);
  otlp::Scope scope;
  scope.name = "emp-telemetry";
  otlp::ProtoPrelude proto(bench_resource(), scope);
  otlp::JsonPrelude json(bench_resource(), scope);
  std::string out, gz;
  std::size_t bytes = 0, gz_bytes = 0;
  for (auto _ : state) {
    out.clear();
    if constexpr (kJson) {
      otlp::encode_traces_request_json(json, spans, out);
    } else {
      otlp::encode_traces_request(proto, spans, out);
    }
    if constexpr (kGzip) {
      if (!emp::telemetry::encode::gzip_compress(out, gz)) {
        state.SkipWithError("gzip_compress failed");
        break;
      }
      gz_bytes += gz.size();
    }
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * spans.size());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  if (kGzip && bytes > 0) {
    state.counters["gzip_pct"] = 100.0 * static_cast<double>(gz_bytes) / static_cast<double>(bytes);
  }
}
BENCHMARK(encode_batch<false, false>)->Name("encode/proto_512");
BENCHMARK(encode_batch<false, true>)->Name("encode/proto_gzip_512");
BENCHMARK(encode_batch<true, false>)->Name("encode/json_512");
BENCHMARK(encode_batch<true, true>)->Name("encode/json_gzip_512");
BENCHMARK(encode_batch<true, false, true>)->Name("encode/json_gen_512");

// A job payload as `gen` makes it (about 300 bytes, a 200-byte prompt) with
// the trace context in it.
std::string job_payload() {
  const std::string prompt = prompt_text(186);
  return "{\"job_id\":\"job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11\",\"type\":\"image_generation\","
         "\"input\":{\"prompt\":\"" + prompt + "\"},"
         "\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}";
}

// payload/*: the work a job step does on the caller's thread with the job
// payload. json_valid (the check before reading or writing the context)
// against nlohmann::json::accept, the parser it stands in for; extract and
// inject whole; excerpt (processing instrumentation: masked, compacted copy).
void payload_json_valid(benchmark::State& state) {
  const std::string p = job_payload();
  for (auto _ : state) benchmark::DoNotOptimize(emp::telemetry::encode::json_valid(p));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(p.size()));
}
BENCHMARK(payload_json_valid)->Name("payload/json_valid");

void payload_nlohmann_accept(benchmark::State& state) {
  const std::string p = job_payload();
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::accept(p));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(p.size()));
}
BENCHMARK(payload_nlohmann_accept)->Name("payload/nlohmann_accept");

void payload_extract(benchmark::State& state) {
  const std::string p = job_payload();
  for (auto _ : state) benchmark::DoNotOptimize(et::extract_from_job_payload(p));
}
BENCHMARK(payload_extract)->Name("payload/extract");

void payload_inject(benchmark::State& state) {
  const std::string p = job_payload();
  const auto ctx = et::extract_from_job_payload(p).context;
  if (!ctx) std::abort();
  for (auto _ : state) benchmark::DoNotOptimize(et::inject_into_job_payload(p, *ctx));
}
BENCHMARK(payload_inject)->Name("payload/inject");

void payload_excerpt(benchmark::State& state) {
  const std::string p = job_payload();
  for (auto _ : state) benchmark::DoNotOptimize(et::ProcessingInstrument::excerpt(p));
}
BENCHMARK(payload_excerpt)->Name("payload/excerpt");

}  // namespace

BENCHMARK_MAIN();
