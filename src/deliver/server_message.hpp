// What an OTLP/HTTP server says when it refuses a request: the message of
// its google.rpc.Status body (protobuf or JSON), made safe to put into a
// one-line diagnostic. (Partial success of a 2xx answer is read by
// encode/otlp_response.hpp.)
//
// These are deliberately small and tolerant: an unreadable body only means
// there is no message to report. All functions are pure, thread-safe and
// never throw except std::bad_alloc from printable_excerpt.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace emp::telemetry::deliver {

// google.rpc.Status.message of an error response (protobuf field 2, or the
// JSON "message" key). nullopt when absent, empty or unreadable.
std::optional<std::string> parse_status_message_proto(std::string_view body) noexcept;
std::optional<std::string> parse_status_message_json(std::string_view body) noexcept;

// `text` made safe for a one-line message: bytes outside printable ASCII
// become '?', and the result is cut at `limit` bytes ("..." appended).
std::string printable_excerpt(std::string_view text, std::size_t limit);

}  // namespace emp::telemetry::deliver
