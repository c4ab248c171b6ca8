// The Fluentd forward destination of the log track: every record the log
// handler writes to its file is also encoded as a PackedForward entry (the
// log-line fields as a msgpack map, EventTime with nanoseconds), batched per
// tag (`<service_type>.logs.<file>`) and handed, one frame per batch with its
// own chunk id, to a DeliveryWorker with stream "fluentd/logs". The batch
// closes at OTEL_BLRP_MAX_EXPORT_BATCH_SIZE records, 1 MiB of entries, or
// OTEL_BLRP_SCHEDULE_DELAY after its first record, like the OTLP log batcher.
// The file stays the log track's main output; this destination's outcomes
// show in its own DestinationHealth.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "deliver/worker.hpp"
#include "emp/telemetry/config.hpp"
#include "encode/json_lines.hpp"
#include "logs/log_output.hpp"

namespace emp::telemetry::forward {

class ForwardLogOutput final : public logs::LogOutput {
 public:
  ForwardLogOutput(const Config& config, std::unique_ptr<deliver::DeliveryWorker> sink);

  void add(const logs::DecodedLog& record, std::string_view log_file_path) noexcept override;
  void on_tick(std::chrono::steady_clock::time_point now) noexcept override;
  bool flush(std::chrono::steady_clock::time_point deadline) noexcept override;
  void close(std::chrono::steady_clock::time_point deadline) noexcept override;
  void prepare_fork() noexcept override { sink_->prepare_fork(); }
  void release_fork_locks() noexcept override { sink_->release_fork_locks(); }
  void after_fork_child() noexcept override;

  deliver::DeliveryWorker& worker() noexcept { return *sink_; }

 private:
  struct Batch {
    std::string path;  // log file the records came from
    std::string tag;
    std::string entries;
    std::size_t count = 0;
    std::chrono::steady_clock::time_point started{};
  };
  void export_batch(Batch& b) noexcept;
  void export_all() noexcept;

  std::string service_name_, service_type_, machine_id_, environment_, worker_id_;
  encode::LineContext ctx_;
  encode::LineLimits limits_;
  const std::size_t max_count_;
  const std::chrono::milliseconds delay_;
  const bool gzip_;
  const int gzip_level_;
  std::unique_ptr<deliver::DeliveryWorker> sink_;
  std::vector<Batch> batches_;  // one per log file seen recently
};

// One PackedForward frame of `count` entries under `tag`, with a new chunk
// id, gzip-compressed at `gzip_level` when `gzip` (plain when compression
// fails), as the payload a forward DeliveryWorker takes. Throws std::bad_alloc.
deliver::Payload forward_payload(std::string_view tag, std::string_view entries, std::size_t count,
                                 bool gzip, int gzip_level);

// The worker for FLUENTD_HOST:FLUENTD_PORT (with TLS, shared key, user auth
// and spool as configured). `stream` names it and its spool directory:
// "fluentd/logs" for the log track, "fluentd/tail" for tailed files.
std::unique_ptr<deliver::DeliveryWorker> make_forward_worker(
    const Config& c, core::Accounting& accounting, std::string_view stream = "fluentd/logs");

// EMP_SPOOL_DIR/<stream with '/' as '-'>-<hash of `peer`>, e.g.
// ".../spool/fluentd-logs-3f2a...". Same hash as deliver::spool_directory().
std::string stream_spool_directory(std::string_view root, std::string_view stream,
                                   std::string_view peer);

}  // namespace emp::telemetry::forward
