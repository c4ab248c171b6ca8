// The rows the local viewer stores: one struct per SQLite table (spans,
// logs, events, metric points, errors, client reports), already flattened
// and JSON-ready (ids as lowercase hex, attributes as JSON object text), plus
// the Batch that carries one request's rows from a receiver to the store's
// writer thread. ingest.hpp fills them from decoded OTLP requests,
// sentry_envelope.hpp from Sentry envelopes.
//
// Plain data; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace emp::telemetry::viewer {

struct SpanRow {
  std::string trace_id, span_id, parent_span_id;  // hex; parent "" for a root
  std::string name;
  int kind = 0;
  std::int64_t start_ns = 0, end_ns = 0;
  int status_code = 0;
  std::string status_message;
  std::string service, job_id;                      // "" = unknown
  std::string attributes, events, links, resource;  // JSON text
  // Correlation hints for the jobs table: job.machine / job.worker (or the
  // resource's machine_id / worker_id) and job.final_status.
  std::string machine, worker, final_status;
};

// Log records; with a non-empty event_name they go to the events table.
struct LogRow {
  std::int64_t time_ns = 0;
  int severity_number = 0;
  std::string severity_text;
  std::string body;  // the body as text (strings verbatim, other values as JSON)
  std::string event_name;
  std::string trace_id, span_id;
  std::string service, job_id;
  std::string attributes, resource;
  std::string source = "otlp";  // "otlp" or "forward"
};

struct MetricRow {
  std::int64_t time_ns = 0;
  std::string name, unit, kind;  // kind: sum, gauge, histogram, exponential_histogram
  double value = 0;              // sum/gauge value; histogram: sum
  std::int64_t count = 0;        // histogram count (0 for sums and gauges)
  std::string service, job_id, trace_id;
  std::string attributes;
};

// One Sentry error event.
struct ErrorRow {
  std::int64_t time_ns = 0;
  std::string event_id, level;
  std::string exception_type, exception_value, message;
  std::string stacktrace;      // JSON array of frames, oldest first
  std::string tags, contexts;  // JSON objects
  std::string trace_id, span_id, job_id, service, environment, release;
  std::string raw;  // the whole event, JSON
};

struct ClientReportRow {
  std::int64_t time_ns = 0;
  std::string discarded;  // JSON array [{reason, category, quantity}]
  std::int64_t quantity = 0;
};

struct Batch {
  std::vector<SpanRow> spans;
  std::vector<LogRow> logs;  // events included (event_name set)
  std::vector<MetricRow> metrics;
  std::vector<ErrorRow> errors;
  std::vector<ClientReportRow> client_reports;

  std::size_t rows() const noexcept {
    return spans.size() + logs.size() + metrics.size() + errors.size() + client_reports.size();
  }
  // Approximate bytes the rows hold (for the store's queue bound).
  std::size_t bytes() const noexcept;
};

}  // namespace emp::telemetry::viewer
