// The trace track: OpenTelemetry spans with W3C trace context.
//
//   auto span = t->tracer().start_span("job.process", {.kind = SpanKind::kConsumer});
//   span.set_attribute("job.id", job_id);
//   { Scope scope(span);  // logs written here carry trace_id/span_id
//     ... }
//   span.end();  // or let the handle go out of scope
//
//   t->trace().span("process.image_generation", [&](Span& s) { ...; });
//
// Starting and ending a span does cheap work on the caller's thread (ids, one
// clock read per edge, copying attributes into the span's own buffer) and
// hands the finished span to the thread's queue; batching, encoding and
// export happen on background threads. Every call here is noexcept except
// Tracer::span(), which rethrows what the callback threw after recording it.
//
// Thread-safety: a Span is used by one thread at a time (move it to hand it
// over); a Tracer may be used from any number of threads.
#pragma once

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "emp/telemetry/trace_context.hpp"

namespace emp::telemetry {

namespace trace { struct SpanState; class TracerCore; }

enum class SpanKind : std::uint8_t { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
enum class StatusCode : std::uint8_t { kUnset = 0, kOk = 1, kError = 2 };

// An attribute value: string, bool, int64, double, or an array of one of
// them. Views only: the span copies what it keeps before the call returns.
class AttributeValue {
 public:
  enum class Type : std::uint8_t {
    kString = 1, kBool, kInt, kDouble, kStringArray, kBoolArray, kIntArray, kDoubleArray
  };
  AttributeValue(std::string_view s) noexcept : type_(Type::kString), s_(s) {}  // NOLINT
  AttributeValue(const char* s) noexcept : type_(Type::kString), s_(s ? s : "") {}  // NOLINT
  AttributeValue(const std::string& s) noexcept : type_(Type::kString), s_(s) {}  // NOLINT
  template <typename B>
    requires std::is_same_v<B, bool>
  AttributeValue(B b) noexcept : type_(Type::kBool), i_(b) {}  // NOLINT
  template <typename I>
    requires(std::is_integral_v<I> && !std::is_same_v<I, bool> && !std::is_same_v<I, char>)
  AttributeValue(I v) noexcept : type_(Type::kInt), i_(static_cast<std::int64_t>(v)) {}  // NOLINT
  template <typename F>
    requires std::is_floating_point_v<F>
  AttributeValue(F v) noexcept : type_(Type::kDouble), d_(static_cast<double>(v)) {}  // NOLINT
  AttributeValue(std::span<const std::string_view> v) noexcept  // NOLINT
      : type_(Type::kStringArray), sv_(v) {}
  AttributeValue(const std::vector<std::string>& v) noexcept  // NOLINT
      : type_(Type::kStringArray), strings_(&v) {}
  AttributeValue(const std::vector<bool>& v) noexcept : type_(Type::kBoolArray), bools_(&v) {}  // NOLINT
  AttributeValue(std::span<const std::int64_t> v) noexcept : type_(Type::kIntArray), iv_(v) {}  // NOLINT
  AttributeValue(const std::vector<std::int64_t>& v) noexcept  // NOLINT
      : type_(Type::kIntArray), iv_(v) {}
  AttributeValue(std::span<const double> v) noexcept : type_(Type::kDoubleArray), dv_(v) {}  // NOLINT
  AttributeValue(const std::vector<double>& v) noexcept  // NOLINT
      : type_(Type::kDoubleArray), dv_(v) {}

  Type type() const noexcept { return type_; }
  std::string_view as_string() const noexcept { return s_; }
  bool as_bool() const noexcept { return i_ != 0; }
  std::int64_t as_int() const noexcept { return i_; }
  double as_double() const noexcept { return d_; }
  // String arrays come either as views or as a vector of strings.
  std::size_t string_count() const noexcept { return strings_ ? strings_->size() : sv_.size(); }
  std::string_view string_at(std::size_t i) const noexcept {
    return strings_ ? std::string_view((*strings_)[i]) : sv_[i];
  }
  const std::vector<bool>* bools() const noexcept { return bools_; }
  std::span<const std::int64_t> ints() const noexcept { return iv_; }
  std::span<const double> doubles() const noexcept { return dv_; }

 private:
  Type type_;
  std::int64_t i_ = 0;
  double d_ = 0;
  std::string_view s_;
  std::span<const std::string_view> sv_;
  const std::vector<std::string>* strings_ = nullptr;
  const std::vector<bool>* bools_ = nullptr;
  std::span<const std::int64_t> iv_;
  std::span<const double> dv_;
};

struct Attribute {
  std::string_view key;
  AttributeValue value;
};
using Attributes = std::initializer_list<Attribute>;

struct Link {
  SpanContext context;
  std::vector<std::pair<std::string, std::string>> attributes;  // string attributes only
};

struct SpanOptions {
  SpanKind kind = SpanKind::kInternal;
  // Explicit parent; when absent the thread's active span is the parent.
  std::optional<SpanContext> parent;
  // Start a new trace even when a span is active.
  bool root = false;
  std::vector<Link> links;
  // 0 = now.
  std::int64_t start_time_unix_nano = 0;
};

class Span {
 public:
  Span() noexcept = default;  // a non-recording span
  Span(Span&& other) noexcept : state_(other.state_) { other.state_ = nullptr; }
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span() { end(); }

  // False when the span was sampled out (calls on it are cheap no-ops) or ended.
  bool is_recording() const noexcept { return state_ != nullptr; }
  // The span's identity (valid even when sampled out, so children and
  // propagated headers stay in the same trace); invalid after end().
  SpanContext context() const noexcept;

  void set_attribute(std::string_view key, const AttributeValue& value) noexcept;
  void set_attributes(Attributes attributes) noexcept;
  void add_event(std::string_view name, Attributes attributes = {}) noexcept;
  // An "exception" event with exception.type and exception.message.
  void record_exception(std::string_view type, std::string_view message) noexcept;
  void record_exception(const std::exception& e) noexcept;
  void set_status(StatusCode code, std::string_view description = {}) noexcept;
  void update_name(std::string_view name) noexcept;
  // Ends the span now (or at `end_time_unix_nano`). Idempotent.
  void end(std::int64_t end_time_unix_nano = 0) noexcept;

 private:
  friend class Tracer;
  friend class Scope;
  explicit Span(trace::SpanState* state) noexcept : state_(state) {}
  trace::SpanState* state_ = nullptr;
};

// Makes a span the thread's active span for its lifetime (logs carry its ids,
// new spans become its children). Scopes nest; destroy them in reverse order.
class Scope {
 public:
  explicit Scope(const Span& span) noexcept;
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  trace::SpanState* state_;
  trace::SpanState* previous_;
  const void* previous_ids_;
};

class Tracer {
 public:
  Span start_span(std::string_view name, const SpanOptions& options = {},
                  Attributes attributes = {}) noexcept;

  // Runs fn(Span&) inside a new active span. An exception escaping fn is
  // recorded (type, message) with error status and rethrown.
  template <typename Fn>
  decltype(auto) span(std::string_view name, Fn&& fn, const SpanOptions& options = {}) {
    Span s = start_span(name, options);
    Scope scope(s);
    try {
      if constexpr (std::is_invocable_v<Fn, Span&>) {
        return fn(s);
      } else {
        return fn();
      }
    } catch (const std::exception& e) {
      s.record_exception(e);
      s.set_status(StatusCode::kError, e.what());
      throw;
    } catch (...) {
      s.record_exception("unknown", "non-standard exception");
      s.set_status(StatusCode::kError, "non-standard exception");
      throw;
    }
  }

  // An event on the active span; with no active span, a zero-duration span
  // named `name`.
  void event(std::string_view name, Attributes attributes = {}) noexcept;

  // The thread's active span context (invalid when none).
  SpanContext active_context() const noexcept;

  // W3C propagation of the active span (or `context`) into carriers.
  // Sets `traceparent` (and `tracestate`) for the active span; false when
  // there is none.
  bool inject_headers(std::map<std::string, std::string>& headers) const noexcept;
  // Returns the JSON object `payload_json` with `traceparent`/`tracestate`
  // keys for the active span (unchanged when it is not a JSON object).
  std::string inject_job_payload(std::string_view payload_json) const noexcept;
  // Extracts a remote parent. A malformed traceparent is counted in the
  // traces track's `errors` and yields nullopt (the caller starts a new trace).
  std::optional<SpanContext> extract_headers(
      const std::map<std::string, std::string>& headers) const noexcept;
  std::optional<SpanContext> extract_job_payload(std::string_view payload_json) const noexcept;

 private:
  friend class Client;
  explicit Tracer(trace::TracerCore* core) noexcept : core_(core) {}
  trace::TracerCore* core_;
};

}  // namespace emp::telemetry
