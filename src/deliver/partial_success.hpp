// Reading what an OTLP/HTTP server says in its response body: the partial
// success of a 2xx answer (Export*ServiceResponse.partial_success) and the
// message of an error answer (google.rpc.Status), in protobuf or JSON.
//
// These are deliberately small and tolerant: an unreadable body never turns
// a delivered request into a failure; it only means there is no count or
// message to report. All functions are pure, thread-safe and never throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emp::telemetry::deliver {

struct PartialSuccess {
  // rejected_spans / rejected_data_points / rejected_log_records (whichever
  // the body carries); negative values read as 0.
  std::uint64_t rejected = 0;
  std::string error_message;
};

// Export{Trace,Metrics,Logs}ServiceResponse in protobuf. nullopt when the
// body is malformed; a PartialSuccess with rejected 0 and no message when it
// carries none (an empty body is a valid empty response).
std::optional<PartialSuccess> parse_partial_success_proto(std::string_view body) noexcept;

// The same response in OTLP/JSON (camelCase or snake_case keys; int64 as a
// string or a number).
std::optional<PartialSuccess> parse_partial_success_json(std::string_view body) noexcept;

// google.rpc.Status.message of an error response (protobuf field 2, or the
// JSON "message" key). nullopt when absent or unreadable.
std::optional<std::string> parse_status_message_proto(std::string_view body) noexcept;
std::optional<std::string> parse_status_message_json(std::string_view body) noexcept;

// `text` made safe for a one-line message: bytes outside printable ASCII
// become '?', and the result is cut at `limit` bytes ("..." appended).
std::string printable_excerpt(std::string_view text, std::size_t limit);

}  // namespace emp::telemetry::deliver
