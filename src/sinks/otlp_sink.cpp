#include "sinks/otlp_sink.hpp"

namespace emp::telemetry::sinks {

using Clock = std::chrono::steady_clock;

OtlpSink::OtlpSink(Track track, std::unique_ptr<deliver::Destination> destination,
                   core::Accounting& accounting, Options options)
    : track_(track), destination_(std::move(destination)), accounting_(accounting), options_(options) {
  thread_ = std::thread([this] { run(); });
}

OtlpSink::~OtlpSink() { shutdown(Clock::now()); }

void OtlpSink::submit(deliver::Payload payload) noexcept {
  if (payload.items == 0) return;
  std::size_t n = payload.items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queued_bytes_ + payload.bytes.size() <= options_.max_queue_bytes) {
      queued_bytes_ += payload.bytes.size();
      try {
        queue_.push_back(std::move(payload));
        cv_.notify_one();
        return;
      } catch (...) {
        queued_bytes_ -= payload.bytes.size();
      }
    }
  }
  accounting_.dropped(track_, DropReason::kQueueFull, n);
  accounting_.diagnostics().report("otlp_queue_full:" + std::string(to_string(track_)),
                                   "export queue full for " + description() +
                                       ": batches are being dropped (queue_full)");
}

bool OtlpSink::wait_idle(Clock::time_point deadline) noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [&] { return queue_.empty() && !busy_; });
}

void OtlpSink::shutdown(Clock::time_point deadline) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    stop_deadline_ = deadline;
    cv_.notify_one();
  }
  {
    // Let the thread send until the deadline, then cut what is in flight.
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait_until(lock, deadline, [&] { return queue_.empty() && !busy_; });
  }
  cancel_.store(true, std::memory_order_release);
  destination_->interrupt();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : queue_) accounting_.dropped(track_, DropReason::kShutdown, p.items);
  queue_.clear();
  queued_bytes_ = 0;
}

std::string OtlpSink::description() const {
  try {
    return destination_->description();
  } catch (...) {
    return "otlp destination";
  }
}

void OtlpSink::account(const deliver::Payload& p, const deliver::DeliveryResult& r) noexcept {
  using deliver::Outcome;
  switch (r.outcome) {
    case Outcome::kDelivered: accounting_.written(track_, p.items); return;
    case Outcome::kPartial: {
      std::size_t rejected = std::min(r.rejected, p.items);
      accounting_.written(track_, p.items - rejected);
      accounting_.dropped(track_, DropReason::kRejected, rejected);
      accounting_.diagnostics().report("otlp_partial:" + description(),
                                       "partial success from " + description() + ": " + r.message);
      return;
    }
    case Outcome::kRetryable:
      accounting_.dropped(track_, cancel_.load() ? DropReason::kShutdown : DropReason::kRetryExhausted,
                          p.items);
      break;
    case Outcome::kPermanent: accounting_.dropped(track_, DropReason::kRejected, p.items); break;
  }
  accounting_.error(track_);
  accounting_.diagnostics().report("otlp_error:" + description() + ":" + std::to_string(r.http_status),
                                   "export to " + description() + " failed: " + r.message);
}

void OtlpSink::run() noexcept {
  for (;;) {
    deliver::Payload p;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() || cancel_.load(std::memory_order_acquire)) {
        if (stopping_) return;
        continue;
      }
      p = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= p.bytes.size();
      busy_ = true;
    }
    // A zero export timeout means no limit (OTEL_EXPORTER_OTLP_TIMEOUT=0).
    deliver::Deadline d = options_.export_timeout.count() > 0
                              ? deliver::Deadline::after(options_.export_timeout)
                              : deliver::Deadline::none();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && stop_deadline_ < d.at) d.at = stop_deadline_;
    }
    d.cancel = &cancel_;
    deliver::DeliveryResult r = destination_->deliver(p, d);
    account(p, r);
    std::lock_guard<std::mutex> lock(mu_);
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace emp::telemetry::sinks
