// Turns decoded OTLP requests into the viewer's rows (rows.hpp), which is
// where correlation happens: the service comes from the resource's
// service.name, the job id from a span's `job.id` or `job_id` attribute, a
// log's or event's `job_id` (or `job.id`) attribute, or a metric point's
// `job_id` attribute. Log records with a non-empty event_name are
// operational events. Fluentd forward records are read by the keys of the
// project's log line format (docs/log-format.md).
//
// Also the JSON rendering of OTLP values the rows and the API share.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "encode/otlp_decode.hpp"
#include "viewer/rows.hpp"

namespace emp::telemetry::viewer {

void add_traces(const encode::otlp::TracesRequest& request, Batch& batch);
void add_logs(const encode::otlp::LogsRequest& request, Batch& batch);
void add_metrics(const encode::otlp::MetricsRequest& request, Batch& batch);
// One Fluentd forward event (tag, EventTime, msgpack record) as a log row
// with source "forward", or an event row when the record has an
// `event.name` key. Keys of the project's log line format become the row's
// columns: `message` (or a tailed line's `log`) the body, `level` the
// severity, `service_name` the service, `job_id` (or `job.id`), `trace_id`,
// `span_id`; the other keys are attributes, plus `fluentd.tag`. A record that
// is not a map is kept whole as the body. False (with `error`) only when the
// record is not msgpack at all.
bool add_forward_record(std::string_view tag, std::int64_t time_unix_nano, std::string_view record,
                        Batch& batch, std::string& error);

// AnyValue as JSON: strings, numbers, booleans as themselves; bytes as
// base64; arrays; key-value lists as objects; NaN and infinities as strings.
nlohmann::json any_value_json(const encode::otlp::AnyValue& v);
// Attributes as one JSON object (later duplicates win).
nlohmann::json attributes_json(const std::vector<encode::otlp::KeyValue>& attributes);

}  // namespace emp::telemetry::viewer
