// The crash record file: written with the async-signal-safe writer, read back
// field for field; every truncation and many corruptions of a real record are
// reported as damaged (never a crash, never a wrong record); the directory
// reader reports leftovers and removes nothing until told.
#include "errors/crash_record.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace emp::telemetry::errors {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/emp_crash_record_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// A record as the crash handler writes one.
fs::path write_sample(const fs::path& dir, const std::string& name, std::int64_t sec = 1700000000) {
  const fs::path path = dir / name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  EXPECT_GE(fd, 0);
  CrashFileWriter w(fd);
  w.header();
  CrashInfoWire info{};
  info.kind = static_cast<std::uint32_t>(CrashKind::kSignal);
  info.signal = SIGSEGV;
  info.si_code = SEGV_MAPERR;
  info.pid = 4242;
  info.tid = 4243;
  info.fault_address = 0x10;
  info.time_sec = sec;
  info.time_nsec = 123456789;
  w.section(CrashSection::kInfo, &info, sizeof info);
  w.section(CrashSection::kSignalName, "SIGSEGV", 7);
  w.section(CrashSection::kThreadName, "gpu-worker", 10);
  const std::uint64_t frames[3] = {0x401000, 0x401234, 0x7f0000001000};
  w.section(CrashSection::kFrames, frames, sizeof frames);
  char modules[512];
  const std::uint8_t id[4] = {1, 2, 3, 4};
  std::size_t used = append_module_section(modules, 0, sizeof modules, 0, 0x400000, 0x2000, id, 4,
                                           "/opt/app/bin/worker");
  used = append_module_section(modules, used, sizeof modules, 0x7f0000000000, 0x7f0000000000,
                               0x10000, nullptr, 0, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  w.raw(modules, used);
  w.section(CrashSection::kContext, R"({"trace_id":"abc"})", 18);
  w.section(static_cast<CrashSection>(99), "future", 6);  // a later version's section
  w.end();
  EXPECT_TRUE(w.ok());
  ::close(fd);
  return path;
}

TEST(CrashRecord, RoundTripsEveryField) {
  TempDir dir;
  auto path = write_sample(dir.path, "crash-1.emcr");
  auto parsed = parse_crash_record(read_file(path));
  ASSERT_TRUE(parsed) << parsed.errors().front().to_string();
  const CrashRecord& r = *parsed;
  EXPECT_EQ(r.kind, CrashKind::kSignal);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_EQ(r.signal_name, "SIGSEGV");
  EXPECT_EQ(r.si_code, SEGV_MAPERR);
  EXPECT_EQ(r.fault_address, 0x10u);
  EXPECT_EQ(r.pid, 4242);
  EXPECT_EQ(r.tid, 4243);
  EXPECT_EQ(r.thread_name, "gpu-worker");
  EXPECT_EQ(r.time_sec, 1700000000);
  EXPECT_EQ(r.time_nsec, 123456789);
  EXPECT_EQ(r.frames, (std::vector<std::uint64_t>{0x401000, 0x401234, 0x7f0000001000}));
  ASSERT_EQ(r.modules.size(), 2u);
  EXPECT_EQ(r.modules[0].path, "/opt/app/bin/worker");
  EXPECT_EQ(r.modules[0].image_addr, 0x400000u);
  EXPECT_EQ(r.modules[0].image_size, 0x2000u);
  EXPECT_EQ(r.modules[0].build_id, (std::vector<std::uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.modules[1].load_bias, 0x7f0000000000u);
  EXPECT_TRUE(r.modules[1].build_id.empty());
  ASSERT_EQ(r.contexts.size(), 1u);
  EXPECT_EQ(r.contexts[0], R"({"trace_id":"abc"})");
}

TEST(CrashRecord, CrcIsTheStandardCrc32) {
  const std::string text = "123456789";
  EXPECT_EQ(crc32_update(0, text.data(), text.size()), 0xcbf43926u);
  // Incremental and one-shot agree, and agree with zlib.
  std::uint32_t inc = crc32_update(crc32_update(0, "1234", 4), "56789", 5);
  EXPECT_EQ(inc, ::crc32(0, reinterpret_cast<const Bytef*>(text.data()), 9));
}

TEST(CrashRecord, EveryTruncationIsReportedNotTrusted) {
  TempDir dir;
  const std::string bytes = read_file(write_sample(dir.path, "crash-1.emcr"));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto parsed = parse_crash_record(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(parsed) << "prefix of " << n << " bytes accepted";
  }
  auto extra = parse_crash_record(bytes + "x");
  ASSERT_FALSE(extra);
}

TEST(CrashRecord, CorruptedBytesAreReported) {
  TempDir dir;
  const std::string bytes = read_file(write_sample(dir.path, "crash-1.emcr"));
  // Flipping any single byte is caught: by a length check, or by the CRC.
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    EXPECT_FALSE(parse_crash_record(damaged)) << "byte " << i << " flipped and still accepted";
  }
  // Random garbage after a valid header never crashes the parser.
  std::mt19937 rng(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string junk = bytes.substr(0, 16);
    const std::size_t len = rng() % 512;
    for (std::size_t k = 0; k < len; ++k) junk.push_back(static_cast<char>(rng()));
    (void)parse_crash_record(junk);
  }
}

TEST(CrashRecord, ErrorsSayWhatIsWrong) {
  auto not_ours = parse_crash_record("hello world, this is not a crash record");
  ASSERT_FALSE(not_ours);
  EXPECT_NE(not_ours.errors().front().message.find("bad magic"), std::string::npos);
  TempDir dir;
  std::string bytes = read_file(write_sample(dir.path, "crash-1.emcr"));
  // A section that claims more bytes than remain.
  std::string huge = bytes;
  const std::uint32_t big = 0x7fffffff;
  std::memcpy(huge.data() + 16 + 4, &big, 4);
  auto parsed = parse_crash_record(huge);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.errors().front().message.find("claims 2147483647 bytes"), std::string::npos)
      << parsed.errors().front().message;
  std::string version = bytes;
  version[8] = 9;
  auto v = parse_crash_record(version);
  ASSERT_FALSE(v);
  EXPECT_NE(v.errors().front().message.find("version 9"), std::string::npos);
}

TEST(CrashReader, ReadsRecordsOldestFirstAndReportsDamagedFiles) {
  TempDir dir;
  write_sample(dir.path, "crash-b.emcr", 1700000200);
  write_sample(dir.path, "crash-a.emcr", 1700000100);
  std::string bytes = read_file(dir.path / "crash-a.emcr");
  write_file(dir.path / "crash-c.emcr", bytes.substr(0, bytes.size() / 2));
  write_file(dir.path / "crash-d.emcr.tmp", bytes.substr(0, 40));
  write_file(dir.path / "unrelated.txt", "not a record");

  auto result = read_crash_records(dir.path.string());
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[0].time_sec, 1700000100);
  EXPECT_EQ(result.records[1].time_sec, 1700000200);
  EXPECT_EQ(result.records[0].file, (dir.path / "crash-a.emcr").string());
  ASSERT_EQ(result.damaged.size(), 2u);
  EXPECT_EQ(result.damaged[0].file, (dir.path / "crash-c.emcr").string());
  EXPECT_NE(result.damaged[0].reason.find("truncated"), std::string::npos)
      << result.damaged[0].reason;
  EXPECT_EQ(result.damaged[1].file, (dir.path / "crash-d.emcr.tmp").string());
  EXPECT_NE(result.damaged[1].reason.find("incomplete"), std::string::npos);

  // Reading removes nothing; confirming delivery removes the one record.
  EXPECT_EQ(read_crash_records(dir.path.string()).records.size(), 2u);
  EXPECT_TRUE(remove_crash_record(result.records[0]));
  EXPECT_FALSE(fs::exists(dir.path / "crash-a.emcr"));
  EXPECT_TRUE(remove_crash_record(result.records[0]));  // already gone counts as removed
  // Damaged files set aside are not reported again, and stay on disk.
  for (const auto& d : result.damaged) EXPECT_TRUE(set_aside_damaged(d));
  EXPECT_TRUE(fs::exists(dir.path / "crash-c.emcr.damaged"));
  EXPECT_TRUE(fs::exists(dir.path / "crash-d.emcr.damaged"));
  auto again = read_crash_records(dir.path.string());
  EXPECT_EQ(again.records.size(), 1u);
  EXPECT_TRUE(again.damaged.empty());
  EXPECT_TRUE(fs::exists(dir.path / "unrelated.txt"));
}

TEST(CrashReader, MissingDirectoryReadsAsEmpty) {
  auto result = read_crash_records("/nonexistent/emp/crash/dir");
  EXPECT_TRUE(result.records.empty());
  EXPECT_TRUE(result.damaged.empty());
}

TEST(CrashRecord, ModuleSectionsThatDoNotFitAreLeftOut) {
  char buf[64];
  const std::uint8_t id[20] = {};
  std::size_t used = append_module_section(buf, 0, sizeof buf, 0, 0x1000, 0x1000, id, 20,
                                           "/a/rather/long/path/to/a/library/libx.so");
  EXPECT_EQ(used, 0u);
  used = append_module_section(buf, 0, sizeof buf, 0, 0x1000, 0x1000, id, 4, "/l.so");
  EXPECT_EQ(used, 8u + 32u + 4u + 5u);
}

}  // namespace
}  // namespace emp::telemetry::errors
