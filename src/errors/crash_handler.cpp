// The process-wide crash handler; see crash_handler.hpp and docs/crash-capture.md.
#include "errors/crash_handler.hpp"

#include <cxxabi.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <typeinfo>
#include <vector>

#include "core/file_modes.hpp"
#include "errors/crash_record.hpp"
#include "errors/stacktrace.hpp"

namespace emp::telemetry::errors {

// ---------------------------------------------------------------- CrashContext

namespace {

std::size_t words_for(std::size_t bytes) { return (bytes + 7) / 8; }

// A few tries against a writer that keeps publishing; a crash must not spin.
constexpr int kReadAttempts = 4;

}  // namespace

CrashContext::CrashContext(std::size_t capacity) : capacity_(std::min(capacity, kMaxCapacity)) {
  for (Slot& s : slots_) {
    s.words = std::make_unique<std::atomic<std::uint64_t>[]>(words_for(capacity_) + 1);
  }
}

void CrashContext::set(std::string_view blob) noexcept {
  try {
    std::lock_guard<std::mutex> lock(writer_);
    const std::uint32_t target = 1 - published_.load(std::memory_order_relaxed);
    Slot& s = slots_[target];
    const std::size_t len = std::min(blob.size(), capacity_);
    const std::uint32_t seq = s.seq.load(std::memory_order_relaxed);
    s.seq.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    for (std::size_t i = 0, w = 0; i < len; i += 8, ++w) {
      std::uint64_t word = 0;
      std::memcpy(&word, blob.data() + i, std::min<std::size_t>(8, len - i));
      s.words[w].store(word, std::memory_order_relaxed);
    }
    s.length.store(static_cast<std::uint32_t>(len), std::memory_order_relaxed);
    s.seq.store(seq + 2, std::memory_order_release);
    published_.store(target, std::memory_order_release);
  } catch (...) {
    // std::mutex::lock only throws on a broken system; the old blob stays.
  }
}

std::size_t CrashContext::read(char* out, std::size_t cap) const noexcept {
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    const Slot& s = slots_[published_.load(std::memory_order_acquire)];
    const std::uint32_t before = s.seq.load(std::memory_order_acquire);
    if (before & 1) continue;
    const std::size_t len = std::min<std::size_t>(s.length.load(std::memory_order_relaxed), cap);
    for (std::size_t i = 0, w = 0; i < len; i += 8, ++w) {
      const std::uint64_t word = s.words[w].load(std::memory_order_relaxed);
      std::memcpy(out + i, &word, std::min<std::size_t>(8, len - i));
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) == before) return len;
  }
  return 0;
}

// ---------------------------------------------------------------- global state

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
constexpr std::size_t kSignalCount = sizeof kSignals / sizeof kSignals[0];
constexpr std::size_t kModuleBytes = 512 * 1024;

struct Registration {
  std::atomic<bool> active{false};
  char directory[CrashHandler::kMaxDirectory] = {};
  std::atomic<const CrashContext*> context{nullptr};
};

// Everything the crash path touches lives here, allocated before any crash.
struct State {
  std::mutex mutex;  // install/uninstall/refresh; never taken by the crash path
  bool installed = false;
  struct sigaction previous[kSignalCount] = {};
  std::terminate_handler previous_terminate = nullptr;
  Registration registrations[CrashHandler::kMaxRegistrations];
  CrashContext modules{kModuleBytes};  // pre-formatted kModule sections
  unsigned long long module_adds = 0, module_subs = 0;

  std::atomic<pid_t> crashing_tid{0};
  std::atomic<bool> done{false};
  // Scratch for the crash path, used by the one thread that wins crashing_tid.
  std::uintptr_t frames[kMaxCrashFrames];
  char head[16 * 1024];
  char module_bytes[kModuleBytes];
  char context_bytes[CrashContext::kMaxCapacity];
  char path[CrashHandler::kMaxDirectory + 96];
  char final_path[CrashHandler::kMaxDirectory + 96];
  char exception_type[kMaxCrashText];
  char exception_what[kMaxCrashText];
};

State& state() {
  static State* s = new State();  // never destroyed: a crash may come during exit
  return *s;
}

pid_t current_tid() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// Bump-appending into a fixed buffer; async-signal-safe.
struct Appender {
  char* buf;
  std::size_t cap;
  std::size_t used = 0;
  void bytes(const void* p, std::size_t n) noexcept {
    if (n > cap - used) n = cap - used;
    std::memcpy(buf + used, p, n);
    used += n;
  }
  void str(const char* s) noexcept { bytes(s, std::strlen(s)); }
  void number(std::uint64_t v) noexcept {
    char digits[24];
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) bytes(&digits[--n], 1);
  }
  void section(CrashSection type, const void* p, std::size_t n) noexcept {
    const std::uint32_t head[2] = {static_cast<std::uint32_t>(type), static_cast<std::uint32_t>(n)};
    if (sizeof head + n > cap - used) return;  // a section is whole or absent
    bytes(head, sizeof head);
    bytes(p, n);
  }
};

std::size_t bounded_strlen(const char* s, std::size_t max) noexcept {
  std::size_t n = 0;
  while (n < max && s[n] != '\0') ++n;
  return n;
}

// Writes one record per distinct registered directory. Runs on the crashing
// thread, in the signal handler or the terminate handler.
__attribute__((noinline)) void write_records(CrashKind kind, int signal, const siginfo_t* info,
                                             const void* ucontext, const char* exception_type,
                                             const char* exception_what) noexcept {
  State& s = state();
  const int saved_errno = errno;

  std::size_t frame_count = 0;
  if (kind == CrashKind::kSignal) {
    frame_count = capture_stack_from_signal(ucontext, s.frames, kMaxCrashFrames);
  } else {
    // Skips write_records and the terminate handler: the stack starts where
    // std::terminate was called from.
    frame_count = capture_stack_signal_safe(s.frames, kMaxCrashFrames, 2);
  }

  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  CrashInfoWire w{};
  w.kind = static_cast<std::uint32_t>(kind);
  w.signal = signal;
  w.si_code = info != nullptr ? info->si_code : 0;
  w.pid = static_cast<std::int32_t>(::getpid());
  w.tid = static_cast<std::int32_t>(current_tid());
  // si_addr is the faulting address only for faults the kernel raised.
  w.fault_address = info != nullptr && info->si_code > 0 && signal != SIGABRT
                        ? reinterpret_cast<std::uintptr_t>(info->si_addr)
                        : 0;
  w.time_sec = now.tv_sec;
  w.time_nsec = now.tv_nsec;

  Appender head{s.head, sizeof s.head};
  head.section(CrashSection::kInfo, &w, sizeof w);
  const char* name = kind == CrashKind::kTerminate ? "terminate" : crash_signal_name(signal);
  if (name != nullptr) head.section(CrashSection::kSignalName, name, std::strlen(name));
  char thread_name[17] = {};
  if (::prctl(PR_GET_NAME, thread_name, 0, 0, 0) == 0) {
    head.section(CrashSection::kThreadName, thread_name, bounded_strlen(thread_name, 16));
  }
  head.section(CrashSection::kFrames, s.frames, frame_count * sizeof(std::uintptr_t));
  if (exception_type != nullptr) {
    head.section(CrashSection::kExceptionType, exception_type,
                 bounded_strlen(exception_type, kMaxCrashText));
  }
  if (exception_what != nullptr) {
    head.section(CrashSection::kExceptionWhat, exception_what,
                 bounded_strlen(exception_what, kMaxCrashText));
  }
  const std::size_t module_len = s.modules.read(s.module_bytes, sizeof s.module_bytes);

  for (std::size_t i = 0; i < CrashHandler::kMaxRegistrations; ++i) {
    Registration& r = s.registrations[i];
    if (!r.active.load(std::memory_order_acquire)) continue;
    bool written = false;  // an earlier registration with the same directory wrote it
    for (std::size_t k = 0; k < i && !written; ++k) {
      written = s.registrations[k].active.load(std::memory_order_acquire) &&
                std::strcmp(s.registrations[k].directory, r.directory) == 0;
    }
    if (written) continue;

    Appender path{s.path, sizeof s.path - 1};
    path.str(r.directory);
    path.str("/crash-");
    path.number(static_cast<std::uint64_t>(now.tv_sec));
    path.str("-");
    path.number(static_cast<std::uint64_t>(w.pid));
    path.str("-");
    path.number(static_cast<std::uint64_t>(w.tid));
    std::memcpy(s.final_path, s.path, path.used);
    s.final_path[path.used] = '\0';
    std::strncat(s.final_path, kCrashFileSuffix, sizeof s.final_path - path.used - 1);
    path.str(kCrashTempSuffix);
    s.path[path.used] = '\0';

    int fd = ::open(s.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    CrashFileWriter out(fd);
    out.header();
    out.raw(s.head, head.used);
    out.raw(s.module_bytes, module_len);
    for (std::size_t k = i; k < CrashHandler::kMaxRegistrations; ++k) {
      Registration& same = s.registrations[k];
      if (!same.active.load(std::memory_order_acquire) ||
          std::strcmp(same.directory, r.directory) != 0) {
        continue;
      }
      const CrashContext* ctx = same.context.load(std::memory_order_acquire);
      if (ctx == nullptr) continue;
      bool seen = false;  // one copy of a context registered twice
      for (std::size_t j = i; j < k && !seen; ++j) {
        seen = s.registrations[j].active.load(std::memory_order_acquire) &&
               std::strcmp(s.registrations[j].directory, r.directory) == 0 &&
               s.registrations[j].context.load(std::memory_order_acquire) == ctx;
      }
      if (seen) continue;
      const std::size_t n = ctx->read(s.context_bytes, sizeof s.context_bytes);
      out.section(CrashSection::kContext, s.context_bytes, n);
    }
    out.end();
    ::fsync(fd);
    ::close(fd);
    if (out.ok()) ::rename(s.path, s.final_path);
  }
  errno = saved_errno;
}

void restore_previous_handlers() noexcept {
  State& s = state();
  for (std::size_t i = 0; i < kSignalCount; ++i) ::sigaction(kSignals[i], &s.previous[i], nullptr);
}

void on_signal(int signal, siginfo_t* info, void* ucontext) {
  State& s = state();
  const int saved_errno = errno;
  const pid_t tid = current_tid();
  pid_t expected = 0;
  if (s.crashing_tid.compare_exchange_strong(expected, tid)) {
    write_records(CrashKind::kSignal, signal, info, ucontext, nullptr, nullptr);
    s.done.store(true);
  } else if (expected != tid) {
    // Another thread crashed first and is writing; its re-raise will end the
    // process. Wait for it (bounded: its previous handler might not kill).
    for (int i = 0; i < 100 && !s.done.load(); ++i) {
      timespec pause{0, 50 * 1000 * 1000};
      ::nanosleep(&pause, nullptr);
    }
  }
  // Same thread again: the abort after the terminate handler wrote its
  // record, or a fault inside the crash path. Either way: no second record.
  restore_previous_handlers();
  if (info == nullptr || info->si_code <= 0) {
    // Sent by kill/raise/abort: send it again, with the same siginfo, so the
    // previous handler (or the default action) sees what we saw once this
    // handler returns and the signal is unblocked.
    if (::syscall(SYS_rt_tgsigqueueinfo, ::getpid(), tid, signal, info) != 0) {
      ::syscall(SYS_tgkill, ::getpid(), tid, signal);
    }
  }
  // A fault raised by the kernel needs nothing: returning re-executes the
  // faulting instruction, which faults again into the previous handler.
  errno = saved_errno;
}

[[noreturn]] void on_terminate() {
  State& s = state();
  pid_t expected = 0;
  if (s.crashing_tid.compare_exchange_strong(expected, current_tid())) {
    const char* type = nullptr;
    const char* what = nullptr;
    if (const std::type_info* t = abi::__cxa_current_exception_type()) {
      const char* mangled = t->name();
      if (*mangled == '*') ++mangled;  // a pointer-comparison marker, not part of the name
      std::strncpy(s.exception_type, mangled, sizeof s.exception_type - 1);
      type = s.exception_type;
      try {
        throw;  // rethrows the current exception without copying it
      } catch (const std::exception& e) {
        std::strncpy(s.exception_what, e.what(), sizeof s.exception_what - 1);
        what = s.exception_what;
      } catch (...) {
      }
    }
    write_records(CrashKind::kTerminate, 0, nullptr, nullptr, type, what);
    s.done.store(true);
  }
  if (s.previous_terminate != nullptr && s.previous_terminate != &on_terminate) {
    s.previous_terminate();
  }
  std::abort();
}

bool is_ours(int signal) {
  struct sigaction current {};
  return ::sigaction(signal, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
         current.sa_sigaction == &on_signal;
}

// Rebuilds the module snapshot; the caller holds the state mutex.
void refresh_modules_locked(bool force) {
  State& s = state();
  struct Counts {
    unsigned long long adds = 0, subs = 0;
  } counts;
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t size, void* arg) {
        auto* c = static_cast<Counts*>(arg);
        if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
          c->adds = info->dlpi_adds;
          c->subs = info->dlpi_subs;
        }
        return 1;  // the counters are the same in every entry
      },
      &counts);
  if (!force && counts.adds == s.module_adds && counts.subs == s.module_subs) return;
  std::vector<char> bytes(kModuleBytes);
  std::size_t used = 0;
  for (const ModuleInfo& m : loaded_modules()) {
    used = append_module_section(bytes.data(), used, bytes.size(), m.load_bias, m.image_addr,
                                 m.image_size, m.build_id.data(), m.build_id.size(), m.path);
  }
  s.modules.set(std::string_view(bytes.data(), used));
  s.module_adds = counts.adds;
  s.module_subs = counts.subs;
}

struct AltStack {
  void* base = nullptr;
  std::size_t size = 0;
  ~AltStack() {
    if (base == nullptr) return;
    stack_t current{};
    if (::sigaltstack(nullptr, &current) == 0 &&
        current.ss_sp == static_cast<char*>(base) + getpagesize()) {
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      ::sigaltstack(&off, nullptr);
    }
    ::munmap(base, size);
  }
};

}  // namespace

bool install_crash_alt_stack() noexcept {
  stack_t current{};
  if (::sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE) &&
      current.ss_size > 0) {
    return true;  // the thread has one already (ours or the application's)
  }
  thread_local AltStack stack;
  if (stack.base != nullptr) return true;
  const std::size_t page = static_cast<std::size_t>(::getpagesize());
  long min = ::sysconf(_SC_MINSIGSTKSZ);
  std::size_t usable =
      std::max<std::size_t>(64 * 1024, min > 0 ? 4 * static_cast<std::size_t>(min) : 0);
  usable = (usable + page - 1) & ~(page - 1);
  // One guard page below, so an overflow of the handler itself faults
  // instead of writing over whatever lies below.
  void* mem = ::mmap(nullptr, usable + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) return false;
  ::mprotect(mem, page, PROT_NONE);
  stack_t ss{};
  ss.ss_sp = static_cast<char*>(mem) + page;
  ss.ss_size = usable;
  if (::sigaltstack(&ss, nullptr) != 0) {
    ::munmap(mem, usable + page);
    return false;
  }
  stack.base = mem;
  stack.size = usable + page;
  return true;
}

void refresh_crash_modules(bool force) noexcept {
  try {
    std::lock_guard<std::mutex> lock(state().mutex);
    refresh_modules_locked(force);
  } catch (...) {
    // Out of memory while listing modules: the previous snapshot stays.
  }
}

Expected<CrashHandler> CrashHandler::install(const CrashHandlerOptions& options) {
  const std::string& dir = options.directory;
  if (dir.empty()) return Error{"crash directory", "is empty"};
  if (dir.size() >= kMaxDirectory) {
    return Error{"crash directory", "is " + std::to_string(dir.size()) +
                                        " bytes long, the limit is " +
                                        std::to_string(kMaxDirectory - 1)};
  }
  if (dir.find('\0') != std::string::npos) return Error{"crash directory", "contains a NUL byte"};
  std::error_code ec;
  if (!core::make_directories(dir, ec)) {
    return Error{"crash directory", "cannot create '" + dir + "': " +
                                        (ec ? ec.message() : std::string("not a directory"))};
  }

  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  int slot = -1;
  for (std::size_t i = 0; i < kMaxRegistrations; ++i) {
    if (!s.registrations[i].active.load()) {
      slot = static_cast<int>(i);
      break;
    }
  }
  if (slot < 0) {
    return Error{"crash handler",
                 "more than " + std::to_string(kMaxRegistrations) + " registrations"};
  }
  Registration& r = s.registrations[slot];
  std::memset(r.directory, 0, sizeof r.directory);
  std::memcpy(r.directory, dir.data(), dir.size());
  r.context.store(options.context, std::memory_order_relaxed);
  r.active.store(true, std::memory_order_release);

  if (!s.installed) {
    refresh_modules_locked(true);
    install_crash_alt_stack();
    // Warm the unwinder up outside any crash: its first use may initialize
    // state lazily.
    std::uintptr_t warm[4];
    capture_stack_signal_safe(warm, 4);
    struct sigaction action {};
    action.sa_sigaction = &on_signal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < kSignalCount; ++i) {
      ::sigaction(kSignals[i], &action, &s.previous[i]);
    }
    s.previous_terminate = std::set_terminate(&on_terminate);
    s.installed = true;
  }
  return CrashHandler(slot);
}

CrashHandler::CrashHandler(CrashHandler&& other) noexcept : slot_(other.slot_) { other.slot_ = -1; }

CrashHandler& CrashHandler::operator=(CrashHandler&& other) noexcept {
  if (this != &other) {
    uninstall();
    slot_ = other.slot_;
    other.slot_ = -1;
  }
  return *this;
}

CrashHandler::~CrashHandler() { uninstall(); }

void CrashHandler::uninstall() noexcept {
  if (slot_ < 0) return;
  State& s = state();
  try {
    std::lock_guard<std::mutex> lock(s.mutex);
    Registration& r = s.registrations[slot_];
    r.active.store(false, std::memory_order_release);
    r.context.store(nullptr, std::memory_order_release);
    slot_ = -1;
    for (const Registration& other : s.registrations) {
      if (other.active.load()) return;
    }
    if (!s.installed) return;
    // Put back what was there, unless someone installed over us: then the
    // handler that is current stays (and still chains to ours, which now
    // only chains further).
    for (std::size_t i = 0; i < kSignalCount; ++i) {
      if (is_ours(kSignals[i])) ::sigaction(kSignals[i], &s.previous[i], nullptr);
    }
    if (std::get_terminate() == &on_terminate) std::set_terminate(s.previous_terminate);
    s.installed = false;
  } catch (...) {
    slot_ = -1;
  }
}

}  // namespace emp::telemetry::errors
