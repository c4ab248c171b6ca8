// The viewer's SQLite store: one database file in WAL mode holding spans,
// logs, operational events, metric points, Sentry errors and client
// reports, indexed by job_id, trace_id, service and time, plus a jobs table
// (one row per job id, kept current on every write) that the jobs list reads.
//
// Writes never block a sender: submit() hands a Batch to a bounded queue and
// returns at once; one writer thread commits everything queued in one
// transaction with prepared statements. When the queue holds more than
// max_pending_bytes (the disk is slower than the senders), submit() answers
// kBusy and the receiver answers 503 with Retry-After. Rows of a transaction
// that fails (disk full, I/O error) are counted as write_failed.
//
// Retention: after each commit the writer checks the database's used size
// (pages in use, indexes included) and the age of the oldest commit, and
// deletes whole commits oldest first until both limits hold again. A job
// whose rows are all deleted leaves the jobs table with them.
//
// Thread-safety: submit(), flush() and stats() may be called from any
// thread. Reads go through StoreReader (query.hpp) on their own connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "viewer/rows.hpp"

namespace emp::telemetry::viewer {

struct StoreOptions {
  std::string path = "emp-viewer.db";
  std::uint64_t max_bytes = 1ull << 30;     // 0 = no size limit
  std::chrono::seconds max_age{7 * 86400};  // 0 = no age limit
  std::size_t max_pending_bytes = 64u << 20;
};

struct StoreStats {
  std::uint64_t batches_accepted = 0;
  std::uint64_t batches_busy = 0;  // refused with kBusy (sender told to retry)
  std::uint64_t rows_committed = 0;
  std::uint64_t rows_write_failed = 0;
  std::uint64_t rows_evicted = 0;  // deleted by retention
  std::uint64_t commits = 0;
  std::size_t pending_bytes = 0;
  std::string last_error;
};

class Store {
 public:
  enum class Submit { kAccepted, kBusy, kClosed };

  // Opens (creating when missing) the database and starts the writer.
  // nullptr with `error` set when the file cannot be opened or set up.
  static std::unique_ptr<Store> open(const StoreOptions& options, std::string& error);
  ~Store();  // commits what is queued, then closes
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Submit submit(Batch&& batch) noexcept;
  // Waits until everything submitted before the call is committed (or
  // failed); false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  StoreStats stats() const;
  const StoreOptions& options() const noexcept;

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace emp::telemetry::viewer
