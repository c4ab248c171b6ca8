// The background half of the log track: decodes log records, formats JSON
// lines and appends them to the default log file or to a named file under the
// log directory, with rotation. Operational events (records flagged kEvent)
// take the same path into their own file, events.jsonl, counted as the events
// track. Runs only on the pipeline's background thread.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "core/pipeline.hpp"
#include "emp/telemetry/config.hpp"
#include "encode/json_lines.hpp"
#include "logs/log_output.hpp"
#include "logs/log_record.hpp"
#include "sinks/file_sink.hpp"

namespace emp::telemetry::logs {

class LogHandler final : public core::RecordHandler {
 public:
  // `log_dir` must be absolute (the client resolves it).
  LogHandler(const Config& config, std::string log_dir, core::Accounting& accounting);

  // Also hands every record to `output` (OTLP, Fluentd forward, ...). Add
  // outputs before the pipeline starts.
  void add_output(std::unique_ptr<LogOutput> output) {
    outputs_extra_.push_back(std::move(output));
  }

  void on_record(const std::uint8_t* payload, std::size_t size) noexcept override;
  bool write_out(std::chrono::steady_clock::time_point deadline) noexcept override;
  bool flush(std::chrono::steady_clock::time_point deadline) noexcept override;
  void begin_flush(std::chrono::steady_clock::time_point deadline) noexcept override;
  void begin_close(std::chrono::steady_clock::time_point deadline) noexcept override {
    for (auto& o : outputs_extra_) o->begin_close(deadline);
  }
  void on_tick(std::chrono::steady_clock::time_point now) noexcept override;
  void close(std::chrono::steady_clock::time_point deadline) noexcept override;
  void prepare_fork() noexcept override {
    for (auto& o : outputs_extra_) o->prepare_fork();
  }
  void release_fork_locks() noexcept override {
    for (auto& o : outputs_extra_) o->release_fork_locks();
  }
  void after_fork_child() noexcept override;

  // The events track's JSON-lines file under the log directory.
  static constexpr std::string_view kEventsFile = "events.jsonl";

  // Most distinct files one client writes; further names go to the default file.
  static constexpr std::size_t kMaxFiles = 64;

 private:
  struct Output {
    explicit Output(sinks::FileSink::Options o) : sink(std::move(o)) {}
    sinks::FileSink sink;
    std::string buffer;
    std::uint64_t lines = 0;
    Track track = Track::kLogs;  // where its lines are counted
  };
  Output* output_for(std::string_view name, std::string& rejected_reason);
  bool write_one(Output& out) noexcept;

  const std::string log_dir_;
  const std::string service_name_, service_type_, machine_id_, environment_, worker_id_;
  encode::LineContext ctx_;
  encode::LineLimits limits_;
  const std::uint64_t max_file_bytes_;
  const std::uint32_t max_files_;
  const bool echo_stderr_;
  const bool echo_stdout_;  // EMP_LOG_STDOUT: log records also on stdout
  // EMP_LOG_FILES=false: the log track's lines go to its other outputs
  // (stdout, stderr, OTLP, Fluentd) but not to files; events keep their file.
  const bool write_log_files_;
  core::Accounting& accounting_;
  Output* default_ = nullptr;
  Output* events_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Output>> outputs_;
  DecodedLog decoded_;
  std::string formatted_;  // the message of a kFormat record, formatted here
  std::vector<Field> extra_;
  std::vector<std::unique_ptr<LogOutput>> outputs_extra_;
};

}  // namespace emp::telemetry::logs
