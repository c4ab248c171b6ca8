// Sentry envelope parsing for the viewer's /api/<project>/envelope/
// receiver: the newline-delimited format (an envelope header line, then per
// item a header line and a payload, the payload either `length` bytes long
// or running to the next newline), written against Sentry's public envelope
// documentation.
//
// Items of type `event` become ErrorRows (exception type/value/stack trace
// of the innermost exception, message, tags, contexts.trace ids, the
// `job_id` tag); `client_report` items become ClientReportRows; other item
// types (attachments, sessions, transactions) are skipped and counted.
// A malformed envelope is refused as a whole with an error that names the
// item and what was wrong.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "viewer/rows.hpp"

namespace emp::telemetry::viewer {

struct EnvelopeResult {
  std::string event_id;           // from the envelope header or the first event
  std::size_t skipped_items = 0;  // item types the viewer does not store
};

bool parse_sentry_envelope(std::string_view body, Batch& batch, EnvelopeResult& result,
                           std::string& error);

// RFC 3339 ("2026-11-25T07:56:09.123Z", offsets allowed) or unix seconds as a
// number or numeric string, to unix nanoseconds; false when neither.
bool parse_timestamp(const std::string& text, std::int64_t* ns);

}  // namespace emp::telemetry::viewer
