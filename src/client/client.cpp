// Client: wires a finalized Config into the shared pipeline and the tracks.
#include "emp/telemetry/client.hpp"

#include <filesystem>

#include "core/pipeline.hpp"
#include "logs/log_handler.hpp"
#include "logs/log_record.hpp"

namespace emp::telemetry {

struct Client::Impl {
  explicit Impl(Config c) : config(std::move(c)) {}
  Config config;
  std::unique_ptr<core::Pipeline> pipeline;
  core::LogFrontend log_front;
  std::atomic<int> min_level{0};
  std::unique_ptr<Logger> logger;
  bool shut_down = false;
};

namespace {
std::string absolute_dir(const std::string& dir) {
  std::error_code ec;
  auto p = std::filesystem::absolute(dir.empty() ? std::string("./telemetry-out") : dir, ec);
  if (ec) return dir;
  return p.lexically_normal().string();
}
}  // namespace

Client::Client(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (impl_ && !impl_->shut_down) shutdown(impl_->config.shutdown_timeout);
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Client::~Client() {
  if (impl_ && !impl_->shut_down) shutdown(impl_->config.shutdown_timeout);
}

Expected<Client> Client::create(Config config) noexcept {
  try {
    for (const auto& n : config.notices) core::Diagnostics::notice_once(n);
    auto impl = std::make_unique<Impl>(std::move(config));
    const Config& c = impl->config;
    core::Pipeline::Options po;
    po.ring_bytes = c.queue_bytes_per_thread;
    po.policy = c.queue_full_policy;
    po.block_timeout = c.queue_block_timeout;
    po.flush_interval = c.flush_interval;
    impl->pipeline = std::make_unique<core::Pipeline>(po);
    std::string dir = absolute_dir(c.log_dir);
    impl->pipeline->add_handler(
        core::RecordKind::kLog,
        std::make_unique<logs::LogHandler>(c, dir, impl->pipeline->accounting()));
    impl->log_front.pipeline = impl->pipeline.get();
    impl->log_front.max_message_bytes = c.max_message_bytes;
    impl->log_front.max_field_bytes = c.max_field_bytes;
    impl->log_front.max_payload = impl->pipeline->max_payload();
    impl->min_level.store(static_cast<int>(c.log_level));
    impl->logger.reset(new Logger(&impl->log_front, &impl->min_level));
    impl->pipeline->start();
    return Client(std::move(impl));
  } catch (const std::exception& e) {
    return Error{"client", std::string("could not start the telemetry client: ") + e.what()};
  } catch (...) {
    return Error{"client", "could not start the telemetry client"};
  }
}

Expected<Client> Client::create(const Options& options) noexcept {
  try {
    auto cfg = finalize(options);
    if (!cfg) return cfg.errors();
    return create(std::move(cfg).value());
  } catch (...) {
    return Error{"client", "could not start the telemetry client"};
  }
}

namespace {
Expected<Client> with_preset(Options options, Preset preset) noexcept {
  options.preset = preset;
  return Client::create(options);
}
}  // namespace

Expected<Client> Client::for_api(Options o) noexcept { return with_preset(std::move(o), Preset::kApi); }
Expected<Client> Client::for_webhook(Options o) noexcept {
  return with_preset(std::move(o), Preset::kWebhook);
}
Expected<Client> Client::for_machine(Options o) noexcept {
  return with_preset(std::move(o), Preset::kMachine);
}
Expected<Client> Client::for_worker(Options o) noexcept {
  return with_preset(std::move(o), Preset::kWorker);
}

Logger& Client::log() noexcept { return *impl_->logger; }
const Config& Client::config() const noexcept { return impl_->config; }
HealthSnapshot Client::health() const noexcept { return impl_->pipeline->health(); }

bool Client::flush(std::chrono::milliseconds timeout) noexcept {
  return impl_->pipeline->flush(timeout);
}

bool Client::shutdown(std::chrono::milliseconds timeout) noexcept {
  if (impl_->shut_down) return true;
  impl_->shut_down = true;
  return impl_->pipeline->shutdown(timeout);
}

}  // namespace emp::telemetry
