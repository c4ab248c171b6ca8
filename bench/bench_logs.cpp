// Log-call cost on the caller's thread and end-to-end throughput to a real
// file: emp-telemetry against spdlog's async file logger, in the same run.
//
//   build/bin/bench_logs                      # all
//   build/bin/bench_logs --benchmark_filter=log_call
//
// log_call/*: one info call with a message and 5 fields of mixed types while
// the background writer runs. Calls are timed in bursts of kBurst that fit in
// both queues; between bursts the timer is paused and the queue drained, so
// neither side is measured while dropping or blocking.
// log_format/*: one info call with a format string and 3 arguments (string,
// integer, double): emp copies the arguments and formats on the background
// thread; spdlog's async logger formats the message on the caller's thread.
// e2e/*: 1M records from one thread to a file, in a forked child so that the
// peak RSS reported (ru_maxrss from wait4) belongs to that library alone.
#include <benchmark/benchmark.h>
#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "bench_env.hpp"
#include "emp/telemetry/client.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
constexpr int kBurst = 512;

fs::path bench_dir(const char* name) {
  fs::path d = fs::temp_directory_path() / ("emp-bench-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

emp::telemetry::Client make_emp(const fs::path& dir, bool block) {
  emp::telemetry::Options o;
  o.preset = emp::telemetry::Preset::kWorker;
  o.service_name = "bench-worker";
  o.machine_id = "bench-machine";
  o.log_dir = dir.string();
  o.env = bench::clock_setting_only;
  o.raw["EMP_LOG_MAX_FILE_SIZE"] = "1GiB";
  // The log path alone, like the peer: no machine or self metrics collection.
  o.raw["EMP_MACHINE_METRICS"] = "false";
  o.raw["EMP_METRICS_SELF"] = "false";
  if (block) {
    o.raw["EMP_QUEUE_FULL_POLICY"] = "block";
    o.raw["EMP_QUEUE_BLOCK_TIMEOUT"] = "10s";
  }
  auto c = emp::telemetry::Client::create(o);
  if (!c) std::abort();
  return std::move(c).value();
}

std::shared_ptr<spdlog::logger> make_spdlog(const fs::path& dir) {
  spdlog::init_thread_pool(8192, 1);
  auto logger = spdlog::basic_logger_mt<spdlog::async_factory>(
      "bench", (dir / "spdlog.log").string(), true);
  // The same line content as emp's: standard fields then the caller's fields.
  logger->set_pattern(
      "{\"timestamp\":\"%Y-%m-%dT%H:%M:%S.%eZ\",\"level\":\"%l\",%v}", spdlog::pattern_time_type::utc);
  return logger;
}

void wait_spdlog_drained() {
  auto tp = spdlog::thread_pool();
  while (tp->queue_size() > 0) std::this_thread::yield();
}

inline void emp_call(emp::telemetry::Client& c, std::int64_t i) {
  c.log().info("job completed", {{"job_id", "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11"},
                                 {"attempt", i},
                                 {"duration_ms", 812.25},
                                 {"success", true},
                                 {"worker_id", "machine-7-worker-3"}});
}

inline void spdlog_call(spdlog::logger& l, std::int64_t i) {
  l.info("\"message\":\"{}\",\"service_name\":\"{}\",\"service_type\":\"{}\",\"machine_id\":\"{}\","
         "\"job_id\":\"{}\",\"attempt\":{},\"duration_ms\":{},\"success\":{},\"worker_id\":\"{}\"",
         "job completed", "bench-worker", "worker", "bench-machine",
         "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11", i, 812.25, true, "machine-7-worker-3");
}

void count_calls(benchmark::State& state, double dropped) {
  state.SetItemsProcessed(state.iterations() * kBurst);
  state.counters["ns_per_call"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kBurst), benchmark::Counter::kIsRate |
                                                            benchmark::Counter::kInvert);
  state.counters["dropped"] = dropped;
}

// Bursts of `call(client, i)` with the queue drained, untimed, between them.
template <typename Call>
void emp_bursts(benchmark::State& state, const char* dir_name, Call call) {
  auto dir = bench_dir(dir_name);
  auto c = make_emp(dir, /*block=*/false);
  std::int64_t i = 0;
  for (auto _ : state) {
    for (int k = 0; k < kBurst; ++k) call(c, i++);
    state.PauseTiming();
    c.flush(10s);
    state.ResumeTiming();
  }
  count_calls(state,
              static_cast<double>(c.health().track(emp::telemetry::Track::kLogs).dropped_total()));
  c.shutdown(10s);
  fs::remove_all(dir);
}

template <typename Call>
void spdlog_bursts(benchmark::State& state, const char* dir_name, Call call) {
  auto dir = bench_dir(dir_name);
  auto logger = make_spdlog(dir);
  std::int64_t i = 0;
  for (auto _ : state) {
    for (int k = 0; k < kBurst; ++k) call(*logger, i++);
    state.PauseTiming();
    wait_spdlog_drained();
    state.ResumeTiming();
  }
  count_calls(state, static_cast<double>(spdlog::thread_pool()->overrun_counter()));
  spdlog::shutdown();
  fs::remove_all(dir);
}

void log_call_emp(benchmark::State& state) { emp_bursts(state, "emp", emp_call); }
BENCHMARK(log_call_emp)->Name("log_call/emp")->UseRealTime();

// log_call/emp_threads: the same call from 1, 2, 4 and 8 threads at once
// through one client whose queues hold the whole run (nothing waits or is
// dropped); CPU time per call of each thread.
emp::telemetry::Client& threads_client() {
  static emp::telemetry::Client* c = [] {
    emp::telemetry::Options o;
    o.preset = emp::telemetry::Preset::kWorker;
    o.service_name = "bench-worker";
    o.machine_id = "bench-machine";
    o.log_dir = bench_dir("threads").string();
    o.env = bench::clock_setting_only;
    o.raw["EMP_LOG_MAX_FILE_SIZE"] = "1GiB";
    o.raw["EMP_MACHINE_METRICS"] = "false";
    o.raw["EMP_METRICS_SELF"] = "false";
    o.raw["EMP_QUEUE_SIZE"] = "64MiB";
    auto made = emp::telemetry::Client::create(o);
    if (!made) std::abort();
    return new emp::telemetry::Client(std::move(made).value());
  }();
  return *c;
}

void log_call_emp_threads(benchmark::State& state) {
  auto& c = threads_client();
  std::int64_t i = 0;
  for (auto _ : state) emp_call(c, i++);
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    c.flush(std::chrono::seconds(60));
    state.counters["dropped"] =
        static_cast<double>(c.health().track(emp::telemetry::Track::kLogs).dropped_total());
  }
}
BENCHMARK(log_call_emp_threads)
    ->Name("log_call/emp_threads")
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->Iterations(50000);

void log_call_spdlog(benchmark::State& state) { spdlog_bursts(state, "spdlog", spdlog_call); }
BENCHMARK(log_call_spdlog)->Name("log_call/spdlog")->UseRealTime();

void log_format_emp(benchmark::State& state) {
  emp_bursts(state, "emp-format", [](emp::telemetry::Client& c, std::int64_t i) {
    c.log().info("job {} done in {} ms ({:.1f} s)", "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11", i,
                 812.25);
  });
}
BENCHMARK(log_format_emp)->Name("log_format/emp")->UseRealTime();

void log_format_spdlog(benchmark::State& state) {
  spdlog_bursts(state, "spdlog-format", [](spdlog::logger& l, std::int64_t i) {
    l.info("job {} done in {} ms ({:.1f} s)", "job-8c1f6b1e-3a5d-4f4e-9c6a-2b7d1e0f9a11", i,
           812.25);
  });
}
BENCHMARK(log_format_spdlog)->Name("log_format/spdlog")->UseRealTime();

// Runs `work` in a child process; returns {seconds, peak RSS KiB}.
template <typename Fn>
std::pair<double, long> in_child(Fn work) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    double secs = work();
    (void)!::write(fds[1], &secs, sizeof secs);
    ::_exit(0);
  }
  ::close(fds[1]);
  double secs = -1;
  (void)!::read(fds[0], &secs, sizeof secs);
  ::close(fds[0]);
  int status = 0;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  return {secs, ru.ru_maxrss};
}

constexpr std::int64_t kE2eRecords = 1'000'000;

void e2e_emp(benchmark::State& state) {
  for (auto _ : state) {
    auto [secs, rss] = in_child([] {
      auto dir = bench_dir("emp-e2e");
      auto c = make_emp(dir, /*block=*/true);
      auto t0 = std::chrono::steady_clock::now();
      for (std::int64_t i = 0; i < kE2eRecords; ++i) emp_call(c, i);
      c.flush(60s);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      auto h = c.health().track(emp::telemetry::Track::kLogs);
      if (h.written != static_cast<std::uint64_t>(kE2eRecords)) s = -1;  // lost records: invalid
      c.shutdown(10s);
      fs::remove_all(dir);
      return s;
    });
    state.SetIterationTime(secs);
    state.counters["records_per_s"] = kE2eRecords / secs;
    state.counters["peak_rss_MiB"] = rss / 1024.0;
  }
}
BENCHMARK(e2e_emp)->Name("e2e_1M/emp")->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

void e2e_spdlog(benchmark::State& state) {
  for (auto _ : state) {
    auto [secs, rss] = in_child([] {
      auto dir = bench_dir("spdlog-e2e");
      auto logger = make_spdlog(dir);
      auto t0 = std::chrono::steady_clock::now();
      for (std::int64_t i = 0; i < kE2eRecords; ++i) spdlog_call(*logger, i);
      wait_spdlog_drained();
      logger->flush();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      spdlog::shutdown();
      fs::remove_all(dir);
      return s;
    });
    state.SetIterationTime(secs);
    state.counters["records_per_s"] = kE2eRecords / secs;
    state.counters["peak_rss_MiB"] = rss / 1024.0;
  }
}
BENCHMARK(e2e_spdlog)->Name("e2e_1M/spdlog")->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
