// Internals of the trace track shared by the caller-side Span code
// (tracer.cpp) and the background SpanHandler (span_handler.cpp): the span
// state a handle points to, the per-client tracer settings, and the layout of
// a finished span in the queue.
//
// Queue payload of a finished span (native-endian):
//   trace_id[16] span_id[8] parent_span_id[8]
//   u8 link_flags (1 has_parent, 2 parent_remote) | u8 trace_flags | u8 kind | u8 status
//   i64 start | i64 end
//   u32 dropped_attributes | u32 dropped_events | u32 dropped_links
//   u32 attribute_count | u32 event_count | u32 link_count
//   then six u32-length-prefixed blobs: name, status message, tracestate,
//   attributes, events, links.
// Attribute blob: per attribute u8 type | u16 key_len | key | value
//   string u32 len + bytes; bool u8; int/double 8 bytes;
//   arrays u32 count + elements (strings u32 len + bytes).
// Event blob: per event i64 time | u32 name_len | name | u32 attr_count |
//   u32 dropped | u32 blob_len | attribute blob.
// Link blob: per link trace_id[16] span_id[8] u8 trace_flags u8 remote |
//   u32 tracestate_len | tracestate | u32 attr_count | u32 dropped | u32 blob_len | blob.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/active_span.hpp"
#include "core/pipeline.hpp"
#include "emp/telemetry/trace.hpp"
#include "trace/sampler.hpp"

namespace emp::telemetry::trace {

struct SpanLimits {
  std::uint32_t attribute_count = 128;        // OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT
  std::uint32_t attribute_value_length = 0;   // OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT; 0 = none
  std::uint32_t event_count = 128;            // OTEL_SPAN_EVENT_COUNT_LIMIT
  std::uint32_t link_count = 128;             // OTEL_SPAN_LINK_COUNT_LIMIT
  std::uint32_t event_attribute_count = 128;  // OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT
  std::uint32_t link_attribute_count = 128;   // OTEL_LINK_ATTRIBUTE_COUNT_LIMIT
};

class TracerCore {
 public:
  core::Pipeline* pipeline = nullptr;
  SamplerConfig sampler;
  SpanLimits limits;
  bool enabled = true;
  std::size_t max_payload = 0;
  // Told about every recording span that ends with error status, on the
  // thread that ends it (the errors track makes a breadcrumb of it). Set
  // before the client starts; must not throw.
  std::function<void(std::string_view name, std::string_view message, const SpanContext& context)>
      on_error_end;
};

// A growable byte buffer that, unlike std::string, never zero-fills what it
// is about to overwrite; pooled span states keep its capacity, so a warm
// span appends attributes with plain copies.
class Blob {
 public:
  Blob() = default;
  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const char* data() const noexcept { return data_.get(); }
  char* data() noexcept { return data_.get(); }
  void clear() noexcept { size_ = 0; }
  operator std::string_view() const noexcept { return {data_.get(), size_}; }  // NOLINT

  // `n` more bytes at the end, uninitialized; may throw std::bad_alloc.
  char* grow(std::size_t n) {
    if (size_ + n > cap_) reserve_more(size_ + n);
    char* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void append(const char* p, std::size_t n) {
    if (n) std::memcpy(grow(n), p, n);
  }
  void append(std::size_t n, char c) { std::memset(grow(n), c, n); }
  void push_back(char c) { *grow(1) = c; }

 private:
  void reserve_more(std::size_t need) {
    std::size_t cap = cap_ ? cap_ * 2 : 256;
    while (cap < need) cap *= 2;
    std::unique_ptr<char[]> next(new char[cap]);
    if (size_) std::memcpy(next.get(), data_.get(), size_);
    data_ = std::move(next);
    cap_ = cap;
  }
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

// The state behind a Span handle. Pooled per thread; a state is reused only
// once its span has ended and no Scope refers to it.
struct SpanState {
  TracerCore* core = nullptr;
  SpanContext context;
  SpanId parent;
  bool has_parent = false;
  bool parent_remote = false;
  bool recording = false;  // attributes etc. are kept (sampled, or kept for error export)
  bool ended = false;
  std::uint32_t scope_refs = 0;
  SpanKind kind = SpanKind::kInternal;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
  std::string name;
  std::int64_t start = 0;
  std::uint32_t attribute_count = 0, dropped_attributes = 0;
  std::uint32_t event_count = 0, dropped_events = 0;
  std::uint32_t link_count = 0, dropped_links = 0;
  Blob attributes, events, links;
  core::ActiveSpanIds ids{};
};

// Sets an attribute on the calling thread's active span when it records (the
// errors track notes the Sentry event id there). noexcept like Span's own.
void set_active_span_attribute(std::string_view key, const AttributeValue& value) noexcept;

}  // namespace emp::telemetry::trace
