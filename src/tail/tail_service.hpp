// The Client's side of file tailing (Client::add_file): the patterns added,
// and, once the first one is, the tailer and its own Fluentd forward worker
// (stream "fluentd/tail", so a slow tailed file never delays the service's
// own log records). Lines go to FLUENTD_HOST only; they are not written to
// the service's log file (they are in their own file already).
//
// Thread-safe: add() from any thread; health(), files(), begin/finish_shutdown() from the
// client. After fork() the child does not tail: the parent's thread and
// connection are not in the child, and the parent keeps shipping the files,
// so the child's shutdown leaves both alone (no join of a thread it does not
// have) and its add() says so.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/expected.hpp"
#include "emp/telemetry/health.hpp"
#include "tail/tailer.hpp"

namespace emp::telemetry::core {
class Accounting;
}

namespace emp::telemetry::tail {

// The tailer's options from the configuration: metadata, limits, and the
// positions database `<LOG_DIR>/tail-positions.db`.
TailOptions tail_options(const Config& c);

class TailService {
 public:
  TailService(const Config& config, core::Accounting& accounting);
  ~TailService();

  std::optional<Error> add(std::string_view path_or_glob, std::string_view tag) noexcept;
  // Adds the tailer's counts and its destination (when started) to `h`.
  void add_health(HealthSnapshot& h) const noexcept;
  // True in a child of the process that started the tailer.
  bool forked() const noexcept;
  // Every (pattern, tag) added, for the generated agent configurations.
  std::vector<std::pair<std::string, std::string>> files() const;
  // Reads what is left and tells the worker to deliver or spool it by
  // `deadline`, without waiting; finish_shutdown() waits for it (true when
  // nothing was lost to the deadline). Idempotent.
  void begin_shutdown(std::chrono::steady_clock::time_point deadline) noexcept;
  bool finish_shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

 private:
  const Config& config_;
  core::Accounting& accounting_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> files_;
  std::unique_ptr<deliver::DeliveryWorker> worker_;
  std::unique_ptr<Tailer> tailer_;
  bool closed_ = false;
  int owner_pid_ = 0;  // the process that started the tailer
};

}  // namespace emp::telemetry::tail
