// The background half of the trace track: the batch span processor. It
// decodes finished spans from the queues into OTLP spans, batches them
// (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY), encodes each
// batch (protobuf or JSON) and hands it to the destination's DeliveryWorker.
// At most OTEL_BSP_MAX_QUEUE_SIZE spans wait for export; more are dropped as
// `queue_full` (OTEL_BSP_EXPORT_TIMEOUT bounds each export request; see
// finalize()).
#pragma once

#include <memory>
#include <vector>

#include "core/export_queue_limit.hpp"
#include "core/pipeline.hpp"
#include "deliver/worker.hpp"
#include "emp/telemetry/config.hpp"
#include "encode/otlp_json.hpp"
#include "encode/otlp_proto.hpp"
#include "sentry/transactions.hpp"

namespace emp::telemetry::trace {

class SpanHandler final : public core::RecordHandler {
 public:
  SpanHandler(const BatchSettings& batch, const encode::otlp::Resource& resource,
              const encode::otlp::Scope& scope, std::unique_ptr<deliver::DeliveryWorker> sink,
              core::Accounting& accounting);

  void on_record(const std::uint8_t* payload, std::size_t size) noexcept override;
  bool write_out(std::chrono::steady_clock::time_point) noexcept override { return true; }
  bool flush(std::chrono::steady_clock::time_point deadline) noexcept override;
  void begin_flush(std::chrono::steady_clock::time_point) noexcept override { export_batch(); }
  void begin_close(std::chrono::steady_clock::time_point deadline) noexcept override {
    sink_->begin_shutdown(deadline);
    if (tx_) tx_->sink().begin_shutdown(deadline);
  }
  void on_tick(std::chrono::steady_clock::time_point now) noexcept override;
  void close(std::chrono::steady_clock::time_point deadline) noexcept override;

  void prepare_fork() noexcept override {
    sink_->prepare_fork();
    if (tx_) tx_->sink().prepare_fork();
  }
  void release_fork_locks() noexcept override {
    sink_->release_fork_locks();
    if (tx_) tx_->sink().release_fork_locks();
  }
  void after_fork_child() noexcept override {
    count_ = 0;
    sink_->after_fork_child();
    if (tx_) tx_->sink().after_fork_child();
  }

  deliver::DeliveryWorker& sink() noexcept { return *sink_; }

  // SENTRY_TRACES_SAMPLE_RATE: every decoded span also goes to `tx`, which
  // sends sampled local roots to Sentry as transactions.
  void set_transactions(std::unique_ptr<sentry::TransactionBuilder> tx) noexcept {
    tx_ = std::move(tx);
  }

 private:
  void export_batch() noexcept;

  const BatchSettings batch_settings_;
  encode::otlp::ProtoPrelude proto_prelude_;
  encode::otlp::JsonPrelude json_prelude_;
  std::unique_ptr<deliver::DeliveryWorker> sink_;
  core::Accounting& accounting_;
  // The batch being built: the first count_ entries. The entries past it
  // are kept from earlier batches so that their strings and attribute
  // vectors are reused, not allocated again for every span.
  std::vector<encode::otlp::SpanData> batch_;
  std::size_t count_ = 0;
  core::ExportQueueLimit queue_limit_;
  std::chrono::steady_clock::time_point batch_started_{};
  std::unique_ptr<sentry::TransactionBuilder> tx_;
};

// Decodes one queued span (layout in tracer_core.hpp). False if malformed.
bool decode_span(const std::uint8_t* p, std::size_t n, encode::otlp::SpanData& out);

}  // namespace emp::telemetry::trace
