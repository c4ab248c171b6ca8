#include "viewer/sqlite.hpp"

#include <sqlite3.h>

namespace emp::telemetry::viewer {

// Times are unix nanoseconds. `seq` is the commit that wrote a row, which is
// what retention deletes by (rowids grow with it, so a commit's rows are a
// rowid range per table, recorded in `commits`).
const char* const kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS resources(id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS spans(
  id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT,
  name TEXT NOT NULL, kind INTEGER, start_ns INTEGER, end_ns INTEGER, status_code INTEGER,
  status_message TEXT, service TEXT, job_id TEXT, attributes TEXT, events TEXT, links TEXT,
  resource_id INTEGER);
CREATE INDEX IF NOT EXISTS spans_job ON spans(job_id) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_trace ON spans(trace_id);
CREATE INDEX IF NOT EXISTS spans_service_time ON spans(service, start_ns);
CREATE TABLE IF NOT EXISTS logs(
  id INTEGER PRIMARY KEY, time_ns INTEGER, severity_number INTEGER, severity_text TEXT,
  body TEXT, trace_id TEXT, span_id TEXT, service TEXT, job_id TEXT, attributes TEXT,
  resource_id INTEGER, source TEXT);
CREATE INDEX IF NOT EXISTS logs_job ON logs(job_id) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS logs_trace ON logs(trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS logs_service_time ON logs(service, time_ns);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY, time_ns INTEGER, event_name TEXT NOT NULL, severity_text TEXT,
  body TEXT, trace_id TEXT, span_id TEXT, service TEXT, job_id TEXT, attributes TEXT,
  resource_id INTEGER);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_trace ON events(trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_service_time ON events(service, time_ns);
CREATE TABLE IF NOT EXISTS metric_points(
  id INTEGER PRIMARY KEY, time_ns INTEGER, name TEXT NOT NULL, unit TEXT, kind TEXT,
  value REAL, count INTEGER, service TEXT, job_id TEXT, trace_id TEXT, attributes TEXT);
CREATE INDEX IF NOT EXISTS metric_points_job ON metric_points(job_id) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS metric_points_trace ON metric_points(trace_id)
  WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS metric_points_service_time ON metric_points(service, name, time_ns);
CREATE TABLE IF NOT EXISTS errors(
  id INTEGER PRIMARY KEY, time_ns INTEGER, event_id TEXT, level TEXT, exception_type TEXT,
  exception_value TEXT, message TEXT, stacktrace TEXT, tags TEXT, contexts TEXT,
  trace_id TEXT, span_id TEXT, job_id TEXT, service TEXT, environment TEXT, release TEXT,
  raw TEXT);
CREATE INDEX IF NOT EXISTS errors_job ON errors(job_id) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS errors_trace ON errors(trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS errors_event ON errors(event_id);
CREATE INDEX IF NOT EXISTS errors_service_time ON errors(service, time_ns);
CREATE TABLE IF NOT EXISTS client_reports(
  id INTEGER PRIMARY KEY, time_ns INTEGER, quantity INTEGER, discarded TEXT);
CREATE TABLE IF NOT EXISTS jobs(
  job_id TEXT PRIMARY KEY, first_ns INTEGER, last_ns INTEGER, service TEXT, machine TEXT,
  worker TEXT, status INTEGER NOT NULL DEFAULT 0, trace_id TEXT, spans INTEGER DEFAULT 0,
  logs INTEGER DEFAULT 0, events INTEGER DEFAULT 0, errors INTEGER DEFAULT 0,
  error_spans INTEGER DEFAULT 0, metric_points INTEGER DEFAULT 0, last_seq INTEGER);
CREATE INDEX IF NOT EXISTS jobs_last ON jobs(last_ns);
CREATE TABLE IF NOT EXISTS commits(
  seq INTEGER PRIMARY KEY, received_ns INTEGER, bytes INTEGER, spans_max INTEGER,
  logs_max INTEGER, events_max INTEGER, metric_points_max INTEGER, errors_max INTEGER,
  client_reports_max INTEGER);
)sql";

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

bool Db::open(const std::string& path, bool read_only, std::string& error) {
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    error = "cannot open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
    return false;
  }
  sqlite3_busy_timeout(db_, 5000);
  return true;
}

bool Db::exec(const char* sql, std::string& error) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    error = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return false;
  }
  return true;
}

std::string Db::errmsg() const { return db_ ? sqlite3_errmsg(db_) : "not open"; }

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

bool Stmt::prepare(const Db& db, const char* sql, std::string& error) {
  if (st_) sqlite3_finalize(st_);
  st_ = nullptr;
  if (sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &st_, nullptr) !=
      SQLITE_OK) {
    error = std::string("prepare: ") + sqlite3_errmsg(db.get());
    return false;
  }
  return true;
}

void Stmt::bind(int i, std::int64_t v) { sqlite3_bind_int64(st_, i, v); }
void Stmt::bind(int i, double v) { sqlite3_bind_double(st_, i, v); }
void Stmt::bind(int i, std::string_view v, bool null_if_empty) {
  if (null_if_empty && v.empty()) {
    sqlite3_bind_null(st_, i);
    return;
  }
  sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void Stmt::bind_null(int i) { sqlite3_bind_null(st_, i); }

bool Stmt::step(bool* done) {
  const int rc = sqlite3_step(st_);
  if (done) *done = rc == SQLITE_DONE;
  return rc == SQLITE_ROW;
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(st_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(st_, col); }
std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(st_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(st_, col)));
}
bool Stmt::is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

}  // namespace emp::telemetry::viewer
