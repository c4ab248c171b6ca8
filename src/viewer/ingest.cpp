#include "viewer/ingest.hpp"

#include <cmath>
#include <cstdint>
#include <string_view>

#include "encode/msgpack_reader.hpp"

namespace emp::telemetry::viewer {

namespace otlp = encode::otlp;
using nlohmann::json;

namespace {

std::string base64(std::string_view s) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(s[i]) << 16) |
                   (static_cast<unsigned char>(s[i + 1]) << 8) |
                   static_cast<unsigned char>(s[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(kAlphabet[(n >> k) & 63]);
  }
  if (i < s.size()) {
    unsigned n = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) n |= static_cast<unsigned char>(s[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// A string attribute (or the text of a number) by key, "" when absent.
std::string attr_text(const std::vector<otlp::KeyValue>& attrs, std::string_view key) {
  for (const auto& kv : attrs) {
    if (kv.key != key) continue;
    if (kv.value.type == otlp::AnyValue::Type::kString) return kv.value.str;
    if (kv.value.type == otlp::AnyValue::Type::kInt) return std::to_string(kv.value.int_value);
  }
  return {};
}

std::string service_of(const otlp::Resource& r) {
  std::string s = attr_text(r.attributes, "service.name");
  return s;
}

std::int64_t ns(std::uint64_t v) {
  return v > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(v);
}

std::string body_text(const otlp::AnyValue& v) {
  if (v.type == otlp::AnyValue::Type::kString) return v.str;
  if (v.type == otlp::AnyValue::Type::kEmpty) return {};
  return any_value_json(v).dump();
}

}  // namespace

json any_value_json(const otlp::AnyValue& v) {
  switch (v.type) {
    case otlp::AnyValue::Type::kEmpty:
      return nullptr;
    case otlp::AnyValue::Type::kString:
      return v.str;
    case otlp::AnyValue::Type::kBool:
      return v.bool_value;
    case otlp::AnyValue::Type::kInt:
      return v.int_value;
    case otlp::AnyValue::Type::kDouble:
      if (std::isnan(v.double_value)) return "NaN";
      if (std::isinf(v.double_value)) return v.double_value > 0 ? "Infinity" : "-Infinity";
      return v.double_value;
    case otlp::AnyValue::Type::kBytes:
      return base64(v.str);
    case otlp::AnyValue::Type::kArray: {
      json a = json::array();
      for (const auto& e : v.array) a.push_back(any_value_json(e));
      return a;
    }
    case otlp::AnyValue::Type::kKvList:
      return attributes_json(v.kvlist);
  }
  return nullptr;
}

json attributes_json(const std::vector<otlp::KeyValue>& attributes) {
  json o = json::object();
  for (const auto& kv : attributes) o[kv.key] = any_value_json(kv.value);
  return o;
}

void add_traces(const otlp::TracesRequest& request, Batch& batch) {
  for (const auto& r : request.resources) {
    const std::string service = service_of(r.resource);
    const std::string resource = attributes_json(r.resource.attributes).dump();
    for (const auto& s : r.scopes) {
      for (const auto& sp : s.items) {
        SpanRow row;
        row.trace_id = otlp::id_hex(sp.trace_id.data(), sp.trace_id.size());
        row.span_id = otlp::id_hex(sp.span_id.data(), sp.span_id.size());
        if (sp.has_parent) {
          row.parent_span_id = otlp::id_hex(sp.parent_span_id.data(), sp.parent_span_id.size());
        }
        row.name = sp.name;
        row.kind = static_cast<int>(sp.kind);
        row.start_ns = ns(sp.start_time_unix_nano);
        row.end_ns = ns(sp.end_time_unix_nano);
        row.status_code = static_cast<int>(sp.status.code);
        row.status_message = sp.status.message;
        row.service = service;
        row.job_id = attr_text(sp.attributes, "job.id");
        if (row.job_id.empty()) row.job_id = attr_text(sp.attributes, "job_id");
        row.attributes = attributes_json(sp.attributes).dump();
        json events = json::array();
        for (const auto& e : sp.events) {
          events.push_back({{"time_ns", ns(e.time_unix_nano)},
                            {"name", e.name},
                            {"attributes", attributes_json(e.attributes)}});
        }
        row.events = events.dump();
        json links = json::array();
        for (const auto& l : sp.links) {
          links.push_back({{"trace_id", otlp::id_hex(l.trace_id.data(), l.trace_id.size())},
                           {"span_id", otlp::id_hex(l.span_id.data(), l.span_id.size())},
                           {"attributes", attributes_json(l.attributes)}});
        }
        row.links = links.dump();
        row.resource = resource;
        row.machine = attr_text(sp.attributes, "job.machine");
        if (row.machine.empty()) row.machine = attr_text(r.resource.attributes, "machine_id");
        row.worker = attr_text(sp.attributes, "job.worker");
        if (row.worker.empty()) row.worker = attr_text(r.resource.attributes, "worker_id");
        row.final_status = attr_text(sp.attributes, "job.final_status");
        batch.spans.push_back(std::move(row));
      }
    }
  }
}

void add_logs(const otlp::LogsRequest& request, Batch& batch) {
  for (const auto& r : request.resources) {
    const std::string service = service_of(r.resource);
    const std::string resource = attributes_json(r.resource.attributes).dump();
    for (const auto& s : r.scopes) {
      for (const auto& l : s.items) {
        LogRow row;
        row.time_ns = ns(l.time_unix_nano != 0 ? l.time_unix_nano : l.observed_time_unix_nano);
        row.severity_number = l.severity_number;
        row.severity_text = l.severity_text;
        row.body = body_text(l.body);
        row.event_name = l.event_name;
        if (l.has_trace_id) row.trace_id = otlp::id_hex(l.trace_id.data(), l.trace_id.size());
        if (l.has_span_id) row.span_id = otlp::id_hex(l.span_id.data(), l.span_id.size());
        row.service = service;
        row.job_id = attr_text(l.attributes, "job_id");
        if (row.job_id.empty()) row.job_id = attr_text(l.attributes, "job.id");
        row.attributes = attributes_json(l.attributes).dump();
        row.resource = resource;
        batch.logs.push_back(std::move(row));
      }
    }
  }
}

void add_metrics(const otlp::MetricsRequest& request, Batch& batch) {
  for (const auto& r : request.resources) {
    const std::string service = service_of(r.resource);
    for (const auto& s : r.scopes) {
      for (const auto& m : s.items) {
        const auto base = [&](const std::vector<otlp::KeyValue>& attrs, std::uint64_t t,
                              const char* kind) {
          MetricRow row;
          row.time_ns = ns(t);
          row.name = m.name;
          row.unit = m.unit;
          row.kind = kind;
          row.service = service;
          row.job_id = attr_text(attrs, "job_id");
          row.attributes = attributes_json(attrs).dump();
          return row;
        };
        const auto trace_of = [](const std::vector<otlp::Exemplar>& ex) {
          for (const auto& e : ex) {
            if (e.has_trace_id) return otlp::id_hex(e.trace_id.data(), e.trace_id.size());
          }
          return std::string();
        };
        for (const auto& p : m.number_points) {
          MetricRow row = base(p.attributes, p.time_unix_nano,
                               m.kind == otlp::MetricKind::kGauge ? "gauge" : "sum");
          row.value = p.is_int ? static_cast<double>(p.int_value) : p.double_value;
          row.trace_id = trace_of(p.exemplars);
          batch.metrics.push_back(std::move(row));
        }
        for (const auto& p : m.histogram_points) {
          MetricRow row = base(p.attributes, p.time_unix_nano, "histogram");
          row.value = p.sum;
          row.count = static_cast<std::int64_t>(p.count);
          row.trace_id = trace_of(p.exemplars);
          batch.metrics.push_back(std::move(row));
        }
        for (const auto& p : m.exponential_points) {
          MetricRow row = base(p.attributes, p.time_unix_nano, "exponential_histogram");
          row.value = p.sum;
          row.count = static_cast<std::int64_t>(p.count);
          row.trace_id = trace_of(p.exemplars);
          batch.metrics.push_back(std::move(row));
        }
      }
    }
  }
}

namespace {

// Severity numbers of the OpenTelemetry logs data model for the log line's
// level names (docs/log-format.md), so forward rows sort and colour like
// OTLP ones.
int severity_of(std::string_view level) {
  if (level == "trace") return 1;
  if (level == "debug") return 5;
  if (level == "info") return 9;
  if (level == "warn" || level == "warning") return 13;
  if (level == "error") return 17;
  if (level == "fatal" || level == "critical") return 21;
  return 0;
}

bool is_hex_id(const std::string& s, std::size_t len) {
  return s.size() == len && s.find_first_not_of("0123456789abcdef") == std::string::npos &&
         s.find_first_not_of('0') != std::string::npos;
}

std::string take_text(json& record, const char* key) {
  auto it = record.find(key);
  if (it == record.end()) return {};
  std::string out = it->is_string() ? it->get<std::string>()
                                    : it->dump(-1, ' ', false, json::error_handler_t::replace);
  record.erase(it);
  return out;
}

}  // namespace

bool add_forward_record(std::string_view tag, std::int64_t time_unix_nano, std::string_view record,
                        Batch& batch, std::string& error) {
  std::string text;
  if (encode::msgpack::to_json(record, text) != encode::msgpack::Status::kOk) {
    error = "a record is not msgpack";
    return false;
  }
  LogRow row;
  row.source = "forward";
  row.time_ns = time_unix_nano;
  json r = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!r.is_object()) {
    row.body = std::move(text);
    row.attributes = json{{"fluentd.tag", std::string(tag)}}.dump(-1, ' ', false,
                                                                  json::error_handler_t::replace);
    batch.logs.push_back(std::move(row));
    return true;
  }
  row.body = take_text(r, "message");
  if (row.body.empty()) row.body = take_text(r, "log");
  row.severity_text = take_text(r, "level");
  row.severity_number = severity_of(row.severity_text);
  row.event_name = take_text(r, "event.name");
  // The timestamp key repeats the EventTime at millisecond precision.
  take_text(r, "timestamp");
  std::string trace_id = take_text(r, "trace_id");
  std::string span_id = take_text(r, "span_id");
  if (is_hex_id(trace_id, 32)) row.trace_id = std::move(trace_id);
  if (is_hex_id(span_id, 16)) row.span_id = std::move(span_id);
  json resource = json::object();
  for (const char* key : {"service_name", "service_type", "machine_id", "environment"}) {
    auto it = r.find(key);
    if (it != r.end()) {
      resource[key] = *it;
      r.erase(it);
    }
  }
  if (resource.contains("service_name") && resource["service_name"].is_string()) {
    row.service = resource["service_name"].get<std::string>();
  }
  for (const char* key : {"job_id", "job.id"}) {
    auto it = r.find(key);
    if (row.job_id.empty() && it != r.end() && it->is_string()) row.job_id = it->get<std::string>();
  }
  r["fluentd.tag"] = std::string(tag);
  const auto replace = json::error_handler_t::replace;
  row.attributes = r.dump(-1, ' ', false, replace);
  row.resource = resource.dump(-1, ' ', false, replace);
  batch.logs.push_back(std::move(row));
  return true;
}

std::size_t Batch::bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& s : spans) {
    n += 96 + s.name.size() + s.status_message.size() + s.service.size() + s.job_id.size() +
         s.attributes.size() + s.events.size() + s.links.size() + s.resource.size();
  }
  for (const auto& l : logs) {
    n += 96 + l.severity_text.size() + l.body.size() + l.event_name.size() + l.service.size() +
         l.job_id.size() + l.attributes.size() + l.resource.size();
  }
  for (const auto& m : metrics) {
    n += 64 + m.name.size() + m.unit.size() + m.service.size() + m.job_id.size() +
         m.attributes.size();
  }
  for (const auto& e : errors) {
    n += 128 + e.exception_type.size() + e.exception_value.size() + e.message.size() +
         e.stacktrace.size() + e.tags.size() + e.contexts.size() + e.raw.size();
  }
  for (const auto& c : client_reports) n += 32 + c.discarded.size();
  return n;
}

}  // namespace emp::telemetry::viewer
