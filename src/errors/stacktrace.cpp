// Stack capture (libgcc's unwinder) and symbolization (libdw); see stacktrace.hpp.
#include "errors/stacktrace.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace emp::telemetry::errors {

namespace {

struct UnwindState {
  std::uintptr_t* out;
  std::size_t max;
  std::size_t skip;
  std::size_t n;
};

_Unwind_Reason_Code collect_frame(_Unwind_Context* ctx, void* arg) {
  auto* s = static_cast<UnwindState*>(arg);
  int before_insn = 0;
  std::uintptr_t ip = _Unwind_GetIPInfo(ctx, &before_insn);
  if (ip == 0) return _URC_END_OF_STACK;
  if (s->skip > 0) {
    --s->skip;
    return _URC_NO_REASON;
  }
  if (s->n >= s->max) return _URC_END_OF_STACK;
  s->out[s->n++] = ip;
  return _URC_NO_REASON;
}

// Frames of the signal handler and the trampoline are skipped until the
// unwinder reaches the interrupted instruction; past this many the unwinder
// is lost and the fallback applies.
constexpr std::size_t kMaxHandlerFrames = 64;

struct SignalUnwindState {
  std::uintptr_t pc;
  std::uintptr_t* out;
  std::size_t max;
  std::size_t seen;
  std::size_t n;
  bool found;
};

_Unwind_Reason_Code collect_signal_frame(_Unwind_Context* ctx, void* arg) {
  auto* s = static_cast<SignalUnwindState*>(arg);
  int before_insn = 0;
  std::uintptr_t ip = _Unwind_GetIPInfo(ctx, &before_insn);
  if (!s->found) {
    // The interrupted frame is the one the trampoline's CFI restores: its IP
    // is the faulting instruction itself (before_insn is set for it).
    if (ip == s->pc) {
      s->found = true;
    } else {
      return ++s->seen > kMaxHandlerFrames || ip == 0 ? _URC_END_OF_STACK : _URC_NO_REASON;
    }
  } else if (ip == 0) {
    return _URC_END_OF_STACK;
  }
  if (s->n >= s->max) return _URC_END_OF_STACK;
  s->out[s->n++] = ip;
  return _URC_NO_REASON;
}

// Whether `pc` lies in a loaded object. _dl_find_object (glibc >= 2.35) takes
// no lock and may be called from a signal handler.
bool in_loaded_object(std::uintptr_t pc) noexcept {
#ifdef DLFO_STRUCT_HAS_EH_DBASE
  dl_find_object found;
  return _dl_find_object(reinterpret_cast<void*>(pc), &found) == 0;
#else
  return pc != 0;
#endif
}

using UnwBacktrace = int (*)(void**, int);

// libunwind's unw_backtrace, or nullptr. RTLD_LOCAL: its symbols stay out of
// the global scope, so the C++ runtime keeps using libgcc's unwinder for
// exceptions; RTLD_NODELETE: the function stays valid for the process.
UnwBacktrace libunwind_backtrace() noexcept {
  static const UnwBacktrace fn = []() -> UnwBacktrace {
#if defined(__SANITIZE_THREAD__)
    // libunwind's per-thread cache destructor locks a mutex after TSan has
    // torn the exiting thread's state down, which crashes the process: under
    // TSan the caller's thread uses libgcc's unwinder too.
    return nullptr;
#endif
    void* lib = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (lib == nullptr) return nullptr;
    return reinterpret_cast<UnwBacktrace>(::dlsym(lib, "unw_backtrace"));
  }();
  return fn;
}

}  // namespace

__attribute__((noinline)) std::size_t capture_stack_signal_safe(std::uintptr_t* out,
                                                                std::size_t max,
                                                                std::size_t skip) noexcept {
  if (out == nullptr || max == 0) return 0;
  // +1: the first frame the unwinder reports is this function itself.
  UnwindState state{out, max, skip + 1, 0};
  _Unwind_Backtrace(&collect_frame, &state);
  return state.n;
}

bool fast_unwinder_available() noexcept { return libunwind_backtrace() != nullptr; }

__attribute__((noinline)) std::size_t capture_stack(std::uintptr_t* out, std::size_t max,
                                                    std::size_t skip) noexcept {
  if (out == nullptr || max == 0) return 0;
  UnwBacktrace unw = libunwind_backtrace();
  if (unw == nullptr) {
    std::size_t n = capture_stack_signal_safe(out, max, skip + 1);
    asm volatile("");  // not a tail call: this frame is the one skipped
    return n;
  }
  // unw_backtrace reports this function first; up to kMaxStackFrames more.
  void* frames[kMaxStackFrames + 1];
  const std::size_t want = std::min(max + skip + 1, sizeof frames / sizeof frames[0]);
  const int got = unw(frames, static_cast<int>(want));
  std::size_t n = 0;
  for (int i = static_cast<int>(skip) + 1; i < got && n < max; ++i) {
    out[n++] = reinterpret_cast<std::uintptr_t>(frames[i]);
  }
  return n;
}

std::size_t capture_stack_from_signal(const void* ucontext, std::uintptr_t* out,
                                      std::size_t max) noexcept {
  if (out == nullptr || max == 0) return 0;
  if (ucontext == nullptr) return capture_stack_signal_safe(out, max, 1);
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
#if defined(__x86_64__)
  const std::uintptr_t pc = uc->uc_mcontext.gregs[REG_RIP];
  const std::uintptr_t sp = uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
  const std::uintptr_t pc = uc->uc_mcontext.pc;
  const std::uintptr_t lr = uc->uc_mcontext.regs[30];
#else
#error "capture_stack_from_signal: unsupported architecture"
#endif
  SignalUnwindState state{pc, out, max, 0, 0, false};
  _Unwind_Backtrace(&collect_signal_frame, &state);
  if (state.found && state.n > 1) return state.n;
  // The unwinder did not get past the interrupted frame: record the program
  // counter, and when it is outside every module (a call through a null or
  // wild pointer) the caller's return address, which the call just pushed.
  out[0] = pc;
  std::size_t n = 1;
  if (max > 1 && !in_loaded_object(pc)) {
#if defined(__x86_64__)
    // The faulting fetch happened at the call target, so the stack pointer
    // still points at the return address and that word is mapped.
    const std::uintptr_t ret = *reinterpret_cast<const std::uintptr_t*>(sp);
#else
    const std::uintptr_t ret = lr;
#endif
    if (in_loaded_object(ret)) out[n++] = ret;
  }
  return n;
}

// ---------------------------------------------------------------- modules

namespace {

std::vector<std::uint8_t> find_build_id(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const std::size_t align = ph.p_align == 8 ? 8 : 4;
    auto round = [align](std::size_t v) { return (v + align - 1) & ~(align - 1); };
    const auto* p = reinterpret_cast<const std::uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    std::size_t left = ph.p_memsz;
    while (left >= sizeof(ElfW(Nhdr))) {
      ElfW(Nhdr) nh;
      std::memcpy(&nh, p, sizeof nh);
      const std::size_t name_at = sizeof nh;
      const std::size_t desc_at = name_at + round(nh.n_namesz);
      const std::size_t next = desc_at + round(nh.n_descsz);
      if (next > left || desc_at > left) break;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
          std::memcmp(p + name_at, "GNU", 4) == 0) {
        return {p + desc_at, p + desc_at + nh.n_descsz};
      }
      p += next;
      left -= next;
    }
  }
  return {};
}

std::string self_exe_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

int add_module(dl_phdr_info* info, std::size_t, void* arg) {
  auto* out = static_cast<std::vector<ModuleInfo>*>(arg);
  ModuleInfo m;
  m.main_executable = out->empty();
  m.path = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (m.main_executable && m.path.empty()) m.path = self_exe_path();
  m.load_bias = info->dlpi_addr;
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    lo = std::min<std::uint64_t>(lo, ph.p_vaddr);
    hi = std::max<std::uint64_t>(hi, ph.p_vaddr + ph.p_memsz);
  }
  if (lo == UINT64_MAX) return 0;  // nothing mapped
  const std::uint64_t page = static_cast<std::uint64_t>(::getpagesize());
  lo &= ~(page - 1);
  m.image_addr = m.load_bias + lo;
  m.image_size = hi - lo;
  m.build_id = find_build_id(info);
  if (m.path.empty()) return 0;  // an anonymous object with no name: nothing to map back
  out->push_back(std::move(m));
  return 0;
}

}  // namespace

std::vector<ModuleInfo> loaded_modules() {
  std::vector<ModuleInfo> out;
  ::dl_iterate_phdr(&add_module, &out);
  return out;
}

std::string code_id_hex(std::span<const std::uint8_t> build_id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(build_id.size() * 2);
  for (std::uint8_t b : build_id) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string debug_id_from_build_id(std::span<const std::uint8_t> build_id) {
  if (build_id.empty()) return {};
  std::uint8_t g[16] = {};
  std::memcpy(g, build_id.data(), std::min<std::size_t>(16, build_id.size()));
  // A little-endian GUID: Data1 (4 bytes), Data2 and Data3 (2 bytes each) are
  // stored least significant byte first; the text form prints them as numbers.
  std::reverse(g, g + 4);
  std::reverse(g + 4, g + 6);
  std::reverse(g + 6, g + 8);
  std::string hex = code_id_hex(std::span<const std::uint8_t>(g, 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

bool is_system_module(std::string_view path) noexcept {
  if (path.empty() || path.front() != '/') return true;  // the vDSO and other pseudo objects
  for (std::string_view prefix : {"/lib/", "/lib32/", "/lib64/", "/libx32/", "/usr/lib/",
                                  "/usr/lib32/", "/usr/lib64/", "/usr/libx32/", "/usr/libexec/"}) {
    if (path.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

std::string demangle(std::string_view mangled) {
  std::string name(mangled);
  int status = 0;
  char* out = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) {
    std::free(out);
    return name;
  }
  std::string result(out);
  std::free(out);
  return result;
}

// ---------------------------------------------------------------- symbolizer

namespace {

// Separate debug files, by build id, from the local debug directory only:
// the standard elfutils lookup may ask a debuginfod server when the
// environment names one, and a telemetry client must not go to the network
// behind the application's back.
int find_local_debuginfo(Dwfl_Module* mod, void**, const char*, Dwarf_Addr, const char*,
                         const char*, GElf_Word, char** debuginfo_file_name) {
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int len = dwfl_module_build_id(mod, &bits, &vaddr);
  if (len < 2) return -1;
  std::string path = "/usr/lib/debug/.build-id/" +
                     code_id_hex(std::span<const std::uint8_t>(bits, 1)) + "/" +
                     code_id_hex(std::span<const std::uint8_t>(bits + 1, len - 1)) + ".debug";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && debuginfo_file_name != nullptr) *debuginfo_file_name = ::strdup(path.c_str());
  return fd;
}

char* g_no_debuginfo_path = nullptr;

const Dwfl_Callbacks kCallbacks = {
    nullptr,                // find_elf: every module is reported with its path
    &find_local_debuginfo,  // find_debuginfo
    nullptr,                // section_address: not needed for ET_EXEC/ET_DYN
    &g_no_debuginfo_path,
};

}  // namespace

struct Symbolizer::Impl {
  Dwfl* dwfl = nullptr;
  std::vector<Dwfl_Module*> mods;  // per module; nullptr: no usable file
};

Symbolizer::Symbolizer(std::vector<ModuleInfo> modules)
    : modules_(std::move(modules)), impl_(std::make_unique<Impl>()) {
  impl_->mods.assign(modules_.size(), nullptr);
  impl_->dwfl = dwfl_begin(&kCallbacks);
  if (impl_->dwfl == nullptr) return;
  dwfl_report_begin(impl_->dwfl);
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    const ModuleInfo& m = modules_[i];
    if (m.path.empty() || m.path.front() != '/') continue;
    Dwfl_Module* mod =
        dwfl_report_elf(impl_->dwfl, m.path.c_str(), m.path.c_str(), -1, m.load_bias, false);
    if (mod == nullptr) continue;
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    if (!m.build_id.empty() && (len != static_cast<int>(m.build_id.size()) ||
                                std::memcmp(bits, m.build_id.data(), m.build_id.size()) != 0)) {
      continue;  // the file changed since the addresses were recorded
    }
    impl_->mods[i] = mod;
  }
  dwfl_report_end(impl_->dwfl, nullptr, nullptr);
}

Symbolizer::~Symbolizer() {
  if (impl_ && impl_->dwfl != nullptr) dwfl_end(impl_->dwfl);
}

std::vector<Frame> Symbolizer::symbolize(std::span<const std::uint64_t> newest_first,
                                         bool first_is_exact) {
  std::vector<Frame> frames;
  frames.reserve(newest_first.size());
  for (std::size_t i = newest_first.size(); i-- > 0;) {
    Frame f;
    f.instruction_addr = newest_first[i];
    const std::uint64_t lookup = (i == 0 && first_is_exact) || f.instruction_addr == 0
                                     ? f.instruction_addr
                                     : f.instruction_addr - 1;
    std::size_t m = modules_.size();
    for (std::size_t k = 0; k < modules_.size(); ++k) {
      if (modules_[k].contains(lookup)) {
        m = k;
        break;
      }
    }
    if (m < modules_.size()) {
      const ModuleInfo& mi = modules_[m];
      f.package = mi.path;
      f.image_addr = mi.image_addr;
      f.in_app = mi.main_executable || !is_system_module(mi.path);
      if (Dwfl_Module* mod = impl_->mods[m]) {
        GElf_Off offset = 0;
        GElf_Sym sym;
        const char* name =
            dwfl_module_addrinfo(mod, lookup, &offset, &sym, nullptr, nullptr, nullptr);
        if (name != nullptr && *name != '\0') {
          f.symbol = name;
          // "__libc_start_main@@GLIBC_2.34": the symbol version is not part of
          // the function's name.
          f.function = demangle(f.symbol.substr(0, f.symbol.find('@')));
          f.symbol_addr = lookup - offset;
        }
        if (Dwfl_Line* line = dwfl_module_getsrc(mod, lookup)) {
          Dwarf_Addr addr = 0;
          int lineno = 0, col = 0;
          const char* src = dwfl_lineinfo(line, &addr, &lineno, &col, nullptr, nullptr);
          if (src != nullptr && lineno > 0) {
            f.filename = src;
            f.lineno = static_cast<std::uint32_t>(lineno);
          }
        }
      }
    }
    frames.push_back(std::move(f));
  }
  return frames;
}

}  // namespace emp::telemetry::errors
