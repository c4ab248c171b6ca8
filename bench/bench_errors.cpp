// Caller-thread cost of capturing a 20-frame stack, against the floor and the
// other unwinders available on Debian, measured in one run.
//
//   build/bin/bench_errors
//
// Every capture runs 24 calls deep and records the newest 20 frames.
// floor/clock_copy20: one clock read, a copy of 20 addresses (160 bytes) and a
//   release store: what any capture must at least cost to hand a stack over.
// capture/emp: errors::capture_stack (libunwind when installed, as here).
// capture/emp_signal_safe: errors::capture_stack_signal_safe, the crash
//   path's unwinder (libgcc's _Unwind_Backtrace).
// capture/glibc_backtrace: backtrace(3) (libgcc's unwinder behind dlopen).
// capture/libunwind: unw_backtrace from Debian's libunwind8, loaded with
//   RTLD_LOCAL so that its _Unwind_* and backtrace symbols do not replace the
//   process's own (skipped when the library is not installed).
// symbolize/emp20: what the errors track's background thread pays per stack
//   with a warm Symbolizer (names, file and line).
// capture_exception/emp20: Client::errors().capture_exception of a
//   std::runtime_error with two tags, 24 calls deep (20 frames kept), on the
//   caller's thread: the copy, the stack, the queue. The client's background
//   thread is given time to drain every 256 captures (timing paused), so
//   each measured capture is accepted, not dropped for a full queue.
// floor/clock_copy128: one clock read, a 128-byte copy and a release store,
//   the floor of any enqueue (the breadcrumb's).
// breadcrumb/emp: Client::errors().add_breadcrumb of a prepared breadcrumb
//   (category, 40-byte message, one data pair).
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "emp/telemetry/client.hpp"
#include "errors/stacktrace.hpp"

namespace {

namespace errors = emp::telemetry::errors;
constexpr int kFrames = 20;
constexpr int kDepth = 24;

std::uintptr_t g_frames[kFrames];
std::atomic<std::uint64_t> g_published{0};

// Runs `f` `depth` calls below the benchmark body, so each capture has more
// than kFrames frames to walk.
template <typename F>
__attribute__((noinline)) int at_depth(int depth, F& f) {
  if (depth == 0) {
    f();
    return 0;
  }
  int r = at_depth(depth - 1, f);
  asm volatile("");
  return r + 1;
}

void floor_clock_copy20(benchmark::State& state) {
  std::uintptr_t source[kFrames];
  for (int i = 0; i < kFrames; ++i) source[i] = 0x400000u + static_cast<unsigned>(i) * 64;
  auto body = [&] {
    for (auto _ : state) {
      timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      std::memcpy(g_frames, source, sizeof source);
      g_published.store(static_cast<std::uint64_t>(ts.tv_nsec), std::memory_order_release);
      benchmark::ClobberMemory();
    }
  };
  at_depth(kDepth, body);
}
BENCHMARK(floor_clock_copy20)->Name("floor/clock_copy20");

void capture_emp(benchmark::State& state) {
  std::size_t n = 0;
  auto body = [&] {
    for (auto _ : state) {
      n = errors::capture_stack(g_frames, kFrames);
      benchmark::ClobberMemory();
    }
  };
  at_depth(kDepth, body);
  if (n != kFrames) state.SkipWithError("fewer than 20 frames captured");
}
BENCHMARK(capture_emp)->Name("capture/emp");

void capture_emp_signal_safe(benchmark::State& state) {
  std::size_t n = 0;
  auto body = [&] {
    for (auto _ : state) {
      n = errors::capture_stack_signal_safe(g_frames, kFrames);
      benchmark::ClobberMemory();
    }
  };
  at_depth(kDepth, body);
  if (n != kFrames) state.SkipWithError("fewer than 20 frames captured");
}
BENCHMARK(capture_emp_signal_safe)->Name("capture/emp_signal_safe");

void capture_glibc(benchmark::State& state) {
  int n = 0;
  auto body = [&] {
    for (auto _ : state) {
      n = ::backtrace(reinterpret_cast<void**>(g_frames), kFrames);
      benchmark::ClobberMemory();
    }
  };
  at_depth(kDepth, body);
  if (n != kFrames) state.SkipWithError("fewer than 20 frames captured");
}
BENCHMARK(capture_glibc)->Name("capture/glibc_backtrace");

using UnwBacktrace = int (*)(void**, int);

UnwBacktrace load_libunwind() {
  void* lib = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  return lib != nullptr ? reinterpret_cast<UnwBacktrace>(::dlsym(lib, "unw_backtrace")) : nullptr;
}

void capture_libunwind(benchmark::State& state) {
  static const UnwBacktrace unw = load_libunwind();
  if (unw == nullptr) {
    state.SkipWithError("libunwind.so.8 not installed (Debian libunwind8)");
    return;
  }
  int n = 0;
  auto body = [&] {
    for (auto _ : state) {
      n = unw(reinterpret_cast<void**>(g_frames), kFrames);
      benchmark::ClobberMemory();
    }
  };
  at_depth(kDepth, body);
  if (n != kFrames) state.SkipWithError("fewer than 20 frames captured");
}
BENCHMARK(capture_libunwind)->Name("capture/libunwind");

void symbolize_emp(benchmark::State& state) {
  std::size_t n = 0;
  auto grab = [&] { n = errors::capture_stack(g_frames, kFrames); };
  at_depth(kDepth, grab);
  std::vector<std::uint64_t> addrs(g_frames, g_frames + n);
  errors::Symbolizer symbolizer(errors::loaded_modules());
  symbolizer.symbolize(addrs);  // loads the DWARF data once, as a long-lived one has
  for (auto _ : state) benchmark::DoNotOptimize(symbolizer.symbolize(addrs));
}
BENCHMARK(symbolize_emp)->Name("symbolize/emp20");

namespace et = emp::telemetry;
namespace fs = std::filesystem;
constexpr int kDrainEvery = 256;

// A client whose errors go to a local file (no SENTRY_DSN), in a fresh
// directory.
et::Client make_client(const fs::path& dir) {
  fs::create_directories(dir);
  et::Options o;
  o.preset = et::Preset::kWorker;
  o.service_name = "bench";
  o.machine_id = "bench-machine";
  o.log_dir = dir.string();
  o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  o.raw["EMP_QUEUE_SIZE"] = "1MiB";
  auto c = et::Client::create(o);
  if (!c) std::abort();
  return std::move(c).value();
}

fs::path bench_dir(const char* name) {
  return fs::temp_directory_path() / ("emp-bench-errors-" + std::to_string(::getpid())) / name;
}

void capture_exception_emp(benchmark::State& state) {
  const fs::path dir = bench_dir("capture");
  {
    et::Client client = make_client(dir);
    const std::runtime_error error("inference server answered HTTP 500");
    const et::ErrorScope scope = et::ErrorScope().tag("job_id", "job-1").tag("queue", "gpu");
    int n = 0;
    bool accepted = true;
    auto body = [&] {
      for (auto _ : state) {
        accepted = !client.errors().capture_exception(error, scope).empty() && accepted;
        if (++n % kDrainEvery == 0) {
          state.PauseTiming();
          client.flush(std::chrono::seconds(60));
          state.ResumeTiming();
        }
      }
    };
    at_depth(kDepth, body);
    client.shutdown(std::chrono::seconds(60));
    const et::HealthSnapshot h = client.health();
    const auto& t = h.track(et::Track::kErrors);
    if (!accepted || t.written != t.offered) state.SkipWithError("captures were dropped");
  }
  fs::remove_all(dir.parent_path());
}
// A fixed count: each capture costs the background thread about 0.1 ms
// (symbolizing, encoding, writing), which the run waits for.
BENCHMARK(capture_exception_emp)->Name("capture_exception/emp20")->Iterations(10000);

void floor_clock_copy128(benchmark::State& state) {
  char source[128];
  static char target[128];
  std::memset(source, 'x', sizeof source);
  for (auto _ : state) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    std::memcpy(target, source, sizeof source);
    g_published.store(static_cast<std::uint64_t>(ts.tv_nsec), std::memory_order_release);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(floor_clock_copy128)->Name("floor/clock_copy128");

void breadcrumb_emp(benchmark::State& state) {
  const fs::path dir = bench_dir("breadcrumb");
  {
    et::Client client = make_client(dir);
    const et::Breadcrumb crumb{"default",
                               "job",
                               "claimed job-3f2a9c0e from the gpu queue",
                               et::ErrorLevel::kInfo,
                               {{"queue", "gpu"}}};
    for (auto _ : state) client.errors().add_breadcrumb(crumb);
  }
  fs::remove_all(dir.parent_path());
}
BENCHMARK(breadcrumb_emp)->Name("breadcrumb/emp");

}  // namespace

BENCHMARK_MAIN();
