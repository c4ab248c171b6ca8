// Client::test(): the destination probes (doctor/probes.hpp) and, at the same
// time, one marker record through every track of this client, flushed within the timeout and
// followed per destination in health(), and a read-back of the marker span
// where the OTLP endpoint is a local viewer (`emp-telemetry serve`).
#include "emp/telemetry/pipeline_test.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "deliver/http_transport.hpp"
#include "doctor/probes.hpp"
#include "emp/telemetry/client.hpp"
#include "emp/telemetry/errors.hpp"
#include "emp/telemetry/events.hpp"
#include "emp/telemetry/health.hpp"
#include "emp/telemetry/log.hpp"
#include "emp/telemetry/metrics.hpp"
#include "emp/telemetry/trace.hpp"
#include "trace/ids.hpp"

namespace emp::telemetry {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const char* to_string(CheckStatus s) noexcept {
  switch (s) {
    case CheckStatus::kHealthy:
      return "healthy";
    case CheckStatus::kDegraded:
      return "degraded";
    case CheckStatus::kFailed:
      return "failed";
    case CheckStatus::kSkipped:
      return "skipped";
  }
  return "unknown";
}

int PipelineReport::exit_code() const noexcept {
  return overall == CheckStatus::kFailed ? 2 : overall == CheckStatus::kDegraded ? 1 : 0;
}

namespace {

int severity(CheckStatus s) {
  return s == CheckStatus::kFailed ? 3 : s == CheckStatus::kDegraded ? 2 : 0;
}

std::uint64_t dropped_of(const DestinationHealth& d) {
  std::uint64_t n = 0;
  for (auto x : d.dropped) n += x;
  return n;
}

const DestinationHealth* find(const HealthSnapshot& h, const std::string& name) {
  for (const auto& d : h.destinations)
    if (d.name == name) return &d;
  return nullptr;
}

// GET <viewer>/api/traces/<trace_id> until the marker span is there, for at
// most `budget`. "" when confirmed; otherwise why not.
std::string read_back(const std::string& traces_url, const std::string& trace_id,
                      milliseconds budget, microseconds& took) {
  const std::string suffix = "/v1/traces";
  if (traces_url.size() <= suffix.size() ||
      traces_url.compare(traces_url.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return "no read-back: the traces endpoint is not <base>/v1/traces";
  }
  const std::string url =
      traces_url.substr(0, traces_url.size() - suffix.size()) + "/api/traces/" + trace_id;
  const auto start = Clock::now();
  const auto until = start + budget;
  deliver::HttpTransport transport;
  for (;;) {
    deliver::HttpRequest req;
    req.url = url;
    req.get = true;
    req.timeout =
        std::max(milliseconds(100), std::chrono::duration_cast<milliseconds>(until - Clock::now()));
    req.deadline = deliver::Deadline::after(req.timeout);
    const auto resp = transport.post(req);
    const auto doc = nlohmann::json::parse(resp.body, nullptr, false);
    const bool viewer_answer = doc.is_object() && (doc.contains("spans") || doc.contains("error"));
    if (!viewer_answer) return "no read-back: the OTLP endpoint is not a local viewer";
    if (resp.status == 200) {
      for (const auto& s : doc["spans"]) {
        if (s.value("name", "") == "emp.pipeline_test") {
          took = std::chrono::duration_cast<microseconds>(Clock::now() - start);
          return "";
        }
      }
    }
    if (Clock::now() + milliseconds(50) >= until) {
      return "the viewer does not have the marker span within " + std::to_string(budget.count()) +
             " ms";
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
}

void end_to_end(Client& client, const PipelineTestOptions& options, const std::string& marker,
                PipelineReport& report) {
  const HealthSnapshot before = client.health();
  std::string trace_id;
  {
    Span span = client.tracer().start_span("emp.pipeline_test", {.root = true},
                                           {{"emp.pipeline_test", marker}});
    trace_id = span.context().trace_id.to_hex();
    Scope scope(span);
    client.log().info("emp-telemetry pipeline test", {{"emp.pipeline_test", marker}});
    client.events().operational_message({.message = "pipeline test", .component = "doctor"},
                                        {{"emp.pipeline_test", marker}});
    if (client.errors().enabled()) {
      ErrorScope es;
      es.tag("emp.pipeline_test", marker);
      client.errors().capture_message("emp-telemetry pipeline test", ErrorLevel::kInfo, es);
    }
  }
  client.metrics().counter("emp_pipeline_test_total", 1);
  const auto start = Clock::now();
  const bool flushed = client.flush(options.timeout);
  const auto flush_took = std::chrono::duration_cast<microseconds>(Clock::now() - start);
  const HealthSnapshot after = client.health();

  const std::pair<Track, const char*> tracks[] = {{Track::kLogs, "logs"},
                                                  {Track::kTraces, "traces"},
                                                  {Track::kMetrics, "metrics"},
                                                  {Track::kEvents, "events"},
                                                  {Track::kErrors, "errors"}};
  for (const auto& [track, name] : tracks) {
    CheckResult r;
    r.name = std::string("end-to-end ") + name;
    r.hops.push_back({"flush", flush_took});
    r.total = flush_took;
    std::vector<std::string> ok, bad;
    CheckStatus status = CheckStatus::kHealthy;
    for (const auto& d : after.destinations) {
      if (d.track != track) continue;
      if (!r.target.empty()) r.target += ", ";
      r.target += d.name;
      const DestinationHealth* b = find(before, d.name);
      const std::uint64_t delivered = d.delivered - (b ? b->delivered : 0);
      const std::uint64_t dropped = dropped_of(d) - (b ? dropped_of(*b) : 0);
      const std::uint64_t spooled = d.spooled;
      if (delivered > 0 && dropped == 0 && d.state == "failover") {
        // Delivered, but not where the configuration says first.
        bad.push_back(d.name + ": delivered through the failover endpoint " + d.active_endpoint +
                      " (" + d.active_reason + ")");
        if (status == CheckStatus::kHealthy) status = CheckStatus::kDegraded;
      } else if (delivered > 0 && dropped == 0) {
        ok.push_back(d.name);
      } else if (dropped > 0) {
        bad.push_back(d.name + ": dropped" +
                      (d.last_error.empty() ? "" : " (" + d.last_error + ")"));
        status = CheckStatus::kFailed;
      } else if (spooled > 0 || d.state != "healthy") {
        bad.push_back(d.name + ": waiting (" + d.state + ")" +
                      (d.last_error.empty() ? "" : ": " + d.last_error));
        status = CheckStatus::kFailed;
      } else if (!flushed) {
        bad.push_back(d.name + ": not delivered within " + std::to_string(options.timeout.count()) +
                      " ms");
        status = CheckStatus::kFailed;
      } else {
        // Flushed, nothing counted for it: a track whose records do not go
        // through this destination's counters one by one (an in-process bus
        // without subscribers, say).
        ok.push_back(d.name);
      }
    }
    if (r.target.empty()) {
      r.status = CheckStatus::kSkipped;
      r.reason = "the track has no destination";
      report.checks.push_back(std::move(r));
      continue;
    }
    r.status = status;
    if (status == CheckStatus::kHealthy) {
      r.reason = "marker delivered to " + std::to_string(ok.size()) + " destination" +
                 (ok.size() == 1 ? "" : "s");
    } else {
      r.reason.clear();
      for (const auto& b : bad) r.reason += (r.reason.empty() ? "" : "; ") + b;
      r.advice = "see the destination's own check above, and `emp-telemetry health`";
    }
    if (track == Track::kTraces && status == CheckStatus::kHealthy &&
        !client.config().otlp_traces.url.empty()) {
      microseconds took{0};
      const auto left =
          std::chrono::duration_cast<milliseconds>(start + options.timeout - Clock::now());
      const std::string why = read_back(client.config().otlp_traces.url, trace_id,
                                        std::max(left, milliseconds(500)), took);
      if (why.empty()) {
        r.hops.push_back({"read-back", took});
        r.total += took;
        r.reason += "; confirmed in the viewer (trace " + trace_id + ")";
      } else if (why.rfind("no read-back", 0) == 0) {
        r.reason += "; " + why;
      } else {
        r.status = CheckStatus::kFailed;
        r.reason += "; " + why;
        r.advice = "the viewer answered but did not store the span: see its stderr";
      }
    }
    report.checks.push_back(std::move(r));
  }
}

void client_state(const HealthSnapshot& h, ClientStateSummary& out) {
  for (const auto& d : h.destinations) {
    ClientStateSummary::Destination s;
    s.name = d.name;
    s.state = d.state;
    s.queue_bytes = d.queue_bytes;
    s.spool_bytes = d.spool_bytes;
    s.delivered = d.delivered;
    s.dropped = dropped_of(d);
    s.last_error = d.last_error;
    s.active_endpoint = d.active_endpoint;
    s.active_reason = d.active_reason;
    out.destinations.push_back(std::move(s));
  }
  const char* names[] = {"logs", "traces", "metrics", "events", "errors"};
  for (std::size_t t = 0; t < h.tracks.size() && t < 5; ++t) {
    for (std::size_t r = 0; r < static_cast<std::size_t>(DropReason::kCount); ++r) {
      const auto n = h.tracks[t].dropped[r];
      if (n == 0) continue;
      out.drops.emplace_back(
          std::string(names[t]) + " " + std::string(to_string(static_cast<DropReason>(r))), n);
    }
  }
}

}  // namespace

PipelineReport Client::test(const PipelineTestOptions& options) noexcept {
  PipelineReport report;
  try {
    const std::string marker = trace::new_span_id().to_hex();
    // The probes and the end-to-end run at the same time, so a hung peer
    // costs one timeout, not two.
    auto probes = std::async(std::launch::async,
                             [&] { return doctor::probe_all(config(), options, marker); });
    PipelineReport e2e;
    if (options.end_to_end && doctor::wanted(options.only, "end-to-end")) {
      end_to_end(*this, options, marker, e2e);
    }
    report.checks = probes.get();
    for (auto& c : e2e.checks) report.checks.push_back(std::move(c));
    client_state(health(), report.client);
  } catch (...) {
    CheckResult r;
    r.name = "pipeline test";
    r.status = CheckStatus::kFailed;
    r.reason = "could not run: out of memory or threads";
    report.checks.push_back(std::move(r));
  }
  int worst = 0;
  for (const auto& c : report.checks) {
    if (severity(c.status) > worst) {
      worst = severity(c.status);
      report.overall = c.status;
    }
  }
  return report;
}

}  // namespace emp::telemetry
