#include "tail/tail_service.hpp"

#include <unistd.h>

#include <filesystem>

#include "forward/forward_log_output.hpp"

namespace emp::telemetry::tail {

TailOptions tail_options(const Config& c) {
  TailOptions o;
  o.context.service_name = c.service_name;
  o.context.service_type = c.service_type;
  o.context.environment = c.environment_name;
  o.context.machine_id = c.machine_id;
  o.db_path = (std::filesystem::path(c.log_dir) / "tail-positions.db").string();
  o.max_batch_records = c.log_batch.max_export_batch_size;
  o.gzip = c.fluentd_compress;
  o.gzip_level = c.compression_level;
  return o;
}

TailService::TailService(const Config& config, core::Accounting& accounting)
    : config_(config), accounting_(accounting) {}

TailService::~TailService() {
  const auto now = std::chrono::steady_clock::now();
  begin_shutdown(now);
  finish_shutdown(now);
}

std::optional<Error> TailService::add(std::string_view pattern, std::string_view tag) noexcept {
  try {
    if (pattern.empty()) return Error{"add_file", "the path or glob is empty; nothing is tailed"};
    if (config_.fluentd_host.empty())
      return Error{"add_file", "FLUENTD_HOST is not set, so lines of " + std::string(pattern) +
                                   " would have nowhere to go; the file is not tailed"};
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_)
      return Error{"add_file",
                   "the client is shut down; " + std::string(pattern) + " is not tailed"};
    if (forked())
      return Error{"add_file",
                   "this process is a fork of the one that tails files (which "
                   "keeps shipping them); " +
                       std::string(pattern) + " is not tailed here"};
    if (!tailer_) {
      owner_pid_ = ::getpid();
      std::error_code ec;
      std::filesystem::create_directories(config_.log_dir, ec);
      worker_ = forward::make_forward_worker(config_, accounting_, "fluentd/tail");
      tailer_ = std::make_unique<Tailer>(tail_options(config_), *worker_);
    }
    std::string problem = tailer_->add(std::string(pattern), std::string(tag));
    if (!problem.empty()) return Error{"add_file", problem};
    files_.emplace_back(pattern, tag);
    return std::nullopt;
  } catch (...) {
    return Error{"add_file", "out of memory; the file is not tailed"};
  }
}

bool TailService::forked() const noexcept { return tailer_ && ::getpid() != owner_pid_; }

void TailService::add_health(HealthSnapshot& h) const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tailer_ || forked()) return;
  const TailStats s = tailer_->stats();
  h.tail.lines = s.lines;
  h.tail.truncated = s.truncated;
  h.tail.rotations = s.rotations;
  h.tail.files_open = s.files_open;
  h.tail.errors = s.errors;
  try {
    DestinationHealth d = worker_->health();
    d.name += " (tailed files)";  // the service's own log records share the address
    h.destinations.push_back(std::move(d));
  } catch (...) {
  }
}

std::vector<std::pair<std::string, std::string>> TailService::files() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_;
}

void TailService::begin_shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  if (!tailer_) return;
  if (forked()) {
    // Their threads exist only in the parent: destroying them here would
    // join a thread id of the parent's. Left to the process's exit.
    (void)tailer_.release();
    (void)worker_.release();
    return;
  }
  // Stop reading and let the worker deliver (or spool) on its own thread
  // while the caller shuts the rest of the client down under the same
  // deadline: a Fluentd that is down must not eat the service's own time.
  tailer_->stop();
  worker_->begin_shutdown(deadline);
}

bool TailService::finish_shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (!worker_) return true;
  return worker_->shutdown(deadline);
}

}  // namespace emp::telemetry::tail
