// The caller-side half of the trace track: Span, Scope and Tracer. Spans keep
// their attributes, events and links in byte blobs inside a pooled state, so
// after warm-up a span allocates nothing; end() copies the span into the
// thread's queue in one piece.

#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "core/clock.hpp"
#include "core/ring.hpp"
#include "emp/telemetry/propagation.hpp"
#include "errors/stacktrace.hpp"
#include "trace/ids.hpp"
#include "trace/tracer_core.hpp"

namespace emp::telemetry {

namespace trace {

namespace {

// Per-thread pool of span states. Bounded, so a burst of concurrent spans
// does not pin memory forever.
struct StatePool {
  std::vector<SpanState*> free;
  ~StatePool() {
    for (SpanState* s : free) delete s;
  }
};
thread_local StatePool t_pool;
thread_local bool t_pool_dead = false;
struct PoolGuard {
  ~PoolGuard() { t_pool_dead = true; }
};
thread_local PoolGuard t_pool_guard;

thread_local SpanState* t_active = nullptr;

constexpr std::size_t kPoolMax = 256;

SpanState* acquire() noexcept {
  (void)t_pool_guard;
  if (!t_pool_dead && !t_pool.free.empty()) {
    SpanState* s = t_pool.free.back();
    t_pool.free.pop_back();
    return s;
  }
  return new (std::nothrow) SpanState();
}

void release(SpanState* s) noexcept {
  s->context.trace_state.clear();
  s->status_message.clear();
  s->name.clear();
  s->attributes.clear();
  s->events.clear();
  s->links.clear();
  s->attribute_count = s->dropped_attributes = 0;
  s->event_count = s->dropped_events = 0;
  s->link_count = s->dropped_links = 0;
  s->status = StatusCode::kUnset;
  s->ended = false;
  s->scope_refs = 0;
  if (!t_pool_dead && t_pool.free.size() < kPoolMax) {
    try {
      t_pool.free.push_back(s);
      return;
    } catch (...) {
    }
  }
  delete s;
}

template <typename T, typename Buffer>
inline void put(Buffer& b, T v) {
  b.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename Buffer>
inline void put_str(Buffer& b, std::string_view s) {
  put<std::uint32_t>(b, static_cast<std::uint32_t>(s.size()));
  b.append(s.data(), s.size());
}

// Cuts at a UTF-8 boundary at or below `limit` bytes (0 = no limit).
inline std::string_view limit_value(std::string_view s, std::uint32_t limit) {
  if (limit == 0 || s.size() <= limit) return s;
  std::size_t keep = limit;
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  return s.substr(0, keep);
}

void count_rejected_parent(TracerCore* core) noexcept {
  if (core && core->pipeline) core->pipeline->accounting().error(Track::kTraces);
}

// Scalars and strings, nearly every attribute: one grow and inline copies
// (keys and most values are a few bytes, where a call into memcpy costs
// more than the copy). `key` is at most 0xFFFF bytes.
[[gnu::always_inline]] inline void append_scalar(Blob& blob, std::string_view key,
                                                 const AttributeValue& v, std::uint32_t limit) {
  using T = AttributeValue::Type;
  const T type = v.type();
  const std::string_view str =
      type == T::kString ? limit_value(v.as_string(), limit) : std::string_view();
  const std::size_t value_size = type == T::kString ? 4 + str.size() : type == T::kBool ? 1 : 8;
  auto* p = reinterpret_cast<std::uint8_t*>(blob.grow(3 + key.size() + value_size));
  p[0] = static_cast<std::uint8_t>(type);
  const auto kl = static_cast<std::uint16_t>(key.size());
  std::memcpy(p + 1, &kl, 2);
  core::copy_into_record(p + 3, key.data(), key.size());
  p += 3 + key.size();
  if (type == T::kString) {
    const auto n = static_cast<std::uint32_t>(str.size());
    std::memcpy(p, &n, 4);
    core::copy_into_record(p + 4, str.data(), n);
  } else if (type == T::kBool) {
    *p = v.as_bool() ? 1 : 0;
  } else {
    const std::int64_t x =
        type == T::kInt ? v.as_int() : std::bit_cast<std::int64_t>(v.as_double());
    std::memcpy(p, &x, 8);
  }
}

// What append_attribute() keeps off its fast path: a key longer than its
// 16-bit length field (cut to 0xFFFF bytes) and arrays (the type, the key,
// the element count, then the elements).
[[gnu::noinline]] void append_attribute_slow(Blob& blob, std::string_view key,
                                             const AttributeValue& v, std::uint32_t limit) {
  using T = AttributeValue::Type;
  if (key.size() > 0xFFFF) key = std::string_view(key.data(), 0xFFFF);
  if (v.type() <= T::kDouble) {
    append_scalar(blob, key, v, limit);
    return;
  }
  put<std::uint8_t>(blob, static_cast<std::uint8_t>(v.type()));
  put<std::uint16_t>(blob, static_cast<std::uint16_t>(key.size()));
  blob.append(key.data(), key.size());
  switch (v.type()) {
    case T::kStringArray: {
      put<std::uint32_t>(blob, static_cast<std::uint32_t>(v.string_count()));
      for (std::size_t i = 0; i < v.string_count(); ++i)
        put_str(blob, limit_value(v.string_at(i), limit));
      break;
    }
    case T::kBoolArray: {
      const auto* b = v.bools();
      put<std::uint32_t>(blob, static_cast<std::uint32_t>(b ? b->size() : 0));
      if (b)
        for (bool x : *b) put<std::uint8_t>(blob, x ? 1 : 0);
      break;
    }
    case T::kIntArray: {
      put<std::uint32_t>(blob, static_cast<std::uint32_t>(v.ints().size()));
      for (auto x : v.ints()) put<std::int64_t>(blob, x);
      break;
    }
    case T::kDoubleArray: {
      put<std::uint32_t>(blob, static_cast<std::uint32_t>(v.doubles().size()));
      for (auto x : v.doubles()) put<double>(blob, x);
      break;
    }
    default:  // scalars and strings: above
      break;
  }
}

// Appends one attribute to a blob, applying the value length limit. May
// throw std::bad_alloc.
[[gnu::always_inline]] inline void append_attribute(Blob& blob, std::string_view key,
                                                    const AttributeValue& v, std::uint32_t limit) {
  if (v.type() <= AttributeValue::Type::kDouble && key.size() <= 0xFFFF) [[likely]]
    append_scalar(blob, key, v, limit);
  else
    append_attribute_slow(blob, key, v, limit);
}

void shrink_to_fit_queue(SpanState& s, std::size_t fixed, std::size_t max_payload) noexcept;

inline std::uint8_t* put_blob(std::uint8_t* q, std::string_view blob) noexcept {
  std::uint32_t n = static_cast<std::uint32_t>(blob.size());
  std::memcpy(q, &n, 4);
  if (n) std::memcpy(q + 4, blob.data(), n);
  return q + 4 + n;
}

// Writes the finished span into the thread's queue.
void submit(SpanState& s, std::int64_t end) noexcept {
  core::Pipeline* p = s.core->pipeline;
  std::string ts;  // tracestate is rare: only then is it formatted
  if (!s.context.trace_state.empty()) [[unlikely]] {
    try {
      ts = s.context.trace_state.to_header();
    } catch (...) {
    }
  }
  if (s.name.size() > 4096) [[unlikely]]
    s.name.resize(4096);
  if (s.status_message.size() > 4096) [[unlikely]]
    s.status_message.resize(4096);
  const std::size_t fixed = 76 + 6 * 4 + s.name.size() + s.status_message.size() + ts.size();
  std::size_t size = fixed + s.attributes.size() + s.events.size() + s.links.size();
  if (size > s.core->max_payload) [[unlikely]] {
    shrink_to_fit_queue(s, fixed, s.core->max_payload);
    size = fixed + s.attributes.size() + s.events.size() + s.links.size();
  }
  std::uint8_t* b = p->begin(Track::kTraces, core::RecordKind::kSpan, size);
  if (b == nullptr) return;  // counted by the pipeline
  std::memcpy(b, s.context.trace_id.bytes().data(), 16);
  std::memcpy(b + 16, s.context.span_id.bytes().data(), 8);
  std::memcpy(b + 24, s.parent.bytes().data(), 8);
  b[32] = static_cast<std::uint8_t>((s.has_parent ? 1 : 0) | (s.parent_remote ? 2 : 0));
  b[33] = s.context.flags.value();
  b[34] = static_cast<std::uint8_t>(s.kind);
  b[35] = static_cast<std::uint8_t>(s.status);
  std::memcpy(b + 36, &s.start, 8);
  std::memcpy(b + 44, &end, 8);
  std::uint32_t u[6] = {s.dropped_attributes, s.dropped_events, s.dropped_links,
                        s.attribute_count,    s.event_count,    s.link_count};
  std::memcpy(b + 52, u, sizeof u);
  std::uint8_t* q = b + 76;
  q = put_blob(q, s.name);
  q = put_blob(q, s.status_message);
  q = put_blob(q, ts);
  q = put_blob(q, s.attributes);
  q = put_blob(q, s.events);
  put_blob(q, s.links);
  p->commit(Track::kTraces);
}

// A span bigger than the queue can hold loses events, then links, then
// attributes, each counted as dropped on the span itself.
void shrink_to_fit_queue(SpanState& s, std::size_t fixed, std::size_t max_payload) noexcept {
  auto size = [&] { return fixed + s.attributes.size() + s.events.size() + s.links.size(); };
  if (size() > max_payload) {
    s.dropped_events += s.event_count;
    s.event_count = 0;
    s.events.clear();
  }
  if (size() > max_payload) {
    s.dropped_links += s.link_count;
    s.link_count = 0;
    s.links.clear();
  }
  if (size() > max_payload) {
    s.dropped_attributes += s.attribute_count;
    s.attribute_count = 0;
    s.attributes.clear();
  }
}

}  // namespace
}  // namespace trace

using trace::Blob;
using trace::SpanState;

// ------------------------------------------------------------------ Span

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    state_ = other.state_;
    other.state_ = nullptr;
  }
  return *this;
}

SpanContext Span::context() const noexcept {
  if (!state_) return {};
  try {
    return state_->context;
  } catch (...) {
    SpanContext c;
    c.trace_id = state_->context.trace_id;
    c.span_id = state_->context.span_id;
    c.flags = state_->context.flags;
    return c;
  }
}

namespace trace {
namespace {
void set_attribute_on(SpanState* s, std::string_view key, const AttributeValue& value) noexcept {
  if (!s || !s->recording) return;
  if (s->attribute_count >= s->core->limits.attribute_count) {
    ++s->dropped_attributes;
    return;
  }
  try {
    trace::append_attribute(s->attributes, key, value, s->core->limits.attribute_value_length);
    ++s->attribute_count;
  } catch (...) {
    ++s->dropped_attributes;
  }
}
}  // namespace

void set_active_span_attribute(std::string_view key, const AttributeValue& value) noexcept {
  set_attribute_on(t_active, key, value);
}
}  // namespace trace

void Span::set_attribute(std::string_view key, const AttributeValue& value) noexcept {
  trace::set_attribute_on(state_, key, value);
}

void Span::set_attributes(Attributes attributes) noexcept {
  for (const auto& a : attributes) set_attribute(a.key, a.value);
}

void Span::add_event(std::string_view name, Attributes attributes) noexcept {
  SpanState* s = state_;
  if (!s || !s->recording) return;
  if (s->event_count >= s->core->limits.event_count) {
    ++s->dropped_events;
    return;
  }
  try {
    Blob& b = s->events;
    std::int64_t now = core::now_unix_nano();
    b.append(reinterpret_cast<const char*>(&now), 8);
    if (name.size() > 4096) name = name.substr(0, 4096);
    std::uint32_t n = static_cast<std::uint32_t>(name.size());
    b.append(reinterpret_cast<const char*>(&n), 4);
    b.append(name.data(), name.size());
    std::uint32_t count = 0, dropped = 0;
    std::size_t header = b.size();
    b.append(12, '\0');  // count, dropped, blob length: patched below
    std::size_t start = b.size();
    for (const auto& a : attributes) {
      if (count >= s->core->limits.event_attribute_count) {
        ++dropped;
        continue;
      }
      trace::append_attribute(b, a.key, a.value, s->core->limits.attribute_value_length);
      ++count;
    }
    std::uint32_t len = static_cast<std::uint32_t>(b.size() - start);
    std::memcpy(b.data() + header, &count, 4);
    std::memcpy(b.data() + header + 4, &dropped, 4);
    std::memcpy(b.data() + header + 8, &len, 4);
    ++s->event_count;
  } catch (...) {
    ++s->dropped_events;
  }
}

void Span::record_exception(std::string_view type, std::string_view message) noexcept {
  add_event("exception", {{"exception.type", type}, {"exception.message", message}});
}

void Span::record_exception(const std::exception& e) noexcept {
  try {
    std::string type = errors::demangle(typeid(e).name());
    record_exception(type, e.what());
  } catch (...) {
    record_exception("std::exception", e.what());
  }
}

void Span::set_status(StatusCode code, std::string_view description) noexcept {
  SpanState* s = state_;
  if (!s) return;
  // Ok is final; Unset never overrides (OpenTelemetry status rules).
  if (s->status == StatusCode::kOk || code == StatusCode::kUnset) return;
  s->status = code;
  try {
    if (code == StatusCode::kError)
      s->status_message.assign(description);
    else
      s->status_message.clear();
  } catch (...) {
  }
}

void Span::update_name(std::string_view name) noexcept {
  if (!state_ || !state_->recording) return;
  try {
    state_->name.assign(name);
  } catch (...) {
  }
}

void Span::end(std::int64_t end_time) noexcept {
  SpanState* s = state_;
  if (!s) return;
  state_ = nullptr;
  trace::TracerCore* core = s->core;
  if (s->recording) {
    if (s->status == StatusCode::kError && core->on_error_end) {
      try {
        core->on_error_end(s->name, s->status_message, s->context);
      } catch (...) {
      }
    }
    bool keep = s->context.flags.sampled() ||
                (s->status == StatusCode::kError && core->sampler.always_export_errors());
    if (keep) {
      trace::submit(*s, end_time ? end_time : core::now_unix_nano());
    } else {
      core->pipeline->drop(Track::kTraces, DropReason::kSampledOut);
    }
  }
  s->ended = true;
  if (s->scope_refs == 0) trace::release(s);
}

// ------------------------------------------------------------------ Scope

Scope::Scope(const Span& span) noexcept
    : state_(span.state_), previous_(trace::t_active), previous_ids_(core::t_active_span) {
  if (state_) {
    ++state_->scope_refs;
    trace::t_active = state_;
    core::t_active_span = &state_->ids;
  }
}

Scope::~Scope() {
  if (!state_) return;
  trace::t_active = previous_;
  core::t_active_span = static_cast<const core::ActiveSpanIds*>(previous_ids_);
  if (--state_->scope_refs == 0 && state_->ended) trace::release(state_);
}

// ------------------------------------------------------------------ Tracer

Span Tracer::start_span(std::string_view name, const SpanOptions& options,
                        Attributes attributes) noexcept {
  trace::TracerCore* core = core_;
  if (core == nullptr || !core->enabled) return Span();
  SpanState* s = trace::acquire();
  if (s == nullptr) {
    core->pipeline->drop(Track::kTraces, DropReason::kQueueFull);
    return Span();
  }
  s->core = core;
  s->kind = options.kind;
  s->start = options.start_time_unix_nano ? options.start_time_unix_nano : core::now_unix_nano();
  const SpanContext* parent = nullptr;
  if (options.parent && options.parent->is_valid()) {
    parent = &*options.parent;
  } else if (!options.root && trace::t_active && !trace::t_active->ended) {
    parent = &trace::t_active->context;
  }
  TraceId trace_id = parent ? parent->trace_id : trace::new_trace_id();
  s->context.trace_id = trace_id;
  s->context.span_id = trace::new_span_id();
  s->has_parent = parent != nullptr;
  s->parent = parent ? parent->span_id : SpanId();
  s->parent_remote = parent ? parent->remote : false;
  s->context.remote = false;
  const bool sampled = core->sampler.sampled(parent, trace_id, name);
  std::uint8_t random_bit =
      parent ? (parent->flags.value() & TraceFlags::kRandom) : TraceFlags::kRandom;
  s->context.flags =
      TraceFlags(static_cast<std::uint8_t>(random_bit | (sampled ? TraceFlags::kSampled : 0)));
  // The samplers never add to the tracestate: the span carries its parent's.
  if (parent && !parent->trace_state.empty()) [[unlikely]] {
    try {
      s->context.trace_state = parent->trace_state;
    } catch (...) {
      // Out of memory: the span goes on without the vendor state.
    }
  }
  std::memcpy(s->ids.trace_id, trace_id.bytes().data(), 16);
  std::memcpy(s->ids.span_id, s->context.span_id.bytes().data(), 8);
  s->recording = sampled || core->sampler.always_export_errors();
  if (!s->recording) core->pipeline->drop(Track::kTraces, DropReason::kSampledOut);
  Span span(s);
  if (s->recording) {
    try {
      s->name.assign(name);
    } catch (...) {
    }
    for (const Link& l : options.links) {
      if (s->link_count >= core->limits.link_count) {
        ++s->dropped_links;
        continue;
      }
      try {
        Blob& b = s->links;
        b.append(reinterpret_cast<const char*>(l.context.trace_id.bytes().data()), 16);
        b.append(reinterpret_cast<const char*>(l.context.span_id.bytes().data()), 8);
        b.push_back(static_cast<char>(l.context.flags.value()));
        b.push_back(l.context.remote ? 1 : 0);
        std::string ts =
            l.context.trace_state.empty() ? std::string() : l.context.trace_state.to_header();
        trace::put_str(b, ts);
        std::uint32_t count = 0, dropped = 0;
        Blob blob;
        for (const auto& [k, v] : l.attributes) {
          if (count >= core->limits.link_attribute_count) {
            ++dropped;
            continue;
          }
          trace::append_attribute(blob, k, AttributeValue(v), core->limits.attribute_value_length);
          ++count;
        }
        trace::put<std::uint32_t>(b, count);
        trace::put<std::uint32_t>(b, dropped);
        trace::put_str(b, blob);
        ++s->link_count;
      } catch (...) {
        ++s->dropped_links;
      }
    }
    span.set_attributes(attributes);
  }
  return span;
}

void Tracer::event(std::string_view name, Attributes attributes) noexcept {
  if (core_ == nullptr || !core_->enabled) return;
  if (trace::t_active && !trace::t_active->ended) {
    Span borrowed(trace::t_active);
    borrowed.add_event(name, attributes);
    borrowed.state_ = nullptr;  // not ours to end
    return;
  }
  Span s = start_span(name, {}, attributes);
  std::int64_t at = s.state_ ? s.state_->start : 0;
  s.end(at);
}

SpanContext Tracer::active_context() const noexcept {
  if (!trace::t_active || trace::t_active->ended) return {};
  try {
    return trace::t_active->context;
  } catch (...) {
    return {};
  }
}

bool Tracer::inject_headers(std::map<std::string, std::string>& headers) const noexcept {
  SpanContext c = active_context();
  if (!c.is_valid()) return false;
  return emp::telemetry::inject_headers(c, headers);
}

std::string Tracer::inject_job_payload(std::string_view payload_json) const noexcept {
  try {
    SpanContext c = active_context();
    if (!c.is_valid()) return std::string(payload_json);
    return inject_into_job_payload(payload_json, c);
  } catch (...) {
    return {};
  }
}

std::optional<SpanContext> Tracer::extract_headers(
    const std::map<std::string, std::string>& headers) const noexcept {
  ExtractResult r = emp::telemetry::extract_headers(headers);
  if (r.rejected()) trace::count_rejected_parent(core_);
  return r.context;
}

std::optional<SpanContext> Tracer::extract_job_payload(
    std::string_view payload_json) const noexcept {
  ExtractResult r = extract_from_job_payload(payload_json);
  if (r.rejected()) trace::count_rejected_parent(core_);
  return r.context;
}

}  // namespace emp::telemetry
