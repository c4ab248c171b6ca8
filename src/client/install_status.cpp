// The status file: the client's health as JSON every EMP_STATUS_INTERVAL (and
// once more at shutdown), for `emp-telemetry health` to read.
#include "client/client_impl.hpp"
#include "client/health_json.hpp"

namespace emp::telemetry::client {

namespace {

class StatusHandler final : public core::RecordHandler {
 public:
  StatusHandler(std::shared_ptr<StatusLink> link, std::string path, std::chrono::milliseconds every)
      : link_(std::move(link)), path_(std::move(path)), every_(every) {}
  void on_record(const std::uint8_t*, std::size_t) noexcept override {}
  bool write_out(std::chrono::steady_clock::time_point) noexcept override { return true; }
  void on_tick(std::chrono::steady_clock::time_point now) noexcept override {
    if (now < next_) return;
    next_ = now + every_;
    write();
  }
  void close(std::chrono::steady_clock::time_point) noexcept override { write(); }
  // The background thread holds the link's lock while it builds the status,
  // which takes the pipeline's and the metrics' locks inside it. A child
  // forked meanwhile would find the lock taken for good, and its background
  // thread would block at its next status write (at the latest when it
  // shuts down). Nothing in the child can hold it when this runs, so it is
  // made anew. Taking it in prepare_fork() instead would invert the lock
  // order: the metrics' fork handler takes their locks before the pipeline's
  // handlers run.
  void after_fork_child() noexcept override { new (&link_->mu) std::mutex(); }

 private:
  void write() noexcept {
    try {
      std::string json;
      {
        std::lock_guard<std::mutex> lock(link_->mu);
        if (!link_->status_json) return;
        json = link_->status_json();
      }
      write_file_atomically(path_, json);
    } catch (...) {
    }
  }
  std::shared_ptr<StatusLink> link_;
  const std::string path_;
  const std::chrono::milliseconds every_;
  std::chrono::steady_clock::time_point next_{};
};

}  // namespace

std::string install_status(InstallContext& ctx) {
  const Config& c = ctx.config;
  Client::Impl& impl = ctx.impl;
  impl.status_link = std::make_shared<StatusLink>();
  Client::Impl* raw = &impl;
  impl.status_link->status_json = [raw] {
    return health_to_json(raw->full_health(), raw->config, raw->config.status_interval);
  };
  // GET /health on the Prometheus endpoint: the same JSON, 200 unless a
  // destination is degraded or its circuit is open. Through the link, so a
  // request racing the client's destruction finds it gone, not freed.
  impl.status_link->health_page = [raw](std::string& body) {
    const HealthSnapshot h = raw->full_health();
    body = health_to_json(h, raw->config, raw->config.status_interval);
    return destinations_healthy(h);
  };
  if (impl.metrics_track) {
    impl.metrics_track->set_health([link = impl.status_link](std::string& body) {
      std::lock_guard<std::mutex> lock(link->mu);
      if (!link->health_page) return false;
      return link->health_page(body);
    });
  }
  if (c.status_interval.count() <= 0) return {};
  ctx.pipeline.add_handler(core::RecordKind::kStatus,
                           std::make_unique<StatusHandler>(
                               impl.status_link, status_file_path(ctx.dir, c), c.status_interval));
  return {};
}

}  // namespace emp::telemetry::client
