// Ships the lines of log files that other programs write (a service's child
// processes, a sidecar's service), like Fluent Bit's tail input: each added
// path or glob is re-expanded every poll so new files are picked up; a file
// that does not exist yet is waited for; rotation by rename (the old file is
// read to its end through the descriptor still open, for `rotate_wait`) and
// by copy-truncate (a file shorter than its position is read from the start
// again) and deletion are followed; positions live in a PositionDb so a
// restart resumes where the last shipped line ended.
//
// Each complete line becomes one forward entry (tail_record.hpp), batched per
// file and handed to a deliver::DeliveryWorker (the Fluentd forward
// destination), which retries, spools or counts it dropped. A line longer
// than `max_line_bytes` is cut there and the rest skipped up to its newline
// (counted as truncated). A partial last line waits for its newline.
//
// Threads: one reader thread of its own (never the caller's); add() and
// stats() are safe from any thread. Memory: at most `read_chunk` bytes per
// file per read plus one batch per file; while the worker holds more than
// `max_pending_bytes` the tailer stops reading (the files are the buffer).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "deliver/worker.hpp"
#include "encode/gzip.hpp"
#include "tail/position_db.hpp"
#include "tail/tail_record.hpp"

namespace emp::telemetry::tail {

struct TailOptions {
  TailContext context;
  std::string db_path;  // empty: positions in memory only
  std::chrono::milliseconds poll_interval{250};
  // How long a file renamed away keeps being read after its path got a new
  // file (Fluent Bit's Rotate_Wait, 5 s by default there too).
  std::chrono::milliseconds rotate_wait{5000};
  std::size_t max_line_bytes = 32 * 1024;  // Fluent Bit's Buffer_Max_Size default
  std::size_t read_chunk = 256 * 1024;
  std::size_t max_batch_records = 512;
  std::size_t max_batch_bytes = 1u << 20;
  std::size_t max_pending_bytes = 16u << 20;
  bool gzip = false;
  int gzip_level = encode::kGzipDefaultLevel;  // EMP_COMPRESSION_LEVEL
};

// Counts since start; visible in health() of the client and the CLI's output.
struct TailStats {
  std::uint64_t lines = 0;       // lines handed to delivery
  std::uint64_t json_lines = 0;  // of which were JSON objects
  std::uint64_t truncated = 0;   // lines cut at max_line_bytes
  std::uint64_t rotations = 0;   // renames, truncations and deletions followed
  std::uint64_t files_open = 0;  // files being read now
  std::uint64_t errors = 0;      // files that could not be read
  std::string last_error;
};

class Tailer {
 public:
  Tailer(TailOptions options, deliver::DeliveryWorker& sink);
  ~Tailer();  // stops the thread (see stop())
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;

  // Adds a path or glob(7) pattern; `tag` empty means
  // "<service_type>.logs.<file name>". Starts the reader thread on first use.
  // Returns an error text for an empty pattern, else "".
  std::string add(std::string pattern, std::string tag) noexcept;
  TailStats stats() const noexcept;
  // Reads what is in the files now, hands it to the sink and stops the
  // thread. Idempotent. The sink is not flushed: its owner does that.
  void stop() noexcept;
  // One poll on the caller's thread (tests and the benchmark without a thread).
  void poll_once() noexcept;
  // Positions database problem at start (empty when fine).
  const std::string& db_error() const noexcept { return db_error_; }

 private:
  struct Pattern {
    std::string pattern;
    std::string tag;
  };
  struct File;
  void run() noexcept;
  void poll() noexcept;
  void read_file(File& f) noexcept;
  void flush_batch(File& f) noexcept;
  void note_error(const std::string& what) noexcept;

  const TailOptions options_;
  deliver::DeliveryWorker& sink_;
  PositionDb db_;
  std::string db_error_;

  mutable std::mutex mu_;  // guards patterns_, stats_, stop_
  std::condition_variable cv_;
  std::vector<Pattern> patterns_;
  TailStats stats_;
  bool stop_ = false;
  bool stopped_ = false;
  std::thread thread_;

  std::mutex poll_mu_;                        // one poll at a time (thread, stop(), poll_once())
  std::vector<std::unique_ptr<File>> files_;  // owned by whoever holds poll_mu_
};

}  // namespace emp::telemetry::tail
