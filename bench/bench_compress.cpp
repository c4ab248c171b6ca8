// gzip compression of real OTLP export bodies: zlib against libdeflate at each
// level, and the project's own encode::gzip_compress, on the same inputs in
// the same run. Picks the backend and default level of export compression.
//
//   build/bin/bench_compress
//
// Inputs, each made by the project's own encoders from varied, realistic
// records (random trace and span ids, UUID job ids, a handful of span names,
// HTTP attributes, varying durations, some error statuses and events):
//   traces_proto: ExportTraceServiceRequest of 512 spans (protobuf)
//   logs_proto:   ExportLogsServiceRequest of 512 log records (protobuf)
//   traces_json:  the traces batch as OTLP/JSON
// Benchmarks: zlib/<input>/<level> (deflateInit2 once, deflateReset per body:
// zlib at its best), libdeflate/<input>/<level> (one compressor per level,
// reused), emp/<input>/<level> (encode::gzip_compress, what export uses).
// bytes_per_second is uncompressed input per second; `ratio` is
// uncompressed / compressed size (higher = smaller bodies); `pct` is the
// compressed size as a percentage of the input.
#include <benchmark/benchmark.h>
#include <libdeflate.h>
#include <zlib.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "encode/gzip.hpp"
#include "encode/otlp_json.hpp"
#include "encode/otlp_proto.hpp"

namespace {

namespace otlp = emp::telemetry::encode::otlp;
constexpr std::size_t kBatch = 512;

std::string uuid(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
    s += kHex[rng() & 15];
  }
  return s;
}

template <std::size_t N>
void random_id(std::array<std::uint8_t, N>& id, std::mt19937_64& rng) {
  for (auto& b : id) b = static_cast<std::uint8_t>(rng());
}

otlp::Resource resource() {
  otlp::Resource r;
  r.attributes.emplace_back("service.name", otlp::AnyValue::string("emp-worker"));
  r.attributes.emplace_back("service.version", otlp::AnyValue::string("2.14.3"));
  r.attributes.emplace_back("service.instance.id", otlp::AnyValue::string("gpu-node-17"));
  r.attributes.emplace_back("deployment.environment", otlp::AnyValue::string("production"));
  r.attributes.emplace_back("telemetry.sdk.name", otlp::AnyValue::string("emp-telemetry"));
  return r;
}

otlp::Scope scope() {
  otlp::Scope s;
  s.name = "emp-telemetry";
  s.version = "0.1.0";
  return s;
}

// Jobs of a worker: each trace is a job.process root with a few children
// (HTTP calls, model steps, storage uploads), as the job instrumentation makes.
std::vector<otlp::SpanData> realistic_spans() {
  static const char* kJobTypes[] = {"txt2img", "img2img", "upscale", "caption", "train-lora"};
  static const char* kChildren[] = {"process.http_request", "model.load", "model.infer",
                                    "storage.upload", "queue.ack"};
  static const char* kHosts[] = {"api.internal:8080", "storage.internal", "models.internal"};
  std::mt19937_64 rng(42);
  std::vector<otlp::SpanData> spans;
  spans.reserve(kBatch);
  std::uint64_t now = 1764057369000000000ull;
  while (spans.size() < kBatch) {
    otlp::SpanData root;
    random_id(root.trace_id, rng);
    random_id(root.span_id, rng);
    root.flags = 0x101;
    root.name = "job.process";
    root.kind = otlp::SpanKind::kConsumer;
    root.start_time_unix_nano = now;
    now += 1000000 + rng() % 50000000;
    const std::string job_id = uuid(rng);
    const char* job_type = kJobTypes[rng() % 5];
    root.attributes.emplace_back("job.id", otlp::AnyValue::string(job_id));
    root.attributes.emplace_back("job.type", otlp::AnyValue::string(job_type));
    root.attributes.emplace_back("job.priority", otlp::AnyValue::integer(rng() % 10));
    root.attributes.emplace_back("worker.id", otlp::AnyValue::string("gpu-node-17-worker-3"));
    root.attributes.emplace_back("job.attempt", otlp::AnyValue::integer(1 + rng() % 3));
    const std::size_t children = 2 + rng() % 5;
    std::uint64_t t = root.start_time_unix_nano;
    for (std::size_t c = 0; c < children && spans.size() + 1 < kBatch; ++c) {
      otlp::SpanData s;
      s.trace_id = root.trace_id;
      random_id(s.span_id, rng);
      s.parent_span_id = root.span_id;
      s.has_parent = true;
      s.flags = 0x101;
      const std::size_t which = rng() % 5;
      s.name = kChildren[which];
      s.kind = which == 0 ? otlp::SpanKind::kClient : otlp::SpanKind::kInternal;
      s.start_time_unix_nano = t + rng() % 1000000;
      t = s.start_time_unix_nano + rng() % 400000000;
      s.end_time_unix_nano = t;
      s.attributes.emplace_back("job.id", otlp::AnyValue::string(job_id));
      if (which == 0) {
        const int status = (rng() % 20 == 0) ? 503 : 200;
        s.attributes.emplace_back("http.request.method", otlp::AnyValue::string("POST"));
        s.attributes.emplace_back(
            "url.full", otlp::AnyValue::string(std::string("https://") + kHosts[rng() % 3] +
                                               "/v1/jobs/" + job_id + "/progress"));
        s.attributes.emplace_back("http.response.status_code", otlp::AnyValue::integer(status));
        if (status != 200) {
          s.status.code = otlp::StatusCode::kError;
          s.status.message = "upstream answered 503 Service Unavailable";
        }
      } else if (which == 2) {
        s.attributes.emplace_back("model.name", otlp::AnyValue::string("sdxl-base-1.0"));
        s.attributes.emplace_back("gpu.index", otlp::AnyValue::integer(rng() % 8));
        s.attributes.emplace_back("model.steps", otlp::AnyValue::integer(20 + rng() % 30));
        otlp::SpanEvent e;
        e.time_unix_nano = s.start_time_unix_nano + 1000;
        e.name = "model.warm";
        e.attributes.emplace_back("cache.hit", otlp::AnyValue::boolean(rng() % 2 == 0));
        s.events.push_back(std::move(e));
      } else if (which == 3) {
        s.attributes.emplace_back("storage.bytes", otlp::AnyValue::integer(rng() % 8000000));
        s.attributes.emplace_back("storage.key",
                                  otlp::AnyValue::string("outputs/" + uuid(rng) + ".png"));
      }
      s.attributes.emplace_back("duration_ms",
                                otlp::AnyValue::floating((t - s.start_time_unix_nano) / 1e6));
      spans.push_back(std::move(s));
    }
    root.end_time_unix_nano = t + rng() % 1000000;
    root.attributes.emplace_back(
        "job.duration_ms",
        otlp::AnyValue::floating((root.end_time_unix_nano - root.start_time_unix_nano) / 1e6));
    spans.push_back(std::move(root));
  }
  return spans;
}

// Log lines of the same worker: a few message templates with values, fields,
// and the trace context of the job that logged them.
std::vector<otlp::LogData> realistic_logs() {
  static const char* kSeverity[] = {"DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"};
  static const int kSeverityNumber[] = {5, 9, 9, 9, 13, 17};
  std::mt19937_64 rng(7);
  std::vector<otlp::LogData> logs(kBatch);
  std::uint64_t now = 1764057369000000000ull;
  char text[200];
  for (auto& l : logs) {
    now += rng() % 20000000;
    l.time_unix_nano = now;
    l.observed_time_unix_nano = now + rng() % 100000;
    const std::size_t sev = rng() % 6;
    l.severity_number = kSeverityNumber[sev];
    l.severity_text = kSeverity[sev];
    const std::string job_id = uuid(rng);
    switch (rng() % 4) {
      case 0:
        std::snprintf(text, sizeof text, "job %s started on gpu %u", job_id.c_str(),
                      static_cast<unsigned>(rng() % 8));
        break;
      case 1:
        std::snprintf(text, sizeof text, "step %u/%u done in %.1f ms",
                      static_cast<unsigned>(rng() % 50), 50u, (rng() % 100000) / 10.0);
        break;
      case 2:
        std::snprintf(text, sizeof text, "uploaded %u bytes to outputs/%s.png",
                      static_cast<unsigned>(rng() % 8000000), uuid(rng).c_str());
        break;
      default:
        std::snprintf(text, sizeof text, "progress webhook answered %d after %u ms",
                      rng() % 10 == 0 ? 503 : 200, static_cast<unsigned>(rng() % 900));
        break;
    }
    l.body = otlp::AnyValue::string(text);
    l.attributes.emplace_back("job.id", otlp::AnyValue::string(job_id));
    l.attributes.emplace_back("worker.id", otlp::AnyValue::string("gpu-node-17-worker-3"));
    l.attributes.emplace_back("code.function", otlp::AnyValue::string("Worker::run_job"));
    l.attributes.emplace_back("code.lineno", otlp::AnyValue::integer(100 + rng() % 400));
    l.has_trace_id = true;
    random_id(l.trace_id, rng);
    l.has_span_id = true;
    random_id(l.span_id, rng);
    l.flags = 1;
  }
  return logs;
}

enum class Input { kTracesProto, kLogsProto, kTracesJson };

const std::string& input(Input which) {
  static const std::string traces_proto = [] {
    std::string out;
    otlp::encode_traces_request(resource(), scope(), realistic_spans(), out);
    return out;
  }();
  static const std::string logs_proto = [] {
    std::string out;
    otlp::encode_logs_request(resource(), scope(), realistic_logs(), out);
    return out;
  }();
  static const std::string traces_json = [] {
    std::string out;
    otlp::encode_traces_request_json(resource(), scope(), realistic_spans(), out);
    return out;
  }();
  switch (which) {
    case Input::kTracesProto:
      return traces_proto;
    case Input::kLogsProto:
      return logs_proto;
    case Input::kTracesJson:
      break;
  }
  return traces_json;
}

void report(benchmark::State& state, std::size_t in, std::size_t out) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in));
  state.counters["ratio"] = static_cast<double>(in) / static_cast<double>(out);
  state.counters["pct"] = 100.0 * static_cast<double>(out) / static_cast<double>(in);
}

void zlib_gzip(benchmark::State& state, Input which) {
  const std::string& in = input(which);
  const int level = static_cast<int>(state.range(0));
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    state.SkipWithError("deflateInit2 failed");
    return;
  }
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  std::size_t size = 0;
  for (auto _ : state) {
    deflateReset(&zs);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
      state.SkipWithError("deflate failed");
      break;
    }
    size = out.size() - zs.avail_out;
    benchmark::DoNotOptimize(out.data());
  }
  deflateEnd(&zs);
  report(state, in.size(), size);
}

void libdeflate_gzip(benchmark::State& state, Input which) {
  const std::string& in = input(which);
  libdeflate_compressor* c = libdeflate_alloc_compressor(static_cast<int>(state.range(0)));
  if (c == nullptr) {
    state.SkipWithError("libdeflate_alloc_compressor failed");
    return;
  }
  std::string out(libdeflate_gzip_compress_bound(c, in.size()), '\0');
  std::size_t size = 0;
  for (auto _ : state) {
    size = libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size());
    benchmark::DoNotOptimize(out.data());
  }
  libdeflate_free_compressor(c);
  report(state, in.size(), size);
}

void emp_gzip(benchmark::State& state, Input which) {
  const std::string& in = input(which);
  std::string out;
  for (auto _ : state) {
    if (!emp::telemetry::encode::gzip_compress(in, out, static_cast<int>(state.range(0)))) {
      state.SkipWithError("gzip_compress failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  report(state, in.size(), out.size());
}

void register_all() {
  const std::pair<const char*, Input> inputs[] = {{"traces_proto", Input::kTracesProto},
                                                  {"logs_proto", Input::kLogsProto},
                                                  {"traces_json", Input::kTracesJson}};
  for (const auto& [name, which] : inputs) {
    const std::string n = name;
    benchmark::RegisterBenchmark(("zlib/" + n).c_str(), zlib_gzip, which)->DenseRange(1, 6)->Arg(9);
    benchmark::RegisterBenchmark(("libdeflate/" + n).c_str(), libdeflate_gzip, which)
        ->DenseRange(1, 12);
    benchmark::RegisterBenchmark(("emp/" + n).c_str(), emp_gzip, which)->Arg(1)->Arg(6);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // The sizes, once, so a reader can tell what was compressed.
  std::fprintf(stderr,
               "inputs: traces_proto %zu bytes, logs_proto %zu bytes, traces_json %zu bytes\n",
               input(Input::kTracesProto).size(), input(Input::kLogsProto).size(),
               input(Input::kTracesJson).size());
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
