// The errors track's API on the caller's thread: copy, record the stack's
// addresses, queue. See include/emp/telemetry/errors.hpp and errors_core.hpp.
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <typeinfo>

#include "core/active_span.hpp"
#include "errors/errors_core.hpp"
#include "trace/ids.hpp"
#include "trace/tracer_core.hpp"

namespace emp::telemetry {

namespace {

constexpr std::size_t kMaxTagValue = 200;

struct ScopeNode {
  const errors::ErrorsCore* core;
  ErrorScope scope;
};
// The scopes pushed on this thread, innermost last.
thread_local std::vector<ScopeNode*> t_scopes;

template <typename Pairs, typename Value>
void upsert(Pairs& pairs, std::string_view key, Value&& value) {
  for (auto& kv : pairs) {
    if (kv.first == key) {
      kv.second = std::forward<Value>(value);
      return;
    }
  }
  pairs.emplace_back(std::string(key), std::forward<Value>(value));
}

void merge_into(ErrorScope& into, const ErrorScope& from) {
  for (const auto& [k, v] : from.tags) upsert(into.tags, k, v);
  for (const auto& [name, fields] : from.contexts) upsert(into.contexts, name, fields);
  if (from.level) into.level = from.level;
  if (!from.fingerprint.empty()) into.fingerprint = from.fingerprint;
  if (from.user) into.user = from.user;
}

thread_local std::minstd_rand t_sample_rng{std::random_device{}()};

bool sampled_in(double rate) noexcept {
  if (rate >= 1.0) return true;
  if (rate <= 0.0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(t_sample_rng) < rate;
}

void fill_event_id(errors::PendingEvent& p, EventId& id) {
  // A version-4 UUID's 122 random bits, as Sentry's SDKs make them.
  const TraceId raw = trace::new_trace_id();
  std::uint8_t b[16];
  std::memcpy(b, raw.bytes().data(), 16);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  static const char* kHex = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    id.hex[2 * i] = kHex[b[i] >> 4];
    id.hex[2 * i + 1] = kHex[b[i] & 15];
  }
  id.valid = true;
  p.event.event_id.assign(id.hex.data(), id.hex.size());
}

}  // namespace

std::string_view to_string(ErrorLevel level) noexcept {
  switch (level) {
    case ErrorLevel::kDebug:
      return "debug";
    case ErrorLevel::kInfo:
      return "info";
    case ErrorLevel::kWarning:
      return "warning";
    case ErrorLevel::kError:
      return "error";
    case ErrorLevel::kFatal:
      return "fatal";
  }
  return "error";
}

ErrorScope& ErrorScope::tag(std::string_view key, std::string_view value) {
  upsert(tags, key, std::string(value.substr(0, kMaxTagValue)));
  return *this;
}

ErrorScope& ErrorScope::context(std::string_view name, StringPairs fields) {
  upsert(contexts, name, std::move(fields));
  return *this;
}

namespace errors {

double unix_seconds_now() noexcept {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool ErrorsCore::push(std::unique_ptr<PendingEvent> event) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_.size() >= kMaxPending) return false;
  try {
    pending_.push_back(std::move(event));
    return true;
  } catch (...) {
    return false;
  }
}

std::unique_ptr<PendingEvent> ErrorsCore::pop() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_.empty()) return nullptr;
  auto out = std::move(pending_.front());
  pending_.pop_front();
  return out;
}

std::unique_ptr<PendingEvent> ErrorsCore::acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!spare_.empty()) {
      auto p = std::move(spare_.back());
      spare_.pop_back();
      return p;
    }
  }
  return std::make_unique<PendingEvent>();
}

void ErrorsCore::recycle(std::unique_ptr<PendingEvent> p) noexcept {
  if (!p) return;
  // Cleared here, on the handler's thread; vectors keep their capacity.
  p->event.event_id.clear();
  p->event.message.clear();
  p->event.exceptions.clear();
  p->event.scope = ErrorScope{};
  p->event.level = ErrorLevel::kError;
  p->raw_types.clear();
  p->frame_count = 0;
  p->has_trace = false;
  std::lock_guard<std::mutex> lock(mu_);
  try {
    if (spare_.size() < kMaxSpare) spare_.push_back(std::move(p));
  } catch (...) {
  }
}

std::size_t ErrorsCore::pending_count() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

void ErrorsCore::add_breadcrumb(Breadcrumb crumb) noexcept {
  try {
    if (crumb.timestamp == 0) crumb.timestamp = unix_seconds_now();
    std::lock_guard<std::mutex> lock(crumbs_mu_);
    const std::uint64_t seq = crumb_seq_.load(std::memory_order_relaxed) + 1;
    if (crumbs_.size() >= kMaxBreadcrumbs) crumbs_.pop_front();
    crumbs_.emplace_back(seq, std::move(crumb));
    crumb_seq_.store(seq, std::memory_order_release);
  } catch (...) {
    // A breadcrumb that cannot be stored is context lost, not an event lost.
  }
}

std::vector<Breadcrumb> ErrorsCore::breadcrumbs(double until) const {
  std::vector<Breadcrumb> out;
  std::lock_guard<std::mutex> lock(crumbs_mu_);
  for (const auto& [seq, crumb] : crumbs_)
    if (until == 0 || crumb.timestamp <= until) out.push_back(crumb);
  return out;
}

void ErrorsCore::set_before_send(BeforeSend hook) {
  auto p = hook ? std::make_shared<const BeforeSend>(std::move(hook)) : nullptr;
  std::lock_guard<std::mutex> lock(hook_mu_);
  before_send_ = std::move(p);
}

std::shared_ptr<const BeforeSend> ErrorsCore::before_send() const {
  std::lock_guard<std::mutex> lock(hook_mu_);
  return before_send_;
}

namespace {

// Everything a capture does after the error itself was copied.
EventId finish_capture(ErrorsCore* core, std::unique_ptr<PendingEvent> p,
                       const ErrorScope& scope) noexcept {
  EventId id;
  try {
    for (const ScopeNode* n : t_scopes)
      if (n->core == core) merge_into(p->event.scope, n->scope);
    merge_into(p->event.scope, scope);
    if (p->event.scope.level) p->event.level = *p->event.scope.level;
    p->event.timestamp = unix_seconds_now();
    // Skip this function and the capture_* entry point: the stack starts at
    // the caller's frame.
    p->frame_count = capture_stack(p->frames, kMaxCapturedFrames, 2);
    if (const core::ActiveSpanIds* ids = core::t_active_span) {
      p->has_trace = true;
      std::memcpy(p->trace_id, ids->trace_id, 16);
      std::memcpy(p->span_id, ids->span_id, 8);
    }
    p->breadcrumbs_until = p->event.timestamp;
    p->thread_id = static_cast<int>(::syscall(SYS_gettid));
    fill_event_id(*p, id);
  } catch (...) {
    core->pipeline->drop(Track::kErrors, DropReason::kMemoryCap);
    return {};
  }
  std::uint8_t* slot = core->pipeline->begin(Track::kErrors, core::RecordKind::kError, 1);
  if (slot == nullptr) {
    core->reports->add("queue_overflow", "error");
    return {};
  }
  *slot = 1;
  if (!core->push(std::move(p))) {
    // Committed with nothing behind it: the handler counts it queue_full.
    *slot = 0;
    core->reports->add("queue_overflow", "error");
    id = {};
  }
  core->pipeline->commit(Track::kErrors);
  if (!id.empty())
    trace::set_active_span_attribute("sentry.event_id",
                                     std::string_view(id.hex.data(), id.hex.size()));
  return id;
}

bool admit(ErrorsCore* core) noexcept {
  if (core == nullptr || core->pipeline == nullptr) return false;
  if (!sampled_in(core->sample_rate)) {
    core->pipeline->drop(Track::kErrors, DropReason::kSampledOut);
    core->reports->add("sample_rate", "error");
    return false;
  }
  return true;
}

void add_exception(PendingEvent& p, const std::exception& e) {
  p.raw_types.push_back(typeid(e).name());
  p.event.exceptions.push_back(CapturedException{{}, e.what()});
}

// The exception and the ones nested in it (std::nested_exception), innermost
// first as Sentry's exception.values wants them.
void add_chain(PendingEvent& p, const std::exception& outer) {
  std::vector<const std::exception*> chain;
  add_exception(p, outer);
  const std::exception* current = &outer;
  for (int depth = 0; depth < 16; ++depth) {
    const auto* nested = dynamic_cast<const std::nested_exception*>(current);
    if (nested == nullptr || !nested->nested_ptr()) break;
    try {
      std::rethrow_exception(nested->nested_ptr());
    } catch (const std::exception& inner) {
      add_exception(p, inner);
      // The caught object lives in the exception_ptr the outer one holds.
      current = &inner;
      continue;
    } catch (...) {
      p.raw_types.push_back(nullptr);
      p.event.exceptions.push_back(CapturedException{"unknown", "non-standard exception"});
      break;
    }
  }
  std::reverse(p.raw_types.begin(), p.raw_types.end());
  std::reverse(p.event.exceptions.begin(), p.event.exceptions.end());
}

}  // namespace
}  // namespace errors

EventId ErrorReporter::capture_exception(const std::exception& e,
                                         const ErrorScope& scope) noexcept {
  if (!errors::admit(core_)) return {};
  try {
    auto p = core_->acquire();
    p->event.level = ErrorLevel::kError;
    errors::add_chain(*p, e);
    return errors::finish_capture(core_, std::move(p), scope);
  } catch (...) {
    core_->pipeline->drop(Track::kErrors, DropReason::kMemoryCap);
    return {};
  }
}

EventId ErrorReporter::capture_exception(std::exception_ptr e, const ErrorScope& scope) noexcept {
  if (!e)
    return capture_message("capture_exception called without an exception", ErrorLevel::kError,
                           scope);
  if (!errors::admit(core_)) return {};
  try {
    auto p = core_->acquire();
    p->event.level = ErrorLevel::kError;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      errors::add_chain(*p, ex);
    } catch (...) {
      p->raw_types.push_back(nullptr);
      p->event.exceptions.push_back(CapturedException{"unknown", "non-standard exception"});
    }
    return errors::finish_capture(core_, std::move(p), scope);
  } catch (...) {
    core_->pipeline->drop(Track::kErrors, DropReason::kMemoryCap);
    return {};
  }
}

EventId ErrorReporter::capture_message(std::string_view message, ErrorLevel level,
                                       const ErrorScope& scope) noexcept {
  if (!errors::admit(core_)) return {};
  try {
    auto p = core_->acquire();
    p->event.level = level;
    p->event.message = std::string(message);
    return errors::finish_capture(core_, std::move(p), scope);
  } catch (...) {
    core_->pipeline->drop(Track::kErrors, DropReason::kMemoryCap);
    return {};
  }
}

void ErrorReporter::add_breadcrumb(const Breadcrumb& crumb) noexcept {
  if (core_ == nullptr) return;
  try {
    core_->add_breadcrumb(crumb);
  } catch (...) {
  }
}

ErrorReporter::PushedScope ErrorReporter::push_scope(ErrorScope scope) noexcept {
  try {
    auto* node = new ScopeNode{core_, std::move(scope)};
    t_scopes.push_back(node);
    return PushedScope(node);
  } catch (...) {
    return PushedScope(nullptr);
  }
}

ErrorReporter::PushedScope::~PushedScope() {
  if (node_ == nullptr) return;
  auto* node = static_cast<ScopeNode*>(node_);
  auto it = std::find(t_scopes.rbegin(), t_scopes.rend(), node);
  if (it != t_scopes.rend()) t_scopes.erase(std::next(it).base());
  delete node;
}

void ErrorReporter::set_before_send(BeforeSend hook) noexcept {
  if (core_ == nullptr) return;
  try {
    core_->set_before_send(std::move(hook));
  } catch (...) {
  }
}

bool ErrorReporter::enabled() const noexcept { return core_ != nullptr && core_->enabled; }

}  // namespace emp::telemetry
