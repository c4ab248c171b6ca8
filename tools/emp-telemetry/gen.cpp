// `emp-telemetry gen`: a load generator in the manner of the OpenTelemetry
// Collector's telemetrygen, built on the library itself. It creates a Client
// exactly as a service does (environment + --preset), generates spans, log
// records, metric measurements and operational events that look like the job
// queue's own traffic (job lifecycle spans of one trace per job, through the
// library's job instrumentation, `job-<uuid>` ids, worker ids,
// HTTP attributes, a 200-byte payload attribute), from several threads and at
// a bounded total rate if asked, then flushes and proves where every record
// went: generated, written (delivered), spooled and dropped by reason, per
// track and per destination. It exits 0 only when everything generated was
// delivered, so it doubles as an end-to-end check of a collector setup.
//
// How counts and --duration combine:
//   * without --duration, exactly --spans/--logs/--metrics/--events records are
//     generated (at least one of them must be given);
//   * with --duration S, generation runs for S seconds; a count given for a
//     track caps that track (it stops early once the count is reached), a
//     track without a count is not generated, and when no count is given at
//     all, spans, logs and metrics are all generated for S seconds.
// --rate applies to the total of all records over all threads (0 = as fast
// as the client accepts them).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "emp/telemetry/client.hpp"
#include "emp/telemetry/health.hpp"
#include "emp/telemetry/log.hpp"
#include "emp/telemetry/metrics.hpp"
#include "emp/telemetry/trace.hpp"
#include "text.hpp"

namespace emp::telemetry::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint64_t kUncapped = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kSeriesPerInstrument = 20;
constexpr std::size_t kPayloadBytes = 200;
// One job in twenty fails, as a busy queue's do.
constexpr std::uint64_t kFailOneIn = 20;

// The generated kinds of record, in the order the summary lists them.
enum Kind : std::size_t {
  kSpans = 0,
  kLogs = 1,
  kMetrics = 2,
  kEvents = 3,
  kErrors = 4,
  kKinds = 5
};
constexpr std::array<const char*, kKinds> kKindNames{"spans", "logs", "metrics", "events",
                                                     "errors"};
// What one row of the summary counts (metrics have a second row: data points).
constexpr std::array<const char*, kKinds> kKindUnits{"spans", "log lines", "measurements",
                                                     "events", "error events"};
constexpr std::array<Track, kKinds> kKindTrack{Track::kTraces, Track::kLogs, Track::kMetrics,
                                               Track::kEvents, Track::kErrors};
// Events ride on the log track's outputs (OTLP logs, Fluentd): their
// destinations are the log track's, and carry both kinds' records.
constexpr std::array<Track, kKinds> kKindDestinationTrack{
    Track::kTraces, Track::kLogs, Track::kMetrics, Track::kLogs, Track::kErrors};

constexpr std::array<const char*, 4> kJobTypes{"image_generation", "text_generation",
                                               "image_upscale", "model_download"};
constexpr std::array<const char*, 5> kErrorTypes{"timeout", "memory", "network", "model",
                                                 "validation"};

// `job-<uuid v4>`, the job queue's id format.
std::string make_job_id(std::mt19937_64& rng) {
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < b.size(); i += 8) {
    const std::uint64_t r = rng();
    for (std::size_t k = 0; k < 8; ++k) b[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "job-";
  out.reserve(40);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

// A printable payload of exactly kPayloadBytes, different per thread so that
// compression sees realistic (not constant) data.
std::string make_payload(std::mt19937_64& rng) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:_-";
  std::string s = "{\"prompt\":\"";
  while (s.size() < kPayloadBytes - 2) s += kAlphabet[rng() % (sizeof kAlphabet - 1)];
  s += "\"}";
  return s;
}

// The shared state of one run: what each track may still generate, the rate
// schedule and the stop signal.
struct Plan {
  std::array<std::uint64_t, kKinds> cap{};  // 0 = track off, kUncapped = until time is up
  std::array<std::atomic<std::uint64_t>, kKinds> claimed{};
  std::atomic<std::uint64_t> paced{0};  // records released by the rate schedule
  double rate = 0;                      // records per second over all threads; 0 = no limit
  SteadyClock::time_point start;
  std::optional<SteadyClock::time_point> end;  // --duration
  std::atomic<bool> stop{false};
  // Set while a destination's send queue is backed up (see run_gen); the
  // generating threads then wait instead of filling it past its memory cap.
  std::atomic<bool> throttle{false};
};

// The attribute sets of one metric instrument: kSeriesPerInstrument sets kept
// alive for the whole run (Fields only view their strings).
struct SeriesSet {
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> storage;
  std::vector<std::vector<Field>> fields;
};

SeriesSet make_series(const std::vector<std::string>& keys,
                      const std::vector<std::vector<std::string>>& values_per_key) {
  SeriesSet set;
  set.keys = keys;
  set.storage.resize(kSeriesPerInstrument);
  for (std::size_t s = 0; s < kSeriesPerInstrument; ++s) {
    // Mixed-radix walk over the value lists: distinct combinations.
    std::size_t n = s;
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const auto& values = values_per_key[k];
      set.storage[s].push_back(values[n % values.size()]);
      n /= values.size();
    }
  }
  return set;
}

// Points the Fields at the strings; called once the set is in its final place.
void bind_fields(SeriesSet& set) {
  set.fields.assign(kSeriesPerInstrument, {});
  for (std::size_t s = 0; s < kSeriesPerInstrument; ++s) {
    for (std::size_t k = 0; k < set.keys.size(); ++k) {
      set.fields[s].push_back(Field{set.keys[k], FieldValue(set.storage[s][k])});
    }
  }
}

// Instruments and their attribute sets, shared by every thread.
struct MetricsPlan {
  Counter processed;
  Gauge queue_depth;
  Histogram duration;
  SeriesSet processed_series;
  SeriesSet depth_series;
  SeriesSet duration_series;
};

void init_metrics(MetricsPlan& m, Client& client, const std::string& machine_id) {
  Metrics& metrics = client.metrics();
  InstrumentOptions jobs;
  jobs.unit = "{job}";
  jobs.description = "jobs processed";
  m.processed = metrics.create_counter("gen_jobs_processed_total", jobs);
  jobs.description = "jobs waiting";
  m.queue_depth = metrics.create_gauge("gen_queue_depth", jobs);
  InstrumentOptions seconds;
  seconds.unit = "s";
  seconds.description = "job duration";
  seconds.boundaries = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  m.duration = metrics.create_histogram("gen_job_duration_seconds", seconds);
  std::vector<std::string> types(kJobTypes.begin(), kJobTypes.end());
  std::vector<std::string> workers;
  for (int i = 0; i < 5; ++i) workers.push_back(machine_id + "-worker-" + std::to_string(i));
  // 4 job types x 5 statuses/workers/queues = 20 distinct sets per instrument.
  m.processed_series =
      make_series({"job_type", "status", "service_type"},
                  {types, {"completed", "failed", "timeout", "cancelled", "retried"}, {"comfyui"}});
  m.depth_series =
      make_series({"queue", "worker_id"}, {{"default", "priority", "batch", "gpu-large"}, workers});
  m.duration_series = make_series(
      {"job_type", "status"}, {types, {"completed", "failed", "timeout", "cancelled", "retried"}});
  bind_fields(m.processed_series);
  bind_fields(m.depth_series);
  bind_fields(m.duration_series);
}

// Generates the records of one thread. Each kind keeps its own small state
// machine so that consecutive records read like the traffic of real jobs.
class Generator {
 public:
  Generator(Client& client, Plan& plan, const MetricsPlan& metrics, std::size_t index,
            std::uint64_t seed)
      : client_(client),
        plan_(plan),
        metrics_(metrics),
        rng_(seed),
        machine_id_(client.config().machine_id),
        worker_id_(machine_id_ + "-worker-" + std::to_string(index)),
        // The client adds worker_id itself when WORKER_ID is configured; the
        // simulated worker of this thread then goes under job.worker.
        worker_key_(client.config().worker_id.empty() ? "worker_id" : "job.worker"),
        payload_(make_payload(rng_)) {}

  void run() {
    run_steps();
    // A job.process span counted but left open for its child (the count ran
    // out, or the run ended, between the two steps) is sent now.
    process_span_.end();
  }

  void run_steps() {
    std::array<bool, kKinds> done{};
    for (std::size_t k = 0; k < kKinds; ++k) done[k] = plan_.cap[k] == 0;
    while (!plan_.stop.load(std::memory_order_relaxed)) {
      bool any = false;
      for (std::size_t k = 0; k < kKinds; ++k) {
        if (done[k]) continue;
        if (plan_.cap[k] != kUncapped &&
            plan_.claimed[k].fetch_add(1, std::memory_order_relaxed) >= plan_.cap[k]) {
          done[k] = true;
          continue;
        }
        if (!pace()) return;
        any = true;
        switch (static_cast<Kind>(k)) {
          case kSpans:
            span();
            break;
          case kLogs:
            log();
            break;
          case kMetrics:
            measurement();
            break;
          case kEvents:
            event();
            break;
          case kErrors:
            error();
            break;
          default:
            break;
        }
        // Only this thread writes the count; the progress line reads it.
        generated_[k].store(generated_[k].load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
      }
      if (!any) return;
    }
  }

  std::array<std::uint64_t, kKinds> generated() const {
    std::array<std::uint64_t, kKinds> out{};
    for (std::size_t k = 0; k < kKinds; ++k) out[k] = generated_[k].load(std::memory_order_relaxed);
    return out;
  }

 private:
  // Waits for the next slot of the rate schedule (and while throttled);
  // false when the run is over.
  bool pace() {
    while (plan_.throttle.load(std::memory_order_relaxed) &&
           !plan_.stop.load(std::memory_order_relaxed)) {
      if (plan_.end && SteadyClock::now() >= *plan_.end) break;
      std::this_thread::sleep_for(milliseconds(1));
    }
    if (plan_.rate > 0) {
      const std::uint64_t slot = plan_.paced.fetch_add(1, std::memory_order_relaxed);
      const auto due =
          plan_.start + std::chrono::duration_cast<SteadyClock::duration>(
                            std::chrono::duration<double>(static_cast<double>(slot) / plan_.rate));
      if (plan_.end && due >= *plan_.end) {
        plan_.stop.store(true, std::memory_order_relaxed);
        return false;
      }
      if (due > SteadyClock::now()) std::this_thread::sleep_until(due);
    }
    if (plan_.end && SteadyClock::now() >= *plan_.end) {
      plan_.stop.store(true, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

  void new_job() {
    job_id_ = make_job_id(rng_);
    job_type_ = kJobTypes[rng_() % kJobTypes.size()];
    priority_ = static_cast<int>(rng_() % 10);
    failed_ = rng_() % kFailOneIn == 0;
    error_type_ = kErrorTypes[rng_() % kErrorTypes.size()];
    duration_ms_ = 200 + static_cast<std::int64_t>(rng_() % 30000);
  }

  JobInfo job_info() const {
    return JobInfo{.id = job_id_,
                   .type = job_type_,
                   .priority = priority_,
                   .queue = "default",
                   .connector = "comfyui"};
  }

  // The lifecycle of one job as five spans of one trace, through the
  // library's job instrumentation: job.submit (the API side) puts the trace
  // context into the job's JSON payload; the worker side reads it back for
  // job.claim and job.process, the connector's process.http_request runs
  // inside job.process, then job.complete or job.fail.
  void span() {
    JobInstrument& jobs = client_.job();
    switch (span_step_) {
      case 0: {
        new_job();
        job_payload_ = jobs.submit(job_info(),
                                   "{\"job_id\":\"" + job_id_ + "\",\"type\":\"" + job_type_ +
                                       "\",\"input\":" + payload_ + "}",
                                   {{"gen.payload", payload_}});
        break;
      }
      case 1:
        jobs.claim(job_info(), job_payload_).set_attribute("gen.payload", payload_);
        break;
      case 2:
        // Ends after its child, in the next step.
        process_span_ = jobs.process_span(job_info(), job_payload_);
        process_span_.set_attribute("gen.payload", payload_);
        break;
      case 3: {
        {
          Scope scope(process_span_);
          Span s =
              client_.processing().http_request("POST", "http://127.0.0.1:8188/prompt", payload_);
          s.set_attribute("http.response.status_code", failed_ ? 500 : 200);
          s.set_attribute("gen.payload", payload_);
          if (failed_) s.set_status(StatusCode::kError, "HTTP 500");
        }
        process_span_.set_attribute("job.duration_ms", duration_ms_);
        process_span_.end();
        break;
      }
      default:
        if (failed_) {
          jobs.fail(job_info(), std::string(error_type_) + " error", job_payload_,
                    {{"gen.payload", payload_}});
        } else {
          jobs.complete(job_info(), job_payload_, {{"gen.payload", payload_}});
        }
        break;
    }
    span_step_ = (span_step_ + 1) % 5;
  }

  // The operational events of one job through the events track: received,
  // started, progress, and completed or failed (one event per call).
  void event() {
    Events& ev = client_.events();
    if (event_step_ == 0) {
      event_job_id_ = make_job_id(rng_);
      event_job_type_ = kJobTypes[rng_() % kJobTypes.size()];
      event_failed_ = rng_() % kFailOneIn == 0;
    }
    const std::int64_t duration_ms = 200 + static_cast<std::int64_t>(rng_() % 30000);
    switch (event_step_) {
      case 0:
        ev.job_received({.job_id = event_job_id_,
                         .job_type = event_job_type_,
                         .queue = "default",
                         .priority = static_cast<int>(rng_() % 10)});
        break;
      case 1:
        ev.job_started({.job_id = event_job_id_,
                        .job_type = event_job_type_,
                        .connector = "comfyui",
                        .queue_wait_time_ms = static_cast<std::int64_t>(rng_() % 5000)});
        break;
      case 2:
        ev.job_progress({.job_id = event_job_id_, .progress_percent = 50, .message = "sampling"});
        break;
      default:
        if (event_failed_) {
          const char* error = kErrorTypes[rng_() % kErrorTypes.size()];
          ev.job_failed({.job_id = event_job_id_,
                         .job_type = event_job_type_,
                         .error_type = classify_error(error),
                         .error_message = error,
                         .duration_ms = duration_ms});
        } else {
          ev.job_completed(
              {.job_id = event_job_id_, .job_type = event_job_type_, .duration_ms = duration_ms});
        }
        break;
    }
    event_step_ = (event_step_ + 1) % 4;
  }

  // The operational events of one job: received, started, progress, and
  // completed or failed, with the queue's correlation fields.
  void log() {
    Logger& log = client_.log();
    if (log_step_ == 0) {
      log_job_id_ = make_job_id(rng_);
      log_job_type_ = kJobTypes[rng_() % kJobTypes.size()];
      log_failed_ = rng_() % kFailOneIn == 0;
    }
    const std::string_view wk = worker_key_;
    const std::string& worker = worker_id_;
    const std::int64_t duration_ms = 200 + static_cast<std::int64_t>(rng_() % 30000);
    switch (log_step_) {
      case 0:
        log.info("job received", {{"event", "job_received"},
                                  {"job_id", log_job_id_},
                                  {"job_type", log_job_type_},
                                  {wk, worker},
                                  {"priority", static_cast<std::int64_t>(rng_() % 10)},
                                  {"queue", "default"},
                                  {"status", "queued"},
                                  {"http.method", "POST"},
                                  {"http.route", "/api/jobs"},
                                  {"http.status_code", 201},
                                  {"payload", payload_}});
        break;
      case 1:
        log.info("job started", {{"event", "job_started"},
                                 {"job_id", log_job_id_},
                                 {"job_type", log_job_type_},
                                 {wk, worker},
                                 {"queue_wait_time_ms", static_cast<std::int64_t>(rng_() % 5000)},
                                 {"status", "in_progress"},
                                 {"payload", payload_}});
        break;
      case 2:
        log.info("job progress", {{"event", "job_progress"},
                                  {"job_id", log_job_id_},
                                  {wk, worker},
                                  {"progress_percent", 50},
                                  {"http.method", "GET"},
                                  {"http.url", "http://127.0.0.1:8188/history"},
                                  {"http.status_code", 200},
                                  {"payload", payload_}});
        break;
      default:
        if (log_failed_) {
          log.error("job failed", {{"event", "job_failed"},
                                   {"job_id", log_job_id_},
                                   {"job_type", log_job_type_},
                                   {wk, worker},
                                   {"duration_ms", duration_ms},
                                   {"status", "failed"},
                                   {"success", false},
                                   {"error_type", kErrorTypes[rng_() % kErrorTypes.size()]},
                                   {"error", "inference server answered HTTP 500"},
                                   {"payload", payload_}});
        } else {
          log.info("job completed", {{"event", "job_completed"},
                                     {"job_id", log_job_id_},
                                     {"job_type", log_job_type_},
                                     {wk, worker},
                                     {"duration_ms", duration_ms},
                                     {"status", "completed"},
                                     {"success", true},
                                     {"payload", payload_}});
        }
        break;
    }
    log_step_ = (log_step_ + 1) % 4;
  }

  // One measurement, in turn on the counter, the gauge and the histogram,
  // each on one of its kSeriesPerInstrument attribute sets.
  void measurement() {
    const std::size_t series = (metric_step_ / 3 + rng_()) % kSeriesPerInstrument;
    switch (metric_step_ % 3) {
      case 0:
        metrics_.processed.add(1, std::span<const Field>(metrics_.processed_series.fields[series]));
        break;
      case 1:
        metrics_.queue_depth.record(static_cast<std::int64_t>(rng_() % 500),
                                    std::span<const Field>(metrics_.depth_series.fields[series]));
        break;
      default:
        metrics_.duration.record(static_cast<double>(rng_() % 300000) / 1000.0,
                                 std::span<const Field>(metrics_.duration_series.fields[series]));
        break;
    }
    ++metric_step_;
  }

  // One failed job reported to Sentry: a job.process span of its own trace
  // is active while the worker catches the job's exception (an inference
  // error wrapping the transport error, as std::throw_with_nested makes it)
  // and captures it with the job's tags.
  void error() {
    new_job();
    Span span = client_.tracer().start_span("job.process",
                                            SpanOptions{.kind = SpanKind::kConsumer, .root = true},
                                            {{"job.id", job_id_}, {"job.type", job_type_}});
    Scope active(span);
    try {
      fail_job();
    } catch (const std::exception& e) {
      span.set_status(StatusCode::kError, e.what());
      client_.errors().capture_exception(e, ErrorScope()
                                                .tag("job_id", job_id_)
                                                .tag("job_type", job_type_)
                                                .tag("error_type", error_type_)
                                                .tag(worker_key_, worker_id_));
    }
  }

  [[gnu::noinline]] void fail_job() {
    try {
      throw std::runtime_error("inference server answered HTTP 500");
    } catch (...) {
      std::throw_with_nested(std::runtime_error("job " + job_id_ + " failed: " + error_type_));
    }
  }

  Client& client_;
  Plan& plan_;
  const MetricsPlan& metrics_;
  std::mt19937_64 rng_;
  const std::string machine_id_;
  const std::string worker_id_;
  const std::string_view worker_key_;
  const std::string payload_;
  std::array<std::atomic<std::uint64_t>, kKinds> generated_{};

  int span_step_ = 0;
  std::string job_id_;
  std::string job_type_;
  int priority_ = 0;
  bool failed_ = false;
  std::string error_type_;
  std::int64_t duration_ms_ = 0;
  std::string job_payload_;
  Span process_span_;
  int event_step_ = 0;
  std::string event_job_id_;
  const char* event_job_type_ = "";
  bool event_failed_ = false;

  int log_step_ = 0;
  std::string log_job_id_;
  std::string log_job_type_;
  bool log_failed_ = false;

  std::uint64_t metric_step_ = 0;
};

double seconds_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

nlohmann::json dropped_json(
    const std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)>& d) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t r = 0; r < d.size(); ++r) {
    if (d[r] != 0) j[std::string(to_string(static_cast<DropReason>(r)))] = d[r];
  }
  return j;
}

std::string reasons_text(
    const std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)>& d) {
  std::string out;
  for (std::size_t r = 0; r < d.size(); ++r) {
    if (d[r] == 0) continue;
    out += (out.empty() ? "" : ", ") + std::string(to_string(static_cast<DropReason>(r))) + "=" +
           std::to_string(d[r]);
  }
  return out.empty() ? "-" : out;
}

std::uint64_t sum(
    const std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)>& d) {
  std::uint64_t n = 0;
  for (auto x : d) n += x;
  return n;
}

// Whether every record of kind `k` was delivered, and if not, why not.
// Spans and log records are single records: the track must have written at
// least as many as were generated (records an earlier run left in the spool
// are written too), and every destination of the track (the OTLP export of
// log records is one besides the log file) must have taken as many, with
// nothing dropped or left in the spool. Metric measurements are aggregated
// into data points: every measurement must have been accepted, and every
// data point exported must have been delivered.
struct Verdict {
  bool delivered = false;
  bool final = false;  // something was dropped: waiting longer cannot help
  std::string why;
};

// `destination_items`: what the destinations of the kind's outputs must
// have delivered (events and logs share the log track's outputs).
Verdict judge(Kind k, std::uint64_t generated, std::uint64_t destination_items,
              const HealthSnapshot& h) {
  Verdict v;
  const Track track = kKindTrack[k];
  const Track destination_track = kKindDestinationTrack[k];
  const TrackHealth& t = h.track(track);
  if (t.dropped_total() != 0) {
    v.final = true;
    v.why = std::to_string(t.dropped_total()) + " dropped (" + reasons_text(t.dropped) + ")";
    return v;
  }
  for (const auto& d : h.destinations) {
    if (d.track != destination_track) continue;
    if (sum(d.dropped) != 0) {
      v.final = true;
      v.why = d.name + ": " + std::to_string(sum(d.dropped)) + " dropped (" +
              reasons_text(d.dropped) + ")";
      return v;
    }
  }
  if (t.spooled != 0) {
    v.why = std::to_string(t.spooled) + " still in the disk spool";
    return v;
  }
  if (k == kMetrics) {
    std::uint64_t refused = 0;
    for (auto n : t.measurements_dropped) refused += n;
    if (refused != 0) {
      v.why = std::to_string(refused) + " measurements not accepted (" +
              reasons_text(t.measurements_dropped) + ")";
      return v;
    }
    if (t.measurements < generated) {
      v.why = std::to_string(generated - t.measurements) + " measurements not recorded";
      return v;
    }
    if (t.written == 0) {
      v.why = "no data point delivered yet";
      return v;
    }
  } else if (t.written < generated) {
    v.why = std::to_string(generated - t.written) + " not written yet";
    return v;
  }
  for (const auto& d : h.destinations) {
    if (d.track != destination_track) continue;
    if (d.spooled != 0) {
      v.why = d.name + ": " + std::to_string(d.spooled) + " still in the disk spool";
      return v;
    }
    if (k != kMetrics && d.delivered < destination_items) {
      v.why =
          d.name + ": " + std::to_string(destination_items - d.delivered) + " not delivered yet";
      return v;
    }
  }
  v.delivered = true;
  return v;
}

struct Outcome {
  std::array<std::uint64_t, kKinds> generated{};
  std::array<Verdict, kKinds> verdicts{};
  bool delivered = true;
};

Outcome assess(const std::array<std::uint64_t, kKinds>& generated,
               const std::array<bool, kKinds>& requested, const HealthSnapshot& h) {
  Outcome o;
  o.generated = generated;
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (!requested[k]) continue;
    std::uint64_t destination_items = generated[k];
    if (k == kLogs || k == kEvents) destination_items = generated[kLogs] + generated[kEvents];
    o.verdicts[k] = judge(static_cast<Kind>(k), generated[k], destination_items, h);
    o.delivered = o.delivered && o.verdicts[k].delivered;
  }
  return o;
}

bool any_final(const Outcome& o, const std::array<bool, kKinds>& requested) {
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (requested[k] && o.verdicts[k].final) return true;
  }
  return false;
}

struct Timing {
  double generation_s = 0;  // start of generation to the last record generated
  double total_s = 0;       // start of generation to the end of the final flush
  double throttled_s = 0;   // generation paused for a backed-up destination
  bool flushed = false;     // everything delivered before --flush-timeout
  bool shutdown_ok = false;
  std::string stopped;      // why waiting for delivery ended
};

// Records (not metric data points, which count another unit) written or
// delivered by the tracks of the requested kinds.
std::uint64_t delivered_records(const std::array<bool, kKinds>& requested,
                                const HealthSnapshot& h) {
  std::uint64_t n = 0;
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (requested[k] && k != kMetrics) n += h.track(kKindTrack[k]).written;
  }
  return n;
}

// Why the run stopped waiting: everything delivered, something dropped
// (waiting cannot bring it back), a destination's breaker still open, or
// the flush deadline.
std::string stop_reason(const Outcome& o, const std::array<bool, kKinds>& requested,
                        const HealthSnapshot& h) {
  if (o.delivered) return "done: everything delivered";
  if (any_final(o, requested)) return "records were dropped";
  for (const auto& d : h.destinations) {
    if (d.state == "circuit_open") return "circuit open: " + d.name;
  }
  return "flush timeout";
}

std::string count_text(double n) {
  char buf[32];
  if (n >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else if (n >= 1e4)
    std::snprintf(buf, sizeof buf, "%.1f k", n / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

// One line a second on stderr while generating and waiting for delivery
// (on a terminal, or with --progress): generated, written, the bytes queued
// for destinations, and each destination's state.
class Progress {
 public:
  Progress(Client& client, const std::vector<std::unique_ptr<Generator>>& generators,
           const std::array<bool, kKinds>& requested, bool on)
      : client_(client), generators_(generators), requested_(requested), on_(on) {}

  void start(SteadyClock::time_point at) {
    start_ = at;
    next_ = at + std::chrono::seconds(1);
  }

  void tick(const char* phase) {
    if (!on_) return;
    const auto now = SteadyClock::now();
    if (now < next_) return;
    next_ = now + std::chrono::seconds(1);
    std::uint64_t generated = 0;
    for (const auto& g : generators_) {
      const auto counts = g->generated();
      for (std::size_t k = 0; k < kKinds; ++k) generated += counts[k];
    }
    const HealthSnapshot h = client_.health();
    std::uint64_t queued = 0;
    std::string states;
    for (const auto& d : h.destinations) {
      queued += d.queue_bytes;
      states += " | " + d.name + " " + d.state;
    }
    const double elapsed = seconds_between(start_, now);
    std::fprintf(stderr, "[%5.0f s] %s: %s generated (%s/s), %s written, %.1f MiB queued%s\n",
                 elapsed, phase, count_text(static_cast<double>(generated)).c_str(),
                 count_text(elapsed > 0 ? static_cast<double>(generated) / elapsed : 0).c_str(),
                 count_text(static_cast<double>(delivered_records(requested_, h))).c_str(),
                 static_cast<double>(queued) / (1024.0 * 1024.0), states.c_str());
  }

 private:
  Client& client_;
  const std::vector<std::unique_ptr<Generator>>& generators_;
  const std::array<bool, kKinds>& requested_;
  const bool on_;
  SteadyClock::time_point start_{};
  SteadyClock::time_point next_{};
};

nlohmann::json summary_json(const GenArgs& args, const Outcome& o,
                            const std::array<bool, kKinds>& requested, const HealthSnapshot& h,
                            const Timing& timing) {
  nlohmann::json j;
  std::uint64_t total = 0;
  nlohmann::json tracks = nlohmann::json::object();
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (!requested[k]) continue;
    total += o.generated[k];
    const TrackHealth& t = h.track(kKindTrack[k]);
    nlohmann::json tj;
    tj["track"] = std::string(to_string(kKindTrack[k]));
    tj["generated"] = o.generated[k];
    tj["offered"] = t.offered;
    tj["accepted"] = t.accepted;
    tj["written"] = t.written;
    tj["spooled"] = t.spooled;
    tj["recovered"] = t.recovered;
    tj["dropped_total"] = t.dropped_total();
    tj["dropped"] = dropped_json(t.dropped);
    if (k == kMetrics) {
      tj["measurements"] = t.measurements;
      tj["measurements_dropped"] = dropped_json(t.measurements_dropped);
    }
    tj["delivered"] = o.verdicts[k].delivered;
    if (!o.verdicts[k].delivered) tj["problem"] = o.verdicts[k].why;
    tracks[kKindNames[k]] = std::move(tj);
  }
  j["tracks"] = std::move(tracks);
  nlohmann::json dests = nlohmann::json::array();
  for (const auto& d : h.destinations) {
    dests.push_back({{"name", d.name},
                     {"track", std::string(to_string(d.track))},
                     {"state", d.state},
                     {"requests", d.requests},
                     {"retried", d.retried},
                     {"delivered", d.delivered},
                     {"spooled", d.spooled},
                     {"dropped", dropped_json(d.dropped)},
                     {"last_error", d.last_error}});
  }
  j["destinations"] = std::move(dests);
  j["threads"] = args.threads;
  j["rate_limit"] = args.rate;
  j["generated_total"] = total;
  j["generation_seconds"] = timing.generation_s;
  j["elapsed_seconds"] = timing.total_s;
  j["generated_per_second"] = timing.generation_s > 0 ? total / timing.generation_s : 0.0;
  const double delivered = static_cast<double>(delivered_records(requested, h));
  j["delivered_records"] = delivered;
  j["delivered_per_second"] = timing.total_s > 0 ? delivered / timing.total_s : 0.0;
  j["stopped"] = timing.stopped;
  j["throttled_seconds"] = timing.throttled_s;
  j["flushed"] = timing.flushed;
  j["delivered"] = o.delivered;
  return j;
}

void print_summary(const GenArgs& args, const Outcome& o, const std::array<bool, kKinds>& requested,
                   const HealthSnapshot& h, const Timing& timing) {
  std::uint64_t total = 0;
  std::string what;
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (!requested[k]) continue;
    total += o.generated[k];
    what += (what.empty() ? "" : ", ") + std::to_string(o.generated[k]) + " " +
            (k == kMetrics ? "measurements" : kKindNames[k]);
  }
  std::printf("emp-telemetry gen: generated %s with %u thread%s in %.2f s (%.0f records/s%s)\n",
              what.c_str(), args.threads, args.threads == 1 ? "" : "s", timing.generation_s,
              timing.generation_s > 0 ? static_cast<double>(total) / timing.generation_s : 0.0,
              args.rate > 0
                  ? (", limit " + std::to_string(static_cast<long long>(args.rate)) + "/s").c_str()
                  : "");
  const std::uint64_t delivered = delivered_records(requested, h);
  if (delivered == 0 && total > (requested[kMetrics] ? o.generated[kMetrics] : 0)) {
    std::printf("elapsed %.2f s including the final flush; nothing was delivered\n",
                timing.total_s);
  } else if (delivered > 0) {
    std::printf("elapsed %.2f s including the final flush (%.0f records/s delivered end to end)\n",
                timing.total_s,
                timing.total_s > 0 ? static_cast<double>(delivered) / timing.total_s : 0.0);
  } else {
    std::printf("elapsed %.2f s including the final flush\n", timing.total_s);
  }
  std::printf("stopped: %s\n", timing.stopped.c_str());
  if (timing.throttled_s > 0) {
    std::printf("paused %.2f s in all while a destination's send queue was backed up\n",
                timing.throttled_s);
  }
  std::printf("\n");
  // One unit per row: metrics have a row of measurements (what was
  // generated and recorded) and one of the data points they were
  // aggregated into (what is exported, with the client's own).
  std::printf("  %-8s %-12s %10s %10s %10s %8s %8s  %s\n", "track", "unit", "generated", "offered",
              "written", "spooled", "dropped", "drops by reason (track; destinations)");
  auto number = [](std::uint64_t n) { return std::to_string(n); };
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (!requested[k]) continue;
    const TrackHealth& t = h.track(kKindTrack[k]);
    std::string reasons = reasons_text(t.dropped);
    for (const auto& d : h.destinations) {
      if (d.track != kKindDestinationTrack[k] || sum(d.dropped) == 0) continue;
      reasons += "; " + d.name + ": " + reasons_text(d.dropped);
    }
    const std::string track(to_string(kKindTrack[k]));
    if (k == kMetrics) {
      std::uint64_t refused = 0;
      for (auto n : t.measurements_dropped) refused += n;
      std::printf("  %-8s %-12s %10s %10s %10s %8s %8s  %s\n", track.c_str(), kKindUnits[k],
                  number(o.generated[k]).c_str(), number(t.measurements + refused).c_str(),
                  number(t.measurements).c_str(), "-", number(refused).c_str(),
                  refused ? reasons_text(t.measurements_dropped).c_str() : "-");
      std::printf("  %-8s %-12s %10s %10s %10s %8s %8s  %s\n", track.c_str(), "data points", "-",
                  number(t.offered).c_str(), number(t.written).c_str(),
                  number(t.spooled).c_str(), number(t.dropped_total()).c_str(), reasons.c_str());
      continue;
    }
    std::printf("  %-8s %-12s %10s %10s %10s %8s %8s  %s\n", track.c_str(), kKindUnits[k],
                number(o.generated[k]).c_str(), number(t.offered).c_str(),
                number(t.written).c_str(), number(t.spooled).c_str(),
                number(t.dropped_total()).c_str(), reasons.c_str());
  }
  if (requested[kMetrics]) {
    std::printf("  (metrics: the written measurements are those recorded into data points)\n");
  }
  if (!h.destinations.empty()) {
    std::printf("\ndestinations:\n");
    for (const auto& d : h.destinations) {
      std::printf(
          "  %-8s %-48s %-12s delivered %llu in %llu requests (%llu retried), "
          "spooled %llu, dropped %llu%s%s%s\n",
          std::string(to_string(d.track)).c_str(), d.name.c_str(), d.state.c_str(),
          static_cast<unsigned long long>(d.delivered), static_cast<unsigned long long>(d.requests),
          static_cast<unsigned long long>(d.retried), static_cast<unsigned long long>(d.spooled),
          static_cast<unsigned long long>(sum(d.dropped)),
          sum(d.dropped) ? (" (" + reasons_text(d.dropped) + ")").c_str() : "",
          d.last_error.empty() ? "" : ", last error: ", d.last_error.c_str());
    }
  }
  std::printf("\n");
  if (o.delivered) {
    std::printf("result: every generated record was delivered\n");
    return;
  }
  std::printf("result: NOT everything was delivered%s\n",
              timing.flushed ? "" : " (within --flush-timeout)");
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (requested[k] && !o.verdicts[k].delivered) {
      std::printf("  %-8s %s\n", kKindNames[k], o.verdicts[k].why.c_str());
    }
  }
}

// Backpressure beyond the queue policy: the block policy only covers the
// per-thread queues, and a destination that cannot keep up would otherwise
// fill its send queue to EMP_DELIVERY_MEMORY_CAP and drop (memory_cap).
// While any destination holds more than a quarter of its cap, generation
// pauses until it is back under an eighth. A pause never lasts more than
// kMaxPause at a stretch, so an unreachable collector cannot stall the run:
// generation then goes on and the outcome (spooled or dropped) is reported.
// Returns the time generation spent paused. Runs until `running` is 0.
double watch_send_queues(Client& client, Plan& plan, const std::atomic<std::size_t>& running,
                         Progress& progress) {
  constexpr auto kTick = milliseconds(10);
  constexpr auto kMaxPause = milliseconds(2000);
  const std::uint64_t cap = client.config().delivery_memory_cap;
  const std::uint64_t high = cap / 4;
  const std::uint64_t low = cap / 8;
  bool gave_up = false;  // paused kMaxPause: wait for the queue to drain before pausing again
  SteadyClock::time_point paused_since;
  SteadyClock::duration paused{0};
  while (running.load(std::memory_order_acquire) > 0) {
    std::this_thread::sleep_for(kTick);
    progress.tick("generating");
    std::uint64_t queued = 0;
    for (const auto& d : client.health().destinations) queued = std::max(queued, d.queue_bytes);
    const auto now = SteadyClock::now();
    const bool throttled = plan.throttle.load(std::memory_order_relaxed);
    if (gave_up) {
      gave_up = queued >= low;
    } else if (!throttled && queued > high) {
      paused_since = now;
      plan.throttle.store(true, std::memory_order_relaxed);
    } else if (throttled && (queued < low || now - paused_since > kMaxPause)) {
      gave_up = queued >= low;
      paused += now - paused_since;
      plan.throttle.store(false, std::memory_order_relaxed);
    }
  }
  if (plan.throttle.exchange(false)) paused += SteadyClock::now() - paused_since;
  return std::chrono::duration<double>(paused).count();
}

}  // namespace

int run_gen(const GlobalArgs& global, const GenArgs& args) {
  const bool any_count = args.spans || args.logs || args.metrics || args.events || args.errors;
  if (!args.duration && !any_count) {
    std::fprintf(stderr,
                 "emp-telemetry gen: nothing to generate: give --spans, --logs, --metrics, "
                 "--events or --errors (counts), or --duration SECONDS\n");
    return kUsageExit;
  }
  if (args.threads == 0) {
    std::fprintf(stderr, "emp-telemetry gen: --threads must be at least 1\n");
    return kUsageExit;
  }

  Plan plan;
  const std::array<std::optional<std::uint64_t>, kKinds> counts{args.spans, args.logs, args.metrics,
                                                                args.events, args.errors};
  std::array<bool, kKinds> requested{};
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (counts[k]) {
      plan.cap[k] = *counts[k];
    } else if (args.duration && !any_count && k != kErrors) {
      plan.cap[k] = kUncapped;
    }
    requested[k] = plan.cap[k] != 0;
  }
  if (std::none_of(requested.begin(), requested.end(), [](bool r) { return r; })) {
    std::fprintf(stderr, "emp-telemetry gen: nothing to generate: every count is 0\n");
    return kUsageExit;
  }
  plan.rate = args.rate;

  Options options = base_options(global);
  // Generation measures delivery, not drops: a full queue makes the
  // generating thread wait, unless the user chose a policy.
  const char* policy = std::getenv("EMP_QUEUE_FULL_POLICY");
  if (policy == nullptr || *policy == '\0') {
    options.raw["EMP_QUEUE_FULL_POLICY"] = "block";
    const char* block = std::getenv("EMP_QUEUE_BLOCK_TIMEOUT");
    if (block == nullptr || *block == '\0') options.raw["EMP_QUEUE_BLOCK_TIMEOUT"] = "1s";
  }
  auto created = Client::create(options);
  if (!created) {
    for (const auto& e : created.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "emp-telemetry gen: invalid configuration (%s)\n",
                 count_noun(created.errors().size(), "problem").c_str());
    return 1;
  }
  Client& client = created.value();
  if (requested[kMetrics] && !client.metrics().enabled()) {
    std::fprintf(stderr,
                 "emp-telemetry gen: metrics are off in this configuration (OTEL_ENABLED or "
                 "OTEL_SDK_DISABLED); cannot generate --metrics\n");
    return 1;
  }

  MetricsPlan metrics;
  init_metrics(metrics, client, client.config().machine_id);

  std::random_device seed_source;
  const std::uint64_t seed = (static_cast<std::uint64_t>(seed_source()) << 32) ^ seed_source();
  std::vector<std::unique_ptr<Generator>> generators;
  for (std::uint32_t i = 0; i < args.threads; ++i) {
    generators.push_back(std::make_unique<Generator>(client, plan, metrics, i, seed + i * 7919));
  }

  Progress progress(client, generators, requested, args.progress || (!args.no_progress && ::isatty(2) == 1));
  plan.start = SteadyClock::now();
  progress.start(plan.start);
  if (args.duration) {
    plan.end = plan.start + std::chrono::duration_cast<SteadyClock::duration>(
                                std::chrono::duration<double>(*args.duration));
  }
  Timing timing;
  {
    std::atomic<std::size_t> running{generators.size()};
    std::vector<std::thread> threads;
    threads.reserve(generators.size());
    for (auto& g : generators) {
      threads.emplace_back([&g, &running] {
        g->run();
        running.fetch_sub(1, std::memory_order_release);
      });
    }
    timing.throttled_s = watch_send_queues(client, plan, running, progress);
    for (auto& t : threads) t.join();
  }
  const auto generated_at = SteadyClock::now();

  std::array<std::uint64_t, kKinds> generated{};
  for (const auto& g : generators) {
    for (std::size_t k = 0; k < kKinds; ++k) generated[k] += g->generated()[k];
  }

  // Flush until everything is delivered, something is dropped (waiting
  // cannot bring it back), or --flush-timeout passes. A flush can return
  // before a spool is replayed (the breaker may still be cooling down), so
  // the health counters decide, not the flush's return value.
  const auto flush_end =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(args.flush_timeout));
  for (;;) {
    const auto now = SteadyClock::now();
    const auto left = std::chrono::duration_cast<milliseconds>(flush_end - now);
    client.flush(std::max(milliseconds(0), std::min(left, milliseconds(1000))));
    progress.tick("delivering");
    const Outcome o = assess(generated, requested, client.health());
    if (o.delivered) {
      timing.flushed = true;
      break;
    }
    if (any_final(o, requested) || SteadyClock::now() >= flush_end) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  const auto flushed_at = SteadyClock::now();
  {
    const HealthSnapshot at_end = client.health();
    timing.stopped = stop_reason(assess(generated, requested, at_end), requested, at_end);
  }
  timing.shutdown_ok = client.shutdown(client.config().shutdown_timeout);
  const HealthSnapshot health = client.health();
  const Outcome outcome = assess(generated, requested, health);
  timing.generation_s = seconds_between(plan.start, generated_at);
  timing.total_s = seconds_between(plan.start, flushed_at);

  if (args.json) {
    std::printf("%s\n", summary_json(args, outcome, requested, health, timing).dump(2).c_str());
  } else {
    print_summary(args, outcome, requested, health, timing);
  }
  return outcome.delivered ? 0 : 1;
}

}  // namespace emp::telemetry::cli
