// A destination of the log track besides its JSON-lines files: OTLP log
// export, the Fluentd forward protocol, ... The LogHandler (on the pipeline's
// background thread) hands every record to each output it was given, so a new
// way of shipping logs is one more LogOutput, not a change to the handler.
//
// All calls come from the pipeline's background thread, except the fork hooks
// (see core::RecordHandler). An output owns its own delivery (usually a
// deliver::DeliveryWorker) and counts its outcomes in its DestinationHealth.
#pragma once

#include <chrono>
#include <string_view>

#include "logs/log_record.hpp"

namespace emp::telemetry::logs {

class LogOutput {
 public:
  virtual ~LogOutput() = default;

  // One record. `log_file_path` is the file the record was written to (for a
  // record shipped from a tailed file: that file). Views are valid only
  // during the call: copy what you keep.
  virtual void add(const DecodedLog& record, std::string_view log_file_path) noexcept = 0;
  // About every flush interval: send a batch that has waited long enough.
  virtual void on_tick(std::chrono::steady_clock::time_point now) noexcept {}
  // Hands what is batched to the destination without waiting (see
  // core::RecordHandler::begin_flush).
  virtual void begin_flush(std::chrono::steady_clock::time_point deadline) noexcept {}
  // Shutdown is coming by `deadline` (see core::RecordHandler::begin_close).
  virtual void begin_close(std::chrono::steady_clock::time_point deadline) noexcept {}
  // Everything added so far delivered (or spooled/dropped) by `deadline`.
  virtual bool flush(std::chrono::steady_clock::time_point deadline) noexcept = 0;
  // Flush and stop; later add() calls are ignored.
  virtual void close(std::chrono::steady_clock::time_point deadline) noexcept = 0;

  virtual void prepare_fork() noexcept {}
  virtual void release_fork_locks() noexcept {}
  virtual void after_fork_child() noexcept {}
};

}  // namespace emp::telemetry::logs
