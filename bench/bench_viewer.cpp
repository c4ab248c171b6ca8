// The local viewer (`emp-telemetry serve`): how fast it takes telemetry into
// SQLite, compared in the same run with how fast the client library sends it,
// and how long the job page's query takes for one job among 10,000.
//
//   build/bin/bench_viewer
//
// viewer/ingest_spans, viewer/ingest_logs: one 512-record OTLP/protobuf
//   request per iteration, POSTed over loopback with the library's own HTTP
//   transport (libcurl, keep-alive) to a running Viewer, which decodes it,
//   queues the rows and commits them (batched transactions, WAL); the clock
//   stops only when every row is committed (the last iteration waits for
//   the writer). items/s = records/s into SQLite.
// viewer/client_spans: the peer: the client library itself (tracer ->
//   OTLP/HTTP destination) sending job traces (5 spans per job, 4
//   attributes each, like `emp-telemetry gen`) to the same viewer, the
//   client flushed per iteration, the viewer's commit awaited at the end. If ingest_spans is
//   faster, the viewer keeps up with a client sending as fast as it can.
// viewer/query_job_of_10000: StoreReader::job() for a random job of a store
//   holding 10,000 jobs (5 spans, 4 logs, 1 event each); viewer/jobs_list:
//   the 200 newest jobs (what the jobs page loads).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "deliver/http_transport.hpp"
#include "emp/telemetry/client.hpp"
#include "emp/telemetry/trace.hpp"
#include "emp/telemetry/viewer.hpp"
#include "encode/otlp_proto.hpp"
#include "viewer/query.hpp"
#include "viewer/store.hpp"

namespace {

namespace fs = std::filesystem;
namespace otlp = emp::telemetry::encode::otlp;
namespace deliver = emp::telemetry::deliver;
namespace viewer = emp::telemetry::viewer;
using emp::telemetry::Viewer;
using emp::telemetry::ViewerOptions;
using namespace std::chrono_literals;

fs::path bench_dir(const char* name) {
  const fs::path d =
      fs::temp_directory_path() / ("emp-bench-viewer-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

otlp::Resource bench_resource() {
  otlp::Resource r;
  r.attributes.emplace_back("service.name", otlp::AnyValue::string("bench-worker"));
  r.attributes.emplace_back("machine_id", otlp::AnyValue::string("gpu-7"));
  return r;
}

std::string spans_request(std::uint32_t batch) {
  std::vector<otlp::SpanData> spans(512);
  std::uint32_t n = batch * 512;
  for (auto& s : spans) {
    const std::uint32_t job = n / 5;
    s.trace_id.fill(0);
    std::memcpy(s.trace_id.data(), &job, sizeof job);
    s.trace_id[15] = 1;
    std::memcpy(s.span_id.data(), &n, sizeof n);
    s.span_id[7] = 1;
    s.name = "job.process";
    s.kind = otlp::SpanKind::kConsumer;
    s.start_time_unix_nano = 1764057369000000000ull + n * 1000ull;
    s.end_time_unix_nano = s.start_time_unix_nano + 812250000;
    s.attributes.emplace_back("job.id", otlp::AnyValue::string("job-" + std::to_string(job)));
    s.attributes.emplace_back("job.priority", otlp::AnyValue::integer(5));
    s.attributes.emplace_back("job.success", otlp::AnyValue::boolean(true));
    s.attributes.emplace_back("job.duration_ms", otlp::AnyValue::floating(812.25));
    ++n;
  }
  std::string out;
  otlp::encode_traces_request(bench_resource(), {}, spans, out);
  return out;
}

std::string logs_request(std::uint32_t batch) {
  std::vector<otlp::LogData> logs(512);
  std::uint32_t n = batch * 512;
  for (auto& l : logs) {
    l.time_unix_nano = 1764057369000000000ull + n * 1000ull;
    l.severity_number = 9;
    l.severity_text = "INFO";
    l.body = otlp::AnyValue::string("job progress: step 12 of 30 done, 40% complete");
    l.attributes.emplace_back("job_id", otlp::AnyValue::string("job-" + std::to_string(n / 4)));
    l.attributes.emplace_back("progress_percent", otlp::AnyValue::integer(40));
    ++n;
  }
  std::string out;
  otlp::encode_logs_request(bench_resource(), {}, logs, out);
  return out;
}

std::unique_ptr<Viewer> start_viewer(const fs::path& dir) {
  ViewerOptions o;
  o.port = 0;
  o.db_path = (dir / "bench.db").string();
  o.max_bytes = 0;
  auto v = Viewer::start(o);
  if (!v) std::abort();
  return std::move(v).value();
}

void ingest(benchmark::State& state, bool spans) {
  const fs::path dir = bench_dir(spans ? "spans" : "logs");
  {
    auto v = start_viewer(dir);
    // Distinct requests prepared up front: encoding is the sender's cost.
    std::vector<std::string> bodies;
    for (std::uint32_t i = 0; i < 64; ++i)
      bodies.push_back(spans ? spans_request(i) : logs_request(i));
    deliver::HttpTransport transport;
    deliver::HttpRequest req;
    req.url = v->url() + (spans ? "/v1/traces" : "/v1/logs");
    std::size_t i = 0, refused = 0;
    for (auto _ : state) {
      req.body = bodies[i++ % bodies.size()];
      const auto r = transport.post(req);
      if (r.status == 503)
        ++refused;  // the store is behind: counted, not retried here
      else if (r.status != 200)
        state.SkipWithError("viewer did not accept the request");
      // The last iteration waits for the commit: rows count once on disk.
      if (i == state.max_iterations) v->flush(600s);
    }
    state.counters["refused_503"] = static_cast<double>(refused);
    state.SetItemsProcessed(static_cast<std::int64_t>((state.iterations() - refused) * 512));
  }
  fs::remove_all(dir);
}

void BM_IngestSpans(benchmark::State& state) { ingest(state, true); }
void BM_IngestLogs(benchmark::State& state) { ingest(state, false); }

void BM_ClientSpans(benchmark::State& state) {
  const fs::path dir = bench_dir("client");
  {
    auto v = start_viewer(dir);
    emp::telemetry::Options o;
    o.preset = emp::telemetry::Preset::kWorker;
    o.service_name = "bench-client";
    o.machine_id = "gpu-7";
    o.log_dir = (dir / "logs").string();
    const std::string url = v->url();
    o.env = [url](std::string_view k) -> std::optional<std::string> {
      if (k == "OTEL_EXPORTER_OTLP_ENDPOINT") return url;
      return std::nullopt;
    };
    auto c = emp::telemetry::Client::create(o);
    if (!c) std::abort();
    auto& tracer = c->tracer();
    std::uint64_t job = 0;
    std::uint64_t iteration = 0;
    for (auto _ : state) {
      // 512 spans per iteration, as ingest_spans: 102 job traces of 5 spans.
      for (int j = 0; j < 102; ++j, ++job) {
        const std::string id = "job-" + std::to_string(job);
        auto root = tracer.start_span("job.process", {}, {{"job.id", id}, {"job.priority", 5}});
        emp::telemetry::Scope scope(root);
        for (const char* name :
             {"job.claim", "process.download_model", "process.image_generation", "job.complete"}) {
          auto s = tracer.start_span(name, {}, {{"job.id", id}, {"job.success", true}});
        }
      }
      c->flush(60s);
      if (++iteration == state.max_iterations) v->flush(600s);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 510));
  }
  fs::remove_all(dir);
}

// A store with 10,000 jobs, built once for the query benchmarks.
const std::string& store_of_10000_jobs() {
  static const std::string path = [] {
    const fs::path dir = bench_dir("query");
    const std::string p = (dir / "jobs.db").string();
    viewer::StoreOptions so;
    so.path = p;
    so.max_bytes = 0;
    std::string error;
    auto store = viewer::Store::open(so, error);
    if (!store) std::abort();
    for (int batch = 0; batch < 100; ++batch) {
      viewer::Batch b;
      for (int k = 0; k < 100; ++k) {
        const int job = batch * 100 + k;
        const std::string id = "job-" + std::to_string(job);
        char trace[33];
        std::snprintf(trace, sizeof trace, "%032x", job + 1);
        const std::int64_t t0 = 1764057369000000000 + std::int64_t{job} * 1000000000;
        for (int s = 0; s < 5; ++s) {
          viewer::SpanRow row;
          row.trace_id = trace;
          char span[17];
          std::snprintf(span, sizeof span, "%016x", job * 8 + s + 1);
          row.span_id = span;
          row.name = s == 0 ? "job.process" : "process.step";
          row.start_ns = t0 + s * 1000000;
          row.end_ns = row.start_ns + 500000000;
          row.service = "bench-worker";
          if (s == 0) row.job_id = id;
          row.attributes = R"({"job.id":")" + id + R"(","job.priority":5})";
          row.events = "[]";
          row.links = "[]";
          row.resource = R"({"service.name":"bench-worker"})";
          b.spans.push_back(std::move(row));
        }
        for (int l = 0; l < 5; ++l) {
          viewer::LogRow row;
          row.time_ns = t0 + l * 2000000;
          row.severity_number = 9;
          row.body = "job progress " + std::to_string(l * 25) + "%";
          row.trace_id = trace;
          row.job_id = id;
          row.service = "bench-worker";
          row.attributes = "{}";
          if (l == 4) row.event_name = "job_completed";
          b.logs.push_back(std::move(row));
        }
      }
      if (store->submit(std::move(b)) != viewer::Store::Submit::kAccepted) {
        store->flush(600s);
        --batch;
      }
    }
    store->flush(600s);
    return p;
  }();
  return path;
}

void BM_QueryJob(benchmark::State& state) {
  std::string error;
  auto reader = viewer::StoreReader::open(store_of_10000_jobs(), error);
  if (!reader) std::abort();
  std::mt19937 rng(7);
  std::size_t spans = 0;
  for (auto _ : state) {
    const auto doc = reader->job("job-" + std::to_string(rng() % 10000));
    spans += (*doc)["spans"].size();
    benchmark::DoNotOptimize(doc);
  }
  state.counters["spans_per_job"] =
      static_cast<double>(spans) / static_cast<double>(state.iterations());
}

void BM_JobsList(benchmark::State& state) {
  std::string error;
  auto reader = viewer::StoreReader::open(store_of_10000_jobs(), error);
  if (!reader) std::abort();
  for (auto _ : state) benchmark::DoNotOptimize(reader->jobs(200));
}

BENCHMARK(BM_IngestSpans)->Name("viewer/ingest_spans")->UseRealTime()->Iterations(200);
BENCHMARK(BM_IngestLogs)->Name("viewer/ingest_logs")->UseRealTime()->Iterations(200);
BENCHMARK(BM_ClientSpans)->Name("viewer/client_spans")->UseRealTime()->Iterations(100);
BENCHMARK(BM_QueryJob)->Name("viewer/query_job_of_10000")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JobsList)->Name("viewer/jobs_list")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
