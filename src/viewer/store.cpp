#include "viewer/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "viewer/sqlite.hpp"

namespace emp::telemetry::viewer {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What one commit learns about a job, merged into its jobs row.
struct JobDelta {
  std::int64_t first_ns = INT64_MAX, last_ns = INT64_MIN;
  std::string service, machine, worker, trace_id;
  int status = 0;  // 0 running, 1 completed, 2 failed
  std::int64_t spans = 0, logs = 0, events = 0, errors = 0, error_spans = 0, metric_points = 0;

  void time(std::int64_t t) {
    if (t <= 0) return;
    first_ns = std::min(first_ns, t);
    last_ns = std::max(last_ns, t);
  }
  void set(std::string& field, const std::string& v) {
    if (field.empty() && !v.empty()) field = v;
  }
};

}  // namespace

struct Store::Impl {
  StoreOptions options;
  Db db;
  Stmt begin, commit, rollback, ins_resource, sel_resource, ins_span, ins_log, ins_event,
      ins_metric, ins_error, ins_report, upsert_job, ins_commit;
  std::unordered_map<std::string, std::int64_t> resource_ids;  // writer thread only

  mutable std::mutex mutex;
  std::condition_variable cv;       // writer wakes on new work or stop
  std::condition_variable done_cv;  // flush waiters wake on each commit
  std::deque<Batch> queue;
  std::uint64_t submitted = 0, completed = 0;  // batch sequence numbers
  bool stopping = false;
  StoreStats stats;
  std::int64_t seq = 0;  // last commit number (writer thread)
  std::thread writer;

  bool setup(std::string& error);
  void run();
  bool write(std::deque<Batch>& batches, std::size_t rows, std::size_t bytes, std::string& error);
  std::int64_t resource_id(const std::string& json);
  void enforce_retention(bool check_age);
  std::int64_t used_bytes();
};

bool Store::Impl::setup(std::string& error) {
  if (!db.open(options.path, false, error)) return false;
  // WAL: readers never wait for the writer. synchronous=NORMAL: a power
  // loss may drop the last commits but never corrupts. A 64 MiB page cache
  // keeps the indexes' hot pages in memory (the default 2 MiB made inserts
  // re-read index pages from the file), and checkpoints run every ~16 MiB
  // of WAL instead of 4.
  if (!db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;"
               "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=4000;",
               error) ||
      !db.exec(kSchemaSql, error)) {
    error = options.path + ": " + error;
    return false;
  }
  const std::pair<Stmt*, const char*> stmts[] = {
      {&begin, "BEGIN IMMEDIATE"},
      {&commit, "COMMIT"},
      {&rollback, "ROLLBACK"},
      {&ins_resource, "INSERT OR IGNORE INTO resources(json) VALUES(?)"},
      {&sel_resource, "SELECT id FROM resources WHERE json=?"},
      {&ins_span,
       "INSERT INTO spans(trace_id,span_id,parent_span_id,name,kind,start_ns,end_ns,status_code,"
       "status_message,service,job_id,attributes,events,links,resource_id) "
       "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"},
      {&ins_log,
       "INSERT INTO logs(time_ns,severity_number,severity_text,body,trace_id,span_id,service,"
       "job_id,attributes,resource_id,source) VALUES(?,?,?,?,?,?,?,?,?,?,?)"},
      {&ins_event,
       "INSERT INTO events(time_ns,event_name,severity_text,body,trace_id,span_id,service,job_id,"
       "attributes,resource_id) VALUES(?,?,?,?,?,?,?,?,?,?)"},
      {&ins_metric,
       "INSERT INTO metric_points(time_ns,name,unit,kind,value,count,service,job_id,trace_id,"
       "attributes) VALUES(?,?,?,?,?,?,?,?,?,?)"},
      {&ins_error,
       "INSERT INTO errors(time_ns,event_id,level,exception_type,exception_value,message,"
       "stacktrace,tags,contexts,trace_id,span_id,job_id,service,environment,release,raw) "
       "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"},
      {&ins_report, "INSERT INTO client_reports(time_ns,quantity,discarded) VALUES(?,?,?)"},
      {&upsert_job,
       "INSERT INTO jobs(job_id,first_ns,last_ns,service,machine,worker,status,trace_id,spans,"
       "logs,events,errors,error_spans,metric_points,last_seq) "
       "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15) "
       "ON CONFLICT(job_id) DO UPDATE SET first_ns=min(first_ns,excluded.first_ns),"
       "last_ns=max(last_ns,excluded.last_ns),service=coalesce(service,excluded.service),"
       "machine=coalesce(machine,excluded.machine),worker=coalesce(worker,excluded.worker),"
       "status=max(status,excluded.status),trace_id=coalesce(trace_id,excluded.trace_id),"
       "spans=spans+excluded.spans,logs=logs+excluded.logs,events=events+excluded.events,"
       "errors=errors+excluded.errors,error_spans=error_spans+excluded.error_spans,"
       "metric_points=metric_points+excluded.metric_points,last_seq=excluded.last_seq"},
      {&ins_commit,
       "INSERT INTO commits(seq,received_ns,bytes,spans_max,logs_max,events_max,"
       "metric_points_max,errors_max,client_reports_max) VALUES(?,?,?,"
       "(SELECT max(id) FROM spans),(SELECT max(id) FROM logs),(SELECT max(id) FROM events),"
       "(SELECT max(id) FROM metric_points),(SELECT max(id) FROM errors),"
       "(SELECT max(id) FROM client_reports))"},
  };
  for (const auto& [st, sql] : stmts) {
    if (!st->prepare(db, sql, error)) return false;
  }
  Stmt last;
  if (!last.prepare(db, "SELECT coalesce(max(seq),0) FROM commits", error)) return false;
  if (last.step()) seq = last.int64(0);
  return true;
}

std::int64_t Store::Impl::resource_id(const std::string& json) {
  if (json.empty()) return 0;
  auto it = resource_ids.find(json);
  if (it != resource_ids.end()) return it->second;
  if (resource_ids.size() > 4096) resource_ids.clear();
  ins_resource.bind(1, json);
  ins_resource.step();
  ins_resource.reset();
  sel_resource.bind(1, json);
  std::int64_t id = 0;
  if (sel_resource.step()) id = sel_resource.int64(0);
  sel_resource.reset();
  resource_ids.emplace(json, id);
  return id;
}

bool Store::Impl::write(std::deque<Batch>& batches, std::size_t rows, std::size_t bytes,
                        std::string& error) {
  // Another process holding the database (or a stalled disk) makes BEGIN
  // wait busy_timeout and fail with SQLITE_BUSY: keep the batches and try
  // again (senders meanwhile get 503) rather than dropping them; only a
  // stopping store gives up.
  bool done = false;
  for (;;) {
    begin.step(&done);
    begin.reset();
    if (done || sqlite3_errcode(db.get()) != SQLITE_BUSY) break;
    std::lock_guard lock(mutex);
    if (stopping) break;
  }
  if (!done) {
    error = "BEGIN: " + db.errmsg();
    return false;
  }
  const std::int64_t this_seq = seq + 1;
  std::map<std::string, JobDelta> jobs;
  bool ok = true;
  const auto run = [&](Stmt& st) {
    bool d = false;
    st.step(&d);
    if (!d && ok) {
      ok = false;
      error = db.errmsg();
    }
    st.reset();
  };
  for (const Batch& b : batches) {
    for (const SpanRow& s : b.spans) {
      ins_span.bind(1, s.trace_id);
      ins_span.bind(2, s.span_id);
      ins_span.bind(3, s.parent_span_id, true);
      ins_span.bind(4, s.name);
      ins_span.bind(5, std::int64_t{s.kind});
      ins_span.bind(6, s.start_ns);
      ins_span.bind(7, s.end_ns);
      ins_span.bind(8, std::int64_t{s.status_code});
      ins_span.bind(9, s.status_message, true);
      ins_span.bind(10, s.service, true);
      ins_span.bind(11, s.job_id, true);
      ins_span.bind(12, s.attributes);
      ins_span.bind(13, s.events);
      ins_span.bind(14, s.links);
      ins_span.bind(15, resource_id(s.resource));
      run(ins_span);
      if (s.job_id.empty()) continue;
      JobDelta& j = jobs[s.job_id];
      j.time(s.start_ns);
      j.time(s.end_ns);
      ++j.spans;
      j.set(j.service, s.service);
      j.set(j.trace_id, s.trace_id);
      j.set(j.machine, s.machine);
      j.set(j.worker, s.worker);
      int status = 0;
      if (s.status_code == 2) {
        ++j.error_spans;
        status = 2;
      }
      if (s.name == "job.fail") status = 2;
      if (s.name == "job.complete") status = std::max(status, 1);
      if (s.final_status == "failed") status = 2;
      if (s.final_status == "completed") status = std::max(status, 1);
      j.status = std::max(j.status, status);
    }
    for (const LogRow& l : b.logs) {
      Stmt& st = l.event_name.empty() ? ins_log : ins_event;
      int i = 1;
      st.bind(i++, l.time_ns);
      if (l.event_name.empty()) {
        st.bind(i++, std::int64_t{l.severity_number});
      } else {
        st.bind(i++, l.event_name);
      }
      st.bind(i++, l.severity_text, true);
      st.bind(i++, l.body);
      st.bind(i++, l.trace_id, true);
      st.bind(i++, l.span_id, true);
      st.bind(i++, l.service, true);
      st.bind(i++, l.job_id, true);
      st.bind(i++, l.attributes);
      st.bind(i++, resource_id(l.resource));
      if (l.event_name.empty()) st.bind(i++, l.source);
      run(st);
      if (l.job_id.empty()) continue;
      JobDelta& j = jobs[l.job_id];
      j.time(l.time_ns);
      j.set(j.service, l.service);
      j.set(j.trace_id, l.trace_id);
      if (l.event_name.empty()) {
        ++j.logs;
      } else {
        ++j.events;
        if (l.event_name == "job_failed") j.status = 2;
        if (l.event_name == "job_completed") j.status = std::max(j.status, 1);
      }
    }
    for (const MetricRow& m : b.metrics) {
      ins_metric.bind(1, m.time_ns);
      ins_metric.bind(2, m.name);
      ins_metric.bind(3, m.unit, true);
      ins_metric.bind(4, m.kind);
      ins_metric.bind(5, m.value);
      ins_metric.bind(6, m.count);
      ins_metric.bind(7, m.service, true);
      ins_metric.bind(8, m.job_id, true);
      ins_metric.bind(9, m.trace_id, true);
      ins_metric.bind(10, m.attributes);
      run(ins_metric);
      if (m.job_id.empty()) continue;
      JobDelta& j = jobs[m.job_id];
      j.time(m.time_ns);
      ++j.metric_points;
    }
    for (const ErrorRow& e : b.errors) {
      ins_error.bind(1, e.time_ns);
      ins_error.bind(2, e.event_id);
      ins_error.bind(3, e.level, true);
      ins_error.bind(4, e.exception_type, true);
      ins_error.bind(5, e.exception_value, true);
      ins_error.bind(6, e.message, true);
      ins_error.bind(7, e.stacktrace);
      ins_error.bind(8, e.tags);
      ins_error.bind(9, e.contexts);
      ins_error.bind(10, e.trace_id, true);
      ins_error.bind(11, e.span_id, true);
      ins_error.bind(12, e.job_id, true);
      ins_error.bind(13, e.service, true);
      ins_error.bind(14, e.environment, true);
      ins_error.bind(15, e.release, true);
      ins_error.bind(16, e.raw);
      run(ins_error);
      if (e.job_id.empty()) continue;
      JobDelta& j = jobs[e.job_id];
      j.time(e.time_ns);
      j.set(j.service, e.service);
      j.set(j.trace_id, e.trace_id);
      ++j.errors;
      j.status = 2;
    }
    for (const ClientReportRow& c : b.client_reports) {
      ins_report.bind(1, c.time_ns);
      ins_report.bind(2, c.quantity);
      ins_report.bind(3, c.discarded);
      run(ins_report);
    }
  }
  for (const auto& [id, j] : jobs) {
    upsert_job.bind(1, id);
    if (j.first_ns != INT64_MAX) {
      upsert_job.bind(2, j.first_ns);
      upsert_job.bind(3, j.last_ns);
    }
    upsert_job.bind(4, j.service, true);
    upsert_job.bind(5, j.machine, true);
    upsert_job.bind(6, j.worker, true);
    upsert_job.bind(7, std::int64_t{j.status});
    upsert_job.bind(8, j.trace_id, true);
    upsert_job.bind(9, j.spans);
    upsert_job.bind(10, j.logs);
    upsert_job.bind(11, j.events);
    upsert_job.bind(12, j.errors);
    upsert_job.bind(13, j.error_spans);
    upsert_job.bind(14, j.metric_points);
    upsert_job.bind(15, this_seq);
    run(upsert_job);
  }
  ins_commit.bind(1, this_seq);
  ins_commit.bind(2, now_ns());
  ins_commit.bind(3, static_cast<std::int64_t>(bytes));
  run(ins_commit);
  if (ok) {
    bool d = false;
    commit.step(&d);
    commit.reset();
    if (d) {
      seq = this_seq;
      return true;
    }
    error = "COMMIT: " + db.errmsg();
  }
  rollback.step();
  rollback.reset();
  resource_ids.clear();  // ids inserted by the rolled-back transaction are gone
  (void)rows;
  return false;
}

std::int64_t Store::Impl::used_bytes() {
  std::string error;
  Stmt st;
  if (!st.prepare(db,
                  "SELECT (SELECT page_count FROM pragma_page_count())-"
                  "(SELECT freelist_count FROM pragma_freelist_count()),"
                  "(SELECT page_size FROM pragma_page_size())",
                  error) ||
      !st.step()) {
    return 0;
  }
  return st.int64(0) * st.int64(1);
}

void Store::Impl::enforce_retention(bool check_age) {
  const bool by_size = options.max_bytes != 0;
  const bool by_age = check_age && options.max_age.count() != 0;
  if (!by_size && !by_age) return;
  std::string error;
  for (int round = 0; round < 64; ++round) {
    // The newest commit that must go: by age, the last one older than the
    // limit; by size, enough of the oldest to free a tenth of the limit
    // beyond the excess (so deletion runs in chunks, not on every commit).
    std::int64_t cut = 0;
    Stmt st;
    if (by_age) {
      const std::int64_t limit =
          now_ns() - std::chrono::duration_cast<std::chrono::nanoseconds>(options.max_age).count();
      if (st.prepare(db, "SELECT coalesce(max(seq),0) FROM commits WHERE received_ns<?", error)) {
        st.bind(1, limit);
        if (st.step()) cut = st.int64(0);
      }
    }
    if (by_size) {
      const std::int64_t used = used_bytes();
      const auto max = static_cast<std::int64_t>(options.max_bytes);
      if (used > max) {
        const std::int64_t free_goal = used - max + max / 10;
        // Commit byte counts are row sizes; the file holds indexes too, so
        // scale the goal by the ratio of file bytes to row bytes.
        Stmt total;
        std::int64_t row_bytes = 1;
        if (total.prepare(db, "SELECT coalesce(sum(bytes),1) FROM commits", error) &&
            total.step()) {
          row_bytes = std::max<std::int64_t>(1, total.int64(0));
        }
        const double ratio = static_cast<double>(used) / static_cast<double>(row_bytes);
        const auto goal = static_cast<std::int64_t>(static_cast<double>(free_goal) / ratio) + 1;
        Stmt pick;
        if (pick.prepare(db,
                         "SELECT seq FROM (SELECT seq, sum(bytes) OVER (ORDER BY seq) AS acc "
                         "FROM commits) WHERE acc>=? ORDER BY seq LIMIT 1",
                         error)) {
          pick.bind(1, goal);
          if (pick.step()) {
            cut = std::max(cut, pick.int64(0));
          } else {
            Stmt last;
            if (last.prepare(db, "SELECT coalesce(max(seq),0) FROM commits", error) &&
                last.step()) {
              cut = std::max(cut, last.int64(0));
            }
          }
        }
      }
    }
    if (cut == 0) return;
    Stmt bounds;
    if (!bounds.prepare(db,
                        "SELECT max(spans_max),max(logs_max),max(events_max),"
                        "max(metric_points_max),max(errors_max),max(client_reports_max) "
                        "FROM commits WHERE seq<=?",
                        error)) {
      return;
    }
    bounds.bind(1, cut);
    if (!bounds.step()) return;
    static const char* const kTables[] = {"spans",         "logs",   "events",
                                          "metric_points", "errors", "client_reports"};
    std::int64_t deleted = 0;
    if (!db.exec("BEGIN IMMEDIATE", error)) return;
    for (int t = 0; t < 6; ++t) {
      if (bounds.is_null(t)) continue;
      Stmt del;
      const std::string sql = std::string("DELETE FROM ") + kTables[t] + " WHERE id<=?";
      if (!del.prepare(db, sql.c_str(), error)) continue;
      del.bind(1, bounds.int64(t));
      del.step();
      deleted += sqlite3_changes(db.get());
    }
    Stmt del_jobs, del_commits;
    if (del_jobs.prepare(db, "DELETE FROM jobs WHERE last_seq<=?", error)) {
      del_jobs.bind(1, cut);
      del_jobs.step();
    }
    if (del_commits.prepare(db, "DELETE FROM commits WHERE seq<=?", error)) {
      del_commits.bind(1, cut);
      del_commits.step();
    }
    if (!db.exec("COMMIT", error)) {
      db.exec("ROLLBACK", error);
      return;
    }
    {
      std::lock_guard lock(mutex);
      stats.rows_evicted += static_cast<std::uint64_t>(deleted);
    }
    if (by_size && used_bytes() <= static_cast<std::int64_t>(options.max_bytes)) return;
  }
}

void Store::Impl::run() {
  std::unique_lock lock(mutex);
  auto last_retention = std::chrono::steady_clock::now() - std::chrono::hours(1);
  for (;;) {
    cv.wait(lock, [&] { return stopping || !queue.empty(); });
    if (queue.empty() && stopping) return;
    std::deque<Batch> work;
    work.swap(queue);
    const std::uint64_t upto = completed + work.size();
    lock.unlock();
    std::size_t rows = 0, bytes = 0;
    for (const auto& b : work) {
      rows += b.rows();
      bytes += b.bytes();
    }
    std::string error;
    const bool ok = write(work, rows, bytes, error);
    // The size check (three pragmas) after every commit, the age check (a
    // query) at most once a second.
    const auto now = std::chrono::steady_clock::now();
    if (ok) {
      const bool check_age = now - last_retention >= std::chrono::seconds(1);
      if (check_age) last_retention = now;
      enforce_retention(check_age);
    }
    lock.lock();
    stats.pending_bytes -= std::min(stats.pending_bytes, bytes);
    if (ok) {
      stats.rows_committed += rows;
      ++stats.commits;
    } else {
      stats.rows_write_failed += rows;
      stats.last_error = error;
    }
    completed = upto;
    done_cv.notify_all();
  }
}

std::unique_ptr<Store> Store::open(const StoreOptions& options, std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!impl->setup(error)) return nullptr;
  // Apply the limits to what an earlier run left, before taking new data.
  impl->enforce_retention(true);
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
}

Store::Submit Store::submit(Batch&& batch) noexcept {
  try {
    const std::size_t bytes = batch.bytes();
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) return Submit::kClosed;
    // One batch larger than the whole bound is still taken when the queue is
    // empty, so a big request is never refused forever.
    if (impl_->stats.pending_bytes != 0 &&
        impl_->stats.pending_bytes + bytes > impl_->options.max_pending_bytes) {
      ++impl_->stats.batches_busy;
      return Submit::kBusy;
    }
    impl_->stats.pending_bytes += bytes;
    ++impl_->stats.batches_accepted;
    impl_->queue.push_back(std::move(batch));
    ++impl_->submitted;
    impl_->cv.notify_one();
    return Submit::kAccepted;
  } catch (...) {
    return Submit::kBusy;
  }
}

bool Store::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  const std::uint64_t target = impl_->submitted;
  return impl_->done_cv.wait_for(lock, timeout, [&] { return impl_->completed >= target; });
}

StoreStats Store::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

const StoreOptions& Store::options() const noexcept { return impl_->options; }

}  // namespace emp::telemetry::viewer
