// A log file with size-based rotation, written only by the background thread.
// Rotation renames `path` -> `path.1` -> ... -> `path.N` (the oldest beyond N is
// removed), the scheme Fluent Bit's tail input follows with `Rotate_Wait`.
//
// Errors never throw: write() returns false and last_error() says why
// (errno text and path). After an error the sink retries opening on the next
// write no more often than every `reopen_interval`, so a directory that comes
// back (permissions fixed, disk freed) resumes without a restart.
//
// A failed rotation (e.g. a rename refused) never stops logging: lines keep
// going to the current file, the failure is reported once through
// take_warning(), and rotation is retried no more often than reopen_interval.
// max_files == 0 rotates by truncating the file in place.
//
// Not thread-safe: one thread (the background writer) owns a FileSink.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace emp::telemetry::sinks {

class FileSink {
 public:
  struct Options {
    std::string path;                       // file to append to; parent dirs are created
    std::uint64_t max_bytes = 64ull << 20;  // rotate before a write would exceed this (0 = never)
    std::uint32_t max_files = 5;            // rotated files kept (path.1 .. path.N), at most 1000
    std::chrono::milliseconds reopen_interval{1000};
  };

  explicit FileSink(Options options);
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  // Appends whole lines. Returns true when all bytes reached the file (the
  // kernel's page cache: readable by other processes). On false nothing is
  // retried internally; the caller counts the records as dropped (io_error).
  // A line cut by a failed partial write is terminated with '\n' before the
  // next successful write so that no later line is glued to it.
  bool write(std::string_view lines);
  // Appends `body` and a '\n' as one line (body holds no '\n' of its own),
  // without copying the body to add the newline.
  bool write_line(std::string_view body);

  // fsync; returns false on error.
  bool sync();

  const std::string& path() const noexcept { return options_.path; }
  const std::string& last_error() const noexcept { return last_error_; }
  int last_errno() const noexcept { return last_errno_; }
  std::uint64_t rotations() const noexcept { return rotations_; }
  std::uint64_t rotation_failures() const noexcept { return rotation_failures_; }

  // The message of the first rotation failure since the last successful
  // rotation, once; empty when there is nothing new to report.
  std::string take_warning();

 private:
  bool write_chunk(std::string_view lines, std::string_view tail = {});
  bool ensure_open();
  bool open_file();
  bool rotate();
  // Writes `head` then `tail` (either may be empty) in as few writev()
  // calls as the kernel allows.
  bool write_all(std::string_view head, std::string_view tail = {});
  void close_file() noexcept;
  void set_error(const char* what, const std::string& where, int err);

  Options options_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t rotations_ = 0;
  bool torn_line_ = false;    // the file ends inside a line cut by a failed write
  bool regular_file_ = true;  // devices and pipes are never rotated
  std::chrono::steady_clock::time_point next_open_attempt_{};
  std::chrono::steady_clock::time_point next_rotate_attempt_{};
  std::string last_error_;
  int last_errno_ = 0;
  std::uint64_t rotation_failures_ = 0;
  bool rotation_failing_ = false;
  std::string warning_;
};

}  // namespace emp::telemetry::sinks
