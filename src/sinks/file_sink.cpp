// FileSink: append-only log file with size-based rotation. See file_sink.hpp
// for the contract; this file keeps the POSIX details (O_APPEND so that other
// writers and `tail` readers see whole appends, writev(2) loops for EINTR and
// short writes, renames for rotation).
#include "sinks/file_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "core/file_modes.hpp"

namespace emp::telemetry::sinks {
namespace {

// A larger max_files would make one rotation a long loop of renames.
constexpr std::uint32_t kMaxRotatedFiles = 1000;

// strerror_r has a GNU (char*) and a POSIX (int) flavour; accept either.
[[maybe_unused]] const char* pick_error_text(int rc, const char* buf) {
  return rc == 0 ? buf : "unknown error";
}
[[maybe_unused]] const char* pick_error_text(const char* text, const char*) { return text; }

std::string errno_text(int err) {
  char buf[256];
  buf[0] = '\0';
  return pick_error_text(strerror_r(err, buf, sizeof buf), buf);
}

int open_append(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, core::kFileMode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

}  // namespace

FileSink::FileSink(Options options) : options_(std::move(options)) {}

FileSink::~FileSink() { close_file(); }

void FileSink::close_file() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);  // close(2) on EINTR must not be retried on Linux
    fd_ = -1;
  }
}

void FileSink::set_error(const char* what, const std::string& where, int err) {
  last_errno_ = err;
  last_error_.assign(what);
  last_error_.append(": ");
  last_error_.append(where);
  last_error_.append(": ");
  last_error_.append(errno_text(err));
}

std::string FileSink::take_warning() { return std::exchange(warning_, std::string()); }

bool FileSink::open_file() {
  const std::string& path = options_.path;
  if (path.empty()) {
    last_errno_ = EINVAL;
    last_error_ = "open log file: the path is empty";
    return false;
  }
  int fd = open_append(path);
  if (fd < 0 && errno == ENOENT) {
    // mkdir -p of the parent, then try once more.
    const std::size_t slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {
      const std::string dir = path.substr(0, slash);
      std::error_code ec;
      if (!core::make_directories(dir, ec)) {
        set_error("create log directory", dir, ec.value() ? ec.value() : ENOTDIR);
        return false;
      }
    }
    fd = open_append(path);
  }
  if (fd < 0) {
    set_error("open log file", path, errno);
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    set_error("stat log file", path, errno);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  regular_file_ = S_ISREG(st.st_mode);
  size_ = regular_file_ ? static_cast<std::uint64_t>(st.st_size) : 0;
  if (regular_file_ && size_ == 0) torn_line_ = false;  // a new file has no cut line
  return true;
}

bool FileSink::ensure_open() {
  if (fd_ >= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_open_attempt_) return false;  // last_error_ still says why
  if (open_file()) return true;
  next_open_attempt_ = now + options_.reopen_interval;
  return false;
}

bool FileSink::write_all(std::string_view head, std::string_view tail) {
  const std::size_t n = head.size() + tail.size();
  auto byte_at = [&](std::size_t i) { return i < head.size() ? head[i] : tail[i - head.size()]; };
  std::size_t done = 0;
  bool reopened_after_ebadf = false;
  while (done < n) {
    iovec v[2];
    int count = 0;
    if (done < head.size()) {
      v[count++] = {const_cast<char*>(head.data() + done), head.size() - done};
      if (!tail.empty()) v[count++] = {const_cast<char*>(tail.data()), tail.size()};
    } else {
      const std::size_t off = done - head.size();
      v[count++] = {const_cast<char*>(tail.data() + off), tail.size() - off};
    }
    const ssize_t w = ::writev(fd_, v, count);
    if (w > 0) {
      done += static_cast<std::size_t>(w);
      size_ += static_cast<std::uint64_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EBADF && !reopened_after_ebadf) {
      // Our descriptor was closed behind our back (a forked child that
      // closes every inherited descriptor, say): open the file again once.
      reopened_after_ebadf = true;
      fd_ = -1;  // not ours any more: never close() a number someone may reuse
      if (open_file()) continue;
    }
    const int err = w < 0 ? errno : EIO;  // 0 bytes for a non-empty write: no progress possible
    if (done > 0) torn_line_ = byte_at(done - 1) != '\n';
    set_error("write log file", options_.path, err);
    // Reopen later: the file may have been removed or its disk replaced.
    close_file();
    next_open_attempt_ = std::chrono::steady_clock::now() + options_.reopen_interval;
    return false;
  }
  torn_line_ = false;
  return true;
}

bool FileSink::rotate() {
  const std::string& path = options_.path;
  auto fail = [&] {
    ++rotation_failures_;
    if (!rotation_failing_) {
      rotation_failing_ = true;
      warning_ = last_error_;
    }
    next_rotate_attempt_ = std::chrono::steady_clock::now() + options_.reopen_interval;
    return false;
  };

  if (options_.max_files == 0) {
    if (::ftruncate(fd_, 0) != 0) {
      set_error("truncate log file", path, errno);
      return fail();
    }
    size_ = 0;
    torn_line_ = false;
    ++rotations_;
    rotation_failing_ = false;
    return true;
  }

  // A cut line stays in the rotated file; end it there (best effort).
  if (torn_line_ && ::write(fd_, "\n", 1) == 1) {
    torn_line_ = false;
    ++size_;
  }

  const std::uint32_t keep = std::min(options_.max_files, kMaxRotatedFiles);
  std::string from;
  std::string to;
  for (std::uint32_t i = keep - 1; i >= 1; --i) {
    from = path + "." + std::to_string(i);
    to = path + "." + std::to_string(i + 1);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      set_error("rotate log file", from + " -> " + to, errno);
      return fail();
    }
  }
  to = path + ".1";
  // ENOENT: the file was moved away by someone else; starting a new one is
  // all that is left to do.
  if (::rename(path.c_str(), to.c_str()) != 0 && errno != ENOENT) {
    set_error("rotate log file", path + " -> " + to, errno);
    return fail();
  }

  const int old_fd = fd_;
  const std::uint64_t old_size = size_;
  const bool old_torn = torn_line_;
  fd_ = -1;
  if (!open_file()) {
    // Keep appending to the renamed file rather than losing lines.
    fd_ = old_fd;
    size_ = old_size;
    torn_line_ = old_torn;
    regular_file_ = true;
    return fail();
  }
  ::close(old_fd);
  torn_line_ = false;
  ++rotations_;
  rotation_failing_ = false;
  return true;
}

bool FileSink::write(std::string_view lines) {
  if (lines.empty()) return true;
  if (options_.max_bytes == 0 || lines.size() <= options_.max_bytes) return write_chunk(lines);
  if (!ensure_open()) return false;  // so the room left is measured against the real size
  // A batch larger than one file: split at line ends so that rotation still
  // bounds every file (a single line longer than max_bytes stays whole).
  while (!lines.empty()) {
    std::size_t room = options_.max_bytes > size_ ? options_.max_bytes - size_ : 0;
    std::size_t cut = 0;
    if (room > 0 && room < lines.size()) {
      std::size_t nl = lines.rfind('\n', room - 1);
      if (nl != std::string_view::npos) cut = nl + 1;
    }
    if (cut == 0) {
      // Nothing fits in what is left of this file: take up to one file's worth.
      std::size_t limit = std::min<std::size_t>(lines.size(), options_.max_bytes);
      std::size_t nl = lines.rfind('\n', limit - 1);
      if (nl != std::string_view::npos) {
        cut = nl + 1;
      } else {
        std::size_t first = lines.find('\n');
        cut = first == std::string_view::npos ? lines.size() : first + 1;
      }
    }
    if (!write_chunk(lines.substr(0, cut))) return false;
    lines.remove_prefix(cut);
  }
  return true;
}

bool FileSink::write_line(std::string_view body) {
  // One line is never split (write() keeps a line longer than max_bytes
  // whole too), so it goes out as one chunk.
  return write_chunk(body, "\n");
}

bool FileSink::write_chunk(std::string_view lines, std::string_view tail) {
  if (!ensure_open()) return false;
  const std::uint64_t incoming = lines.size() + tail.size() + (torn_line_ ? 1 : 0);
  if (options_.max_bytes > 0 && regular_file_ && size_ > 0 &&
      size_ + incoming > options_.max_bytes &&
      std::chrono::steady_clock::now() >= next_rotate_attempt_) {
    rotate();  // on failure the current file stays open and takes the lines
  }
  if (torn_line_) {
    if (!write_all("\n")) return false;
  }
  return write_all(lines, tail);
}

bool FileSink::sync() {
  if (fd_ < 0) return true;
  if (::fsync(fd_) != 0) {
    const int err = errno;
    if (err == EINVAL || err == EROFS) return true;  // devices and pipes have nothing to sync
    set_error("sync log file", options_.path, err);
    return false;
  }
  return true;
}

}  // namespace emp::telemetry::sinks
