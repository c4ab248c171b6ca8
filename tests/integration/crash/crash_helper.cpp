// Child process for tests/integration/crash: crashes in the ways the CLI's
// `crash` command does not.
//
//   crash_helper chain DIR MARKER    a previous SIGSEGV handler (writes MARKER,
//                                    then lets the default action kill) is
//                                    installed first; then ours; then a fault
//   crash_helper overflow DIR        unbounded recursion on the main thread
//   crash_helper thread DIR          a fault on a second thread named "emp-crasher"
//   crash_helper several DIR_A DIR_B three registrations (two in DIR_A with
//                                    different contexts, one in DIR_B), then abort
//   crash_helper uninstalled DIR     install, uninstall twice, then a fault
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "errors/crash_handler.hpp"

namespace et = emp::telemetry::errors;

namespace {

volatile std::uintptr_t g_bad_address = 24;
volatile int g_sink = 0;
volatile bool g_forever = true;
const char* g_marker = nullptr;

__attribute__((noinline)) void helper_fault() {
  *reinterpret_cast<volatile int*>(g_bad_address) = 1;
  asm volatile("");
}

__attribute__((noinline)) int helper_recurse(int depth) {
  volatile char pad[512];
  pad[depth % 512] = static_cast<char>(depth);
  int r = g_forever ? helper_recurse(depth + 1) + pad[(depth + 1) % 512] : 0;
  asm volatile("");
  return r;
}

// The "application's" own handler, installed before ours: it leaves a mark
// and restores the default action, so the refault kills the process.
void previous_handler(int sig, siginfo_t* info, void*) {
  int fd = ::open(g_marker, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) {
    char text[64];
    int n = 0;
    // "signal <n> addr <hex>" without stdio.
    const char* prefix = "previous handler ran";
    n = static_cast<int>(std::strlen(prefix));
    std::memcpy(text, prefix, static_cast<std::size_t>(n));
    (void)!::write(fd, text, static_cast<std::size_t>(n));
    ::close(fd);
  }
  (void)info;
  ::signal(sig, SIG_DFL);
}

et::CrashHandler install(const char* dir, const et::CrashContext* ctx = nullptr) {
  auto h = et::CrashHandler::install({dir, ctx});
  if (!h) {
    std::fprintf(stderr, "install failed: %s\n", h.errors().front().to_string().c_str());
    std::exit(3);
  }
  return std::move(h.value());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string mode = argv[1];
  if (mode == "chain" && argc == 4) {
    g_marker = argv[3];
    struct sigaction sa {};
    sa.sa_sigaction = &previous_handler;
    sa.sa_flags = SA_SIGINFO;
    ::sigaction(SIGSEGV, &sa, nullptr);
    auto h = install(argv[2]);
    helper_fault();
    return 1;
  }
  if (mode == "overflow") {
    auto h = install(argv[2]);
    return helper_recurse(0);
  }
  if (mode == "thread") {
    auto h = install(argv[2]);
    std::thread t([] {
      ::pthread_setname_np(::pthread_self(), "emp-crasher");
      helper_fault();
    });
    t.join();
    return 1;
  }
  if (mode == "several" && argc == 4) {
    static et::CrashContext one(256), two(256), three(256);
    one.set("context one");
    two.set("context two");
    three.set("context three");
    auto a = install(argv[2], &one);
    auto b = install(argv[2], &two);
    auto a_again = install(argv[2], &one);  // the same pair again: still one copy
    auto c = install(argv[3], &three);
    std::abort();
  }
  if (mode == "uninstalled") {
    auto h = install(argv[2]);
    h.uninstall();
    h.uninstall();
    helper_fault();
    return 1;
  }
  return 2;
}
