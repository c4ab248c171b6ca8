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
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

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

}  // namespace

BENCHMARK_MAIN();
