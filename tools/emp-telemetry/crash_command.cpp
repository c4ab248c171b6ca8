// `emp-telemetry crash`: installs the crash handler and crashes on purpose,
// so a user can prove crash capture on their own hosts. The process dies by
// the chosen signal (std::terminate ends in SIGABRT) after the handler wrote
// a crash record under --dir (default <EMP_SPOOL_DIR>/crash, i.e.
// <LOG_DIR>/spool/crash); the next start of a client sends it.
//
// Each way of crashing lives in its own function that is never inlined, so
// the recorded stack names it.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "commands.hpp"
#include "emp/telemetry/config.hpp"
#include "errors/crash_handler.hpp"

namespace emp::telemetry::cli {

namespace {

namespace fs = std::filesystem;

// Kept in memory the compiler cannot see through, so that it neither folds
// the crashes away nor turns them into something else.
volatile std::uintptr_t g_bad_address = 16;
volatile int g_zero = 0;
volatile int g_seven = 7;
volatile int g_sink = 0;

// The asm statements after each crash keep the call from becoming a tail
// call, which would drop the caller's frame from the stack.
__attribute__((noinline)) void deliberate_segv() {
  *reinterpret_cast<volatile int*>(g_bad_address) = 1;
  asm volatile("");
}

__attribute__((noinline)) void deliberate_bus(const fs::path& dir) {
  // Touching a page of a mapped file beyond its end raises SIGBUS.
  const std::string path = (dir / ".bus-probe").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror("emp-telemetry crash: cannot create the SIGBUS probe file");
    std::exit(1);
  }
  ::unlink(path.c_str());
  void* page = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (page == MAP_FAILED) {
    std::perror("emp-telemetry crash: mmap");
    std::exit(1);
  }
  g_sink = *static_cast<volatile const char*>(page);
  asm volatile("");
}

__attribute__((noinline)) void deliberate_ill() {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("ud2");
#else
  ::raise(SIGILL);
#endif
  asm volatile("");
}

__attribute__((noinline)) void deliberate_fpe() {
#if defined(__x86_64__) || defined(__i386__)
  g_sink = g_seven / g_zero;  // the integer division traps on x86
#else
  ::raise(SIGFPE);
#endif
  asm volatile("");
}

__attribute__((noinline)) void deliberate_abort() {
  std::abort();
  asm volatile("");
}

__attribute__((noinline)) void deliberate_terminate() noexcept {
  // The exception cannot leave a noexcept function: std::terminate runs from
  // this frame, whatever the callers would catch.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wterminate"
  throw std::runtime_error("emp-telemetry crash: deliberate uncaught exception");
#pragma GCC diagnostic pop
}

fs::path default_directory(const GlobalArgs& global) {
  Options options;
  options.preset = global.preset.value_or(Preset::kNone);
  auto config = finalize(options);
  if (!config) {
    for (const auto& e : config.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return {};
  }
  return fs::path(config.value().spool_dir) / "crash";
}

}  // namespace

int run_crash(const GlobalArgs& global, const CrashArgs& args) {
  const fs::path dir = args.dir ? fs::path(*args.dir) : default_directory(global);
  if (dir.empty()) {
    std::fprintf(stderr,
                 "emp-telemetry crash: the configuration is invalid; fix it or pass --dir\n");
    return 1;
  }
  static errors::CrashContext context(1024);
  context.set(R"({"command":"crash","signal":")" + args.signal + R"("})");
  auto handler = errors::CrashHandler::install({dir.string(), &context});
  if (!handler) {
    for (const auto& e : handler.errors()) {
      std::fprintf(stderr, "emp-telemetry crash: %s\n", e.to_string().c_str());
    }
    return 1;
  }
  std::fprintf(stderr,
               "emp-telemetry crash: crash handler installed, records go to %s; crashing (%s)\n",
               dir.string().c_str(), args.signal.c_str());
  std::fflush(stderr);

  if (args.signal == "SEGV") deliberate_segv();
  if (args.signal == "BUS") deliberate_bus(dir);
  if (args.signal == "ILL") deliberate_ill();
  if (args.signal == "FPE") deliberate_fpe();
  if (args.signal == "ABRT") deliberate_abort();
  if (args.signal == "terminate") deliberate_terminate();
  std::fprintf(stderr, "emp-telemetry crash: still alive after '%s'\n", args.signal.c_str());
  return 1;
}

}  // namespace emp::telemetry::cli
