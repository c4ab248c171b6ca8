#include "viewer/sentry_envelope.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace emp::telemetry::viewer {

using nlohmann::json;

namespace {

// Bounded size for the raw event kept for the error view.
constexpr std::size_t kMaxRawEvent = 256 * 1024;

std::string str_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return {};
}

// Tags arrive as an object or as [[key, value], ...].
json tags_object(const json& event) {
  json out = json::object();
  auto it = event.find("tags");
  if (it == event.end()) return out;
  if (it->is_object()) {
    for (auto& [k, v] : it->items()) out[k] = v.is_string() ? v : json(v.dump());
  } else if (it->is_array()) {
    for (const auto& pair : *it) {
      if (pair.is_array() && pair.size() == 2 && pair[0].is_string()) {
        out[pair[0].get<std::string>()] = pair[1].is_string() ? pair[1] : json(pair[1].dump());
      }
    }
  }
  return out;
}

// Unix seconds to nanoseconds; false outside what int64 nanoseconds hold
// (1677..2262) or for NaN.
bool seconds_to_ns(double secs, std::int64_t* ns) {
  if (!(secs > -9.2e9 && secs < 9.2e9)) return false;
  *ns = static_cast<std::int64_t>(std::llround(secs * 1e9));
  return true;
}

bool event_time(const json& event, std::int64_t* ns) {
  auto it = event.find("timestamp");
  if (it == event.end()) return false;
  if (it->is_number()) return seconds_to_ns(it->get<double>(), ns);
  return it->is_string() && parse_timestamp(it->get<std::string>(), ns);
}

bool add_event(const json& event, Batch& batch, std::string& error) {
  if (!event.is_object()) {
    error = "an event item's payload must be a JSON object";
    return false;
  }
  ErrorRow row;
  row.event_id = str_of(event, "event_id");
  if (!event_time(event, &row.time_ns)) {
    row.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  }
  row.level = str_of(event, "level");
  if (row.level.empty()) row.level = "error";
  auto msg = event.find("message");
  if (msg != event.end()) {
    if (msg->is_string()) row.message = msg->get<std::string>();
    if (msg->is_object()) {
      row.message = str_of(*msg, "formatted");
      if (row.message.empty()) row.message = str_of(*msg, "message");
    }
  }
  if (row.message.empty()) {
    auto le = event.find("logentry");
    if (le != event.end() && le->is_object()) {
      row.message = str_of(*le, "formatted");
      if (row.message.empty()) row.message = str_of(*le, "message");
    }
  }
  json frames = json::array();
  auto exc = event.find("exception");
  if (exc != event.end()) {
    const json* values = nullptr;
    if (exc->is_object() && exc->contains("values") && (*exc)["values"].is_array()) {
      values = &(*exc)["values"];
    } else if (exc->is_array()) {
      values = &*exc;
    }
    // The last value is the innermost (the one raised last).
    if (values && !values->empty() && values->back().is_object()) {
      const json& e = values->back();
      row.exception_type = str_of(e, "type");
      row.exception_value = str_of(e, "value");
      auto st = e.find("stacktrace");
      if (st != e.end() && st->is_object()) {
        auto fr = st->find("frames");
        if (fr != st->end() && fr->is_array()) frames = *fr;
      }
    }
  }
  row.stacktrace = frames.dump();
  const json tags = tags_object(event);
  row.tags = tags.dump();
  auto ctx = event.find("contexts");
  json contexts = (ctx != event.end() && ctx->is_object()) ? *ctx : json::object();
  row.contexts = contexts.dump();
  auto trace = contexts.find("trace");
  if (trace != contexts.end() && trace->is_object()) {
    row.trace_id = str_of(*trace, "trace_id");
    row.span_id = str_of(*trace, "span_id");
  }
  if (tags.contains("job_id")) row.job_id = tags["job_id"].get<std::string>();
  if (row.job_id.empty()) {
    auto extra = event.find("extra");
    if (extra != event.end() && extra->is_object()) row.job_id = str_of(*extra, "job_id");
  }
  for (const char* k : {"service_name", "service"}) {
    if (row.service.empty() && tags.contains(k)) row.service = tags[k].get<std::string>();
  }
  if (row.service.empty()) row.service = str_of(event, "server_name");
  row.environment = str_of(event, "environment");
  row.release = str_of(event, "release");
  row.raw = event.dump(-1, ' ', false, json::error_handler_t::replace);
  if (row.raw.size() > kMaxRawEvent) row.raw = json({{"truncated", true}}).dump();
  batch.errors.push_back(std::move(row));
  return true;
}

bool add_client_report(const json& report, Batch& batch, std::string& error) {
  if (!report.is_object()) {
    error = "a client_report item's payload must be a JSON object";
    return false;
  }
  ClientReportRow row;
  if (!event_time(report, &row.time_ns)) {
    row.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  }
  json discarded = json::array();
  auto it = report.find("discarded_events");
  if (it != report.end() && it->is_array()) discarded = *it;
  for (const auto& d : discarded) {
    if (d.is_object() && d.contains("quantity") && d["quantity"].is_number_integer()) {
      row.quantity += d["quantity"].get<std::int64_t>();
    }
  }
  row.discarded = discarded.dump();
  batch.client_reports.push_back(std::move(row));
  return true;
}

// Valid UTF-8 is what JSON needs; the envelope's payloads are checked by the
// JSON parser, and headers must parse as JSON objects.
bool parse_json_line(std::string_view text, json* out) {
  *out = json::parse(text, nullptr, false);
  return !out->is_discarded();
}

}  // namespace

bool parse_timestamp(const std::string& text, std::int64_t* ns) {
  if (text.empty()) return false;
  char* end = nullptr;
  const double secs = std::strtod(text.c_str(), &end);
  if (*end == '\0') return seconds_to_ns(secs, ns);
  int y, mo, d, h, mi;
  double s;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
      6) {
    return false;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = 0;
  const std::time_t base = timegm(&tm);
  std::int64_t offset = 0;
  const char* rest = text.c_str() + consumed;
  if (*rest == '+' || *rest == '-') {
    int oh = 0, om = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offset = (oh * 3600 + om * 60) * (*rest == '+' ? 1 : -1);
  } else if (*rest != 'Z' && *rest != 'z' && *rest != '\0') {
    return false;
  }
  if (!(s >= 0 && s < 61)) return false;
  return seconds_to_ns(static_cast<double>(static_cast<std::int64_t>(base) - offset) + s, ns);
}

bool parse_sentry_envelope(std::string_view body, Batch& batch, EnvelopeResult& result,
                           std::string& error) {
  std::size_t pos = body.find('\n');
  const std::string_view header_line = body.substr(0, pos);
  json header;
  if (!parse_json_line(header_line, &header) || !header.is_object()) {
    error = "envelope header (line 1) is not a JSON object";
    return false;
  }
  result.event_id = str_of(header, "event_id");
  pos = pos == std::string_view::npos ? body.size() : pos + 1;
  for (int index = 0; pos < body.size(); ++index) {
    const std::string where = "item " + std::to_string(index);
    std::size_t eol = body.find('\n', pos);
    std::string_view item_header_line =
        body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (item_header_line.empty()) {  // trailing newline or blank line
      pos = eol == std::string_view::npos ? body.size() : eol + 1;
      continue;
    }
    json item_header;
    if (!parse_json_line(item_header_line, &item_header) || !item_header.is_object()) {
      error = where + ": header is not a JSON object";
      return false;
    }
    const std::string type = str_of(item_header, "type");
    if (type.empty()) {
      error = where + ": header has no \"type\"";
      return false;
    }
    pos = eol == std::string_view::npos ? body.size() : eol + 1;
    std::string_view payload;
    auto len = item_header.find("length");
    if (len != item_header.end()) {
      if (!len->is_number_unsigned()) {
        error = where + ": \"length\" must be a non-negative integer";
        return false;
      }
      const auto n = len->get<std::uint64_t>();
      if (n > body.size() - pos) {
        error = where + " (" + type + "): length " + std::to_string(n) + " exceeds the " +
                std::to_string(body.size() - pos) + " bytes left";
        return false;
      }
      payload = body.substr(pos, n);
      pos += n;
      if (pos < body.size()) {
        if (body[pos] != '\n') {
          error = where + " (" + type + "): payload is not followed by a newline";
          return false;
        }
        ++pos;
      }
    } else {
      eol = body.find('\n', pos);
      payload =
          body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
      pos = eol == std::string_view::npos ? body.size() : eol + 1;
    }
    if (type != "event" && type != "client_report") {
      ++result.skipped_items;
      continue;
    }
    json item;
    if (!parse_json_line(payload, &item)) {
      error = where + " (" + type + "): payload is not valid JSON";
      return false;
    }
    std::string item_error;
    const bool ok = type == "event" ? add_event(item, batch, item_error)
                                    : add_client_report(item, batch, item_error);
    if (!ok) {
      error = where + ": " + item_error;
      return false;
    }
    if (type == "event" && result.event_id.empty()) result.event_id = batch.errors.back().event_id;
  }
  return true;
}

}  // namespace emp::telemetry::viewer
