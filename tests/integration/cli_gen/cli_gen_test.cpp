// Tests of `emp-telemetry gen`, `emp-telemetry health` and the demo's job
// traces, running the real binary against a real HTTP collector on loopback
// (tests/support/loopback_collector). Proves that gen delivers exactly what
// it says it generated (the collector counts distinct spans and log records
// itself), that a collector refusing the data makes gen fail with the drop
// reason, that metric measurements arrive aggregated without loss, that
// health reads the status files of exited and running processes with the
// documented exit codes, and that each demo job is one trace from job.submit
// to job.complete/job.fail.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/cli_gen/cli_process.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry::cli_test {
namespace {

using nlohmann::json;
using testing::LoopbackCollector;
using testing::Response;
using namespace std::chrono_literals;

std::map<std::string, std::string> collector_env(const LoopbackCollector& collector,
                                                 const TempDir& dir) {
  return {{"LOG_DIR", dir.path().string()},
          {"SERVICE_NAME", "gen-test"},
          {"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()},
          {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
          {"EMP_LOGS_OTLP", "true"}};
}

std::vector<json> bodies(const LoopbackCollector& collector, const std::string& target) {
  std::vector<json> out;
  for (const auto& r : collector.requests()) {
    if (r.target != target) continue;
    out.push_back(json::parse(r.body, nullptr, /*allow_exceptions=*/false));
  }
  return out;
}

std::uint64_t as_u64(const json& v) {
  if (v.is_string()) return std::stoull(v.get<std::string>());
  if (v.is_number()) return v.get<std::uint64_t>();
  return 0;
}

json parse_summary(const Result& r) {
  json doc = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(doc.is_object()) << describe(r);
  return doc.is_object() ? doc : json::object();
}

TEST(CliGen, SpansAndLogsReachTheCollectorExactlyOnce) {
  LoopbackCollector collector;
  TempDir dir;
  const Result r = run_cli({"gen", "--spans", "10000", "--logs", "10000", "--json"},
                           collector_env(collector, dir), 120s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json s = parse_summary(r);
  EXPECT_TRUE(s.value("delivered", false)) << s.dump(2);
  EXPECT_EQ(s["tracks"]["spans"].value("generated", 0u), 10000u) << s.dump(2);
  EXPECT_EQ(s["tracks"]["spans"].value("written", 0u), 10000u);
  EXPECT_EQ(s["tracks"]["spans"].value("dropped_total", 1u), 0u);
  EXPECT_EQ(s["tracks"]["logs"].value("generated", 0u), 10000u);
  EXPECT_EQ(s["tracks"]["logs"].value("written", 0u), 10000u);
  EXPECT_EQ(s.value("generated_total", 0u), 20000u);
  bool saw_logs_destination = false;
  for (const auto& d : s["destinations"]) {
    EXPECT_EQ(d.value("state", ""), "healthy") << d.dump();
    if (d.value("track", "") == "logs") {
      saw_logs_destination = true;
      EXPECT_EQ(d.value("delivered", 0u), 10000u) << d.dump();
    }
    if (d.value("track", "") == "traces") {
      EXPECT_EQ(d.value("delivered", 0u), 10000u) << d.dump();
    }
  }
  EXPECT_TRUE(saw_logs_destination) << s.dump(2);

  // The collector's own count: distinct spans, one trace per job, and the
  // job lifecycle names with realistic attributes.
  std::set<std::pair<std::string, std::string>> spans;
  std::map<std::string, std::set<std::string>> names_of_trace;
  std::size_t payload_ok = 0;
  for (const auto& body : bodies(collector, "/v1/traces")) {
    ASSERT_TRUE(body.is_object());
    for_each_span(body, [&](const json& span) {
      spans.emplace(span.value("traceId", ""), span.value("spanId", ""));
      names_of_trace[span.value("traceId", "")].insert(span.value("name", ""));
      const auto& attrs = span.value("attributes", json::array());
      EXPECT_TRUE(has_attribute(attrs, "lifecycle.stage")) << span.dump();
      EXPECT_TRUE(has_attribute(attrs, "component.type")) << span.dump();
      payload_ok += attribute(attrs, "gen.payload").size() == 200;
    });
  }
  EXPECT_EQ(spans.size(), 10000u);
  EXPECT_EQ(payload_ok, 10000u);
  EXPECT_EQ(names_of_trace.size(), 2000u) << "five spans per job trace";
  for (const auto& [trace, names] : names_of_trace) {
    EXPECT_TRUE(names.count("job.submit") && names.count("job.claim") &&
                names.count("job.process") &&
                (names.count("job.complete") || names.count("job.fail")))
        << trace;
  }

  // Log records: distinct (job_id, event) pairs, each job-<uuid>.
  const std::regex job_id_format(
      "^job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::pair<std::string, std::string>> records;
  std::size_t total = 0;
  for (const auto& body : bodies(collector, "/v1/logs")) {
    ASSERT_TRUE(body.is_object());
    for_each_log_record(body, [&](const json& rec) {
      ++total;
      const auto& attrs = rec.value("attributes", json::array());
      const std::string id = attribute(attrs, "job_id");
      EXPECT_TRUE(std::regex_match(id, job_id_format)) << rec.dump();
      records.emplace(id, attribute(attrs, "event"));
    });
  }
  EXPECT_EQ(total, 10000u);
  EXPECT_EQ(records.size(), 10000u);

  std::cout << "[gen throughput] 10000 spans + 10000 logs, 1 thread, OTLP/HTTP JSON to loopback: "
            << s.value("generated_per_second", 0.0) << " records/s generated, "
            << s.value("delivered_per_second", 0.0) << " records/s delivered end to end ("
            << s.value("elapsed_seconds", 0.0) << " s)\n";
}

TEST(CliGen, TextSummaryShowsWhatWasGeneratedAndDelivered) {
  LoopbackCollector collector;
  TempDir dir;
  const Result r = run_cli({"gen", "--spans", "500", "--logs", "300", "--threads", "2"},
                           collector_env(collector, dir), 120s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(
      std::regex_search(r.out, std::regex(R"(traces\s+spans\s+500\s+500\s+500\s+0\s+0)")))
      << describe(r);
  EXPECT_TRUE(
      std::regex_search(r.out, std::regex(R"(logs\s+log lines\s+300\s+300\s+300\s+0\s+0)")))
      << describe(r);
  EXPECT_NE(r.out.find("stopped: done: everything delivered"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("records/s delivered end to end"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("otlp-http " + collector.base_url() + "/v1/traces"), std::string::npos)
      << describe(r);
  EXPECT_NE(r.out.find("every generated record was delivered"), std::string::npos);
}

TEST(CliGen, MetricMeasurementsArriveAggregatedWithoutLoss) {
  LoopbackCollector collector;
  TempDir dir;
  const Result r =
      run_cli({"gen", "--metrics", "5000", "--json"}, collector_env(collector, dir), 120s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json s = parse_summary(r);
  EXPECT_EQ(s["tracks"]["metrics"].value("generated", 0u), 5000u) << s.dump(2);
  // Measurements are counted apart; the track's own counters are data points
  // and add up: offered == written + spooled + dropped.
  const json& mt = s["tracks"]["metrics"];
  EXPECT_EQ(mt.value("measurements", 0u), 5000u) << s.dump(2);
  EXPECT_GT(mt.value("written", 0u), 0u);
  EXPECT_EQ(mt.value("offered", 0u),
            mt.value("written", 0u) + mt.value("spooled", 0u) + mt.value("dropped_total", 0u))
      << s.dump(2);

  // One thread takes the instruments in turn: measurements 0, 3, 6... go to
  // the counter (1667, each +1), 1, 4, ... to the gauge, 2, 5, ... to the
  // histogram (1666). Cumulative temporality: the largest value exported
  // for each series is its final one.
  const auto metric_bodies = bodies(collector, "/v1/metrics");
  ASSERT_FALSE(metric_bodies.empty()) << "no /v1/metrics request arrived";
  std::map<std::string, std::map<std::string, std::uint64_t>> final_value;  // metric -> series
  for (const auto& body : metric_bodies) {
    ASSERT_TRUE(body.is_object());
    for_each_metric(body, [&](const json& m) {
      const std::string name = m.value("name", "");
      if (name.rfind("gen_", 0) != 0) return;
      const char* kind = m.contains("sum") ? "sum" : m.contains("gauge") ? "gauge" : "histogram";
      for (const auto& dp : m[kind].value("dataPoints", json::array())) {
        const std::string series = dp.value("attributes", json::array()).dump();
        std::uint64_t v = 1;  // gauges: the series exists
        if (std::string(kind) == "sum") v = as_u64(dp["asInt"]);
        if (std::string(kind) == "histogram") v = as_u64(dp["count"]);
        auto& slot = final_value[name][series];
        slot = std::max(slot, v);
      }
    });
  }
  ASSERT_EQ(final_value.size(), 3u) << metric_bodies.size() << " requests";
  auto total = [&](const std::string& name) {
    std::uint64_t n = 0;
    for (const auto& [series, v] : final_value[name]) n += v;
    return n;
  };
  EXPECT_EQ(final_value["gen_jobs_processed_total"].size(), 20u);
  EXPECT_EQ(final_value["gen_queue_depth"].size(), 20u);
  EXPECT_EQ(final_value["gen_job_duration_seconds"].size(), 20u);
  EXPECT_EQ(total("gen_jobs_processed_total"), 1667u);
  EXPECT_EQ(total("gen_job_duration_seconds"), 1666u);
}

TEST(CliGen, RejectingCollectorMakesGenFailAndShowsTheReason) {
  LoopbackCollector collector;
  collector.set_default(Response::with_status(400, "bad data"));
  TempDir dir;
  const Result r =
      run_cli({"gen", "--spans", "1000", "--json"}, collector_env(collector, dir), 120s);
  ASSERT_EQ(r.exit_code, 1) << describe(r);
  const json s = parse_summary(r);
  EXPECT_FALSE(s.value("delivered", true));
  EXPECT_EQ(s["tracks"]["spans"]["dropped"].value("rejected", 0u), 1000u) << s.dump(2);
  EXPECT_EQ(s["tracks"]["spans"].value("written", 1u), 0u);
  EXPECT_EQ(s.value("stopped", ""), "records were dropped") << s.dump(2);
  EXPECT_EQ(s.value("delivered_per_second", -1.0), 0.0) << s.dump(2);

  const Result text = run_cli({"gen", "--spans", "100"}, collector_env(collector, dir), 120s);
  ASSERT_EQ(text.exit_code, 1) << describe(text);
  EXPECT_NE(text.out.find("rejected=100"), std::string::npos) << describe(text);
  EXPECT_NE(text.out.find("NOT everything was delivered"), std::string::npos) << describe(text);
  // No delivered rate when nothing was delivered, and the destination's
  // drops on the track's row.
  EXPECT_NE(text.out.find("nothing was delivered"), std::string::npos) << describe(text);
  EXPECT_EQ(text.out.find("records/s delivered"), std::string::npos) << describe(text);
  EXPECT_NE(text.out.find("; otlp-http " + collector.base_url() + "/v1/traces: rejected=100"),
            std::string::npos)
      << describe(text);
}

TEST(CliGen, ProgressLinesWhileGeneratingWhenAsked) {
  LoopbackCollector collector;
  TempDir dir;
  const Result r = run_cli({"gen", "--duration", "2.5", "--rate", "200", "--progress"},
                           collector_env(collector, dir), 120s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(std::regex_search(
      r.err, std::regex(R"(\[\s*\d+ s\] generating: \d+ generated \(\d+/s\), \d+ written)")))
      << describe(r);
  EXPECT_NE(r.err.find("otlp-http " + collector.base_url() + "/v1/traces healthy"),
            std::string::npos)
      << describe(r);
  // Off a terminal without --progress: no progress lines.
  const Result quiet = run_cli({"gen", "--spans", "100"}, collector_env(collector, dir), 120s);
  EXPECT_EQ(quiet.err.find("generating:"), std::string::npos) << describe(quiet);
}

TEST(CliGen, DurationAndRateBoundGeneration) {
  LoopbackCollector collector;
  TempDir dir;
  // 2 s at 200 records/s over two threads and all three tracks: about 400
  // records, never more than the schedule allows.
  const Result r = run_cli({"gen", "--duration", "2", "--rate", "200", "--threads", "2", "--json"},
                           collector_env(collector, dir), 120s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json s = parse_summary(r);
  const std::uint64_t total = s.value("generated_total", 0u);
  EXPECT_GT(total, 0u) << s.dump(2);
  EXPECT_LE(total, 401u) << s.dump(2);
  for (const char* track : {"spans", "logs", "metrics"}) {
    EXPECT_TRUE(s["tracks"].contains(track)) << track << " " << s.dump(2);
    EXPECT_GT(s["tracks"][track].value("generated", 0u), 0u) << track;
  }
  // A count caps its track; tracks without one are off.
  const Result capped = run_cli({"gen", "--duration", "30", "--spans", "50", "--json"},
                                collector_env(collector, dir), 120s);
  ASSERT_EQ(capped.exit_code, 0) << describe(capped);
  const json c = parse_summary(capped);
  EXPECT_EQ(c["tracks"]["spans"].value("generated", 0u), 50u) << c.dump(2);
  EXPECT_FALSE(c["tracks"].contains("logs"));
  EXPECT_LT(c.value("generation_seconds", 99.0), 30.0);
}

TEST(CliGen, UsageErrors) {
  // Nothing to generate, a negative count, no thread: usage errors, at once.
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"gen"},
                                             {"gen", "--spans", "-3"},
                                             {"gen", "--spans", "0", "--logs", "0"},
                                             {"gen", "--logs", "many"},
                                             {"gen", "--spans", "10", "--threads", "0"},
                                             {"gen", "--spans", "10", "--duration", "-1"},
                                             {"health", "--dir"}}) {
    const Result r = run_cli(args, {}, 30s);
    EXPECT_EQ(r.exit_code, 64) << args[1] << " " << describe(r);  // EX_USAGE
  }
  EXPECT_EQ(run_cli({"gen", "--help"}, {}, 30s).exit_code, 0);
  EXPECT_EQ(run_cli({"health", "--help"}, {}, 30s).exit_code, 0);
}

TEST(CliHealth, ReadsTheStatusFileOfAFinishedGenRun) {
  LoopbackCollector collector;
  TempDir dir;
  auto env = collector_env(collector, dir);
  env["EMP_STATUS_INTERVAL"] = "100ms";
  CliProcess gen({"gen", "--spans", "2000", "--logs", "3000"}, env, 120s);
  const pid_t pid = gen.pid();
  const Result r = gen.wait();
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  const Result h = run_cli({"health", "--dir", dir.path().string()});
  ASSERT_EQ(h.exit_code, 0) << describe(h);
  EXPECT_NE(h.out.find("gen-test"), std::string::npos) << describe(h);
  EXPECT_NE(h.out.find("pid " + std::to_string(pid)), std::string::npos) << describe(h);
  EXPECT_NE(h.out.find("exited"), std::string::npos) << describe(h);
  EXPECT_TRUE(std::regex_search(h.out, std::regex(R"(traces\s+2000\s+2000\s+0\s+0)")))
      << describe(h);
  EXPECT_TRUE(std::regex_search(h.out, std::regex(R"(logs\s+3000\s+3000\s+0\s+0)"))) << describe(h);
  EXPECT_NE(h.out.find("otlp-http " + collector.base_url() + "/v1/traces"), std::string::npos);
  EXPECT_NE(h.out.find("healthy"), std::string::npos);

  // --json: the status files as an array; LOG_DIR is the default directory.
  const Result j = run_cli({"health", "--json"}, {{"LOG_DIR", dir.path().string()}});
  ASSERT_EQ(j.exit_code, 0) << describe(j);
  const json doc = json::parse(j.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(doc.is_array()) << describe(j);
  ASSERT_EQ(doc.size(), 1u) << doc.dump(2);
  EXPECT_EQ(doc[0].value("pid", 0), pid);
  EXPECT_EQ(doc[0].value("service_name", ""), "gen-test");
  EXPECT_FALSE(doc[0].value("alive", true));
  EXPECT_EQ(doc[0]["tracks"]["traces"].value("written", 0u), 2000u) << doc.dump(2);
  EXPECT_EQ(doc[0]["tracks"]["logs"].value("written", 0u), 3000u);
  bool traces_destination = false;
  for (const auto& d : doc[0]["destinations"]) {
    if (d.value("track", "") != "traces") continue;
    traces_destination = true;
    EXPECT_EQ(d.value("state", ""), "healthy");
    EXPECT_EQ(d.value("delivered", 0u), 2000u);
    EXPECT_GT(d.value("last_success_unix_ms", 0), 0);
  }
  EXPECT_TRUE(traces_destination) << doc.dump(2);

  TempDir empty;
  const Result none = run_cli({"health", "--dir", empty.path().string()});
  EXPECT_EQ(none.exit_code, 1) << describe(none);
  EXPECT_NE(none.err.find("no status files"), std::string::npos) << describe(none);
}

// Polls `health --json` (bounded) until `ready` holds for the document.
json poll_health(const TempDir& dir, const std::function<bool(const json&)>& ready,
                 std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  json last;
  while (std::chrono::steady_clock::now() < until) {
    const Result r = run_cli({"health", "--dir", dir.path().string(), "--json"}, {}, 30s);
    last = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    if (last.is_array() && ready(last)) return last;
    std::this_thread::sleep_for(100ms);
  }
  return last;
}

TEST(CliHealth, RunningProcessIsHealthyThenDegradedWhenItsCollectorIsDown) {
  LoopbackCollector collector;
  TempDir dir;
  auto env = collector_env(collector, dir);
  env["EMP_STATUS_INTERVAL"] = "100ms";
  {
    CliProcess gen({"gen", "--duration", "3", "--rate", "100", "--spans", "1000000"}, env, 60s);
    const json doc = poll_health(
        dir,
        [](const json& d) {
          return d.size() == 1 && d[0].value("alive", false) && d[0].contains("tracks") &&
                 d[0]["tracks"].contains("traces");
        },
        20s);
    ASSERT_TRUE(doc.is_array() && doc.size() == 1) << doc.dump(2);
    EXPECT_TRUE(doc[0].value("alive", false));
    EXPECT_EQ(doc[0].value("pid", 0), gen.pid());
    const Result h = run_cli({"health", "--dir", dir.path().string()});
    EXPECT_EQ(h.exit_code, 0) << describe(h);
    EXPECT_NE(h.out.find("running"), std::string::npos) << describe(h);
    EXPECT_EQ(gen.wait().exit_code, 0);
  }

  // The collector goes away: a running process whose destinations fail is
  // reported, and health exits 2 while it runs.
  collector.stop();
  TempDir down_dir;
  env["LOG_DIR"] = down_dir.path().string();
  env["EMP_RETRY_INITIAL_INTERVAL"] = "50ms";
  env["EMP_RETRY_MAX_INTERVAL"] = "100ms";
  env["EMP_CIRCUIT_FAILURE_THRESHOLD"] = "2";
  env["OTEL_BSP_SCHEDULE_DELAY"] = "100";
  env["EMP_LOGS_OTLP"] = "false";
  CliProcess gen(
      {"gen", "--duration", "6", "--rate", "100", "--spans", "1000000", "--flush-timeout", "1"},
      env, 60s);
  const json doc = poll_health(
      down_dir,
      [](const json& d) {
        if (d.size() != 1 || !d[0].value("alive", false)) return false;
        for (const auto& dest : d[0].value("destinations", json::array())) {
          if (dest.value("state", "healthy") != "healthy") return true;
        }
        return false;
      },
      20s);
  ASSERT_TRUE(doc.is_array() && doc.size() == 1) << doc.dump(2);
  EXPECT_FALSE(doc[0].value("healthy", true)) << doc.dump(2);
  const Result h = run_cli({"health", "--dir", down_dir.path().string()});
  EXPECT_EQ(h.exit_code, 2) << describe(h);
  EXPECT_NE(h.out.find("NOT HEALTHY"), std::string::npos) << describe(h);
  const Result g = gen.wait();
  EXPECT_EQ(g.exit_code, 1) << "nothing could be delivered\n" << describe(g);
  // Once the process has exited, its last status no longer fails the check.
  EXPECT_EQ(run_cli({"health", "--dir", down_dir.path().string()}).exit_code, 0);
}

// The demo's jobs: one trace each, from the simulated API's job.submit to the
// worker's job.complete or job.fail, linked through the job payload.
TEST(CliDemo, EachJobIsOneTraceFromSubmitToOutcome) {
  TempDir dir;
  const Result r = run_cli({"demo", "--slow-ms", "100"}, {{"LOG_DIR", dir.path().string()}});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("otlp-traces.jsonl"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("one trace per job"), std::string::npos) << describe(r);

  std::map<std::string, std::vector<json>> spans_of_trace;
  std::map<std::string, std::set<std::string>> traces_of_job;
  for (const auto& request : read_json_lines(dir.path() / "otlp-traces.jsonl")) {
    ASSERT_TRUE(request.is_object());
    for_each_span(request, [&](const json& span) {
      const auto& attrs = span.value("attributes", json::array());
      EXPECT_TRUE(has_attribute(attrs, "lifecycle.stage")) << span.dump();
      EXPECT_TRUE(has_attribute(attrs, "component.type")) << span.dump();
      spans_of_trace[span.value("traceId", "")].push_back(span);
      const std::string job = attribute(attrs, "job.id");
      if (!job.empty()) traces_of_job[job].insert(span.value("traceId", ""));
    });
  }
  ASSERT_EQ(traces_of_job.size(), 12u) << describe(r);
  std::size_t failed = 0;
  for (const auto& [job, traces] : traces_of_job) {
    ASSERT_EQ(traces.size(), 1u) << job << ": every span of a job is in one trace";
    const auto& spans = spans_of_trace[*traces.begin()];
    std::map<std::string, const json*> by_id;
    std::map<std::string, const json*> by_name;
    for (const auto& s : spans) {
      by_id[s.value("spanId", "")] = &s;
      by_name[s.value("name", "")] = &s;
    }
    for (const char* name : {"job.submit", "job.claim", "job.process"}) {
      ASSERT_TRUE(by_name.count(name)) << job << " has no " << name;
    }
    const bool completed = by_name.count("job.complete") > 0;
    const bool fail = by_name.count("job.fail") > 0;
    ASSERT_NE(completed, fail) << job << ": exactly one outcome span";
    failed += fail;
    auto parent_name = [&](const char* name) -> std::string {
      const std::string parent = by_name[name]->value("parentSpanId", "");
      return by_id.count(parent) ? by_id[parent]->value("name", "") : std::string("<none>");
    };
    // One tree: a single root (job.submit); every other span's parent is in
    // the trace.
    std::size_t roots = 0;
    for (const auto& s : spans) {
      const std::string parent = s.value("parentSpanId", "");
      if (parent.empty()) {
        ++roots;
        EXPECT_EQ(s.value("name", ""), "job.submit") << job;
      } else {
        EXPECT_TRUE(by_id.count(parent))
            << job << ": " << s.value("name", "") << " has a parent outside the trace";
      }
    }
    EXPECT_EQ(roots, 1u) << job;
    EXPECT_EQ(by_name["job.submit"]->value("kind", 0), 4) << "producer";
    EXPECT_EQ(by_name["job.claim"]->value("kind", 0), 5) << "consumer";
    EXPECT_EQ(parent_name("job.claim"), "job.submit") << job;
    // job.claim and job.process both continue the submitter's context from
    // the payload.
    EXPECT_EQ(parent_name("job.process"), "job.submit") << job;
    EXPECT_EQ(parent_name(completed ? "job.complete" : "job.fail"), "job.process") << job;
    EXPECT_EQ(
        attribute(by_name["job.submit"]->value("attributes", json::array()), "lifecycle.stage"),
        "submit");
  }
  EXPECT_EQ(failed, 3u);

  // The worker's log lines (job started, completed/failed) and events
  // (received, started, progress, completed/failed) carry the job's trace id.
  std::size_t matched = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().extension() != ".log" && entry.path().filename() != "events.jsonl") continue;
    for (const auto& line : read_json_lines(entry.path())) {
      ASSERT_TRUE(line.is_object());
      const std::string job = line.value("job_id", "");
      if (job.empty() || !traces_of_job.count(job)) continue;
      EXPECT_EQ(line.value("trace_id", ""), *traces_of_job[job].begin()) << line.dump();
      ++matched;
    }
  }
  EXPECT_GE(matched, 12u * 6);
}

}  // namespace
}  // namespace emp::telemetry::cli_test
