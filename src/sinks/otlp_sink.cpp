#include "sinks/otlp_sink.hpp"

#include "core/clock.hpp"

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
  count_dropped(DropReason::kQueueFull, n);
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
  for (auto& p : queue_) {
    dropped_[static_cast<std::size_t>(DropReason::kShutdown)] += p.items;
    if (options_.primary) accounting_.dropped(track_, DropReason::kShutdown, p.items);
  }
  queue_.clear();
  queued_bytes_ = 0;
}

void OtlpSink::after_fork_child() noexcept {
  // The thread does not exist here: forget it without join or detach.
  new (&thread_) std::thread();
  // Condition variables the parent's threads waited on are unusable here.
  new (&cv_) std::condition_variable();
  new (&idle_cv_) std::condition_variable();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.clear();
    queued_bytes_ = 0;
    busy_ = false;
    delivered_ = 0;
    dropped_ = {};
    last_success_ = 0;
    last_error_.clear();
    degraded_ = false;
    cancel_.store(false, std::memory_order_release);
  }
  destination_->after_fork_child();
  if (stopping_) return;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    accounting_.diagnostics().report("fork_sink", "could not restart an export thread after fork()");
  }
}

std::string OtlpSink::description() const {
  try {
    return destination_->description();
  } catch (...) {
    return "otlp destination";
  }
}

void OtlpSink::count_written(std::size_t n) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivered_ += n;
    last_success_ = core::now_unix_nano();
    degraded_ = false;
  }
  if (options_.primary) accounting_.written(track_, n);
}

void OtlpSink::count_dropped(DropReason r, std::size_t n) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped_[static_cast<std::size_t>(r)] += n;
  }
  if (options_.primary) accounting_.dropped(track_, r, n);
}

void OtlpSink::account(const deliver::Payload& p, const deliver::DeliveryResult& r) noexcept {
  using deliver::Outcome;
  switch (r.outcome) {
    case Outcome::kDelivered: count_written(p.items); return;
    case Outcome::kPartial: {
      std::size_t rejected = std::min(r.rejected, p.items);
      count_written(p.items - rejected);
      count_dropped(DropReason::kRejected, rejected);
      accounting_.diagnostics().report("otlp_partial:" + description(),
                                       "partial success from " + description() + ": " + r.message);
      return;
    }
    case Outcome::kRetryable:
      count_dropped(cancel_.load() ? DropReason::kShutdown : DropReason::kRetryExhausted, p.items);
      break;
    case Outcome::kPermanent: count_dropped(DropReason::kRejected, p.items); break;
  }
  accounting_.error(track_);
  try {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = r.message;
    degraded_ = true;
  } catch (...) {
  }
  accounting_.diagnostics().report("otlp_error:" + description() + ":" + std::to_string(r.http_status),
                                   "export to " + description() + " failed: " + r.message);
}

DestinationHealth OtlpSink::health() const {
  DestinationHealth h;
  h.name = description();
  h.track = track_;
  auto st = destination_->stats();
  h.requests = st.attempts;
  h.connections_opened = st.connections_opened;
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mu_));
  h.delivered = delivered_;
  h.dropped = dropped_;
  h.queue_bytes = queued_bytes_;
  h.last_success_unix_nano = last_success_;
  h.last_error = last_error_;
  h.state = degraded_ ? "degraded" : "healthy";
  return h;
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
