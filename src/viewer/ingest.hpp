// Turns decoded OTLP requests into the viewer's rows (rows.hpp), which is
// where correlation happens: the service comes from the resource's
// service.name, the job id from a span's `job.id` or `job_id` attribute, a
// log's or event's `job_id` (or `job.id`) attribute, or a metric point's
// `job_id` attribute. Log records with a non-empty event_name are
// operational events.
//
// Also the JSON rendering of OTLP values the rows and the API share.
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "encode/otlp_decode.hpp"
#include "viewer/rows.hpp"

namespace emp::telemetry::viewer {

void add_traces(const encode::otlp::TracesRequest& request, Batch& batch);
void add_logs(const encode::otlp::LogsRequest& request, Batch& batch);
void add_metrics(const encode::otlp::MetricsRequest& request, Batch& batch);

// AnyValue as JSON: strings, numbers, booleans as themselves; bytes as
// base64; arrays; key-value lists as objects; NaN and infinities as strings.
nlohmann::json any_value_json(const encode::otlp::AnyValue& v);
// Attributes as one JSON object (later duplicates win).
nlohmann::json attributes_json(const std::vector<encode::otlp::KeyValue>& attributes);

}  // namespace emp::telemetry::viewer
