#include "events/bus.hpp"

#include <array>
#include <cstdio>

#include "core/strings.hpp"
#include "emp/telemetry/trace_context.hpp"

namespace emp::telemetry {

std::string_view Event::field(std::string_view key) const noexcept {
  for (const auto& [k, v] : fields)
    if (k == key) return v;
  return {};
}

bool Subscription::State::wants(const Event& e) const noexcept {
  if (!filter.job_id.empty() && e.field("job_id") != filter.job_id) return false;
  if (filter.names.empty()) return true;
  for (const std::string& n : filter.names)
    if (n == e.name) return true;
  return false;
}

void Subscription::unsubscribe() noexcept {
  if (!state_) return;
  std::shared_ptr<State> s = std::move(state_);
  state_.reset();
  // Without a bus, its shutdown already stopped every thread.
  if (auto bus = s->bus.lock()) bus->remove(s);
}

std::uint64_t Subscription::dropped() const noexcept {
  return state_ ? state_->dropped.load(std::memory_order_relaxed) : 0;
}

std::uint64_t Subscription::handler_errors() const noexcept {
  return state_ ? state_->handler_errors.load(std::memory_order_relaxed) : 0;
}

namespace events {

namespace {

std::string value_text(const FieldValue& v) {
  switch (v.type()) {
    case FieldValue::Type::kString:
      return std::string(v.as_string());
    case FieldValue::Type::kInt:
      return std::to_string(v.as_int());
    case FieldValue::Type::kDouble: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.as_double());
      return buf;
    }
    case FieldValue::Type::kBool:
      return v.as_bool() ? "true" : "false";
    case FieldValue::Type::kNull:
      return {};
  }
  return {};
}

template <std::size_t N>
std::string hex(const std::uint8_t (&raw)[N]) {
  std::array<std::uint8_t, N> bytes;
  std::copy(raw, raw + N, bytes.begin());
  std::string s(2 * N, '0');
  detail::bytes_to_hex(bytes, s.data());
  return s;
}

// True when the thread ended (joined); false when it was still in its
// handler at `deadline` and was detached.
bool stop_and_join(const std::shared_ptr<Subscription::State>& s,
                   std::chrono::steady_clock::time_point deadline) noexcept {
  bool exited = false;
  {
    std::unique_lock<std::mutex> lock(s->mu);
    s->stop = true;
    s->cv.notify_all();
    if (s->thread.joinable() && s->thread.get_id() != std::this_thread::get_id()) {
      if (deadline == std::chrono::steady_clock::time_point::max()) {
        s->cv.wait(lock, [&] { return s->exited; });
      } else {
        s->cv.wait_until(lock, deadline, [&] { return s->exited; });
      }
    }
    exited = s->exited;
  }
  if (!s->thread.joinable()) return true;
  if (exited) {
    s->thread.join();
    return true;
  }
  // From inside the handler (unsubscribing itself), or past the deadline:
  // the thread ends on its own after the current call; it owns `s`.
  s->thread.detach();
  return false;
}

}  // namespace

void Bus::publish(std::string_view name, std::int64_t time_unix_nano,
                  const core::ActiveSpanIds* span, const Field* fields, std::size_t count,
                  std::initializer_list<Field> extra) noexcept {
  try {
    auto e = std::make_shared<Event>();
    e->name.assign(name);
    e->time_unix_nano = time_unix_nano;
    if (span) {
      e->trace_id = hex(span->trace_id);
      e->span_id = hex(span->span_id);
    }
    e->fields.reserve(count + extra.size());
    for (std::size_t i = 0; i < count; ++i)
      e->fields.emplace_back(std::string(fields[i].key), value_text(fields[i].value));
    for (const Field& f : extra) e->fields.emplace_back(std::string(f.key), value_text(f.value));
    std::shared_ptr<const Event> shared = std::move(e);
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : subs_) {
      if (!s->wants(*shared)) continue;
      bool queued = false;
      {
        std::lock_guard<std::mutex> q(s->mu);
        if (!s->stop && s->queue.size() < s->capacity) {
          s->queue.push_back(shared);
          queued = true;
        }
      }
      if (queued) {
        s->cv.notify_one();
      } else {
        s->dropped.fetch_add(1, std::memory_order_relaxed);
        dropped_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  } catch (...) {
    // Out of memory: subscribers miss this event; the track's outputs still have it.
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::shared_ptr<Subscription::State> Bus::add(const std::shared_ptr<Bus>& self, EventFilter filter,
                                              std::function<void(const Event&)> handler,
                                              std::size_t capacity) noexcept {
  try {
    auto s = std::make_shared<Subscription::State>();
    s->filter = std::move(filter);
    s->handler = std::move(handler);
    s->capacity = capacity == 0 ? 1 : capacity;
    s->bus = self;
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || !s->handler) return nullptr;
    s->thread = std::thread(&Bus::run, s);
    subs_.push_back(s);
    subscribers_.fetch_add(1, std::memory_order_relaxed);
    return s;
  } catch (...) {
    report("events_subscribe", "events: could not start a subscription's dispatcher thread");
    return nullptr;
  }
}

void Bus::remove(const std::shared_ptr<Subscription::State>& s) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = subs_.begin(); it != subs_.end(); ++it) {
      if (*it == s) {
        subs_.erase(it);
        subscribers_.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
    }
  }
  stop_and_join(s, std::chrono::steady_clock::time_point::max());
}

void Bus::shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  std::vector<std::shared_ptr<Subscription::State>> subs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    subs.swap(subs_);
    subscribers_.store(0, std::memory_order_relaxed);
  }
  for (const auto& s : subs)
    if (!stop_and_join(s, deadline))
      report("events_handler_stuck",
             "events: a subscriber's handler was still running at shutdown; left to finish");
  std::lock_guard<std::mutex> lock(mu_);
  diagnostics_ = nullptr;
}

void Bus::report(std::string_view key, std::string message) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    last_error_ = message;
  } catch (...) {
  }
  if (diagnostics_) diagnostics_->report(key, std::move(message));
}

DestinationHealth Bus::health() const {
  DestinationHealth h;
  h.name = "events-bus (in-process subscribers)";
  h.track = Track::kEvents;
  h.primary = false;
  h.delivered = delivered_.load(std::memory_order_relaxed);
  h.dropped[static_cast<std::size_t>(DropReason::kQueueFull)] =
      dropped_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  h.last_error = last_error_;
  if (handler_errors_.load(std::memory_order_relaxed) > 0) h.state = "degraded";
  return h;
}

void Bus::run(std::shared_ptr<Subscription::State> s) noexcept {
  std::uint64_t reported_drops = 0;
  for (;;) {
    std::shared_ptr<const Event> e;
    {
      std::unique_lock<std::mutex> lock(s->mu);
      s->cv.wait(lock, [&] { return s->stop || !s->queue.empty(); });
      if (s->stop) {
        // Events still queued go with the subscription that wanted them.
        s->queue.clear();
        s->exited = true;
        s->cv.notify_all();
        return;
      }
      e = std::move(s->queue.front());
      s->queue.pop_front();
    }
    std::string failure;
    try {
      s->handler(*e);
    } catch (const std::exception& ex) {
      failure = ex.what();
    } catch (...) {
      failure = "non-standard exception";
    }
    auto bus = s->bus.lock();
    // Reported here, not on the emitting thread, which must stay cheap.
    const std::uint64_t drops = s->dropped.load(std::memory_order_relaxed);
    if (bus && drops > reported_drops) {
      reported_drops = drops;
      bus->report("events_queue_full",
                  "events: a subscriber's queue was full (its handler is slow or blocked): " +
                      std::to_string(drops) +
                      " events dropped for it so far; other subscribers unaffected");
    }
    if (failure.empty()) {
      if (bus) bus->delivered_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    s->handler_errors.fetch_add(1, std::memory_order_relaxed);
    if (bus) {
      bus->handler_errors_.fetch_add(1, std::memory_order_relaxed);
      bus->report("events_handler",
                  "events: a subscriber's handler threw on '" + e->name +
                      "' (the subscription stays; other subscribers are unaffected): " +
                      core::printable_excerpt(failure, 200));
    }
  }
}

}  // namespace events
}  // namespace emp::telemetry
