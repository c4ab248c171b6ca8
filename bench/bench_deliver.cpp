// Delivery throughput to a loopback collector, and the cost of the disk spool.
//
//   build/bin/bench_deliver
//
// deliver/*: one 512-span OTLP/protobuf request per iteration through the
//   OTLP/HTTP destination (libcurl) to the in-process loopback collector
//   (which parses and, with gzip, inflates every body: it is part of the
//   measured cost, as a real collector would be). Variants: gzip on/off,
//   keep-alive on/off (off = the collector answers `Connection: close`).
// spool/*: append + commit (fdatasync) of the same request to the disk spool,
//   committing after every record or after every 16.
// end_to_end/proto*_loopback/T: T application threads make 400,000 spans in
//   all through a client exporting OTLP/protobuf (with and without gzip) to
//   the loopback collector, then flush (bench/span_load.hpp): spans/s of the
//   whole path, the collector's parsing on the same cores included.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "deliver/spool.hpp"
#include "encode/otlp_proto.hpp"
#include "otlp/otlp_http_destination.hpp"
#include "span_load.hpp"
#include "support/loopback_collector.hpp"

namespace {

namespace fs = std::filesystem;
namespace otlp = emp::telemetry::encode::otlp;
namespace deliver = emp::telemetry::deliver;
using emp::telemetry::testing::LoopbackCollector;
using emp::telemetry::testing::Response;

deliver::Payload make_payload() {
  std::vector<otlp::SpanData> spans(512);
  std::uint8_t n = 1;
  for (auto& s : spans) {
    s.trace_id.fill(n);
    s.span_id.fill(static_cast<std::uint8_t>(n + 1));
    s.name = "job.process";
    s.kind = otlp::SpanKind::kConsumer;
    s.start_time_unix_nano = 1764057369000000000ull + n;
    s.end_time_unix_nano = s.start_time_unix_nano + 812250000;
    s.attributes.emplace_back("job.id",
                              otlp::AnyValue::string("job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11"));
    s.attributes.emplace_back("job.priority", otlp::AnyValue::integer(n));
    s.attributes.emplace_back("job.success", otlp::AnyValue::boolean(true));
    s.attributes.emplace_back("job.duration_ms", otlp::AnyValue::floating(812.25));
    ++n;
  }
  otlp::Resource r;
  r.attributes.emplace_back("service.name", otlp::AnyValue::string("bench"));
  otlp::Scope scope;
  scope.name = "emp-telemetry";
  deliver::Payload p;
  otlp::encode_traces_request(r, scope, spans, p.bytes);
  p.items = spans.size();
  p.signal = deliver::Signal::kTraces;
  p.content_type = deliver::ContentType::kProtobuf;
  return p;
}

template <bool kGzip, bool kKeepAlive>
void deliver_batches(benchmark::State& state) {
  LoopbackCollector collector;
  Response ok = Response::ok();
  ok.close_after = !kKeepAlive;
  collector.set_default(ok);
  emp::telemetry::otlp::ExporterSettings es;
  es.signal = deliver::Signal::kTraces;
  es.none_configured = false;
  es.url = collector.url("/v1/traces");
  es.gzip = kGzip;
  auto dest = emp::telemetry::otlp::make_otlp_http_destination(es);
  auto payload = make_payload();
  std::int64_t failures = 0, n = 0;
  for (auto _ : state) {
    auto r = dest->deliver(payload, deliver::Deadline::after(std::chrono::seconds(10)));
    if (r.outcome != deliver::Outcome::kDelivered) ++failures;
    if (++n % 64 == 0) {
      state.PauseTiming();
      collector.clear();  // the collector keeps every body; keep its memory flat
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(payload.items));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload.bytes.size()));
  state.counters["failures"] = static_cast<double>(failures);
  state.counters["connections"] = static_cast<double>(dest->stats().connections_opened);
}
BENCHMARK(deliver_batches<false, true>)->Name("deliver/proto_keepalive")->UseRealTime();
BENCHMARK(deliver_batches<true, true>)->Name("deliver/proto_gzip_keepalive")->UseRealTime();
BENCHMARK(deliver_batches<false, false>)->Name("deliver/proto_no_keepalive")->UseRealTime();
BENCHMARK(deliver_batches<true, false>)->Name("deliver/proto_gzip_no_keepalive")->UseRealTime();

template <int kCommitEvery>
void spool_append(benchmark::State& state) {
  fs::path dir = fs::temp_directory_path() / ("emp-bench-spool-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  deliver::SpoolOptions o;
  o.max_bytes = 512ull << 20;
  auto spool = deliver::Spool::open(dir.string(), o);
  if (!spool) {
    state.SkipWithError("cannot open spool");
    return;
  }
  auto payload = make_payload();
  std::int64_t n = 0;
  for (auto _ : state) {
    (*spool)->append(payload);
    if (++n % kCommitEvery == 0) (*spool)->commit();
    if (n % 1024 == 0) {
      state.PauseTiming();
      while ((*spool)->peek()) (*spool)->pop();  // drain so the cap never evicts
      state.ResumeTiming();
    }
  }
  (*spool)->commit();
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload.bytes.size()));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(payload.items));
  spool->reset();
  fs::remove_all(dir);
}
BENCHMARK(spool_append<1>)->Name("spool/append_commit_each")->UseRealTime();
BENCHMARK(spool_append<16>)->Name("spool/append_commit_every_16")->UseRealTime();

}  // namespace

template <bool kGzip>
void end_to_end_loopback(benchmark::State& state) {
  LoopbackCollector collector;
  if (!collector.start()) std::abort();
  const fs::path dir =
      fs::temp_directory_path() / ("emp-bench-e2e-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string endpoint = collector.base_url();
  emp::telemetry::Options o;
  o.preset = emp::telemetry::Preset::kWorker;
  o.service_name = "bench";
  o.machine_id = "bench-machine";
  o.log_dir = dir.string();
  o.env = [endpoint](std::string_view k) -> std::optional<std::string> {
    if (k == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") return endpoint + "/v1/traces";
    if (k == "OTEL_EXPORTER_OTLP_COMPRESSION") return kGzip ? "gzip" : "none";
    return std::nullopt;
  };
  o.raw["EMP_QUEUE_FULL_POLICY"] = "block";
  o.raw["EMP_QUEUE_BLOCK_TIMEOUT"] = "10s";
  o.raw["OTEL_BSP_MAX_QUEUE_SIZE"] = "500000";
  o.raw["EMP_DELIVERY_MEMORY_CAP"] = "512MiB";
  o.raw["EMP_MACHINE_METRICS"] = "false";
  o.raw["EMP_METRICS_SELF"] = "false";
  auto made = emp::telemetry::Client::create(o);
  if (!made) std::abort();
  bench::run_span_load(state, made.value(), 400000);
  made.value().shutdown(std::chrono::seconds(10));
  fs::remove_all(dir);
}
BENCHMARK(end_to_end_loopback<false>)
    ->Name("end_to_end/proto_loopback")
    ->Arg(1)
    ->Arg(8)
    ->Iterations(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(end_to_end_loopback<true>)
    ->Name("end_to_end/proto_gzip_loopback")
    ->Arg(1)
    ->Arg(8)
    ->Iterations(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
