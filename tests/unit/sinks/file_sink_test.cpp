// FileSink tests on real files in a private temporary directory: appends,
// rotation order and retention, error reporting (ENOSPC from /dev/full,
// ENOTDIR, EACCES when not root), recovery once the obstacle is gone, rotation
// failures that must not stop logging, and the torn-line repair after a short
// write (provoked with RLIMIT_FSIZE).
#include "sinks/file_sink.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace emp::telemetry::sinks {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "emp_file_sink_XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

mode_t current_umask() {
  const mode_t m = ::umask(0);
  ::umask(m);
  return m;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// A 30-byte line that says which one it is: "line-0007 ..................\n".
std::string numbered_line(int i) {
  char head[16];
  std::snprintf(head, sizeof head, "line-%04d ", i);
  std::string line = head;
  line.resize(29, '.');
  line.push_back('\n');
  return line;
}

std::string lines(int from, int to) {  // [from, to]
  std::string s;
  for (int i = from; i <= to; ++i) s += numbered_line(i);
  return s;
}

// Retries a write that is expected to succeed once a reopen is allowed; bounded
// by count and time.
bool write_eventually(FileSink& sink, const std::string& data) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (int i = 0; i < 1000 && std::chrono::steady_clock::now() < deadline; ++i) {
    if (sink.write(data)) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

TEST(FileSink, CreatesParentDirectoriesAndAppends) {
  TempDir dir;
  const std::string path = dir / "a/b/c/app.log";
  {
    FileSink sink({.path = path});
    EXPECT_FALSE(fs::exists(path)) << "opening is lazy";
    EXPECT_TRUE(sink.write("first\n"));
    EXPECT_TRUE(sink.write("second\nthird\n"));
    EXPECT_TRUE(sink.write(""));
    EXPECT_TRUE(sink.sync());
    // Readable by others as soon as write() returns.
    EXPECT_EQ(read_file(path), "first\nsecond\nthird\n");
    EXPECT_EQ(sink.path(), path);
    EXPECT_EQ(sink.last_errno(), 0);
    EXPECT_TRUE(sink.last_error().empty());
  }
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u & ~current_umask());  // core::kFileMode
  // A second sink appends instead of truncating.
  FileSink again({.path = path});
  EXPECT_TRUE(again.write("fourth\n"));
  EXPECT_EQ(read_file(path), "first\nsecond\nthird\nfourth\n");
}

TEST(FileSink, RotationKeepsExactlyMaxFilesNewestFirst) {
  TempDir dir;
  const std::string path = dir / "app.log";
  FileSink sink({.path = path, .max_bytes = 100, .max_files = 3});
  // Three 30-byte lines fit in 100 bytes, the fourth triggers a rotation.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sink.write(numbered_line(i))) << sink.last_error();
  EXPECT_EQ(sink.rotations(), 6u);
  EXPECT_EQ(read_file(path), lines(18, 19));
  EXPECT_EQ(read_file(path + ".1"), lines(15, 17));
  EXPECT_EQ(read_file(path + ".2"), lines(12, 14));
  EXPECT_EQ(read_file(path + ".3"), lines(9, 11));
  EXPECT_EQ(names_in(dir.path()),
            (std::set<std::string>{"app.log", "app.log.1", "app.log.2", "app.log.3"}));
  EXPECT_EQ(sink.rotation_failures(), 0u);
  EXPECT_TRUE(sink.take_warning().empty());
}

TEST(FileSink, ExistingFileSizeCountsTowardRotation) {
  TempDir dir;
  const std::string path = dir / "app.log";
  const std::string old_content = lines(100, 102);  // 90 bytes from an earlier run
  write_file(path, old_content);
  FileSink sink({.path = path, .max_bytes = 100, .max_files = 2});
  ASSERT_TRUE(sink.write(numbered_line(0)));
  EXPECT_EQ(sink.rotations(), 1u);
  EXPECT_EQ(read_file(path + ".1"), old_content);
  EXPECT_EQ(read_file(path), numbered_line(0));
}

TEST(FileSink, BatchLargerThanMaxBytesIsSplitAtLineEnds) {
  TempDir dir;
  const std::string path = dir / "app.log";
  FileSink sink({.path = path, .max_bytes = 45, .max_files = 5});
  const std::string big = lines(0, 2);  // 3 lines of 30 bytes: no file may hold two
  ASSERT_TRUE(sink.write(big));
  EXPECT_EQ(sink.rotations(), 2u);
  EXPECT_EQ(read_file(path + ".2"), numbered_line(0));
  EXPECT_EQ(read_file(path + ".1"), numbered_line(1));
  EXPECT_EQ(read_file(path), numbered_line(2));
}

TEST(FileSink, SingleLineLargerThanMaxBytesLandsWhole) {
  TempDir dir;
  const std::string path = dir / "app.log";
  FileSink sink({.path = path, .max_bytes = 20, .max_files = 1});
  ASSERT_TRUE(sink.write(numbered_line(0)));  // 30 bytes > 20: written whole
  EXPECT_EQ(sink.rotations(), 0u) << "an empty file is never rotated";
  EXPECT_EQ(read_file(path), numbered_line(0));
  ASSERT_TRUE(sink.write(numbered_line(9)));
  EXPECT_EQ(sink.rotations(), 1u);
  EXPECT_EQ(read_file(path + ".1"), numbered_line(0));
  EXPECT_EQ(read_file(path), numbered_line(9));
  EXPECT_EQ(names_in(dir.path()), (std::set<std::string>{"app.log", "app.log.1"}));
}

TEST(FileSink, MaxFilesZeroTruncatesInPlace) {
  TempDir dir;
  const std::string path = dir / "app.log";
  FileSink sink({.path = path, .max_bytes = 100, .max_files = 0});
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(sink.write(numbered_line(i)));
  EXPECT_EQ(sink.rotations(), 2u);
  EXPECT_EQ(read_file(path), numbered_line(6));
  EXPECT_EQ(names_in(dir.path()), (std::set<std::string>{"app.log"}));
}

TEST(FileSink, DiskFullIsReportedWithErrnoAndPath) {
  FileSink sink({.path = "/dev/full", .max_bytes = 0});
  EXPECT_FALSE(sink.write("cannot fit\n"));
  EXPECT_EQ(sink.last_errno(), ENOSPC);
  EXPECT_NE(sink.last_error().find("/dev/full"), std::string::npos) << sink.last_error();
  EXPECT_NE(sink.last_error().find(std::strerror(ENOSPC)), std::string::npos) << sink.last_error();
  // Still failing, still not crashing, still explained.
  EXPECT_FALSE(sink.write("again\n"));
  EXPECT_EQ(sink.last_errno(), ENOSPC);
  EXPECT_EQ(sink.rotations(), 0u);
}

TEST(FileSink, DeviceIsNeverRotated) {
  // /dev/null is not a regular file: renaming it would be wrong whatever max_bytes says.
  FileSink sink({.path = "/dev/null", .max_bytes = 1, .max_files = 2});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(sink.write(numbered_line(i)));
  EXPECT_EQ(sink.rotations(), 0u);
  EXPECT_TRUE(sink.sync());
  EXPECT_TRUE(fs::exists("/dev/null"));
  EXPECT_FALSE(fs::exists("/dev/null.1"));
}

TEST(FileSink, ParentIsARegularFileThenRecovers) {
  TempDir dir;
  const std::string blocker = dir / "blocker";
  write_file(blocker, "not a directory");
  const std::string path = blocker + "/sub/app.log";
  FileSink sink({.path = path, .reopen_interval = 1ms});
  EXPECT_FALSE(sink.write("lost\n"));
  EXPECT_EQ(sink.last_errno(), ENOTDIR);
  EXPECT_NE(sink.last_error().find(path), std::string::npos) << sink.last_error();
  EXPECT_NE(sink.last_error().find(std::strerror(ENOTDIR)), std::string::npos);

  ASSERT_TRUE(fs::remove(blocker));
  ASSERT_TRUE(write_eventually(sink, "back\n")) << sink.last_error();
  EXPECT_EQ(read_file(path), "back\n");
}

TEST(FileSink, ReopenIsThrottled) {
  TempDir dir;
  const std::string blocker = dir / "blocker";
  write_file(blocker, "x");
  FileSink sink({.path = blocker + "/app.log", .reopen_interval = std::chrono::hours(1)});
  EXPECT_FALSE(sink.write("a\n"));
  ASSERT_TRUE(fs::remove(blocker));
  // The obstacle is gone, but no new attempt is made before the interval.
  EXPECT_FALSE(sink.write("b\n"));
  EXPECT_EQ(sink.last_errno(), ENOTDIR);
  EXPECT_FALSE(fs::exists(blocker));
}

TEST(FileSink, PermissionDeniedThenRecovers) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir dir;
  const std::string locked = dir / "locked";
  ASSERT_TRUE(fs::create_directory(locked));
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  const std::string path = locked + "/app.log";
  FileSink sink({.path = path, .reopen_interval = 1ms});
  EXPECT_FALSE(sink.write("x\n"));
  EXPECT_EQ(sink.last_errno(), EACCES);
  EXPECT_NE(sink.last_error().find(path), std::string::npos);
  fs::permissions(locked, fs::perms::owner_all);
  ASSERT_TRUE(write_eventually(sink, "y\n")) << sink.last_error();
  EXPECT_EQ(read_file(path), "y\n");
}

TEST(FileSink, EmptyPathIsAnErrorNotACrash) {
  FileSink sink({.path = ""});
  EXPECT_FALSE(sink.write("x\n"));
  EXPECT_EQ(sink.last_errno(), EINVAL);
  EXPECT_FALSE(sink.last_error().empty());
}

TEST(FileSink, FailedRotationKeepsWritingAndReportsOnce) {
  TempDir dir;
  const std::string path = dir / "app.log";
  // A non-empty directory where app.log.1 should go: rename() must fail.
  ASSERT_TRUE(fs::create_directories(path + ".1/occupied"));
  FileSink sink({.path = path, .max_bytes = 50, .max_files = 1, .reopen_interval = 1ms});
  std::string expected;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(sink.write(numbered_line(i))) << "rotation trouble must not drop lines";
    expected += numbered_line(i);
    std::this_thread::sleep_for(2ms);  // let the retry interval pass
  }
  EXPECT_EQ(read_file(path), expected);
  EXPECT_EQ(sink.rotations(), 0u);
  EXPECT_GE(sink.rotation_failures(), 2u);
  const std::string warning = sink.take_warning();
  EXPECT_NE(warning.find(path), std::string::npos) << warning;
  EXPECT_TRUE(sink.take_warning().empty()) << "reported once per streak";

  // Once the obstacle is gone the next write rotates.
  fs::remove_all(path + ".1");
  std::this_thread::sleep_for(2ms);
  ASSERT_TRUE(sink.write(numbered_line(6)));
  EXPECT_EQ(sink.rotations(), 1u);
  EXPECT_EQ(read_file(path + ".1"), expected);
  EXPECT_EQ(read_file(path), numbered_line(6));
  EXPECT_TRUE(sink.take_warning().empty());
}

// Lowers RLIMIT_FSIZE for the scope so that write(2) stops short, as it would
// on a disk that fills up mid-write. SIGXFSZ is ignored so the write fails
// with EFBIG instead of killing the process.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ign, &saved_action_);
    struct rlimit lim = saved_;
    lim.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &lim) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::sigaction(SIGXFSZ, &saved_action_, nullptr);
  }
  bool ok() const { return ok_; }

 private:
  struct rlimit saved_ {};
  struct sigaction saved_action_ {};
  bool ok_ = false;
};

TEST(FileSink, LineCutByShortWriteIsTerminatedBeforeTheNextLine) {
  TempDir dir;
  const std::string path = dir / "app.log";
  FileSink sink({.path = path, .max_bytes = 0, .reopen_interval = 1ms});
  const std::string first = numbered_line(1);   // 30 bytes
  const std::string second = numbered_line(2);  // 30 bytes, cut after 10
  {
    FileSizeLimit limit(40);
    ASSERT_TRUE(limit.ok());
    ASSERT_TRUE(sink.write(first));
    EXPECT_FALSE(sink.write(second));
    EXPECT_EQ(sink.last_errno(), EFBIG);
  }
  ASSERT_TRUE(write_eventually(sink, numbered_line(3)));
  const std::string content = read_file(path);
  EXPECT_EQ(content, first + second.substr(0, 10) + "\n" + numbered_line(3));
  // Every line in the file is either whole or the lone cut one.
  std::istringstream in(content);
  std::vector<std::string> got;
  for (std::string l; std::getline(in, l);) got.push_back(l);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2] + "\n", numbered_line(3));
}

TEST(FileSink, WriteLineAddsTheNewline) {
  TempDir dir;
  const std::string path = dir / "app.log";
  FileSink sink({.path = path, .max_bytes = 0});
  ASSERT_TRUE(sink.write_line("{\"a\":1}"));
  ASSERT_TRUE(sink.write_line(""));
  ASSERT_TRUE(sink.write(numbered_line(1)));
  EXPECT_EQ(read_file(path), "{\"a\":1}\n\n" + numbered_line(1));
}

// A line written as body and newline can stop short inside the body or right
// before its newline; either way the next line starts on a line of its own.
TEST(FileSink, WriteLineCutShortIsTerminatedBeforeTheNextLine) {
  for (const rlim_t limit_bytes : {40u, 59u}) {  // 10 bytes of the body; all 29 but the newline
    TempDir dir;
    const std::string path = dir / "app.log";
    FileSink sink({.path = path, .max_bytes = 0, .reopen_interval = 1ms});
    const std::string first = numbered_line(1);  // 30 bytes
    const std::string body = numbered_line(2).substr(0, 29);
    {
      FileSizeLimit limit(limit_bytes);
      ASSERT_TRUE(limit.ok());
      ASSERT_TRUE(sink.write(first));
      EXPECT_FALSE(sink.write_line(body));
      EXPECT_EQ(sink.last_errno(), EFBIG);
    }
    ASSERT_TRUE(write_eventually(sink, numbered_line(3)));
    EXPECT_EQ(read_file(path), first + body.substr(0, limit_bytes - 30) + "\n" + numbered_line(3))
        << "limit " << limit_bytes;
  }
}

TEST(FileSink, CutLineIsTerminatedInTheRotatedFile) {
  TempDir dir;
  const std::string path = dir / "app.log";
  FileSink sink({.path = path, .max_bytes = 64, .max_files = 2, .reopen_interval = 1ms});
  {
    FileSizeLimit limit(40);
    ASSERT_TRUE(limit.ok());
    ASSERT_TRUE(sink.write(numbered_line(1)));
    EXPECT_FALSE(sink.write(numbered_line(2)));
  }
  // 40 bytes in the file: the next 30-byte line (plus the repair) rotates; the cut line is
  // closed in app.log.1 and the new file starts clean.
  ASSERT_TRUE(write_eventually(sink, numbered_line(3)));
  EXPECT_EQ(sink.rotations(), 1u);
  EXPECT_EQ(read_file(path + ".1"), numbered_line(1) + numbered_line(2).substr(0, 10) + "\n");
  EXPECT_EQ(read_file(path), numbered_line(3));
}

}  // namespace
}  // namespace emp::telemetry::sinks

namespace emp::telemetry::sinks {
namespace {

// Daemons often close every inherited descriptor after fork(): the sink must
// notice (EBADF) and open its file again instead of dropping lines.
TEST(FileSink, DescriptorClosedBehindItsBackIsReopened) {
  TempDir dir;
  const std::string path = dir / "app.log";
  FileSink sink({.path = path});
  ASSERT_TRUE(sink.write(numbered_line(0)));
  int closed = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = fs::read_symlink(e.path(), ec);
    if (!ec && target == fs::path(path)) {
      ::close(std::stoi(e.path().filename().string()));
      ++closed;
    }
  }
  ASSERT_EQ(closed, 1);
  ASSERT_TRUE(sink.write(numbered_line(1))) << sink.last_error();
  EXPECT_EQ(read_file(path), lines(0, 1));
}

}  // namespace
}  // namespace emp::telemetry::sinks
