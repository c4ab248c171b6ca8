// The viewer's read side: queries over the store's SQLite file on a
// read-only connection of their own (WAL lets them run while the writer
// commits), returning the JSON documents of the read API, and the terminal
// renderings `emp-telemetry query` prints.
//
//   jobs(limit, service)  recent jobs, newest first: status, service,
//                         machine, worker, times, counts
//   job(id)               the job row plus every span, log, event, error and
//                         metric point that carries the job id or belongs to
//                         one of its traces, each in time order, and
//                         `timeline`: logs, events, errors and span starts
//                         merged in time order
//   trace(id)             the spans of one trace (start order) plus the logs,
//                         events and errors that carry its trace id
//   search(q, limit)      log records whose message contains q (newest first)
//   error(event_id)       one Sentry error with its whole event
//
// Not thread-safe: one StoreReader per thread (or a lock around it).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "viewer/sqlite.hpp"

namespace emp::telemetry::viewer {

class StoreReader {
 public:
  // nullptr with `error` when the file does not exist or is not a store.
  static std::unique_ptr<StoreReader> open(const std::string& path, std::string& error);

  nlohmann::json jobs(int limit, const std::string& service = {});
  // nullopt when nothing carries the id.
  std::optional<nlohmann::json> job(const std::string& job_id);
  std::optional<nlohmann::json> trace(const std::string& trace_id);
  nlohmann::json search(const std::string& q, int limit);
  std::optional<nlohmann::json> error(const std::string& event_id);
  nlohmann::json stats();

 private:
  StoreReader() = default;
  nlohmann::json spans_where(const std::string& where, const std::string& arg);
  Db db_;
};

// "running", "completed" or "failed" for the jobs table's status number.
const char* job_status_name(std::int64_t status);

// Terminal renderings of job() and trace() documents.
std::string format_job_timeline(const nlohmann::json& job);
std::string format_trace_tree(const nlohmann::json& trace);

}  // namespace emp::telemetry::viewer
