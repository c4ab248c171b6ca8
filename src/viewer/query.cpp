#include "viewer/query.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <vector>

namespace emp::telemetry::viewer {

using nlohmann::json;

namespace {

json parse_or(const std::string& text, json fallback) {
  if (text.empty()) return fallback;
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

json nullable(const Stmt& st, int col) {
  if (st.is_null(col)) return nullptr;
  return st.text(col);
}

double ms_between(std::int64_t a, std::int64_t b) { return static_cast<double>(b - a) / 1e6; }

constexpr const char* kSpanCols =
    "s.trace_id,s.span_id,s.parent_span_id,s.name,s.kind,s.start_ns,s.end_ns,s.status_code,"
    "s.status_message,s.service,s.job_id,s.attributes,s.events,s.links,r.json";

json span_json(const Stmt& st) {
  const std::int64_t start = st.int64(5), end = st.int64(6);
  return {{"trace_id", st.text(0)},
          {"span_id", st.text(1)},
          {"parent_span_id", nullable(st, 2)},
          {"name", st.text(3)},
          {"kind", st.int64(4)},
          {"start_ns", start},
          {"end_ns", end},
          {"duration_ms", end >= start ? ms_between(start, end) : 0.0},
          {"status_code", st.int64(7)},
          {"status_message", nullable(st, 8)},
          {"service", nullable(st, 9)},
          {"job_id", nullable(st, 10)},
          {"attributes", parse_or(st.text(11), json::object())},
          {"events", parse_or(st.text(12), json::array())},
          {"links", parse_or(st.text(13), json::array())},
          {"resource", parse_or(st.text(14), json::object())}};
}

constexpr const char* kLogCols =
    "l.time_ns,l.severity_number,l.severity_text,l.body,l.trace_id,l.span_id,l.service,"
    "l.job_id,l.attributes,l.source";

json log_json(const Stmt& st) {
  return {{"time_ns", st.int64(0)},
          {"severity_number", st.int64(1)},
          {"severity_text", nullable(st, 2)},
          {"body", st.text(3)},
          {"trace_id", nullable(st, 4)},
          {"span_id", nullable(st, 5)},
          {"service", nullable(st, 6)},
          {"job_id", nullable(st, 7)},
          {"attributes", parse_or(st.text(8), json::object())},
          {"source", st.text(9)}};
}

constexpr const char* kEventCols =
    "e.time_ns,e.event_name,e.severity_text,e.body,e.trace_id,e.span_id,e.service,e.job_id,"
    "e.attributes";

json event_json(const Stmt& st) {
  return {{"time_ns", st.int64(0)},
          {"event_name", st.text(1)},
          {"severity_text", nullable(st, 2)},
          {"body", st.text(3)},
          {"trace_id", nullable(st, 4)},
          {"span_id", nullable(st, 5)},
          {"service", nullable(st, 6)},
          {"job_id", nullable(st, 7)},
          {"attributes", parse_or(st.text(8), json::object())}};
}

constexpr const char* kErrorCols =
    "x.time_ns,x.event_id,x.level,x.exception_type,x.exception_value,x.message,x.stacktrace,"
    "x.tags,x.contexts,x.trace_id,x.span_id,x.job_id,x.service,x.environment,x.release";

json error_json(const Stmt& st) {
  return {{"time_ns", st.int64(0)},
          {"event_id", st.text(1)},
          {"level", nullable(st, 2)},
          {"exception_type", nullable(st, 3)},
          {"exception_value", nullable(st, 4)},
          {"message", nullable(st, 5)},
          {"stacktrace", parse_or(st.text(6), json::array())},
          {"tags", parse_or(st.text(7), json::object())},
          {"contexts", parse_or(st.text(8), json::object())},
          {"trace_id", nullable(st, 9)},
          {"span_id", nullable(st, 10)},
          {"job_id", nullable(st, 11)},
          {"service", nullable(st, 12)},
          {"environment", nullable(st, 13)},
          {"release", nullable(st, 14)}};
}

constexpr const char* kMetricCols =
    "m.time_ns,m.name,m.unit,m.kind,m.value,m.count,m.service,m.job_id,m.trace_id,m.attributes";

json metric_json(const Stmt& st) {
  return {{"time_ns", st.int64(0)},      {"name", st.text(1)},
          {"unit", nullable(st, 2)},     {"kind", st.text(3)},
          {"value", st.real(4)},         {"count", st.int64(5)},
          {"service", nullable(st, 6)},  {"job_id", nullable(st, 7)},
          {"trace_id", nullable(st, 8)}, {"attributes", parse_or(st.text(9), json::object())}};
}

// Span counts cover the job's whole trace: child spans rarely carry the job
// id, and they often arrive before the root span that does.
constexpr const char* kJobCols =
    "job_id,first_ns,last_ns,service,machine,worker,status,trace_id,"
    "max(spans,(SELECT count(*) FROM spans s WHERE s.trace_id=jobs.trace_id)),logs,events,errors,"
    "max(error_spans,(SELECT count(*) FROM spans s WHERE s.trace_id=jobs.trace_id AND "
    "s.status_code=2)),metric_points";

json job_row_json(const Stmt& st) {
  const std::int64_t first = st.int64(1), last = st.int64(2);
  return {{"job_id", st.text(0)},
          {"first_ns", first},
          {"last_ns", last},
          {"duration_ms", last >= first ? ms_between(first, last) : 0.0},
          {"service", nullable(st, 3)},
          {"machine", nullable(st, 4)},
          {"worker", nullable(st, 5)},
          {"status", job_status_name(st.int64(6))},
          {"trace_id", nullable(st, 7)},
          {"spans", st.int64(8)},
          {"logs", st.int64(9)},
          {"events", st.int64(10)},
          {"errors", st.int64(11)},
          {"error_spans", st.int64(12)},
          {"metric_points", st.int64(13)},
          {"error_count", st.int64(11) + st.int64(12)}};
}

// Rows of `sql` (one text parameter bound to ?1) through `row`.
json rows(const Db& db, const std::string& sql, const std::string& arg,
          const std::function<json(const Stmt&)>& row) {
  json out = json::array();
  Stmt st;
  std::string error;
  if (!st.prepare(db, sql.c_str(), error)) return out;
  st.bind(1, arg);
  while (st.step()) out.push_back(row(st));
  return out;
}

std::string severity_label(const json& log) {
  if (log.contains("severity_text") && log["severity_text"].is_string()) {
    return log["severity_text"].get<std::string>();
  }
  const auto n = log.value("severity_number", 0);
  if (n >= 21) return "FATAL";
  if (n >= 17) return "ERROR";
  if (n >= 13) return "WARN";
  if (n >= 9) return "INFO";
  if (n >= 5) return "DEBUG";
  return n > 0 ? "TRACE" : "LOG";
}

// Logs, events, errors and span starts of a job or trace document, merged
// in time order.
json timeline(const json& doc) {
  json out = json::array();
  std::size_t i = 0;
  for (const auto& s : doc["spans"]) {
    std::string text = s["name"].get<std::string>();
    char dur[48];
    std::snprintf(dur, sizeof dur, " (%.1f ms)", s["duration_ms"].get<double>());
    text += dur;
    if (s["status_code"] == 2) {
      text += " ERROR";
      if (s["status_message"].is_string()) text += ": " + s["status_message"].get<std::string>();
    }
    out.push_back({{"time_ns", s["start_ns"]},
                   {"kind", "span"},
                   {"text", text},
                   {"trace_id", s["trace_id"]},
                   {"span_id", s["span_id"]},
                   {"index", i++},
                   {"level", s["status_code"] == 2 ? "ERROR" : ""}});
  }
  i = 0;
  for (const auto& l : doc["logs"]) {
    out.push_back({{"time_ns", l["time_ns"]},
                   {"kind", "log"},
                   {"text", l["body"]},
                   {"level", severity_label(l)},
                   {"trace_id", l["trace_id"]},
                   {"span_id", l["span_id"]},
                   {"index", i++}});
  }
  i = 0;
  for (const auto& e : doc["events"]) {
    std::string text = e["event_name"].get<std::string>();
    const std::string body = e["body"].get<std::string>();
    if (!body.empty() && body != text) text += ": " + body;
    out.push_back({{"time_ns", e["time_ns"]},
                   {"kind", "event"},
                   {"text", text},
                   {"level", e["severity_text"].is_string() ? e["severity_text"] : json("")},
                   {"trace_id", e["trace_id"]},
                   {"span_id", e["span_id"]},
                   {"index", i++}});
  }
  i = 0;
  for (const auto& x : doc["errors"]) {
    std::string text = x["exception_type"].is_string() ? x["exception_type"].get<std::string>()
                                                       : std::string("error");
    if (x["exception_value"].is_string())
      text += ": " + x["exception_value"].get<std::string>();
    else if (x["message"].is_string())
      text += ": " + x["message"].get<std::string>();
    out.push_back({{"time_ns", x["time_ns"]},
                   {"kind", "error"},
                   {"text", text},
                   {"level", "ERROR"},
                   {"trace_id", x["trace_id"]},
                   {"span_id", x["span_id"]},
                   {"event_id", x["event_id"]},
                   {"index", i++}});
  }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a["time_ns"].get<std::int64_t>() < b["time_ns"].get<std::int64_t>();
  });
  return out;
}

}  // namespace

const char* job_status_name(std::int64_t status) {
  switch (status) {
    case 2:
      return "failed";
    case 1:
      return "completed";
    default:
      return "running";
  }
}

std::unique_ptr<StoreReader> StoreReader::open(const std::string& path, std::string& error) {
  std::unique_ptr<StoreReader> r(new StoreReader());
  if (!r->db_.open(path, true, error)) return nullptr;
  // Reads map the file instead of copying pages through read().
  r->db_.exec("PRAGMA mmap_size=268435456; PRAGMA cache_size=-16384;", error);
  Stmt probe;
  if (!probe.prepare(r->db_, "SELECT count(*) FROM jobs", error)) {
    error = path + " is not a viewer database (" + error + ")";
    return nullptr;
  }
  return r;
}

json StoreReader::jobs(int limit, const std::string& service) {
  json out = json::array();
  std::string error;
  Stmt st;
  const std::string sql = std::string("SELECT ") + kJobCols + " FROM jobs" +
                          (service.empty() ? "" : " WHERE service=?2") +
                          " ORDER BY last_ns DESC LIMIT ?1";
  if (!st.prepare(db_, sql.c_str(), error)) return out;
  st.bind(1, static_cast<std::int64_t>(limit));
  if (!service.empty()) st.bind(2, service);
  while (st.step()) out.push_back(job_row_json(st));
  return out;
}

// A service that sends its logs both over OTLP and through Fluentd forward
// delivers each record twice, with the same nanosecond time, service, text
// and ids: a job or trace shows the first copy only (the tables keep both; the jobs list's counts
// include both).
const char* const kFirstLogCopy =
    "l.id=(SELECT min(o.id) FROM logs o WHERE o.service IS l.service AND o.time_ns=l.time_ns "
    "AND o.body IS l.body AND o.job_id IS l.job_id AND o.trace_id IS l.trace_id)";
const char* const kFirstEventCopy =
    "e.id=(SELECT min(o.id) FROM events o WHERE o.service IS e.service AND "
    "o.time_ns=e.time_ns AND o.event_name=e.event_name AND o.job_id IS e.job_id AND "
    "o.trace_id IS e.trace_id)";

std::optional<json> StoreReader::job(const std::string& job_id) {
  // The job's traces: every trace that one of its records names.
  const std::string traces =
      "WITH t(trace_id) AS (SELECT trace_id FROM spans WHERE job_id=?1 "
      "UNION SELECT trace_id FROM logs WHERE job_id=?1 AND trace_id IS NOT NULL "
      "UNION SELECT trace_id FROM events WHERE job_id=?1 AND trace_id IS NOT NULL "
      "UNION SELECT trace_id FROM errors WHERE job_id=?1 AND trace_id IS NOT NULL) ";
  json doc;
  Stmt st;
  std::string error;
  if (st.prepare(db_, (std::string("SELECT ") + kJobCols + " FROM jobs WHERE job_id=?1").c_str(),
                 error)) {
    st.bind(1, job_id);
    if (st.step()) doc["job"] = job_row_json(st);
  }
  doc["spans"] = rows(db_,
                      traces + "SELECT " + kSpanCols +
                          " FROM spans s LEFT JOIN resources r ON r.id=s.resource_id "
                          "WHERE s.job_id=?1 OR s.trace_id IN t ORDER BY s.start_ns, s.id",
                      job_id, span_json);
  doc["logs"] = rows(db_,
                     traces + "SELECT " + kLogCols +
                         " FROM logs l WHERE (l.job_id=?1 OR l.trace_id IN t) AND " +
                         kFirstLogCopy + " ORDER BY l.time_ns, l.id",
                     job_id, log_json);
  doc["events"] = rows(db_,
                       traces + "SELECT " + kEventCols +
                           " FROM events e WHERE (e.job_id=?1 OR e.trace_id IN t) AND " +
                           kFirstEventCopy + " ORDER BY e.time_ns, e.id",
                       job_id, event_json);
  doc["errors"] = rows(db_,
                       traces + "SELECT " + kErrorCols +
                           " FROM errors x WHERE x.job_id=?1 OR x.trace_id IN t "
                           "ORDER BY x.time_ns, x.id",
                       job_id, error_json);
  doc["metrics"] = rows(db_,
                        traces + "SELECT " + kMetricCols +
                            " FROM metric_points m WHERE m.job_id=?1 OR m.trace_id IN t "
                            "ORDER BY m.time_ns, m.id",
                        job_id, metric_json);
  if (!doc.contains("job") && doc["spans"].empty() && doc["logs"].empty() &&
      doc["events"].empty() && doc["errors"].empty() && doc["metrics"].empty()) {
    return std::nullopt;
  }
  if (!doc.contains("job")) doc["job"] = {{"job_id", job_id}, {"status", "running"}};
  doc["timeline"] = timeline(doc);
  return doc;
}

std::optional<json> StoreReader::trace(const std::string& trace_id) {
  json doc;
  doc["trace_id"] = trace_id;
  doc["spans"] = rows(db_,
                      std::string("SELECT ") + kSpanCols +
                          " FROM spans s LEFT JOIN resources r ON r.id=s.resource_id "
                          "WHERE s.trace_id=?1 ORDER BY s.start_ns, s.id",
                      trace_id, span_json);
  doc["logs"] = rows(db_,
                     std::string("SELECT ") + kLogCols + " FROM logs l WHERE l.trace_id=?1 AND " +
                         kFirstLogCopy + " ORDER BY l.time_ns, l.id",
                     trace_id, log_json);
  doc["events"] =
      rows(db_,
           std::string("SELECT ") + kEventCols + " FROM events e WHERE e.trace_id=?1 AND " +
               kFirstEventCopy + " ORDER BY e.time_ns, e.id",
           trace_id, event_json);
  doc["errors"] = rows(db_,
                       std::string("SELECT ") + kErrorCols +
                           " FROM errors x WHERE x.trace_id=?1 ORDER BY x.time_ns, x.id",
                       trace_id, error_json);
  if (doc["spans"].empty() && doc["logs"].empty() && doc["events"].empty() &&
      doc["errors"].empty()) {
    return std::nullopt;
  }
  json jobs = json::array();
  for (const auto& s : doc["spans"]) {
    if (s["job_id"].is_string() && std::find(jobs.begin(), jobs.end(), s["job_id"]) == jobs.end()) {
      jobs.push_back(s["job_id"]);
    }
  }
  doc["job_ids"] = jobs;
  doc["timeline"] = timeline(doc);
  return doc;
}

json StoreReader::search(const std::string& q, int limit) {
  std::string pattern = "%";
  for (char c : q) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += '%';
  json out = json::array();
  Stmt st;
  std::string error;
  const std::string sql = std::string("SELECT ") + kLogCols +
                          " FROM logs l WHERE l.body LIKE ?1 ESCAPE '\\' "
                          "ORDER BY l.time_ns DESC LIMIT ?2";
  if (!st.prepare(db_, sql.c_str(), error)) return out;
  st.bind(1, pattern);
  st.bind(2, static_cast<std::int64_t>(limit));
  while (st.step()) out.push_back(log_json(st));
  return out;
}

std::optional<json> StoreReader::error(const std::string& event_id) {
  Stmt st;
  std::string err;
  const std::string sql =
      std::string("SELECT ") + kErrorCols + ",x.raw FROM errors x WHERE x.event_id=?1 LIMIT 1";
  if (!st.prepare(db_, sql.c_str(), err)) return std::nullopt;
  st.bind(1, event_id);
  if (!st.step()) return std::nullopt;
  json e = error_json(st);
  e["event"] = parse_or(st.text(15), json::object());
  return e;
}

json StoreReader::stats() {
  json out = json::object();
  for (const char* t :
       {"spans", "logs", "events", "metric_points", "errors", "client_reports", "jobs"}) {
    Stmt st;
    std::string error;
    if (st.prepare(db_, (std::string("SELECT count(*) FROM ") + t).c_str(), error) && st.step()) {
      out[t] = st.int64(0);
    }
  }
  Stmt st;
  std::string error;
  if (st.prepare(db_, "SELECT coalesce(sum(quantity),0) FROM client_reports", error) && st.step()) {
    out["client_discarded_events"] = st.int64(0);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Terminal renderings

namespace {

std::string ms_text(double ms) {
  char buf[48];
  if (ms >= 1000) {
    std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  }
  return buf;
}

std::string str_or(const json& j, const char* key, const char* fallback = "-") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

}  // namespace

std::string format_job_timeline(const json& doc) {
  const json& job = doc["job"];
  std::string out = "job " + str_or(job, "job_id") + "  " + str_or(job, "status") + "  service " +
                    str_or(job, "service") + "  machine " + str_or(job, "machine") + "  worker " +
                    str_or(job, "worker");
  if (job.contains("duration_ms")) out += "  duration " + ms_text(job["duration_ms"]);
  out += "\n";
  out += std::to_string(doc["spans"].size()) + " spans, " + std::to_string(doc["logs"].size()) +
         " logs, " + std::to_string(doc["events"].size()) + " events, " +
         std::to_string(doc["errors"].size()) + " errors, " +
         std::to_string(doc["metrics"].size()) + " metric points\n";
  const json& tl = doc["timeline"];
  if (tl.empty()) return out;
  const std::int64_t t0 = tl[0]["time_ns"].get<std::int64_t>();
  for (const auto& e : tl) {
    char head[64];
    std::snprintf(head, sizeof head, "%+11.1f ms  %-5s  %-5s  ",
                  ms_between(t0, e["time_ns"].get<std::int64_t>()),
                  e["kind"].get<std::string>().c_str(), str_or(e, "level", "").c_str());
    out += head + e["text"].get<std::string>() + "\n";
  }
  return out;
}

std::string format_trace_tree(const json& doc) {
  const json& spans = doc["spans"];
  std::string out = "trace " + doc["trace_id"].get<std::string>() + "  " +
                    std::to_string(spans.size()) + " spans\n";
  std::map<std::string, std::vector<std::size_t>> children;
  std::vector<std::size_t> roots;
  std::map<std::string, std::size_t> by_id;
  for (std::size_t i = 0; i < spans.size(); ++i) by_id[spans[i]["span_id"]] = i;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const auto& p = spans[i]["parent_span_id"];
    if (p.is_string() && by_id.count(p.get<std::string>())) {
      children[p.get<std::string>()].push_back(i);
    } else {
      roots.push_back(i);  // a root, or a child whose parent was not received
    }
  }
  if (spans.empty()) return out;
  const std::int64_t t0 = spans[0]["start_ns"].get<std::int64_t>();
  std::function<void(std::size_t, int)> print = [&](std::size_t i, int depth) {
    const json& s = spans[i];
    char head[48];
    std::snprintf(head, sizeof head, "%+11.1f ms  ",
                  ms_between(t0, s["start_ns"].get<std::int64_t>()));
    out += head + std::string(static_cast<std::size_t>(depth) * 2, ' ') +
           s["name"].get<std::string>() + "  " + ms_text(s["duration_ms"]) + "  [" +
           str_or(s, "service") + "]";
    if (s["status_code"] == 2) {
      out += "  ERROR";
      if (s["status_message"].is_string()) out += ": " + s["status_message"].get<std::string>();
    }
    out += "\n";
    if (depth > 64) return;
    for (std::size_t c : children[s["span_id"].get<std::string>()]) print(c, depth + 1);
  };
  for (std::size_t r : roots) print(r, 0);
  return out;
}

}  // namespace emp::telemetry::viewer
