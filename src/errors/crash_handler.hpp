// Crash capture: one process-wide handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE
// and SIGABRT (run on an alternate signal stack, so a stack overflow is
// caught) and for std::terminate. On a crash it writes a crash record
// (errors/crash_record.hpp) into the directory of every registration, then
// puts the previous handlers back and lets the signal take its course again,
// so the previous handler runs and the process dies the way it would have.
//
// What runs at crash time is async-signal-safe: no allocation, no lock, no
// stdio; only open/write/fsync/close/rename, sigaction, clock_gettime and the
// lock-free unwinder, over buffers that were allocated at install time. The
// module list (for symbolizing in the next process) and each registration's
// context blob are kept ready beforehand in seqlocked double buffers.
// docs/crash-capture.md explains the choices and the limits.
//
// Thread-safety: install/uninstall/refresh may be called from any thread
// (they serialize on a mutex that the crash path never takes). CrashContext::
// set may be called from any thread; read is async-signal-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "emp/telemetry/expected.hpp"

namespace emp::telemetry::errors {

// A small pre-formatted blob (e.g. the latest breadcrumbs and the active
// trace id, as JSON) that a crash record carries. Two buffers, each guarded by
// a sequence number: set() writes the one not published and then publishes
// it, so a crash that interrupts set() on the same thread still reads the
// previous, complete blob, and a crash on another thread reads a consistent
// one or, after a few retries against a writer that never stops, nothing.
class CrashContext {
 public:
  // The largest capacity; larger requests are clamped.
  static constexpr std::size_t kMaxCapacity = 64 * 1024;

  explicit CrashContext(std::size_t capacity = 16 * 1024);
  CrashContext(const CrashContext&) = delete;
  CrashContext& operator=(const CrashContext&) = delete;

  // Replaces the blob; a longer one is cut to capacity(). Writers serialize.
  void set(std::string_view blob) noexcept;
  // Copies the current blob into `out` (at most `cap` bytes) and returns its
  // length; 0 when empty or when no consistent copy could be taken.
  // Async-signal-safe.
  std::size_t read(char* out, std::size_t cap) const noexcept;
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct Slot {
    std::atomic<std::uint32_t> seq{0};  // odd while being written
    std::atomic<std::uint32_t> length{0};
    std::unique_ptr<std::atomic<std::uint64_t>[]> words;
  };
  std::size_t capacity_;
  Slot slots_[2];
  std::atomic<std::uint32_t> published_{0};
  std::mutex writer_;
};

struct CrashHandlerOptions {
  // Where this registration's crash records go; created when missing.
  std::string directory;
  // Optional context blob written into each record; it must outlive the
  // registration.
  const CrashContext* context = nullptr;
};

// One registration with the process-wide crash handler. The signal and
// terminate handlers are installed with the first registration and the
// previous ones restored when the last goes away. Registrations that share a
// directory share one record per crash (with each distinct context in it).
// Move-only; destroying it uninstalls.
class CrashHandler {
 public:
  static constexpr std::size_t kMaxRegistrations = 16;
  static constexpr std::size_t kMaxDirectory = 512;

  // Errors: an empty or too long directory, one that cannot be created, or
  // more than kMaxRegistrations live registrations.
  static Expected<CrashHandler> install(const CrashHandlerOptions& options);

  CrashHandler() noexcept = default;
  CrashHandler(CrashHandler&& other) noexcept;
  CrashHandler& operator=(CrashHandler&& other) noexcept;
  ~CrashHandler();

  // Idempotent: the second call does nothing.
  void uninstall() noexcept;
  bool installed() const noexcept { return slot_ >= 0; }

 private:
  explicit CrashHandler(int slot) noexcept : slot_(slot) {}
  int slot_ = -1;
};

// Re-reads the list of loaded modules into the snapshot crash records carry,
// when a library was loaded or unloaded since the last time (or always with
// `force`). Install does it once; an owner that loads libraries later calls
// this from a background thread now and then. Cheap when nothing changed.
void refresh_crash_modules(bool force = false) noexcept;

// Gives the calling thread an alternate signal stack (kept for the thread's
// lifetime) unless it has one, so a stack overflow on it is caught. Install
// does this for the thread that installs; other long-lived threads may call
// it. Returns false when the stack could not be set up.
bool install_crash_alt_stack() noexcept;

}  // namespace emp::telemetry::errors
