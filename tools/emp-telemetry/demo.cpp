// `emp-telemetry demo`: a simulated worker service of the job queue, built on
// the public API exactly as a real worker would use it (Client::for_worker).
// One worker process (worker_id <machine_id>-worker-<n>, which the client adds
// to every line) receives a fixed scenario of jobs (most succeed, some fail
// with the queue's error types, one is slow) while a second thread sends
// health_check events. Everything about a job goes through the library's job
// instrumentation: a simulated API submits it (job.submit puts the trace
// context into the job's JSON payload); the worker records job.claim and runs
// the job inside job().process(), which makes the job.process span, the
// job_received / job_started / job_completed or job_failed events, the job
// metrics (jobs_in_progress, jobs_processed_total, job_duration_seconds) and
// the job's log lines; the work itself is a connector processing span and the
// outcome a job.complete or job.fail span under job.process. At the end it
// prints where every record went: the files written and, per track, the
// counters of client.health(). With --viewer it first starts the local viewer
// in the process (emp/telemetry/viewer.hpp) and points every destination at
// it, as a developer without a backend would point a service at
// `emp-telemetry serve`, and ends with a failed job's timeline read back
// from the viewer's database.
//
// The scenario is kept here, apart from the CLI plumbing, so that the demo can
// grow with the library (error events).
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "emp/telemetry/client.hpp"
#include "emp/telemetry/health.hpp"
#include "emp/telemetry/log.hpp"
#include "emp/telemetry/metrics.hpp"
#include "emp/telemetry/trace.hpp"
#include "emp/telemetry/viewer.hpp"
#include "text.hpp"

namespace emp::telemetry::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Longer than this and a job is reported as slow (warn).
constexpr milliseconds kSlowThreshold{1000};

struct Job {
  std::string id;
  std::string type;
  int priority = 0;
  milliseconds work{0};
  std::string error_type;  // empty: the job succeeds
  std::string error_message;
  std::int64_t submitted_unix_nano = 0;
  // The job as queued: JSON whose traceparent/tracestate members carry the
  // submitter's trace context to the worker.
  std::string payload;
};

// One step of the repeating scenario. Error types are the job queue's own
// vocabulary (timeout, memory, network, model, validation, ...).
struct Step {
  const char* type;
  int priority;
  int work_ms;
  const char* error_type;
  const char* error_message;
};

constexpr std::array<Step, 12> kScenario{{
    {"image_generation", 5, 80, "", ""},
    {"text_generation", 3, 40, "", ""},
    {"image_upscale", 1, 60, "", ""},
    {"image_generation", 5, 120, "network",
     "websocket to the inference server closed: connection reset by peer"},
    {"model_download", 8, 30, "", ""},
    {"image_generation", 5, 0, "", ""},  // the slow one: DemoArgs::slow_ms
    {"text_generation", 3, 50, "", ""},
    {"image_generation", 9, 90, "memory", "CUDA out of memory while loading checkpoint"},
    {"image_upscale", 1, 70, "", ""},
    {"text_generation", 3, 40, "", ""},
    {"image_generation", 5, 110, "validation", "output image is empty (0 bytes)"},
    {"text_generation", 3, 60, "", ""},
}};
constexpr std::size_t kSlowIndex = 5;

// `job-<uuid v4>`, the id format of the job queue.
std::string make_job_id(std::mt19937_64& rng) {
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < b.size(); i += 8) {
    const std::uint64_t r = rng();
    for (std::size_t k = 0; k < 8; ++k) b[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "job-";
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

std::vector<Job> make_jobs(const DemoArgs& args) {
  std::random_device seed;
  std::mt19937_64 rng((static_cast<std::uint64_t>(seed()) << 32) ^ seed());
  std::vector<Job> jobs;
  jobs.reserve(args.jobs);
  for (std::uint32_t i = 0; i < args.jobs; ++i) {
    const Step& step = kScenario[i % kScenario.size()];
    Job job;
    job.id = make_job_id(rng);
    job.type = step.type;
    job.priority = step.priority;
    job.work = milliseconds(i == kSlowIndex ? static_cast<int>(args.slow_ms)
                                            : (step.work_ms > 0 ? step.work_ms : 100));
    job.error_type = step.error_type;
    job.error_message = step.error_message;
    jobs.push_back(std::move(job));
  }
  return jobs;
}

struct Tally {
  std::atomic<std::uint32_t> completed{0};
  std::atomic<std::uint32_t> failed{0};
  std::atomic<std::uint32_t> slow{0};
};

std::int64_t ms_since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start).count();
}

JobInfo info_of(const Job& job) {
  return JobInfo{.id = job.id, .type = job.type, .priority = job.priority, .queue = "default"};
}

// The work of a job, as the connector step of its type.
Span work_span(Client& client, const Job& job) {
  ProcessingInstrument& p = client.processing();
  if (job.type == "image_generation") return p.image_generation("sdxl");
  if (job.type == "model_download") return p.download_model("sdxl");
  if (job.type == "image_upscale") return p.image_upload("s3://demo-bucket/out.png");
  return p.http_request("POST", "http://127.0.0.1:8188/prompt");
}

// The API side of the queue: job.submit (producer) puts the trace context
// into the job payload, the only thing the worker receives.
void submit_job(Client& client, Job& job) {
  JobInfo info = info_of(job);
  info.submitted_unix_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  job.submitted_unix_nano = info.submitted_unix_nano;
  job.payload =
      client.job().submit(info, "{\"job_id\":\"" + job.id + "\",\"type\":\"" + job.type +
                                    "\",\"priority\":" + std::to_string(job.priority) + "}");
}

// The worker side: job.claim, then job().process() (job.process span,
// events, job metrics, log lines) around the work; the outcome span is
// recorded inside, as a child of job.process.
void process_job(Client& client, const Job& job, Tally& tally) {
  JobInfo info = info_of(job);
  info.submitted_unix_nano = job.submitted_unix_nano;
  client.job().claim(info, job.payload).end();
  const auto started = SteadyClock::now();
  try {
    client.job().process(info, job.payload, [&] {
      {
        Span work = work_span(client, job);
        Scope work_scope(work);
        std::this_thread::sleep_for(job.work / 2);
        client.events().job_progress({.job_id = job.id, .progress_percent = 50});
        std::this_thread::sleep_for(job.work - job.work / 2);
        if (!job.error_type.empty()) {
          work.record_exception(job.error_type, job.error_message);
          work.set_status(StatusCode::kError, job.error_message);
        }
      }
      if (!job.error_type.empty()) {
        client.job().fail(info, job.error_message);
        throw std::runtime_error(job.error_message);
      }
      client.job().complete(info);
    });
    tally.completed.fetch_add(1, std::memory_order_relaxed);
  } catch (const std::exception&) {
    // Recorded by process() (span, job_failed, log line); the demo goes on.
    tally.failed.fetch_add(1, std::memory_order_relaxed);
  }
  const std::int64_t duration_ms = ms_since(started);
  if (milliseconds(duration_ms) > kSlowThreshold) {
    tally.slow.fetch_add(1, std::memory_order_relaxed);
    client.log().warn("job slower than expected", {{"job_id", job.id},
                                                   {"duration_ms", duration_ms},
                                                   {"threshold_ms", kSlowThreshold.count()}});
  }
}

// Sends a health_check event every `period` from its own thread until
// stopped, as a worker's status reporter does; it also shows that emitting
// from several threads at once is safe.
class Heartbeat {
 public:
  Heartbeat(Events& events, const Tally& tally, milliseconds period)
      : thread_([this, &events, &tally, period] { run(events, tally, period); }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run(Events& events, const Tally& tally, milliseconds period) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
      events.health_check(
          {.component = "worker", .healthy = true},
          {{"jobs_completed",
            static_cast<std::int64_t>(tally.completed.load(std::memory_order_relaxed))},
           {"jobs_failed",
            static_cast<std::int64_t>(tally.failed.load(std::memory_order_relaxed))}});
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

struct FileReport {
  std::filesystem::path path;
  std::uintmax_t bytes = 0;
  std::uint64_t lines = 0;
};

// Every regular file under the log directory, with its size and line count.
std::vector<FileReport> scan_log_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::vector<FileReport> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    FileReport report;
    report.path = it->path();
    report.bytes = it->file_size(ec);
    std::ifstream in(report.path, std::ios::binary);
    char buf[64 * 1024];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      for (std::streamsize i = 0; i < in.gcount(); ++i) report.lines += (buf[i] == '\n');
    }
    out.push_back(std::move(report));
  }
  std::sort(out.begin(), out.end(),
            [](const FileReport& a, const FileReport& b) { return a.path < b.path; });
  return out;
}

// What a file under LOG_DIR holds, from the names the client gives its files.
std::string describe_file(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  for (const char* track : {"traces", "metrics", "logs", "events", "errors"}) {
    if (name.find(std::string("otlp-") + track) != std::string::npos) {
      return std::string(track) + " (OTLP/JSON)";
    }
  }
  if (path.parent_path().filename() == "status") return "status (emp-telemetry health)";
  if (name.rfind("viewer.db", 0) == 0) return "viewer (SQLite)";
  if (name.find(".log") != std::string::npos) return "logs (JSON lines)";
  if (name == "events.jsonl") return "events (JSON lines)";
  return "other";
}

void print_destinations(const HealthSnapshot& health) {
  if (health.destinations.empty()) return;
  std::printf("\ndestinations:\n");
  for (const auto& d : health.destinations) {
    std::printf("  %-8s %-50s %-12s delivered %llu in %llu requests, dropped %llu%s%s\n",
                std::string(to_string(d.track)).c_str(), d.name.c_str(), d.state.c_str(),
                static_cast<unsigned long long>(d.delivered),
                static_cast<unsigned long long>(d.requests), static_cast<unsigned long long>([&d] {
                  std::uint64_t n = 0;
                  for (auto x : d.dropped) n += x;
                  return n;
                }()),
                d.last_error.empty() ? "" : ", last error: ", d.last_error.c_str());
  }
}

void print_health(const HealthSnapshot& health) {
  std::printf("\nhealth per track (client.health()):\n");
  // The spooled column makes offered = written + spooled + dropped visible
  // (spooled: on disk, to be delivered by this or a later run).
  std::printf("  %-8s %9s %9s %9s %9s %9s %7s  %s\n", "track", "offered", "accepted", "written",
              "spooled", "dropped", "errors", "drops by reason");
  std::string idle;
  for (std::size_t t = 0; t < static_cast<std::size_t>(Track::kCount); ++t) {
    const auto track = static_cast<Track>(t);
    const TrackHealth& h = health.track(track);
    if (h.offered == 0 && h.dropped_total() == 0 && h.errors == 0) {
      idle += (idle.empty() ? "" : ", ") + std::string(to_string(track));
      continue;
    }
    std::string reasons;
    for (std::size_t r = 0; r < static_cast<std::size_t>(DropReason::kCount); ++r) {
      if (h.dropped[r] == 0) continue;
      reasons += (reasons.empty() ? "" : ", ") +
                 std::string(to_string(static_cast<DropReason>(r))) + "=" +
                 std::to_string(h.dropped[r]);
    }
    std::printf(
        "  %-8s %9llu %9llu %9llu %9llu %9llu %7llu  %s\n", std::string(to_string(track)).c_str(),
        static_cast<unsigned long long>(h.offered), static_cast<unsigned long long>(h.accepted),
        static_cast<unsigned long long>(h.written), static_cast<unsigned long long>(h.spooled),
        static_cast<unsigned long long>(h.dropped_total()),
        static_cast<unsigned long long>(h.errors), reasons.empty() ? "-" : reasons.c_str());
    if (h.truncated || h.invalid_utf8) {
      std::printf("  %-8s %llu records truncated, %llu with invalid UTF-8 replaced\n", "",
                  static_cast<unsigned long long>(h.truncated),
                  static_cast<unsigned long long>(h.invalid_utf8));
    }
  }
  if (!idle.empty()) std::printf("  no records: %s\n", idle.c_str());
  if (health.track(Track::kMetrics).offered > 0) {
    std::printf(
        "  (metrics count exported data points, including the client's own and the\n"
        "   machine's metrics: %llu measurements recorded)\n",
        static_cast<unsigned long long>(health.track(Track::kMetrics).measurements));
  }
  if (!health.last_error.empty()) std::printf("  last error: %s\n", health.last_error.c_str());
}

// The variables that point a client at a viewer: traces and metrics over
// OTLP, logs and events through the forward port (OTLP logs off, so each
// line arrives once), errors to the viewer's Sentry endpoint.
void point_at_viewer(const Viewer& v, Options& options) {
  options.raw["OTEL_EXPORTER_OTLP_ENDPOINT"] = v.url();
  options.raw["OTEL_LOGS_EXPORTER"] = "none";
  options.raw["FLUENTD_HOST"] = "127.0.0.1";
  options.raw["FLUENTD_PORT"] = std::to_string(v.forward_port());
  options.raw["SENTRY_DSN"] = "http://demo@127.0.0.1:" + std::to_string(v.port()) + "/1";
}

// Reads one job back from the viewer's database: what `emp-telemetry query
// job` prints, and how to see it in a browser later.
void print_viewer_job(const std::string& db, const std::string& job_id) {
  std::printf("\none failed job, read back from the viewer (emp-telemetry query job %s --db %s):\n",
              job_id.c_str(), db.c_str());
  auto timeline = viewer_query_job(db, job_id, false);
  if (!timeline) {
    for (const auto& e : timeline.errors()) std::printf("  %s\n", e.to_string().c_str());
    return;
  }
  std::fputs(timeline->c_str(), stdout);
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::printf(
      "\nto see it in a browser: %s serve --db %s\n  then open http://127.0.0.1:4318/jobs/%s\n",
      ec ? "emp-telemetry" : self.string().c_str(), db.c_str(), job_id.c_str());
}

}  // namespace

int run_demo(const GlobalArgs& global, const DemoArgs& args) {
  if (global.preset && *global.preset != Preset::kWorker) {
    std::fprintf(stderr, "emp-telemetry demo: the demo is a worker; ignoring --preset %s\n",
                 std::string(to_string(*global.preset)).c_str());
  }
  Options options = base_options(global);
  if (args.log_dir) options.log_dir = *args.log_dir;
  std::unique_ptr<Viewer> viewer;
  std::string viewer_db;
  if (args.viewer) {
    // The log directory as the client will resolve it (LOG_DIR, or its default).
    auto dir = finalize(options);
    if (!dir) {
      for (const auto& e : dir.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
      return 1;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir->log_dir, ec);
    viewer_db = (std::filesystem::path(dir->log_dir) / "viewer.db").string();
    ViewerOptions vo;
    vo.port = 0;
    vo.forward_port = 0;
    vo.db_path = viewer_db;
    auto started = Viewer::start(vo);
    if (!started) {
      for (const auto& e : started.errors()) {
        std::fprintf(stderr, "emp-telemetry demo: viewer: %s\n", e.to_string().c_str());
      }
      return 1;
    }
    viewer = std::move(*started);
    point_at_viewer(*viewer, options);
    std::printf("viewer: %s (OTLP, Sentry), forward port %u, database %s\n", viewer->url().c_str(),
                viewer->forward_port(), viewer_db.c_str());
  }
  auto created = Client::for_worker(std::move(options));
  if (!created) {
    for (const auto& e : created.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "emp-telemetry demo: invalid configuration (%s)\n",
                 count_noun(created.errors().size(), "problem").c_str());
    return 1;
  }
  Client& client = created.value();
  const Config& config = client.config();
  Logger& log = client.log();

  const auto started = SteadyClock::now();
  client.events().operational_message({.message = "worker started", .component = "demo"},
                                      {{"jobs", static_cast<std::int64_t>(args.jobs)}});

  std::vector<Job> jobs = make_jobs(args);
  for (Job& job : jobs) submit_job(client, job);

  Tally tally;
  {
    Heartbeat heartbeat(client.events(), tally, milliseconds(500));
    for (const Job& job : jobs) process_job(client, job, tally);
  }

  const std::int64_t elapsed_ms = ms_since(started);
  const std::uint32_t completed = tally.completed.load();
  const std::uint32_t failed = tally.failed.load();
  log.info("worker stopped", {{"jobs_completed", static_cast<std::int64_t>(completed)},
                              {"jobs_failed", static_cast<std::int64_t>(failed)},
                              {"duration_ms", elapsed_ms}});

  const bool stopped = client.shutdown(config.shutdown_timeout);
  const HealthSnapshot health = client.health();

  std::printf("emp-telemetry demo: %u jobs: %u completed, %u failed, %u slow, in %.1f s\n",
              args.jobs, completed, failed, tally.slow.load(),
              static_cast<double>(elapsed_ms) / 1000.0);
  std::printf("service %s (%s), machine %s, worker %s, environment %s\n",
              config.service_name.c_str(), config.service_type.c_str(), config.machine_id.c_str(),
              config.worker_id.empty() ? "-" : config.worker_id.c_str(),
              std::string(to_string(config.environment)).c_str());

  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(config.log_dir), ec).lexically_normal();
  if (ec) dir = fs::path(config.log_dir);
  std::printf("\nwhere everything went (%s):\n", dir.string().c_str());
  const auto files = scan_log_dir(dir);
  if (files.empty()) std::printf("  (no files found)\n");
  for (const auto& f : files) {
    std::printf("  %-22s %-60s %8llu lines %10llu bytes\n", describe_file(f.path).c_str(),
                f.path.string().c_str(), static_cast<unsigned long long>(f.lines),
                static_cast<unsigned long long>(f.bytes));
  }
  std::printf("  (files are appended to: counts include earlier runs)\n");
  for (const auto& d : health.destinations) {
    if (d.track != Track::kTraces) continue;
    std::printf(
        "\ntraces: one trace per job (job.submit -> job.claim -> job.process -> "
        "job.complete | job.fail) to %s\n",
        d.name.c_str());
  }
  print_destinations(health);
  print_health(health);
  if (viewer) {
    viewer->flush(std::chrono::seconds(30));
    const auto failed_job =
        std::find_if(jobs.begin(), jobs.end(), [](const Job& j) { return !j.error_type.empty(); });
    if (failed_job != jobs.end()) print_viewer_job(viewer_db, failed_job->id);
    viewer->stop();
    const ViewerStats vs = viewer->stats();
    if (vs.rows_write_failed != 0 || vs.requests_invalid != 0 || vs.forward_refused != 0) {
      std::fprintf(stderr,
                   "emp-telemetry demo: the viewer lost data (%llu rows not written, %llu "
                   "requests refused, %llu forward frames refused): %s\n",
                   static_cast<unsigned long long>(vs.rows_write_failed),
                   static_cast<unsigned long long>(vs.requests_invalid),
                   static_cast<unsigned long long>(vs.forward_refused), vs.last_error.c_str());
      return 1;
    }
  }

  // Data a destination refused is lost: the demo did not do its job.
  // (Per destination, since not every destination counts in its track.)
  std::uint64_t rejected = 0, rejected_in_tracks = 0;
  for (const auto& d : health.destinations) {
    rejected += d.dropped[static_cast<std::size_t>(DropReason::kRejected)];
  }
  for (const auto& t : health.tracks) rejected_in_tracks += t.dropped_for(DropReason::kRejected);
  rejected = std::max(rejected, rejected_in_tracks);
  if (rejected > 0) {
    std::fprintf(stderr,
                 "emp-telemetry demo: destinations rejected records (%llu counted rejected, see "
                 "the last errors above)\n",
                 static_cast<unsigned long long>(rejected));
    return 1;
  }
  const TrackHealth& logs = health.track(Track::kLogs);
  if (!stopped) {
    std::fprintf(stderr, "emp-telemetry demo: shutdown did not finish within %lld ms\n",
                 static_cast<long long>(config.shutdown_timeout.count()));
    return 1;
  }
  if (logs.written != logs.accepted || logs.dropped_total() != 0) {
    std::fprintf(stderr,
                 "emp-telemetry demo: %llu of %llu accepted log records were not written "
                 "(%llu dropped, see above)\n",
                 static_cast<unsigned long long>(logs.accepted - logs.written),
                 static_cast<unsigned long long>(logs.accepted),
                 static_cast<unsigned long long>(logs.dropped_total()));
    return 1;
  }
  return 0;
}

}  // namespace emp::telemetry::cli
