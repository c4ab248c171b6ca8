// Sentry envelopes (https://develop.sentry.dev/sdk/data-model/envelopes/):
// a header line of JSON, then per item an item-header line
// {"type": ..., "length": <payload bytes>} and the payload, each line ending
// in '\n'. Pure functions: JSON in, bytes out.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace emp::telemetry::encode::sentry {

// The envelope header line (with its '\n').
std::string envelope_header(const nlohmann::json& header);
// Appends one item (header line, payload, '\n') to `envelope`.
void append_item(std::string& envelope, std::string_view type, std::string_view payload);

// An envelope carrying one event: header {"event_id": ...} and the event item.
std::string event_envelope(const nlohmann::json& event);

}  // namespace emp::telemetry::encode::sentry
