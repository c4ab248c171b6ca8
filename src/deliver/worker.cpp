#include "deliver/worker.hpp"

#include "core/clock.hpp"

namespace emp::telemetry::deliver {

using Clock = std::chrono::steady_clock;
using deliver::Outcome;

DeliveryWorker::DeliveryWorker(Track track, std::unique_ptr<deliver::Destination> destination,
                               core::Accounting& accounting, Options options)
    : track_(track),
      destination_(std::move(destination)),
      accounting_(accounting),
      options_(std::move(options)),
      breaker_(options_.circuit) {
  if (!options_.spool_dir.empty()) {
    auto s = deliver::Spool::open(options_.spool_dir, options_.spool);
    if (s) {
      spool_ = std::move(s).value();
      auto st = spool_->stats();
      spool_items_ = st.items;
      spool_bytes_ = st.bytes;
      recovered_left_ = st.items;
      // Damage found while opening concerns data the earlier run counted.
      spool_damaged_seen_ = st.quarantined_items + st.torn_items;
      // Items an earlier run left on disk are offered again in this one.
      if (st.items && options_.primary) accounting_.recovered(track_, st.items);
    } else {
      std::string why = s.errors().empty() ? "unknown error" : s.errors()[0].to_string();
      accounting_.diagnostics().report("spool_open:" + options_.spool_dir,
                                       "disk spool unavailable, continuing without it: " + why);
    }
  }
  thread_ = std::thread([this] { run(); });
}

DeliveryWorker::~DeliveryWorker() { shutdown(Clock::now()); }

void DeliveryWorker::submit(deliver::Payload payload) noexcept {
  if (payload.items == 0) return;
  std::size_t n = payload.items;
  std::vector<std::size_t> evicted;
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      // The memory cap keeps the newest data: the oldest batches go first.
      while (!queue_.empty() && queued_bytes_ + payload.bytes.size() > options_.memory_cap) {
        queued_bytes_ -= queue_.front().bytes.size();
        evicted.push_back(queue_.front().items);
        queue_.pop_front();
      }
      if (queued_bytes_ + payload.bytes.size() <= options_.memory_cap || queue_.empty()) {
        try {
          queued_bytes_ += payload.bytes.size();
          queue_.push_back(std::move(payload));
          queued = true;
          cv_.notify_one();
        } catch (...) {
          queued_bytes_ -= payload.bytes.size();
        }
      }
    }
  }
  for (std::size_t e : evicted) count_dropped(DropReason::kMemoryCap, e);
  if (!evicted.empty())
    accounting_.diagnostics().report(
        "memory_cap:" + description(),
        "memory cap reached for " + description() + ": oldest batches dropped (memory_cap)");
  if (!queued) count_dropped(stopping_ ? DropReason::kShutdown : DropReason::kMemoryCap, n);
}

bool DeliveryWorker::wait_idle(Clock::time_point deadline) noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_until(lock, deadline,
                             [&] { return queue_.empty() && !busy_ && spool_items_ == 0; });
}

void DeliveryWorker::shutdown(Clock::time_point deadline) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    stop_deadline_ = deadline;
    cv_.notify_all();
  }
  {
    // Let the thread deliver until the deadline, then cut what is in flight;
    // the thread spools or counts what is left before it exits.
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait_until(lock, deadline, [&] { return queue_.empty() && !busy_; });
  }
  cancel_.store(true, std::memory_order_release);
  destination_->interrupt();
  {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : queue_) {
    dropped_[static_cast<std::size_t>(DropReason::kShutdown)] += p.items;
    if (options_.primary) accounting_.dropped(track_, DropReason::kShutdown, p.items);
  }
  queue_.clear();
  queued_bytes_ = 0;
}

void DeliveryWorker::after_fork_child() noexcept {
  // The thread does not exist here: forget it without join or detach.
  new (&thread_) std::thread();
  // Condition variables the parent's threads waited on are unusable here.
  new (&cv_) std::condition_variable();
  new (&idle_cv_) std::condition_variable();
  // The spool directory is locked by the parent; the child runs without it.
  if (spool_) {
    spool_->detach();
    spool_.reset();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.clear();
    queued_bytes_ = 0;
    busy_ = false;
    delivered_ = retried_ = 0;
    dropped_ = {};
    last_success_ = 0;
    last_error_.clear();
    degraded_ = false;
    spool_items_ = spool_bytes_ = recovered_left_ = 0;
    cancel_.store(false, std::memory_order_release);
  }
  destination_->after_fork_child();
  if (stopping_) return;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    accounting_.diagnostics().report("fork_sink",
                                     "could not restart an export thread after fork()");
  }
}

std::string DeliveryWorker::description() const {
  try {
    return destination_->description();
  } catch (...) {
    return "otlp destination";
  }
}

void DeliveryWorker::count_written(std::size_t n, bool from_spool) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivered_ += n;
    last_success_ = core::now_unix_nano();
    degraded_ = false;
    if (from_spool) recovered_left_ -= std::min<std::uint64_t>(recovered_left_, n);
  }
  if (options_.primary) accounting_.written(track_, n);
}

void DeliveryWorker::count_dropped(DropReason r, std::size_t n) noexcept {
  if (n == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped_[static_cast<std::size_t>(r)] += n;
  }
  if (options_.primary) accounting_.dropped(track_, r, n);
}

void DeliveryWorker::account(const deliver::Payload& p, const deliver::DeliveryResult& r,
                             bool from_spool) noexcept {
  switch (r.outcome) {
    case Outcome::kDelivered:
      count_written(p.items, from_spool);
      return;
    case Outcome::kPartial: {
      std::size_t rejected = std::min(r.rejected, p.items);
      count_written(p.items - rejected, from_spool);
      count_dropped(r.drop_reason, rejected);
      accounting_.diagnostics().report("otlp_partial:" + description(),
                                       "partial success from " + description() + ": " + r.message);
      return;
    }
    case Outcome::kPermanent:
      count_dropped(r.drop_reason, p.items);
      break;
    case Outcome::kRetryable:
      break;  // the caller decides: retry, spool or drop
  }
  accounting_.error(track_);
  try {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = r.message;
    degraded_ = true;
  } catch (...) {
  }
  accounting_.diagnostics().report(
      "otlp_error:" + description() + ":" + std::to_string(r.http_status),
      "export to " + description() + " failed: " + r.message);
}

void DeliveryWorker::update_spool_stats() noexcept {
  if (!spool_) return;
  auto st = spool_->stats();
  // Records the spool found damaged (quarantined) or torn by a crash left
  // the spool without being delivered: they are lost to an I/O error.
  std::uint64_t damaged = st.quarantined_items + st.torn_items;
  std::uint64_t lost = damaged > spool_damaged_seen_ ? damaged - spool_damaged_seen_ : 0;
  spool_damaged_seen_ = damaged;
  {
    std::lock_guard<std::mutex> lock(mu_);
    spool_items_ = st.items;
    spool_bytes_ = st.bytes;
    if (lost) recovered_left_ -= std::min<std::uint64_t>(recovered_left_, lost);
    if (queue_.empty() && !busy_ && spool_items_ == 0) idle_cv_.notify_all();
  }
  if (lost) {
    count_dropped(DropReason::kIoError, lost);
    accounting_.diagnostics().report(
        "spool_damaged:" + description(),
        "damaged records in the disk spool of " + description() + " were quarantined (io_error)");
  }
}

bool DeliveryWorker::spill(const deliver::Payload& p, DropReason reason_without_spool) noexcept {
  if (!spool_) {
    count_dropped(reason_without_spool, p.items);
    return false;
  }
  deliver::SpoolAppend a = spool_->append(p);
  if (a.evicted_items) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      recovered_left_ -= std::min<std::uint64_t>(recovered_left_, a.evicted_items);
    }
    count_dropped(DropReason::kSpoolFull, a.evicted_items);
    accounting_.diagnostics().report(
        "spool_full:" + description(),
        "disk spool full for " + description() + ": oldest data dropped (spool_full)");
  }
  if (!a.stored) {
    count_dropped(a.too_large ? DropReason::kSpoolFull : reason_without_spool, p.items);
    accounting_.diagnostics().report(
        "spool_write:" + description(),
        "could not spool a batch for " + description() + ": " + a.error);
    return false;
  }
  return true;
}

void DeliveryWorker::spill_queue(DropReason reason_without_spool) noexcept {
  for (;;) {
    deliver::Payload p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
      p = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= p.bytes.size();
      busy_ = true;
    }
    spill(p, reason_without_spool);
    std::lock_guard<std::mutex> lock(mu_);
    busy_ = false;
  }
  if (spool_) spool_->commit();
  update_spool_stats();
}

bool DeliveryWorker::stop_due() noexcept {
  if (cancel_.load(std::memory_order_acquire)) return true;
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_ && Clock::now() >= stop_deadline_;
}

bool DeliveryWorker::deliver_with_retry(const deliver::Payload& p, bool from_spool) noexcept {
  deliver::RetryState retry(options_.retry);
  for (;;) {
    deliver::Deadline d = options_.export_timeout.count() > 0
                              ? deliver::Deadline::after(options_.export_timeout)
                              : deliver::Deadline::none();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && stop_deadline_ < d.at) d.at = stop_deadline_;
    }
    d.cancel = &cancel_;
    deliver::DeliveryResult r = destination_->deliver(p, d);
    const auto now = Clock::now();
    if (r.outcome != Outcome::kRetryable) {
      breaker_.on_success();  // the destination answered: it is reachable
      account(p, r, from_spool);
      return true;
    }
    breaker_.on_failure(now);
    account(p, r, from_spool);
    if (stop_due() || !options_.retry.enabled) return false;
    if (breaker_.state() == deliver::CircuitBreaker::State::kOpen) return false;
    auto delay = retry.next_delay(r, now);
    if (!delay) return false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++retried_;
    }
    // Keep memory bounded while we wait: with a spool, the queue goes to disk.
    if (spool_) {
      bool spill_now;
      {
        std::lock_guard<std::mutex> lock(mu_);
        spill_now = queued_bytes_ > options_.memory_cap / 2;
      }
      if (spill_now) spill_queue(DropReason::kMemoryCap);
    }
    std::unique_lock<std::mutex> lock(mu_);
    auto until = now + *delay;
    if (stopping_ && stop_deadline_ < until) until = stop_deadline_;
    cv_.wait_until(lock, until,
                   [&] { return cancel_.load() || (stopping_ && Clock::now() >= stop_deadline_); });
    if (cancel_.load() || (stopping_ && Clock::now() >= stop_deadline_)) return false;
  }
}

void DeliveryWorker::run() noexcept {
  for (;;) {
    bool from_spool = false;
    deliver::Payload p;
    const deliver::Payload* target = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        if (cancel_.load() || (stopping_ && Clock::now() >= stop_deadline_)) break;
        bool have_spool = spool_items_ > 0;
        if (!queue_.empty() || have_spool) {
          if (breaker_.state() != deliver::CircuitBreaker::State::kOpen) break;
          if (Clock::now() >= breaker_.retry_at()) break;
          // Breaker open: queued batches go to disk, or are counted
          // circuit_open without one; neither touches the network.
          if (!queue_.empty()) break;
          cv_.wait_until(lock, breaker_.retry_at());
          continue;
        }
        if (stopping_) break;
        idle_cv_.notify_all();
        cv_.wait(lock);
      }
      if (cancel_.load() || stopping_) {
        // Stopping: what could not be delivered in time goes to disk.
        if (queue_.empty() || cancel_.load() || Clock::now() >= stop_deadline_) {
          lock.unlock();
          spill_queue(DropReason::kShutdown);
          if (spool_) spool_->commit();
          std::lock_guard<std::mutex> g(mu_);
          busy_ = false;
          idle_cv_.notify_all();
          return;
        }
      }
      busy_ = true;
    }
    const auto now = Clock::now();
    if (!breaker_.allow(now)) {
      // Open and not yet time to probe: only spilling is left to do.
      spill_queue(DropReason::kCircuitOpen);
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
      continue;
    }
    if (spool_ && spool_items_ > 0) {
      if (const deliver::SpoolRecord* rec = spool_->peek()) {
        target = &rec->payload;
        from_spool = true;
      } else {
        update_spool_stats();
      }
    }
    if (!target) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!queue_.empty()) {
        p = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= p.bytes.size();
        target = &p;
      }
    }
    if (target) {
      bool done = deliver_with_retry(*target, from_spool);
      if (from_spool) {
        if (done) {
          spool_->pop();
        }
        // Not done: it stays first in the spool; the breaker paces retries.
        update_spool_stats();
      } else if (!done) {
        bool stopping = stop_due();
        bool open = breaker_.state() == deliver::CircuitBreaker::State::kOpen;
        spill(p, stopping ? DropReason::kShutdown
                 : open   ? DropReason::kCircuitOpen
                          : DropReason::kRetryExhausted);
        if (spool_) spool_->commit();
        update_spool_stats();
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    busy_ = false;
    if (queue_.empty() && spool_items_ == 0) idle_cv_.notify_all();
  }
}

DestinationHealth DeliveryWorker::health() const {
  DestinationHealth h;
  h.name = description();
  h.track = track_;
  auto st = destination_->stats();
  h.requests = st.attempts;
  h.connections_opened = st.connections_opened;
  std::lock_guard<std::mutex> lock(mu_);
  h.primary = options_.primary;
  h.delivered = delivered_;
  h.retried = retried_;
  h.dropped = dropped_;
  h.queue_bytes = queued_bytes_;
  h.spool_bytes = spool_bytes_;
  h.spooled = spool_items_;
  h.last_success_unix_nano = last_success_;
  h.last_error = last_error_;
  h.state = breaker_.state() == deliver::CircuitBreaker::State::kOpen ? "circuit_open"
            : degraded_                                               ? "degraded"
                                                                      : "healthy";
  return h;
}

}  // namespace emp::telemetry::deliver
