// Disk spool of one destination: encoded export requests that could not be
// delivered yet wait here, in order, across collector outages and process
// restarts (what Fluent Bit's filesystem buffering and the OpenTelemetry
// Collector's persistent queue give their users).
//
// Layout of the spool directory (one per destination, see spool_directory()):
//   NNNNNNNNNN.open     the segment being appended to (at most one)
//   NNNNNNNNNN.seg      sealed segments, replayed in id order (oldest first)
//   NNNNNNNNNN.corrupt  quarantined damaged data, kept for inspection
//                       (at most SpoolOptions::max_quarantine_files)
//   cursor              read position inside the oldest segment
//   lock                flock()ed while a Spool has the directory open
//
// A segment is a sequence of records. Each record is a 24-byte header
// followed by the payload (the encoded request), all integers little-endian:
//   0  u32 magic  E5 'S' 'P' 'L'       12 u32 item count
//   4  u8  version (1)                 16 u32 crc32 (zlib) of the payload
//   5  u8  signal   6 u8 content type  20 u32 crc32 of header bytes 0..19
//   7  u8  flags (0)    8 u32 payload length
// The header has its own checksum so that a damaged length can be trusted
// neither to skip nor to allocate; the payload's is checked when it is read.
//
// Durability: append() writes to the open segment; commit() fsyncs it (and
// the directory after a file was created, renamed or removed) and seals the
// segment (rename .open -> .seg) once it holds segment_bytes or is older than
// segment_max_age. Records appended after the last commit() survive a
// process crash (they are in the page cache) but not necessarily a power
// loss. Delivery is at-least-once: pop() records the new read position in
// `cursor` (written to a temporary file and renamed over it), so a crash
// between a successful delivery and that write, or a power loss before the
// directory is synced, delivers a record (at most the records popped since
// the last commit()) again after the restart.
//
// Recovery when opened: every sealed segment's headers are walked (payload
// checksums are checked lazily, when a record is read), the `.open` segment
// left by a crash is verified completely and sealed; a torn record at its end
// (shorter than its header says) is cut and counted (torn_records). Any other
// damage (bad magic or checksum, a length beyond the end of the file) moves
// the rest of that segment to a `.corrupt` file and counts it (quarantined);
// the records before it and every other segment still replay. Nothing in a
// spool directory can crash the reader or make it loop.
//
// Size: the files of the live segments never exceed max_bytes. An append
// that needs more room drops the oldest segments first (whole segments,
// counted as dropped spool_full with their records' items); a record larger
// than max_bytes is refused. Segments are at most a quarter of max_bytes,
// so eviction never drops more than about a quarter of the spool at once.
//
// Thread-safety: a Spool is used by one thread (the destination's delivery
// thread); only stats() may be called from any thread. Two Spools (in one or
// two processes) cannot open the same directory: the second open() fails.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deliver/delivery.hpp"
#include "emp/telemetry/expected.hpp"

namespace emp::telemetry::deliver {

struct SpoolOptions {
  // Cap on the bytes of live segment files (EMP_SPOOL_MAX_SIZE).
  std::uint64_t max_bytes = 256ull << 20;
  // A segment is sealed when it reaches this size (capped at max_bytes / 4,
  // at least 4 KiB); a record larger than that gets a segment of its own.
  std::uint64_t segment_bytes = 4ull << 20;
  // commit() also seals an open segment older than this.
  std::chrono::milliseconds segment_max_age{60000};
  // Largest payload accepted, and trusted when read back (the OTLP request cap).
  std::uint32_t max_record_bytes = 64u << 20;
  // Quarantined files kept; the oldest are deleted beyond this.
  std::uint32_t max_quarantine_files = 8;
  // false skips fsync()/fdatasync() entirely: for tests and fuzzing only.
  bool sync = true;
};

// Counters and gauges of one spool. Monotonic counters only grow.
struct SpoolStats {
  std::uint64_t bytes = 0;     // size of the live segment files (<= max_bytes)
  std::uint64_t records = 0;   // records waiting to be read
  std::uint64_t items = 0;     // items in those records
  std::uint64_t segments = 0;  // live segment files
  std::uint64_t appended_records = 0;
  std::uint64_t popped_records = 0;
  // Records and items dropped to make room, or refused as larger than the cap.
  std::uint64_t dropped_spool_full_records = 0;
  std::uint64_t dropped_spool_full_items = 0;
  // Damaged segment tails moved to *.corrupt, and the items that went with
  // them: from the records' headers, estimated where the first header is
  // unreadable (the records behind it found by their own headers).
  std::uint64_t quarantined = 0;
  std::uint64_t quarantined_items = 0;
  // Incomplete records cut from the end of an .open segment after a crash,
  // and their items when their header was complete.
  std::uint64_t torn_records = 0;
  std::uint64_t torn_items = 0;
  std::uint64_t io_errors = 0;  // failed reads, writes, syncs, renames
};

// One record read back from the spool.
struct SpoolRecord {
  Payload payload;
  std::uint64_t segment = 0;  // id of the segment file (NNNNNNNNNN)
  std::uint64_t offset = 0;   // offset of the record's header in that file
  std::uint32_t crc = 0;      // the payload's crc32, checked against the bytes
};

// What became of one append().
struct SpoolAppend {
  bool stored = false;  // the record is in the spool (not yet fsynced: commit())
  // Older records dropped to make room (reason spool_full), whether or not
  // the new record could then be stored.
  std::uint64_t evicted_records = 0;
  std::uint64_t evicted_items = 0;
  // Not stored because the record alone exceeds max_bytes or
  // max_record_bytes (its items count as dropped_spool_full_items).
  bool too_large = false;
  std::string error;  // why it was not stored; empty when stored
};

class Spool {
 public:
  // Opens (creating it and its parents if needed) and recovers the spool in
  // `dir`. Fails, without throwing, when the directory cannot be created or
  // written (the error names the path and the system's reason), or when
  // another Spool holds it.
  static Expected<std::unique_ptr<Spool>> open(const std::string& dir,
                                               const SpoolOptions& options = {}) noexcept;

  // Commits (best effort) and releases the directory.
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends one record after the newest, evicting the oldest segments first
  // if it would not fit under max_bytes. Invalidates the record returned by
  // peek() when that record was evicted. Empty payloads are stored too.
  SpoolAppend append(const Payload& payload) noexcept;

  // Makes the appended records durable (fdatasync, directory fsync) and seals
  // the open segment when it is full or old. False on an I/O error
  // (last_error() says which file and why); the records stay readable.
  bool commit() noexcept;

  // The oldest record, read and checksummed; nullptr when the spool is empty
  // (or nothing readable is left: damaged segments are quarantined on the
  // way). The pointer stays valid until the next non-const call.
  const SpoolRecord* peek() noexcept;

  // Removes the record returned by the last peek() and persists the read
  // position. Returns false, removing nothing, when there is no such record
  // (no peek() since the last pop(), or an append() evicted it).
  bool pop() noexcept;

  // No records are waiting.
  bool empty() const noexcept { return records_ == 0; }

  // Closes every file without syncing, sealing, renaming or removing
  // anything; later calls do nothing (append() fails, peek() returns
  // nullptr). For a child process after fork(): the files stay the parent's.
  void detach() noexcept;

  // Thread-safe snapshot.
  SpoolStats stats() const noexcept;
  // The last I/O problem, e.g. "write /spool/traces-ab/0000000003.open: No space
  // left on device"; empty if none. Delivery thread only.
  const std::string& last_error() const noexcept { return last_error_; }
  const std::string& directory() const noexcept { return dir_; }

 private:
  struct Segment {
    std::uint64_t id = 0;
    bool sealed = false;        // name ends in .seg (else .open)
    std::uint64_t size = 0;     // bytes in the file
    std::uint64_t read = 0;     // offset of the next unread record
    std::uint64_t records = 0;  // unread records
    std::uint64_t items = 0;    // items in the unread records
    std::chrono::steady_clock::time_point created{};
  };
  struct Cursor {
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
  };

  Spool(std::string dir, const SpoolOptions& options, int dir_fd, int lock_fd);

  bool recover();
  void read_cursor(Cursor& cursor);
  void write_cursor(const Cursor& cursor) noexcept;
  void load_segment(std::uint64_t id, bool sealed, const Cursor& cursor);
  bool make_room(std::uint64_t need, SpoolAppend& out) noexcept;
  bool create_segment() noexcept;
  bool seal_writer() noexcept;
  bool is_writer(const Segment& s) const noexcept;
  void drop_drained_front() noexcept;
  void remove_front() noexcept;
  void quarantine_front() noexcept;
  bool copy_to_quarantine(int fd, std::uint64_t id, std::uint64_t from, std::uint64_t to) noexcept;
  std::string quarantine_name(std::uint64_t id) const;
  void trim_quarantine() noexcept;
  int reader_fd(const Segment& s) noexcept;
  void close_reader() noexcept;
  void close_writer() noexcept;
  bool sync_dir() noexcept;
  void fail(std::string_view what, std::string_view name, int err) noexcept;
  void publish() noexcept;
  std::uint64_t total_bytes() const noexcept;
  std::string path_of(std::string_view name) const;

  const std::string dir_;
  const SpoolOptions options_;
  const std::uint64_t segment_target_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;

  std::deque<Segment> segments_;  // oldest first; the last may be the writer
  int writer_fd_ = -1;            // fd of segments_.back() when it is .open
  bool writer_dirty_ = false;     // written since the last fdatasync
  bool dir_dirty_ = false;        // entries changed since the last directory fsync
  int reader_fd_ = -1;
  std::uint64_t reader_id_ = 0;
  std::uint64_t next_id_ = 1;
  std::vector<std::string> quarantine_files_;  // oldest first

  SpoolRecord head_;
  bool head_valid_ = false;
  bool detached_ = false;
  std::uint64_t records_ = 0;  // mirror of the segments' sum, for empty()
  std::string last_error_;

  // Published for stats() from other threads.
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<std::uint64_t> records_pub_{0};
  std::atomic<std::uint64_t> items_{0};
  std::atomic<std::uint64_t> segments_pub_{0};
  std::atomic<std::uint64_t> appended_{0};
  std::atomic<std::uint64_t> popped_{0};
  std::atomic<std::uint64_t> dropped_records_{0};
  std::atomic<std::uint64_t> dropped_items_{0};
  std::atomic<std::uint64_t> quarantined_{0};
  std::atomic<std::uint64_t> quarantined_items_{0};
  std::atomic<std::uint64_t> torn_records_{0};
  std::atomic<std::uint64_t> torn_items_{0};
  std::atomic<std::uint64_t> io_errors_{0};
};

// The directory of one destination's spool: <root>/<signal>-<16 hex digits
// of a hash of the URL>, e.g. "/var/log/emp/spool/traces-3f2a9c0d11e4b7a2".
// The URL itself (which may hold credentials) never appears in the name.
std::string spool_directory(std::string_view root, Signal signal, std::string_view url);

}  // namespace emp::telemetry::deliver
