// W3C Trace Context on the wire: parsing and formatting the `traceparent` and
// `tracestate` headers, and carrying them in HTTP header maps and in the JSON
// payloads of queued jobs, so that one trace follows a job from the API server
// through the queue to the worker that runs it.
//
// Everything here treats its input as hostile: nothing throws, every rejected
// input comes back with a reason (so the tracer can count it, e.g. as
// `traceparent_rejected`), and a bad `tracestate` never invalidates a good
// `traceparent` (W3C §3.3). A bad `traceparent` discards the `tracestate`
// with it, as W3C requires.
//
// Decisions where the W3C text leaves room:
//  * Leading and trailing spaces/tabs around a `traceparent` value are
//    trimmed, as an HTTP parser strips optional whitespace around a field
//    value; whitespace anywhere inside the 55 characters is rejected.
//  * Two `traceparent` values (e.g. "traceparent" and "Traceparent" in one
//    map, or the key twice in a job payload) reject the context: it is
//    ambiguous which one the sender meant (the W3C test suite expects a new
//    trace here). Several `tracestate` values are joined with ',' as HTTP
//    joins repeated fields.
//  * `tracestate` duplicate keys keep the first occurrence and count the
//    rest as dropped; invalid members are dropped individually.
//
// Thread-safety: all functions are pure (no shared state) and may be called
// concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "emp/telemetry/trace_context.hpp"

namespace emp::telemetry {

inline constexpr std::string_view kTraceparentHeader = "traceparent";
inline constexpr std::string_view kTracestateHeader = "tracestate";

// Why no context came out of a carrier. kNone means success.
enum class PropagationError : std::uint8_t {
  kNone = 0,
  kMissing,           // no traceparent at all (not an error to count)
  kDuplicate,         // more than one traceparent value
  kLength,            // not 55 characters (version 00), or shorter than 55
  kVersion,           // version is not two lowercase hex digits
  kForbiddenVersion,  // version "ff"
  kSeparator,         // a '-' missing where one is required
  kTraceIdNotHex,     // trace-id is not 32 lowercase hex digits
  kTraceIdZero,       // trace-id is all zero
  kParentIdNotHex,    // parent-id is not 16 lowercase hex digits
  kParentIdZero,      // parent-id is all zero
  kFlagsNotHex,       // trace-flags is not 2 lowercase hex digits
  kTrailingData,      // version 00 followed by more characters, or a later
                      // version whose extra data does not start with '-'
  kNotString,         // job payload: traceparent/tracestate is not a string
  kPayloadNotJson,    // job payload is not valid JSON
  kPayloadNotObject,  // job payload is JSON but not an object
  kInvalidContext,    // inject: the context has a zero trace id or span id
};

// Short stable name, e.g. "trace_id_zero", for counters and tests.
std::string_view to_string(PropagationError error) noexcept;

// Result of parse_traceparent(). On success `context` holds the ids and the
// flags (only bits 0x01 and 0x02 kept), `remote` is true and `trace_state`
// is empty. On failure `context` is nullopt and `error`/`offset` say why and
// where (offset of the first offending character in the trimmed value).
struct ParseResult {
  std::optional<SpanContext> context;
  PropagationError error = PropagationError::kNone;
  std::size_t offset = 0;  // for kLength: the length that was found
  char found = '\0';       // the offending character, when the error is about one

  bool ok() const noexcept { return context.has_value(); }
  // "traceparent: trace-id is not ...: 'A' at offset 3". Shows at
  // most one character of the input, escaped, so hostile input cannot
  // flood a log.
  std::string describe() const;
};

// Parses a `traceparent` value strictly per W3C Trace Context:
//  * version 00: exactly 55 characters "00-<32 hex>-<16 hex>-<2 hex>";
//  * lowercase hex only; version "ff" forbidden; all-zero ids rejected;
//  * a later version (01..fe) may be longer than 55 characters if the 56th
//    is '-'; only the four known fields are read.
ParseResult parse_traceparent(std::string_view value) noexcept;

// "00-<trace id>-<span id>-<flags>", with flag bits other than 0x01 and 0x02
// cleared. Empty when `context` is not valid.
std::string format_traceparent(const SpanContext& context);

// Result of parse_tracestate(): the members kept and how many were dropped.
struct TracestateParseResult {
  TraceState state;
  std::size_t dropped_invalid = 0;     // bad key or value, or no '='
  std::size_t dropped_duplicate = 0;   // key already seen (the first is kept)
  std::size_t dropped_over_limit = 0;  // valid members past the 32nd
  std::size_t dropped() const noexcept {
    return dropped_invalid + dropped_duplicate + dropped_over_limit;
  }
};

// Parses a `tracestate` value: members separated by ',' with optional
// spaces/tabs around each; empty members are skipped (not counted); invalid
// members are dropped and counted without affecting the others.
TracestateParseResult parse_tracestate(std::string_view value) noexcept;

// What an extract found. `context` (remote = true) when a valid traceparent
// was found; otherwise `error` says why (kMissing when there was none).
// `tracestate_dropped` counts tracestate members dropped by the parse.
struct ExtractResult {
  std::optional<SpanContext> context;
  PropagationError error = PropagationError::kMissing;
  std::size_t offset = 0;  // as in ParseResult, for traceparent errors
  char found = '\0';       // as in ParseResult
  std::size_t tracestate_dropped = 0;

  bool ok() const noexcept { return context.has_value(); }
  // True when a carrier had something that had to be rejected, i.e. the
  // tracer should count `traceparent_rejected`. A missing header is not.
  bool rejected() const noexcept {
    return !context && error != PropagationError::kMissing && error != PropagationError::kNone;
  }
  std::string describe() const;
};

// ---- HTTP headers --------------------------------------------------------

// Looks a header up by its lowercase name ("traceparent", "tracestate").
// Case-insensitive matching is the getter's job (HTTP libraries usually do
// it already). Return nullopt when absent.
using HeaderGetter = std::function<std::optional<std::string>(std::string_view name)>;
// Sets a header (lowercase name) to a value, replacing any earlier value.
using HeaderSetter = std::function<void(std::string_view name, std::string_view value)>;

// Writes `traceparent` (and `tracestate` when non-empty) into `headers`.
// Any existing key that equals either name case-insensitively is removed
// first, so a stale `Tracestate` cannot survive next to a new traceparent.
// Returns false and changes nothing when `context` is not valid.
bool inject_headers(const SpanContext& context,
                    std::map<std::string, std::string>& headers) noexcept;
bool inject_headers(const SpanContext& context, const HeaderSetter& set) noexcept;

// Reads the context from `headers`, matching names case-insensitively.
ExtractResult extract_headers(const std::map<std::string, std::string>& headers) noexcept;
ExtractResult extract_headers(const HeaderGetter& get) noexcept;

// ---- Job payloads (JSON objects) -----------------------------------------

// Returns `payload_json` with top-level string members "traceparent" and
// "tracestate" (the latter only when non-empty) set from `context`, placed
// last. Every other member is copied byte for byte, so numbers too large for
// a double or uint64 survive; earlier traceparent/tracestate members are
// removed. When the payload is not a JSON object or the context is invalid,
// returns the payload unchanged and stores the reason in `*error` (when
// given); on success stores kNone.
std::string inject_into_job_payload(std::string_view payload_json, const SpanContext& context,
                                    PropagationError* error = nullptr) noexcept;

// Reads the top-level "traceparent"/"tracestate" members of a JSON object.
ExtractResult extract_from_job_payload(std::string_view payload_json) noexcept;

}  // namespace emp::telemetry
