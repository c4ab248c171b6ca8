// Crash capture end to end: a child process (the CLI's `crash` command, or
// crash_helper) installs the handler and crashes; it must die by the same
// signal it would have died by without us, and this process (a second one)
// must read exactly one intact crash record from the directory with the
// right signal, the crashing function in its symbolized stack, the module
// list, and the registered context.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "errors/crash_record.hpp"
#include "errors/crash_report.hpp"

namespace emp::telemetry::errors {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path bin_dir() {
  const char* b = std::getenv("EMP_TEST_BIN");
  return b != nullptr ? fs::path(b) / "bin" : fs::path("bin");
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/emp_crash_test_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Runs argv in a child (no core dump, stdio to /dev/null) and returns its
// wait status; kills it after 60 s so a hang fails instead of stalling.
int run_child(const std::vector<std::string>& args) {
  pid_t pid = ::fork();
  if (pid == 0) {
    rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::freopen("/dev/null", "w", stdout);
    ::freopen("/dev/null", "w", stderr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << args[0] << " " << args[1] << " hung";
      return status;
    }
    std::this_thread::sleep_for(5ms);
  }
  return status;
}

bool has_function(const std::vector<Frame>& frames, const std::string& name) {
  for (const Frame& f : frames) {
    if (f.function.find(name) != std::string::npos) return true;
  }
  return false;
}

std::string describe(const std::vector<Frame>& frames) {
  std::string out;
  for (const Frame& f : frames) out += "  " + f.function + " [" + f.package + "]\n";
  return out;
}

// Exactly one record and nothing damaged in `dir`.
CrashRecord only_record(const fs::path& dir) {
  auto result = read_crash_records(dir.string());
  for (const auto& d : result.damaged) ADD_FAILURE() << d.file << ": " << d.reason;
  EXPECT_EQ(result.records.size(), 1u);
  return result.records.empty() ? CrashRecord{} : result.records.front();
}

struct CliCase {
  std::string option;
  int signal;
  std::string function;
};

class CliCrash : public ::testing::TestWithParam<CliCase> {};

TEST_P(CliCrash, DiesByTheSignalAndLeavesOneRecordWithTheCrashingStack) {
  const CliCase& c = GetParam();
  TempDir dir;
  const std::string cli = (bin_dir() / "emp-telemetry").string();
  const int status = run_child({cli, "crash", "--signal", c.option, "--dir", dir.path.string()});
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), c.signal);

  const CrashRecord r = only_record(dir.path);
  ASSERT_FALSE(r.file.empty());
  const bool terminate = c.option == "terminate";
  EXPECT_EQ(r.kind, terminate ? CrashKind::kTerminate : CrashKind::kSignal);
  EXPECT_EQ(r.signal, terminate ? 0 : c.signal);
  EXPECT_EQ(r.signal_name, terminate ? "terminate" : std::string(crash_signal_name(c.signal)));
  EXPECT_EQ(r.pid, r.tid);  // the main thread crashed
  EXPECT_GT(r.time_sec, 1600000000);
  ASSERT_FALSE(r.modules.empty());
  EXPECT_EQ(fs::canonical(r.modules.front().path), fs::canonical(cli));
  ASSERT_EQ(r.contexts.size(), 1u);
  EXPECT_EQ(r.contexts[0], R"({"command":"crash","signal":")" + c.option + R"("})");

  const CrashEventData event = crash_event_data(r);
  EXPECT_TRUE(has_function(event.frames, c.function)) << describe(event.frames);
  EXPECT_TRUE(has_function(event.frames, "emp::telemetry::cli::run_crash"))
      << describe(event.frames);
  // Oldest first: main, then run_crash, then the crashing function.
  std::ptrdiff_t main_at = -1, run_at = -1, crash_at = -1;
  for (std::size_t i = 0; i < event.frames.size(); ++i) {
    const std::string& fn = event.frames[i].function;
    if (fn == "main" && main_at < 0) main_at = static_cast<std::ptrdiff_t>(i);
    if (fn.find("run_crash") != std::string::npos && run_at < 0)
      run_at = static_cast<std::ptrdiff_t>(i);
    if (fn.find(c.function) != std::string::npos && crash_at < 0)
      crash_at = static_cast<std::ptrdiff_t>(i);
  }
  EXPECT_GE(main_at, 0) << describe(event.frames);
  EXPECT_LT(main_at, run_at);
  EXPECT_LT(run_at, crash_at);
  EXPECT_TRUE(event.frames[static_cast<std::size_t>(crash_at)].in_app);
  const nlohmann::json json = sentry_crash_event_json(event);
  EXPECT_EQ(json["level"], "fatal");
  const auto& exc = json["exception"]["values"][0];
  EXPECT_EQ(exc["mechanism"]["handled"], false);
  EXPECT_FALSE(exc["stacktrace"]["frames"].empty());
  EXPECT_EQ(json["debug_meta"]["images"][0]["code_file"], r.modules.front().path);
  if (c.option == "SEGV") {
    EXPECT_EQ(r.si_code, SEGV_MAPERR);
    EXPECT_EQ(r.fault_address, 16u);
    EXPECT_EQ(exc["value"], "Segmentation fault (SEGV_MAPERR: address not mapped) at 0x10");
    // The first frame is the faulting instruction in the crashing function.
    EXPECT_NE(event.frames.back().function.find("deliberate_segv"), std::string::npos);
    EXPECT_NE(event.frames.back().filename.find("crash_command.cpp"), std::string::npos);
    EXPECT_GT(event.frames.back().lineno, 0u);
  }
  if (c.option == "FPE") {
    EXPECT_EQ(r.si_code, FPE_INTDIV);
  }
  if (c.option == "BUS") {
    EXPECT_EQ(r.si_code, BUS_ADRERR);
  }
  if (c.option == "ABRT") {
    EXPECT_EQ(r.fault_address, 0u);
    EXPECT_TRUE(has_function(event.frames, "abort")) << describe(event.frames);
  }
  if (terminate) {
    EXPECT_EQ(r.exception_type, "std::runtime_error");
    EXPECT_EQ(r.exception_what, "emp-telemetry crash: deliberate uncaught exception");
    EXPECT_EQ(exc["type"], "std::runtime_error");
    EXPECT_EQ(exc["mechanism"]["type"], "terminate");
    // libstdc++ ships without .symtab and without a debug file in Debian:
    // the name comes from its dynamic symbol table, and there is no line.
    bool cxa_throw = false;
    for (const Frame& f : event.frames) {
      if (f.function == "__cxa_throw") {
        cxa_throw = true;
        EXPECT_NE(f.package.find("libstdc++"), std::string::npos);
        EXPECT_FALSE(f.in_app);
      }
    }
    EXPECT_TRUE(cxa_throw) << describe(event.frames);
  }
}

INSTANTIATE_TEST_SUITE_P(EverySignal, CliCrash,
                         ::testing::Values(CliCase{"SEGV", SIGSEGV, "deliberate_segv"},
                                           CliCase{"BUS", SIGBUS, "deliberate_bus"},
                                           CliCase{"ILL", SIGILL, "deliberate_ill"},
                                           CliCase{"FPE", SIGFPE, "deliberate_fpe"},
                                           CliCase{"ABRT", SIGABRT, "deliberate_abort"},
                                           CliCase{"terminate", SIGABRT, "deliberate_terminate"}),
                         [](const auto& info) { return info.param.option; });

std::string helper() { return (bin_dir() / "crash_helper").string(); }

TEST(CrashHandler, ChainsToThePreviousHandler) {
  TempDir dir;
  const fs::path marker = dir.path / "marker";
  fs::create_directories(dir.path / "records");
  const int status =
      run_child({helper(), "chain", (dir.path / "records").string(), marker.string()});
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  std::ifstream in(marker);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "previous handler ran");
  const CrashRecord r = only_record(dir.path / "records");
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_EQ(r.fault_address, 24u);
  EXPECT_TRUE(has_function(crash_event_data(r).frames, "helper_fault"));
}

TEST(CrashHandler, CatchesAStackOverflow) {
  TempDir dir;
  const int status = run_child({helper(), "overflow", dir.path.string()});
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  const CrashRecord r = only_record(dir.path);
  EXPECT_EQ(r.signal, SIGSEGV);
  // The newest frames are the runaway recursion, as deep as a record holds.
  EXPECT_EQ(r.frames.size(), kMaxCrashFrames);
  const auto frames = crash_event_data(r).frames;
  ASSERT_FALSE(frames.empty());
  EXPECT_NE(frames.back().function.find("helper_recurse"), std::string::npos) << describe(frames);
  EXPECT_NE(frames.front().function.find("helper_recurse"), std::string::npos);
}

TEST(CrashHandler, RecordsTheCrashingThread) {
  TempDir dir;
  const int status = run_child({helper(), "thread", dir.path.string()});
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  const CrashRecord r = only_record(dir.path);
  EXPECT_NE(r.tid, r.pid);
  EXPECT_EQ(r.thread_name, "emp-crasher");
  EXPECT_TRUE(has_function(crash_event_data(r).frames, "helper_fault"));
}

TEST(CrashHandler, OneRecordPerDirectoryWithEachDistinctContext) {
  TempDir a, b;
  const int status = run_child({helper(), "several", a.path.string(), b.path.string()});
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGABRT);
  const CrashRecord ra = only_record(a.path);
  EXPECT_EQ(ra.contexts, (std::vector<std::string>{"context one", "context two"}));
  EXPECT_EQ(ra.signal, SIGABRT);
  const CrashRecord rb = only_record(b.path);
  EXPECT_EQ(rb.contexts, (std::vector<std::string>{"context three"}));
  EXPECT_EQ(ra.frames, rb.frames);
}

TEST(CrashHandler, UninstalledLeavesNoRecordAndTheDefaultAction) {
  TempDir dir;
  const int status = run_child({helper(), "uninstalled", dir.path.string()});
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  auto result = read_crash_records(dir.path.string());
  EXPECT_TRUE(result.records.empty());
  EXPECT_TRUE(result.damaged.empty());
}

TEST(CrashHandler, StrippedExecutableStillGivesModuleOffsetsAndLibraryNames) {
  TempDir dir;
  const fs::path stripped = dir.path / "emp-telemetry-stripped";
  fs::copy_file(bin_dir() / "emp-telemetry", stripped);
  ASSERT_EQ(std::system(("strip --strip-all '" + stripped.string() + "'").c_str()), 0);
  const fs::path records = dir.path / "records";
  const int status =
      run_child({stripped.string(), "crash", "--signal", "ABRT", "--dir", records.string()});
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGABRT);
  const CrashRecord r = only_record(records);
  const auto frames = crash_event_data(r).frames;
  bool exe_frame = false;
  for (const Frame& f : frames) {
    if (f.package == stripped.string()) {
      exe_frame = true;
      EXPECT_TRUE(f.filename.empty());
      EXPECT_GE(f.instruction_addr, f.image_addr);
      EXPECT_TRUE(f.in_app);
    }
  }
  EXPECT_TRUE(exe_frame) << describe(frames);
  EXPECT_TRUE(has_function(frames, "abort")) << describe(frames);
}

}  // namespace
}  // namespace emp::telemetry::errors
