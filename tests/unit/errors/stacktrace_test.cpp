// Stack capture on the caller's thread and symbolization with libdw: names in
// call order, file:line from the test's own line tables, build ids that agree
// with readelf, Sentry's debug_id byte order, in_app marking, and a module
// whose file no longer matches its recorded build id.
#include "errors/stacktrace.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace stack_probe {

int g_capture_line = 0;

// Never inlined, and the asm after each call keeps it from being a tail
// call, so each function keeps its own frame.
__attribute__((noinline)) std::size_t chain_c(std::uintptr_t* out, std::size_t max) {
  g_capture_line = __LINE__ + 1;
  std::size_t n = emp::telemetry::errors::capture_stack(out, max);
  asm volatile("");
  return n;
}
__attribute__((noinline)) std::size_t chain_b(std::uintptr_t* out, std::size_t max) {
  std::size_t n = chain_c(out, max);
  asm volatile("");
  return n;
}
__attribute__((noinline)) std::size_t chain_a(std::uintptr_t* out, std::size_t max) {
  std::size_t n = chain_b(out, max);
  asm volatile("");
  return n;
}

}  // namespace stack_probe

namespace emp::telemetry::errors {
namespace {

std::vector<std::uint64_t> capture_chain() {
  std::array<std::uintptr_t, kMaxStackFrames> raw{};
  std::size_t n = stack_probe::chain_a(raw.data(), raw.size());
  return {raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(n)};
}

std::ptrdiff_t index_of(const std::vector<Frame>& frames, const std::string& name) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].function.find(name) != std::string::npos) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(StackCapture, FindsTheCallChainInOrderWithFileAndLine) {
  auto addrs = capture_chain();
  ASSERT_GE(addrs.size(), 4u);
  Symbolizer symbolizer(loaded_modules());
  auto frames = symbolizer.symbolize(addrs);
  ASSERT_EQ(frames.size(), addrs.size());
  // Oldest first: the caller comes before the callee.
  const auto a = index_of(frames, "stack_probe::chain_a");
  const auto b = index_of(frames, "stack_probe::chain_b");
  const auto c = index_of(frames, "stack_probe::chain_c");
  ASSERT_GE(a, 0);
  ASSERT_EQ(b, a + 1);
  ASSERT_EQ(c, b + 1);
  EXPECT_EQ(frames[c].function, "stack_probe::chain_c(unsigned long*, unsigned long)");
  EXPECT_EQ(frames[c].symbol, "_ZN11stack_probe7chain_cEPmm");
  EXPECT_EQ(static_cast<std::size_t>(c), frames.size() - 1)
      << "the newest frame is the caller of capture_stack";
  EXPECT_NE(frames[c].filename.find("stacktrace_test.cpp"), std::string::npos)
      << frames[c].filename;
  EXPECT_EQ(frames[c].lineno, static_cast<std::uint32_t>(stack_probe::g_capture_line));
  EXPECT_TRUE(frames[c].in_app);
  EXPECT_EQ(frames[c].instruction_addr, addrs.front());
  EXPECT_LE(frames[c].symbol_addr, frames[c].instruction_addr);
  // The frames of the test binary are in_app; the C library's start-up code
  // below main (__libc_start_call_main, named from libc's .dynsym or .symtab
  // when present) is not.
  const auto libc = std::find_if(frames.begin(), frames.end(), [](const Frame& f) {
    return f.package.find("/libc.so.6") != std::string::npos;
  });
  ASSERT_NE(libc, frames.end());
  EXPECT_FALSE(libc->in_app);
  EXPECT_LT(libc - frames.begin(), a);
}

TEST(StackCapture, SkipAndMaxAreHonoured) {
  std::array<std::uintptr_t, 64> all{}, skipped{}, two{};
  std::size_t n_all = capture_stack(all.data(), all.size());
  std::size_t n_skip = capture_stack(skipped.data(), skipped.size(), 1);
  std::size_t n_two = capture_stack(two.data(), 2);
  ASSERT_GE(n_all, 3u);
  EXPECT_EQ(n_skip, n_all - 1);
  EXPECT_EQ(skipped[1], all[2]);  // same frames above the capturing line
  EXPECT_EQ(n_two, 2u);
  EXPECT_EQ(capture_stack(nullptr, 5), 0u);
  EXPECT_EQ(capture_stack(all.data(), 0), 0u);
}

__attribute__((noinline)) void capture_both(std::array<std::uintptr_t, 64>& fast,
                                            std::size_t& n_fast,
                                            std::array<std::uintptr_t, 64>& safe,
                                            std::size_t& n_safe) {
  n_fast = capture_stack(fast.data(), fast.size());
  n_safe = capture_stack_signal_safe(safe.data(), safe.size());
  asm volatile("");
}

TEST(StackCapture, BothUnwindersAgree) {
  // Debian's libunwind8 is in the project's packages: the fast one is used.
  EXPECT_EQ(fast_unwinder_available(),
            ::access("/usr/lib/x86_64-linux-gnu/libunwind.so.8", F_OK) == 0);
  std::array<std::uintptr_t, 64> fast{}, safe{};
  std::size_t n_fast = 0, n_safe = 0;
  capture_both(fast, n_fast, safe, n_safe);
  ASSERT_GE(n_fast, 3u);
  ASSERT_EQ(n_fast, n_safe);
  EXPECT_NE(fast[0], safe[0]);  // two call sites in capture_both
  for (std::size_t i = 1; i < n_fast; ++i) EXPECT_EQ(fast[i], safe[i]) << "frame " << i;
}

TEST(Modules, MainExecutableFirstWithTheBuildIdReadelfReports) {
  auto modules = loaded_modules();
  ASSERT_FALSE(modules.empty());
  const ModuleInfo& exe = modules.front();
  EXPECT_TRUE(exe.main_executable);
  char self[4096];
  ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(len, 0);
  EXPECT_EQ(exe.path, std::string(self, static_cast<std::size_t>(len)));
  const std::string notes = run("readelf -n '" + exe.path + "'");
  const auto at = notes.find("Build ID: ");
  ASSERT_NE(at, std::string::npos) << notes;
  const std::string expected = notes.substr(at + 10, notes.find('\n', at) - at - 10);
  EXPECT_EQ(code_id_hex(exe.build_id), expected);
  // Every module with a file has a range that contains its own load address
  // range, and the libc it links has a build id readelf agrees with too.
  bool saw_libc = false;
  for (const ModuleInfo& m : modules) {
    EXPECT_GT(m.image_size, 0u) << m.path;
    if (m.path.find("/libc.so.6") != std::string::npos) {
      saw_libc = true;
      const std::string libc_notes = run("readelf -n '" + m.path + "'");
      const auto p = libc_notes.find("Build ID: ");
      ASSERT_NE(p, std::string::npos);
      EXPECT_EQ(code_id_hex(m.build_id),
                libc_notes.substr(p + 10, libc_notes.find('\n', p) - p - 10));
      EXPECT_TRUE(is_system_module(m.path));
    }
  }
  EXPECT_TRUE(saw_libc);
  auto addrs = capture_chain();
  EXPECT_TRUE(exe.contains(addrs.front()));
}

TEST(Modules, DebugIdIsTheBuildIdAsALittleEndianGuid) {
  std::vector<std::uint8_t> id;
  for (int i = 0; i < 20; ++i) id.push_back(static_cast<std::uint8_t>(i));
  EXPECT_EQ(code_id_hex(id), "000102030405060708090a0b0c0d0e0f10111213");
  EXPECT_EQ(debug_id_from_build_id(id), "03020100-0504-0706-0809-0a0b0c0d0e0f");
  // Shorter ids are zero-padded to 16 bytes.
  std::vector<std::uint8_t> short_id = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};
  EXPECT_EQ(debug_id_from_build_id(short_id), "efbeadde-0201-0403-0000-000000000000");
  EXPECT_EQ(debug_id_from_build_id({}), "");
}

TEST(Modules, SystemPathsAreNotInApp) {
  EXPECT_TRUE(is_system_module("/usr/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_TRUE(is_system_module("/lib/x86_64-linux-gnu/libm.so.6"));
  EXPECT_TRUE(is_system_module("/lib64/ld-linux-x86-64.so.2"));
  EXPECT_TRUE(is_system_module("linux-vdso.so.1"));
  EXPECT_FALSE(is_system_module("/opt/worker/lib/libkernels.so"));
  EXPECT_FALSE(is_system_module("/usr/local/lib/libapp.so"));
  EXPECT_FALSE(is_system_module("/usr/libfoo/x.so"));
}

TEST(Symbolizer, AModuleWhoseFileChangedKeepsOnlyModuleAndOffset) {
  auto modules = loaded_modules();
  modules.front().build_id[0] ^= 0xff;  // as if the binary had been replaced since
  auto addrs = capture_chain();
  Symbolizer symbolizer(modules);
  auto frames = symbolizer.symbolize(addrs);
  const Frame& newest = frames.back();
  EXPECT_EQ(newest.package, modules.front().path);
  EXPECT_EQ(newest.image_addr, modules.front().image_addr);
  EXPECT_TRUE(newest.function.empty()) << newest.function;
  EXPECT_TRUE(newest.filename.empty());
  EXPECT_TRUE(newest.in_app);
}

TEST(Symbolizer, AddressesOutsideEveryModuleStayBare) {
  Symbolizer symbolizer(loaded_modules());
  std::vector<std::uint64_t> addrs = {0x10, 0};
  auto frames = symbolizer.symbolize(addrs, true);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].instruction_addr, 0x10u);  // oldest first: the reverse order
  for (const Frame& f : frames) {
    EXPECT_TRUE(f.package.empty());
    EXPECT_TRUE(f.function.empty());
    EXPECT_FALSE(f.in_app);
  }
}

TEST(Demangle, TypesAndSymbols) {
  EXPECT_EQ(demangle("St13runtime_error"), "std::runtime_error");
  EXPECT_EQ(demangle("_ZN11stack_probe7chain_cEPmm"),
            "stack_probe::chain_c(unsigned long*, unsigned long)");
  EXPECT_EQ(demangle("main"), "main");
  EXPECT_EQ(demangle(""), "");
}

}  // namespace
}  // namespace emp::telemetry::errors
