// Parsers for the body of an OTLP/HTTP export response (docs/otlp.md,
// "Partial success" and "Status classification"). A successful response
// (ExportTraceServiceResponse, ExportLogsServiceResponse,
// ExportMetricsServiceResponse) may report a partial success:
//   partial_success (field 1) {
//     rejected_spans | rejected_log_records | rejected_data_points (int64, field 1)
//     error_message (string, field 2) }
// The three messages share these field numbers, so one parser serves every
// signal. An empty body (Fluent Bit answers 201 with none) is a full success.
//
// The body comes from the network and is treated as hostile: truncated or
// over-long varints, lengths past the end, wrong wire types, groups, JSON
// nested beyond kMaxJsonDepth, negative or out-of-range counts all give
// ok=false with an error naming what and where. Never throws, never reads
// outside `body`. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emp::telemetry::encode::otlp {

struct PartialSuccess {
  bool ok = false;            // the body decoded
  std::int64_t rejected = 0;  // items the peer refused (0: full success)
  std::string message;        // the peer's error_message, cut at kMaxResponseMessageBytes
  std::string error;          // why the body did not decode (empty when ok)
};

inline constexpr std::size_t kMaxResponseMessageBytes = 1024;
inline constexpr int kMaxJsonDepth = 64;

// Body with Content-Type application/x-protobuf. Unknown fields are skipped;
// a repeated field's last occurrence wins (protobuf merge rules).
PartialSuccess parse_partial_success_proto(std::string_view body) noexcept;

// Body with Content-Type application/json: {"partialSuccess": {"rejectedSpans":
// "5" | 5, "errorMessage": "..."}}. Accepts the proto field names
// (partial_success, rejected_spans, ...) too, as protobuf JSON parsers must;
// ignores unknown members; a body of only whitespace is a full success.
PartialSuccess parse_partial_success_json(std::string_view body) noexcept;

// The message of the google.rpc.Status body an OTLP/HTTP server sends with
// a 4xx/5xx answer (protobuf field 2 `message`, or the JSON "message" key).
// nullopt when absent, empty or unreadable: an unreadable body only means
// there is no message to report. The text is returned as sent; callers
// make it printable before showing it.
std::optional<std::string> parse_status_message_proto(std::string_view body) noexcept;
std::optional<std::string> parse_status_message_json(std::string_view body) noexcept;

}  // namespace emp::telemetry::encode::otlp
