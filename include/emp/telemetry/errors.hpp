// The errors track: exceptions and messages sent to Sentry as events, with
// the capturing thread's stack trace, the scope's tags and contexts, the
// latest breadcrumbs and a link to the active trace.
//
//   try { run_job(job); }
//   catch (const std::exception& e) {
//     t.errors().capture_exception(e, ErrorScope().tag("job_id", job.id));
//   }
//
//   {  // every event captured on this thread inside the block carries these
//     auto pushed = t.errors().push_scope(ErrorScope().tag("queue", "gpu"));
//     ...
//   }
//
// Every call is noexcept and cheap: the caller's thread copies what it was
// given and records the stack's return addresses; symbolizing, building the
// envelope and sending happen on the client's background threads. A capture
// returns the event's id (empty when the event was sampled out, the track is
// off or the queue was full); with an active span, the span gets the id as
// its `sentry.event_id` attribute and the event the span's trace_id/span_id
// in contexts.trace.
//
// SENTRY_DSN turns sending on; SENTRY_SAMPLE_RATE keeps that fraction of
// events; SENTRY_ENVIRONMENT names the environment. docs/sentry.md has the
// details.
//
// Thread-safety: every member of ErrorReporter may be called from any thread.
// ErrorScope is a plain value. A pushed scope belongs to the thread that
// pushed it.
#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emp::telemetry {

namespace errors {
struct ErrorsCore;
}

// Sentry's levels.
enum class ErrorLevel : std::uint8_t { kDebug = 0, kInfo, kWarning, kError, kFatal };
// "debug", "info", "warning", "error", "fatal".
std::string_view to_string(ErrorLevel level) noexcept;

using StringPairs = std::vector<std::pair<std::string, std::string>>;

struct ErrorUser {
  std::string id;
  std::string username;
  std::string email;
  std::string ip_address;
};

// What an event carries besides the error itself (Sentry's scope). Values
// set here win over a pushed scope's, which win over the client's defaults.
struct ErrorScope {
  StringPairs tags;  // values are cut at 200 characters (Sentry's limit)
  // Named contexts, each a set of string fields (contexts.<name>.<field>).
  std::vector<std::pair<std::string, StringPairs>> contexts;
  std::optional<ErrorLevel> level;
  std::vector<std::string> fingerprint;  // empty = Sentry's default grouping
  std::optional<ErrorUser> user;

  ErrorScope& tag(std::string_view key, std::string_view value);
  ErrorScope& context(std::string_view name, StringPairs fields);
  ErrorScope& with_level(ErrorLevel l) {
    level = l;
    return *this;
  }
  ErrorScope& with_fingerprint(std::vector<std::string> f) {
    fingerprint = std::move(f);
    return *this;
  }
  ErrorScope& with_user(ErrorUser u) {
    user = std::move(u);
    return *this;
  }
};

struct Breadcrumb {
  std::string type = "default";  // "default", "error", "http", "query", ...
  std::string category;          // e.g. "log", "span", "job"
  std::string message;
  ErrorLevel level = ErrorLevel::kInfo;
  StringPairs data;
  double timestamp = 0;  // unix seconds; 0 = when added
};

// One exception of an event (exception.values[]), innermost cause first.
struct CapturedException {
  std::string type;   // demangled dynamic type, e.g. "std::runtime_error"
  std::string value;  // what()
};

// An event as before_send sees it, before it is encoded. The hook may change
// any field; the stack trace, breadcrumbs and service metadata are added after.
struct ErrorEvent {
  std::string event_id;  // 32 lowercase hex digits
  double timestamp = 0;  // unix seconds
  ErrorLevel level = ErrorLevel::kError;
  std::string message;                        // capture_message's text
  std::vector<CapturedException> exceptions;  // innermost first; empty for messages
  ErrorScope scope;                           // merged: call > pushed > defaults
};

// Called on the errors track's background thread for every event that was
// sampled in; return false to drop the event (counted `rejected`, reported
// to Sentry as before_send). Must not throw (an exception drops the event).
using BeforeSend = std::function<bool(ErrorEvent&)>;

// A 32-hex-digit event id without allocation; empty() when nothing was captured.
struct EventId {
  std::array<char, 32> hex{};
  bool valid = false;
  bool empty() const noexcept { return !valid; }
  std::string str() const { return valid ? std::string(hex.data(), hex.size()) : std::string(); }
};

class ErrorReporter {
 public:
  class PushedScope;

  EventId capture_exception(const std::exception& e, const ErrorScope& scope = {}) noexcept;
  // std::current_exception() in a catch(...) block; a non-std exception is
  // reported with type "unknown".
  EventId capture_exception(std::exception_ptr e, const ErrorScope& scope = {}) noexcept;
  EventId capture_message(std::string_view message, ErrorLevel level = ErrorLevel::kInfo,
                          const ErrorScope& scope = {}) noexcept;
  void add_breadcrumb(const Breadcrumb& crumb) noexcept;
  // Applies `scope` to every event captured on this thread until the result
  // is destroyed. Pushed scopes nest; destroy them in reverse order.
  [[nodiscard]] PushedScope push_scope(ErrorScope scope) noexcept;
  // Replaces the hook (an empty function removes it).
  void set_before_send(BeforeSend hook) noexcept;
  // False when events go nowhere (no SENTRY_DSN): captures still count.
  bool enabled() const noexcept;

  class PushedScope {
   public:
    PushedScope(PushedScope&& other) noexcept : node_(other.node_) { other.node_ = nullptr; }
    PushedScope(const PushedScope&) = delete;
    PushedScope& operator=(const PushedScope&) = delete;
    PushedScope& operator=(PushedScope&&) = delete;
    ~PushedScope();

   private:
    friend class ErrorReporter;
    explicit PushedScope(void* node) noexcept : node_(node) {}
    void* node_;
  };

 private:
  friend class Client;
  explicit ErrorReporter(errors::ErrorsCore* core) noexcept : core_(core) {}
  errors::ErrorsCore* core_;
};

}  // namespace emp::telemetry
