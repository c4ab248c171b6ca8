// OTLP export of the log track (the batch log record processor): each log
// record is also turned into an OTLP LogRecord (severity number and text,
// body, attributes, trace and span ids), batched per OTEL_BLRP_* and handed
// to its DeliveryWorker. The JSON-lines file stays the log track's main output;
// this destination's outcomes show in its own DestinationHealth. An
// operational event (flag kEvent) becomes an OpenTelemetry Event: the
// record's event_name is set, and the correlation attributes that the JSON
// line carries in its standard keys are added as attributes.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/export_queue_limit.hpp"
#include "deliver/worker.hpp"
#include "emp/telemetry/config.hpp"
#include "encode/otlp_json.hpp"
#include "encode/otlp_proto.hpp"
#include "logs/log_output.hpp"
#include "logs/log_record.hpp"

namespace emp::telemetry::logs {

class OtlpLogBatcher final : public LogOutput {
 public:
  OtlpLogBatcher(const BatchSettings& batch, const encode::otlp::Resource& resource,
                 const encode::otlp::Scope& scope, std::unique_ptr<deliver::DeliveryWorker> sink);

  // Attributes added to every event record (machine_id, worker_id,
  // service_type). Set before the pipeline starts.
  void set_event_attributes(std::vector<std::pair<std::string, std::string>> attributes) {
    event_attributes_ = std::move(attributes);
  }

  void add(const DecodedLog& record, std::string_view log_file_path) noexcept override;
  void on_tick(std::chrono::steady_clock::time_point now) noexcept override;
  bool flush(std::chrono::steady_clock::time_point deadline) noexcept override;
  void begin_flush(std::chrono::steady_clock::time_point) noexcept override { export_batch(); }
  void begin_close(std::chrono::steady_clock::time_point deadline) noexcept override {
    sink_->begin_shutdown(deadline);
  }
  void close(std::chrono::steady_clock::time_point deadline) noexcept override;
  void prepare_fork() noexcept override { sink_->prepare_fork(); }
  void release_fork_locks() noexcept override { sink_->release_fork_locks(); }
  void after_fork_child() noexcept override {
    batch_.clear();
    sink_->after_fork_child();
  }

 private:
  void export_batch() noexcept;

  const BatchSettings settings_;
  encode::otlp::ProtoPrelude proto_prelude_;
  encode::otlp::JsonPrelude json_prelude_;
  std::unique_ptr<deliver::DeliveryWorker> sink_;
  std::vector<encode::otlp::LogData> batch_;
  std::chrono::steady_clock::time_point batch_started_{};
  core::ExportQueueLimit queue_limit_;
  std::vector<std::pair<std::string, std::string>> event_attributes_;
};

// OpenTelemetry severity numbers for our levels (docs/otlp.md, "Data model numbers").
int severity_number(Level level) noexcept;
std::string_view severity_text(Level level) noexcept;

}  // namespace emp::telemetry::logs
