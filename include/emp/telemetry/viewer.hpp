// The local viewer behind `emp-telemetry serve`: an HTTP server that
// receives OTLP/HTTP traces, metrics and logs (protobuf or JSON, optionally
// gzip), Sentry envelopes and, on a port of its own, the Fluentd forward
// protocol, stores them in one SQLite file, and serves a
// JSON read API and a web page that show one job across all of them.
// docs/viewer.md describes what it receives, its limits and its API.
//
// Also the read functions `emp-telemetry query` uses on the same file.
//
// Thread-safety: a Viewer may be stopped and inspected from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "emp/telemetry/expected.hpp"

namespace emp::telemetry {

struct ViewerOptions {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  std::uint16_t port = 4318;       // 0 = any free port
  std::string db_path = "emp-viewer.db";
  std::uint64_t max_bytes = 1ull << 30;       // database size limit; 0 = none
  std::chrono::seconds max_age{7 * 86400};    // oldest data kept; 0 = no limit
  std::size_t max_pending_bytes = 64u << 20;  // queued for the disk before 503
  std::size_t max_body_bytes = 64u << 20;     // request body, after gunzip
  unsigned threads = 4;                       // HTTP worker threads
  // The Fluentd forward input (plain TCP, no shared key), on `host`:
  // -1 = none, 0 = any free port.
  int forward_port = -1;
};

struct ViewerStats {
  std::uint64_t requests_accepted = 0;  // ingest requests stored (or queued)
  std::uint64_t requests_invalid = 0;   // answered 400/413/415
  std::uint64_t requests_busy = 0;      // answered 503 (store behind)
  std::uint64_t forward_frames = 0;     // forward frames stored (and acked when asked)
  std::uint64_t forward_refused = 0;    // forward frames not acked: store behind, or malformed
  std::uint64_t rows_committed = 0;
  std::uint64_t rows_write_failed = 0;
  std::uint64_t rows_evicted = 0;
  std::string last_error;
};

class Viewer {
 public:
  // Opens the database and starts listening. Errors name what failed
  // (the database file, or the address in use).
  static Expected<std::unique_ptr<Viewer>> start(const ViewerOptions& options) noexcept;
  ~Viewer();  // stop()
  Viewer(const Viewer&) = delete;
  Viewer& operator=(const Viewer&) = delete;

  // Stops listening, commits what was received, closes the database.
  void stop() noexcept;
  std::uint16_t port() const noexcept;
  // The forward input's port; 0 when there is none.
  std::uint16_t forward_port() const noexcept;
  // "http://<host>:<port>"
  std::string url() const;
  ViewerStats stats() const;
  // Waits until everything received so far is committed.
  bool flush(std::chrono::milliseconds timeout) noexcept;

  struct Impl;

 private:
  explicit Viewer(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

// One job's correlated timeline (or, with `json`, the API's job document)
// read from the viewer database at `db_path`. An error when the file is not
// a viewer database or nothing carries the id.
Expected<std::string> viewer_query_job(const std::string& db_path, const std::string& job_id,
                                       bool json) noexcept;
// One trace as an indented span tree with durations (or the API's JSON).
Expected<std::string> viewer_query_trace(const std::string& db_path, const std::string& trace_id,
                                         bool json) noexcept;

}  // namespace emp::telemetry
