// Files and directories the client creates are not world-readable: status
// files and spool files 0640, their directories 0750 (under umask 022).
#include "core/file_modes.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "client/health_json.hpp"
#include "deliver/spool.hpp"
#include "sinks/file_sink.hpp"
#include "sinks/otlp_file_destination.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class FileModes : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(022);
    dir_ = fs::temp_directory_path() / ("emp-modes-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    ::umask(old_umask_);
  }
  fs::path dir_;
  mode_t old_umask_ = 022;
};

TEST_F(FileModes, DirectoriesAreCreated0750) {
  std::error_code ec;
  ASSERT_TRUE(core::make_directories((dir_ / "a/b//c/").string(), ec)) << ec.message();
  EXPECT_EQ(mode_of(dir_), 0750u);
  EXPECT_EQ(mode_of(dir_ / "a/b/c"), 0750u);
  EXPECT_TRUE(core::make_directories((dir_ / "a").string(), ec));  // exists: fine
  fs::path file = dir_ / "file";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fclose(f);
  }
  EXPECT_FALSE(core::make_directories(file.string(), ec));
  EXPECT_TRUE(ec);
}

TEST_F(FileModes, StatusFilesAre0640) {
  const fs::path path = dir_ / "status" / "svc-1.json";
  ASSERT_TRUE(write_file_atomically(path.string(), "{}\n"));
  EXPECT_EQ(mode_of(path), 0640u);
  EXPECT_EQ(mode_of(path.parent_path()), 0750u);
}

TEST_F(FileModes, SpoolFilesAre0640) {
  auto spool = deliver::Spool::open((dir_ / "spool" / "traces").string(), {});
  ASSERT_TRUE(spool) << spool.errors().front().to_string();
  EXPECT_EQ(mode_of(dir_ / "spool"), 0750u);
  EXPECT_EQ(mode_of(dir_ / "spool" / "traces"), 0750u);
  for (const auto& e : fs::directory_iterator(dir_ / "spool" / "traces")) {
    if (e.is_regular_file()) {
      EXPECT_EQ(mode_of(e.path()) & 0007, 0u) << e.path();
    }
  }
}

TEST_F(FileModes, LogFilesAre0640InDirectories0750) {
  sinks::FileSink::Options o;
  o.path = (dir_ / "logs" / "svc" / "svc.log").string();
  o.max_bytes = 64;  // the second write rotates: the new file is created again
  sinks::FileSink sink(o);
  ASSERT_TRUE(sink.write(std::string(40, 'a') + "\n")) << sink.last_error();
  ASSERT_TRUE(sink.write(std::string(40, 'b') + "\n")) << sink.last_error();
  EXPECT_EQ(mode_of(o.path), 0640u);
  EXPECT_EQ(mode_of(o.path + ".1"), 0640u);
  EXPECT_EQ(mode_of(dir_ / "logs"), 0750u);
  EXPECT_EQ(mode_of(dir_ / "logs" / "svc"), 0750u);
}

// A local OTLP file that cannot be written loses its batch as io_error, the
// reason the log file's failures have, not as a refused payload.
TEST_F(FileModes, AnUnwritableOtlpFileIsAnIoErrorNotARejection) {
  fs::create_directories(dir_);
  {
    std::FILE* f = std::fopen((dir_ / "not-a-dir").c_str(), "w");
    std::fclose(f);
  }
  sinks::FileSink::Options o;
  o.path = (dir_ / "not-a-dir" / "traces.jsonl").string();
  sinks::OtlpFileDestination dest(o);
  deliver::Payload p;
  p.bytes = "{}";
  p.items = 3;
  auto r = dest.deliver(p, deliver::Deadline::none());
  EXPECT_EQ(r.outcome, deliver::Outcome::kPermanent);
  EXPECT_EQ(r.drop_reason, DropReason::kIoError);
  EXPECT_NE(r.message.find("not-a-dir"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace emp::telemetry
