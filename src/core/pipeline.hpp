// The shared core of every track: per-thread bounded queues (frontend) and one
// background thread that drains them into record handlers (backend).
//
// Frontend (application threads): begin() reserves space in the calling
// thread's own ring, the caller writes its record, commit() publishes it. No
// lock, no allocation after a thread's first record, no I/O. A full ring drops
// the record and counts `queue_full` (or waits a bounded time when the
// configured policy is kBlock).
//
// Backend (one thread): drains every ring in turn, hands each record to the
// handler registered for its kind (the log track's file writer, later span
// batching and OTLP export...), and asks handlers to write out periodically,
// on flush() and at shutdown(). A track adds a record kind and a handler, not
// a second pipeline.
//
// Accounting: for each track, offered == accepted + dropped at enqueue, and
// every accepted record ends written or dropped with a reason; after
// shutdown, records that never left a queue are counted `shutdown`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/diagnostics.hpp"
#include "core/ring.hpp"
#include "emp/telemetry/config.hpp"
#include "emp/telemetry/health.hpp"

namespace emp::telemetry::core {

// kStatus carries no records: its handler only uses the periodic tick.
enum class RecordKind : std::uint8_t {
  kLog = 1,
  kSpan = 2,
  kMetric = 3,
  kEvent = 4,
  kError = 5,
  kStatus = 7
};
inline constexpr std::size_t kMaxKinds = 8;
inline constexpr std::size_t kTracks = static_cast<std::size_t>(Track::kCount);
inline constexpr std::size_t kReasons = static_cast<std::size_t>(DropReason::kCount);

class Engine;

// Backend-side counters of one track, updated by handlers on the background
// thread (and read by health() from any thread).
struct TrackStats {
  std::atomic<std::uint64_t> written{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> invalid_utf8{0};
  std::atomic<std::uint64_t> truncated{0};
  std::atomic<std::uint64_t> recovered{0};
  std::array<std::atomic<std::uint64_t>, kReasons> dropped{};
};

// Consumes one kind of record on the background thread. All calls come from
// that thread only, so implementations need no locking of their own state.
class RecordHandler {
 public:
  virtual ~RecordHandler() = default;
  virtual void on_record(const std::uint8_t* payload, std::size_t size) noexcept = 0;
  // Write out everything buffered. False when some accepted record could not
  // be written (it has been counted as dropped).
  virtual bool write_out(std::chrono::steady_clock::time_point deadline) noexcept = 0;
  // Everything accepted so far must reach its destination (a file, a
  // collector) by `deadline`; waits for it. Called for Client::flush() and at
  // shutdown. False when something could not be delivered in time.
  virtual bool flush(std::chrono::steady_clock::time_point deadline) noexcept {
    return write_out(deadline);
  }
  // Called on every handler before any flush(): hand what is buffered to the
  // destinations without waiting, so that they all work in parallel under
  // one deadline and a hung destination cannot eat the others' time.
  virtual void begin_flush(std::chrono::steady_clock::time_point deadline) noexcept {}
  // At shutdown, after begin_flush() and before flush() and close(): tell the
  // destinations to stop by `deadline` (without waiting), so each spools or
  // gives up in parallel with the others.
  virtual void begin_close(std::chrono::steady_clock::time_point deadline) noexcept {}
  // Called about every flush interval, and once more before close().
  virtual void on_tick(std::chrono::steady_clock::time_point now) noexcept {}
  virtual void close(std::chrono::steady_clock::time_point deadline) noexcept {}

  // fork() support. prepare_fork() runs in the forking thread before fork()
  // and takes every lock the handler's own threads use; release_fork_locks()
  // gives them back right after fork(), in the parent and in the child.
  // after_fork_child() runs in the child, on its first telemetry call: the
  // handler's threads do not exist there and records buffered for the parent
  // belong to the parent, so the handler drops them and restarts its threads.
  virtual void prepare_fork() noexcept {}
  virtual void release_fork_locks() noexcept {}
  virtual void after_fork_child() noexcept {}
};

// Where handlers report what became of records. Counting goes through here so
// that shutdown can stop late updates from a background thread it abandoned.
class Accounting {
 public:
  explicit Accounting(Engine* engine) : engine_(engine) {}
  void written(Track t, std::uint64_t n) noexcept;
  void dropped(Track t, DropReason r, std::uint64_t n) noexcept;
  void error(Track t) noexcept;
  void invalid_utf8(Track t, std::uint64_t n) noexcept;
  void truncated(Track t, std::uint64_t n) noexcept;
  // Records found in a disk spool left by an earlier run: offered again now.
  void recovered(Track t, std::uint64_t n) noexcept;
  Diagnostics& diagnostics() noexcept;

 private:
  Engine* engine_;
};

class Pipeline {
 public:
  struct Options {
    std::size_t ring_bytes = 512 * 1024;
    QueueFullPolicy policy = QueueFullPolicy::kDrop;
    std::chrono::milliseconds block_timeout{5};
    std::chrono::milliseconds flush_interval{200};
    // Timestamps from the TSC where the kernel keeps time with it
    // (clock.hpp); false: clock_gettime for the whole process.
    bool tsc_clock = true;
  };

  explicit Pipeline(Options options);
  ~Pipeline();  // shuts down with a zero deadline if shutdown() was not called
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Setup, before start().
  void add_handler(RecordKind kind, std::unique_ptr<RecordHandler> handler);
  Accounting& accounting() noexcept;
  Diagnostics& diagnostics() noexcept;
  // Health of one destination, asked for on every health() call from the
  // calling thread: must be thread-safe. Register before start().
  void add_destination(std::function<DestinationHealth()> health);
  void start();

  // ---- frontend (any thread) ----
  // Reserves `size` payload bytes in the calling thread's ring for a record
  // of `kind`, counting it as offered to `track`. Returns nullptr (and counts
  // the drop reason) when the ring is full, the record can never fit, or the
  // pipeline is shut down. Every non-null return must be followed by commit().
  std::uint8_t* begin(Track track, RecordKind kind, std::size_t size) noexcept;
  void commit(Track track) noexcept;
  // Counts a record of `track` that the caller's thread decided not to queue
  // (e.g. sampled out) as offered and dropped for `reason`.
  void drop(Track track, DropReason reason) noexcept;
  // The largest payload begin() accepts.
  std::size_t max_payload() const noexcept;

  // ---- control (any thread) ----
  bool flush(std::chrono::milliseconds timeout) noexcept;
  bool shutdown(std::chrono::milliseconds timeout) noexcept;
  HealthSnapshot health() const noexcept;

 private:
  std::shared_ptr<Engine> engine_;
};

}  // namespace emp::telemetry::core
