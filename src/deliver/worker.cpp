#include "deliver/worker.hpp"

#include <algorithm>
#include <cmath>

#include "core/clock.hpp"

namespace emp::telemetry::deliver {

namespace {
// The replay never starts slower than this (batches/s), so that a backlog
// whose producer went quiet still drains.
constexpr double kRampFloor = 0.1;
// The replay never goes faster than this many times the arrival rate: the
// usual traffic plus three quarters as much again of backlog. A fleet that
// recovers together thus offers its collector less than twice its usual
// load (with room for clients that happen to send in the same second), and
// a backlog drains in about 4/3 of the outage that made it.
constexpr double kRampMaxFactor = 1.75;
// Weight of the last one-second window in the arrival rate (about 5 s).
constexpr double kArrivalWeight = 0.2;
std::uint64_t seed_or_random(std::uint64_t seed) noexcept {
  if (seed != 0) return seed;
  try {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  } catch (...) {
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
}
}  // namespace

namespace {
std::vector<std::unique_ptr<deliver::Destination>> one(std::unique_ptr<deliver::Destination> d) {
  std::vector<std::unique_ptr<deliver::Destination>> v;
  v.push_back(std::move(d));
  return v;
}
}  // namespace

DeliveryWorker::DeliveryWorker(Track track, std::unique_ptr<deliver::Destination> destination,
                               core::Accounting& accounting, Options options)
    : DeliveryWorker(track, one(std::move(destination)), accounting, std::move(options)) {}

DeliveryWorker::DeliveryWorker(Track track,
                               std::vector<std::unique_ptr<deliver::Destination>> endpoints,
                               core::Accounting& accounting, Options options)
    : track_(track),
      accounting_(accounting),
      options_(std::move(options)),
      head_retry_(options_.retry, seed_or_random(options_.seed) ^ 0x5bd1e995u) {
  // Each endpoint's probes draw their own jitter (seeded: reproducible).
  const std::uint64_t seed = seed_or_random(options_.seed);
  for (auto& d : endpoints) {
    if (!d) continue;
    const std::uint64_t s = seed + 0x9e3779b97f4a7c15ull * endpoints_.size();
    endpoints_.push_back(
        std::make_unique<Endpoint>(std::move(d), options_.circuit, options_.retry, s));
  }
  if (endpoints_.empty()) {
    // A programming error upstream; a file-less sink that refuses everything
    // keeps the worker's invariants (never empty) without crashing the host.
    struct Refusing final : deliver::Destination {
      deliver::DeliveryResult deliver(const deliver::Payload&, deliver::Deadline) noexcept override {
        deliver::DeliveryResult r;
        r.outcome = Outcome::kPermanent;
        r.message = "no endpoint configured";
        return r;
      }
      deliver::DestinationStats stats() const noexcept override { return {}; }
      std::string description() const override { return "no endpoint"; }
    };
    endpoints_.push_back(
        std::make_unique<Endpoint>(std::make_unique<Refusing>(), options_.circuit, options_.retry, seed));
  }
  if (!options_.spool_dir.empty()) {
    auto s = deliver::Spool::open(options_.spool_dir, options_.spool);
    if (s) {
      spool_ = std::move(s).value();
      auto st = spool_->stats();
      spool_items_ = st.items;
      spool_bytes_ = st.bytes;
      recovered_left_ = st.items;
      // Damage found while opening concerns data the earlier run counted as
      // spooled: it is offered again here and lost to an I/O error.
      const std::uint64_t damaged = st.quarantined_items + st.torn_items;
      spool_damaged_seen_ = damaged;
      if ((st.items || damaged) && options_.primary)
        accounting_.recovered(track_, st.items + damaged);
      if (damaged || st.quarantined || st.torn_records) {
        count_dropped(DropReason::kIoError, damaged);
        std::string what = "the disk spool " + options_.spool_dir + " of " + description();
        if (st.quarantined_items || st.quarantined) {
          what += " was damaged: about " + std::to_string(damaged) +
                  " items an earlier run spooled are lost (io_error); damaged data kept in "
                  "*.corrupt files there";
        } else {
          // Only the record being written when the earlier run died: its
          // append never returned, so that run had not counted it as spooled.
          what += " ended in a record cut short when an earlier run stopped: " +
                  std::to_string(damaged) + " items in it are lost (io_error); the rest replays";
        }
        accounting_.diagnostics().report("spool_damaged_at_start:" + options_.spool_dir, what);
        last_error_ = std::move(what);
      }
    } else {
      std::string why = s.errors().empty() ? "unknown error" : s.errors()[0].to_string();
      accounting_.diagnostics().report("spool_open:" + options_.spool_dir,
                                       "disk spool unavailable, continuing without it: " + why);
    }
  }
  if (!options_.manual) thread_ = std::thread([this] { run(); });
}

DeliveryWorker::~DeliveryWorker() { shutdown(Clock::now()); }

void DeliveryWorker::submit(deliver::Payload payload) noexcept {
  submit(std::move(payload), Clock::now());
}

void DeliveryWorker::submit(deliver::Payload payload, Clock::time_point now) noexcept {
  // A payload with bytes and no items is protocol bookkeeping (a Sentry
  // client report alone): sent, never counted.
  if (payload.items == 0 && payload.bytes.empty()) return;
  std::size_t n = payload.items;
  std::vector<std::size_t> evicted;
  bool queued = false;
  bool finished = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished = finished_;
    if (!finished_) {
      roll_arrivals(now);
      ++arrivals_in_window_;
      // The memory cap keeps the newest data: the oldest batches go first.
      // (With a spool the worker moves them to disk well before this.)
      const std::size_t size = payload.bytes.size();
      while (!queue_.empty() && queued_bytes_ + inflight_bytes_ + size > options_.memory_cap) {
        queued_bytes_ -= queue_.front().payload.bytes.size();
        evicted.push_back(queue_.front().payload.items);
        queue_.pop_front();
      }
      if (queued_bytes_ + inflight_bytes_ + size <= options_.memory_cap || queue_.empty()) {
        try {
          queue_.push_back(Entry{std::move(payload), now});
          queued_bytes_ += size;
          queued = true;
          wake_ = true;
          cv_.notify_one();
        } catch (...) {
        }
      }
    }
  }
  for (std::size_t e : evicted) count_dropped(DropReason::kMemoryCap, e);
  if (!evicted.empty())
    accounting_.diagnostics().report(
        "memory_cap:" + description(),
        "memory cap reached for " + description() + ": oldest batches dropped (memory_cap)");
  if (!queued) count_dropped(finished ? DropReason::kShutdown : DropReason::kMemoryCap, n);
}

std::string DeliveryWorker::take_buffer() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  spares_wanted_ = true;
  if (spare_.empty()) return {};
  std::string b = std::move(spare_.front());
  spare_.pop_front();
  return b;
}

void DeliveryWorker::keep_spare(std::string& bytes) noexcept {
  if (!spares_wanted_ || spare_.size() >= kSpareBuffers) return;
  std::size_t kept = bytes.capacity();
  for (const std::string& b : spare_) kept += b.capacity();
  if (kept > kMaxSpareBytes) return;
  try {
    bytes.clear();
    spare_.push_back(std::move(bytes));
  } catch (...) {
  }
}

std::size_t DeliveryWorker::queued_bytes() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_bytes_ + inflight_bytes_;
}

double DeliveryWorker::arrival_rate() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  return arrivals_per_s_;
}

void DeliveryWorker::roll_arrivals(Clock::time_point now) const noexcept {
  constexpr auto kWindow = std::chrono::seconds(1);
  if (arrival_window_ == Clock::time_point{}) arrival_window_ = now;
  // Windows that ended without arrivals decay the average; after a minute
  // of them it is as good as zero.
  for (int i = 0; i < 64 && now - arrival_window_ >= kWindow; ++i) {
    arrivals_per_s_ = kArrivalWeight * arrivals_in_window_ + (1 - kArrivalWeight) * arrivals_per_s_;
    arrivals_in_window_ = 0;
    arrival_window_ += kWindow;
  }
  if (now - arrival_window_ >= kWindow) {
    arrivals_per_s_ = 0;
    arrival_window_ = now;
  }
}

double DeliveryWorker::ramp_rate(Clock::time_point now) const noexcept {
  const double ramp_s = std::chrono::duration<double>(options_.circuit.recovery_ramp).count();
  const double t = std::chrono::duration<double>(now - ramp_from_).count();
  return ramp_base_ * std::exp2(std::clamp(t / ramp_s, 0.0, std::log2(kRampMaxFactor)));
}

std::uint64_t DeliveryWorker::resolved_items() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  std::uint64_t n = delivered_ + spool_items_;
  for (auto d : dropped_) n += d;
  return n;
}

bool DeliveryWorker::wait_idle(Clock::time_point deadline) noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [&] {
    if (finished_) return true;
    return queue_.empty() && !busy_ && (spool_items_ == 0 || stopping_);
  });
}

void DeliveryWorker::begin_shutdown(Clock::time_point deadline) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stopping_ || deadline < stop_deadline_) stop_deadline_ = deadline;
  stopping_ = true;
  wake_ = true;
  cv_.notify_all();
}

bool DeliveryWorker::shutdown(Clock::time_point deadline) noexcept {
  const auto shutdown_drops = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return dropped_[static_cast<std::size_t>(DropReason::kShutdown)];
  };
  begin_shutdown(deadline);
  const std::uint64_t before = shutdown_drops();
  if (options_.manual) {
    // No thread: settle now (what cannot be spooled counts `shutdown`).
    cancel_.store(true, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return true;
    }
    step(Clock::now());
    return shutdown_drops() == before;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!thread_.joinable()) return true;
    // The thread delivers until the deadline, spools what it cannot, ends.
    idle_cv_.wait_until(lock, deadline, [&] { return finished_; });
  }
  cancel_.store(true, std::memory_order_release);
  for (auto& e : endpoints_) e->destination->interrupt();
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
    cv_.notify_all();
  }
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& e : queue_) {
    dropped_[static_cast<std::size_t>(DropReason::kShutdown)] += e.payload.items;
    if (options_.primary) accounting_.dropped(track_, DropReason::kShutdown, e.payload.items);
  }
  queue_.clear();
  queued_bytes_ = 0;
  return dropped_[static_cast<std::size_t>(DropReason::kShutdown)] == before;
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
    queued_bytes_ = inflight_bytes_ = 0;
    busy_ = false;
    wake_ = false;
    delivered_ = retried_ = 0;
    dropped_ = {};
    last_success_ = 0;
    last_error_.clear();
    spool_items_ = spool_bytes_ = recovered_left_ = 0;
    cancel_.store(false, std::memory_order_release);
    for (auto& e : endpoints_) {
      e->last_failed.store(false, std::memory_order_relaxed);
      e->last_error.clear();
    }
    head_retry_.reset();
    next_attempt_ = {};
    pacing_ = ramping_ = false;
    arrivals_per_s_ = 0;
    arrivals_in_window_ = 0;
    arrival_window_ = {};
    if (stopping_ || options_.manual) return;
  }
  for (auto& e : endpoints_) e->destination->after_fork_child();
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    accounting_.diagnostics().report("fork_sink",
                                     "could not restart a delivery thread after fork()");
  }
}

std::string DeliveryWorker::description() const {
  try {
    return endpoints_[0]->destination->description();
  } catch (...) {
    return options_.stream.empty() ? std::string("destination") : options_.stream;
  }
}

bool DeliveryWorker::failing() const noexcept {
  for (const auto& e : endpoints_) {
    if (!e->last_failed.load(std::memory_order_relaxed) &&
        e->breaker.state() == CircuitBreaker::State::kClosed)
      return false;
  }
  return true;
}

bool DeliveryWorker::all_open() const noexcept {
  for (const auto& e : endpoints_)
    if (e->breaker.state() != CircuitBreaker::State::kOpen) return false;
  return true;
}

bool DeliveryWorker::other_endpoint_ready(std::size_t i, Clock::time_point now) const noexcept {
  for (std::size_t j = 0; j < endpoints_.size(); ++j) {
    if (j == i) continue;
    const Endpoint& e = *endpoints_[j];
    if (e.breaker.state() == CircuitBreaker::State::kClosed &&
        !e.last_failed.load(std::memory_order_relaxed) && now >= e.not_before)
      return true;
  }
  return false;
}

deliver::DestinationStats DeliveryWorker::stats() const noexcept {
  deliver::DestinationStats sum;
  for (const auto& e : endpoints_) {
    const deliver::DestinationStats s = e->destination->stats();
    sum.attempts += s.attempts;
    sum.delivered += s.delivered;
    sum.partial += s.partial;
    sum.retryable += s.retryable;
    sum.permanent += s.permanent;
    sum.items_rejected += s.items_rejected;
    sum.bytes_sent += s.bytes_sent;
    sum.connections_opened += s.connections_opened;
  }
  return sum;
}

void DeliveryWorker::count_written(std::size_t n, bool from_spool) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivered_ += n;
    last_success_ = core::now_unix_nano();
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
      accounting_.diagnostics().report("partial:" + description(),
                                       "partial success from " + description() + ": " + r.message);
      if (rejected < p.items) return;
      break;  // everything refused: an error like a permanent one
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
  } catch (...) {
  }
  accounting_.diagnostics().report(
      "export_error:" + description() + ":" + std::to_string(r.http_status),
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
    // A batch the disk could not take is lost to the disk, whatever made it
    // leave memory: too large for the spool (spool_full) or a write error.
    count_dropped(a.too_large ? DropReason::kSpoolFull : DropReason::kIoError, p.items);
    accounting_.diagnostics().report(
        "spool_write:" + description(),
        "could not spool a batch for " + description() + ": " + a.error);
    return false;
  }
  return true;
}

void DeliveryWorker::spill_queue(std::size_t keep_bytes, DropReason reason_without_spool) noexcept {
  bool any = false;
  for (;;) {
    deliver::Payload p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty() || queued_bytes_ <= keep_bytes) break;
      p = std::move(queue_.front().payload);
      queue_.pop_front();
      queued_bytes_ -= p.bytes.size();
      busy_ = true;
    }
    spill(p, reason_without_spool);
    any = true;
  }
  end_spill(any);
}

void DeliveryWorker::end_spill(bool spilled) noexcept {
  if (spilled && spool_) spool_->commit();
  // The batches taken from the queue count as spooled before the worker
  // stops counting as busy: in between, a flush would find nothing
  // waiting and report success for data that is on disk, not delivered.
  update_spool_stats();
  std::lock_guard<std::mutex> lock(mu_);
  busy_ = false;
  if (queue_.empty() && spool_items_ == 0) idle_cv_.notify_all();
}

void DeliveryWorker::expire_queue(Clock::time_point now) noexcept {
  const auto limit = options_.retry.max_elapsed;
  if (limit.count() <= 0) return;
  bool any = false;
  for (;;) {
    deliver::Payload p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty() || now - queue_.front().queued_at <= limit) break;
      p = std::move(queue_.front().payload);
      queue_.pop_front();
      queued_bytes_ -= p.bytes.size();
      busy_ = true;
    }
    spill(p, DropReason::kRetryExhausted);
    any = true;
  }
  if (any) end_spill(true);
}

DeliveryWorker::Clock::time_point DeliveryWorker::step(Clock::time_point now) noexcept {
  constexpr auto kNever = Clock::time_point::max();
  bool stopping, queue_empty;
  Clock::time_point deadline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return kNever;
    stopping = stopping_;
    deadline = stop_deadline_;
    queue_empty = queue_.empty();
  }
  // Stopping: past the deadline, or with the destination failing (waiting
  // would only burn the deadline), what is still in memory goes to disk or
  // is counted `shutdown`. Data on disk is done: the next start sends it.
  const bool cut = cancel_.load(std::memory_order_acquire) || (stopping && now >= deadline);
  if (stopping && (cut || queue_empty || (spool_ && failing()))) {
    spill_queue(0, DropReason::kShutdown);
    if (spool_) spool_->commit();
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    busy_ = false;
    idle_cv_.notify_all();
    return kNever;
  }
  const bool open = all_open();
  // Memory: with a spool, an open breaker (the destination is known to be
  // down) sends the backlog to disk, where a crash cannot take it; a backlog
  // beyond three quarters of the cap moves there too, oldest first, so that
  // the cap itself never has to drop.
  if (spool_ && open) spill_queue(0, DropReason::kMemoryCap);
  if (spool_) {
    std::size_t waiting;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiting = queued_bytes_ + inflight_bytes_;
    }
    if (waiting > options_.memory_cap / 4 * 3)
      spill_queue(options_.memory_cap / 2, DropReason::kMemoryCap);
  }
  // The head batch's own retry state bounds its wait; the batches behind it
  // are bounded here while the destination stays down.
  if (open) expire_queue(now);

  bool have_work;
  {
    std::lock_guard<std::mutex> lock(mu_);
    have_work = !queue_.empty() || spool_items_ > 0;
    // The paced replay ends with the backlog: one batch waiting is what a
    // healthy destination's queue holds anyway.
    if (pacing_ && ramping_ && queue_.size() <= 1 && spool_items_ == 0) pacing_ = ramping_ = false;
    if (!have_work) {
      idle_cv_.notify_all();
      return kNever;
    }
  }
  if (now < next_attempt_) return next_attempt_;
  // Replaying a backlog: one batch per 1/rate at most. Shutdown is not
  // paced: its deadline is short and what is left would be lost to it.
  if (pacing_ && ramping_ && !stopping && now < next_paced_) return next_paced_;
  // The first endpoint, in order of preference, that is not backing off and
  // whose breaker lets a batch through: an open primary past its cooldown
  // takes this batch as its probe.
  std::size_t use = endpoints_.size();
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    if (now < endpoints_[i]->not_before) continue;
    if (endpoints_[i]->breaker.allow(now)) {
      use = i;
      break;
    }
  }
  if (use == endpoints_.size()) {
    // Every endpoint backing off or open (or a probe cut by our own deadline
    // still pending): wait for the first one due.
    Clock::time_point due = Clock::time_point::max();
    for (const auto& e : endpoints_) {
      Clock::time_point t = e->not_before;
      if (e->breaker.state() == CircuitBreaker::State::kOpen) t = std::max(t, e->breaker.retry_at());
      due = std::min(due, t);
    }
    return std::max(due, now + std::chrono::milliseconds(10));
  }
  Endpoint& ep = *endpoints_[use];

  // The oldest data goes first: the spool holds what was queued before.
  Source src = Source::kNone;
  deliver::Payload local;
  Clock::time_point queued_at{};
  const deliver::Payload* target = nullptr;
  if (spool_ && spool_items_ > 0) {
    if (const deliver::SpoolRecord* rec = spool_->peek()) {
      target = &rec->payload;
      src = Source::kSpool;
    } else {
      update_spool_stats();
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!target && !queue_.empty()) {
      local = std::move(queue_.front().payload);
      queued_at = queue_.front().queued_at;
      queue_.pop_front();
      queued_bytes_ -= local.bytes.size();
      inflight_bytes_ = local.bytes.size();
      target = &local;
      src = Source::kQueue;
    }
    busy_ = target != nullptr;
  }
  if (!target) return now;

  deliver::Deadline d = options_.export_timeout.count() > 0
                            ? deliver::Deadline::after(options_.export_timeout)
                            : deliver::Deadline::none();
  if (stopping && deadline < d.at) d.at = deadline;
  d.cancel = &cancel_;
  deliver::DeliveryResult r = ep.destination->deliver(*target, d);
  // The transport stops at the deadline and calls the attempt cancelled.
  // Only our own cut (cancel_, or the stop deadline shortening the attempt)
  // is a cancellation; the export timeout passing is a timeout like the one
  // libcurl reports, retried and counted, whichever noticed it first.
  if (r.cancelled && !cancel_.load(std::memory_order_acquire) && !(stopping && d.at == deadline))
    r.cancelled = false;
  ep.tried.store(true, std::memory_order_relaxed);
  if (!r.cancelled && active_.exchange(use, std::memory_order_relaxed) != use)
    switches_.fetch_add(1, std::memory_order_relaxed);
  // Manual mode: the attempt took the time the (simulated) destination says.
  const Clock::time_point after =
      options_.manual ? now + std::max(r.elapsed, std::chrono::milliseconds(0)) : Clock::now();
  const bool pace = options_.circuit.recovery_ramp.count() > 0;

  bool requeue = false;
  bool spilled = false;  // the batch left the queue for the spool
  if (r.outcome != Outcome::kRetryable) {
    ep.breaker.on_success();  // the endpoint answered: it is reachable
    ep.not_before = {};
    ep.backoff.reset();
    if (r.outcome == Outcome::kDelivered || r.outcome == Outcome::kPartial)
      ep.delivered.fetch_add(target->items - std::min(r.rejected, target->items),
                             std::memory_order_relaxed);
    ep.last_failed.store(r.outcome == Outcome::kPermanent ||
                           (r.outcome == Outcome::kPartial && r.rejected >= target->items),
                       std::memory_order_relaxed);
    account(*target, r, src == Source::kSpool);
    if (src == Source::kSpool) spool_->pop();
    head_retry_.reset();
    next_attempt_ = after;
    if (pacing_) {
      if (!ramping_) {
        // Answers again: the ramp starts from the client's usual rate, so
        // the destination first sees about its usual traffic. That is the
        // rate the backlog built up at: the batches waiting over the age of
        // the oldest (on disk, since the failures began). The moving
        // average of arrivals only stands in for a backlog too short to
        // tell: it swings with producers that send every few seconds.
        double arriving, built_up = 0;
        bool measured = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          roll_arrivals(after);
          arriving = arrivals_per_s_;
          measured = queue_.size() >= 2;
          if (!queue_.empty()) {
            const double age =
                std::chrono::duration<double>(after - queue_.front().queued_at).count();
            built_up = static_cast<double>(queue_.size()) / std::max(1.0, age);
          }
        }
        if (spool_) {
          const double failing_s =
              std::max(1.0, std::chrono::duration<double>(after - failing_since_).count());
          built_up = std::max(built_up, static_cast<double>(spool_->stats().records) / failing_s);
        }
        ramping_ = true;
        ramp_from_ = after;
        if (spool_ && spool_->stats().records >= 2) measured = true;
        ramp_base_ = std::max({measured ? built_up : std::max(arriving, built_up), kRampFloor});
      }
      next_paced_ = after + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(1.0 / ramp_rate(after)));
    }
  } else {
    // Our own deadline or cancel cut the attempt: that says nothing about
    // the destination, and the stop logic decides what becomes of the batch.
    // Another endpoint answering now takes the batch (failover below).
    const bool failover = !r.cancelled && other_endpoint_ready(use, after);
    if (!r.cancelled) {
      ep.breaker.on_failure(after);
      ep.last_failed.store(true, std::memory_order_relaxed);
      try {
        std::lock_guard<std::mutex> lock(mu_);
        ep.last_error = r.message;
      } catch (...) {
      }
      // A failure, overload answers (429/503) included, starts the ramp over
      // from the next good answer. When another endpoint carries on, its
      // replay keeps its ramp (a failed probe of a paused primary says
      // nothing about it); one starts if none is running.
      if (!failover || !pacing_) {
        if (!pacing_) failing_since_ = after;
        pacing_ = pace;
        ramping_ = false;
      }
    }
    account(*target, r, src == Source::kSpool);
    std::optional<std::chrono::milliseconds> delay;
    if (!r.cancelled && options_.retry.enabled) delay = head_retry_.next_delay(r, after);
    if (r.cancelled) {
      requeue = src == Source::kQueue;
      next_attempt_ = after;
    } else if (!delay) {
      // This batch has waited long enough (or retries are off): it leaves
      // memory for the spool, or is dropped. A spooled batch stays first on
      // disk; the breaker paces its next try.
      if (src == Source::kQueue) {
        spill(local, DropReason::kRetryExhausted);
        if (spool_) spool_->commit();
        spilled = true;
      }
      head_retry_.reset();
      next_attempt_ = after;
    } else {
      requeue = src == Source::kQueue;
      next_attempt_ = after + *delay;
      std::lock_guard<std::mutex> lock(mu_);
      ++retried_;
    }
    if (!r.cancelled && delay && endpoints_.size() > 1) {
      // Several endpoints: each keeps its own schedule (backoff with its
      // Retry-After, breaker probes) and the batch goes to the first one
      // due: at once when another answers (failover), rather than wait out
      // a backoff that speaks for this endpoint only. New batches try this
      // one first again once its backoff is over, until its breaker opens.
      const auto own = ep.backoff.next_delay(r, after);
      ep.not_before = after + own.value_or(*delay);
      next_attempt_ = after;
    } else if (all_open()) {
      Clock::time_point probe = Clock::time_point::max();
      for (const auto& e : endpoints_) probe = std::min(probe, e->breaker.retry_at());
      next_attempt_ = std::max(next_attempt_, probe);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (requeue) {
      try {
        queue_.push_front(Entry{std::move(local), queued_at});
        queued_bytes_ += queue_.front().payload.bytes.size();
      } catch (...) {
        requeue = false;
      }
    }
    inflight_bytes_ = 0;
    if (!spilled) busy_ = false;
    if (src == Source::kQueue && !requeue) keep_spare(local.bytes);
  }
  if (spilled) {
    end_spill(false);  // committed above
  } else if (src == Source::kSpool) {
    update_spool_stats();
  }
  return next_attempt_;
}

void DeliveryWorker::run() noexcept {
  for (;;) {
    Clock::time_point next = step(Clock::now());
    std::unique_lock<std::mutex> lock(mu_);
    if (finished_) return;
    if (stopping_ && stop_deadline_ < next) next = stop_deadline_;
    const auto woken = [&] { return wake_ || cancel_.load(std::memory_order_acquire); };
    if (next == Clock::time_point::max()) {
      cv_.wait(lock, woken);
    } else {
      cv_.wait_until(lock, next, woken);
    }
    wake_ = false;
  }
}

DestinationHealth DeliveryWorker::health() const {
  DestinationHealth h;
  h.name = description();
  h.track = track_;
  auto st = stats();
  h.requests = st.attempts;
  h.connections_opened = st.connections_opened;
  std::vector<std::string> names;
  if (endpoints_.size() > 1) {
    for (const auto& e : endpoints_) {
      try {
        names.push_back(e->destination->description());
      } catch (...) {
        names.emplace_back("endpoint");
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  h.primary = options_.primary;
  h.delivered = delivered_;
  h.retried = retried_;
  h.dropped = dropped_;
  h.queue_bytes = queued_bytes_ + inflight_bytes_;
  h.spool_bytes = spool_bytes_;
  h.spooled = spool_items_;
  h.last_success_unix_nano = last_success_;
  h.last_error = last_error_;
  const auto state_of = [](const Endpoint& e) -> std::string {
    if (e.breaker.state() != CircuitBreaker::State::kClosed) return "circuit_open";
    if (e.last_failed.load(std::memory_order_relaxed)) return "degraded";
    return e.tried.load(std::memory_order_relaxed) ? "healthy" : "standby";
  };
  const std::size_t active = active_.load(std::memory_order_relaxed);
  const bool none_closed =
      std::none_of(endpoints_.begin(), endpoints_.end(), [](const auto& e) {
        return e->breaker.state() == CircuitBreaker::State::kClosed;
      });
  if (failing()) {
    h.state = none_closed ? "circuit_open" : "degraded";
  } else if (active != 0 && endpoints_.size() > 1) {
    h.state = "failover";
  } else {
    h.state = "healthy";
  }
  if (endpoints_.size() > 1) {
    for (std::size_t i = 0; i < endpoints_.size(); ++i) {
      const Endpoint& e = *endpoints_[i];
      EndpointHealth eh;
      eh.name = names[i];
      eh.state = state_of(e);
      eh.active = i == active;
      eh.requests = e.destination->stats().attempts;
      eh.delivered = e.delivered.load(std::memory_order_relaxed);
      eh.last_error = e.last_error;
      h.endpoints.push_back(std::move(eh));
    }
    h.active_endpoint = names[active];
    h.active_reason = active_reason();
    h.endpoint_switches = switches_.load(std::memory_order_relaxed);
  }
  return h;
}

std::string DeliveryWorker::active_reason() const {
  const std::size_t active = active_.load(std::memory_order_relaxed);
  const Endpoint& primary = *endpoints_[0];
  if (active == 0) {
    return primary.breaker.state() == CircuitBreaker::State::kClosed &&
                   !primary.last_failed.load(std::memory_order_relaxed)
               ? "primary endpoint, answering"
               : "primary endpoint, failing (no other endpoint is ready)";
  }
  const bool open = primary.breaker.state() != CircuitBreaker::State::kClosed;
  std::string why = open ? "failover: the primary endpoint's circuit is open"
                         : "failover: the primary endpoint's last attempt failed";
  if (!primary.last_error.empty()) why += " (" + primary.last_error + ")";
  if (open) {
    why += "; it is probed with a batch about every ";
    why +=
        std::to_string(std::max<long long>(1, primary.breaker.settings().cooldown.count() / 1000));
    why += " s at most and taken back when it answers";
  } else {
    why += "; it gets batches again after its backoff, and only probes once its circuit opens";
  }
  return why;
}

}  // namespace emp::telemetry::deliver
