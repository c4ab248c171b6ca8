// Stack traces for error events: capture on the caller's thread, symbolize
// later on another thread (or in another process).
//
// Capture records instruction addresses only, into a caller-provided array,
// with no allocation. Two unwinders, chosen by measurement (BENCHMARKS.md):
// on the application's thread, libunwind's unw_backtrace when Debian's
// libunwind8 is installed (about 20x faster for 20 frames: it caches frame
// descriptions per thread), loaded at run time with RTLD_LOCAL so that its
// exported _Unwind_* and backtrace symbols never replace the C++ runtime's own
// for the rest of the process; otherwise, and always on the crash path,
// libgcc's _Unwind_Backtrace, which every C++ program already has and whose
// FDE lookup on glibc >= 2.35 goes through the lock-free _dl_find_object, so
// it may run inside a signal handler (docs/crash-capture.md). The addresses
// are newest-first, the order an unwinder produces.
//
// Symbolization uses libdw (elfutils) over a list of modules (path, load bias,
// build id), so it works both for the live process (loaded_modules()) and for
// a crash recorded by a process that no longer exists: the module list written
// at crash time maps the addresses back even with ASLR. It yields demangled
// function names from .symtab or, in a stripped binary, .dynsym; file and line
// where DWARF line tables exist; always the module and the offset in it.
// Frames come out oldest-first, the order Sentry's stacktrace.frames wants.
//
// Thread-safety: the capture functions are reentrant; capture_stack_signal_safe
// and capture_stack_from_signal are async-signal-safe.
// loaded_modules() may be called from any thread. A Symbolizer is used by one
// thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emp::telemetry::errors {

// The most frames any capture records; deeper stacks keep their newest frames.
inline constexpr std::size_t kMaxStackFrames = 128;

// Instruction addresses of the calling thread, newest-first, skipping `skip`
// frames above the caller of capture_stack (0 = the caller's frame first).
// Every address is a return address. Returns how many were written (at most
// `max`). Never allocates, but the first call loads libunwind: not for signal
// handlers (use capture_stack_signal_safe there).
std::size_t capture_stack(std::uintptr_t* out, std::size_t max, std::size_t skip = 0) noexcept;

// The same with libgcc's unwinder only. Async-signal-safe; never allocates.
std::size_t capture_stack_signal_safe(std::uintptr_t* out, std::size_t max,
                                      std::size_t skip = 0) noexcept;

// Whether capture_stack uses libunwind (true) or libgcc's unwinder.
bool fast_unwinder_available() noexcept;

// Inside a signal handler: the interrupted thread's stack, starting at the
// instruction that faulted (taken from `ucontext`, the handler's third
// argument), so the handler's own frames and the signal trampoline are not
// part of it. When the unwinder cannot get past the faulting instruction
// (a call through a bad pointer leaves the program counter outside any
// module) the frame below it is recovered from the return address the call
// pushed. Async-signal-safe; never allocates.
std::size_t capture_stack_from_signal(const void* ucontext, std::uintptr_t* out,
                                      std::size_t max) noexcept;

// One loaded ELF object: the main executable, a shared library or the vDSO.
struct ModuleInfo {
  std::string path;                    // absolute file path; "linux-vdso.so.1" has no file
  std::uint64_t load_bias = 0;         // added to the file's virtual addresses (dlpi_addr)
  std::uint64_t image_addr = 0;        // lowest mapped address (first PT_LOAD, page aligned)
  std::uint64_t image_size = 0;        // from image_addr to the end of the last PT_LOAD
  std::vector<std::uint8_t> build_id;  // NT_GNU_BUILD_ID descriptor; empty when absent
  bool main_executable = false;

  bool contains(std::uint64_t addr) const noexcept {
    return addr >= image_addr && addr - image_addr < image_size;
  }
};

// Every module loaded now (dl_iterate_phdr), the main executable first. The
// main executable's path is resolved through /proc/self/exe.
std::vector<ModuleInfo> loaded_modules();

// Sentry's `code_id` of an ELF module: the build id as lowercase hex.
std::string code_id_hex(std::span<const std::uint8_t> build_id);
// Sentry's `debug_id`: the build id's first 16 bytes (zero-padded when shorter)
// read as a little-endian GUID, i.e. the first three fields byte-swapped,
// formatted "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". Empty when there is no id.
std::string debug_id_from_build_id(std::span<const std::uint8_t> build_id);

// True for modules that belong to the operating system rather than the
// application: paths under /lib, /lib32, /lib64, /usr/lib*, /usr/libexec and
// the vDSO. Frames of every other module (the main executable, the
// application's own libraries) are in_app.
bool is_system_module(std::string_view path) noexcept;

// One symbolized frame, in Sentry's vocabulary.
struct Frame {
  std::uint64_t instruction_addr = 0;
  std::string function;           // demangled; empty when no symbol covers the address
  std::string symbol;             // raw (mangled) symbol name
  std::uint64_t symbol_addr = 0;  // start of the symbol, 0 when unknown
  std::string package;            // module path, empty when no module contains it
  std::uint64_t image_addr = 0;   // image_addr of that module
  std::string filename;           // source file from DWARF line tables, else empty
  std::uint32_t lineno = 0;       // 0 when unknown
  bool in_app = false;
};

// Maps addresses to frames over a fixed module list. Building one opens each
// module's ELF file (headers only); DWARF data are loaded on first use and
// kept. Separate debug files are looked up locally only, by build id under
// /usr/lib/debug/.build-id (never over the network). A module whose file on disk no longer has the
// recorded build id (upgraded since the crash) is not symbolized from the file: its frames keep
// module and offset only, rather than wrong names.
class Symbolizer {
 public:
  explicit Symbolizer(std::vector<ModuleInfo> modules);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // `newest_first` as captured. `first_is_exact`: the first address is the
  // faulting instruction itself (a signal), not a return address; every other
  // address is looked up one byte earlier so that a call at the end of a
  // function or before a different line resolves to the call. The result is
  // oldest-first.
  std::vector<Frame> symbolize(std::span<const std::uint64_t> newest_first,
                               bool first_is_exact = false);

  const std::vector<ModuleInfo>& modules() const noexcept { return modules_; }

 private:
  struct Impl;
  std::vector<ModuleInfo> modules_;
  std::unique_ptr<Impl> impl_;
};

// Demangles a C++ symbol or type name (Itanium ABI); returns it unchanged
// when it is not a mangled name.
std::string demangle(std::string_view mangled);

}  // namespace emp::telemetry::errors
