// The errors track's background side (the pipeline's thread): takes each
// captured event, symbolizes its stack, applies before_send, lays it out as a
// Sentry event and hands it to the delivery worker (a Sentry envelope when
// SENTRY_DSN is set, else one JSON line in a local file). Client reports go
// with the next event, else alone every 30 s and at shutdown. At its first tick it
// sends the crash records a crashed process left in the spool as `fatal`
// events, and from then on keeps the crash context (latest breadcrumbs) that
// a crash record would carry up to date.
//
// Thread-safety: a core::RecordHandler: pipeline thread only.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/pipeline.hpp"
#include "deliver/worker.hpp"
#include "errors/crash_handler.hpp"
#include "errors/errors_core.hpp"

namespace emp::telemetry::errors {

// Service metadata on every event (tags, server_name, release, environment).
struct ServiceInfo {
  std::string service_name;
  std::string service_type;
  std::string machine_id;
  std::string worker_id;
  std::string environment;
  std::string release;  // SERVICE_VERSION; empty = no release
};

class ErrorsHandler final : public core::RecordHandler {
 public:
  struct Options {
    ServiceInfo service;
    bool envelopes = true;                  // false: one event JSON per payload (local file)
    std::string crash_dir;                  // crash records to send at start; "" = none
    CrashContext* crash_context = nullptr;  // kept up to date; may be null
  };
  ErrorsHandler(std::shared_ptr<ErrorsCore> core, std::unique_ptr<deliver::DeliveryWorker> worker,
                core::Accounting& accounting, Options options);
  ~ErrorsHandler() override;

  void on_record(const std::uint8_t* payload, std::size_t size) noexcept override;
  bool write_out(std::chrono::steady_clock::time_point) noexcept override { return true; }
  bool flush(std::chrono::steady_clock::time_point deadline) noexcept override;
  void begin_close(std::chrono::steady_clock::time_point deadline) noexcept override;
  void on_tick(std::chrono::steady_clock::time_point now) noexcept override;
  void close(std::chrono::steady_clock::time_point deadline) noexcept override;
  void prepare_fork() noexcept override { worker_->prepare_fork(); }
  void release_fork_locks() noexcept override { worker_->release_fork_locks(); }
  void after_fork_child() noexcept override { worker_->after_fork_child(); }

  // The event JSON for one captured event (exposed for tests and benchmarks).
  nlohmann::json event_json(PendingEvent& pending);

 private:
  void send_crash_records() noexcept;
  void submit(const nlohmann::json& event) noexcept;
  void submit_reports_only() noexcept;
  void add_common(nlohmann::json& event) const;
  std::vector<Frame> symbolize(const std::uintptr_t* frames, std::size_t n);

  std::shared_ptr<ErrorsCore> core_;
  std::unique_ptr<deliver::DeliveryWorker> worker_;
  core::Accounting& accounting_;
  Options options_;
  std::unique_ptr<Symbolizer> symbolizer_;
  bool started_ = false;
  std::uint64_t context_seq_ = ~0ull;
  static constexpr std::chrono::seconds kReportInterval{30};
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace emp::telemetry::errors
