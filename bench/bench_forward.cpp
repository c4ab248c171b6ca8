// Log records shipped to Fluentd over the forward protocol, against the same
// records written to the log file alone, and the tailer's read rate.
//
//   build/bin/bench_forward
//
// forward/log_to_file: Client::log().info() of a batch of records with the
//   JSON-lines file as the only destination, then flush (the peer: what the
//   log track costs without Fluentd).
// forward/log_to_forward_{plain,gzip}: the same records with FLUENTD_HOST set
//   to an in-process loopback forward server (tests/support/forward_peer.hpp,
//   which decodes every event and acks every chunk); the batch ends when the
//   server has received every record (acked at-least-once delivery). The file
//   is still written too, as in production.
// tail/lines: a file of lines read by the tailer (tail/tailer.hpp) and
//   shipped to the same server until every line is acked.
// items_per_second is records (lines) per second, end to end.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "core/pipeline.hpp"
#include "emp/telemetry/client.hpp"
#include "forward/forward_destination.hpp"
#include "support/env_map.hpp"
#include "support/forward_peer.hpp"
#include "tail/tailer.hpp"

namespace {

namespace fs = std::filesystem;
namespace et = emp::telemetry;
using namespace std::chrono_literals;

constexpr int kRecords = 20000;

fs::path bench_dir(const char* name) {
  fs::path d =
      fs::temp_directory_path() / ("emp-bench-forward-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

et::Expected<et::Client> make_client(const fs::path& dir, std::map<std::string, std::string> env) {
  env["OTEL_ENABLED"] = "false";
  env["EMP_QUEUE_FULL_POLICY"] = "block";
  env["EMP_QUEUE_BLOCK_TIMEOUT"] = "5s";
  et::Options o;
  o.preset = et::Preset::kWorker;
  o.service_name = "bench";
  o.machine_id = "m1";
  o.log_dir = dir.string();
  o.env = et::testing::env_from(std::move(env));
  return et::Client::create(o);
}

void log_batch(et::Client& c) {
  for (int i = 0; i < kRecords; ++i)
    c.log().info("job completed",
                 {{"job_id", "job-8c1f6b1e"}, {"attempt", i}, {"duration_ms", 812.25}});
}

void log_to_file(benchmark::State& state) {
  const fs::path dir = bench_dir("file");
  auto client = make_client(dir, {});
  if (!client) return state.SkipWithError("client");
  for (auto _ : state) {
    log_batch(*client);
    client->flush(60s);
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  client->shutdown(10s);
  fs::remove_all(dir);
}

template <bool kGzip>
void log_to_forward(benchmark::State& state) {
  const fs::path dir = bench_dir(kGzip ? "gzip" : "plain");
  et::testing::ForwardPeer peer;
  if (!peer.ok()) return state.SkipWithError("forward server");
  auto client = make_client(dir, {{"FLUENTD_HOST", "127.0.0.1"},
                                  {"FLUENTD_PORT", std::to_string(peer.port())},
                                  {"FLUENTD_COMPRESS", kGzip ? "true" : "false"}});
  if (!client) return state.SkipWithError("client");
  std::size_t expected = 0;
  for (auto _ : state) {
    log_batch(*client);
    expected += kRecords;
    client->flush(60s);
    while (peer.count() < expected) std::this_thread::sleep_for(100us);
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  client->shutdown(10s);
  fs::remove_all(dir);
}

void tail_lines(benchmark::State& state) {
  const fs::path dir = bench_dir("tail");
  et::testing::ForwardPeer peer;
  if (!peer.ok()) return state.SkipWithError("forward server");
  et::core::Pipeline pipeline{et::core::Pipeline::Options{}};
  et::forward::ForwardSettings fs;
  fs.host = "127.0.0.1";
  fs.port = peer.port();
  et::deliver::DeliveryWorker::Options wo;
  wo.stream = "fluentd/tail";
  wo.primary = false;
  et::deliver::DeliveryWorker worker(
      et::Track::kLogs, std::make_unique<et::forward::ForwardDestination>(std::move(fs)),
      pipeline.accounting(), wo);
  const std::string line =
      R"({"level":"info","msg":"step done","job_id":"job-8c1f6b1e","step":3,"ms":812.25})";
  std::size_t expected = 0;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const fs::path file = dir / ("app-" + std::to_string(round++) + ".log");
    {
      std::ofstream out(file);
      for (int i = 0; i < kRecords; ++i) out << line << "\n";
    }
    state.ResumeTiming();
    et::tail::TailOptions o;
    o.context = {"bench", "worker", "development", "m1"};
    et::tail::Tailer tailer(o, worker);
    tailer.add(file.string(), "bench.logs");
    tailer.stop();  // reads the whole file
    expected += kRecords;
    while (peer.count() < expected) std::this_thread::sleep_for(100us);
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  worker.shutdown(std::chrono::steady_clock::now() + 10s);
  fs::remove_all(dir);
}

BENCHMARK(log_to_file)->Name("forward/log_to_file")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(log_to_forward<false>)
    ->Name("forward/log_to_forward_plain")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(log_to_forward<true>)
    ->Name("forward/log_to_forward_gzip")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(tail_lines)->Name("tail/lines")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
